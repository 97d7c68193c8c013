"""The response board in the web shell: it renders the level and the checklist by department; a
department user sees only its own tasks and confirms one with HTMX (the board comes back, with who
confirmed); a decision through the form raises the level."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from response_helpers import build_org, rule_settings, seed_running_level

from fangxun.db import make_engine, session_scope
from fangxun.response import service
from web_harness import csrf_of


def test_board_renders_and_a_department_confirms_with_htmx(
    web_client: TestClient, web_app: FastAPI, web_db: str, login: Any
) -> None:
    _org, tasks = seed_running_level(web_db)
    assert login(web_client).status_code == 303
    page = web_client.get("/response")
    assert page.status_code == 200
    assert 'data-testid="board"' in page.text and "Ⅳ级应急响应" in page.text
    assert "调度排水车辆到低洼点" in page.text and "泵站预排降低水位" in page.text
    assert 'data-testid="decide"' in page.text  # the district decides

    with TestClient(web_app, follow_redirects=False) as cgj:
        assert login(cgj, "cgj1", "correct-horse-battery").status_code == 303
        own = cgj.get("/response")
        assert own.status_code == 200
        board = cgj.get("/response/board")
        assert board.status_code == 200 and "<html" not in board.text
        assert "调度排水车辆到低洼点" in board.text
        assert "泵站预排降低水位" not in board.text  # another department's task
        assert "泵站预排降低水位" in own.text  # yet the whole plan in force is readable
        assert 'data-testid="decide"' not in own.text
        token = csrf_of(own)
        task_id = tasks["调度排水车辆到低洼点"]
        swapped = cgj.post(
            f"/response/tasks/{task_id}/status",
            data={"status": "confirmed", "note": "3 辆排水车已出发"},
            headers={"HX-Request": "true", "X-CSRF-Token": token},
        )
        assert swapped.status_code == 200
        assert swapped.text.lstrip().startswith(("{#", '<div id="board"'))
        assert "<html" not in swapped.text
        assert "确认人" in swapped.text and "cgj1" in swapped.text
        assert "3 辆排水车已出发" in swapped.text
        # Another department's task: refused, said on the board.
        other = cgj.post(
            f"/response/tasks/{tasks['泵站预排降低水位']}/status",
            data={"status": "confirmed"},
            headers={"HX-Request": "true", "X-CSRF-Token": token},
        )
        assert other.status_code == 200 and 'data-testid="board-error"' in other.text
        assert "not found" in other.text
        # Without the CSRF token nothing changes.
        no_token = cgj.post(f"/response/tasks/{task_id}/status", data={"status": "done"})
        assert no_token.status_code == 403

    token = csrf_of(page)
    missing_reason = web_client.post(
        "/response/level", data={"csrf_token": token, "level": "II", "reason": " "}
    )
    assert missing_reason.status_code == 422 and 'data-testid="error"' in missing_reason.text
    raised = web_client.post(
        "/response/level", data={"csrf_token": token, "level": "II", "reason": "会商决定"}
    )
    assert raised.status_code == 303
    after = web_client.get("/response")
    assert "Ⅱ级应急响应" in after.text and "全部泵站满负荷运行" in after.text
    english = web_client.get("/response?lang=en")
    assert "Level II response" in english.text and "Action checklist" in english.text


def test_proposal_is_confirmed_on_the_page(web_client: TestClient, web_db: str, login: Any) -> None:
    engine = make_engine(web_db)
    try:
        with session_scope(engine) as session:
            build_org(session)
            proposal = service.apply_warning_signal(
                session=session,
                warning_kind="rainstorm",
                colour="orange",
                unit_id=None,
                source_ref="warning-change:7",
                at=datetime(2026, 7, 20, 10, 20, tzinfo=UTC),
                settings=rule_settings("propose"),
            )
            assert proposal is not None
            proposal_id = proposal.id
    finally:
        engine.dispose()
    assert login(web_client).status_code == 303
    page = web_client.get("/response")
    assert 'data-testid="proposals"' in page.text and "橙色暴雨预警 → III 级响应" in page.text
    confirmed = web_client.post(
        f"/response/proposals/{proposal_id}",
        data={"csrf_token": csrf_of(page), "decision": "confirm"},
    )
    assert confirmed.status_code == 303
    after = web_client.get("/response")
    assert "Ⅲ级应急响应" in after.text and 'data-testid="proposals"' not in after.text


def test_district_imports_a_plan_on_the_page(
    web_client: TestClient, web_db: str, login: Any
) -> None:
    engine = make_engine(web_db)
    try:
        with session_scope(engine) as session:
            build_org(session)
    finally:
        engine.dispose()
    assert login(web_client).status_code == 303
    page = web_client.get("/response")
    assert 'data-testid="plan-import"' in page.text
    token = csrf_of(page)
    doc = {
        "name": "页面导入预案",
        "actions": [{"level": "IV", "department": "SWJ", "action": "开泵预排"}],
    }
    bad = web_client.post(
        "/response/plans/import",
        data={"csrf_token": token, "activate": "true"},
        files={"file": ("plan.json", b"[1, 2]", "application/json")},
    )
    assert bad.status_code == 422 and "actions" in bad.text
    done = web_client.post(
        "/response/plans/import",
        data={"csrf_token": token, "activate": "true"},
        files={
            "file": ("plan.json", json.dumps(doc, ensure_ascii=False).encode(), "application/json")
        },
    )
    assert done.status_code == 303
    after = web_client.get("/response")
    assert "页面导入预案" in after.text and "开泵预排" in after.text
