"""Forecast runs as jobs: results match the core run directly; a failed run keeps the old one."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
from sqlalchemy import Engine

from conftest import CELLS, SYSTEM, Points
from fangxun.config import Settings
from fangxun.db import session_scope
from fangxun.forecast import engine as fx_engine
from fangxun.forecast import flows, service
from fangxun.forecast.models import RunPurpose, RunStatus
from fangxun.forecast.schemas import DesignRain, ForecastRunCreate
from fangxun.inundation import Model
from fangxun.inundation.io import read_terrain
from fangxun.inundation.rain import chicago_hyetograph


def _start(engine: Engine, settings: Settings, **kw: object) -> int:
    # A design storm named operational (by default it would be a what-if, never in force).
    kw.setdefault("purpose", RunPurpose.operational)
    run_in = ForecastRunCreate(
        rain=DesignRain(return_period_years=5, duration_s=3600.0),
        horizon_s=5400.0,
        **kw,  # type: ignore[arg-type]
    )
    with session_scope(engine) as session:
        run = service.create_run(session=session, run_in=run_in, actor=SYSTEM, settings=settings)
        assert run.status == RunStatus.queued
        return run.id


def test_design_storm_run_matches_the_core(
    engine: Engine, fsettings: Settings, points: Points, terrain_tif: Path
) -> None:
    run_id = _start(engine, fsettings, members=1)
    assert flows.execute_run(engine, run_id, fsettings, executor="serial") == RunStatus.done

    # The same model, built by hand from the core's public API.
    grid = read_terrain(terrain_tif)
    rain = chicago_hyetograph(service.storm_formula(fsettings), 5, 3600.0, 300.0, peak_ratio=0.4)
    capacity = fx_engine.drainage_capacity_mm_h(
        service.storm_formula(fsettings), 0.5, fsettings.forecast_drainage_duration_s
    )
    model = Model(
        grid,
        manning=0.03,
        rain=rain,
        drainage_mm_h=capacity,
        boundary="open",
        backend="numpy",
        gauges=CELLS,
        depth_thresholds_m=(0.15,),
        output_interval_s=120.0,
    )
    # The forecast stops at its snapshot times (warm-start state, map frames): so does this run.
    for t in (900.0, 1800.0, 3600.0, 5400.0):
        model.run_until(t)

    with session_scope(engine) as session:
        run = service.get_run(session=session, run_id=run_id)
        assert run.status == RunStatus.done and run.progress == 1.0
        assert service.current_run(session=session).id == run_id  # type: ignore[union-attr]
        results = {
            r.point_id: r
            for r in service.point_results(session=session, run_id=run_id, actor=SYSTEM)
        }
        ids = {"centre": points.centre, "flank": points.flank, "rim": points.rim}
        for name, pid in ids.items():
            res = results[pid]
            assert (res.row, res.col) == CELLS[name]
            times, depth, _ = model.gauge_series(name)
            regular = np.isclose(times % 120.0, 0.0) | (times == 5400.0)
            times, depth = times[regular], depth[regular]
            np.testing.assert_allclose(res.times_s, times)
            np.testing.assert_allclose(res.depth_cm, np.round(depth * 100.0, 2), atol=0.011)
            assert res.peak_depth_cm == pytest.approx(float(depth.max()) * 100.0, abs=0.01)
            assert res.peak_time_s == float(times[int(np.argmax(depth))])
            for colour, thr_cm in res.thresholds_cm.items():
                above = np.flatnonzero(depth >= thr_cm / 100.0)
                expect = float(times[above[0]]) if above.size else None
                assert res.time_to_threshold_s[colour] == expect
            # One member: probabilities are 0 or 1 and agree with the peak.
            for colour, p in res.probability.items():
                assert p == (1.0 if depth.max() >= res.thresholds_cm[colour] / 100.0 else 0.0)
        # The bowl's centre ponds, its rim does not.
        assert results[points.centre].peak_depth_cm > results[points.rim].peak_depth_cm
        assert results[points.centre].time_to_threshold_s["blue"] is not None
        # Ranked by risk: the centre first.
        ranked = service.point_results(session=session, run_id=run_id, actor=SYSTEM)
        assert ranked[0].point_id == points.centre
        assert run.bounds is not None and len(run.bounds) == 4
        south, west, north, east = run.bounds
        assert 30 < south < north < 40 and 110 < west < east < 116

        tif = service.run_file(
            session=session, run_id=run_id, settings=fsettings, name="max_depth.tif"
        )
        with rasterio.open(tif) as src:
            assert src.crs.to_epsg() == 4547
            md = src.read(1)
        np.testing.assert_allclose(md, model.max_depth, atol=1e-6)
        assert (
            service.run_file(session=session, run_id=run_id, settings=fsettings, name="overlay.png")
            .stat()
            .st_size
            > 0
        )


def test_failed_run_keeps_previous_forecast(
    engine: Engine, fsettings: Settings, points: Points, tmp_path: Path
) -> None:
    first = _start(engine, fsettings)
    assert flows.execute_run(engine, first, fsettings, executor="serial") == RunStatus.done
    broken = fsettings.model_copy(update={"forecast_terrain_path": tmp_path / "missing.tif"})
    second = _start(engine, broken)
    assert flows.execute_run(engine, second, broken, executor="serial") == RunStatus.failed
    with session_scope(engine) as session:
        run = service.get_run(session=session, run_id=second)
        assert run.status == RunStatus.failed
        assert run.message is not None
        assert "missing.tif" in run.message
        assert f"forecast #{first} " in run.message and "remains in force" in run.message
        assert service.current_run(session=session).id == first  # type: ignore[union-attr]
        assert service.point_results(session=session, run_id=second, actor=SYSTEM) == []
        assert len(service.point_results(session=session, run_id=first, actor=SYSTEM)) == 3


def test_warm_start_uses_previous_state(
    engine: Engine, fsettings: Settings, points: Points
) -> None:
    first = _start(engine, fsettings)
    flows.execute_run(engine, first, fsettings, executor="serial")
    second = _start(engine, fsettings)
    flows.execute_run(engine, second, fsettings, executor="serial")
    cold = _start(engine, fsettings, warm_start=False)
    flows.execute_run(engine, cold, fsettings, executor="serial")
    with session_scope(engine) as session:
        warm_run = service.get_run(session=session, run_id=second)
        assert warm_run.warm_start_run_id == first
        assert "warm start from forecast" in (warm_run.message or "")
        warm = service.point_results(session=session, run_id=second, actor=SYSTEM, order="id")
        dry = service.point_results(session=session, run_id=cold, actor=SYSTEM, order="id")
        # Water left in the bowl by the first run is there at t = 0 of the second.
        assert warm[0].depth_cm[0] > 0.0 == dry[0].depth_cm[0]


def test_briefing_lists_the_points_the_current_forecast_puts_at_risk(
    engine: Engine, fsettings: Settings, points: Points
) -> None:
    from fangxun.briefings import service as briefings
    from fangxun.briefings.schemas import BriefingCreate

    run_id = _start(engine, fsettings)
    assert flows.execute_run(engine, run_id, fsettings, executor="serial") == RunStatus.done
    with session_scope(engine) as session:
        ranked = service.point_results(session=session, run_id=run_id, actor=SYSTEM)
        briefing = briefings.generate(session=session, briefing_in=BriefingCreate(), actor=None)
    section = briefing.content["sections"]["points_at_risk"]
    assert section["available"], section["reason"]
    forecast = section["data"]["forecast"]
    expected = [r for r in ranked if r.risk > 0]
    assert [p["id"] for p in forecast] == [r.point_id for r in expected]
    assert forecast[0]["id"] == points.centre and forecast[0]["run_id"] == run_id
    assert forecast[0]["peak_depth_cm"] == expected[0].peak_depth_cm
