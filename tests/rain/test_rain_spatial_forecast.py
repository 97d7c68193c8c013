"""Spatial rain in forecast runs: a synthetic rain cell moving across the district drives the
run through the fallback chain, and the forecast water follows the cell's track instead of
falling evenly; ensemble members run on the nowcast ensemble's own fields."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from pyproj import Transformer
from rain_synthetic import CRS4547, T0, moving_frames
from sqlalchemy import Engine

from fangxun.audit.service import SystemActor
from fangxun.config import Settings
from fangxun.db import session_scope
from fangxun.forecast import engine as fengine
from fangxun.forecast import flows, service
from fangxun.forecast.models import RunPurpose, RunStatus
from fangxun.forecast.schemas import ForecastRunCreate, NowcastRain
from fangxun.hazards import service as hazards_service
from fangxun.hazards.models import HazardKind
from fangxun.hazards.schemas import HazardPointCreate, Thresholds
from fangxun.org.models import UnitKind
from fangxun.rain import service as rain_service
from fangxun.rain.chain import DistrictGrid, observed_rain
from rainkit import GriddedRain

SYSTEM = SystemActor(username="spatial-rain-tests")
# A flat 20 × 20 km district of 500 m cells (radar columns 40–60, rows 25–45). The synthetic
# cell is at radar (36, 33) at the issue time and moves 2 columns east and 1 row south per
# 5 min, so its track crosses the district from the middle of the west edge to the south-east
# corner; the north-east corner is 15 km or more from it.
WEST, NORTH, CELL, N = 540_000.0, 3_825_000.0, 500.0, 40
TRANSFORM = Affine(CELL, 0.0, WEST, 0.0, -CELL, NORTH)
ISSUED = T0 + timedelta(minutes=15)
ON_TRACK = (20, 20)  # radar (50, 35): the track's row at column 50 is 40 → 2.5 km away
FAR = (2, 37)  # radar (58.5, 26): ≥ 16 km from the track


def lonlat(row: int, col: int) -> tuple[float, float]:
    tr = Transformer.from_crs("EPSG:4547", "EPSG:4326", always_xy=True)
    lon, lat = tr.transform(WEST + (col + 0.5) * CELL, NORTH - (row + 0.5) * CELL)
    return float(lon), float(lat)


@pytest.fixture
def flat_settings(settings: Settings, tmp_path: Path) -> Settings:
    path = tmp_path / "flat.tif"
    with rasterio.open(
        path, "w", driver="GTiff", height=N, width=N, count=1, dtype="float32",
        crs="EPSG:4547", transform=TRANSFORM, nodata=-9999.0,
    ) as dst:  # fmt: skip
        dst.write(np.full((1, N, N), 50.0, np.float32))
    return settings.model_copy(
        update={
            "forecast_terrain_path": path,
            "forecast_backend": "numpy",
            "forecast_drainage_return_period_years": 0.1,
            "forecast_output_interval_s": 300.0,
            "rain_radar_feed": "radar",
        }
    )


@pytest.fixture
def two_points(engine: Engine, make_unit: object) -> dict[str, int]:
    unit = make_unit("FXR", UnitKind.district, name_zh="雷达区")  # type: ignore[operator]
    ids = {}
    with session_scope(engine) as session:
        for name, (r, c) in {"track": ON_TRACK, "far": FAR}.items():
            lon, lat = lonlat(r, c)
            ids[name] = hazards_service.create_point(
                session=session,
                point_in=HazardPointCreate(
                    code=f"SR-{name}", name=f"雷达点{name}", kind=HazardKind.low_lying_road,
                    lon=lon, lat=lat, unit_id=unit,
                    thresholds_cm=Thresholds(blue=0.5, yellow=1.0, orange=2.0, red=5.0),
                ),
                actor=SYSTEM,
            ).id  # fmt: skip
    return ids


def _run(
    engine: Engine,
    settings: Settings,
    members: int,
    issued=ISSUED,
    frames: int = 4,  # type: ignore[no-untyped-def]
) -> int:
    with session_scope(engine) as session:
        for f in moving_frames(frames):
            rain_service.store_frame(
                session=session, data_dir=Path(settings.data_dir), feed="radar", frame=f,
                importer="test",
            )  # fmt: skip
        run = service.create_run(
            session=session,
            run_in=ForecastRunCreate(
                rain=NowcastRain(), horizon_s=3600.0, members=members,
                purpose=RunPurpose.operational,
            ),
            actor=SYSTEM,
            settings=settings,
        )  # fmt: skip
        run.issued_at = issued
        run_id = run.id
    assert flows.execute_run(engine, run_id, settings, executor="serial") == RunStatus.done
    return run_id


def test_forecast_water_follows_the_moving_cell(
    engine: Engine, flat_settings: Settings, two_points: dict[str, int]
) -> None:
    run_id = _run(engine, flat_settings, members=1)
    with session_scope(engine) as session:
        run = service.get_run(session=session, run_id=run_id)
        assert run.summary is not None
        rain = run.summary["rain"]
        assert rain["source"] == "radar_nowcast" and rain["spatial"] is True
        assert rain["age_s"] == 0.0  # the last frame is at the issue time
        assert "rain: radar_nowcast" in (run.message or "")
        peaks = {
            p.point_id: p.peak_depth_cm
            for p in service.point_results(session=session, run_id=run_id, actor=SYSTEM)
        }
        out = Path(flat_settings.data_dir, run.output_dir or "")
    # the point under the track ponds; the one 16 km away stays (nearly) dry
    assert peaks[two_points["track"]] > 0.5
    assert peaks[two_points["far"]] < 0.2 * peaks[two_points["track"]]
    with rasterio.open(out / "max_depth.tif") as src:
        depth = np.nan_to_num(src.read(1))
    # the water lies along the track: its depth-weighted centre is on the line through the
    # cell's positions (radar row = 33 + (col − 36)/2), and the field is far from uniform
    rows, cols = np.mgrid[0:N, 0:N]
    w = depth / depth.sum()
    col_radar = 40 + (w * (cols + 0.5)).sum() / 2.0
    row_radar = 25 + (w * (rows + 0.5)).sum() / 2.0
    assert abs(row_radar - (33 + (col_radar - 36) / 2.0)) < 2.5
    assert depth.max() > 5 * np.percentile(depth, 25)


def test_ensemble_members_run_on_the_nowcast_members(
    engine: Engine, flat_settings: Settings, two_points: dict[str, int]
) -> None:
    run_id = _run(engine, flat_settings, members=3)
    with session_scope(engine) as session:
        run = service.get_run(session=session, run_id=run_id)
        assert run.summary is not None
        assert run.summary["rain"]["ensemble_members"] == 2
        assert "steps member" in run.summary["rain"]["detail"]
        # members driven by the STEPS ensemble are not perturbed again
        assert run.summary["members"][1:] == [{"scale": 1.0, "shift_s": 0.0}] * 2
        track = next(
            p
            for p in service.point_results(session=session, run_id=run_id, actor=SYSTEM)
            if p.point_id == two_points["track"]
        )
        assert len(track.member_peaks_cm) == 3
        assert len(set(track.member_peaks_cm)) == 3  # three different rain fields


def test_state_before_the_forecast_is_brought_forward_under_observed_rain(
    engine: Engine, flat_settings: Settings, two_points: dict[str, int]
) -> None:
    first = _run(engine, flat_settings, members=1, frames=8)
    # 20 min later: the first run's nearest saved state is at 15 min, 5 min behind the start
    second = _run(engine, flat_settings, 1, issued=ISSUED + timedelta(minutes=20), frames=8)
    with session_scope(engine) as session:
        run = service.get_run(session=session, run_id=second)
        assert run.warm_start_run_id == first
        assert "brought 300 s forward under observed rain (radar: 1 raw frame(s)" in (
            run.message or ""
        )
        pts = {
            (r, p.point_id): p
            for r in (first, second)
            for p in service.point_results(session=session, run_id=r, actor=SYSTEM)
        }
    before = pts[(first, two_points["track"])]
    at_900 = before.depth_cm[before.times_s.index(900.0)]
    start = pts[(second, two_points["track"])].depth_cm[0]
    # the state at 15 min, plus the rain observed over 08:30–08:35, not the forecast's
    assert start > 0.0 and start != at_900


def test_perturbed_gridded_rain_is_scaled_and_shifted() -> None:
    f = np.arange(2 * 2 * 3, dtype=float).reshape(2, 2, 3)
    rain = GriddedRain([0.0, 600.0], f)
    later = fengine.perturb_gridded(rain, scale=2.0, shift_s=120.0)
    assert later.times_s.tolist() == [0.0, 120.0, 720.0]
    assert later.intensity_mm_h[0].max() == 0.0
    np.testing.assert_allclose(later.intensity_mm_h[1:], 2.0 * f)
    earlier = fengine.perturb_gridded(rain, scale=1.0, shift_s=-120.0)
    assert earlier.times_s.tolist() == [0.0, 480.0]
    np.testing.assert_allclose(earlier.depth_m_field(0, 480), f[0] * 480 / 3.6e6)
    dropped = fengine.perturb_gridded(rain, scale=1.0, shift_s=-700.0)
    assert dropped.times_s.tolist() == [0.0]
    np.testing.assert_allclose(dropped.intensity_mm_h[0], f[1])


GRID = DistrictGrid(CRS4547, TRANSFORM, (N, N))


def test_observed_rain_from_radar_where_held(db_session, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    for f in moving_frames():
        rain_service.store_frame(
            session=db_session, data_dir=tmp_path, feed="radar", frame=f, importer="test"
        )
    obs = observed_rain(
        session=db_session, data_dir=tmp_path, grid=GRID, start=T0, end=ISSUED,
        radar_feed="radar",
    )  # fmt: skip
    assert obs.source == "radar"
    assert obs.times_s == [0.0, 300.0, 600.0]
    assert obs.intensity_mm_h.shape == (3, N, N)
    # the frame valid at 08:05 (cell at radar (32, 31)) lights the district's west edge least
    assert obs.intensity_mm_h[0].max() < obs.intensity_mm_h[2].max()


def test_gauges_interpolated_by_inverse_distance() -> None:
    from fangxun.rain.adjust import GaugeRain
    from fangxun.rain.chain import idw_gauges

    west = GaugeRain("W", *lonlat(20, 0), 30.0)
    east = GaugeRain("E", *lonlat(20, 39), 0.0)
    field = idw_gauges([west, east], GRID)
    assert field.shape == (N, N)
    assert field[20, 0] == pytest.approx(30.0, rel=0.02)
    assert field[20, 39] == pytest.approx(0.0, abs=0.6)
    assert field[20, 10] > field[20, 20] > field[20, 30]  # decreasing away from the wet gauge


def test_run_keeps_its_rain_for_the_map_and_is_scored_against_later_radar(
    engine: Engine, flat_settings: Settings, two_points: dict[str, int]
) -> None:
    from fangxun.forecast.engine import RAIN_SCALE_MM_H, rain_rgba

    run_id = _run(engine, flat_settings, members=1, frames=12)  # radar to 08:55 held
    with session_scope(engine) as session:
        run = service.get_run(session=session, run_id=run_id)
        assert run.summary is not None
        assert run.summary["rain_frames"] and run.summary["radar_now"]
        for t in run.summary["frames_s"]:
            service.run_file(
                session=session, run_id=run_id, settings=flat_settings, name=f"rain_{t:08.0f}.png"
            )
        service.run_file(
            session=session, run_id=run_id, settings=flat_settings, name="radar_now.png"
        )
        with pytest.raises(Exception, match="no file"):
            service.run_file(
                session=session, run_id=run_id, settings=flat_settings, name="rain_x.png"
            )
        # 30 min after the issue the radar frame of 08:45 has arrived: the run is scored
        skill = service.nowcast_skill(
            session=session, settings=flat_settings, now=T0 + timedelta(hours=2)
        )
    [row] = [r for r in skill if r["run_id"] == run_id]
    assert row["source"] == "radar_nowcast"
    assert row["csi"] is not None and 0.3 < row["csi"] <= 1.0
    # the colour scale: transparent below its first step, one colour per step above
    img = rain_rgba(np.array([[0.0, RAIN_SCALE_MM_H[0]], [15.0, 500.0]]))
    assert img[0, 0, 3] == 0 and img[0, 1, 3] > 0
    assert len({tuple(img[0, 1]), tuple(img[1, 0]), tuple(img[1, 1])}) == 3


def test_radar_is_cut_to_the_district_and_its_margin_before_the_nowcast() -> None:
    from fangxun.rain.chain import crop_to

    frames = moving_frames(2)
    cut = crop_to(frames, GRID, margin_m=10_000.0)
    # the district spans radar columns 40–60 and rows 25–45; 10 km more on each side
    assert cut[0].shape == (40, 40)
    assert cut[0].transform.c == 530_000.0 and cut[0].transform.f == 3_835_000.0
    np.testing.assert_array_equal(cut[1].rate_mm_h, frames[1].rate_mm_h[15:55, 30:70])
    # a margin that covers most of the frame leaves the frames whole
    assert crop_to(frames, GRID, margin_m=60_000.0)[0].shape == frames[0].shape
