"""Virtual gauges: depth and speed series at named cells, sampled at output times."""

from __future__ import annotations

from collections.abc import Mapping

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
