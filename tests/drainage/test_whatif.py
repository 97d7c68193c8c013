"""Drainage what-ifs as scenario runs beside the forecast in force: the run repeats the one in
force with the what-if applied, and lists the points whose warning colour changes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from drainage_cases import street_network, write_terrain
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from factories import make_point, make_unit
from fangxun.api.app import create_app
from fangxun.audit.service import SystemActor
from fangxun.config import Settings
from fangxun.db import session_scope
from fangxun.db.types import utcnow
from fangxun.drainage import service, whatif
from fangxun.errors import ValidationFailed
from fangxun.forecast import flows
from fangxun.forecast.models import (
    ForecastPointResult,
    ForecastRun,
    RainSource,
    RunPurpose,
    RunStatus,
)
from fangxun.inundation.io import read_terrain
from web_harness import csrf_of

ACTOR = SystemActor("test")
RAIN = {"kind": "design", "return_period_years": 5.0, "duration_s": 3600.0}
THRESHOLDS = {"blue": 0.05, "yellow": 0.15, "orange": 0.3, "red": 0.5}


def _network(session: Session, settings: Settings, tmp_path: Path) -> None:
    inp = tmp_path / "district.inp"
    inp.write_text(street_network(pump=True))
    service.import_network(
        session=session, settings=settings, inp_path=inp, name="街区管网", actor=ACTOR,
        terrain=read_terrain(write_terrain(tmp_path / "dem.tif")),
    )  # fmt: skip


def _run(session: Session, purpose: RunPurpose, params: dict[str, Any]) -> ForecastRun:
    run = ForecastRun(
        status=RunStatus.done, rain_source=RainSource.design, purpose=purpose, params=params,
        members=3, horizon_s=7200.0, progress=1.0, created_by="t", created_at=utcnow(),
        issued_at=utcnow(), finished_at=utcnow(),
    )  # fmt: skip
    session.add(run)
    session.flush()
    return run


def _result(session: Session, run: ForecastRun, point_id: int, peak_m: float) -> None:
    session.add(
        ForecastPointResult(
            run_id=run.id, point_id=point_id, row=1, col=1, times_s=[0.0], depth_m=[peak_m],
            peak_depth_m=peak_m, peak_time_s=600.0, time_to_threshold_s={}, probability={},
            member_peaks_m=[peak_m], thresholds_m=THRESHOLDS, risk=0.0,
        )
    )  # fmt: skip


def test_a_whatif_repeats_the_run_in_force_and_lists_the_points_that_change(
    db_session: Session, settings: Settings, tmp_path: Path
) -> None:
    with pytest.raises(ValidationFailed, match="imported network"):
        whatif.start_whatif(
            session=db_session, settings=settings, actor=ACTOR,
            whatif=service.DrainageWhatIf(pumps_off=("P1",)),
        )  # fmt: skip
    _network(db_session, settings, tmp_path)
    with pytest.raises(ValidationFailed, match="no operational forecast"):
        whatif.start_whatif(
            session=db_session, settings=settings, actor=ACTOR,
            whatif=service.DrainageWhatIf(pumps_off=("P1",)),
        )  # fmt: skip
    base = _run(db_session, RunPurpose.operational, {"rain": RAIN, "seed": 7, "warm_start": True})
    with pytest.raises(ValidationFailed, match="needs a pump station off"):
        whatif.start_whatif(
            session=db_session, settings=settings, actor=ACTOR, whatif=service.DrainageWhatIf()
        )
    run = whatif.start_whatif(
        session=db_session, settings=settings, actor=ACTOR,
        whatif=service.DrainageWhatIf(pumps_off=("P1",), river_at_guarantee=True),
    )  # fmt: skip
    assert run.purpose is RunPurpose.scenario and run.status is RunStatus.queued
    assert run.params["rain"].items() >= RAIN.items() and run.params["seed"] == 7
    assert (run.members, run.horizon_s) == (base.members, base.horizon_s)
    assert run.params["drainage_whatif"] == {"pumps_off": ["P1"], "river_at_guarantee": True}
    assert run.params["compare_to"] == base.id
    # the forecast applies it to the network: the pump is off in the network the run gets
    net = service.forecast_network(
        session=db_session, settings=settings, grid=read_terrain(tmp_path / "dem.tif"),
        whatif=service.DrainageWhatIf.from_params(run.params["drainage_whatif"]),
    )  # fmt: skip
    assert net is not None and net.pumps_off == ("P1",)

    # results: one point goes from yellow to red, one stays orange, one from blue to none
    unit = make_unit(db_session, "D").id
    pts = [make_point(db_session, f"H{i}", unit_id=unit).id for i in range(3)]
    for pid, before, after in zip(pts, (0.2, 0.35, 0.06), (0.6, 0.4, 0.01), strict=True):
        _result(db_session, base, pid, before)
        _result(db_session, run, pid, after)
    running = whatif.whatif_changes(session=db_session, run_id=run.id, actor=ACTOR)
    assert running.status == "queued" and running.changes == []
    run.status = RunStatus.done
    db_session.flush()
    out = whatif.whatif_changes(session=db_session, run_id=run.id, actor=ACTOR)
    got = [(c.code, c.base_colour, c.whatif_colour, c.worse) for c in out.changes]
    assert got == [("H0", "yellow", "red", True), ("H2", "blue", None, False)]
    (listed,) = whatif.recent_whatifs(session=db_session, actor=ACTOR, base_run_id=base.id)
    assert listed.run_id == run.id
    with pytest.raises(ValidationFailed, match="not a drainage what-if"):
        whatif.whatif_changes(session=db_session, run_id=base.id, actor=ACTOR)


def test_whatif_api_and_forecast_page_form(
    make_user: Any,
    settings: Settings,
    engine: Engine,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with session_scope(engine) as session:
        _network(session, settings, tmp_path)
        base_id = _run(session, RunPurpose.operational, {"rain": RAIN, "seed": 1}).id
    app = create_app(settings, engine=engine)
    # the runs are queued, not executed: the background job is not what is tested here
    calls: list[int] = []
    monkeypatch.setattr(flows, "execute_run", lambda _db, run_id, _s: calls.append(run_id))
    with TestClient(app) as client:
        duty = make_user("duty")
        viewer = make_user("viewer")
        r = client.post("/api/v1/drainage/whatif", json={"inlet_factor": 0.5},
                        headers=duty.headers(client))  # fmt: skip
        assert r.status_code == 202, r.text
        assert r.json()["compare_to"] == base_id
        bad = client.post("/api/v1/drainage/whatif", json={"inlet_factor": 2},
                          headers=duty.headers(client))  # fmt: skip
        assert bad.status_code == 422
        denied = client.post("/api/v1/drainage/whatif", json={"pumps_off": ["P1"]},
                             headers=viewer.headers(client))  # fmt: skip
        assert denied.status_code == 403
        got = client.get(f"/api/v1/drainage/runs/{r.json()['run_id']}/whatif",
                         headers=viewer.headers(client))  # fmt: skip
        assert got.status_code == 200 and got.json()["whatif"] == {"inlet_factor": 0.5}

        form = client.get("/login")
        client.post("/login", data={"username": duty.username, "password": duty.password,
                                    "csrf_token": csrf_of(form)})  # fmt: skip
        page = client.get("/forecast")
        assert 'data-testid="whatif-form"' in page.text
        answer = client.post(
            "/forecast/whatif",
            data={"csrf_token": csrf_of(page), "inlet_factor": "0.2", "river": "on"},
            headers={"HX-Request": "true"},
        )
        assert answer.status_code == 200, answer.text
        assert answer.text.count('data-testid="whatif-run"') == 2
        wrong = client.post(
            "/forecast/whatif", data={"csrf_token": csrf_of(page), "inlet_factor": "x"}
        )
        assert wrong.status_code == 422 and "whatif-error-inlet_factor" in wrong.text
    assert len(calls) == 2
    with session_scope(engine) as session:
        runs = list(session.scalars(select(ForecastRun).where(ForecastRun.id != base_id)))
        assert all(r.purpose is RunPurpose.scenario for r in runs) and len(runs) == 2
