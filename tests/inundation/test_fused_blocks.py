"""The fused Numba step gives the same bits however the rows are split into blocks.

The numba backend sweeps row blocks (one per thread) in one pass, keeping the last rows' fluxes
and limiter factors in per-block buffers and reading the rows next to another block from a
snapshot taken before the step. These tests split the same run into different numbers of blocks
(one thread: blocks run one after another, so a block that read rows its neighbour has already
updated would give different bits; two threads: blocks run at the same time) and require
identical results.
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np
import pytest

from fangxun.inundation import Grid, Horton, Hyetograph, Model, PointInflow, _kernels

OUTPUTS = ("depth", "max_depth", "time_of_max_depth", "qx_faces", "qy_faces")


def _model(blocks: int | None, dtype: str, rain: bool, sinks: bool, bc: Any) -> Model:
    ny, nx = 37, 29
    rng = np.random.default_rng(7)
    y, x = np.mgrid[0:ny, 0:nx].astype(np.float64)
    z = 50.0 + 0.01 * x + 0.1 * np.sin(y / 2.5) + rng.normal(0, 0.04, (ny, nx))
    h0 = np.where(rng.random((ny, nx)) < 0.05, 0.3, 0.0)
    kwargs: dict[str, Any] = {
        "manning": 0.03,
        "initial_depth": h0,
        "boundary": bc,
        "dtype": dtype,
        "inflows": [PointInflow(18, 3, [0.0, 100.0], [0.5, 0.0], "linear")],
    }
    if rain:  # every cell active while it rains; afterwards wet-region tracking takes over
        kwargs["rain"] = Hyetograph([0.0, 60.0], [80.0, 0.0])
    if sinks:
        kwargs["drainage_mm_h"] = 5.0
        kwargs["infiltration"] = Horton(f0_mm_h=20.0, fc_mm_h=5.0, k_per_h=2.0)
    m = Model(Grid(z, 5.0), backend="numba", **kwargs)
    m._backend.blocks = blocks  # type: ignore[attr-defined]
    return m


def _assert_same(a: Model, b: Model) -> None:
    assert a.steps == b.steps
    for name in OUTPUTS:
        np.testing.assert_array_equal(getattr(b, name), getattr(a, name), err_msg=name)
    for thr in a.depth_thresholds_m:
        np.testing.assert_array_equal(b.arrival_time(thr), a.arrival_time(thr))
        np.testing.assert_array_equal(b.time_above(thr), a.time_above(thr))
    assert b.mass_balance() == a.mass_balance()


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize(("rain", "sinks", "bc"), [(True, False, "open"), (False, True, "closed")])
def test_blocks_one_after_another_give_the_same_bits(
    dtype: str, rain: bool, sinks: bool, bc: str
) -> None:
    threads = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        ref = _model(1, dtype, rain, sinks, bc)
        ref.run_until(200.0)
        for blocks in (2, 3, 7, 36):  # 36 blocks of 37 rows: blocks of one row
            m = _model(blocks, dtype, rain, sinks, bc)
            m.run_until(200.0)
            _assert_same(ref, m)
    finally:
        numba.set_num_threads(threads)


@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="needs two Numba threads")
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_blocks_at_the_same_time_give_the_same_bits(
    dtype: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_kernels, "SMALL_GRID", 0)  # two threads even on this small grid
    threads = numba.get_num_threads()
    numba.set_num_threads(2)
    try:
        ref = _model(1, dtype, True, False, "open")
        ref.run_until(200.0)
        m = _model(None, dtype, True, False, "open")  # one block per thread
        m.run_until(200.0)
        _assert_same(ref, m)
    finally:
        numba.set_num_threads(threads)
