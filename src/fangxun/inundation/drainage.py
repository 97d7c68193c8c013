"""Sources and sinks other than rain: drainage capacity, Horton infiltration, point inflows.

* **Drainage** is a sink capacity in mm/h per cell (what inlets and pipes can take away). Each step
  a cell loses ``min(capacity·Δt, depth)``: never more than it holds.
* **Infiltration** follows Horton, f = fc + (f0 − fc)·e^(−k·t), written with a cumulative state so
  that it works under intermittent rain and when the supply is smaller than the capacity: each
  cell carries its current capacity f (m/s); a step infiltrates ``min(f·Δt, depth)`` and the
  capacity decays as ``f ← fc + (f − fc)·exp(−k·Δt·used)`` where ``used`` (0–1) is the fraction
  of the step's capacity that was actually used. Under ample water this is exactly Horton's curve;
  on a dry cell the soil does not "use up" its capacity. Recovery during dry spells is not
  modelled (it is slow compared with a storm).
* **Point inflows** are hydrographs in m³/s at one cell, piecewise constant in time (like rain);
  negative values are withdrawals (e.g. a pump), limited to what the cell holds.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

MM_H_TO_M_S = 1.0 / 3.6e6
"""Factor from mm/h to m/s."""


def _as_raster(value: float | npt.ArrayLike, shape: tuple[int, int], what: str) -> FloatArray:
    """A scalar or raster of non-negative finite values, as a fresh float64 (rows, cols) array."""
    arr = np.array(value, dtype=np.float64, copy=True)
    if arr.ndim == 0:
        arr = np.full(shape, float(arr))
    if arr.shape != shape:
        raise ValueError(f"{what} raster shape {arr.shape} does not match the grid shape {shape}")
    bad = ~np.isfinite(arr) | (arr < 0.0)
    if bad.any():
        flat = int(np.flatnonzero(bad)[0])
        row, col = divmod(flat, shape[1])
        raise ValueError(
            f"{what} must be finite and >= 0, got {arr[row, col]} at (row={row}, col={col})"
        )
    return arr


def drainage_rate_m_s(drainage_mm_h: float | npt.ArrayLike, shape: tuple[int, int]) -> FloatArray:
    """Sink capacity raster in m/s from a scalar or raster in mm/h (validated)."""
    return _as_raster(drainage_mm_h, shape, "drainage_mm_h") * MM_H_TO_M_S


@dataclass(frozen=True)
class Horton:
    """Horton infiltration parameters: scalars or rasters.

    Attributes:
        f0_mm_h: initial (dry-soil) capacity, mm/h.
        fc_mm_h: final (saturated) capacity, mm/h; must not exceed f0.
        k_per_h: decay constant, 1/h.
    """

    f0_mm_h: float | npt.ArrayLike
    fc_mm_h: float | npt.ArrayLike
    k_per_h: float | npt.ArrayLike

    def rasters(self, shape: tuple[int, int]) -> tuple[FloatArray, FloatArray, FloatArray]:
        """(f0 m/s, fc m/s, k 1/s) rasters of ``shape``, validated (fc <= f0 everywhere)."""
        f0 = _as_raster(self.f0_mm_h, shape, "Horton f0_mm_h") * MM_H_TO_M_S
        fc = _as_raster(self.fc_mm_h, shape, "Horton fc_mm_h") * MM_H_TO_M_S
        k = _as_raster(self.k_per_h, shape, "Horton k_per_h") / 3600.0
        bad = fc > f0
        if bad.any():
            flat = int(np.flatnonzero(bad)[0])
            row, col = divmod(flat, shape[1])
            raise ValueError(
                f"Horton fc_mm_h must not exceed f0_mm_h, at (row={row}, col={col}) "
                f"fc={fc[row, col] / MM_H_TO_M_S} > f0={f0[row, col] / MM_H_TO_M_S} mm/h"
            )
        return f0, fc, k


@dataclass(frozen=True)
class PointInflow:
    """A point inflow (positive) or withdrawal (negative) hydrograph at one cell.

    ``discharge_m3_s[k]`` holds on ``[times_s[k], times_s[k+1])``, the last value after the last
    time, and 0 before the first time.
    """

    row: int
    col: int
    times_s: Sequence[float]
    discharge_m3_s: Sequence[float]
    _t: FloatArray = field(init=False, repr=False, compare=False)
    _q: FloatArray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        t = np.array(self.times_s, dtype=np.float64, copy=True).ravel()
        q = np.array(self.discharge_m3_s, dtype=np.float64, copy=True).ravel()
        where = f"point inflow at (row={self.row}, col={self.col})"
        if t.size == 0:
            raise ValueError(f"{where}: times_s is empty")
        if t.shape != q.shape:
            raise ValueError(
                f"{where}: {t.size} times but {q.size} discharges; they must have the same length"
            )
        if not np.all(np.isfinite(t)) or not np.all(np.isfinite(q)):
            raise ValueError(f"{where}: times and discharges must be finite")
        if t[0] < 0.0:
            raise ValueError(f"{where}: times_s[0] = {t[0]} s is negative")
        steps = np.diff(t)
        if np.any(steps <= 0.0):
            k = int(np.flatnonzero(steps <= 0.0)[0]) + 1
            raise ValueError(
                f"{where}: times_s must be strictly increasing, times_s[{k}] = {t[k]} "
                f"follows {t[k - 1]}"
            )
        t.setflags(write=False)
        q.setflags(write=False)
        object.__setattr__(self, "_t", t)
        object.__setattr__(self, "_q", q)

    def rate_m3_s(self, t: float) -> float:
        """Discharge (m³/s) at time ``t`` (s)."""
        k = int(np.searchsorted(self._t, t, side="right")) - 1
        return 0.0 if k < 0 else float(self._q[k])

    def next_change_s(self, t: float) -> float:
        """The next breakpoint strictly after ``t`` (s), or inf."""
        k = int(np.searchsorted(self._t, t, side="right"))
        return float(self._t[k]) if k < self._t.size else math.inf
