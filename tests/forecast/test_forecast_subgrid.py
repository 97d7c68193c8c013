"""A district coarser than its terrain runs the subgrid model by default: district, members
(points at their own pixels, warm start round trip) and a whole ensemble run end to end."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import Engine

from conftest import CELL, SYSTEM, N, Points, cell_lonlat
from fangxun.config import Settings
from fangxun.db import session_scope
from fangxun.forecast import engine as fx_engine
from fangxun.forecast import flows, service
from fangxun.forecast.models import RunStatus
from fangxun.forecast.schemas import DesignRain, ForecastRunCreate
from fangxun.inundation import Hyetograph

RAIN = Hyetograph(times_s=[0.0, 1800.0], intensity_mm_h=[60.0, 0.0])


def test_coarser_district_keeps_its_terrain_for_subgrid(terrain_tif: Path) -> None:
    sub = fx_engine.build_district(str(terrain_tif), resolution_m=20, manning=0.03, drainage_mm_h=1)
    assert sub.subgrid_ratio == 2 and sub.shape == (N // 2, N // 2)
    assert sub.fine_elevation is not None and sub.fine_elevation.shape == (N, N)
    assert sub.fine_grid().cell_size == CELL
    plain = fx_engine.build_district(
        str(terrain_tif), resolution_m=20, manning=0.03, drainage_mm_h=1, subgrid=False
    )
    assert plain.subgrid_ratio == 1 and plain.fine_elevation is None
    native = fx_engine.build_district(
        str(terrain_tif), resolution_m=0, manning=0.03, drainage_mm_h=1
    )
    assert native.subgrid_ratio == 1
    lonlat = {"a": cell_lonlat(15, 12), "far": (120.0, 30.0)}
    assert fx_engine.points_to_cells(sub, lonlat) == {"a": (7, 6), "far": None}
    assert fx_engine.points_to_cells(sub, lonlat, fine=True) == {"a": (15, 12), "far": None}


def test_subgrid_member_reads_points_at_their_own_pixels(terrain_tif: Path) -> None:
    kw = {"manning": 0.03, "drainage_mm_h": 2.0}
    sub = fx_engine.build_district(str(terrain_tif), resolution_m=20, **kw)  # type: ignore[arg-type]
    native = fx_engine.build_district(str(terrain_tif), resolution_m=0, **kw)  # type: ignore[arg-type]
    spec = fx_engine.MemberSpec(
        rain=RAIN,
        horizon_s=3600.0,
        output_interval_s=120.0,
        gauges={"c": (7, 7), "f": (7, 6)},
        fine_gauges={"c": (15, 15), "f": (15, 12)},
        snapshot_s=(1800.0,),
    )
    res = fx_engine.run_member(sub, spec)
    assert res.max_depth.shape == (N // 2, N // 2) and res.arrival_s.shape == (N // 2, N // 2)
    assert abs(res.mass_error_m3) < 1e-3
    assert set(res.snapshots) == {1800.0, 3600.0}
    ref_spec = fx_engine.MemberSpec(
        rain=RAIN, horizon_s=3600.0, output_interval_s=120.0, gauges={"c": (15, 15), "f": (15, 12)}
    )
    ref = fx_engine.run_member(native, ref_spec)
    # the bowl's centre: the subgrid point reads its own pixel, close to the native run's
    for g in ("c", "f"):
        assert res.series[g].max() == pytest.approx(ref.series[g].max(), abs=0.03)
    np.testing.assert_array_equal(res.times_s, ref.times_s)
    # a warm start from the final depth holds the same water (1 s later, no rain)
    warm = fx_engine.MemberSpec(
        rain=Hyetograph([0.0], [0.0]),
        horizon_s=1.0,
        output_interval_s=1.0,
        gauges={},
        initial_depth=res.final_depth,
    )
    again = fx_engine.run_member(sub, warm)
    np.testing.assert_allclose(again.final_depth, res.final_depth, atol=2e-3)


def test_scheduled_style_ensemble_runs_on_subgrid(
    engine: Engine, fsettings: Settings, points: Points
) -> None:
    settings = fsettings.model_copy(update={"forecast_resolution_m": 20.0})
    with session_scope(engine) as session:
        run_id = service.create_run(
            session=session,
            run_in=ForecastRunCreate(
                rain=DesignRain(return_period_years=5, duration_s=3600.0),
                horizon_s=3600.0,
                members=3,
                seed=7,
                warm_start=False,
            ),
            actor=SYSTEM,
            settings=settings,
        ).id
    assert flows.execute_run(engine, run_id, settings, executor="serial") == RunStatus.done
    with session_scope(engine) as session:
        res = {
            r.point_id: r
            for r in service.point_results(session=session, run_id=run_id, actor=SYSTEM)
        }
        assert len(res[points.centre].member_peaks_cm) == 3
        assert res[points.centre].peak_depth_cm > res[points.rim].peak_depth_cm
