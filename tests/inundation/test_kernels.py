"""The numba kernels agree with the plain NumPy reference; the fast cube root is exact enough."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from numba import njit

from fangxun.inundation import Grid, Hyetograph, Model, available_backends
from fangxun.inundation._kernels import implicit_friction, inv_cbrt


@njit(cache=True)  # type: ignore[misc]
def _inv_cbrt_all(x: np.ndarray) -> np.ndarray:  # type: ignore[type-arg]
    out = np.empty_like(x)
    for i in range(x.size):
        out[i] = inv_cbrt(x[i])
    return out


@pytest.mark.parametrize(("dtype", "tol"), [(np.float64, 2e-15), (np.float32, 3e-7)])
def test_inv_cbrt_accuracy(dtype: type, tol: float) -> None:
    x = np.logspace(-7, 4, 5001).astype(dtype)
    got = _inv_cbrt_all(x).astype(np.float64)
    exact = x.astype(np.float64) ** (-1.0 / 3.0)
    assert np.max(np.abs(got / exact - 1.0)) < tol


def test_backends_registered() -> None:
    assert {"numpy", "numba"} <= set(available_backends())


def _run(z: np.ndarray, seed: int, backend: str, dtype: str, bc: object) -> Model:  # type: ignore[type-arg]
    rng = np.random.default_rng(seed)
    h0 = np.where(rng.random(z.shape) < 0.3, rng.uniform(0.0, 0.4, z.shape), 0.0)
    m = Model(
        Grid(z, 5.0),
        manning=rng.uniform(0.02, 0.08, z.shape),
        rain=Hyetograph([0.0, 120.0], [120.0, 0.0]),
        drainage_mm_h=10.0,
        initial_depth=h0,
        boundary=bc,  # type: ignore[arg-type]
        backend=backend,
        dtype=dtype,
        theta=0.7,
        output_interval_s=60.0,
    )
    m.run_until(240.0)
    return m


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    ny=st.integers(2, 9),
    nx=st.integers(2, 9),
    seed=st.integers(0, 10_000),
    bc=st.sampled_from(["closed", "open", {"west": ("stage", 0.3), "south": "open"}]),
)
def test_numba_equals_numpy_float64(ny: int, nx: int, seed: int, bc: object) -> None:
    z = np.random.default_rng(seed).uniform(0.0, 0.5, (ny, nx))
    a = _run(z, seed, "numpy", "float64", bc)
    b = _run(z, seed, "numba", "float64", bc)
    assert a.steps == b.steps
    np.testing.assert_allclose(b.depth, a.depth, rtol=0, atol=1e-11)
    np.testing.assert_allclose(b.qx_faces, a.qx_faces, rtol=0, atol=1e-11)
    np.testing.assert_allclose(b.max_depth, a.max_depth, rtol=0, atol=1e-11)
    np.testing.assert_allclose(b.time_above(0.15), a.time_above(0.15), rtol=0, atol=1e-9)
    np.testing.assert_array_equal(np.isnan(b.arrival_time(0.15)), np.isnan(a.arrival_time(0.15)))
    ma, mb = a.mass_balance(), b.mass_balance()
    for key in ("rain", "drainage", "outflow", "storage"):
        assert mb[key] == pytest.approx(ma[key], rel=1e-10, abs=1e-10)


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ny=st.integers(2, 9), nx=st.integers(2, 9), seed=st.integers(0, 10_000))
def test_numba_equals_numpy_float32(ny: int, nx: int, seed: int) -> None:
    z = np.random.default_rng(seed).uniform(0.0, 0.5, (ny, nx))
    a = _run(z, seed, "numpy", "float32", "open")
    b = _run(z, seed, "numba", "float32", "open")
    # float32 round-off (and a reordered sum) grows a little through the nonlinear steps
    np.testing.assert_allclose(b.depth, a.depth, rtol=0, atol=2e-5)


@njit
def _friction_of(r, b, qp, out):  # type: ignore[no-untyped-def]
    one = r[0] / r[0]
    for i in range(r.size):
        out[i] = implicit_friction(r[i], b[i], qp[i], one)


def _friction_root(a: np.ndarray, b: np.ndarray, p: np.ndarray) -> np.ndarray:
    """The root of s·(1 + b·√(s² + p²)) = a by bisection (float64)."""
    lo, hi = np.zeros_like(a), a.copy()
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        below = mid + b * mid * np.sqrt(mid * mid + p * p) < a
        lo, hi = np.where(below, mid, lo), np.where(below, hi, mid)
    return 0.5 * (lo + hi)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_implicit_friction_within_5e_4_of_the_root_and_twins_equal(dtype: type) -> None:
    """b·|r| and |qp|/|r| over ten decades each, both signs: one Newton step from the
    max + 0.35·min start is within 5·10⁻⁴ of the root, exact for qp = 0, and the NumPy
    twin gives the same bits."""
    from fangxun.inundation._reference import implicit_friction as reference

    ab, pa = np.meshgrid(np.logspace(-5, 5, 121), np.concatenate([[0.0], np.logspace(-5, 5, 120)]))
    for sign in (1.0, -1.0):
        r = np.full(ab.size, 0.01 * sign).astype(dtype)
        b = (ab.ravel() / 0.01).astype(dtype)
        qp = (pa.ravel() * 0.01 * -sign).astype(dtype)
        out = np.empty_like(r)
        _friction_of(r, b, qp, out)
        root = _friction_root(
            np.abs(r).astype(np.float64), b.astype(np.float64), qp.astype(np.float64)
        )
        rel = np.abs(np.abs(out.astype(np.float64)) / root - 1.0)
        assert rel.max() < 5e-4
        assert rel[pa.ravel() == 0.0].max() < (1e-5 if dtype == np.float32 else 1e-12)
        assert np.all(np.sign(out) == sign)
        np.testing.assert_array_equal(out, reference(r, b, qp))
