"""The briefings API: generate, record a decision, download the PDF."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from fangxun.org.models import Role, UnitKind


def test_briefing_over_http(client: TestClient, make_unit: Any, make_user: Any) -> None:
    d = make_unit("D", UnitKind.district)
    office = make_user(Role.district).headers(client)
    owner = client.post(
        "/api/v1/people", json={"name": "张主任", "unit_id": d}, headers=office
    ).json()["id"]
    made = client.post("/api/v1/briefings", json={}, headers=office)
    assert made.status_code == 201, made.text
    briefing = made.json()
    assert briefing["content"]["sections"]["incidents"]["data"]["open"] == 0
    task = client.post(
        f"/api/v1/briefings/{briefing['id']}/tasks",
        json={
            "decision": "启动IV级应急响应",
            "owner_person_id": owner,
            "deadline": "2099-01-01T00:00:00+08:00",
        },
        headers=office,
    )
    assert task.status_code == 201, task.text
    pdf = client.get(f"/api/v1/briefings/{briefing['id']}/pdf", headers=office)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-")
    viewer = make_user(Role.viewer).headers(client)
    assert client.post("/api/v1/briefings", json={}, headers=viewer).status_code == 403
