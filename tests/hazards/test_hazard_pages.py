"""Hazard ledger pages through the TestClient: ledger filters and export, point page, the
rectification workflow forms (CSRF, refused moves), jurisdiction on pages."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hazard_helpers import PASSWORD, seed_web_ledger
from openpyxl import load_workbook

from fangxun.config import Settings, load_settings
from fangxun.db.migrate import upgrade

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def web(tmp_path: Path) -> tuple[Settings, dict[str, int]]:
    settings = load_settings(
        environment="test",
        database_url=f"sqlite:///{tmp_path / 'web.db'}",
        data_dir=tmp_path / "data",
        secret_key="hazard-web-tests-secret-key-0123456789",
        language="zh",
    )
    upgrade(settings.database_url)
    return settings, seed_web_ledger(settings.database_url)


@pytest.fixture
def web_app(web: tuple[Settings, dict[str, int]]) -> FastAPI:
    from fangxun.api.app import create_app

    return create_app(web[0])


def _login(app: FastAPI, username: str) -> TestClient:
    client = TestClient(app, follow_redirects=False)
    form = client.get("/login")
    csrf = CSRF_RE.search(form.text)
    assert csrf
    response = client.post(
        "/login", data={"username": username, "password": PASSWORD, "csrf_token": csrf.group(1)}
    )
    assert response.status_code == 303, response.text
    return client


def _csrf(page: Any) -> str:
    match = CSRF_RE.search(page.text)
    assert match
    return match.group(1)


def test_ledger_page_filters_export_and_isolation(
    web_app: FastAPI, web: tuple[Settings, dict[str, int]]
) -> None:
    ids = web[1]
    district = _login(web_app, "fxdistrict")
    page = district.get("/hazards")
    assert page.status_code == 200
    assert "隐患台账" in page.text and "梧桐低洼路段" in page.text and "沟赵低洼路段" in page.text
    assert 'id="hazard-map-data"' in page.text
    only = district.get("/hazards", params={"q": "梧桐"})
    assert "梧桐低洼路段" in only.text and "沟赵低洼路段" not in only.text
    xlsx = district.get("/hazards/export", params={"format": "xlsx", "q": "沟赵"})
    assert xlsx.status_code == 200
    rows = list(load_workbook(io.BytesIO(xlsx.content)).worksheets[0].iter_rows(values_only=True))
    assert rows[0][0] == "编号" and [r[0] for r in rows[1:]] == ["GO-001"]
    wutong = _login(web_app, "wutong")
    assert "沟赵低洼路段" not in wutong.get("/hazards").text
    assert wutong.get(f"/hazards/points/{ids['gouzhao_point']}").status_code == 404
    assert wutong.get(f"/hazards/rectifications/{ids['gouzhao_rect']}").status_code == 404
    point = wutong.get(f"/hazards/points/{ids['wutong_point']}")
    assert point.status_code == 200 and "梧桐篦子堵塞" in point.text
    assert "泵车抽排" in point.text and "50.0 mm / 3.0 h" in point.text
    token = _csrf(point)
    other = wutong.post(
        f"/hazards/rectifications/{ids['gouzhao_rect']}/transition",
        data={"action": "start", "comment": "x", "csrf_token": token},
    )
    assert other.status_code == 404
    other = wutong.post(
        f"/hazards/points/{ids['gouzhao_point']}/rectifications",
        data={
            "finding": "f",
            "measure": "m",
            "deadline": "2030-01-01",
            "csrf_token": token,
            "responsible_person_id": str(ids["wutong_person"]),
        },
    )
    assert other.status_code == 404
    layer = wutong.get("/hazards/points.geojson").json()
    assert [f["properties"]["code"] for f in layer["features"]] == ["WU-001"]
    assert layer["features"][0]["properties"]["colour"] == "#fc8d59"  # one open problem
    # Without a login: to the login page.
    anon = TestClient(web_app, follow_redirects=False)
    assert anon.get("/hazards").status_code == 303


def test_workflow_forms(web_app: FastAPI, web: tuple[Settings, dict[str, int]]) -> None:
    rect = web[1]["wutong_rect"]
    url = f"/hazards/rectifications/{rect}"
    wutong = _login(web_app, "wutong")
    page = wutong.get(url)
    assert 'data-action="start"' in page.text and 'data-action="verify"' not in page.text
    token = _csrf(page)
    # No CSRF token: refused, nothing changes.
    no_csrf = wutong.post(f"{url}/transition", data={"action": "start", "comment": "开始"})
    assert no_csrf.status_code == 403
    blank = wutong.post(
        f"{url}/transition", data={"action": "start", "comment": " ", "csrf_token": token}
    )
    assert blank.status_code == 422 and 'data-testid="rect-error"' in blank.text
    moved = wutong.post(
        f"{url}/transition", data={"action": "start", "comment": "开始整改", "csrf_token": token}
    )
    assert moved.status_code == 303
    assert 'data-status="in_progress"' in wutong.get(url).text
    refused = wutong.post(
        f"{url}/transition", data={"action": "close", "comment": "x", "csrf_token": token}
    )
    assert refused.status_code == 403
    # Open a new one from the point page.
    opened = wutong.post(
        f"/hazards/points/{web[1]['wutong_point']}/rectifications",
        data={
            "finding": "井盖松动",
            "measure": "更换井盖",
            "deadline": "2030-01-01",
            "responsible_person_id": str(web[1]["wutong_person"]),
            "csrf_token": token,
        },
    )
    assert opened.status_code == 303
    assert "井盖松动" in wutong.get(opened.headers["location"]).text
