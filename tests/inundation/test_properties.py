"""Property tests: depths never negative, mirror-symmetric terrain gives a mirrored answer."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fangxun.inundation import Grid, Hyetograph, Model, PointInflow


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    ny=st.integers(1, 8),
    nx=st.integers(1, 8),
    seed=st.integers(0, 10_000),
    relief=st.floats(0.0, 5.0),
    dtype=st.sampled_from(["float64", "float32"]),
    bc=st.sampled_from(["closed", "open", ("stage", 0.5)]),
)
def test_depth_never_negative(
    ny: int, nx: int, seed: int, relief: float, dtype: str, bc: object
) -> None:
    rng = np.random.default_rng(seed)
    z = rng.uniform(0.0, relief, (ny, nx))  # steep, rough terrain stresses the limiter
    h0 = np.where(rng.random((ny, nx)) < 0.5, rng.uniform(0, 2.0, (ny, nx)), 0.0)
    m = Model(
        Grid(z, 1.0),
        manning=0.01,
        initial_depth=h0,
        rain=Hyetograph([0.0, 30.0], [500.0, 0.0]),
        drainage_mm_h=rng.uniform(0.0, 5000.0, (ny, nx)),
        inflows=[PointInflow(0, 0, [0.0], [-5.0])],  # a pump stronger than any cell can feed
        boundary=bc,  # type: ignore[arg-type]
        backend="numba",
        dtype=dtype,
        alpha=1.0,
        theta=0.5,
        output_interval_s=10.0,
    )
    m.run_until(60.0)
    for rec in m.mass_balance_series():
        assert rec["storage"] >= 0.0
    assert np.all(m.depth >= 0.0) and np.all(np.isfinite(m.depth))
    assert np.all(m.max_depth >= 0.0)


def test_mirror_symmetric_terrain_gives_mirrored_answer() -> None:
    ny, nx = 15, 16
    y, x = np.mgrid[0:ny, 0:nx].astype(float)
    xc = (nx - 1) / 2.0
    z = 0.02 * (x - xc) ** 2 + 0.01 * y + 0.3 * np.exp(-((x - xc) ** 2 + (y - 7) ** 2) / 4)
    assert np.array_equal(z, z[:, ::-1])
    rng = np.random.default_rng(1)
    h0 = rng.uniform(0.0, 0.3, (ny, nx // 2))
    h0 = np.hstack([h0, h0[:, ::-1]])
    # numpy is bit-exact; numba's fastmath may reorder sums, and a round-off difference can flip a
    # face across the wet/dry threshold, so it is held to a small but not bitwise tolerance
    for backend, tol in (("numpy", 1e-12), ("numba", 1e-3)):
        m = Model(
            Grid(z, 5.0),
            initial_depth=h0,
            rain=Hyetograph([0.0, 300.0], [80.0, 0.0]),
            boundary={"south": "open", "north": ("stage", 0.4)},
            backend=backend,
        )
        m.run_until(600.0)
        d = m.depth
        assert d.max() > 0.0
        np.testing.assert_allclose(d, d[:, ::-1], rtol=0, atol=tol)
        np.testing.assert_allclose(m.qx, -m.qx[:, ::-1], rtol=0, atol=tol)
        np.testing.assert_allclose(m.qy, m.qy[:, ::-1], rtol=0, atol=tol)
