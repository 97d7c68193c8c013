"""Sinks and sources: drainage capacity, Horton infiltration, point inflows and withdrawals."""

from __future__ import annotations

import math

import numpy as np
import pytest

from fangxun.inundation import Grid, Horton, Hyetograph, Model, PointInflow
from fangxun.inundation.drainage import MM_H_TO_M_S, drainage_rate_m_s


def _flat(n: int = 6) -> Grid:
    return Grid(np.zeros((n, n)), 10.0)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_drainage_takes_its_capacity_then_never_more_than_there_is(backend: str) -> None:
    rain = Hyetograph([0.0, 600.0], [60.0, 0.0])  # 10 mm in 10 min
    m = Model(_flat(), rain=rain, drainage_mm_h=20.0, backend=backend, output_interval_s=60.0)
    m.run_until(600.0)
    # while it rains, 20 of the 60 mm/h go down the drains
    assert m.depth.mean() == pytest.approx(40.0 / 6.0 / 1000.0, rel=1e-9)
    m.run_until(3600.0)
    assert np.all(m.depth == 0.0)  # emptied, and no negative depth
    mb = m.mass_balance()
    assert mb["drainage"] == pytest.approx(mb["rain"], rel=1e-9)  # took all, not more
    assert abs(mb["error"]) < 1e-9 * mb["rain"]


def test_huge_drain_never_over_removes() -> None:
    rain = Hyetograph([0.0, 60.0], [30.0, 0.0])
    m = Model(_flat(), rain=rain, drainage_mm_h=1e6, backend="numba")
    m.run_until(120.0)
    mb = m.mass_balance()
    assert np.all(m.depth == 0.0)
    assert mb["drainage"] == pytest.approx(mb["rain"], rel=1e-12)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_horton_under_ponded_water_follows_the_curve(backend: str) -> None:
    f0, fc, k = 60.0, 10.0, 3.0  # mm/h, mm/h, 1/h
    m = Model(
        _flat(),
        initial_depth=0.5,  # ample water: infiltration runs at capacity
        infiltration=Horton(f0, fc, k),
        backend=backend,
        fixed_dt_s=5.0,
    )
    t = 3600.0
    m.run_until(t)
    kk = k / 3600.0
    exact_mm = fc * t / 3600.0 + (f0 - fc) / 3600.0 / kk * (1.0 - math.exp(-kk * t))
    got_mm = m.mass_balance()["infiltration"] / (36 * 100.0) * 1000.0
    assert got_mm == pytest.approx(exact_mm, rel=5e-3)


def test_horton_dry_cell_keeps_its_capacity() -> None:
    m = Model(_flat(), infiltration=Horton(60.0, 10.0, 3.0), backend="numba")
    m.run_until(3600.0)
    assert np.allclose(m._state.infil_f, 60.0 * MM_H_TO_M_S)
    assert m.mass_balance()["infiltration"] == 0.0


def test_horton_rasters_and_validation() -> None:
    f0, fc, k = Horton(np.full((2, 2), 50.0), 5.0, 1.0).rasters((2, 2))
    assert f0.shape == (2, 2) and fc[0, 0] == pytest.approx(5.0 * MM_H_TO_M_S)
    assert k[1, 1] == pytest.approx(1.0 / 3600.0)
    with pytest.raises(ValueError, match=r"Horton f0_mm_h must be finite and >= 0.*row=0, col=1"):
        Horton(np.array([[1.0, -1.0], [1.0, 1.0]]), 0.0, 1.0).rasters((2, 2))
    with pytest.raises(ValueError, match=r"drainage_mm_h must be finite and >= 0"):
        drainage_rate_m_s(np.nan, (2, 2))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_point_inflow_volume(dtype: str) -> None:
    inflow = PointInflow(2, 3, times_s=[100.0, 400.0, 700.0], discharge_m3_s=[0.5, 0.25, 0.0])
    m = Model(_flat(8), inflows=[inflow], backend="numba", dtype=dtype, output_interval_s=50.0)
    m.run_until(1000.0)
    expected = 0.5 * 300.0 + 0.25 * 300.0
    storage = float(np.nansum(m.depth)) * 100.0
    tol = 1e-9 if dtype == "float64" else 1e-5
    assert storage == pytest.approx(expected, rel=tol)
    assert m.mass_balance()["inflow"] == pytest.approx(expected, rel=tol)
    assert inflow.rate_m3_s(50.0) == 0.0 and inflow.rate_m3_s(1e9) == 0.0
    assert inflow.next_change_s(100.0) == 400.0 and math.isinf(inflow.next_change_s(700.0))


def test_withdrawal_takes_at_most_what_is_there() -> None:
    pump = PointInflow(0, 0, [0.0], [-10.0])  # far more than the cell can supply
    m = Model(_flat(4), initial_depth=0.1, inflows=[pump], backend="numba")
    m.run_until(3600.0)
    mb = m.mass_balance()
    assert np.all(m.depth >= 0.0)
    assert -mb["inflow"] <= mb["initial_storage"] + 1e-9
    # nearly pumped dry (thin films crawl towards the pump under friction)
    assert -mb["inflow"] > 0.9 * mb["initial_storage"]
    assert abs(mb["error"]) < 1e-9 * mb["initial_storage"]
