"""The warnings page without a browser: issue and lift through the confirmation step (CSRF), the
CAP link, the map layer, and a refused action shown on the page."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from web_harness import csrf_of


def test_issue_and_lift_through_the_confirmation_step(web_client: TestClient, login: Any) -> None:
    assert login(web_client).status_code == 303
    page = web_client.get("/warnings?lang=zh")
    assert page.status_code == 200 and 'data-testid="issue-form"' in page.text
    assert "预警" in page.text and 'data-testid="no-warnings"' in page.text
    token = csrf_of(page)
    form = {
        "csrf_token": token,
        "action": "issue",
        "kind": "rainstorm",
        "colour": "orange",
        "reason": "气象台发布橙色预警",
        "hazard_point_id": "",
    }
    confirm = web_client.post("/warnings/confirm", data=form)
    assert confirm.status_code == 200 and 'data-testid="confirm"' in confirm.text
    assert "确认发布此预警" in confirm.text and "气象台发布橙色预警" in confirm.text
    # Nothing is issued before confirming.
    assert 'data-testid="no-warnings"' in web_client.get("/warnings").text
    done = web_client.post("/warnings/issue", data={k: v for k, v in form.items() if k != "action"})
    assert done.status_code == 303
    page = web_client.get("/warnings")
    assert 'data-testid="active-warnings"' in page.text and 'data-colour="orange"' in page.text
    cap_path = page.text.split('href="/api/v1/cap/', 1)[1].split('"', 1)[0]
    alert = web_client.get(f"/api/v1/cap/{cap_path}")
    assert alert.status_code == 200 and b"<msgType>Alert</msgType>" in alert.content
    # Lift: confirm, then do it.
    wid = page.text.split('data-warning="', 1)[1].split('"', 1)[0]
    lift = {"csrf_token": token, "action": "lift", "warning_id": wid, "reason": "雨停"}
    assert "确认解除此预警" in web_client.post("/warnings/confirm", data=lift).text
    done = web_client.post(f"/warnings/{wid}/lift", data={"csrf_token": token, "reason": "雨停"})
    assert done.status_code == 303
    page = web_client.get("/warnings")
    assert 'data-testid="no-warnings"' in page.text and "雨停" in page.text
    # Lifting again is refused on the page, not with a stack trace.
    again = web_client.post(f"/warnings/{wid}/lift", data={"csrf_token": token, "reason": "x"})
    assert again.status_code == 409 and 'data-testid="error"' in again.text
    geo = web_client.get("/warnings/points.geojson")
    assert geo.status_code == 200 and geo.json()["features"] == []


@pytest.mark.parametrize("missing", ["reason", "hazard_point_id"])
def test_bad_issue_is_explained(web_client: TestClient, login: Any, missing: str) -> None:
    login(web_client)
    token = csrf_of(web_client.get("/warnings"))
    form = {
        "csrf_token": token,
        "action": "issue",
        "kind": "ponding",
        "colour": "red",
        "reason": "r",
        "hazard_point_id": "",
    }
    if missing == "reason":
        form["reason"] = " "
    r = web_client.post("/warnings/confirm", data=form)
    assert r.status_code == 422 and 'data-testid="error"' in r.text


def test_post_without_csrf_is_refused(web_client: TestClient, login: Any) -> None:
    login(web_client)
    r = web_client.post(
        "/warnings/issue", data={"kind": "rainstorm", "colour": "red", "reason": "r"}
    )
    assert r.status_code in (400, 403)
