"""The audit log through the API: rows for changes, filters, paging, read-only, who may read it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from fangxun.audit.models import AuditAction, AuditEntry
from fangxun.audit.service import SystemActor, list_entries, record_change, snapshot
from fangxun.org.models import Role, Unit, UnitKind

MakeUser = Callable[..., Any]


def test_api_changes_leave_audit_rows(client: TestClient, make_user: MakeUser) -> None:
    admin = make_user(Role.admin, username="root")
    h = admin.headers(client)
    unit = client.post(
        "/api/v1/units", json={"code": "gxq", "name_zh": "高新区", "kind": "district"}, headers=h
    ).json()
    client.patch(f"/api/v1/units/{unit['id']}", json={"name_en": "High-tech Zone"}, headers=h)
    person = client.post(
        "/api/v1/people", json={"name": "赵六", "unit_id": unit["id"]}, headers=h
    ).json()
    client.delete(f"/api/v1/people/{person['id']}", headers=h)

    log = client.get(
        "/api/v1/audit", params={"object_type": "org_unit", "object_id": unit["id"]}, headers=h
    )
    assert log.status_code == 200, log.text
    entries = log.json()["items"]
    assert [e["action"] for e in entries] == ["update", "create"]  # newest first
    assert entries[0]["before"]["name_en"] is None
    assert entries[0]["after"]["name_en"] == "High-tech Zone"
    assert entries[0]["actor_username"] == "root" and entries[0]["actor_id"] == admin.id
    assert entries[0]["at"].endswith(("Z", "+00:00"))

    people_log = client.get(
        "/api/v1/audit", params={"object_type": "org_person", "action": "delete"}, headers=h
    ).json()
    assert people_log["total"] == 1
    assert people_log["items"][0]["before"]["name"] == "赵六"
    assert people_log["items"][0]["after"] is None

    by_actor = client.get("/api/v1/audit", params={"actor_id": admin.id}, headers=h).json()
    assert by_actor["total"] == 4
    page = client.get("/api/v1/audit", params={"limit": 1, "offset": 1}, headers=h).json()
    assert len(page["items"]) == 1 and page["offset"] == 1


def test_failed_change_leaves_no_audit_row(client: TestClient, make_user: MakeUser) -> None:
    h = make_user(Role.admin).headers(client)
    bad = client.post(
        "/api/v1/units", json={"code": "o", "name_zh": "孤", "kind": "department"}, headers=h
    )
    assert bad.status_code == 422
    assert (
        client.get("/api/v1/audit", params={"object_type": "org_unit"}, headers=h).json()["total"]
        == 0
    )


def test_who_may_read_the_log(client: TestClient, make_user: MakeUser, make_unit: Any) -> None:
    unit = make_unit("gxq")
    assert (
        client.get("/api/v1/audit", headers=make_user(Role.district).headers(client)).status_code
        == 200
    )
    for role, unit_id in (
        (Role.duty, None),
        (Role.viewer, None),
        (Role.inspector, unit),
        (Role.unit, unit),
    ):
        response = client.get("/api/v1/audit", headers=make_user(role, unit_id).headers(client))
        assert response.status_code == 403, role
    assert client.get("/api/v1/audit").status_code == 401


def test_no_write_endpoints(client: TestClient, make_user: MakeUser) -> None:
    h = make_user(Role.admin).headers(client)
    for method in ("post", "put", "patch", "delete"):
        response = client.request(method.upper(), "/api/v1/audit", headers=h, json={})
        assert response.status_code == 405, method


def test_bad_filters(client: TestClient, make_user: MakeUser) -> None:
    h = make_user(Role.admin).headers(client)
    naive = client.get("/api/v1/audit", params={"since": "2026-07-20T16:00:00"}, headers=h)
    assert naive.status_code == 422
    assert naive.json()["errors"][0]["loc"] == ["query", "since"]
    reversed_range = client.get(
        "/api/v1/audit",
        params={"since": "2026-07-21T00:00:00+08:00", "until": "2026-07-20T00:00:00+08:00"},
        headers=h,
    )
    assert reversed_range.status_code == 422
    assert client.get("/api/v1/audit", params={"action": "erase"}, headers=h).status_code == 422


def test_record_change_service(db_session: Session) -> None:
    unit = Unit(code="x1", name_zh="x", kind=UnitKind.district)
    db_session.add(unit)
    actor = SystemActor(username="cli:ops")
    entry = record_change(
        session=db_session,
        actor=actor,
        action="create",
        obj=unit,
        before=None,
        after=snapshot(unit),
    )
    assert entry is not None and entry.object_id == str(unit.id)
    assert entry.after is not None and entry.after["kind"] == "district"
    same = record_change(
        session=db_session,
        actor=actor,
        action=AuditAction.update,
        obj=unit,
        before=snapshot(unit),
        after=snapshot(unit),
    )
    assert same is None
    db_session.flush()
    items, total = list_entries(session=db_session, actor_username="cli:ops")
    assert total == 1 and isinstance(items[0], AuditEntry) and items[0].actor_id is None
