"""Model.depth_at / Model.exchange: the seam through which a drainage network trades water."""

from __future__ import annotations

import numpy as np
import pytest

from fangxun.inundation import Grid, Hyetograph, Model


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_exchange_is_limited_to_what_a_cell_holds_and_kept_in_the_balance(dtype: str) -> None:
    grid = Grid(elevation=np.zeros((10, 10)), cell_size=2.0)
    rain = Hyetograph([0.0, 60.0], [36.0, 0.0])  # 0.6 mm
    model = Model(grid, rain=rain, backend="numpy", dtype=dtype)
    model.run_until(60.0)
    h = model.depth_at([1, 2], [1, 2])
    assert h == pytest.approx([6e-4, 6e-4], rel=1e-5)
    moved = model.exchange([1, 2, 3], [1, 2, 3], [-1.0, 0.5, -0.001])
    assert moved[0] == pytest.approx(-6e-4 * 4.0, rel=1e-5)  # all it held, no more
    assert moved[1] == pytest.approx(0.5, rel=1e-5)
    assert moved[2] == pytest.approx(-0.001, rel=1e-4)
    assert model.depth_at([1], [1])[0] == 0.0
    model.run_until(600.0)
    mb = model.mass_balance()
    assert mb["inflow"] == pytest.approx(float(moved.sum()), rel=1e-12)
    assert abs(mb["error"]) < 1e-9 * mb["rain"] * (1e3 if dtype == "float32" else 1)
    assert np.all(model.depth >= 0.0)


def test_exchange_refuses_bad_cells_and_volumes() -> None:
    model = Model(Grid(elevation=np.zeros((3, 3)), cell_size=1.0), backend="numpy")
    with pytest.raises(ValueError):
        model.exchange([5], [0], [1.0])
    with pytest.raises(ValueError, match="finite"):
        model.exchange([0], [0], [np.nan])
    with pytest.raises(ValueError, match="volumes"):
        model.exchange([0, 1], [0, 1], [1.0])


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_exchange_into_a_dry_cell_far_from_water_flows_with_wet_tracking(backend: str) -> None:
    """Water put into a dry cell between steps (no rain: the step computes only the wet
    region) spreads as it does without tracking: the backend must see the new wet cell."""
    z = np.zeros((60, 60))
    strip = np.where(np.arange(60)[None, :] < 5, 0.1, 0.0) * np.ones((60, 1))
    runs = []
    for track in (True, False):
        model = Model(Grid(z, 2.0), initial_depth=strip, backend=backend, track_wet=track)
        model.run_until(20.0)
        model.exchange([40], [50], [4.0])  # 1 m in a dry cell 45 cells from the water
        model.run_until(60.0)
        runs.append(model.depth)
    assert runs[0][40, 50] < 0.05  # it spread
    np.testing.assert_array_equal(runs[0], runs[1])


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_scheduled_exchange_moves_its_volumes_over_the_interval_and_keeps_the_balance(
    dtype: str,
) -> None:
    grid = Grid(elevation=np.zeros((10, 10)), cell_size=2.0)
    model = Model(grid, initial_depth=0.01, backend="numpy", dtype=dtype)  # 0.04 m³ a cell
    ex = model.schedule_exchange([1, 2, 2], [1, 2, 2], [-0.02, 0.5, -0.3], over_s=10.0)
    assert not ex.done
    model.run_until(5.0)
    # half the interval: half the volumes (the withdrawal from (1, 1) has water to take)
    assert ex.moved_m3[0] == pytest.approx(-0.01, rel=1e-4)
    model.run_until(20.0)
    assert ex.done
    assert ex.moved_m3[0] == pytest.approx(-0.02, rel=1e-4)
    # (2, 2) gets 0.5 and gives 0.3 step by step: all moves, the cell never runs dry
    assert ex.moved_m3[1] + ex.moved_m3[2] == pytest.approx(0.2, rel=1e-4)
    mb = model.mass_balance()
    # the balance counts the stored depths' change, which float32 rounds
    assert mb["inflow"] == pytest.approx(
        float(ex.moved_m3.sum()), rel=1e-6 if dtype == "float32" else 1e-12
    )
    assert abs(mb["error"]) < 1e-12 * mb["initial_storage"] * (1e5 if dtype == "float32" else 1)


def test_scheduled_withdrawal_is_limited_to_what_the_cell_holds_each_step() -> None:
    grid = Grid(elevation=np.zeros((5, 5)), cell_size=1.0)
    model = Model(grid, backend="numpy")
    ex = model.schedule_exchange([2], [2], [-1.0], over_s=10.0)  # from a dry grid
    model.run_until(10.0)
    assert ex.moved_m3[0] == 0.0
    assert float(np.nanmin(model.depth)) == 0.0
    with pytest.raises(ValueError, match="over_s"):
        model.schedule_exchange([2], [2], [1.0], over_s=0.0)


def _street_with_inlets(alpha: float, theta: float, every_s: float, scheduled: bool) -> float:
    """A street (a 2-cm V across 2-m cells) under 80 mm/h for 20 min, three gully inlets taking
    water by a weir law, their rate set from the depth at the start of every ``every_s``
    seconds and limited so they never ask for more than the cell holds (as the drainage
    coupler does with its interval); water left on the street after 45 min (m³)."""
    rows = np.arange(20)[:, None] * np.ones((1, 50))
    z = 10.0 + 0.02 * np.abs(rows - 10)
    rain = Hyetograph([0.0, 1200.0], [80.0, 0.0])
    model = Model(Grid(z, 2.0), rain=rain, backend="numba", alpha=alpha, theta=theta)
    inlets = ([10, 10, 10], [10, 25, 40])
    t = 0.0
    while t < 2700.0 - 1e-9:
        h = model.depth_at(*inlets)
        rate = (2.0 / 3.0) * 0.54 * 3.54 * h * np.sqrt(2.0 * 9.81 * h)  # m³/s
        volume = -np.minimum(rate * every_s, h * 4.0 * every_s / (every_s + 5.0))
        if scheduled:
            model.schedule_exchange(*inlets, volume, over_s=every_s)
        else:
            model.exchange(*inlets, volume)
        t += every_s
        model.run_until(t)
    return model.mass_balance()["storage"]


def test_inlets_exchanging_every_10_s_give_the_same_street_at_any_step_when_scheduled() -> None:
    """Taken at once, 10 s of an inlet's inflow empties its cell; at the default step (α 0.65)
    the waves this starts are not damped within 10 s, the street sloshes (15 cm along the
    gutter) and holds 20 m³ where a small step (α 0.3) leaves 4.3 m³. Spread over the interval
    the exchange is the same at every step (5.4–5.8 m³ for α 0.3–0.65)."""
    at_once_small = _street_with_inlets(0.3, 0.95, 10.0, scheduled=False)
    at_once = _street_with_inlets(0.65, 0.95, 10.0, scheduled=False)
    assert at_once > 2.0 * at_once_small  # the failure this guards against
    small_step = _street_with_inlets(0.3, 0.95, 10.0, scheduled=True)
    default_step = _street_with_inlets(0.65, 0.95, 10.0, scheduled=True)
    assert 4.0 < small_step < 8.0
    assert default_step == pytest.approx(small_step, rel=0.1)
