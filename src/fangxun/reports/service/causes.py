"""Cause suggestions for the ponded points of an event and their confirmation."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from fangxun.audit.service import actor_username, record_create, record_update, snapshot
from fangxun.config import Settings
from fangxun.db.types import utcnow
from fangxun.errors import ValidationFailed
from fangxun.forecast.engine import drainage_capacity_mm_h
from fangxun.forecast.service import storm_formula
from fangxun.hazards import service as hazards_service
from fangxun.monitoring.models import Station, StationKind
from fangxun.org.permissions import Actor, require_role
from fangxun.reports import stats
from fangxun.reports.models import PointCause, ReviewItem, StormEvent
from fangxun.reports.service.common import CONFIRM_ROLES
from fangxun.reports.service.events import get_event
from fangxun.reports.service.points import PointStats, event_window, point_statistics
from fangxun.reports.service.rain import _observations, _streams


def _nearest(stations: Sequence[tuple[Any, Station]], lon: float, lat: float) -> Any | None:
    best, best_d = None, math.inf
    for item, st in stations:
        dx = (st.lon - lon) * math.cos(math.radians(lat))
        d = dx * dx + (st.lat - lat) ** 2
        if d < best_d:
            best, best_d = (item, st), d
    return best


def cause_context(
    *, session: Session, settings: Settings, event: StormEvent, ps: PointStats
) -> stats.CauseContext:
    """What the data says about point ``ps`` in ``event``, for :func:`stats.suggest_causes`."""
    start, end = event_window(event, settings)
    secs = [(t - start).total_seconds() for t in ps.times]
    rain_end_s = (event.end - start).total_seconds()
    ctx = stats.CauseContext(
        kind=ps.kind,
        times_s=secs,
        depth_m=ps.depth_m,
        ponding_m=settings.report_ponding_depth_m,
        rain_end_s=rain_end_s,
        forecast_peak_m=ps.forecast.peak_m if ps.forecast else None,
        origin=start,
    )
    # Rain at the nearest gauge against the drainage design intensity.
    gauge = _nearest(_streams(session, "rainfall", StationKind.rain_gauge), ps.lon, ps.lat)
    if gauge is not None:
        times, values = _observations(session, gauge[0].id, event.start, event.end)
        window = settings.forecast_drainage_duration_s
        ctx.design_window_mm_h = stats.design_window_intensity_mm_h(
            [(t - start).total_seconds() for t in times], values, window
        )
        ctx.capacity_mm_h = drainage_capacity_mm_h(
            storm_formula(settings), settings.forecast_drainage_return_period_years, window
        )
    # The pump station serving the point's sensor (or standing at the point).
    pumps = [
        st
        for st in session.scalars(select(Station).where(Station.kind == StationKind.pump_station))
        if (st.properties or {}).get("serves") == ps.station_code
        or st.hazard_point_id == ps.point_id
    ]
    if pumps:
        pump = pumps[0]
        ctx.pump_code = pump.code
        by_time: dict[datetime, list[float | None]] = {}
        for prop, idx in (("pumps_running", 0), ("power", 1)):
            for ds in pump.datastreams:
                if ds.observed_property.code == prop:
                    for t, v in zip(*_observations(session, ds.id, start, end), strict=True):
                        by_time.setdefault(t, [None, None])[idx] = v
        ctx.pump = [((t - start).total_seconds(), v[0], v[1]) for t, v in sorted(by_time.items())]
    # The nearest river gauge against the outfall (registered on the sensor's station, else the
    # ground at the sensor: backwater then means the river stood above the street).
    river = _nearest(_streams(session, "river_level", StationKind.river_gauge), ps.lon, ps.lat)
    station = session.scalars(select(Station).where(Station.code == ps.station_code)).one()
    outfall = (station.properties or {}).get("outfall_m")
    if outfall is not None:
        ctx.outfall_m, ctx.outfall_source = float(outfall), "登记的排水出口高程"
    elif station.elevation_m is not None:
        ctx.outfall_m, ctx.outfall_source = station.elevation_m, "未登记排水出口，以地面高程比较"
    if river is not None:
        ctx.river_code = river[1].name_zh
        times, levels = _observations(session, river[0].id, start, end)
        ctx.river = [((t - start).total_seconds(), v) for t, v in zip(times, levels, strict=True)]
    # Drained after the rain: from the end of rain until the depth is back at the drained depth.
    after = [(t, d) for t, d in zip(secs, ps.depth_m, strict=True) if t >= rain_end_s]
    drained = next((t for t, d in after if d <= settings.report_drained_depth_m), None)
    ctx.drained_after_rain_s = None if drained is None else drained - rain_end_s
    return ctx


def suggest(
    *, session: Session, settings: Settings, event: StormEvent, ps: PointStats
) -> list[stats.Suggestion]:
    """Cause suggestions for a ponded point (empty when it did not pond)."""
    if not ps.ponded(settings.report_ponding_depth_m):
        return []
    ctx = cause_context(session=session, settings=settings, event=event, ps=ps)
    return stats.suggest_causes(
        ctx,
        causes=settings.report_causes,
        pump_expected_m=settings.report_pump_expected_depth_m,
        slow_drain_s=settings.report_slow_drain_s,
    )


def confirm_cause(
    *,
    session: Session,
    settings: Settings,
    event_id: int,
    point_id: int,
    cause: str,
    evidence: str | None,
    actor: Actor,
) -> PointCause:
    """Record (or change) the cause a person confirms for a point in an event; audited."""
    require_role(actor, CONFIRM_ROLES, "confirm causes")
    event = get_event(session=session, event_id=event_id)
    point = hazards_service.get_point(session=session, point_id=point_id, actor=actor)
    if cause not in settings.report_causes:
        raise ValidationFailed(
            f"unknown cause {cause!r}; one of {', '.join(settings.report_causes)}",
            loc=("body", "cause"),
        )
    ps = next(
        (
            p
            for p in point_statistics(session=session, settings=settings, event=event, actor=actor)
            if p.point_id == point.id
        ),
        None,
    )
    suggestions = (
        [
            {"cause": s.cause, "evidence": s.evidence}
            for s in suggest(session=session, settings=settings, event=event, ps=ps)
        ]
        if ps is not None
        else []
    )
    evidence = (evidence or "").strip() or None
    row = session.scalars(
        select(PointCause).where(PointCause.event_id == event.id, PointCause.point_id == point.id)
    ).first()
    if row is None:
        row = PointCause(
            event_id=event.id,
            point_id=point.id,
            cause=cause,
            evidence=evidence,
            suggestions=suggestions,
            confirmed_by=actor_username(actor),
            confirmed_at=utcnow(),
        )
        session.add(row)
        session.flush()
        record_create(session=session, actor=actor, obj=row)
        return row
    before = snapshot(row)
    row.cause, row.evidence, row.suggestions = cause, evidence, suggestions
    row.confirmed_by, row.confirmed_at = actor_username(actor), utcnow()
    session.flush()
    record_update(session=session, actor=actor, obj=row, before=before)
    return row


def causes_of(*, session: Session, event: StormEvent) -> dict[int, PointCause]:
    """Confirmed causes of the event by point id."""
    rows = session.scalars(select(PointCause).where(PointCause.event_id == event.id))
    return {r.point_id: r for r in rows}


def review_items_of(*, session: Session, event: StormEvent) -> list[ReviewItem]:
    """The review items of the event, oldest first."""
    stmt = select(ReviewItem).where(ReviewItem.event_id == event.id).order_by(ReviewItem.id)
    return list(session.scalars(stmt))
