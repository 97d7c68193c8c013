"""The response API (``/api/v1/response/...``): decisions by the district role only, the status,
task confirmation within a department's jurisdiction, plan CRUD and import; errors as problems."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient
from response_helpers import build_org
from sqlalchemy import Engine

from fangxun.db import session_scope

PASSWORD = "correct-horse-battery"


def _headers(client: TestClient, username: str) -> dict[str, str]:
    response = client.post("/api/v1/auth/token", data={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def test_levels_tasks_and_plans_over_the_api(client: TestClient, engine: Engine) -> None:
    with session_scope(engine) as session:
        org = build_org(session)
        ids = {"district": org.district, "cgj": org.cgj, "swj": org.swj, "plan": org.plan}
    district = _headers(client, "district1")
    viewer = _headers(client, "viewer1")
    cgj = _headers(client, "cgj1")

    status = client.get("/api/v1/response/status", headers=viewer)
    assert status.status_code == 200 and status.json()["activation"] is None

    refused = client.post(
        "/api/v1/response/level", json={"level": "III", "reason": "x"}, headers=viewer
    )
    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("application/problem+json")
    bad = client.post(
        "/api/v1/response/level", json={"level": "V", "reason": "x"}, headers=district
    )
    assert bad.status_code == 422
    started = client.post(
        "/api/v1/response/level", json={"level": "III", "reason": "会商决定"}, headers=district
    )
    assert started.status_code == 201, started.text
    body = started.json()
    assert (body["change_type"], body["to_level"], body["actor"]) == ("start", "III", "district1")

    status = client.get("/api/v1/response/status", headers=cgj).json()
    assert status["activation"]["level"] == "III"
    assert status["activation"]["checklist_levels"] == ["IV", "III"]
    assert status["task_counts"]["pending"] == 2  # the department's own tasks at IV and III

    own = client.get("/api/v1/response/tasks", headers=cgj).json()
    assert {t["unit_id"] for t in own} == {ids["cgj"]}
    everyone = client.get("/api/v1/response/tasks", headers=district).json()
    other = next(t for t in everyone if t["unit_id"] == ids["swj"])
    assert client.get(f"/api/v1/response/tasks/{other['id']}", headers=cgj).status_code == 404
    patched = client.patch(
        f"/api/v1/response/tasks/{own[0]['id']}",
        json={"status": "confirmed", "note": "已调度"},
        headers=cgj,
    )
    assert patched.status_code == 200
    assert (patched.json()["confirmed_by"], patched.json()["status"]) == ("cgj1", "confirmed")
    again = client.patch(
        f"/api/v1/response/tasks/{own[0]['id']}", json={"status": "confirmed"}, headers=cgj
    )
    assert again.status_code == 409

    down = client.post("/api/v1/response/stand-down", json={"reason": "雨停"}, headers=district)
    assert down.status_code == 201 and down.json()["change_type"] == "stand_down"
    history = client.get("/api/v1/response/changes", headers=viewer).json()
    assert [c["change_type"] for c in history] == ["stand_down", "start"]

    plans = client.get("/api/v1/response/plans", headers=viewer).json()
    assert [p["id"] for p in plans] == [ids["plan"]]
    assert plans[0]["actions"][0]["department_name"] == "CGJ单位"
    created = client.post(
        "/api/v1/response/plans",
        json={
            "unit_id": ids["district"],
            "name": "新预案",
            "actions": [{"level": "IV", "department_id": ids["cgj"], "action": "巡查"}],
        },
        headers=district,
    )
    assert created.status_code == 201, created.text
    plan_id = created.json()["id"]
    updated = client.patch(
        f"/api/v1/response/plans/{plan_id}", json={"is_active": True}, headers=district
    )
    assert updated.status_code == 200 and updated.json()["is_active"] is True
    old = client.get(f"/api/v1/response/plans/{ids['plan']}", headers=district).json()
    assert old["is_active"] is False  # one plan in force per unit
    # The old plan was used by an activation: it is kept for the record.
    used = client.delete(f"/api/v1/response/plans/{ids['plan']}", headers=district)
    assert used.status_code == 409
    assert client.delete(f"/api/v1/response/plans/{plan_id}", headers=district).status_code == 204

    doc = {"name": "导入", "actions": [{"level": "II", "department": "SWJ", "action": "开泵"}]}
    imported = client.post(
        "/api/v1/response/plans/import",
        data={"unit_id": str(ids["district"])},
        files={
            "file": ("plan.json", json.dumps(doc, ensure_ascii=False).encode(), "application/json")
        },
        headers=district,
    )
    assert imported.status_code == 201, imported.text
    assert imported.json()["actions"][0]["level"] == "II"
    broken = client.post(
        "/api/v1/response/plans/import",
        data={"unit_id": str(ids["district"])},
        files={"file": ("plan.yaml", b"name: x\nactions:\n  - level: VI\n", "text/yaml")},
        headers=district,
    )
    assert broken.status_code == 422 and "VI" in broken.text
