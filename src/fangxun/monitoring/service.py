"""Monitoring services: stations and datastreams, observations, latest values, dead letters,
rain accumulations, areal rain and stale stations. Keyword-only; never commit.

Reading: every logged-in role; a ``unit`` user sees the stations of its jurisdiction and the
district-wide ones (``unit_id`` None: rain gauges and river gauges are shared by everyone).
Changing the network: ``admin`` and ``district``. Posting observations: also ``duty``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

import numpy as np
from shapely.geometry import MultiPoint, Point, shape
from shapely.geometry.base import BaseGeometry
from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.orm import Session, contains_eager, joinedload, selectinload

from fangxun.audit.models import AuditEntry
from fangxun.audit.service import SystemActor, record_change, snapshot
from fangxun.db.types import utcnow
from fangxun.errors import ConflictError, NotFoundError, PermissionDeniedError, ValidationFailed
from fangxun.monitoring import qc
from fangxun.monitoring.models import (
    Datastream,
    DeadLetter,
    MonitoringAlarm,
    Observation,
    ObservedProperty,
    Sensor,
    Station,
    StationKind,
)
from fangxun.monitoring.schemas import (
    DatastreamCreate,
    DatastreamRead,
    ObservedPropertyCreate,
    StationCreate,
)
from fangxun.monitoring.units import from_si
from fangxun.org.jurisdiction import visible_unit_ids
from fangxun.org.models import Role, User

Actor = User | SystemActor | None

_S = TypeVar("_S", bound="Select[*tuple[Any, ...]]")

MANAGE_ROLES = frozenset({Role.admin, Role.district})
INGEST_ROLES = frozenset({Role.admin, Role.district, Role.duty})

#: Rolling rain windows, s, keyed by the label the API uses.
RAIN_WINDOWS_S: dict[str, int] = {
    "10m": 600,
    "1h": 3600,
    "3h": 3 * 3600,
    "6h": 6 * 3600,
    "12h": 12 * 3600,
    "24h": 24 * 3600,
}

#: How far back an event total looks at most, s.
EVENT_LOOKBACK_S = 7 * 24 * 3600

#: Default observed properties with QC limits (SI). Plausibility limits, not standards: edit the
#: rows to suit a network.
DEFAULT_PROPERTIES: tuple[ObservedPropertyCreate, ...] = (
    ObservedPropertyCreate(
        code="rainfall",
        name_zh="降雨量",
        name_en="Rainfall",
        definition="Rain depth fallen in the reporting interval ending at the time",
        si_unit="m",
        range_min=0.0,
        range_max=0.25,  # per interval; above the 201.9 mm of the 7·20 record hour
    ),
    ObservedPropertyCreate(
        code="rainfall_accumulated",
        name_zh="累计降雨量",
        name_en="Accumulated rainfall",
        definition="A gauge's running rain total (SL 651 PT); it resets when the gauge is reset",
        si_unit="m",
        range_min=0.0,
        range_max=100.0,
    ),
    ObservedPropertyCreate(
        code="ponding_depth",
        name_zh="积水深度",
        name_en="Ponding depth",
        si_unit="m",
        range_min=0.0,
        range_max=5.0,
        max_rate_per_s=0.01,  # 60 cm/min
    ),
    ObservedPropertyCreate(
        code="river_level",
        name_zh="河道水位",
        name_en="River level",
        definition="Water level above the gauge datum",
        si_unit="m",
        range_min=-50.0,
        range_max=9000.0,
        max_rate_per_s=0.005,  # 30 cm/min
        stuck_after_s=6 * 3600,
    ),
    ObservedPropertyCreate(
        code="pumps_running", name_zh="运行台数", name_en="Pumps running", si_unit="1",
        range_min=0, range_max=50,
    ),
    ObservedPropertyCreate(
        code="discharge", name_zh="抽排流量", name_en="Discharge", si_unit="m3/s",
        range_min=0, range_max=200,
    ),
    ObservedPropertyCreate(
        code="sump_level", name_zh="前池水位", name_en="Sump level", si_unit="m",
        range_min=-30, range_max=9000, max_rate_per_s=0.02, stuck_after_s=12 * 3600,
    ),
    ObservedPropertyCreate(
        code="power", name_zh="供电状态", name_en="Power on", si_unit="1",
        range_min=0, range_max=1,
    ),
)  # fmt: skip


# --- access ------------------------------------------------------------------------------------


def _require(actor: Actor, roles: frozenset[Role], what: str) -> None:
    if actor is None or isinstance(actor, SystemActor):
        return
    if not actor.is_active or actor.role not in roles:
        raise PermissionDeniedError(f"role {actor.role.value!r} may not {what}")


def _scope(stmt: _S, *, session: Session, actor: Actor) -> _S:
    visible = visible_unit_ids(session=session, user=actor)
    if visible is None:
        return stmt
    return stmt.where(or_(Station.unit_id.is_(None), Station.unit_id.in_(sorted(visible))))


# --- network -----------------------------------------------------------------------------------


def ensure_observed_properties(*, session: Session) -> dict[str, ObservedProperty]:
    """Create the :data:`DEFAULT_PROPERTIES` that are missing; return every property by code."""
    have = {p.code: p for p in session.scalars(select(ObservedProperty))}
    for spec in DEFAULT_PROPERTIES:
        if spec.code not in have:
            prop = ObservedProperty(**spec.model_dump())
            session.add(prop)
            have[spec.code] = prop
    session.flush()
    return have


def create_station(*, session: Session, station_in: StationCreate, actor: Actor) -> Station:
    """Add a station (audited). Raises :class:`ConflictError` for a used code."""
    _require(actor, MANAGE_ROLES, "manage monitoring stations")
    if session.scalar(select(Station.id).where(Station.code == station_in.code)) is not None:
        raise ConflictError(f"station code {station_in.code!r} is already used")
    station = Station(**station_in.model_dump())
    session.add(station)
    session.flush()
    record_change(
        session=session, actor=actor, action="create", obj=station, before=None,
        after=snapshot(station),
    )  # fmt: skip
    return station


def list_stations(
    *, session: Session, actor: Actor, kind: StationKind | None = None
) -> list[Station]:
    """Stations visible to ``actor``, by code."""
    stmt = select(Station).order_by(Station.code)
    if kind is not None:
        stmt = stmt.where(Station.kind == kind)
    return list(session.scalars(_scope(stmt, session=session, actor=actor)))


def get_station(*, session: Session, code: str, actor: Actor) -> Station:
    """A station by code; :class:`NotFoundError` if missing or outside the jurisdiction."""
    stmt = _scope(select(Station).where(Station.code == code), session=session, actor=actor)
    station: Station | None = session.scalar(stmt)
    if station is None:
        raise NotFoundError(f"station {code!r} not found")
    return station


def create_datastream(
    *, session: Session, datastream_in: DatastreamCreate, actor: Actor
) -> Datastream:
    """Add a datastream to a station (audited). Its ``code`` is unique and never reused."""
    _require(actor, MANAGE_ROLES, "manage datastreams")
    if session.scalar(select(Datastream.id).where(Datastream.code == datastream_in.code)):
        raise ConflictError(f"datastream code {datastream_in.code!r} is already used")
    station = get_station(session=session, code=datastream_in.station_code, actor=actor)
    prop = session.scalar(
        select(ObservedProperty).where(ObservedProperty.code == datastream_in.observed_property)
    )
    if prop is None:
        raise ValidationFailed(
            f"unknown observed property {datastream_in.observed_property!r}",
            loc=("body", "observed_property"),
        )
    sensor_id = None
    if datastream_in.sensor_code is not None:
        sensor_id = session.scalar(
            select(Sensor.id).where(Sensor.code == datastream_in.sensor_code)
        )
        if sensor_id is None:
            raise ValidationFailed(
                f"unknown sensor {datastream_in.sensor_code!r}", loc=("body", "sensor_code")
            )
    data = datastream_in.model_dump(exclude={"station_code", "observed_property", "sensor_code"})
    ds = Datastream(
        **data, station_id=station.id, observed_property_id=prop.id, sensor_id=sensor_id
    )
    session.add(ds)
    session.flush()
    record_change(
        session=session, actor=actor, action="create", obj=ds, before=None, after=snapshot(ds)
    )
    return ds


def level_status(ds: Datastream) -> str | None:
    """River level against its limits: ``guarantee``, ``warning``, ``normal``; None if no limits or
    no (clean) latest value."""
    if ds.warning_level_m is None and ds.guarantee_level_m is None:
        return None
    if ds.last_value is None or ds.last_flags:
        return None
    if ds.guarantee_level_m is not None and ds.last_value >= ds.guarantee_level_m:
        return "guarantee"
    if ds.warning_level_m is not None and ds.last_value >= ds.warning_level_m:
        return "warning"
    return "normal"


def datastream_read(ds: Datastream) -> DatastreamRead:
    """A datastream as the API shows it: latest value in the datastream's unit."""
    return DatastreamRead(
        id=ds.id,
        code=ds.code,
        name=ds.name,
        station_code=ds.station.code,
        observed_property=ds.observed_property.code,
        unit=ds.unit,
        interval_s=ds.interval_s,
        warning_level_m=ds.warning_level_m,
        guarantee_level_m=ds.guarantee_level_m,
        last_time=ds.last_time,
        last_value=None if ds.last_value is None else from_si(ds.last_value, ds.unit),
        last_flags=qc.flag_names(ds.last_flags or 0),
        level_status=level_status(ds),
    )


def list_datastreams(
    *, session: Session, actor: Actor, station_code: str | None = None
) -> list[Datastream]:
    """Datastreams visible to ``actor`` (with their latest values), by code."""
    stmt = (
        select(Datastream)
        .join(Station)
        # Loaded with the rows: datastream_read reads both for every datastream (no N+1).
        .options(contains_eager(Datastream.station), joinedload(Datastream.observed_property))
        .order_by(Datastream.code)
    )
    if station_code is not None:
        stmt = stmt.where(Station.code == station_code)
    return list(session.scalars(_scope(stmt, session=session, actor=actor)))


def get_datastream(*, session: Session, code: str, actor: Actor) -> Datastream:
    """A datastream by code; :class:`NotFoundError` if missing or outside the jurisdiction."""
    stmt = select(Datastream).join(Station).where(Datastream.code == code)
    ds: Datastream | None = session.scalar(_scope(stmt, session=session, actor=actor))
    if ds is None:
        raise NotFoundError(f"datastream {code!r} not found")
    return ds


def stations_geojson(
    *, session: Session, actor: Actor, kind: StationKind | None = None
) -> dict[str, Any]:
    """Stations with their datastreams' latest values as an RFC 7946 FeatureCollection."""
    stmt = (
        select(Station)
        # Datastreams and their properties in two more queries, not two per station (no N+1).
        .options(selectinload(Station.datastreams).joinedload(Datastream.observed_property))
        .order_by(Station.code)
    )
    if kind is not None:
        stmt = stmt.where(Station.kind == kind)
    features = []
    for st in session.scalars(_scope(stmt, session=session, actor=actor)):
        streams = [datastream_read(ds).model_dump(mode="json") for ds in st.datastreams]
        features.append(
            {
                "type": "Feature",
                "id": st.code,
                "geometry": {"type": "Point", "coordinates": [st.lon, st.lat]},
                "properties": {
                    "code": st.code,
                    "name_zh": st.name_zh,
                    "name_en": st.name_en,
                    "kind": st.kind.value,
                    "unit_id": st.unit_id,
                    "hazard_point_id": st.hazard_point_id,
                    "elevation_m": st.elevation_m,
                    "datastreams": sorted(streams, key=lambda d: d["code"]),
                },
            }
        )
    return {"type": "FeatureCollection", "features": features}


def latest_version(*, session: Session) -> tuple[Any, ...]:
    """A cheap value that changes whenever stations, datastreams or any latest value may have
    (any jurisdiction): the newest audit entry (edits), station and datastream ids, and the
    newest observation id (latest values move only when an observation is stored). One query
    of four primary-key lookups.

    Transactions committed out of id order show when the response cache's TTL runs out."""
    stmt = select(
        select(func.max(AuditEntry.id)).scalar_subquery(),
        select(func.max(Station.id)).scalar_subquery(),
        select(func.max(Datastream.id)).scalar_subquery(),
        select(func.max(Observation.id)).scalar_subquery(),
    )
    return tuple(session.execute(stmt).one())


# --- observations ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ObservationPoint:
    """One observation in its datastream's unit."""

    time: datetime
    value: float
    flags: int


def _check_range(start: datetime, end: datetime) -> None:
    if start.tzinfo is None or end.tzinfo is None:
        raise ValidationFailed("start and end need a UTC offset", loc=("query", "start"))
    if end < start:
        raise ValidationFailed("end is before start", loc=("query", "end"))


def list_observations(
    *,
    session: Session,
    actor: Actor,
    code: str,
    start: datetime,
    end: datetime,
    include_flagged: bool = True,
    limit: int = 10_000,
) -> list[ObservationPoint]:
    """Observations of datastream ``code`` with ``start <= time <= end``, oldest first."""
    _check_range(start, end)
    ds = get_datastream(session=session, code=code, actor=actor)
    stmt = (
        select(Observation.phenomenon_time, Observation.value, Observation.flags)
        .where(
            Observation.datastream_id == ds.id,
            Observation.phenomenon_time >= start,
            Observation.phenomenon_time <= end,
        )
        .order_by(Observation.phenomenon_time)
        .limit(limit)
    )
    if not include_flagged:
        stmt = stmt.where(Observation.flags == 0)
    return [ObservationPoint(t, from_si(v, ds.unit), f) for t, v, f in session.execute(stmt)]


def list_dead_letters(
    *, session: Session, actor: Actor, limit: int = 50, offset: int = 0
) -> tuple[list[DeadLetter], int]:
    """Dead letters, newest first, and their total count (``admin``, ``district``, ``duty``)."""
    _require(actor, INGEST_ROLES, "read dead letters")
    total = session.scalar(select(func.count()).select_from(DeadLetter)) or 0
    rows = session.scalars(
        select(DeadLetter).order_by(DeadLetter.id.desc()).limit(limit).offset(offset)
    )
    return list(rows), int(total)


# --- rain --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RainTotalsResult:
    """Rolling totals (mm) per window label, the current event's total (mm) and start."""

    totals_mm: dict[str, float]
    event_total_mm: float
    event_start: datetime | None


def rain_totals_from_series(
    times: Sequence[datetime],
    depths_m: Sequence[float],
    *,
    end: datetime,
    event_gap: timedelta,
    windows_s: dict[str, int] | None = None,
) -> RainTotalsResult:
    """Rolling totals of interval rain depths ``depths_m`` (m) timestamped at interval end.

    A window of length W ending at ``end`` holds the observations with ``end - W < time <= end``
    (an interval ending exactly at ``end - W`` fell before the window). The current event is the
    run of rainy observations, walking back from ``end``, with no dry gap of ``event_gap`` or
    more; it is over (total 0) when the last rain is ``event_gap`` or more before ``end``.
    """
    windows = windows_s or RAIN_WINDOWS_S
    totals: dict[str, float] = {}
    for label, w in windows.items():
        start = end - timedelta(seconds=w)
        s = sum(d for t, d in zip(times, depths_m, strict=True) if start < t <= end)
        totals[label] = round(s * 1000.0, 6)
    wet = sorted(((t, d) for t, d in zip(times, depths_m, strict=True) if d > 0 and t <= end),
                 reverse=True)  # fmt: skip
    event_total = 0.0
    event_start: datetime | None = None
    cursor = end
    for t, d in wet:
        if cursor - t >= event_gap:
            break
        event_total += d
        event_start = t
        cursor = t
    return RainTotalsResult(totals, round(event_total * 1000.0, 6), event_start)


def rain_totals(
    *,
    session: Session,
    actor: Actor,
    code: str,
    end: datetime | None = None,
    event_gap: timedelta = timedelta(hours=6),
    include_flagged: bool = False,
) -> RainTotalsResult:
    """Rolling rain totals of rain datastream ``code`` ending at ``end`` (default now), mm.

    Flagged values are left out unless ``include_flagged``.
    """
    end = end or utcnow()
    ds = get_datastream(session=session, code=code, actor=actor)
    if ds.observed_property.code != "rainfall":
        raise ValidationFailed(
            f"datastream {code!r} does not measure rainfall", loc=("path", "code")
        )
    lookback = max(max(RAIN_WINDOWS_S.values()), EVENT_LOOKBACK_S)
    stmt = select(Observation.phenomenon_time, Observation.value).where(
        Observation.datastream_id == ds.id,
        Observation.phenomenon_time > end - timedelta(seconds=lookback),
        Observation.phenomenon_time <= end,
    )
    if not include_flagged:
        stmt = stmt.where(Observation.flags == 0)
    rows = session.execute(stmt).all()
    return rain_totals_from_series(
        [r[0] for r in rows], [r[1] for r in rows], end=end, event_gap=event_gap
    )


def _local_xy(lon: np.ndarray, lat: np.ndarray, lat0: float) -> tuple[np.ndarray, np.ndarray]:
    # Equirectangular metres around lat0: within a district (~20 km) the error is far below the
    # uncertainty of rain between gauges.
    r = 6_371_008.8
    return np.radians(lon) * r * math.cos(math.radians(lat0)), np.radians(lat) * r


def idw_mean(
    gauges: Sequence[tuple[float, float, float]],
    area: BaseGeometry,
    *,
    power: float = 2.0,
    samples_per_side: int = 40,
) -> tuple[float, int]:
    """Areal mean of gauge values ``(lon, lat, value)`` over ``area`` (lon/lat polygon) by inverse
    distance weighting at a regular grid of sample points inside it. Returns ``(mean, samples)``.
    """
    if not gauges:
        raise ValidationFailed("areal rain needs at least one gauge with data")
    glon, glat, gval = (np.array(c, dtype=float) for c in zip(*gauges, strict=True))
    minx, miny, maxx, maxy = area.bounds
    xs = np.linspace(minx, maxx, samples_per_side)
    ys = np.linspace(miny, maxy, samples_per_side)
    pts = [(x, y) for y in ys for x in xs if area.covers(Point(x, y))]
    if not pts:
        pts = [(area.centroid.x, area.centroid.y)]
    plon = np.array([p[0] for p in pts])
    plat = np.array([p[1] for p in pts])
    lat0 = float(np.mean(glat))
    gx, gy = _local_xy(glon, glat, lat0)
    px, py = _local_xy(plon, plat, lat0)
    d = np.hypot(px[:, None] - gx[None, :], py[:, None] - gy[None, :])
    with np.errstate(divide="ignore"):
        w = 1.0 / np.maximum(d, 1e-6) ** power
    est = (w * gval[None, :]).sum(axis=1) / w.sum(axis=1)
    return float(est.mean()), len(pts)


def areal_rain(
    *,
    session: Session,
    actor: Actor,
    window_s: int,
    end: datetime | None = None,
    area_geojson: dict[str, Any] | None = None,
    power: float = 2.0,
) -> tuple[float, dict[str, float], int]:
    """District areal rain over the window ending at ``end``, mm, by IDW of the gauges' clean
    totals. ``area_geojson`` is a lon/lat geometry; by default the gauges' convex hull grown by
    10 %. Returns ``(mean_mm, per_gauge_mm, samples)``."""
    end = end or utcnow()
    start = end - timedelta(seconds=window_s)
    stmt = (
        select(
            Station.code, Station.lon, Station.lat, func.coalesce(func.sum(Observation.value), 0.0)
        )
        .select_from(Datastream)
        .join(Station, Datastream.station_id == Station.id)
        .join(ObservedProperty, Datastream.observed_property_id == ObservedProperty.id)
        .outerjoin(
            Observation,
            and_(
                Observation.datastream_id == Datastream.id,
                Observation.phenomenon_time > start,
                Observation.phenomenon_time <= end,
                Observation.flags == 0,
            ),
        )
        .where(ObservedProperty.code == "rainfall", Station.is_active.is_(True))
        .group_by(Station.code, Station.lon, Station.lat)
    )
    rows = session.execute(_scope(stmt, session=session, actor=actor)).all()
    gauges = [(float(lon), float(lat), float(total) * 1000.0) for _, lon, lat, total in rows]
    if area_geojson is not None:
        try:
            area = shape(area_geojson)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ValidationFailed(
                f"area is not a GeoJSON geometry: {exc}", loc=("area",)
            ) from None
    else:
        hull = MultiPoint([(g[0], g[1]) for g in gauges]).convex_hull
        area = hull.buffer(max(math.sqrt(hull.area) * 0.1, 0.002)) if gauges else hull
    mean, samples = idw_mean(gauges, area, power=power)
    return (
        round(mean, 6),
        {code: round(g[2], 6) for (code, *_), g in zip(rows, gauges, strict=True)},
        samples,
    )


# --- stale stations ----------------------------------------------------------------------------


def stale_stations(
    *, session: Session, actor: Actor, stale_after: timedelta, now: datetime | None = None
) -> list[tuple[Station, datetime | None]]:
    """Active stations whose newest observation is older than ``stale_after`` (or none at all)."""
    now = now or utcnow()
    last = func.max(Datastream.last_time)
    stmt = (
        select(Station, last)
        .outerjoin(Datastream, Datastream.station_id == Station.id)
        .where(Station.is_active.is_(True))
        .group_by(Station.id)
        .having(or_(last.is_(None), last < now - stale_after))
        .order_by(Station.code)
    )
    return [(st, t) for st, t in session.execute(_scope(stmt, session=session, actor=actor))]


def update_stale_alarms(
    *, session: Session, stale_after: timedelta, now: datetime | None = None
) -> tuple[int, int]:
    """Raise a ``stale`` alarm for each newly silent station and clear those that reported again.

    Returns ``(raised, cleared)``. Called periodically by the ingest service.
    """
    now = now or utcnow()
    stale = {st.id: (st, t) for st, t in stale_stations(
        session=session, actor=None, stale_after=stale_after, now=now)}  # fmt: skip
    open_alarms = {
        a.station_id: a
        for a in session.scalars(
            select(MonitoringAlarm).where(
                MonitoringAlarm.kind == "stale", MonitoringAlarm.cleared_at.is_(None)
            )
        )
    }
    raised = cleared = 0
    for station_id, (st, t) in stale.items():
        if station_id not in open_alarms:
            since = "never reported" if t is None else f"silent since {t.isoformat()}"
            session.add(
                MonitoringAlarm(
                    station_id=station_id, kind="stale", raised_at=now,
                    message=f"station {st.code} {since}",
                )
            )  # fmt: skip
            raised += 1
    for station_id, alarm in open_alarms.items():
        if station_id not in stale:
            alarm.cleared_at = now
            cleared += 1
    session.flush()
    return raised, cleared


def silent_station_newest(
    *, session: Session, cutoff: datetime
) -> list[tuple[str, dict[str, Any] | None, datetime]]:
    """Active stations whose newest observation is older than ``cutoff`` (UTC): their kind, their
    properties and that newest time, one query (the web UI's "data is stale" banner decides which
    of them are critical). A station that never reported is not listed."""
    newest = func.max(Datastream.last_time)
    stmt = (
        select(Station.kind, Station.properties, newest)
        .join(Datastream, Datastream.station_id == Station.id)
        .where(Station.is_active.is_(True))
        .group_by(Station.id, Station.kind, Station.properties)
        .having(newest < cutoff)
    )
    return [(str(kind.value), props, t) for kind, props, t in session.execute(stmt).all()]


def ingest_summary(*, session: Session, since: datetime) -> tuple[int, datetime | None]:
    """Observations received since ``since`` (UTC) and the newest receipt time (None when there
    is no observation): the ingest rate and staleness metrics."""
    recent = session.scalar(
        select(func.count()).select_from(Observation).where(Observation.received_at >= since)
    )
    newest = session.scalar(select(func.max(Observation.received_at)))
    return int(recent or 0), newest


def dead_letter_counts(*, session: Session, since: datetime) -> tuple[int, int]:
    """Dead letters in all, and those received since ``since`` (UTC)."""
    total = session.scalar(select(func.count()).select_from(DeadLetter)) or 0
    recent = session.scalar(
        select(func.count()).select_from(DeadLetter).where(DeadLetter.received_at >= since)
    )
    return int(total), int(recent or 0)
