"""Per-domain test factories: the smallest valid object of each kind, made through its service
(so audit and checks run as in production), every field overridable by keyword.

    unit = make_unit(session, "D")
    office = make_unit(session, "A", UnitKind.street_office, parent=unit.id)
    person = make_person(session, "王五", office.id)
    station = make_station(session, "RG1", unit_id=office.id)
    point = make_point(session, "P1", unit_id=office.id)

Each takes the session of the test's transaction and never commits.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from fangxun.audit.service import Actor, SystemActor
from fangxun.hazards.models import HazardKind, HazardPoint
from fangxun.hazards.schemas import HazardPointCreate
from fangxun.monitoring.models import Station, StationKind
from fangxun.monitoring.schemas import StationCreate
from fangxun.org import service as org_service
from fangxun.org.models import Person, Unit, UnitKind
from fangxun.org.schemas import PersonCreate, UnitCreate

#: The actor the factories act as unless told otherwise.
FACTORY_ACTOR = SystemActor(username="test-setup")

#: A place inside the demo district (WGS 84 lon, lat), for objects whose place does not matter.
LON, LAT = 113.65, 34.76


def make_unit(
    session: Session,
    code: str = "D",
    kind: UnitKind | str = UnitKind.district,
    parent: int | None = None,
    *,
    name_zh: str | None = None,
    actor: Actor = FACTORY_ACTOR,
    **fields: Any,
) -> Unit:
    """A unit (district by default); ``name_zh`` defaults to the code."""
    return org_service.create_unit(
        session=session,
        unit_in=UnitCreate(
            code=code, name_zh=name_zh or code, kind=UnitKind(kind), parent_id=parent, **fields
        ),
        actor=actor,
    )


def make_person(
    session: Session,
    name: str,
    unit_id: int,
    *,
    actor: Actor = FACTORY_ACTOR,
    **fields: Any,
) -> Person:
    """A person of a unit."""
    return org_service.create_person(
        session=session,
        person_in=PersonCreate(name=name, unit_id=unit_id, **fields),
        actor=actor,
    )


def make_station(
    session: Session,
    code: str,
    kind: StationKind | str = StationKind.rain_gauge,
    *,
    name_zh: str | None = None,
    lon: float = LON,
    lat: float = LAT,
    actor: Actor = FACTORY_ACTOR,
    **fields: Any,
) -> Station:
    """A monitoring station (a rain gauge by default)."""
    from fangxun.monitoring import service as monitoring_service

    return monitoring_service.create_station(
        session=session,
        station_in=StationCreate(
            code=code, name_zh=name_zh or code, kind=StationKind(kind), lon=lon, lat=lat, **fields
        ),
        actor=actor,
    )


def make_point(
    session: Session,
    code: str,
    *,
    unit_id: int,
    kind: HazardKind | str = HazardKind.low_lying_road,
    name: str | None = None,
    lon: float = LON,
    lat: float = LAT,
    actor: Actor = FACTORY_ACTOR,
    **fields: Any,
) -> HazardPoint:
    """A hazard point (a low-lying road by default)."""
    from fangxun.hazards import service as hazards_service

    return hazards_service.create_point(
        session=session,
        point_in=HazardPointCreate(
            code=code,
            name=name or code,
            kind=HazardKind(kind),
            lon=lon,
            lat=lat,
            unit_id=unit_id,
            **fields,
        ),
        actor=actor,
    )
