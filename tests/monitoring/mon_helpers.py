"""Helpers of the monitoring tests: a small network (rain gauges, ponding sensor, river gauge)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from fangxun.audit.service import SystemActor
from fangxun.db import session_scope
from fangxun.monitoring import service
from fangxun.monitoring.models import StationKind
from fangxun.monitoring.schemas import DatastreamCreate, StationCreate

SYSTEM = SystemActor(username="test-setup")


@dataclass(frozen=True)
class Network:
    """Codes of the test network's datastreams."""

    rain: str = "RG01-rain"
    rain2: str = "RG02-rain"
    ponding: str = "PD01-depth"
    river: str = "RV01-level"


def build_network(engine: Engine, *, unit_id: int | None = None) -> Network:
    """Create the test network in the database behind ``engine`` (committed)."""
    with session_scope(engine) as session:
        service.ensure_observed_properties(session=session)
        stations = [
            ("RG01", StationKind.rain_gauge, 113.55, 34.80, None),
            ("RG02", StationKind.rain_gauge, 113.60, 34.82, None),
            ("PD01", StationKind.ponding, 113.57, 34.81, unit_id),
            ("RV01", StationKind.river_gauge, 113.58, 34.79, None),
        ]
        for code, kind, lon, lat, unit in stations:
            service.create_station(
                session=session,
                station_in=StationCreate(
                    code=code, name_zh=code, kind=kind, lon=lon, lat=lat, unit_id=unit
                ),
                actor=SYSTEM,
            )
        streams = [
            ("RG01-rain", "RG01", "rainfall", "mm", 300, {}),
            ("RG02-rain", "RG02", "rainfall", "mm", 300, {}),
            ("PD01-depth", "PD01", "ponding_depth", "cm", None, {}),
            (
                "RV01-level",
                "RV01",
                "river_level",
                "m",
                None,
                {"warning_level_m": 88.0, "guarantee_level_m": 90.0},
            ),
        ]
        for code, station, prop, unit_sym, interval, extra in streams:
            service.create_datastream(
                session=session,
                datastream_in=DatastreamCreate(
                    code=code,
                    name=code,
                    station_code=station,
                    observed_property=prop,
                    unit=unit_sym,
                    interval_s=interval,
                    **extra,
                ),
                actor=SYSTEM,
            )
    return Network()
