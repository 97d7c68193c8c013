"""The forecast web page: overlay map data, time slider frames, points ranked by risk."""

from __future__ import annotations

import json
import re

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from conftest import SYSTEM, Points
from fangxun.config import Settings
from fangxun.db import session_scope
from fangxun.forecast import flows, service
from fangxun.forecast.schemas import DesignRain, ForecastRunCreate
from fangxun.org.models import Role

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def _login(app: FastAPI, username: str, password: str) -> TestClient:
    client = TestClient(app, follow_redirects=False)
    csrf = CSRF_RE.search(client.get("/login").text)
    assert csrf
    r = client.post(
        "/login", data={"username": username, "password": password, "csrf_token": csrf.group(1)}
    )
    assert r.status_code == 303, r.text
    return client


def test_forecast_page(
    app: FastAPI, engine: Engine, fsettings: Settings, points: Points, make_user: object
) -> None:
    user = make_user(Role.duty, points.unit)  # type: ignore[operator]
    client = _login(app, user.username, user.password)
    empty = client.get("/forecast?lang=en")
    assert empty.status_code == 200
    assert 'data-testid="no-forecast"' in empty.text

    with session_scope(engine) as session:
        run_id = service.create_run(
            session=session,
            run_in=ForecastRunCreate(
                rain=DesignRain(return_period_years=5, duration_s=3600.0), horizon_s=5400.0
            ),
            actor=SYSTEM,
            settings=fsettings,
        ).id
    flows.execute_run(engine, run_id, fsettings, executor="serial")

    page = client.get("/forecast?lang=zh")
    assert page.status_code == 200
    assert "按风险排序的隐患点" in page.text
    rows = re.findall(r'<tr data-point="([^"]+)"', page.text)
    assert rows[0] == "FX-centre" and set(rows) == {"FX-centre", "FX-flank", "FX-rim"}
    data = json.loads(re.search(r'id="fc-data">(.*?)</script>', page.text, re.S).group(1))  # type: ignore[union-attr]
    assert data["run"] == run_id and len(data["bounds"]) == 4
    assert [f["url"].rsplit("/", 1)[1] for f in data["frames"]] == [
        "frame_00000900.png",
        "frame_00001800.png",
        "frame_00003600.png",
        "frame_00005400.png",
    ]
    for url in [data["overlay"], *(f["url"] for f in data["frames"])]:
        img = client.get(url)
        assert img.status_code == 200 and img.content[:4] == b"\x89PNG"
    assert client.get(f"/forecast/runs/{run_id}/state_00000900.npy").status_code == 404
