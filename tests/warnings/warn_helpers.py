"""Helpers of the warning tests: units, a rain gauge, hazard points with ponding sensors, a
river gauge and a pump station, and helpers to write observations and run the rules."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy.orm import Session

from factories import make_unit
from fangxun.audit.service import SystemActor
from fangxun.config import Settings
from fangxun.hazards.models import HazardKind, HazardPoint, RiskLevel
from fangxun.monitoring.models import Datastream, Observation, Station, StationKind
from fangxun.monitoring.service import ensure_observed_properties
from fangxun.notify import service as notify
from fangxun.notify.schemas import ContactCreate
from fangxun.org.models import UnitKind
from fangxun.warnings import service
from fangxun.warnings.models import WarningChange

SYSTEM = SystemActor(username="warning-tests")


@dataclass
class World:
    district: int
    office_a: int
    office_b: int
    rain: Datastream
    point_a: HazardPoint
    point_b: HazardPoint
    depth_a: Datastream
    depth_b: Datastream
    river: Datastream
    power: Datastream


def _station(session: Session, code: str, kind: StationKind, **kw: Any) -> Station:
    st = Station(
        code=code,
        name_zh=code,
        kind=kind,
        lon=kw.pop("lon", 113.55),
        lat=kw.pop("lat", 34.81),
        **kw,
    )
    session.add(st)
    session.flush()
    return st


def _stream(session: Session, station: Station, prop: str, unit: str, **kw: Any) -> Datastream:
    props = ensure_observed_properties(session=session)
    ds = Datastream(
        code=f"{station.code}-{prop}",
        name=prop,
        station_id=station.id,
        observed_property_id=props[prop].id,
        unit=unit,
        **kw,
    )
    session.add(ds)
    session.flush()
    return ds


@pytest.fixture
def world(db_session: Session) -> World:
    def unit(code: str, kind: UnitKind, parent: int | None) -> int:
        return make_unit(db_session, code, kind, parent, name_zh=f"{code}单位", actor=SYSTEM).id

    d = unit("D", UnitKind.district, None)
    a = unit("A", UnitKind.street_office, d)
    b = unit("B", UnitKind.street_office, d)
    points = []
    for code, u, lon in (("PA", a, 113.54), ("PB", b, 113.56)):
        pt = HazardPoint(
            code=code,
            name=f"{code} 下穿",
            kind=HazardKind.underpass,
            lon=lon,
            lat=34.8,
            unit_id=u,
            risk_level=RiskLevel.high,
            threshold_blue_m=0.15,
            threshold_yellow_m=0.27,
            threshold_orange_m=0.40,
            threshold_red_m=0.50,
        )
        db_session.add(pt)
        points.append(pt)
    points[0].polygon = {
        "type": "Polygon",
        "coordinates": [
            [
                [113.539, 34.799],
                [113.541, 34.799],
                [113.541, 34.801],
                [113.539, 34.801],
                [113.539, 34.799],
            ]
        ],
    }
    db_session.flush()
    rg = _station(db_session, "RG1", StationKind.rain_gauge)
    sa_ = _station(db_session, "SA", StationKind.ponding, unit_id=a, hazard_point_id=points[0].id)
    sb = _station(db_session, "SB", StationKind.ponding, unit_id=b, hazard_point_id=points[1].id)
    rv = _station(db_session, "RV1", StationKind.river_gauge, unit_id=a, elevation_m=90.0)
    ps = _station(db_session, "PS1", StationKind.pump_station, unit_id=b)
    world = World(
        district=d,
        office_a=a,
        office_b=b,
        rain=_stream(db_session, rg, "rainfall", "mm", interval_s=300),
        point_a=points[0],
        point_b=points[1],
        depth_a=_stream(db_session, sa_, "ponding_depth", "cm"),
        depth_b=_stream(db_session, sb, "ponding_depth", "cm"),
        river=_stream(
            db_session, rv, "river_level", "m", warning_level_m=92.0, guarantee_level_m=93.0
        ),
        power=_stream(db_session, ps, "power", "1"),
    )
    # Somebody to tell: each street office's WeCom group robot.
    for u in (d, a, b):
        notify.add_contact(
            session=db_session,
            contact_in=ContactCreate(
                unit_id=u, channel="wecom", address=f"https://robot.example/{u}"
            ),
            actor=SYSTEM,
        )
    db_session.flush()
    return world


def observe(
    session: Session, ds: Datastream, points: Sequence[tuple[datetime, float]], flags: int = 0
) -> None:
    """Store observations (SI values) and move the datastream's latest value along."""
    for t, v in points:
        session.add(Observation(datastream_id=ds.id, phenomenon_time=t, value=v, flags=flags))
        if ds.last_time is None or t >= ds.last_time:
            ds.last_time, ds.last_value, ds.last_flags = t, v, flags
    session.flush()


def run(session: Session, settings: Settings, now: datetime) -> list[WarningChange]:
    """One evaluation of the rules."""
    return service.evaluate(session=session, now=now, settings=settings)
