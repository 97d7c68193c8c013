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
from fangxun.forecast.models import RunPurpose
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
                rain=DesignRain(return_period_years=5, duration_s=3600.0),
                horizon_s=5400.0,
                purpose=RunPurpose.operational,
            ),
            actor=SYSTEM,
            settings=fsettings,
        ).id
    flows.execute_run(engine, run_id, fsettings, executor="serial")

    page = client.get("/forecast?lang=zh")
    assert page.status_code == 200
    assert "按风险排序的隐患点" in page.text
    assert f'<tr data-purpose="operational"><td>{run_id} *</td><td class="purpose' in page.text
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


def _csrf(client: TestClient) -> str:
    m = CSRF_RE.search(client.get("/forecast?lang=en").text)
    assert m
    return m.group(1)


def test_start_form_validates_input(
    app: FastAPI, engine: Engine, fsettings: Settings, points: Points, make_user: object
) -> None:
    user = make_user(Role.duty, points.unit)  # type: ignore[operator]
    client = _login(app, user.username, user.password)
    page = client.get("/forecast?lang=en")
    assert 'data-testid="start-form"' in page.text
    csrf = _csrf(client)
    base = {"csrf_token": csrf, "members": "1", "horizon_min": "60"}
    cases = [
        ({"rain_kind": "design", "return_period_years": "-2", "duration_min": "60"},
         "return_period_years", "return period must be a number of years"),
        ({"rain_kind": "design", "return_period_years": "5", "duration_min": "abc"},
         "duration_min", "storm duration must be a number of minutes"),
        ({"rain_kind": "radar"}, "rain_kind", "Choose where the rain comes from"),
        ({"rain_kind": "nowcast", "members": "2.5"}, "members", "whole number from 1 to 200"),
        ({"rain_kind": "nowcast", "members": "0"}, "members", "whole number from 1 to 200"),
        ({"rain_kind": "nowcast", "members": "201"}, "members", "whole number from 1 to 200"),
        ({"rain_kind": "nowcast", "horizon_min": "99999"}, "horizon_min", "at most 2880"),
        ({"rain_kind": "series"}, "series_file", "Choose a CSV file"),
    ]  # fmt: skip
    for fields, field, message in cases:
        r = client.post("/forecast/runs?lang=en", data={**base, **fields})
        assert r.status_code == 422, (fields, r.text[:300])
        assert f'data-testid="error-{field}"' in r.text and message in r.text, fields
    # An HTMX request gets the same form with 200, so that HTMX swaps it in.
    r = client.post(
        "/forecast/runs?lang=en",
        data={**base, "rain_kind": "design", "return_period_years": "x", "duration_min": "60"},
        headers={"HX-Request": "true"},
    )
    assert r.status_code == 200 and 'data-testid="error-return_period_years"' in r.text
    # A bad uploaded series names the line.
    r = client.post(
        "/forecast/runs?lang=en",
        data={**base, "rain_kind": "series"},
        files={"series_file": ("storm.csv", b"time_s,intensity_mm_h\n0,10\n300,x\n", "text/csv")},
    )
    assert r.status_code == 422 and "storm.csv line 3" in r.text
    # Nothing was queued, and no CSRF token: refused.
    with session_scope(engine) as session:
        assert service.list_runs(session=session) == []
    r = client.post("/forecast/runs", data={"rain_kind": "nowcast", "members": "1"})
    assert r.status_code == 403


def test_start_form_starts_a_run_and_shows_progress(
    app: FastAPI, engine: Engine, fsettings: Settings, points: Points, make_user: object
) -> None:
    user = make_user(Role.duty, points.unit)  # type: ignore[operator]
    client = _login(app, user.username, user.password)
    csrf = _csrf(client)
    r = client.post(
        "/forecast/runs?lang=en",
        data={"csrf_token": csrf, "rain_kind": "series", "members": "1", "horizon_min": "30"},
        files={"series_file": ("s.csv", b"time_s,intensity_mm_h\n0,80\n600,40\n", "text/csv")},
        headers={"HX-Request": "true"},
    )
    assert r.status_code == 200, r.text
    m = re.search(r'data-testid="run-progress" data-run="(\d+)"', r.text)
    assert m and 'hx-trigger="every 1s"' in r.text
    run_id = int(m.group(1))
    # The TestClient ran the background job before returning: the fragment now shows the result.
    done = client.get(f"/forecast/runs/{run_id}/progress?lang=en")
    assert 'data-status="done"' in done.text and "hx-trigger" not in done.text
    assert re.findall(r'<tr data-point="([^"]+)"', done.text)[0] == "FX-centre"
    with session_scope(engine) as session:
        run = service.get_run(session=session, run_id=run_id)
        assert run.params["rain"] == {
            "kind": "series", "step_s": 600.0, "intensity_mm_h": [80.0, 40.0]
        }  # fmt: skip
        assert run.horizon_s == 1800.0 and run.members == 1 and run.created_by == user.username
    # A role that may not run forecasts does not see the form and is refused.
    viewer = make_user(Role.unit, points.unit)  # type: ignore[operator]
    vclient = _login(app, viewer.username, viewer.password)
    assert 'data-testid="start-form"' not in vclient.get("/forecast").text
    r = vclient.post(
        "/forecast/runs?lang=en",
        data={"csrf_token": _csrf(vclient), "rain_kind": "nowcast", "members": "1",
              "horizon_min": "30"},
    )  # fmt: skip
    assert r.status_code == 403 and "may not start forecast runs" in r.text


def test_a_what_if_started_from_the_form_is_labelled_a_scenario(
    app: FastAPI, engine: Engine, fsettings: Settings, points: Points, make_user: object
) -> None:
    user = make_user(Role.duty, points.unit)  # type: ignore[operator]
    client = _login(app, user.username, user.password)
    csrf = _csrf(client)
    base = {"csrf_token": csrf, "rain_kind": "design", "return_period_years": "50",
            "duration_min": "60", "members": "1", "horizon_min": "60"}  # fmt: skip
    r = client.post("/forecast/runs?lang=zh", data=base, headers={"HX-Request": "true"})
    assert r.status_code == 200, r.text
    assert 'data-purpose="scenario"' in r.text and "情景推演（会商）" in r.text
    assert "不会成为现行预报" in r.text
    page = client.get("/forecast?lang=zh")
    assert 'data-testid="no-forecast"' in page.text  # a what-if is never in force
    assert '<tr data-purpose="scenario">' in page.text and "情景推演（会商）" in page.text
    # An exercise needs its drill: the form says so.
    r = client.post("/forecast/runs?lang=en", data={**base, "purpose": "exercise"})
    assert r.status_code == 422 and 'data-testid="error-drill_id"' in r.text
    r = client.post("/forecast/runs?lang=en", data={**base, "purpose": "operational"})
    assert r.status_code == 200 and 'data-purpose="operational"' in r.text
