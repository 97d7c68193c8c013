"""Grid validation and immutability."""

from __future__ import annotations

import doctest

import numpy as np
import pytest

import fangxun.inundation.grid as grid_module
from fangxun.inundation import Grid


def test_doctest() -> None:
    result = doctest.testmod(grid_module)
    assert result.attempted > 0 and result.failed == 0


def test_nan_outside_mask_names_cell() -> None:
    z = np.zeros((4, 5))
    z[2, 3] = np.nan
    with pytest.raises(ValueError, match=r"row=2, col=3"):
        Grid(z, 10.0)


def test_nan_inside_mask_is_fine() -> None:
    z = np.zeros((4, 5))
    z[2, 3] = np.nan
    mask = np.zeros((4, 5), dtype=bool)
    mask[2, 3] = True
    g = Grid(z, 10.0, nodata_mask=mask)
    assert g.n_active == 19


@pytest.mark.parametrize("size", [-1.0, 0.0, float("nan"), float("inf"), "ten"])
def test_bad_cell_size(size: object) -> None:
    with pytest.raises(ValueError, match="cell_size"):
        Grid(np.zeros((3, 3)), size)  # type: ignore[arg-type]


def test_mask_shape_mismatch() -> None:
    with pytest.raises(ValueError, match=r"nodata_mask shape \(3, 4\).*\(3, 3\)"):
        Grid(np.zeros((3, 3)), 1.0, nodata_mask=np.zeros((3, 4), dtype=bool))


def test_not_2d_and_all_nodata() -> None:
    with pytest.raises(ValueError, match="2-D"):
        Grid(np.zeros(5), 1.0)
    with pytest.raises(ValueError, match="no active cell"):
        Grid(np.zeros((2, 2)), 1.0, nodata_mask=np.ones((2, 2), dtype=bool))


def test_copies_and_read_only() -> None:
    z = np.arange(12.0).reshape(3, 4)
    g = Grid(z, 2.0)
    z[0, 0] = 99.0
    assert g.elevation[0, 0] == 0.0
    with pytest.raises(ValueError):
        g.elevation[0, 0] = 1.0
    assert g.cell_area_m2 == 4.0


def test_check_cell() -> None:
    g = Grid(np.zeros((3, 4)), 1.0)
    g.check_cell(2, 3, "gauge")
    with pytest.raises(ValueError, match=r"gauge 'x' at \(row=3, col=0\) is outside the grid"):
        g.check_cell(3, 0, "gauge 'x'")
