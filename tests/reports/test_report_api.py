"""The reports API: detect, list, an event with its points, confirm a cause, the review, the
downloads; roles and jurisdiction (SQLite and PostgreSQL)."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from report_helpers import build
from sqlalchemy import Engine

from fangxun.db import session_scope
from fangxun.org.models import Role

API = "/api/v1/reports"


def test_reports_api(client: TestClient, engine: Engine, make_user: Any, make_unit: Any) -> None:
    with session_scope(engine) as session:
        crafted = build(session)
    district = make_user(Role.district, crafted.district)
    viewer = make_user(Role.viewer, crafted.district)
    elsewhere = make_user(Role.unit, make_unit("ELSE", "street_office", crafted.district))
    h = district.headers(client)
    assert (
        client.post(f"{API}/events/detect", json={}, headers=viewer.headers(client)).status_code
        == 403
    )
    bad = client.post(f"{API}/events/detect", json={"start": "2026-07-09T00:00"}, headers=h)
    assert bad.status_code == 422
    made = client.post(f"{API}/events/detect", json={"start": "2026-07-09T00:00+08:00"}, headers=h)
    assert made.status_code == 200, made.text
    (event,) = made.json()
    assert event["total_mm"] == 84.0 and event["grade"] == "heavy_rainstorm"
    assert [e["id"] for e in client.get(f"{API}/events", headers=h).json()] == [event["id"]]
    detail = client.get(f"{API}/events/{event['id']}", headers=h).json()
    first = detail["points"][0]
    assert first["code"] == "HP-PD1" and first["max_depth_cm"] == 50.0
    assert first["above_ponding_s"] == 2.8 * 3600
    assert first["suggestions"][0]["cause"] == "pump_failure"
    # Another street office sees the event but none of these points.
    other = client.get(f"{API}/events/{event['id']}", headers=elsewhere.headers(client)).json()
    assert other["points"] == []
    assert client.get(f"{API}/events/999", headers=h).status_code == 404
    url = f"{API}/events/{event['id']}/causes"
    body = {"point_id": crafted.points["PD1"], "cause": "pump_failure", "evidence": "停电"}
    assert client.post(url, json=body, headers=viewer.headers(client)).status_code == 403
    assert client.post(url, json=body | {"cause": "x"}, headers=h).status_code == 422
    confirmed = client.post(url, json=body, headers=h)
    assert confirmed.status_code == 200 and confirmed.json()["confirmed_by"] == district.username
    review = client.post(f"{API}/events/{event['id']}/rectifications", headers=h).json()
    assert len(review["created"]) == 1 and review["created"][0]["rectification_id"]
    xlsx = client.get(f"{API}/events/{event['id']}/report.xlsx", headers=h)
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"
