"""Organisation services: units, people, users, permissions and jurisdiction."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from factories import make_unit
from fangxun.audit.models import AuditAction, AuditEntry
from fangxun.errors import ConflictError, NotFoundError, PermissionDeniedError, ValidationFailed
from fangxun.org import service
from fangxun.org.jurisdiction import (
    descendant_unit_ids,
    get_in_jurisdiction,
    scope_query,
    visible_unit_ids,
)
from fangxun.org.models import Person, Role, Unit, UnitKind, User
from fangxun.org.schemas import (
    PersonCreate,
    PersonUpdate,
    UnitUpdate,
    UserCreate,
    UserUpdate,
)
from fangxun.org.security import verify_password

PW = "correct-horse-battery"


def _unit(session: Session, code: str, kind: UnitKind, parent: int | None = None) -> Unit:
    return make_unit(session, code, kind, parent, actor=None)


def _user(
    session: Session, name: str, role: Role, unit: int | None = None, *, wide: bool = False
) -> User:
    return service.create_user(
        session=session,
        user_in=UserCreate(username=name, password=PW, role=role, unit_id=unit, district_wide=wide),
        actor=None,
    )


@pytest.fixture
def org(db_session: Session) -> dict[str, int]:
    """District → street offices wutong (with a community below) and goudzhao; one department."""
    s = db_session
    district = _unit(s, "gxq", UnitKind.district).id
    wutong = _unit(s, "wutong", UnitKind.street_office, district).id
    community = _unit(s, "wutong-1", UnitKind.department, wutong).id
    gouzhao = _unit(s, "gouzhao", UnitKind.street_office, district).id
    water = _unit(s, "water", UnitKind.department, district).id
    return {
        "district": district,
        "wutong": wutong,
        "community": community,
        "gouzhao": gouzhao,
        "water": water,
    }


def test_descendants_and_visibility(db_session: Session, org: dict[str, int]) -> None:
    assert descendant_unit_ids(session=db_session, unit_id=org["wutong"]) == {
        org["wutong"],
        org["community"],
    }
    unit_user = _user(db_session, "wtuser", Role.unit, org["wutong"])
    assert visible_unit_ids(session=db_session, user=unit_user) == {org["wutong"], org["community"]}
    for role in (Role.admin, Role.district, Role.duty, Role.viewer):
        assert (
            visible_unit_ids(session=db_session, user=_user(db_session, role.value, role)) is None
        )
    assert visible_unit_ids(session=db_session, user=None) is None
    # An inspector works in its street office's area, unless marked district-wide.
    inspector = _user(db_session, "insp", Role.inspector, org["wutong"])
    assert visible_unit_ids(session=db_session, user=inspector) == {
        org["wutong"],
        org["community"],
    }
    wide = _user(db_session, "insp-wide", Role.inspector, org["wutong"], wide=True)
    assert visible_unit_ids(session=db_session, user=wide) is None
    with pytest.raises(ValidationFailed, match="inspector needs a unit"):
        _user(db_session, "insp-nowhere", Role.inspector)
    with pytest.raises(ValidationFailed, match="only an inspector"):
        _user(db_session, "duty-wide", Role.duty, wide=True)


def test_scope_query_limits_rows(db_session: Session, org: dict[str, int]) -> None:
    for code in ("wutong", "gouzhao", "community"):
        service.create_person(
            session=db_session,
            person_in=PersonCreate(name=f"p-{code}", unit_id=org[code]),
            actor=None,
        )
    unit_user = _user(db_session, "wtuser", Role.unit, org["wutong"])
    names = set(
        db_session.scalars(
            scope_query(select(Person.name), Person.unit_id, session=db_session, user=unit_user)
        )
    )
    assert names == {"p-wutong", "p-community"}
    orphan = User(username="lost", password_hash="x", role=Role.unit, unit_id=None)
    assert visible_unit_ids(session=db_session, user=orphan) == set()
    stmt = scope_query(select(Person.name), Person.unit_id, session=db_session, user=orphan)
    assert list(db_session.scalars(stmt)) == []


def test_other_units_objects_are_not_found(db_session: Session, org: dict[str, int]) -> None:
    other = service.create_person(
        session=db_session, person_in=PersonCreate(name="other", unit_id=org["gouzhao"]), actor=None
    )
    unit_user = _user(db_session, "wtuser", Role.unit, org["wutong"])
    with pytest.raises(NotFoundError) as seen:
        service.get_person(session=db_session, person_id=other.id, actor=unit_user)
    with pytest.raises(NotFoundError) as missing:
        service.get_person(session=db_session, person_id=10**6, actor=unit_user)
    # Same wording whether it exists or not: existence does not leak.
    assert seen.value.detail.replace(str(other.id), "N") == missing.value.detail.replace(
        str(10**6), "N"
    )
    with pytest.raises(NotFoundError):
        service.update_person(
            session=db_session,
            person_id=other.id,
            person_in=PersonUpdate(post="x"),
            actor=unit_user,
        )
    with pytest.raises(NotFoundError):
        service.delete_person(session=db_session, person_id=other.id, actor=unit_user)
    with pytest.raises(NotFoundError):
        service.get_unit(session=db_session, unit_id=org["gouzhao"], actor=unit_user)
    with pytest.raises(NotFoundError):
        get_in_jurisdiction(session=db_session, user=unit_user, model=Person, obj_id=other.id)


def test_unit_user_manages_its_own_people_only(db_session: Session, org: dict[str, int]) -> None:
    unit_user = _user(db_session, "wtuser", Role.unit, org["wutong"])
    mine = service.create_person(
        session=db_session,
        person_in=PersonCreate(name="张三", phone="+86 371-1234567", unit_id=org["community"]),
        actor=unit_user,
    )
    service.update_person(
        session=db_session, person_id=mine.id, person_in=PersonUpdate(post="队长"), actor=unit_user
    )
    assert mine.post == "队长"
    # Putting someone into another unit is refused as if that unit did not exist.
    with pytest.raises(ValidationFailed) as info:
        service.create_person(
            session=db_session,
            person_in=PersonCreate(name="李四", unit_id=org["gouzhao"]),
            actor=unit_user,
        )
    assert info.value.problems[0].loc == ("body", "unit_id")
    with pytest.raises(ValidationFailed):
        service.update_person(
            session=db_session,
            person_id=mine.id,
            person_in=PersonUpdate(unit_id=org["gouzhao"]),
            actor=unit_user,
        )
    # But a unit user cannot touch units or users.
    with pytest.raises(PermissionDeniedError):
        service.update_unit(
            session=db_session,
            unit_id=org["wutong"],
            unit_in=UnitUpdate(name_zh="x"),
            actor=unit_user,
        )
    with pytest.raises(PermissionDeniedError):
        service.create_user(
            session=db_session,
            user_in=UserCreate(username="sneaky", password=PW, role=Role.viewer),
            actor=unit_user,
        )


@pytest.mark.parametrize("role", [Role.viewer, Role.duty, Role.inspector])
def test_read_only_roles(db_session: Session, org: dict[str, int], role: Role) -> None:
    reader = _user(db_session, "reader", role, wide=role is Role.inspector)
    units, total = service.list_units(session=db_session, actor=reader)
    assert total == 5 and len(units) == 5
    with pytest.raises(PermissionDeniedError):
        service.create_person(
            session=db_session, person_in=PersonCreate(name="x", unit_id=org["water"]), actor=reader
        )
    with pytest.raises(PermissionDeniedError):
        _ = make_unit(db_session, "new", UnitKind.department, 1, name_zh="新", actor=reader)


def test_district_manages_but_cannot_make_admins(db_session: Session, org: dict[str, int]) -> None:
    office = _user(db_session, "fxb", Role.district)
    admin = _user(db_session, "root", Role.admin)
    unit = make_unit(
        db_session, "fengyang", "street_office", org["district"], name_zh="枫杨办事处", actor=office
    )
    user = service.create_user(
        session=db_session,
        user_in=UserCreate(username="FY.Duty", password=PW, role=Role.unit, unit_id=unit.id),
        actor=office,
    )
    assert user.username == "fy.duty"
    with pytest.raises(PermissionDeniedError):
        service.create_user(
            session=db_session,
            user_in=UserCreate(username="boss", password=PW, role=Role.admin),
            actor=office,
        )
    with pytest.raises(PermissionDeniedError):
        service.update_user(
            session=db_session, user_id=user.id, user_in=UserUpdate(role=Role.admin), actor=office
        )
    with pytest.raises(PermissionDeniedError):
        service.update_user(
            session=db_session, user_id=admin.id, user_in=UserUpdate(is_active=False), actor=office
        )
    service.create_user(
        session=db_session,
        user_in=UserCreate(username="boss", password=PW, role=Role.admin),
        actor=admin,
    )


def test_unit_shape_rules(db_session: Session, org: dict[str, int]) -> None:
    with pytest.raises(ValidationFailed, match="needs a parent"):
        _unit(db_session, "orphan", UnitKind.street_office)
    with pytest.raises(ValidationFailed, match="no parent"):
        _unit(db_session, "d2", UnitKind.district, org["district"])
    with pytest.raises(ConflictError):
        _unit(db_session, "wutong", UnitKind.street_office, org["district"])
    with pytest.raises(ValidationFailed, match="below itself"):
        service.update_unit(
            session=db_session,
            unit_id=org["wutong"],
            unit_in=UnitUpdate(parent_id=org["community"]),
            actor=None,
        )
    with pytest.raises(ConflictError, match="sub-units"):
        service.delete_unit(session=db_session, unit_id=org["wutong"], actor=None)
    service.delete_unit(session=db_session, unit_id=org["community"], actor=None)
    with pytest.raises(NotFoundError):
        service.get_unit(session=db_session, unit_id=org["community"], actor=None)


def test_user_rules(db_session: Session, org: dict[str, int]) -> None:
    with pytest.raises(ValidationFailed, match="needs a unit"):
        _user(db_session, "nounit", Role.unit)
    _user(db_session, "dup", Role.viewer)
    with pytest.raises(ConflictError):
        _user(db_session, "DUP", Role.viewer)
    with pytest.raises(ValidationFailed, match="differ"):
        service.create_user(
            session=db_session,
            user_in=UserCreate(username="samepass", password="samepass", role=Role.viewer),
            actor=None,
        )
    user = _user(db_session, "hashme", Role.viewer)
    assert user.password_hash != PW and user.password_hash.startswith("$argon2id$")
    assert verify_password(user.password_hash, PW)
    admin = _user(db_session, "root", Role.admin)
    with pytest.raises(ValidationFailed, match="own account"):
        service.update_user(
            session=db_session, user_id=admin.id, user_in=UserUpdate(is_active=False), actor=admin
        )
    with pytest.raises(ConflictError, match="own account"):
        service.delete_user(session=db_session, user_id=admin.id, actor=admin)


def test_every_change_is_audited(db_session: Session, org: dict[str, int]) -> None:
    actor = _user(db_session, "fxb", Role.district)
    person = service.create_person(
        session=db_session, person_in=PersonCreate(name="王五", unit_id=org["water"]), actor=actor
    )
    service.update_person(
        session=db_session, person_id=person.id, person_in=PersonUpdate(post="科长"), actor=actor
    )
    # An update that changes nothing writes nothing.
    service.update_person(
        session=db_session, person_id=person.id, person_in=PersonUpdate(post="科长"), actor=actor
    )
    service.delete_person(session=db_session, person_id=person.id, actor=actor)
    entries = list(
        db_session.scalars(
            select(AuditEntry)
            .where(AuditEntry.object_type == "org_person", AuditEntry.object_id == str(person.id))
            .order_by(AuditEntry.id)
        )
    )
    assert [e.action for e in entries] == [
        AuditAction.create,
        AuditAction.update,
        AuditAction.delete,
    ]
    assert all(e.actor_id == actor.id and e.actor_username == "fxb" for e in entries)
    create, update, delete = entries
    assert create.before is None and create.after is not None and create.after["name"] == "王五"
    assert update.before is not None and update.before["post"] is None
    assert update.after is not None and update.after["post"] == "科长"
    assert delete.after is None and delete.before is not None and delete.before["post"] == "科长"
    assert all(e.at.tzinfo is not None for e in entries)


def test_password_hash_never_reaches_the_audit_log(db_session: Session) -> None:
    user = _user(db_session, "secretive", Role.viewer)
    service.update_user(
        session=db_session, user_id=user.id, user_in=UserUpdate(password="another-pass"), actor=None
    )
    entries = list(
        db_session.scalars(select(AuditEntry).where(AuditEntry.object_type == "org_user"))
    )
    assert len(entries) == 2
    for entry in entries:
        for data in (entry.before, entry.after):
            assert data is None or "password_hash" not in data
    assert entries[1].after is not None and entries[1].after["password_changed"] is True
    assert entries[1].actor_username == "system"
