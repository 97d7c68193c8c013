"""A strong point inflow at LISFLOOD-FP's step (α = 0.7, θ = 1) against a converged reference.

20 m³/s onto one cell of a flat plain of 5-m cells (n = 0.05), as in the issue that found the
overshoot. The peak and final depths around the inflow must match the same model with a small
fixed step (converged: 0.1 s and 0.05 s agree within 3 mm), at LISFLOOD-FP's step and at the
model's defaults. Before point sources entered
the depth update after the fluxes (and the step saw the inflow's depth), the first dry-grid step
of 10 s dumped 8 m into the cell, the peak next to it read 2.0 m (converged 0.45 m), and from
then on the source cell was emptied by the positivity limiter every step (0.00 m where the
converged depth is 0.60 m).
"""

from __future__ import annotations

import numpy as np
import pytest

from fangxun.inundation import Grid, Model
from fangxun.inundation.drainage import PointInflow

N, DX, Q, T_END = 61, 5.0, 20.0, 300.0
C = N // 2
SOURCE = (C, C)
NEIGHBOURS = [(C, C + 1), (C, C - 1), (C + 1, C), (C - 1, C)]
DIAGONALS = [(C + 1, C + 1), (C - 1, C - 1), (C + 1, C - 1), (C - 1, C + 1)]
RING = [(C, C + 3), (C + 3, C), (C + 2, C + 2)]


def _run(backend: str = "numba", **kwargs: float) -> Model:
    m = Model(
        Grid(np.zeros((N, N)), DX),
        manning=0.05,
        inflows=[PointInflow(C, C, [0.0], [Q])],
        backend=backend,
        output_interval_s=30.0,
        gauges={"source": SOURCE, "next": NEIGHBOURS[0]},
        **kwargs,
    )
    m.run_until(T_END)
    return m


@pytest.fixture(scope="module")
def reference() -> Model:
    return _run(fixed_dt_s=0.1)


@pytest.fixture(scope="module", params=["lisflood", "defaults"])
def lisflood_step(request: pytest.FixtureRequest) -> Model:
    """LISFLOOD-FP's step (α = 0.7, θ = 1, the issue's case), and the model's defaults."""
    if request.param == "lisflood":
        return _run(alpha=0.7, theta=1.0)
    return _run()


def test_reference_is_converged(reference: Model) -> None:
    finer = _run(fixed_dt_s=0.05)
    assert np.nanmax(np.abs(finer.max_depth - reference.max_depth)) < 0.003
    assert np.nanmax(np.abs(finer.depth - reference.depth)) < 0.002
    # real ponding around the inflow (0.45–0.5 m next to it, ~0.55 m in the source cell)
    assert 0.4 < reference.max_depth[NEIGHBOURS[0]] < 0.55
    assert 0.45 < reference.depth[SOURCE] < 0.65


@pytest.mark.parametrize("cells", [NEIGHBOURS, DIAGONALS, RING], ids=["next", "diagonal", "ring"])
def test_no_overshoot_around_the_inflow(
    reference: Model, lisflood_step: Model, cells: list[tuple[int, int]]
) -> None:
    m = lisflood_step
    assert m.steps < reference.steps / 4  # really the large adaptive step
    for cell in cells:
        # the peak: before the fix 2.0 m next to the inflow, converged 0.45 m
        assert m.max_depth[cell] <= reference.max_depth[cell] + 0.02, cell
        assert abs(m.depth[cell] - reference.depth[cell]) < 0.02, cell


def test_source_cell_is_not_emptied(reference: Model, lisflood_step: Model) -> None:
    """The source cell holds about the converged depth, never the 0 m the limiter left when the
    inflow went in before the fluxes. Its depth at the end of a step includes that step's
    inflow (Q·Δt/ΔA ≈ 0.9 m at α = 0.7): the cell's depth is a sawtooth of that height, sampled
    at its top. With θ < 1 the source cell also reads high because the θ-average of each of its
    outflow faces takes in the face on the far side of the cell, which flows the other way
    (θ = 0.95: +0.17 m; θ = 1: +0.11 m). Hence 20 cm in the source cell alone; every cell
    around it is held to 2 cm above."""
    times, depth, _ = lisflood_step.gauge_series("source")
    _, ref, _ = reference.gauge_series("source")
    late = times >= 60.0
    assert np.all(np.abs(depth[late] - ref[late]) < 0.20)
    assert lisflood_step.max_depth[SOURCE] < reference.max_depth[SOURCE] + 0.20


def test_first_step_onto_a_dry_cell_respects_the_cfl() -> None:
    """On a dry grid the step is ``max_dt_s`` (10 s); the inflow's own depth must bound it."""
    m = Model(
        Grid(np.zeros((N, N)), DX),
        manning=0.05,
        inflows=[PointInflow(C, C, [0.0], [Q])],
        alpha=0.7,
        theta=1.0,
    )
    m.run_until(1e-9 + 0.0)  # nothing
    m.run_until(20.0)
    dh = float(np.nanmax(m.max_depth))
    # the first step's depth d = Q·Δt/ΔA with √(g·d)·Δt <= α·Δx: d <= 1.0 m here
    assert dh < 1.0
    assert m.steps > 10


@pytest.mark.parametrize("backend", ["numba", "numpy"])
def test_mass_is_exact_with_the_inflow(backend: str) -> None:
    m = Model(
        Grid(np.zeros((21, 21)), DX),
        manning=0.05,
        inflows=[PointInflow(10, 10, [0.0, 30.0], [Q, 0.0])],
        backend=backend,
        alpha=0.7,
        theta=1.0,
    )
    m.run_until(60.0)
    mb = m.mass_balance()
    assert mb["inflow"] == pytest.approx(Q * 30.0, rel=1e-12)
    assert abs(mb["error"]) < 1e-9 * mb["inflow"]


def test_backends_agree_with_the_inflow() -> None:
    a = _run("numba", alpha=0.7, theta=1.0)
    b = _run("numpy", alpha=0.7, theta=1.0)
    assert a.steps == b.steps
    np.testing.assert_allclose(a.depth, b.depth, atol=1e-9)
    np.testing.assert_allclose(a.max_depth, b.max_depth, atol=1e-9)
    np.testing.assert_allclose(a.arrival_time(0.15), b.arrival_time(0.15), atol=1e-9)
    np.testing.assert_allclose(a.time_above(0.27), b.time_above(0.27), atol=1e-9)
