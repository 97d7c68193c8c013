"""The per-domain factories make valid, audited objects with overridable fields."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from factories import make_person, make_point, make_station, make_unit
from fangxun.audit.models import AuditEntry
from fangxun.hazards.models import HazardKind
from fangxun.monitoring.models import StationKind
from fangxun.org.models import UnitKind


def test_factories_make_a_small_world(db_session: Session) -> None:
    district = make_unit(db_session)
    office = make_unit(db_session, "A", UnitKind.street_office, district.id, name_zh="甲办事处")
    assert (district.code, district.name_zh, district.kind) == ("D", "D", UnitKind.district)
    assert (office.parent_id, office.name_zh) == (district.id, "甲办事处")
    person = make_person(db_session, "王五", office.id, phone="13800000000")
    assert (person.unit_id, person.phone) == (office.id, "13800000000")
    station = make_station(db_session, "RG1", unit_id=office.id)
    assert (station.kind, station.unit_id) == (StationKind.rain_gauge, office.id)
    point = make_point(db_session, "P1", unit_id=office.id, kind="underpass")
    assert (point.kind, point.name, point.unit_id) == (HazardKind.underpass, "P1", office.id)
    audited = db_session.scalars(select(AuditEntry.id)).all()
    assert len(audited) >= 5
