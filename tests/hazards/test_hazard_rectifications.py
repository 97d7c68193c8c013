"""Rectification state machine: the full loop through the API, every refused transition, audit."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from hazard_helpers import SYSTEM, Ledger
from sqlalchemy import Engine, select

from fangxun.audit.models import AuditEntry
from fangxun.db import session_scope, utcnow
from fangxun.hazards import service
from fangxun.hazards.models import Rectification, RectificationStatus

S = RectificationStatus
#: How to reach each state from "open" (actions made by the system actor).
PATHS: dict[S, list[str]] = {
    S.open: [],
    S.in_progress: ["start"],
    S.submitted: ["start", "submit"],
    S.rejected: ["start", "submit", "reject"],
    S.verified: ["start", "submit", "verify"],
    S.closed: ["start", "submit", "verify", "close"],
}
#: The role that may make each move.
MOVER = {
    "start": "wutong",
    "submit": "wutong",
    "resume": "wutong",
    "verify": "district",
    "reject": "district",
    "close": "district",
}


def _move(client: TestClient, ledger: Ledger, rect: int, action: str, who: str) -> object:
    return client.post(
        f"/api/v1/rectifications/{rect}/transitions",
        json={"action": action, "comment": f"{action} by {who}"},
        headers=ledger.h(client, who),
    )


def _drive(engine: Engine, rect: int, actions: list[str]) -> None:
    with session_scope(engine) as session:
        for action in actions:
            service.transition_rectification(
                session=session, rect_id=rect, action=action, comment=action, actor=SYSTEM
            )


def test_full_loop_with_a_rejection(client: TestClient, ledger: Ledger, engine: Engine) -> None:
    created = client.post(
        "/api/v1/rectifications",
        json={
            "point_id": ledger.wutong_point,
            "finding": "雨水口堵塞",
            "measure": "清淤",
            "deadline": (utcnow() + timedelta(days=3)).isoformat(),
            "responsible_person_id": ledger.wutong_person,
        },
        headers=ledger.h(client, "inspector"),
    )
    assert created.status_code == 201, created.text
    rect = created.json()["id"]
    assert created.json()["status"] == "open"
    steps = [
        ("start", "wutong", "in_progress"),
        ("submit", "wutong", "submitted"),
        ("reject", "district", "rejected"),
        ("resume", "wutong", "in_progress"),
        ("submit", "wutong", "submitted"),
        ("verify", "district", "verified"),
        ("close", "district", "closed"),
    ]
    for action, who, expected in steps:
        response = _move(client, ledger, rect, action, who)
        assert response.status_code == 200, (action, response.text)
        assert response.json()["status"] == expected
    body = client.get(f"/api/v1/rectifications/{rect}", headers=ledger.h(client, "wutong")).json()
    assert body["closed_at"] is not None
    assert body["overdue"] is False
    assert [e["action"] for e in body["events"]] == ["open"] + [s[0] for s in steps]
    assert body["events"][3]["comment"] == "reject by district"
    assert body["events"][3]["from_status"] == "submitted"
    # Every transition is in the audit log with its comment, by whom.
    with session_scope(engine) as session:
        entries = list(
            session.scalars(
                select(AuditEntry)
                .where(
                    AuditEntry.object_type == "hazard_rectification",
                    AuditEntry.object_id == str(rect),
                    AuditEntry.action == "update",
                )
                .order_by(AuditEntry.id)
            )
        )
    assert [e.after["transition"] for e in entries if e.after] == [s[0] for s in steps]
    assert [e.after["comment"] for e in entries if e.after][-1] == "close by district"
    assert [e.actor_username for e in entries] == [ledger.users[s[1]].username for s in steps]
    assert entries[0].before is not None and entries[0].before["status"] == "open"
    # Closed: nothing moves any more.
    for action, who in MOVER.items():
        assert _move(client, ledger, rect, action, who).status_code == 409


@pytest.mark.parametrize("state", list(PATHS))
def test_every_move_not_allowed_from_a_state_is_refused_409(
    client: TestClient, ledger: Ledger, engine: Engine, open_rectification: int, state: S
) -> None:
    _drive(engine, open_rectification, PATHS[state])
    allowed = {name for name, t in service.TRANSITIONS.items() if state in t.sources}
    for action, who in MOVER.items():
        if action in allowed:
            continue
        response = _move(client, ledger, open_rectification, action, who)
        assert response.status_code == 409, (state, action, response.text)
        assert state.value in response.json()["detail"]
    # Unchanged by the refused attempts.
    with session_scope(engine) as session:
        assert session.get(Rectification, open_rectification).status is state  # type: ignore[union-attr]


@pytest.mark.parametrize("action", list(MOVER))
def test_wrong_roles_are_refused_403(
    client: TestClient, ledger: Ledger, engine: Engine, open_rectification: int, action: str
) -> None:
    source = next(iter(service.TRANSITIONS[action].sources))
    _drive(engine, open_rectification, PATHS[source])
    district_move = MOVER[action] == "district"
    wrong = ["inspector", "viewer", "duty"] + (["wutong"] if district_move else ["district"])
    for who in wrong:
        response = _move(client, ledger, open_rectification, action, who)
        assert response.status_code == 403, (action, who, response.text)
    # Another unit does not even see it.
    assert _move(client, ledger, open_rectification, action, "gouzhao").status_code == 404
    # The right role may.
    assert _move(client, ledger, open_rectification, action, MOVER[action]).status_code == 200


def test_comment_is_required_and_unknown_action_refused(
    client: TestClient, ledger: Ledger, open_rectification: int
) -> None:
    url = f"/api/v1/rectifications/{open_rectification}/transitions"
    h = ledger.h(client, "wutong")
    blank = client.post(url, json={"action": "start", "comment": "   "}, headers=h)
    assert blank.status_code == 422
    assert blank.json()["errors"][0]["loc"][-1] == "comment"
    missing = client.post(url, json={"action": "start"}, headers=h)
    assert missing.status_code == 422
    unknown = client.post(url, json={"action": "teleport", "comment": "x"}, headers=h)
    assert unknown.status_code == 422


def test_overdue_flag_and_listing(client: TestClient, ledger: Ledger, engine: Engine) -> None:
    from fangxun.hazards.schemas import RectificationCreate

    with session_scope(engine) as session:
        late = service.create_rectification(
            session=session,
            rect_in=RectificationCreate(
                point_id=ledger.wutong_point,
                finding="护栏缺失",
                measure="补装护栏",
                deadline=utcnow() - timedelta(days=2),
                responsible_person_id=ledger.wutong_person,
            ),
            actor=SYSTEM,
        ).id
        on_time = service.create_rectification(
            session=session,
            rect_in=RectificationCreate(
                point_id=ledger.gouzhao_point,
                finding="警示牌缺失",
                measure="设置警示牌",
                deadline=utcnow() + timedelta(days=2),
                responsible_person_id=ledger.gouzhao_person,
            ),
            actor=SYSTEM,
        ).id
    h = ledger.h(client, "district")
    overdue = client.get("/api/v1/rectifications", params={"overdue": "true"}, headers=h).json()
    assert [r["id"] for r in overdue["items"]] == [late]
    assert overdue["items"][0]["overdue"] is True
    per_unit = client.get(
        "/api/v1/rectifications", params={"overdue": "true", "unit_id": ledger.gouzhao}, headers=h
    ).json()
    assert per_unit["total"] == 0
    assert client.get(f"/api/v1/rectifications/{on_time}", headers=h).json()["overdue"] is False
    point = client.get(f"/api/v1/hazard-points/{ledger.wutong_point}", headers=h).json()
    assert point["open_rectifications"] == 1 and point["overdue_rectifications"] == 1
    # Submitted work is still the unit's until verified; verified work is no longer overdue.
    _drive(engine, late, ["start", "submit"])
    assert client.get(f"/api/v1/rectifications/{late}", headers=h).json()["overdue"] is True
    _drive(engine, late, ["verify"])
    assert client.get(f"/api/v1/rectifications/{late}", headers=h).json()["overdue"] is False
    # The other unit's overdue list is empty and it cannot see 梧桐's item.
    gz = ledger.h(client, "gouzhao")
    assert (
        client.get("/api/v1/rectifications", params={"overdue": "true"}, headers=gz).json()["total"]
        == 0
    )


def test_open_rectification_refused_for_viewer_and_other_units_point(
    client: TestClient, ledger: Ledger
) -> None:
    body = {
        "point_id": ledger.wutong_point,
        "finding": "x",
        "measure": "y",
        "deadline": (utcnow() + timedelta(days=1)).isoformat(),
        "responsible_person_id": ledger.wutong_person,
    }
    assert (
        client.post(
            "/api/v1/rectifications", json=body, headers=ledger.h(client, "viewer")
        ).status_code
        == 403
    )
    other = client.post("/api/v1/rectifications", json=body, headers=ledger.h(client, "gouzhao"))
    assert other.status_code == 422
    assert other.json()["errors"][0]["loc"] == ["body", "point_id"]
    naive = dict(body, deadline="2030-01-01T00:00:00")
    assert (
        client.post(
            "/api/v1/rectifications", json=naive, headers=ledger.h(client, "wutong")
        ).status_code
        == 422
    )
