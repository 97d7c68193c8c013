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
* **Point inflows** are hydrographs in m³/s at one cell, piecewise constant in time (like rain)
  or linear between breakpoints (``interpolation="linear"``); negative values are withdrawals
  (e.g. a pump), limited to what the cell holds. :func:`shared_inflow` splits one hydrograph
  equally over a set of cells (an inflow boundary along a line of cells). Each step receives the
  exact volume of the hydrograph over the step (steps are cut at the breakpoints).
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


INTERPOLATIONS = ("step", "linear")


@dataclass(frozen=True)
class PointInflow:
    """A point inflow (positive) or withdrawal (negative) hydrograph at one cell.

    With ``interpolation="step"`` (default) ``discharge_m3_s[k]`` holds on
    ``[times_s[k], times_s[k+1])``; with ``"linear"`` the discharge is linear between the
    breakpoints. In both the last value holds after the last time and 0 before the first time.

    >>> f = PointInflow(0, 0, [0.0, 100.0], [0.0, 2.0], interpolation="linear")
    >>> f.rate_m3_s(50.0), f.volume_m3(0.0, 100.0), f.volume_m3(100.0, 110.0)
    (1.0, 100.0, 20.0)
    """

    row: int
    col: int
    times_s: Sequence[float]
    discharge_m3_s: Sequence[float]
    interpolation: str = "step"
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
        if self.interpolation not in INTERPOLATIONS:
            raise ValueError(
                f"{where}: interpolation must be one of {INTERPOLATIONS}, "
                f"got {self.interpolation!r}"
            )
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
        if k < 0:
            return 0.0
        if self.interpolation == "linear" and k + 1 < self._t.size:
            t0, t1 = float(self._t[k]), float(self._t[k + 1])
            q0, q1 = float(self._q[k]), float(self._q[k + 1])
            return q0 + (q1 - q0) * (float(t) - t0) / (t1 - t0)
        return float(self._q[k])

    def volume_m3(self, t0: float, t1: float) -> float:
        """Volume (m³) delivered over ``[t0, t1]`` (s), for a step that crosses no breakpoint.

        Step hydrographs give ``rate(t0)·(t1 − t0)``; linear ones the trapezoid, which is exact
        between breakpoints (the model cuts its steps at :meth:`next_change_s`).
        """
        if self.interpolation == "linear":
            return 0.5 * (self.rate_m3_s(t0) + self._rate_before(t1)) * (t1 - t0)
        return self.rate_m3_s(t0) * (t1 - t0)

    def _rate_before(self, t: float) -> float:
        """The limit of the discharge from the left at ``t`` (differs from the rate at a jump)."""
        k = int(np.searchsorted(self._t, t, side="left")) - 1
        if k < 0:
            return 0.0
        if k + 1 < self._t.size:
            t0, t1 = float(self._t[k]), float(self._t[k + 1])
            q0, q1 = float(self._q[k]), float(self._q[k + 1])
            return q0 + (q1 - q0) * (float(t) - t0) / (t1 - t0)
        return float(self._q[k])

    def next_change_s(self, t: float) -> float:
        """The next breakpoint strictly after ``t`` (s), or inf."""
        k = int(np.searchsorted(self._t, t, side="right"))
        return float(self._t[k]) if k < self._t.size else math.inf


def shared_inflow(
    cells: Sequence[tuple[int, int]],
    times_s: Sequence[float],
    discharge_m3_s: Sequence[float],
    interpolation: str = "step",
) -> list[PointInflow]:
    """One hydrograph (total m³/s) shared equally over ``cells`` ((row, col) pairs).

    Returns one :class:`PointInflow` per cell carrying ``1/len(cells)`` of the discharge, so a
    model given them receives exactly the total hydrograph.

    >>> parts = shared_inflow([(0, 0), (0, 1)], [0.0, 60.0], [4.0, 0.0])
    >>> [p.rate_m3_s(10.0) for p in parts]
    [2.0, 2.0]
    """
    cell_list = [(int(r), int(c)) for r, c in cells]
    if not cell_list:
        raise ValueError("shared inflow: no cells given")
    if len(set(cell_list)) != len(cell_list):
        dup = next(c for c in cell_list if cell_list.count(c) > 1)
        raise ValueError(f"shared inflow: cell (row={dup[0]}, col={dup[1]}) is given twice")
    share = [float(q) / len(cell_list) for q in discharge_m3_s]
    return [PointInflow(r, c, list(times_s), share, interpolation) for r, c in cell_list]
