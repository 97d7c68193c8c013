"""Org API: token login, throttling, jurisdiction (404 for other units), permissions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from fangxun.config import Settings
from fangxun.org.models import Role, UnitKind

MakeUser = Callable[..., Any]
MakeUnit = Callable[..., int]
TOKEN_URL = "/api/v1/auth/token"


def _login(client: TestClient, username: str, password: str) -> Any:
    return client.post(TOKEN_URL, data={"username": username, "password": password})


def test_token_login_me_and_logout(
    client: TestClient, make_user: MakeUser, make_unit: MakeUnit, settings: Settings
) -> None:
    district = make_unit("gxq")
    office = make_unit("wutong", UnitKind.street_office, district)
    user = make_user(Role.unit, office, username="wutong.duty")
    response = _login(client, "Wutong.Duty", user.password)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == settings.token_ttl_s
    headers = {"Authorization": f"Bearer {body['access_token']}"}
    me = client.get("/api/v1/auth/me", headers=headers)
    assert me.status_code == 200
    assert me.json()["username"] == "wutong.duty"
    assert me.json()["role"] == "unit"
    assert me.json()["visible_unit_ids"] == [office]
    assert "password_hash" not in me.json()
    assert client.post("/api/v1/auth/logout", headers=headers).status_code == 204
    assert client.get("/api/v1/auth/me", headers=headers).status_code == 401


def test_wrong_password_is_401(client: TestClient, make_user: MakeUser) -> None:
    user = make_user(Role.viewer)
    response = _login(client, user.username, "not-the-password")
    assert response.status_code == 401
    assert response.json()["detail"] == "wrong username or password"


def test_login_throttling_429_with_retry_after(
    client: TestClient, make_user: MakeUser, settings: Settings
) -> None:
    user = make_user(Role.viewer)
    for _ in range(settings.login_max_attempts):
        assert _login(client, user.username, "not-the-password").status_code == 401
    response = _login(client, user.username, user.password)
    assert response.status_code == 429
    retry = int(response.headers["retry-after"])
    assert 1 <= retry <= settings.login_window_s + 1
    assert response.json()["type"] == "urn:fangxun:problem:throttled"


def test_bad_token_is_401(client: TestClient) -> None:
    response = client.get("/api/v1/auth/me", headers={"Authorization": "Bearer forged"})
    assert response.status_code == 401


@pytest.fixture
def two_offices(make_unit: MakeUnit, make_user: MakeUser, client: TestClient) -> dict[str, Any]:
    district = make_unit("gxq")
    wutong = make_unit("wutong", UnitKind.street_office, district)
    gouzhao = make_unit("gouzhao", UnitKind.street_office, district)
    admin = make_user(Role.admin)
    other_person = client.post(
        "/api/v1/people",
        json={"name": "沟赵联系人", "unit_id": gouzhao, "phone": "0371-12345678"},
        headers=admin.headers(client),
    )
    assert other_person.status_code == 201, other_person.text
    return {
        "district": district,
        "wutong": wutong,
        "gouzhao": gouzhao,
        "admin": admin,
        "wutong_user": make_user(Role.unit, wutong),
        "gouzhao_user": make_user(Role.unit, gouzhao),
        "other_person": other_person.json()["id"],
    }


def test_unit_user_cannot_see_or_change_other_units(
    client: TestClient, two_offices: dict[str, Any]
) -> None:
    h = two_offices["wutong_user"].headers(client)
    person = two_offices["other_person"]
    other_unit = two_offices["gouzhao"]
    other_user = two_offices["gouzhao_user"].id
    checks = [
        client.get(f"/api/v1/people/{person}", headers=h),
        client.patch(f"/api/v1/people/{person}", json={"post": "x"}, headers=h),
        client.delete(f"/api/v1/people/{person}", headers=h),
        client.get(f"/api/v1/units/{other_unit}", headers=h),
        client.patch(f"/api/v1/units/{other_unit}", json={"name_zh": "x"}, headers=h),
        client.delete(f"/api/v1/units/{other_unit}", headers=h),
        client.get(f"/api/v1/users/{other_user}", headers=h),
        client.patch(f"/api/v1/users/{other_user}", json={"is_active": False}, headers=h),
    ]
    missing = client.get("/api/v1/people/999999", headers=h)
    for response in checks:
        assert response.status_code == 404, (response.request.url, response.text)
        # Indistinguishable from an object that does not exist.
        assert response.json()["title"] == missing.json()["title"]
    # Lists only show its own jurisdiction.
    people = client.get("/api/v1/people", headers=h).json()
    assert people["total"] == 0 and people["items"] == []
    units = client.get("/api/v1/units", headers=h).json()
    assert [u["id"] for u in units["items"]] == [two_offices["wutong"]]
    # The admin still sees everything.
    admin_h = two_offices["admin"].headers(client)
    assert client.get("/api/v1/units", headers=admin_h).json()["total"] == 3
    # Unchanged by the attempts.
    assert client.get(f"/api/v1/people/{person}", headers=admin_h).json()["post"] is None


def test_unit_user_manages_own_people(client: TestClient, two_offices: dict[str, Any]) -> None:
    h = two_offices["wutong_user"].headers(client)
    created = client.post(
        "/api/v1/people",
        json={"name": "梧桐联系人", "unit_id": two_offices["wutong"], "email": "a@example.org"},
        headers=h,
    )
    assert created.status_code == 201, created.text
    pid = created.json()["id"]
    assert (
        client.patch(f"/api/v1/people/{pid}", json={"post": "站长"}, headers=h).json()["post"]
        == "站长"
    )
    into_other = client.post(
        "/api/v1/people", json={"name": "x", "unit_id": two_offices["gouzhao"]}, headers=h
    )
    assert into_other.status_code == 422
    assert into_other.json()["errors"][0]["loc"] == ["body", "unit_id"]
    # Units and users are not theirs to manage: 403 on what they can see.
    response = client.patch(
        f"/api/v1/units/{two_offices['wutong']}", json={"name_zh": "x"}, headers=h
    )
    assert response.status_code == 403
    assert client.delete(f"/api/v1/people/{pid}", headers=h).status_code == 204


def test_viewer_is_read_only(
    client: TestClient, two_offices: dict[str, Any], make_user: MakeUser
) -> None:
    viewer = make_user(Role.viewer)
    h = viewer.headers(client)
    assert client.get("/api/v1/people", headers=h).json()["total"] == 1
    assert client.get(f"/api/v1/people/{two_offices['other_person']}", headers=h).status_code == 200
    assert (
        client.post(
            "/api/v1/people", json={"name": "x", "unit_id": two_offices["wutong"]}, headers=h
        ).status_code
        == 403
    )
    assert client.get("/api/v1/audit", headers=h).status_code == 403


def test_district_manages_users_and_units(
    client: TestClient, two_offices: dict[str, Any], make_user: MakeUser
) -> None:
    office = make_user(Role.district)
    h = office.headers(client)
    unit = client.post(
        "/api/v1/units",
        json={
            "code": "fengyang",
            "name_zh": "枫杨办事处",
            "name_en": "Fengyang Street Office",
            "kind": "street_office",
            "parent_id": two_offices["district"],
        },
        headers=h,
    )
    assert unit.status_code == 201, unit.text
    new_user = client.post(
        "/api/v1/users",
        json={
            "username": "fengyang.duty",
            "password": "long-enough-pw",
            "role": "unit",
            "unit_id": unit.json()["id"],
        },
        headers=h,
    )
    assert new_user.status_code == 201, new_user.text
    assert "password" not in new_user.json() and "password_hash" not in new_user.json()
    assert _login(client, "fengyang.duty", "long-enough-pw").status_code == 200
    make_admin = client.post(
        "/api/v1/users",
        json={"username": "root2", "password": "long-enough-pw", "role": "admin"},
        headers=h,
    )
    assert make_admin.status_code == 403
    deactivated = client.patch(
        f"/api/v1/users/{new_user.json()['id']}", json={"is_active": False}, headers=h
    )
    assert deactivated.status_code == 200 and deactivated.json()["is_active"] is False
    assert _login(client, "fengyang.duty", "long-enough-pw").status_code == 401


def test_pagination(client: TestClient, make_unit: MakeUnit, make_user: MakeUser) -> None:
    district = make_unit("gxq")
    for i in range(5):
        make_unit(f"dep{i}", UnitKind.department, district)
    h = make_user(Role.duty).headers(client)
    page = client.get("/api/v1/units", params={"limit": 2, "offset": 2}, headers=h).json()
    assert page["total"] == 6 and page["limit"] == 2 and page["offset"] == 2
    assert [u["code"] for u in page["items"]] == ["dep2", "dep3"]
    too_big = client.get("/api/v1/units", params={"limit": 100000}, headers=h)
    assert too_big.status_code == 422
    assert too_big.json()["errors"][0]["loc"] == ["query", "limit"]
