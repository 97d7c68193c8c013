"""The season summary: events and points over a period."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from fangxun.config import Settings
from fangxun.errors import ValidationFailed
from fangxun.org.permissions import Actor
from fangxun.reports.models import StormEvent
from fangxun.reports.service.points import point_statistics
from fangxun.reports.service.review import UnitProgress, review_progress


@dataclass
class SeasonPoint:
    """A point over the season: events in which it ponded, worst depth, time above 15 cm."""

    code: str
    name: str
    unit_name: str
    events_ponded: int = 0
    max_depth_m: float = 0.0
    above_ponding_s: float = 0.0


@dataclass
class SeasonSummary:
    """The flood season: events, points, rectification progress per unit."""

    start: datetime
    end: datetime
    events: list[StormEvent]
    points: list[SeasonPoint]
    progress: list[UnitProgress]


def season_summary(
    *,
    session: Session,
    settings: Settings,
    actor: Actor,
    start: datetime,
    end: datetime,
    progress: Callable[[str], None] | None = None,
) -> SeasonSummary:
    """Events starting in ``[start, end)``, their ponded points and the reviews' progress."""
    if start.tzinfo is None or end.tzinfo is None:
        raise ValidationFailed("start and end need a UTC offset", loc=("query", "start"))
    if end <= start:
        raise ValidationFailed("end is not after start", loc=("query", "end"))
    events = list(
        session.scalars(
            select(StormEvent)
            .where(StormEvent.start >= start, StormEvent.start < end)
            .order_by(StormEvent.start)
        )
    )
    acc: dict[str, SeasonPoint] = {}
    for event in events:
        if progress:
            progress(event.name)
        for p in point_statistics(session=session, settings=settings, event=event, actor=actor):
            row = acc.setdefault(p.code, SeasonPoint(p.code, p.name, p.unit_name))
            if p.ponded(settings.report_ponding_depth_m):
                row.events_ponded += 1
            row.max_depth_m = max(row.max_depth_m, p.max_depth_m)
            row.above_ponding_s += p.above_ponding_s
    points = sorted(acc.values(), key=lambda r: (-r.events_ponded, -r.max_depth_m, r.code))
    return SeasonSummary(
        start, end, events, points, review_progress(session=session, events=events)
    )
