"""Model API: validation, outputs, doctest, lake at rest, inputs left untouched."""

from __future__ import annotations

import doctest
from typing import Any

import numpy as np
import pytest

import fangxun.inundation.model as model_module
from fangxun.inundation import Grid, GriddedRain, Horton, Hyetograph, Model, PointInflow


def test_doctest() -> None:
    result = doctest.testmod(model_module)
    assert result.attempted > 0 and result.failed == 0


def _grid(ny: int = 6, nx: int = 8) -> Grid:
    return Grid(np.zeros((ny, nx)), 5.0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"backend": "fortran"}, r"unknown backend 'fortran'.*numba.*numpy"),
        ({"dtype": "float16"}, r"dtype must be 'float32' or 'float64'"),
        ({"gauges": {"p1": (6, 0)}}, r"gauge 'p1' at \(row=6, col=0\) is outside the grid"),
        ({"gauges": {"p1": (1,)}}, r"gauge 'p1' must be given as \(row, col\)"),
        ({"manning": np.ones((2, 2))}, r"manning raster shape \(2, 2\)"),
        ({"manning": -0.1}, r"manning must be finite and > 0.*row=0, col=0"),
        ({"alpha": 1.5}, r"alpha must be in \(0, 1\]"),
        ({"theta": -0.1}, r"theta"),
        ({"boundary": "leaky"}, r"boundary for the north edge"),
        ({"boundary": {"up": "open"}}, r"unknown boundary edge"),
        ({"boundary": {"east": ("stage", float("nan"))}}, r"east edge"),
        ({"initial_depth": -1.0}, r"initial_depth must be finite and >= 0"),
        ({"drainage_mm_h": np.ones((6, 7))}, r"drainage_mm_h raster shape"),
        ({"rain": [0, 1]}, r"rain must be a Hyetograph"),
        ({"rain": GriddedRain([0.0], np.ones((1, 3, 3)))}, r"GriddedRain shape \(3, 3\)"),
        ({"inflows": [PointInflow(9, 9, [0.0], [1.0])]}, r"inflows\[0\] at \(row=9, col=9\)"),
        ({"infiltration": Horton(10.0, 20.0, 2.0)}, r"fc_mm_h must not exceed f0_mm_h"),
        ({"output_interval_s": 0.0}, r"output_interval_s must be a finite number > 0"),
        ({"depth_thresholds_m": (0.1, -0.2)}, r"depth_thresholds_m\[1\]"),
    ],
)
def test_bad_inputs_raise(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Model(_grid(), **kwargs)


def test_point_inflow_validation() -> None:
    with pytest.raises(ValueError, match=r"times_s\[1\] = 5.0 follows 10.0"):
        PointInflow(1, 1, [10.0, 5.0], [1.0, 2.0])
    with pytest.raises(ValueError, match="same length"):
        PointInflow(1, 1, [0.0, 5.0], [1.0])


def test_grid_type_and_end_time() -> None:
    with pytest.raises(ValueError, match="grid must be"):
        Model(np.zeros((3, 3)))  # type: ignore[arg-type]
    m = Model(_grid(), backend="numpy")
    m.run_until(10.0)
    with pytest.raises(ValueError, match="before the model time"):
        m.run_until(5.0)


def test_caller_arrays_untouched(make_terrain: Any) -> None:
    z = make_terrain(8, 9)
    h0 = np.full(z.shape, 0.1)
    n = np.full(z.shape, 0.03)
    z_c, h_c, n_c = z.copy(), h0.copy(), n.copy()
    m = Model(Grid(z, 10.0), manning=n, initial_depth=h0, backend="numpy")
    m.run_until(60.0)
    assert np.array_equal(z, z_c) and np.array_equal(h0, h_c) and np.array_equal(n, n_c)
    d = m.depth
    d[...] = 5.0
    assert m.depth.max() < 5.0


@pytest.mark.parametrize("backend", ["numpy", "numba"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_lake_at_rest_over_bumps(backend: str, dtype: str, make_terrain: Any) -> None:
    z = make_terrain(16, 20, seed=3, relief=0.6)
    level = float(z.max()) + 0.3  # every bump submerged ...
    z[5:8, 5:8] = level + 0.2  # ... except an island, which stays dry
    h0 = np.maximum(level - z, 0.0)
    # 2 m cells and ~1 m of water: ~2000 steps, enough for an unstable mode to grow from round-off
    m = Model(Grid(z, 2.0), initial_depth=h0, backend=backend, dtype=dtype)
    m.run_until(600.0)
    assert m.steps > 1000
    tol = 1e-12 if dtype == "float64" else 2e-5
    assert np.max(np.abs(m.qx_faces)) < tol
    assert np.max(np.abs(m.qy_faces)) < tol
    assert np.max(np.abs(m.depth - h0)) < tol
    assert np.all(m.depth[5:8, 5:8] == 0.0)


def test_default_alpha_theta_are_linearly_stable() -> None:
    m = Model(_grid(), backend="numpy")
    # 2-D checkerboard bound α <= √(θ/2) (0.689 for θ = 0.95); with implicit friction the
    # thin-sheet limit that once asked for α = 0.4 is gone; 6 % margin at the defaults
    assert m.alpha < (m.theta / 2.0) ** 0.5
    assert m.theta < 1.0  # the checkerboard mode is damped (by 2θ − 1 per step)


def test_outputs_and_series() -> None:
    z = np.zeros((10, 12))
    z[4:6, 4:6] = -1.0  # a pit that fills first
    rain = Hyetograph(times_s=[0.0, 1800.0], intensity_mm_h=[100.0, 0.0])
    m = Model(
        Grid(z, 10.0),
        rain=rain,
        backend="numba",
        gauges={"pit": (4, 4), "flat": (0, 0)},
        depth_thresholds_m=(0.02, 0.5),
        output_interval_s=300.0,
    )
    steps: list[float] = []
    m.run_until(2400.0, progress=lambda t, end: steps.append(t))
    assert steps[-1] == 2400.0 and 1800.0 in steps
    times, depth, speed = m.gauge_series("pit")
    assert list(times) == [0.0, 300.0, 600.0, 900.0, 1200.0, 1500.0, 1800.0, 2100.0, 2400.0]
    assert depth[0] == 0.0 and depth[-1] > 0.05 and np.all(speed >= 0.0)
    with pytest.raises(ValueError, match="unknown gauge 'nope'"):
        m.gauge_series("nope")
    # the pit collects water, so it crosses 2 cm before the flat corner does
    arrival = m.arrival_time(0.02)
    assert arrival[4, 4] < arrival[0, 0]
    assert np.isnan(m.arrival_time(0.5)[0, 0])
    assert m.time_above(0.02)[4, 4] > m.time_above(0.02)[0, 0] > 0.0
    with pytest.raises(ValueError, match="not tracked"):
        m.arrival_time(0.3)
    assert m.max_depth[4, 4] >= m.depth[4, 4]
    assert 0.0 < m.time_of_max_depth[4, 4] <= 2400.0
    t_area, area = m.flooded_area_series()
    assert t_area[0] == 0.0 and area[0] == 0.0 and area[-1] == pytest.approx(120 * 100.0)
    _, deep = m.flooded_area_series(0.5)
    assert deep.max() <= 4 * 100.0
    with pytest.raises(ValueError, match="flooded area is recorded"):
        m.flooded_area_series(0.33)
    series = m.mass_balance_series()
    assert [s["time_s"] for s in series] == list(times)
    assert set(series[-1]) >= {"rain", "inflow", "drainage", "infiltration", "outflow", "storage"}
    assert m.cell_updates == m.steps * 120
    assert m.qx.shape == (10, 12) and m.qy.shape == (10, 12) and m.speed.shape == (10, 12)
    assert np.allclose(m.water_level, z + m.depth)


def test_qy_is_positive_northward() -> None:
    z = np.zeros((10, 3))
    h0 = np.zeros((10, 3))
    h0[7:, :] = 1.0  # water in the south flows north
    m = Model(Grid(z, 10.0), initial_depth=h0, backend="numpy")
    m.run_until(5.0)
    assert m.qy[6, 1] > 0.0
    assert m.qy_faces[7, 1] < 0.0  # faces: positive southward


@pytest.mark.parametrize("backend", ["numpy", "numba"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_time_above_counts_every_step_that_ends_at_or_above_a_threshold(
    backend: str, dtype: str
) -> None:
    """Time above a threshold (kept at crossings only) equals the sum of the steps whose final
    depth is at or above it, followed step by step from outside: rain fills a closed flat box
    past three of four thresholds, drainage then takes it below two of them again."""
    thresholds = (0.01, 0.02, 0.03, 0.5)
    rain = Hyetograph(times_s=[0.0, 1200.0], intensity_mm_h=[120.0, 0.0])  # 40 mm, then dry
    m = Model(
        _grid(),
        rain=rain,
        drainage_mm_h=30.0,
        boundary="closed",
        backend=backend,
        dtype=dtype,
        fixed_dt_s=5.0,
        depth_thresholds_m=thresholds,
        initial_depth=0.005,
    )
    expected = np.zeros(len(thresholds))
    for step in range(1, 801):  # 5 s steps to 4000 s: 35 mm at 1200 s, 12 mm at the end
        m.run_until(5.0 * step)
        depth = float(m.depth[3, 4])
        expected += [5.0 if depth >= t else 0.0 for t in thresholds]
    tol = 1e-9 if dtype == "float64" else 0.05
    for t, want in zip(thresholds, expected, strict=True):
        got = m.time_above(t)
        np.testing.assert_allclose(got, want, rtol=0, atol=tol)
    assert expected[0] > expected[2] > 0.0 and expected[3] == 0.0  # up and down crossings happened
