"""Virtual gauges: depth and speed series at named cells, sampled at output times.

Positions are cells (row, col); :func:`cell_of_xy` and :func:`cells_of_xy` find the cell that
holds a map point (m, in the grid's CRS) from the grid's georeferencing.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt

from .grid import Grid

FloatArray = npt.NDArray[np.float64]


class Gauges:
    """Named cells whose depth (m) and speed (m/s) are recorded at every output time."""

    def __init__(self, grid: Grid, points: Mapping[str, tuple[int, int]] | None) -> None:
        self.names: list[str] = []
        rows: list[int] = []
        cols: list[int] = []
        for name, point in (points or {}).items():
            if not isinstance(name, str) or not name:
                raise ValueError(f"gauge names must be non-empty strings, got {name!r}")
            try:
                row, col = (int(v) for v in point)
            except (TypeError, ValueError) as exc:
                raise ValueError(
                    f"gauge {name!r} must be given as (row, col), got {point!r}"
                ) from exc
            grid.check_cell(row, col, f"gauge {name!r}")
            self.names.append(name)
            rows.append(row)
            cols.append(col)
        self.rows = np.array(rows, dtype=np.int64)
        self.cols = np.array(cols, dtype=np.int64)
        self._times: list[float] = []
        self._depth: list[FloatArray] = []
        self._speed: list[FloatArray] = []

    def record(
        self,
        time_s: float,
        h: npt.NDArray[np.floating],
        qx: npt.NDArray[np.floating],
        qy: npt.NDArray[np.floating],
        wet_threshold_m: float,
    ) -> None:
        """Sample depth and speed |q|/h (0 where the depth is below ``wet_threshold_m``)."""
        if not self.names:
            return
        r, c = self.rows, self.cols
        depth = h[r, c].astype(np.float64)
        ux = 0.5 * (qx[r, c].astype(np.float64) + qx[r, c + 1])
        uy = 0.5 * (qy[r, c].astype(np.float64) + qy[r + 1, c])
        q = np.hypot(ux, uy)
        wet = depth >= wet_threshold_m
        speed = np.where(wet, q / np.where(wet, depth, 1.0), 0.0)
        if self._times and self._times[-1] == time_s:
            self._depth[-1], self._speed[-1] = depth, speed
            return
        self._times.append(float(time_s))
        self._depth.append(depth)
        self._speed.append(speed)

    def series(self, name: str) -> tuple[FloatArray, FloatArray, FloatArray]:
        """(times s, depth m, speed m/s) of gauge ``name``."""
        try:
            k = self.names.index(name)
        except ValueError:
            known = ", ".join(self.names) or "none"
            raise ValueError(f"unknown gauge {name!r}; gauges: {known}") from None
        times = np.array(self._times, dtype=np.float64)
        depth = np.array([d[k] for d in self._depth], dtype=np.float64)
        speed = np.array([s[k] for s in self._speed], dtype=np.float64)
        return times, depth, speed


def cell_of_xy(grid: Grid, x: float, y: float, what: str = "point") -> tuple[int, int]:
    """(row, col) of the cell holding the map point (``x``, ``y``) (m, the grid's CRS).

    A point on a cell edge belongs to the cell east / south of it.

    Raises:
        ValueError: the grid has no georeferencing, a coordinate is not finite, or the point
            lies outside the grid or on a nodata cell (the message names ``what``).
    """
    if grid.transform is None:
        raise ValueError(f"{what} at x={x}, y={y}: the grid has no georeferencing (transform)")
    if not (math.isfinite(float(x)) and math.isfinite(float(y))):
        raise ValueError(f"{what}: coordinates must be finite, got x={x}, y={y}")
    fc, fr = ~grid.transform * (float(x), float(y))
    row, col = math.floor(fr), math.floor(fc)
    ny, nx = grid.shape
    if not (0 <= row < ny and 0 <= col < nx):
        raise ValueError(
            f"{what} at x={x}, y={y} lies outside the grid ((row={row}, col={col}) of {ny}×{nx})"
        )
    if grid.nodata_mask[row, col]:
        raise ValueError(f"{what} at x={x}, y={y} is on a nodata cell (row={row}, col={col})")
    return row, col


def cells_of_xy(
    grid: Grid, points: Mapping[str, tuple[float, float]] | Sequence[tuple[float, float]]
) -> dict[str, tuple[int, int]] | list[tuple[int, int]]:
    """Cells of several map points: a dict name → (row, col) for a mapping, else a list.

    >>> import numpy as np
    >>> from rasterio import Affine
    >>> g = Grid(np.zeros((3, 4)), 10.0, transform=Affine(10, 0, 1000, 0, -10, 2030))
    >>> cells_of_xy(g, {"a": (1015.0, 2025.0)}), cells_of_xy(g, [(1035.0, 2001.0)])
    ({'a': (0, 1)}, [(2, 3)])
    """
    if isinstance(points, Mapping):
        return {name: cell_of_xy(grid, x, y, f"gauge {name!r}") for name, (x, y) in points.items()}
    return [cell_of_xy(grid, x, y, f"point {i}") for i, (x, y) in enumerate(points)]
