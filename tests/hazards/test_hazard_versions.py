"""Lost updates (issue 20, item 13): hazard points and rectifications carry a version; the API
serves it as the ETag and refuses a stale ``If-Match`` with 412 saying what changed; the web
workflow form sends it back hidden and a stale one gets 409 saying what changed."""

from __future__ import annotations

import test_hazard_pages as pages
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hazard_helpers import Ledger

from fangxun.config import Settings

API = "/api/v1"
_csrf, _login = pages._csrf, pages._login
# The web fixtures of the page tests (a seeded SQLite ledger and its app).
web, web_app = pages.web, pages.web_app


def test_two_editors_of_one_point(client: TestClient, ledger: Ledger) -> None:
    url = f"{API}/hazard-points/{ledger.wutong_point}"
    a, b = ledger.h(client, "district"), ledger.h(client, "wutong")
    read_a, read_b = client.get(url, headers=a), client.get(url, headers=b)
    assert read_a.headers["etag"] == read_b.headers["etag"] == '"1"'
    assert read_a.json()["version"] == 1
    first = client.patch(
        url, json={"name": "雪松路下穿（新）"}, headers={**a, "If-Match": read_a.headers["etag"]}
    )
    assert first.status_code == 200, first.text
    assert first.headers["etag"] == '"2"' and first.json()["version"] == 2
    # B still holds version 1: refused, told what changed and the version now.
    second = client.patch(
        url, json={"risk_level": "low"}, headers={**b, "If-Match": read_b.headers["etag"]}
    )
    assert second.status_code == 412, second.text
    body = second.json()
    assert body["current_version"] == 2 and second.headers["etag"] == '"2"'
    assert {"field": "name", "now": "雪松路下穿（新）"} in body["changes"]
    assert "changed by someone else" in body["detail"]
    now = client.get(url, headers=a).json()
    assert now["risk_level"] != "low" and now["name"] == "雪松路下穿（新）"
    # With the version it now has, B's change goes through; without If-Match as before.
    again = client.patch(url, json={"risk_level": "low"}, headers={**b, "If-Match": 'W/"2"'})
    assert again.status_code == 200 and again.json()["version"] == 3
    assert client.patch(url, json={"address": "x"}, headers=b).status_code == 200
    bad = client.patch(url, json={"address": "y"}, headers={**b, "If-Match": "yesterday"})
    assert bad.status_code == 422


def test_stale_rectification_transition_over_the_api(
    client: TestClient, ledger: Ledger, open_rectification: int
) -> None:
    h = ledger.h(client, "wutong")
    url = f"{API}/rectifications/{open_rectification}"
    etag = client.get(url, headers=h).headers["etag"]
    moved = client.post(
        f"{url}/transitions", json={"action": "start", "comment": "开始"}, headers=h
    )
    assert moved.status_code == 200 and moved.headers["etag"] != etag
    stale = client.post(
        f"{url}/transitions",
        json={"action": "submit", "comment": "完成"},
        headers={**h, "If-Match": etag},
    )
    assert stale.status_code == 412
    assert "status" in {c["field"] for c in stale.json()["changes"]}


def test_stale_workflow_form_gets_409_saying_what_changed(
    web_app: FastAPI, web: tuple[Settings, dict[str, int]]
) -> None:
    url = f"/hazards/rectifications/{web[1]['wutong_rect']}"
    first, second = _login(web_app, "wutong"), _login(web_app, "wutong")
    page_1, page_2 = first.get(url), second.get(url)
    assert 'name="version" value="1"' in page_2.text
    moved = first.post(
        f"{url}/transition",
        data={
            "action": "start",
            "comment": "开始整改",
            "version": "1",
            "csrf_token": _csrf(page_1),
        },
    )
    assert moved.status_code == 303
    stale = second.post(
        f"{url}/transition",
        data={
            "action": "start",
            "comment": "我也开始",
            "version": "1",
            "csrf_token": _csrf(page_2),
        },
    )
    assert stale.status_code == 409
    assert "changed by someone else" in stale.text and "status" in stale.text
    # The page now carries the new version.
    assert 'name="version" value="2"' in stale.text
