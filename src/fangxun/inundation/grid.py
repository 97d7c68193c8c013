"""The raster a model runs on: elevation, cell size, nodata mask and georeferencing.

Row 0 is the northern edge and column 0 the western edge (the usual north-up raster). Elevations
are metres above any datum; cells are square with side ``cell_size`` metres. ``transform`` and
``crs`` are carried through untouched (for writing GeoTIFFs); the model never looks at them.

>>> import numpy as np
>>> g = Grid(elevation=np.zeros((3, 4)), cell_size=5.0)
>>> g.shape, g.cell_area_m2, g.n_active
((3, 4), 25.0, 12)
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


def _first_index(mask: BoolArray) -> tuple[int, int]:
    """(row, col) of the first True cell of ``mask`` in row-major order."""
    flat = int(np.flatnonzero(mask)[0])
    row, col = divmod(flat, mask.shape[1])
    return row, col


class Grid:
    """A north-up raster of ground elevation (m) with square cells of ``cell_size`` (m).

    The elevation and mask are copied and stored read-only, so the caller's arrays are never
    changed and the grid cannot be changed behind a model's back.

    Raises:
        ValueError: if the elevation is not a 2-D array of at least 1×1 cells, the cell size is not
            a positive finite number, the mask shape differs, or an elevation outside the nodata
            mask is NaN or infinite (the message names the first such cell as (row, col)).
    """

    elevation: FloatArray
    nodata_mask: BoolArray
    cell_size: float
    transform: Any
    crs: Any

    def __init__(
        self,
        elevation: npt.ArrayLike,
        cell_size: float,
        nodata_mask: npt.ArrayLike | None = None,
        transform: Any = None,
        crs: Any = None,
    ) -> None:
        z = np.array(elevation, dtype=np.float64, copy=True)
        if z.ndim != 2:
            raise ValueError(
                f"elevation must be a 2-D array (rows, cols), got {z.ndim} dimension(s)"
            )
        if z.shape[0] < 1 or z.shape[1] < 1:
            raise ValueError(f"elevation must have at least one row and one column, got {z.shape}")
        try:
            dx = float(cell_size)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"cell_size must be a number of metres, got {cell_size!r}") from exc
        if not math.isfinite(dx) or dx <= 0.0:
            raise ValueError(f"cell_size must be a positive finite number of metres, got {dx}")
        if nodata_mask is None:
            mask = np.zeros(z.shape, dtype=bool)
        else:
            mask = np.array(nodata_mask, dtype=bool, copy=True)
            if mask.shape != z.shape:
                raise ValueError(
                    f"nodata_mask shape {mask.shape} does not match elevation shape {z.shape}"
                )
        bad = ~np.isfinite(z) & ~mask
        if bad.any():
            row, col = _first_index(bad)
            raise ValueError(
                f"elevation is {z[row, col]} at (row={row}, col={col}) outside the nodata mask; "
                f"{int(bad.sum())} cell(s) are NaN/inf: mask them as nodata or fill them"
            )
        if mask.all():
            raise ValueError("every cell is nodata: the grid has no active cell")
        z[mask] = np.nan
        z.setflags(write=False)
        mask.setflags(write=False)
        self.elevation = z
        self.nodata_mask = mask
        self.cell_size = dx
        self.transform = transform
        self.crs = crs

    @property
    def shape(self) -> tuple[int, int]:
        """(rows, cols)."""
        return (int(self.elevation.shape[0]), int(self.elevation.shape[1]))

    @property
    def cell_area_m2(self) -> float:
        """Area of one cell, m²."""
        return self.cell_size * self.cell_size

    @property
    def n_active(self) -> int:
        """Number of cells that are not nodata."""
        return int(self.nodata_mask.size - np.count_nonzero(self.nodata_mask))

    def check_cell(self, row: int, col: int, what: str) -> None:
        """Raise ValueError if (row, col) is outside the grid or on a nodata cell."""
        ny, nx = self.shape
        if not (0 <= row < ny and 0 <= col < nx):
            raise ValueError(f"{what} at (row={row}, col={col}) is outside the grid of {ny}×{nx}")
        if self.nodata_mask[row, col]:
            raise ValueError(f"{what} at (row={row}, col={col}) is on a nodata cell")

    def __repr__(self) -> str:
        ny, nx = self.shape
        return f"Grid({ny}×{nx}, cell_size={self.cell_size} m, nodata={ny * nx - self.n_active})"
