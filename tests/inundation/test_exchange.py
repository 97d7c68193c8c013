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
