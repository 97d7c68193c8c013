"""Mass conservation: the balance closes to 1e-9 of the rain in float64 and 1e-5 in float32."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from fangxun.inundation import Grid, GriddedRain, Horton, Hyetograph, Model, PointInflow
from fangxun.inundation.massbalance import MassBalance

TOL = {"float64": 1e-9, "float32": 1e-5}


@pytest.mark.parametrize("backend", ["numpy", "numba"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_closed_flat_box_holds_exactly_the_rain(backend: str, dtype: str) -> None:
    rain = Hyetograph(times_s=[0.0, 600.0, 1500.0], intensity_mm_h=[60.0, 15.0, 0.0])
    m = Model(Grid(np.full((12, 15), 37.0), 10.0), rain=rain, backend=backend, dtype=dtype)
    m.run_until(2000.0)
    expected_depth = rain.depth_m(0.0, 2000.0)  # 10 mm + 3.75 mm
    assert expected_depth == pytest.approx(0.01375)
    assert np.allclose(m.depth, expected_depth, rtol=TOL[dtype], atol=0.0)
    mb = m.mass_balance()
    assert mb["rain"] == pytest.approx(expected_depth * 180 * 100.0, rel=TOL[dtype])
    assert abs(mb["error"]) <= TOL[dtype] * mb["rain"]
    assert mb["outflow"] == 0.0


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_balance_closes_with_every_term(dtype: str, make_terrain: Any) -> None:
    z = make_terrain(20, 24, seed=5, relief=0.8)
    mask = np.zeros(z.shape, dtype=bool)
    mask[10:12, 3:6] = True  # a building: nodata
    rng = np.random.default_rng(0)
    field = rng.uniform(20.0, 80.0, size=(2, *z.shape))
    rain = GriddedRain([0.0, 900.0], field)
    m = Model(
        Grid(z + 100.0, 5.0, nodata_mask=mask),
        rain=rain,
        drainage_mm_h=np.where(rng.random(z.shape) < 0.2, 30.0, 0.0),
        infiltration=Horton(f0_mm_h=40.0, fc_mm_h=5.0, k_per_h=2.0),
        inflows=[
            PointInflow(2, 2, [0.0, 300.0], [0.05, 0.0]),
            PointInflow(15, 20, [600.0], [-0.02]),  # a pump
        ],
        boundary={"west": "open", "east": ("stage", 100.05), "north": "closed"},
        dtype=dtype,
        backend="numba",
        output_interval_s=120.0,
    )
    m.run_until(1800.0)
    series = m.mass_balance_series()
    assert len(series) == 16
    rain_total = series[-1]["rain"]
    expected_rain = float(field[0].sum() * 900 + field[1].sum() * 900) / 3.6e6 * 25.0
    # nodata cells get no rain
    expected_rain -= float(field[0][mask].sum() * 900 + field[1][mask].sum() * 900) / 3.6e6 * 25.0
    assert rain_total == pytest.approx(expected_rain, rel=1e-6)
    for rec in series:
        assert abs(rec["error"]) <= TOL[dtype] * max(rain_total, 1.0)
    last = series[-1]
    assert last["drainage"] > 0.0 and last["infiltration"] > 0.0
    # 15 m³ poured in; the pump takes at most 0.02 m³/s for 1200 s, and only what is there
    assert 15.0 - 24.0 <= last["inflow"] < 15.0
    assert np.all(m.depth[~mask] >= 0.0) and np.all(np.isnan(m.depth[mask]))


def test_massbalance_record_replaces_same_time() -> None:
    mb = MassBalance(initial_storage=2.0, rain=3.0, outflow=1.0)
    first = mb.record(0.0, 4.0)
    assert first["error"] == pytest.approx(0.0)
    mb.record(0.0, 4.5)
    assert len(mb.series) == 1 and mb.series[0]["error"] == pytest.approx(0.5)
