"""The whole report of one storm event."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from fangxun.config import Settings
from fangxun.db.types import utcnow
from fangxun.incidents.models import Incident
from fangxun.org.permissions import Actor
from fangxun.reports import stats
from fangxun.reports.models import PointCause, ReviewItem, StormEvent
from fangxun.reports.service.causes import causes_of, review_items_of, suggest
from fangxun.reports.service.events import get_event, hyetograph
from fangxun.reports.service.points import (
    PointStats,
    _warnings_available,
    event_incidents,
    forecast_runs_of,
    point_statistics,
    rainstorm_signals,
)
from fangxun.reports.service.review import UnitProgress, review_progress


@dataclass
class EventReport:
    """Everything the event report shows (PDF, Excel, web)."""

    event: StormEvent
    generated_at: datetime
    hyetograph: stats.RainSeries
    points: list[PointStats]
    suggestions: dict[int, list[stats.Suggestion]]
    causes: dict[int, PointCause]
    incidents: list[Incident]
    review_items: list[ReviewItem]
    progress: list[UnitProgress]
    signals: list[Any]
    warnings_available: bool
    forecast_raster: Any | None
    settings: Settings

    def worst(self) -> list[PointStats]:
        """The worst points whose depth curves the report draws."""
        return [p for p in self.points if p.depth_m][: self.settings.report_worst_points]


def build_report(
    *,
    session: Session,
    settings: Settings,
    event_id: int,
    actor: Actor,
    progress: Callable[[str], None] | None = None,
) -> EventReport:
    """Gather an event's report: rain, per-point statistics, suggestions, causes, incidents,
    warnings, reviews and the forecast max-depth raster (a path, when a run has one)."""
    from pathlib import Path

    step = progress or (lambda _msg: None)
    event = get_event(session=session, event_id=event_id)
    step("rain")
    hyeto = hyetograph(session=session, event=event)
    step("points")
    points = point_statistics(session=session, settings=settings, event=event, actor=actor)
    step("causes")
    suggestions = {
        p.point_id: suggest(session=session, settings=settings, event=event, ps=p) for p in points
    }
    raster = None
    for run in forecast_runs_of(session=session, event=event, settings=settings):
        if run.output_dir:
            path = Path(settings.data_dir) / run.output_dir / "max_depth.tif"
            if path.is_file():
                raster = path
                break
    step("incidents and reviews")
    return EventReport(
        event=event,
        generated_at=utcnow(),
        hyetograph=hyeto,
        points=points,
        suggestions=suggestions,
        causes=causes_of(session=session, event=event),
        incidents=event_incidents(session=session, event=event, settings=settings, actor=actor),
        review_items=review_items_of(session=session, event=event),
        progress=review_progress(session=session, events=[event]),
        signals=rainstorm_signals(session=session, event=event, settings=settings),
        warnings_available=_warnings_available(session),
        forecast_raster=raster,
        settings=settings,
    )
