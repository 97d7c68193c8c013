"""Loading the demo organisation: idempotent, audited, every role can log in."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from fangxun.audit.models import AuditEntry
from fangxun.config import Settings
from fangxun.db import session_scope
from fangxun.demo import DEMO_LOGINS, load_demo
from fangxun.demo.files import TerrainFiles
from fangxun.demo.org_seed import DEMO_ACTOR, PEOPLE, UNITS
from fangxun.errors import ConfigError
from fangxun.org import service as org
from fangxun.org.models import Person, Role, Unit, UnitKind, User


@pytest.fixture
def demo_settings(settings: Settings, terrain_files: TerrainFiles) -> Settings:
    """Test settings whose data folder already holds the terrain files (so none are generated)."""
    return settings.model_copy(update={"data_dir": terrain_files.directory.parent})


def _counts(session: Session) -> tuple[int, int, int, int]:
    return (
        session.scalar(select(func.count()).select_from(Unit)) or 0,
        session.scalar(select(func.count()).select_from(Person)) or 0,
        session.scalar(select(func.count()).select_from(User)) or 0,
        session.scalar(select(func.count()).select_from(AuditEntry)) or 0,
    )


def test_load_demo_creates_the_district_once(db_session: Session, demo_settings: Settings) -> None:
    first = load_demo(session=db_session, settings=demo_settings)
    assert (first.units_created, first.people_created, first.users_created) == (
        len(UNITS),
        len(PEOPLE),
        len(DEMO_LOGINS),
    )
    after_first = _counts(db_session)
    assert after_first[:3] == (len(UNITS), len(PEOPLE), len(DEMO_LOGINS))

    second = load_demo(session=db_session, settings=demo_settings)
    assert second.created == 0
    assert (second.units_existing, second.people_existing, second.users_existing) == (
        len(UNITS),
        len(PEOPLE),
        len(DEMO_LOGINS),
    )
    # Nothing new at all, audit rows included.
    assert _counts(db_session) == after_first
    assert second.terrain_files is not None and second.terrain_files.written == ()


def test_every_row_is_audited_as_the_demo_loader(
    db_session: Session, demo_settings: Settings
) -> None:
    load_demo(session=db_session, settings=demo_settings)
    everything = list(db_session.scalars(select(AuditEntry)))
    # Other domains' demo data is audited under the same actor; count the organisation's.
    entries = [e for e in everything if e.object_type.startswith("org_")]
    assert len(entries) == len(UNITS) + len(PEOPLE) + len(DEMO_LOGINS)
    assert {e.actor_username for e in everything} == {DEMO_ACTOR.username} == {"system/demo"}
    assert {e.object_type for e in entries} == {"org_unit", "org_person", "org_user"}
    # Password hashes never reach the log.
    assert all("password_hash" not in (e.after or {}) for e in entries)


def test_organisation_shape(db_session: Session, demo_settings: Settings) -> None:
    load_demo(session=db_session, settings=demo_settings)
    units = {u.code: u for u in db_session.scalars(select(Unit))}
    district = units["GXQ"]
    assert district.kind is UnitKind.district and district.parent_id is None
    offices = {u.name_zh for u in units.values() if u.kind is UnitKind.street_office}
    assert {"梧桐街道办事处", "沟赵办事处", "枫杨街道办事处", "石佛办事处"} <= offices
    departments = {u.name_zh for u in units.values() if u.kind is UnitKind.department}
    assert {"城市管理局", "农业农村局", "环保安监局", "水务局", "应急管理局"} <= departments
    assert all(u.parent_id == district.id for u in units.values() if u is not district)

    people = list(db_session.scalars(select(Person)))
    assert 35 <= len(people) <= 50
    assert len({(p.unit_id, p.name) for p in people}) == len(people)
    # Fictitious numbers only: 138-0000-xxxx, reserved e-mail domain.
    assert all(re.fullmatch(r"138-0000-\d{4}", p.phone or "") for p in people)
    assert all((p.email or "").endswith(".example.com") for p in people)
    assert len({p.phone for p in people}) == len(people)


def test_every_login_authenticates_with_its_role(
    db_session: Session, demo_settings: Settings
) -> None:
    load_demo(session=db_session, settings=demo_settings)
    units = {u.id: u.code for u in db_session.scalars(select(Unit))}
    roles_seen = set()
    for login in DEMO_LOGINS:
        user = org.authenticate(
            session=db_session, username=login.username, password=login.password
        )
        assert user.role is login.role
        assert user.person is not None and user.person.name == login.person
        assert units[user.unit_id or -1] == login.unit
        roles_seen.add(user.role)
    assert roles_seen == set(Role)
    # Every street office and department has its own unit login.
    unit_logins = {
        units[u.unit_id or -1] for u in db_session.scalars(select(User)) if u.role is Role.unit
    }
    assert unit_logins == {u.code for u in UNITS if u.kind is not UnitKind.district}


def test_unit_login_sees_only_its_own_unit(db_session: Session, demo_settings: Settings) -> None:
    load_demo(session=db_session, settings=demo_settings)
    wutong = org.get_user_by_username(session=db_session, username="wutong")
    assert wutong is not None
    visible = org.visible_unit_ids(session=db_session, user=wutong)
    assert visible == {wutong.unit_id}
    district = org.get_user_by_username(session=db_session, username="district")
    assert org.visible_unit_ids(session=db_session, user=district) is None


def test_production_is_refused(db_session: Session, demo_settings: Settings) -> None:
    prod = demo_settings.model_copy(update={"environment": "production"})
    with pytest.raises(ConfigError, match="production"):
        load_demo(session=db_session, settings=prod)
    assert _counts(db_session) == (0, 0, 0, 0)


def test_demo_logins_work_through_the_api(
    client: TestClient, engine: Engine, demo_settings: Settings
) -> None:
    with session_scope(engine) as session:
        load_demo(session=session, settings=demo_settings)
    for login in DEMO_LOGINS:
        response = client.post(
            "/api/v1/auth/token", data={"username": login.username, "password": login.password}
        )
        assert response.status_code == 200, (login.username, response.text)
        assert response.json()["token_type"] == "bearer"
    wrong = client.post(
        "/api/v1/auth/token", data={"username": "district", "password": "nope-nope"}
    )
    assert wrong.status_code == 401
