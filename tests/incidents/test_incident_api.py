"""The incidents API: report → dispatch → … over HTTP, refused steps (409), jurisdiction (404),
the rate-limited public endpoint (429 with Retry-After), the map layer and the figures."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from fangxun.org.models import Role, UnitKind


def _setup(client: TestClient, make_unit: Any, make_user: Any) -> dict[str, Any]:
    d = make_unit("D", UnitKind.district)
    a = make_unit("A", UnitKind.street_office, parent=d)
    b = make_unit("B", UnitKind.street_office, parent=d)
    duty = make_user(Role.duty)
    unit_b = make_user(Role.unit, b)
    h = duty.headers(client)
    office = make_user(Role.district).headers(client)
    team = client.post(
        "/api/v1/supplies/teams", json={"unit_id": a, "name": "梧桐抢险队"}, headers=office
    )
    assert team.status_code == 201, team.text
    return {"a": a, "b": b, "duty": h, "unit_b": unit_b.headers(client), "team": team.json()["id"]}


def test_report_dispatch_and_close_over_http(
    client: TestClient, make_unit: Any, make_user: Any
) -> None:
    w = _setup(client, make_unit, make_user)
    h = w["duty"]
    created = client.post(
        "/api/v1/incidents",
        json={
            "unit_id": w["a"],
            "kind": "underpass_flooding",
            "severity": "major",
            "title": "科学大道下穿积水",
            "lon": 113.55,
            "lat": 34.81,
        },
        headers=h,
    )
    assert created.status_code == 201, created.text
    iid = created.json()["id"]
    refused = client.post(
        f"/api/v1/incidents/{iid}/transitions", json={"to_status": "on_site"}, headers=h
    )
    assert refused.status_code == 409 and "cannot go to on_site" in refused.json()["detail"]
    missing_team = client.post(
        f"/api/v1/incidents/{iid}/transitions", json={"to_status": "dispatched"}, headers=h
    )
    assert missing_team.status_code == 422
    assert missing_team.json()["errors"][0]["loc"] == ["body", "team_id"]
    for body in (
        {"to_status": "dispatched", "team_id": w["team"]},
        {"to_status": "on_site"},
        {"to_status": "controlled", "note": "已抽排"},
    ):
        step = client.post(f"/api/v1/incidents/{iid}/transitions", json=body, headers=h)
        assert step.status_code == 200, step.text
    data = step.json()
    assert data["status"] == "controlled" and len(data["events"]) == 4
    assert data["dispatch_s"] is not None and data["arrival_s"] >= data["dispatch_s"]
    layer = client.get("/api/v1/incidents/geojson", headers=h).json()
    assert layer["features"][0]["geometry"]["coordinates"] == [113.55, 34.81]
    stats = client.get("/api/v1/incidents/stats", headers=h).json()
    assert stats["incidents"] == 1 and stats["on_site"] == 1
    # Another street office's user sees nothing of it.
    assert client.get(f"/api/v1/incidents/{iid}", headers=w["unit_b"]).status_code == 404
    assert client.get("/api/v1/incidents", headers=w["unit_b"]).json() == []
    blocked = client.post(
        f"/api/v1/incidents/{iid}/transitions", json={"to_status": "closed"}, headers=w["unit_b"]
    )
    assert blocked.status_code == 404


def test_public_endpoint_is_rate_limited(client: TestClient, make_unit: Any) -> None:
    make_unit("D", UnitKind.district)
    body = {
        "kind": "ponding",
        "title": "路口积水",
        "location_text": "长椿路与科学大道",
        "reporter_phone": "13900000000",
    }
    limit = client.app.state.settings.public_report_max  # type: ignore[attr-defined]
    for _ in range(limit):
        ok = client.post("/api/v1/public/incidents", json=body)
        assert ok.status_code == 201, ok.text
        assert set(ok.json()) == {"reference", "status"}
    throttled = client.post("/api/v1/public/incidents", json=body)
    assert throttled.status_code == 429 and int(throttled.headers["Retry-After"]) > 0
    bad = client.post("/api/v1/public/incidents", json={**body, "reporter_phone": "call me"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["loc"] == ["body", "reporter_phone"]


def test_if_match_refuses_a_stale_transition(
    client: TestClient, make_unit: Any, make_user: Any
) -> None:
    """Issue 20, item 13: the incident's ETag is its version; a stale If-Match gets 412."""
    w = _setup(client, make_unit, make_user)
    h = w["duty"]
    iid = client.post(
        "/api/v1/incidents",
        json={"unit_id": w["a"], "kind": "underpass_flooding", "severity": "major", "title": "t"},
        headers=h,
    ).json()["id"]
    etag = client.get(f"/api/v1/incidents/{iid}", headers=h).headers["etag"]
    assert etag == '"1"'
    moved = client.post(
        f"/api/v1/incidents/{iid}/transitions",
        json={"to_status": "dispatched", "team_id": w["team"]},
        headers={**h, "If-Match": etag},
    )
    assert moved.status_code == 200 and moved.headers["etag"] == '"2"'
    stale = client.post(
        f"/api/v1/incidents/{iid}/transitions",
        json={"to_status": "on_site"},
        headers={**h, "If-Match": etag},
    )
    assert stale.status_code == 412
    assert stale.json()["current_version"] == 2
    assert "status" in {c["field"] for c in stale.json()["changes"]}
