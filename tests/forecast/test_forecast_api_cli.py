"""Forecast API (start, list, get, points, files), CLI, and the scheduler's triggers."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from typer.testing import CliRunner

from conftest import SYSTEM, Points
from fangxun.cli.main import app as cli_app
from fangxun.config import Settings, get_settings
from fangxun.db import session_scope, utcnow
from fangxun.forecast import flows, schedule
from fangxun.forecast.models import ForecastRun, RunStatus
from fangxun.org.models import Role, UnitKind

BODY = {
    "rain": {"kind": "design", "return_period_years": 5, "duration_s": 3600},
    "horizon_s": 3600,
    "members": 1,
    "purpose": "operational",  # named by the duty officer: a design storm is else a what-if
}


def test_api_run_lifecycle(
    client: TestClient, points: Points, make_user: object, make_unit: object
) -> None:
    duty = make_user(Role.duty, points.unit)  # type: ignore[operator]
    viewer = make_user(Role.viewer, points.unit)  # type: ignore[operator]
    other = make_unit("OTHER", UnitKind.street_office, points.unit)  # type: ignore[operator]
    outsider = make_user(Role.unit, other)  # type: ignore[operator]

    assert client.post("/api/v1/forecast/runs", json=BODY).status_code == 401
    assert (
        client.post("/api/v1/forecast/runs", json=BODY, headers=viewer.headers(client)).status_code
        == 403
    )
    bad = client.post(
        "/api/v1/forecast/runs",
        json={"rain": {"kind": "series", "step_s": 300, "intensity_mm_h": [-1]}},
        headers=duty.headers(client),
    )
    assert bad.status_code == 422

    r = client.post("/api/v1/forecast/runs", json=BODY, headers=duty.headers(client))
    assert r.status_code == 202, r.text
    run_id = r.json()["id"]
    assert r.json()["status"] == "queued"
    # TestClient runs the background job before returning: the run is done now.
    got = client.get(f"/api/v1/forecast/runs/{run_id}", headers=viewer.headers(client)).json()
    assert got["status"] == "done" and got["is_current"] and got["progress"] == 1.0
    assert got["bounds"] and len(got["bounds"]) == 4
    cur = client.get("/api/v1/forecast/runs/current", headers=viewer.headers(client)).json()
    assert cur["id"] == run_id
    listed = client.get("/api/v1/forecast/runs", headers=viewer.headers(client)).json()
    assert [x["id"] for x in listed] == [run_id]
    # The same design storm without a purpose is a what-if: done, labelled, never in force.
    what_if = {k: v for k, v in BODY.items() if k != "purpose"}
    r = client.post("/api/v1/forecast/runs", json=what_if, headers=duty.headers(client))
    assert r.status_code == 202 and r.json()["purpose"] == "scenario"
    got = client.get(f"/api/v1/forecast/runs/{r.json()['id']}", headers=viewer.headers(client))
    assert got.json()["status"] == "done" and not got.json()["is_current"]
    cur = client.get("/api/v1/forecast/runs/current", headers=viewer.headers(client)).json()
    assert cur["id"] == run_id
    bad = client.post(
        "/api/v1/forecast/runs",
        json={**BODY, "purpose": "exercise"},
        headers=duty.headers(client),
    )
    assert bad.status_code == 422 and "drill_id" in bad.text
    listed = client.get("/api/v1/forecast/runs", headers=viewer.headers(client)).json()
    assert [x["id"] for x in listed][1] == run_id

    pts = client.get(
        f"/api/v1/forecast/runs/{run_id}/points", headers=viewer.headers(client)
    ).json()
    assert {p["point_id"] for p in pts} == {points.centre, points.flank, points.rim}
    assert pts[0]["point_id"] == points.centre  # ranked by risk
    assert pts[0]["peak_depth_cm"] > 1.0 and pts[0]["thresholds_cm"]["blue"] == 1.0
    # A unit outside the points' unit sees none of them.
    assert (
        client.get(
            f"/api/v1/forecast/runs/{run_id}/points", headers=outsider.headers(client)
        ).json()
        == []
    )
    png = client.get(
        f"/api/v1/forecast/runs/{run_id}/files/overlay.png", headers=viewer.headers(client)
    )
    assert png.status_code == 200 and png.content[:8] == b"\x89PNG\r\n\x1a\n"
    tif = client.get(
        f"/api/v1/forecast/runs/{run_id}/files/max_depth.tif", headers=viewer.headers(client)
    )
    assert tif.status_code == 200 and tif.content[:2] in (b"II", b"MM")
    for name in ("../x.png", "secret.npy", "frame_abc.png"):
        assert (
            client.get(
                f"/api/v1/forecast/runs/{run_id}/files/{name}", headers=viewer.headers(client)
            ).status_code
            == 404
        )
    assert (
        client.get("/api/v1/forecast/runs/999", headers=viewer.headers(client)).status_code == 404
    )


def test_cli_run_and_status(
    points: Points,
    fsettings: Settings,
    database_url: str,
    terrain_tif: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for key, value in {
        "DATABASE_URL": database_url,
        "ENVIRONMENT": "test",
        "DATA_DIR": str(tmp_path / "data"),
        "FORECAST_TERRAIN_PATH": str(terrain_tif),
        "FORECAST_BACKEND": "numpy",
    }.items():
        monkeypatch.setenv(f"FANGXUN_{key}", value)
    get_settings.cache_clear()
    runner = CliRunner()
    try:
        args = ["forecast", "run", "--storm", "chicago", "--return-period", "5", "--hours", "1"]
        result = runner.invoke(cli_app, [*args, "--horizon", "1", "--purpose", "operational"])
        assert result.exit_code == 0, result.output
        assert "forecast #1: done" in result.output
        assert "FX-centre" in result.output
        result = runner.invoke(cli_app, [*args, "--horizon", "1"])  # a what-if by default
        assert result.exit_code == 0, result.output
        assert "forecast #2: done" in result.output and "purpose: scenario" in result.output
        result = runner.invoke(cli_app, ["forecast", "status"])
        assert result.exit_code == 0, result.output
        assert "in force: #1" in result.output and "scenario" in result.output
        result = runner.invoke(cli_app, [*args, "--series", str(terrain_tif)])
        assert result.exit_code == 65
    finally:
        get_settings.cache_clear()


def test_schedule_runs_while_it_rains_or_a_trigger_fires(
    engine: Engine, fsettings: Settings, points: Points, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = utcnow()
    monkeypatch.setattr(schedule, "raining", lambda **_: False)
    assert schedule.tick(engine, fsettings, now=now) is None
    # A pluggable trigger (as the warnings domain will register) starts a run.
    schedule.register_trigger("warning", lambda session, at: "red warning in force")
    try:
        run_id = schedule.tick(engine, fsettings, now=now)
        assert run_id is not None
        # Not again while it is queued, nor within the interval.
        assert schedule.tick(engine, fsettings, now=now) is None
        assert flows.execute_run(engine, run_id, fsettings, executor="serial") == RunStatus.done
        assert schedule.tick(engine, fsettings, now=now + timedelta(seconds=60)) is None
    finally:
        schedule.unregister_trigger("warning")
    later = now + timedelta(seconds=fsettings.forecast_interval_s + 1)
    assert schedule.tick(engine, fsettings, now=later) is None
    monkeypatch.setattr(schedule, "raining", lambda **_: True)
    second = schedule.tick(engine, fsettings, now=later)
    assert second is not None
    with session_scope(engine) as session:
        run = session.get(ForecastRun, second)
        assert run is not None and run.params["trigger"] == "rain at the gauges"
        assert run.rain_source.value == "nowcast"


def test_raining_reads_the_gauges(engine: Engine) -> None:
    with session_scope(engine) as session:
        assert schedule.raining(session=session, now=utcnow(), window_s=900) is False
    assert SYSTEM.username
