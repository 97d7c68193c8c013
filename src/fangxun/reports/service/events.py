"""Storm events: detected in the rain gauges' observations, listed, read; an event's hyetograph."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from fangxun.audit.service import record_create, record_delete, snapshot
from fangxun.config import Settings
from fangxun.db.types import utcnow
from fangxun.errors import NotFoundError, ValidationFailed
from fangxun.forecast.service import storm_formula
from fangxun.org.permissions import Actor, require_role
from fangxun.reports import stats
from fangxun.reports.models import EventStatus, StormEvent
from fangxun.reports.service.common import DETECT_ROLES, local
from fangxun.reports.service.rain import rain_series

log = logging.getLogger(__name__)


def _event_figures(
    event: StormEvent, window: stats.EventWindow, series: Sequence[stats.RainSeries], s: Settings
) -> None:
    event.start, event.end = window.start, window.end
    event.total_m = round(window.max_total_m, 6)
    event.mean_total_m = round(window.mean_total_m, 6)
    event.max_1h_m = round(window.max_over_gauges("1h"), 6)
    event.max_3h_m = round(window.max_over_gauges("3h"), 6)
    event.max_12h_m = round(window.max_over_gauges("12h"), 6)
    event.max_24h_m = round(window.max_over_gauges("24h"), 6)
    event.grade = stats.rainfall_grade(event.max_24h_m, event.max_12h_m)
    event.peak_gauge = window.peak_gauge
    event.status = (
        EventStatus.open
        if window.is_open
        else (EventStatus.reviewed if event.status is EventStatus.reviewed else EventStatus.closed)
    )
    formula = storm_formula(s)
    best: tuple[float | None, int | None, str | None] = (None, None, None)
    for ser in series:
        pairs = [
            (t, d)
            for t, d in zip(ser.times, ser.depths_m, strict=True)
            if window.start < t <= window.end
        ]
        secs = [(t - window.start).total_seconds() for t, _ in pairs]
        p, dur = stats.estimate_return_period(formula, secs, [d for _, d in pairs])
        if p is not None and (best[0] is None or p > best[0]):
            best = (p, dur, ser.code)
    event.return_period_years = best[0]
    event.details = {
        "gauges": {
            g.code: {
                "total_m": round(g.total_m, 6),
                **{f"max_{k}_m": round(v, 6) for k, v in g.max_m.items()},
            }
            for g in window.gauges
        },
        "return_period": {
            "years": best[0],
            "duration_s": best[1],
            "gauge": best[2],
            "formula": list(s.forecast_storm_formula),
            "note": "storm formula is configuration (FANGXUN_FORECAST_STORM_FORMULA)",
        },
        "dry_gap_s": s.rain_event_gap_s,
    }


def detect_events(
    *,
    session: Session,
    settings: Settings,
    actor: Actor,
    start: datetime | None = None,
    end: datetime | None = None,
    now: datetime | None = None,
) -> list[StormEvent]:
    """Find storm events in the rain observations between ``start`` and ``end`` (default: all)
    and store them; an event overlapping a stored one updates it (a storm still going on grows).
    Returns the events created or updated, oldest first."""
    require_role(actor, DETECT_ROLES, "detect storm events")
    for name, value in (("start", start), ("end", end), ("now", now)):
        if value is not None and value.tzinfo is None:
            raise ValidationFailed(f"{name} needs a UTC offset", loc=("query", name))
    if start is not None and end is not None and end < start:
        raise ValidationFailed("end is before start", loc=("query", "end"))
    now = now or utcnow()
    series = rain_series(session=session, start=start, end=end)
    windows = stats.find_events(
        series,
        gap=timedelta(seconds=settings.rain_event_gap_s),
        min_total_m=settings.report_event_min_mm / 1000.0,
        data_end=min(now, end) if end is not None else now,
    )
    out: list[StormEvent] = []
    for w in windows:
        overlapping = list(
            session.scalars(
                select(StormEvent)
                .where(StormEvent.start <= w.end, StormEvent.end >= w.start)
                .order_by(StormEvent.start, StormEvent.id)
            )
        )
        existing = overlapping[0] if overlapping else None
        # Rain that bridged a dry gap joins two stored events into one: the later ones go,
        # unless people already worked on them (causes, reviews), which is kept and logged.
        for other in overlapping[1:]:
            if other.causes or other.review_items:
                log.warning("storm events %d and %d now overlap; %d keeps its review",
                            existing.id if existing else 0, other.id, other.id)  # fmt: skip
                continue
            record_delete(session=session, actor=actor, obj=other, before=snapshot(other))
            session.delete(other)
            session.flush()
        event = existing or StormEvent(status=EventStatus.closed, details={})
        _event_figures(event, w, series, settings)
        if existing is None:
            event.name = f"{local(w.start, '%Y-%m-%d')} 降雨过程"
            session.add(event)
            session.flush()
            record_create(session=session, actor=actor, obj=event)
        session.flush()
        out.append(event)
    log.info("storm events: %d found, %d stored or updated", len(windows), len(out))
    return out


def list_events(*, session: Session, limit: int = 100, offset: int = 0) -> list[StormEvent]:
    """Stored events, newest first."""
    stmt = select(StormEvent).order_by(StormEvent.start.desc(), StormEvent.id.desc())
    return list(session.scalars(stmt.limit(limit).offset(offset)))


def get_event(*, session: Session, event_id: int) -> StormEvent:
    """One event; :class:`NotFoundError` when there is none."""
    event = session.get(StormEvent, event_id)
    if event is None:
        raise NotFoundError(f"storm event {event_id} not found")
    return event


def hyetograph(*, session: Session, event: StormEvent, code: str | None = None) -> stats.RainSeries:
    """The interval rain of gauge ``code`` (default: the event's heaviest) over the event."""
    code = code or event.peak_gauge
    for s in rain_series(session=session, start=event.start, end=event.end):
        if s.code == code:
            return s
    return stats.RainSeries(code or "", [], [], 300)
