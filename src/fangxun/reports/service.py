"""Report services: detect storm events in the rain gauges' observations, per-point statistics of
an event, cause suggestions and their confirmation, the review's rectifications, the season
summary. Keyword-only; never commit.

Who may do what: every logged-in role reads events (rain is district-wide); point statistics are
limited to the actor's jurisdiction. ``admin``, ``district`` and ``duty`` detect events;
``admin``, ``district`` and ``unit`` confirm causes; opening rectifications follows the hazard
ledger's rule (:func:`fangxun.hazards.service.create_rectification`).

Observations flagged by quality control are left out of every figure.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final

import numpy as np
from sqlalchemy import inspect, select
from sqlalchemy.orm import Session

from fangxun.audit.service import (
    actor_username,
    record_create,
    record_delete,
    record_update,
    snapshot,
)
from fangxun.config import Settings
from fangxun.db.types import utcnow
from fangxun.errors import NotFoundError, ValidationFailed
from fangxun.forecast.engine import drainage_capacity_mm_h
from fangxun.forecast.models import ForecastPointResult, ForecastRun, RunPurpose, RunStatus
from fangxun.forecast.service import storm_formula
from fangxun.hazards import service as hazards_service
from fangxun.hazards.models import HazardPoint, Rectification, RectificationStatus
from fangxun.hazards.schemas import RectificationCreate
from fangxun.incidents.models import Incident
from fangxun.monitoring.models import (
    Datastream,
    Observation,
    ObservedProperty,
    Station,
    StationKind,
)
from fangxun.org.jurisdiction import scope_query
from fangxun.org.models import Role, Unit
from fangxun.org.permissions import Actor, require_role
from fangxun.reports import stats
from fangxun.reports.models import EventStatus, PointCause, ReviewItem, StormEvent
from fangxun.times import local as local_time

log = logging.getLogger(__name__)

DETECT_ROLES: Final = frozenset({Role.admin, Role.district, Role.duty})
CONFIRM_ROLES: Final = frozenset({Role.admin, Role.district, Role.unit})
COLOURS: Final = ("blue", "yellow", "orange", "red")

#: Chinese names of the cause codes (reports are in Chinese); a configured code not listed here
#: is shown as its code.
CAUSE_LABELS_ZH: Final[dict[str, str]] = {
    "drainage_capacity": "排水能力不足（超标降雨）",
    "blocked_inlets": "雨水口/管道堵塞",
    "pump_failure": "泵站故障或停电",
    "river_backwater": "河道水位顶托",
    "construction_works": "施工影响",
    "terrain_low_point": "地势低洼",
    "other": "其他",
}
#: The measure a review proposes for a cause (the owner edits it in the ledger).
CAUSE_MEASURES_ZH: Final[dict[str, str]] = {
    "drainage_capacity": "评估排水管网提标改造，汛期增设移动泵车",
    "blocked_inlets": "清掏雨水口与管道，落实汛前汛中巡查清淤",
    "pump_failure": "检修泵站设备，落实双电源或备用发电机",
    "river_backwater": "加设排水口拍门/闸门，制定河道高水位时的强排方案",
    "construction_works": "督促施工单位恢复排水设施，清理占压的雨水口",
    "terrain_low_point": "完善低洼处强排设施与警示封控措施",
    "other": "现场核实原因后制定整改措施",
}


def cause_label(code: str) -> str:
    """Chinese name of a cause code (the code itself when unknown)."""
    return CAUSE_LABELS_ZH.get(code, code)


def local(moment: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A UTC time shown in the district's zone ("—" for None)."""
    return local_time(moment, fmt, empty="—")


# --- rain ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GaugeInfo:
    """A rain gauge's datastream: its code, interval, station position."""

    code: str
    interval_s: int
    lon: float
    lat: float
    name: str


def _streams(session: Session, prop: str, kind: StationKind) -> list[tuple[Datastream, Station]]:
    stmt = (
        select(Datastream, Station)
        .join(Station, Station.id == Datastream.station_id)
        .join(ObservedProperty, ObservedProperty.id == Datastream.observed_property_id)
        .where(ObservedProperty.code == prop, Station.kind == kind)
        .order_by(Datastream.code)
    )
    return [(ds, st) for ds, st in session.execute(stmt).all()]


def _observations(
    session: Session, datastream_id: int, start: datetime | None, end: datetime | None
) -> tuple[list[datetime], list[float]]:
    stmt = select(Observation.phenomenon_time, Observation.value).where(
        Observation.datastream_id == datastream_id, Observation.flags == 0
    )
    if start is not None:
        stmt = stmt.where(Observation.phenomenon_time >= start)
    if end is not None:
        stmt = stmt.where(Observation.phenomenon_time <= end)
    rows = session.execute(stmt.order_by(Observation.phenomenon_time)).all()
    return [r[0] for r in rows], [float(r[1]) for r in rows]


def rain_gauges(*, session: Session) -> list[GaugeInfo]:
    """Every rain gauge datastream."""
    return [
        GaugeInfo(ds.code, ds.interval_s or 300, st.lon, st.lat, st.name_zh)
        for ds, st in _streams(session, "rainfall", StationKind.rain_gauge)
    ]


def rain_series(
    *, session: Session, start: datetime | None = None, end: datetime | None = None
) -> list[stats.RainSeries]:
    """Interval rain depths (m) of every rain gauge with ``start <= time <= end``."""
    out = []
    for ds, _ in _streams(session, "rainfall", StationKind.rain_gauge):
        times, values = _observations(session, ds.id, start, end)
        out.append(stats.RainSeries(ds.code, times, values, ds.interval_s or 300))
    return out


# --- events --------------------------------------------------------------------------------------


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


# --- per-point statistics ------------------------------------------------------------------------


@dataclass
class ForecastCompare:
    """The forecast in force before the observed peak at a point."""

    run_id: int
    issued_at: datetime
    peak_m: float
    peak_at: datetime
    error_m: float


@dataclass
class WarningFacts:
    """Warnings about a point during the event and the lead time of the first one."""

    count: int
    first_issued_at: datetime | None
    first_colour: str | None
    highest_colour: str | None
    #: Observed arrival of the first warning's colour minus its issue time, s (None: never
    #: reached, or no warning).
    lead_s: float | None


@dataclass
class PointStats:
    """Statistics of one hazard point with a ponding sensor over one event (SI)."""

    point_id: int
    code: str
    name: str
    kind: str
    unit_id: int
    unit_name: str
    datastream: str
    station_code: str
    lon: float
    lat: float
    times: list[datetime]
    depth_m: list[float]
    max_depth_m: float
    max_at: datetime | None
    above_ponding_s: float
    thresholds_m: dict[str, float]
    above_s: dict[str, float]
    drain_s: float | None
    incidents: int
    forecast: ForecastCompare | None = None
    warnings: WarningFacts | None = None
    rank: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def ponded(self, ponding_m: float) -> bool:
        """True when the point reached the ponding criterion or its blue threshold."""
        return self.max_depth_m >= min(ponding_m, self.thresholds_m.get("blue", ponding_m))


def event_window(event: StormEvent, settings: Settings) -> tuple[datetime, datetime]:
    """The time span the statistics look at: the event plus the recession time."""
    return event.start, event.end + timedelta(seconds=settings.report_recession_s)


def _warnings_available(session: Session) -> bool:
    # The warnings domain lands with its own migration; an older database has no table yet.
    return bool(inspect(session.connection()).has_table("warning"))


def _warning_facts(
    session: Session, ps: PointStats, start: datetime, end: datetime, lookback_s: float
) -> WarningFacts:
    from fangxun.warnings.models import Warning, WarningKind, rank

    rows = list(
        session.scalars(
            select(Warning)
            .where(
                Warning.hazard_point_id == ps.point_id,
                Warning.kind.in_((WarningKind.ponding, WarningKind.predicted_ponding)),
                Warning.issued_at >= start - timedelta(seconds=lookback_s),
                Warning.issued_at <= end,
            )
            .order_by(Warning.issued_at, Warning.id)
        )
    )
    if not rows:
        return WarningFacts(0, None, None, None, None)
    first = rows[0]
    colours = [c.to_colour for w in rows for c in w.changes if c.to_colour is not None]
    colours += [w.colour for w in rows]
    highest = max(colours, key=rank)
    lead: float | None = None
    thr = ps.thresholds_m.get(first.colour.value)
    if thr is not None and ps.times:
        secs = [(t - start).total_seconds() for t in ps.times]
        reached = stats.first_reaching(secs, ps.depth_m, thr)
        if reached is not None:
            lead = (start + timedelta(seconds=reached) - first.issued_at).total_seconds()
    return WarningFacts(len(rows), first.issued_at, first.colour.value, highest.value, lead)


def point_statistics(
    *, session: Session, settings: Settings, event: StormEvent, actor: Actor
) -> list[PointStats]:
    """Statistics of every hazard point with a ponding sensor in ``actor``'s jurisdiction over
    the event (and its recession), ranked worst first (max depth, then time above 15 cm)."""
    start, end = event_window(event, settings)
    visible = scope_query(select(HazardPoint.id), HazardPoint.unit_id, session=session, user=actor)
    stmt = (
        select(Datastream, Station, HazardPoint, Unit)
        .join(Station, Station.id == Datastream.station_id)
        .join(ObservedProperty, ObservedProperty.id == Datastream.observed_property_id)
        .join(HazardPoint, HazardPoint.id == Station.hazard_point_id)
        .join(Unit, Unit.id == HazardPoint.unit_id)
        .where(ObservedProperty.code == "ponding_depth", HazardPoint.id.in_(visible))
        .order_by(HazardPoint.code, Datastream.code)
    )
    incidents: dict[int, int] = {}
    for hp_id in session.scalars(
        select(Incident.hazard_point_id).where(
            Incident.reported_at >= start,
            Incident.reported_at <= end,
            Incident.hazard_point_id.is_not(None),
        )
    ):
        if hp_id is not None:
            incidents[hp_id] = incidents.get(hp_id, 0) + 1
    warnings_ok = _warnings_available(session)
    out: list[PointStats] = []
    seen: set[int] = set()
    for ds, st, hp, unit in session.execute(stmt).all():
        if hp.id in seen:
            continue  # one sensor per point: the first datastream by code
        seen.add(hp.id)
        times, depth = _observations(session, ds.id, start, end)
        secs = [(t - start).total_seconds() for t in times]
        thresholds = {
            "blue": hp.threshold_blue_m,
            "yellow": hp.threshold_yellow_m,
            "orange": hp.threshold_orange_m,
            "red": hp.threshold_red_m,
        }
        k = int(np.argmax(depth)) if depth else -1
        ps = PointStats(
            point_id=hp.id,
            code=hp.code,
            name=hp.name,
            kind=hp.kind.value,
            unit_id=unit.id,
            unit_name=unit.name_zh,
            datastream=ds.code,
            station_code=st.code,
            lon=hp.lon,
            lat=hp.lat,
            times=times,
            depth_m=depth,
            max_depth_m=float(depth[k]) if depth else 0.0,
            max_at=times[k] if depth else None,
            above_ponding_s=stats.time_above(secs, depth, settings.report_ponding_depth_m),
            thresholds_m=thresholds,
            above_s={c: stats.time_above(secs, depth, v) for c, v in thresholds.items()},
            drain_s=stats.time_to_drain(secs, depth, settings.report_drained_depth_m),
            incidents=incidents.get(hp.id, 0),
        )
        ps.forecast = _forecast_compare(session, hp.id, event, ps, settings)
        if warnings_ok:
            ps.warnings = _warning_facts(
                session, ps, start, end, lookback_s=settings.forecast_horizon_s
            )
        out.append(ps)
    out.sort(key=lambda p: (-p.max_depth_m, -p.above_ponding_s, p.code))
    for i, p in enumerate(out, start=1):
        p.rank = i
    return out


def _forecast_compare(
    session: Session, point_id: int, event: StormEvent, ps: PointStats, settings: Settings
) -> ForecastCompare | None:
    """The latest forecast issued before the observed peak (or the event's end), not earlier
    than one forecast horizon before the event."""
    until = ps.max_at or event.end
    row = session.execute(
        select(ForecastPointResult, ForecastRun)
        .join(ForecastRun, ForecastRun.id == ForecastPointResult.run_id)
        .where(
            ForecastPointResult.point_id == point_id,
            ForecastRun.status == RunStatus.done,
            ForecastRun.purpose == RunPurpose.operational,  # what-ifs are not the forecast made
            ForecastRun.issued_at <= until,
            ForecastRun.issued_at >= event.start - timedelta(seconds=settings.forecast_horizon_s),
        )
        .order_by(ForecastRun.issued_at.desc(), ForecastRun.id.desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    res, run = row
    return ForecastCompare(
        run_id=run.id,
        issued_at=run.issued_at,
        peak_m=res.peak_depth_m,
        peak_at=run.issued_at + timedelta(seconds=res.peak_time_s),
        error_m=res.peak_depth_m - ps.max_depth_m,
    )


def forecast_runs_of(
    *, session: Session, event: StormEvent, settings: Settings
) -> list[ForecastRun]:
    """Done operational forecast runs issued from one horizon before the event to its end,
    latest first (scenarios and drills are not what was forecast)."""
    _, end = event_window(event, settings)
    return list(
        session.scalars(
            select(ForecastRun)
            .where(
                ForecastRun.status == RunStatus.done,
                ForecastRun.purpose == RunPurpose.operational,
                ForecastRun.issued_at
                >= event.start - timedelta(seconds=settings.forecast_horizon_s),
                ForecastRun.issued_at <= end,
            )
            .order_by(ForecastRun.issued_at.desc(), ForecastRun.id.desc())
        )
    )


def event_incidents(
    *, session: Session, event: StormEvent, settings: Settings, actor: Actor
) -> list[Incident]:
    """Incidents reported during the event and its recession, in the actor's jurisdiction."""
    start, end = event_window(event, settings)
    stmt = scope_query(select(Incident), Incident.unit_id, session=session, user=actor)
    stmt = stmt.where(Incident.reported_at >= start, Incident.reported_at <= end)
    return list(session.scalars(stmt.order_by(Incident.reported_at, Incident.id)))


def rainstorm_signals(*, session: Session, event: StormEvent, settings: Settings) -> list[Any]:
    """Rainstorm signal changes during the event (empty when the warnings table is missing)."""
    if not _warnings_available(session):
        return []
    from fangxun.warnings.models import Warning, WarningChange, WarningKind

    start, end = event_window(event, settings)
    return list(
        session.scalars(
            select(WarningChange)
            .join(Warning, Warning.id == WarningChange.warning_id)
            .where(
                Warning.kind == WarningKind.rainstorm,
                WarningChange.at >= start - timedelta(seconds=settings.forecast_horizon_s),
                WarningChange.at <= end,
            )
            .order_by(WarningChange.at, WarningChange.id)
        )
    )


# --- causes --------------------------------------------------------------------------------------


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


# --- review --------------------------------------------------------------------------------------


@dataclass
class ReviewOutcome:
    """What :func:`create_rectifications` did: items created and points skipped, with why."""

    created: list[ReviewItem] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)


def create_rectifications(
    *,
    session: Session,
    settings: Settings,
    event_id: int,
    actor: Actor,
    now: datetime | None = None,
) -> ReviewOutcome:
    """The review: every point with a confirmed cause and no review item yet gets a
    rectification in the hazard ledger (finding, the cause's measure, deadline, the point's
    responsible person, else its deputy). Points without a named person are skipped, saying so."""
    event = get_event(session=session, event_id=event_id)
    now = now or utcnow()
    deadline = now + timedelta(seconds=settings.report_rectification_deadline_s)
    done = {r.point_id for r in review_items_of(session=session, event=event)}
    by_point = {
        p.point_id: p
        for p in point_statistics(session=session, settings=settings, event=event, actor=actor)
    }
    out = ReviewOutcome()
    for cause in sorted(causes_of(session=session, event=event).values(), key=lambda c: c.point_id):
        if cause.point_id in done:
            continue
        point = hazards_service.get_point(session=session, point_id=cause.point_id, actor=actor)
        owner = point.responsible_person_id or point.deputy_person_id
        if owner is None:
            out.skipped.append((point.code, "no responsible person on the point"))
            continue
        ps = by_point.get(point.id)
        depth = f"最大积水 {ps.max_depth_m * 100:.0f} cm，" if ps is not None else ""
        problem = f"{event.name}：{point.name}{depth}原因：{cause_label(cause.cause)}" + (
            f"（{cause.evidence}）" if cause.evidence else ""
        )
        rect = hazards_service.create_rectification(
            session=session,
            rect_in=RectificationCreate(
                point_id=point.id,
                finding=problem,
                measure=CAUSE_MEASURES_ZH.get(cause.cause, CAUSE_MEASURES_ZH["other"]),
                deadline=deadline,
                responsible_person_id=owner,
            ),
            actor=actor,
        )
        item = ReviewItem(
            event_id=event.id,
            point_id=point.id,
            unit_id=point.unit_id,
            cause=cause.cause,
            problem=problem,
            rectification_id=rect.id,
            created_by=actor_username(actor),
            created_at=now,
            deadline=deadline,
            responsible_person_id=owner,
        )
        event.review_items.append(item)
        session.flush()
        record_create(session=session, actor=actor, obj=item)
        out.created.append(item)
    if out.created and event.status is not EventStatus.open:
        before = snapshot(event)
        event.status = EventStatus.reviewed
        session.flush()
        record_update(session=session, actor=actor, obj=event, before=before)
    return out


@dataclass
class UnitProgress:
    """Rectifications the reviews opened for one unit, by state."""

    unit_id: int
    unit_name: str
    total: int = 0
    closed: int = 0
    overdue: int = 0

    @property
    def open(self) -> int:
        """Not closed yet."""
        return self.total - self.closed


def review_progress(
    *, session: Session, events: Sequence[StormEvent], now: datetime | None = None
) -> list[UnitProgress]:
    """Per unit: the reviews' rectifications, closed and overdue."""
    now = now or utcnow()
    ids = [e.id for e in events]
    if not ids:
        return []
    rows = session.execute(
        select(ReviewItem, Rectification, Unit)
        .join(Unit, Unit.id == ReviewItem.unit_id)
        .outerjoin(Rectification, Rectification.id == ReviewItem.rectification_id)
        .where(ReviewItem.event_id.in_(ids))
    ).all()
    acc: dict[int, UnitProgress] = {}
    for item, rect, unit in rows:
        row = acc.setdefault(unit.id, UnitProgress(unit.id, unit.name_zh))
        row.total += 1
        if rect is not None and rect.status is RectificationStatus.closed:
            row.closed += 1
        elif item.deadline < now:
            row.overdue += 1
    return sorted(acc.values(), key=lambda r: r.unit_name)


# --- the whole report ----------------------------------------------------------------------------


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


# --- season --------------------------------------------------------------------------------------


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
