"""Inputs of a forecast: nowcast decay, series files, terrain aggregation, drainage, point cells."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from conftest import CELL, NORTH, WEST, cell_lonlat
from fangxun.forecast import engine, rainsource
from fangxun.inundation.rain import EXAMPLE_FORMULA_UNVERIFIED


def test_nowcast_decays_exponentially() -> None:
    rain = rainsource.nowcast_rain([20.0, 40.0], horizon_s=7200.0, decay_s=3600.0, step_s=300.0)
    # i0 = 30 mm/h; depth over [0, T] = i0·τ·(1 − e^(−T/τ)).
    expect = 30.0 * (1.0 - math.exp(-2.0))
    assert rain.total_mm() == pytest.approx(expect, rel=1e-9)
    first = rain.depth_m(0.0, 300.0) * 1000.0
    assert first == pytest.approx(30.0 * (1 - math.exp(-300 / 3600)), rel=1e-9)
    assert rainsource.nowcast_rain([], horizon_s=3600.0, decay_s=3600.0).total_mm() == 0.0


def test_series_csv(tmp_path: Path) -> None:
    good = tmp_path / "rain.csv"
    good.write_text("time_s,intensity_mm_h\n0,10\n600,30\n1200,0\n", encoding="utf-8")
    step, values = rainsource.read_series_csv(good)
    assert (step, values) == (600.0, [10.0, 30.0, 0.0])
    assert rainsource.series_rain(step, values).total_mm() == pytest.approx(40.0 / 6.0)
    bad = tmp_path / "bad.csv"
    bad.write_text("time_s,intensity_mm_h\n0,10\n600,x\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad\.csv line 3"):
        rainsource.read_series_csv(bad)
    uneven = tmp_path / "uneven.csv"
    uneven.write_text("time_s,intensity_mm_h\n0,1\n600,1\n900,1\n", encoding="utf-8")
    with pytest.raises(ValueError, match="evenly spaced"):
        rainsource.read_series_csv(uneven)
    header = tmp_path / "header.csv"
    header.write_text("t,i\n0,1\n", encoding="utf-8")
    with pytest.raises(ValueError, match="time_s and intensity_mm_h"):
        rainsource.read_series_csv(header)


def test_aggregate_block_means_ignore_nodata() -> None:
    z = np.arange(16, dtype=float).reshape(4, 4)
    mask = np.zeros((4, 4), dtype=bool)
    mask[0, 0] = True
    mask[2:, 2:] = True
    coarse, cmask = engine.aggregate(z, mask, 2)
    assert coarse[0, 0] == pytest.approx((1 + 4 + 5) / 3)
    assert coarse[0, 1] == pytest.approx((2 + 3 + 6 + 7) / 4)
    assert cmask.tolist() == [[False, False], [False, True]]
    assert np.isnan(coarse[1, 1])
    # A 5 × 5 grid drops the last row and column.
    assert engine.aggregate(np.zeros((5, 5)), np.zeros((5, 5), bool), 2)[0].shape == (2, 2)


def test_build_district_at_a_coarser_resolution(terrain_tif: Path) -> None:
    native = engine.build_district(str(terrain_tif), resolution_m=0, manning=0.03, drainage_mm_h=1)
    coarse = engine.build_district(str(terrain_tif), resolution_m=20, manning=0.03, drainage_mm_h=1)
    assert native.shape == (30, 30) and coarse.shape == (15, 15)
    assert coarse.cell_size == 2 * CELL
    assert coarse.transform == (20.0, 0.0, WEST, 0.0, -20.0, NORTH)
    assert coarse.elevation[0, 0] == pytest.approx(native.elevation[:2, :2].mean(), rel=1e-6)
    with pytest.raises(ValueError, match="whole multiple"):
        engine.build_district(str(terrain_tif), resolution_m=15, manning=0.03, drainage_mm_h=1)
    # Hazard points land on the right cell at either resolution; far away → None.
    lonlat = {"a": cell_lonlat(15, 12), "far": (120.0, 30.0)}
    assert engine.points_to_cells(native, lonlat) == {"a": (15, 12), "far": None}
    assert engine.points_to_cells(coarse, lonlat)["a"] == (7, 6)


def test_drainage_capacity_is_the_design_intensity() -> None:
    f = EXAMPLE_FORMULA_UNVERIFIED
    cap = engine.drainage_capacity_mm_h(f, 1.0, 1800.0)
    big_a = f.a  # lg 1 = 0
    assert cap == pytest.approx(60.0 * big_a / (30.0 + f.b) ** f.n)
    assert engine.drainage_capacity_mm_h(f, 3.0, 1800.0) > cap
