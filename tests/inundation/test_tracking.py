"""Wet-region tracking gives the same answer as a full update; nodata is a closed mask; EA5 smoke.

Tracking (``Model(track_wet=True)``) computes only the wet cells and their neighbours while no
rain falls. These tests run the same case with and without it and require the same bits
(NumPy reference and Numba, float64 and float32), then check the nodata mask and a small piece
of the real EA5 terrain.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fangxun.inundation import Grid, Horton, Hyetograph, Model, PointInflow
from fangxun.inundation.drainage import shared_inflow

EA5 = Path(__file__).resolve().parents[2].parent / "shared" / "reference" / "ea5"

OUTPUTS = ("depth", "max_depth", "time_of_max_depth", "qx_faces", "qy_faces")


def _terrain(ny: int, nx: int, seed: int) -> Any:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:ny, 0:nx].astype(np.float64)
    z = 0.01 * x + 0.2 * np.sin(y / 3.0 + rng.uniform(0, 6)) + rng.normal(0, 0.05, (ny, nx))
    return z + rng.uniform(0, 200)  # a datum far from 0, like real terrain


def _pair(track_kwargs: dict[str, Any], **kwargs: Any) -> tuple[Model, Model]:
    return Model(track_wet=False, **kwargs), Model(track_wet=True, **kwargs, **track_kwargs)


def _assert_same(a: Model, b: Model, thresholds: tuple[float, ...]) -> None:
    assert a.steps == b.steps
    for name in OUTPUTS:
        np.testing.assert_array_equal(getattr(b, name), getattr(a, name), err_msg=name)
    for thr in thresholds:
        np.testing.assert_array_equal(b.arrival_time(thr), a.arrival_time(thr))
        np.testing.assert_array_equal(b.time_above(thr), a.time_above(thr))
    for name in a.gauges.names:
        for sa, sb in zip(a.gauge_series(name), b.gauge_series(name), strict=True):
            np.testing.assert_array_equal(sb, sa)
    ma, mb = a.mass_balance(), b.mass_balance()
    for key in ("inflow", "outflow", "rain", "drainage", "infiltration", "storage"):
        assert mb[key] == pytest.approx(ma[key], rel=1e-12, abs=1e-9), key


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    ny=st.integers(3, 24),
    nx=st.integers(3, 40),
    seed=st.integers(0, 10_000),
    backend=st.sampled_from(["numpy", "numba"]),
    dtype=st.sampled_from(["float64", "float32"]),
    bc=st.sampled_from(["closed", "open", {"west": "open"}]),
    rain=st.booleans(),
    sinks=st.booleans(),
)
def test_tracking_equals_full_update(
    ny: int,
    nx: int,
    seed: int,
    backend: str,
    dtype: str,
    bc: Any,
    rain: bool,
    sinks: bool,
) -> None:
    rng = np.random.default_rng(seed)
    z = _terrain(ny, nx, seed)
    mask = rng.random((ny, nx)) < 0.1
    free = np.argwhere(~mask)
    if free.size == 0:
        return
    h0 = np.zeros((ny, nx))
    for r, c in free[rng.choice(len(free), size=min(2, len(free)), replace=False)]:
        h0[r, c] = rng.uniform(0.05, 0.5)  # a couple of wet cells, the rest dry
    src = free[rng.integers(len(free))]
    inflows = [PointInflow(int(src[0]), int(src[1]), [0.0, 60.0, 200.0], [0.0, 0.4, 0.0], "linear")]
    kwargs: dict[str, Any] = {
        "grid": Grid(z, 5.0, nodata_mask=mask),
        "manning": 0.03,
        "inflows": inflows,
        "initial_depth": h0,
        "boundary": bc,
        "backend": backend,
        "dtype": dtype,
        "output_interval_s": 30.0,
        "gauges": {"g": (int(src[0]), int(src[1]))},
    }
    if rain:  # rain (every cell active) for a while, then tracking takes over
        kwargs["rain"] = Hyetograph([0.0, 40.0], [60.0, 0.0])
    if sinks:
        kwargs["drainage_mm_h"] = 5.0
        kwargs["infiltration"] = Horton(f0_mm_h=20.0, fc_mm_h=5.0, k_per_h=2.0)
    a, b = _pair({}, **kwargs)
    a.run_until(300.0)
    b.run_until(300.0)
    _assert_same(a, b, a.depth_thresholds_m)
    assert b.active_cell_updates <= a.active_cell_updates == a.cell_updates


@pytest.mark.parametrize("backend", ["numpy", "numba"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_tracking_skips_dry_cells_with_the_same_answer(backend: str, dtype: str) -> None:
    """A flood spreading from one corner of a dry valley: most cell-steps are skipped."""
    ny, nx = 40, 60
    y, x = np.mgrid[0:ny, 0:nx].astype(np.float64)
    z = 100.0 + 0.02 * x + 0.05 * np.abs(y - 20)  # a valley rising eastward
    inflow = shared_inflow(
        [(19, 1), (20, 1), (21, 1)], [0.0, 100.0, 400.0], [0.0, 6.0, 0.0], "linear"
    )
    kw: dict[str, Any] = {"grid": Grid(z, 10.0), "manning": 0.04, "inflows": inflow}
    a, b = _pair({}, backend=backend, dtype=dtype, gauges={"mid": (20, 10)}, **kw)
    a.run_until(600.0)
    b.run_until(600.0)
    _assert_same(a, b, a.depth_thresholds_m)
    assert b.active_cell_updates < 0.5 * b.cell_updates
    mb = b.mass_balance()
    tol = 1e-12 if dtype == "float64" else 1e-6  # the depth a float32 cell actually gained
    assert mb["inflow"] == pytest.approx(0.5 * 6.0 * 400.0, rel=tol)  # the hydrograph's area
    assert abs(mb["error"]) <= tol * mb["inflow"]


def test_stage_edge_turns_tracking_off() -> None:
    z = np.full((6, 8), 1.0)
    m = Model(Grid(z, 5.0), boundary={"west": ("stage", 1.3)}, backend="numpy")
    m.run_until(30.0)
    assert m.active_cell_updates == m.cell_updates
    assert float(np.nanmax(m.depth)) > 0.0  # water came in along the dry edge


@pytest.mark.parametrize("backend", ["numpy", "numba"])
@pytest.mark.parametrize("track", [False, True])
def test_nodata_mask_is_closed(backend: str, track: bool) -> None:
    """A wall of nodata cells: water on one side never crosses; faces touching nodata carry 0."""
    ny, nx = 12, 16
    z = np.zeros((ny, nx))
    mask = np.zeros((ny, nx), dtype=bool)
    mask[:, 7] = True  # the wall
    mask[0, :3] = True  # and a notch at the edge
    h0 = np.zeros((ny, nx))
    h0[:, :7] = 1.0
    h0[mask] = 0.0
    m = Model(
        Grid(z, 5.0, nodata_mask=mask),
        initial_depth=h0,
        inflows=[PointInflow(5, 3, [0.0], [0.5])],
        backend=backend,
        track_wet=track,
    )
    m.run_until(300.0)
    d = m.depth
    assert np.all(np.isnan(d[mask]))
    assert np.all(d[:, 8:] == 0.0)  # the far side stays dry
    qx = m.qx_faces
    assert np.all(qx[:, 7] == 0.0) and np.all(qx[:, 8] == 0.0)  # both faces of the wall
    qy = m.qy_faces
    assert np.all(qy[0:2, :3] == 0.0)
    mb = m.mass_balance()
    assert mb["inflow"] == pytest.approx(150.0, rel=1e-12)
    assert abs(mb["error"]) <= 1e-10 * (mb["inflow"] + mb["initial_storage"])


def test_shared_inflow_splits_the_hydrograph() -> None:
    parts = shared_inflow(
        [(0, 0), (0, 1), (1, 1), (2, 0)], [0.0, 100.0, 300.0], [0.0, 8.0, 0.0], "linear"
    )
    assert [p.rate_m3_s(50.0) for p in parts] == [1.0] * 4
    assert sum(p.volume_m3(0.0, 100.0) for p in parts) == pytest.approx(400.0)
    m = Model(Grid(np.zeros((3, 3)), 10.0), inflows=parts, backend="numpy")
    m.run_until(500.0)
    assert m.mass_balance()["inflow"] == pytest.approx(0.5 * 8.0 * 300.0, rel=1e-12)
    with pytest.raises(ValueError, match="no cells"):
        shared_inflow([], [0.0], [1.0])
    with pytest.raises(ValueError, match=r"\(row=0, col=1\) is given twice"):
        shared_inflow([(0, 1), (0, 1)], [0.0], [1.0])
    with pytest.raises(ValueError, match="interpolation must be one of"):
        shared_inflow([(0, 1)], [0.0], [1.0], interpolation="cubic")
    with pytest.raises(ValueError, match=r"inflows\[0\] at \(row=5, col=0\) is outside"):
        Model(Grid(np.zeros((3, 3)), 10.0), inflows=shared_inflow([(5, 0)], [0.0], [1.0]))


def test_linear_inflow_volume_across_a_jump() -> None:
    f = PointInflow(0, 0, [0.0, 10.0, 10.5, 20.0], [0.0, 10.0, 0.0, 0.0], "linear")
    assert f.rate_m3_s(5.0) == 5.0 and f.rate_m3_s(10.25) == 5.0 and f.rate_m3_s(30.0) == 0.0
    assert f.volume_m3(0.0, 10.0) == pytest.approx(50.0)
    assert f.volume_m3(10.0, 10.5) == pytest.approx(2.5)
    step = PointInflow(0, 0, [0.0, 10.0], [2.0, 0.0])
    assert step.volume_m3(0.0, 10.0) == 20.0 and step.volume_m3(10.0, 20.0) == 0.0


@pytest.mark.skipif(not (EA5 / "ea5-10m-dem.asc.gz").exists(), reason="EA5 data not present")
def test_ea5_subset_smoke() -> None:
    """The first 10 minutes of EA5 on the part of the real terrain around the inflow line."""
    import csv

    from fangxun.inundation.gauges import cells_of_xy
    from fangxun.inundation.io import read_terrain

    full = read_terrain(EA5 / "ea5-10m-dem.asc.gz")
    with (EA5 / "inflow_points.csv").open(encoding="utf-8") as fh:
        pts = [(float(r["x_m"]), float(r["y_m"])) for r in csv.DictReader(fh)]
    cells = cells_of_xy(full, pts)
    assert isinstance(cells, list) and len(cells) == 20
    r0, c0 = 1080, 90
    sub = Grid(
        full.elevation[r0:, c0 : c0 + 220],
        full.cell_size,
        nodata_mask=full.nodata_mask[r0:, c0 : c0 + 220],
    )
    local = [(r - r0, c - c0) for r, c in cells]
    # the real hydrograph, scaled down so the water stays inside the window in 10 minutes
    inflow = shared_inflow(local, [0.0, 300.0, 600.0], [0.0, 0.0, 300.0], "linear")
    runs = []
    for track in (False, True):
        m = Model(sub, manning=0.04, inflows=inflow, dtype="float32", track_wet=track)
        m.run_until(600.0)
        runs.append(m)
    a, b = runs
    _assert_same(a, b, a.depth_thresholds_m)
    mb = b.mass_balance()
    assert mb["inflow"] == pytest.approx(0.5 * 300.0 * 300.0, rel=1e-6)
    assert abs(mb["error"]) <= 1e-6 * mb["inflow"]
    assert b.active_cell_updates < 0.5 * b.cell_updates
    wet = np.nan_to_num(b.depth) > 0.01
    assert 20 < wet.sum() < 0.5 * sub.n_active  # spread beyond the inflow cells, not everywhere
