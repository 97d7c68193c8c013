"""Per-point statistics of an event, with the warnings, forecasts, incidents and signals around
it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import inspect, select
from sqlalchemy.orm import Session

from fangxun.config import Settings
from fangxun.forecast.models import ForecastPointResult, ForecastRun, RunPurpose, RunStatus
from fangxun.hazards.models import HazardPoint
from fangxun.incidents.models import Incident
from fangxun.monitoring.models import Datastream, ObservedProperty, Station
from fangxun.org.jurisdiction import scope_query
from fangxun.org.models import Unit
from fangxun.org.permissions import Actor
from fangxun.reports import stats
from fangxun.reports.models import StormEvent
from fangxun.reports.service.rain import _observations


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


@dataclass(frozen=True)
class SignalRow:
    """One change of the rainstorm signal during an event: ``colour`` (None when cancelled or
    lifted), ``change`` in Chinese (发布/更新/解除), ``source``: 气象台 (the official CAP signal)
    or 人工转发 (a person relaying it). The gauge rule's indication is never a signal."""

    at: datetime
    colour: str | None
    change: str
    source: str


_MSG_ZH = {"Alert": "发布", "Update": "更新", "Cancel": "解除"}
_CHANGE_ZH = {
    "issue": "发布",
    "upgrade": "升级",
    "downgrade": "降级",
    "update": "更新",
    "lift": "解除",
}


def rainstorm_signals(*, session: Session, event: StormEvent, settings: Settings) -> list[Any]:
    """Rainstorm signal changes during the event: the meteorological service's official signals
    (live ones) and rainstorm warnings people relayed by hand, as :class:`SignalRow` by time
    (empty when the warnings tables are missing)."""
    if not _warnings_available(session):
        return []
    from fangxun.warnings.models import (
        OfficialSignal,
        Origin,
        Warning,
        WarningChange,
        WarningKind,
        WarningPurpose,
    )

    start, end = event_window(event, settings)
    since = start - timedelta(seconds=settings.forecast_horizon_s)
    rows: list[SignalRow] = []
    if inspect(session.connection()).has_table("warning_official_signal"):
        official = session.scalars(
            select(OfficialSignal).where(
                OfficialSignal.status == "Actual",
                OfficialSignal.sent >= since,
                OfficialSignal.sent <= end,
            )
        )
        rows += [
            SignalRow(
                s.sent,
                None if s.msg_type == "Cancel" else s.colour,
                _MSG_ZH.get(s.msg_type, s.msg_type),
                "气象台",
            )
            for s in official
            if s.colour is not None or s.msg_type == "Cancel"
        ]
    relayed = session.scalars(
        select(WarningChange)
        .join(Warning, Warning.id == WarningChange.warning_id)
        .where(
            Warning.kind == WarningKind.rainstorm,
            Warning.origin == Origin.manual,
            Warning.purpose == WarningPurpose.operational,
            WarningChange.at >= since,
            WarningChange.at <= end,
        )
    )
    rows += [
        SignalRow(
            c.at,
            c.to_colour.value if c.to_colour else None,
            _CHANGE_ZH.get(c.change_type.value, c.change_type.value),
            "人工转发",
        )
        for c in relayed
    ]
    return sorted(rows, key=lambda r: r.at)
