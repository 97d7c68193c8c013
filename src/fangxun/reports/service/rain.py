"""Rain gauges and their series for the reports (quality-flagged observations left out)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from fangxun.monitoring.models import (
    Datastream,
    Observation,
    ObservedProperty,
    Station,
    StationKind,
)
from fangxun.reports import stats


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
