"""rainkit: the pure rain toolkit — uniform hyetographs, gridded rain series, storm formulas,
design storms and historical reconstructions (NumPy only, nothing from fangxun).

The inundation core takes its rain inputs from here (re-exported as :mod:`fangxun.inundation.rain`);
forecast, reports and the demo take storm formulas and design storms from here without reaching
into the core.

Both input types are piecewise constant in time and immutable. The model clips each time step at
``next_change_s`` so that the rain it applies over a step is exact.

Tools that build them: :class:`StormFormula` (i = A/(t + b)^n, A = a(1 + C lg P)) and
:func:`chicago_hyetograph` for design storms; :func:`zhengzhou_720_reconstruction` for the
Zhengzhou "7·20" replay (a reconstruction that matches the published totals, not observed hourly
data); :func:`idw_gridded_rain` to spread gauge series over the grid.

>>> from rainkit import Hyetograph
>>> h = Hyetograph(times_s=[0.0, 3600.0], intensity_mm_h=[50.0, 0.0])
>>> round(h.depth_m(0.0, 7200.0) * 1000.0, 9)  # mm of rain over two hours
50.0
>>> h.next_change_s(100.0)
3600.0
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = [
    "EXAMPLE_FORMULA_UNVERIFIED",
    "GriddedRain",
    "Hyetograph",
    "RainScenario",
    "StormFormula",
    "chicago_hyetograph",
    "idw_gridded_rain",
    "zhengzhou_720_reconstruction",
]

#: mm/h → m/s.
MM_H_TO_M_S = 1.0 / 3.6e6

FloatArray = npt.NDArray[np.float64]

# Beijing time (UTC+08:00, no DST) for scenario clocks; pure stdlib so the core needs no tzdata.
_BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")


def _validate_times(times_s: Any, what: str) -> FloatArray:
    """Return ``times_s`` as a read-only float64 copy after checking it (seconds)."""
    try:
        t = np.array(times_s, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{what}.times_s must be a sequence of numbers: {exc}") from exc
    if t.ndim != 1:
        raise ValueError(f"{what}.times_s must be 1-D, got shape {t.shape}")
    if t.size == 0:
        raise ValueError(f"{what}.times_s must hold at least one time")
    bad = np.flatnonzero(~np.isfinite(t))
    if bad.size:
        raise ValueError(f"{what}.times_s[{bad[0]}] is not finite ({float(t[bad[0]])!r})")
    if t[0] < 0.0:
        raise ValueError(f"{what}.times_s[0] must be >= 0 s, got {float(t[0])!r}")
    steps = np.diff(t)
    bad = np.flatnonzero(steps <= 0.0)
    if bad.size:
        k = int(bad[0]) + 1
        raise ValueError(
            f"{what}.times_s must be strictly increasing: times_s[{k}] = {float(t[k])!r} "
            f"is not after times_s[{k - 1}] = {float(t[k - 1])!r}"
        )
    t.setflags(write=False)
    return t


def _check_intensity(values: FloatArray, what: str) -> None:
    """Raise ``ValueError`` naming the first non-finite or negative intensity (mm/h)."""
    bad = np.argwhere(~np.isfinite(values))
    if bad.size:
        idx = tuple(int(i) for i in bad[0])
        raise ValueError(f"{what}.intensity_mm_h{list(idx)} is not finite ({float(values[idx])!r})")
    bad = np.argwhere(values < 0.0)
    if bad.size:
        idx = tuple(int(i) for i in bad[0])
        raise ValueError(
            f"{what}.intensity_mm_h{list(idx)} is negative ({float(values[idx])!r} mm/h)"
        )


class _Frozen:
    """Refuses attribute assignment once ``__init__`` has finished."""

    __slots__ = ("_frozen",)

    def __setattr__(self, name: str, value: object) -> None:
        if getattr(self, "_frozen", False):
            raise AttributeError(f"{type(self).__name__} is immutable (tried to set {name!r})")
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable (tried to delete {name!r})")


class Hyetograph(_Frozen):
    """Uniform rain over the whole grid, piecewise constant in time.

    ``intensity_mm_h[k]`` (mm/h) holds on ``[times_s[k], times_s[k+1])`` (s); after the last
    time the last intensity holds; before ``times_s[0]`` there is no rain. ``times_s`` must be
    strictly increasing with ``times_s[0] >= 0``; intensities must be finite and >= 0. Bad input
    raises ``ValueError`` naming the index.

    A storm that stops must therefore end with a zero intensity, e.g. 50 mm/h for one hour:
    ``Hyetograph(times_s=[0, 3600], intensity_mm_h=[50, 0])``.
    """

    __slots__ = ("_total_mm", "intensity_mm_h", "times_s")

    times_s: FloatArray
    intensity_mm_h: FloatArray
    _total_mm: float

    def __init__(self, times_s: Sequence[float], intensity_mm_h: Sequence[float]) -> None:
        t = _validate_times(times_s, "Hyetograph")
        try:
            i = np.array(intensity_mm_h, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise ValueError(
                f"Hyetograph.intensity_mm_h must be a sequence of numbers: {exc}"
            ) from exc
        if i.shape != t.shape:
            raise ValueError(
                f"Hyetograph.intensity_mm_h has shape {i.shape}, times_s has shape {t.shape}: "
                "they must have the same length"
            )
        _check_intensity(i, "Hyetograph")
        i.setflags(write=False)
        # Total in mm straight from mm/h·s, so round totals stay round (40 mm/h for 30 min = 20).
        total_mm = float(np.sum(i[:-1] * np.diff(t))) / 3600.0
        self.times_s = t
        self.intensity_mm_h = i
        self._total_mm = total_mm
        self._frozen = True

    @classmethod
    def from_blocks(
        cls, step_s: float, depths_mm: Sequence[float], start_s: float = 0.0
    ) -> Hyetograph:
        """Build a hyetograph from block totals: ``depths_mm[k]`` (mm) falls evenly in block ``k``.

        Blocks are ``step_s`` seconds long and start at ``start_s`` (s); rain stops after the last
        block.
        """
        if not (math.isfinite(step_s) and step_s > 0.0):
            raise ValueError(f"step_s must be a positive number of seconds, got {step_s!r}")
        d = np.asarray(depths_mm, dtype=np.float64)
        if d.ndim != 1 or d.size == 0:
            raise ValueError(f"depths_mm must be a non-empty 1-D sequence, got shape {d.shape}")
        times = start_s + step_s * np.arange(d.size + 1, dtype=np.float64)
        intensity = np.append(d * (3600.0 / step_s), 0.0)
        return cls(times_s=times.tolist(), intensity_mm_h=intensity.tolist())

    def _index(self, t: float) -> int:
        """Index of the segment holding time ``t`` (s), or -1 before the first time."""
        return int(np.searchsorted(self.times_s, t, side="right")) - 1

    def rate_m_s(self, t: float) -> float:
        """Rain intensity at time ``t`` (s), in m/s."""
        k = self._index(t)
        return 0.0 if k < 0 else float(self.intensity_mm_h[k]) * MM_H_TO_M_S

    def next_change_s(self, t: float) -> float:
        """The next breakpoint strictly after ``t`` (s); ``inf`` if the rate never changes again."""
        k = int(np.searchsorted(self.times_s, t, side="right"))
        return float(self.times_s[k]) if k < self.times_s.size else math.inf

    def depth_m(self, t0: float, t1: float) -> float:
        """Exact rain depth (m) that falls over ``[t0, t1]`` (s); ``t1 >= t0`` required."""
        if not (math.isfinite(t0) and math.isfinite(t1)):
            raise ValueError(f"depth_m needs finite times, got t0={t0!r}, t1={t1!r}")
        if t1 < t0:
            raise ValueError(f"depth_m needs t1 >= t0, got t0={t0!r}, t1={t1!r}")
        # Sum the segments that intersect [t0, t1] directly: no cancellation between big totals.
        lo = int(np.searchsorted(self.times_s, t0, side="right"))
        hi = int(np.searchsorted(self.times_s, t1, side="left"))
        edges = np.concatenate(([t0], self.times_s[lo:hi], [t1]))
        k = np.searchsorted(self.times_s, edges[:-1], side="right") - 1
        rates = np.where(k >= 0, self.intensity_mm_h[np.maximum(k, 0)], 0.0)
        return float(np.sum(rates * np.diff(edges))) * MM_H_TO_M_S

    def total_mm(self) -> float:
        """Rain depth (mm) up to the last breakpoint (the last intensity is taken to stop there)."""
        return self._total_mm

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Hyetograph):
            return NotImplemented
        return bool(
            np.array_equal(self.times_s, other.times_s)
            and np.array_equal(self.intensity_mm_h, other.intensity_mm_h)
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (
            f"Hyetograph({self.times_s.size} breakpoints, "
            f"{self.times_s[0]:g}–{self.times_s[-1]:g} s, "
            f"peak {float(self.intensity_mm_h.max()):g} mm/h, total {self.total_mm():g} mm)"
        )


class GriddedRain(_Frozen):
    """Rain that varies over the grid, piecewise constant in time.

    ``intensity_mm_h`` has shape ``(nt, ny, nx)`` (mm/h); field ``k`` holds on
    ``[times_s[k], times_s[k+1])`` (s), the last field holds after the last time, and there is no
    rain before ``times_s[0]``. Row 0 is north, as in the elevation grid.
    """

    __slots__ = ("_rate", "_zero", "intensity_mm_h", "shape", "times_s")

    times_s: FloatArray
    intensity_mm_h: FloatArray
    shape: tuple[int, int]
    _rate: FloatArray
    _zero: FloatArray

    def __init__(self, times_s: Sequence[float], intensity_mm_h: npt.ArrayLike) -> None:
        t = _validate_times(times_s, "GriddedRain")
        try:
            i = np.array(intensity_mm_h, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"GriddedRain.intensity_mm_h must be a numeric array: {exc}") from exc
        if i.ndim != 3:
            raise ValueError(
                f"GriddedRain.intensity_mm_h must be 3-D (nt, ny, nx), got shape {i.shape}"
            )
        if i.shape[0] != t.size:
            raise ValueError(
                f"GriddedRain.intensity_mm_h has {i.shape[0]} time slices, "
                f"times_s has {t.size} times"
            )
        if i.shape[1] == 0 or i.shape[2] == 0:
            raise ValueError(f"GriddedRain.intensity_mm_h has an empty grid, shape {i.shape}")
        _check_intensity(i, "GriddedRain")
        i.setflags(write=False)
        rate = i * MM_H_TO_M_S
        rate.setflags(write=False)
        zero = np.zeros(i.shape[1:], dtype=np.float64)
        zero.setflags(write=False)
        self.times_s = t
        self.intensity_mm_h = i
        self.shape = (int(i.shape[1]), int(i.shape[2]))
        self._rate = rate
        self._zero = zero
        self._frozen = True

    def rate_m_s_field(self, t: float) -> FloatArray:
        """Rain intensity (m/s) on the grid at time ``t`` (s), shape ``(ny, nx)``, read-only."""
        k = int(np.searchsorted(self.times_s, t, side="right")) - 1
        return self._zero if k < 0 else self._rate[k]

    def next_change_s(self, t: float) -> float:
        """The next breakpoint strictly after ``t`` (s); ``inf`` if the field never changes."""
        k = int(np.searchsorted(self.times_s, t, side="right"))
        return float(self.times_s[k]) if k < self.times_s.size else math.inf

    def depth_m_field(self, t0: float, t1: float) -> FloatArray:
        """Exact rain depth (m) per cell over ``[t0, t1]`` (s), shape ``(ny, nx)``."""
        if not (math.isfinite(t0) and math.isfinite(t1)):
            raise ValueError(f"depth_m_field needs finite times, got t0={t0!r}, t1={t1!r}")
        if t1 < t0:
            raise ValueError(f"depth_m_field needs t1 >= t0, got t0={t0!r}, t1={t1!r}")
        lo = int(np.searchsorted(self.times_s, t0, side="right"))
        hi = int(np.searchsorted(self.times_s, t1, side="left"))
        edges = np.concatenate(([t0], self.times_s[lo:hi], [t1]))
        out = np.zeros(self.shape, dtype=np.float64)
        for a, b in itertools.pairwise(edges):
            out += self.rate_m_s_field(float(a)) * (float(b) - float(a))
        return out

    def __repr__(self) -> str:
        return (
            f"GriddedRain({self.times_s.size} fields of {self.shape[0]}×{self.shape[1]}, "
            f"{self.times_s[0]:g}–{self.times_s[-1]:g} s)"
        )


# ---------------------------------------------------------------------------------------------
# Design storms: storm intensity formula and Chicago hyetograph
# ---------------------------------------------------------------------------------------------

#: 1 mm/min of rain over one hectare is 10 m³/min = 166.67 L/s: q (L/(s·ha)) = 166.67 · i (mm/min).
L_S_HA_PER_MM_MIN = 10_000.0 / 60.0


@dataclass(frozen=True, slots=True)
class StormFormula:
    """Storm intensity formula (暴雨强度公式) ``i = A / (t + b)^n`` with ``A = a (1 + C lg P)``.

    ``i`` is the mean intensity (mm/min) over a duration ``t`` (min) for a return period ``P``
    (years), as Chinese design codes write it; ``a`` is in mm/min·min^n. Formulas published in the
    ``q`` form (L/(s·ha)) convert with :meth:`from_q_form`. The methods here take seconds and give
    mm/h or mm so that the rest of the model stays in SI-like edge units.

    A city's formula is configuration, never a literal truth: Zhengzhou's official parameters (the
    1982, 2002 and 2015 versions) are **unverified** here, see :data:`EXAMPLE_FORMULA_UNVERIFIED`.
    """

    a: float
    b: float
    c: float
    n: float
    name: str = ""

    def __post_init__(self) -> None:
        for key in ("a", "b", "c", "n"):
            value = getattr(self, key)
            if not isinstance(value, int | float) or not math.isfinite(value):
                raise ValueError(f"StormFormula.{key} must be a finite number, got {value!r}")
        if self.a <= 0.0:
            raise ValueError(f"StormFormula.a must be > 0 mm/min, got {self.a!r}")
        if self.b < 0.0:
            raise ValueError(f"StormFormula.b must be >= 0 min, got {self.b!r}")
        if self.c < 0.0:
            raise ValueError(f"StormFormula.c must be >= 0, got {self.c!r}")
        if not 0.0 < self.n < 1.0:
            # n >= 1 makes the depth over a duration fall as the duration grows: not a storm.
            raise ValueError(f"StormFormula.n must lie in (0, 1), got {self.n!r}")

    @classmethod
    def from_q_form(
        cls, a_l_s_ha: float, b: float, c: float, n: float, name: str = ""
    ) -> StormFormula:
        """Build from ``q = a(1 + C lg P)/(t + b)^n`` with ``a`` in L/(s·ha)."""
        return cls(a=a_l_s_ha / L_S_HA_PER_MM_MIN, b=b, c=c, n=n, name=name)

    def _big_a(self, return_period_years: float) -> float:
        p = return_period_years
        if not (isinstance(p, int | float) and math.isfinite(p) and p > 0.0):
            raise ValueError(f"return period must be a positive number of years, got {p!r}")
        big_a = self.a * (1.0 + self.c * math.log10(p))
        if big_a <= 0.0:
            raise ValueError(f"A = a(1 + C lg P) is not positive for P = {p!r} years")
        return big_a

    def intensity_mm_min(self, duration_min: float, return_period_years: float) -> float:
        """Mean intensity (mm/min) over ``duration_min`` (min) for return period P (years)."""
        if not (math.isfinite(duration_min) and duration_min >= 0.0):
            raise ValueError(f"duration must be >= 0 min, got {duration_min!r}")
        return float(self._big_a(return_period_years) / (duration_min + self.b) ** self.n)

    def intensity_mm_h(self, duration_s: float, return_period_years: float) -> float:
        """Mean intensity (mm/h) over ``duration_s`` (s) for return period P (years)."""
        return 60.0 * self.intensity_mm_min(duration_s / 60.0, return_period_years)

    def depth_mm(self, duration_s: float, return_period_years: float) -> float:
        """Rain depth (mm) over ``duration_s`` (s): mean intensity times duration."""
        t_min = duration_s / 60.0
        return self.intensity_mm_min(t_min, return_period_years) * t_min


#: An *example* formula, labelled unverified: the ``q`` form often quoted for Zhengzhou
#: (q = 3073 (1 + 0.892 lg P) / (t + 15.1)^0.824 L/(s·ha)). It was not checked against a primary
#: source; use it for demos and tests only and configure a city's official formula for real work.
EXAMPLE_FORMULA_UNVERIFIED = StormFormula.from_q_form(
    3073.0, 15.1, 0.892, 0.824, name="example (Zhengzhou-like, unverified)"
)


def chicago_hyetograph(
    formula: StormFormula,
    return_period_years: float,
    duration_s: float,
    step_s: float,
    peak_ratio: float = 0.4,
    start_s: float = 0.0,
) -> Hyetograph:
    """Chicago design storm (Keifer & Chu 1957) as a block hyetograph.

    The instantaneous intensity is ``i(τ) = A[(1 - n)τ + b]/(τ + b)^(n+1)`` with τ the time from
    the peak stretched by ``peak_ratio`` r before it and by 1 - r after it, so that the most intense
    part of every duration is centred on the peak. The cumulative depth has the closed form
    ``r·F(T) - r·F((t_p - t)/r)`` before the peak ``t_p = r·T`` and
    ``r·F(T) + (1-r)·F((t - t_p)/(1-r))`` after it, with ``F(τ) = A τ/(τ + b)^n``. Each block
    gets the exact difference, so the blocks total the formula's depth for the whole duration,
    ``F(T)``, and the window of any length τ that splits r : 1 - r around the peak holds ``F(τ)``
    too (up to the block discretisation).

    Args:
        formula: the storm intensity formula.
        return_period_years: P (years).
        duration_s: storm duration T (s), a whole number of steps.
        step_s: block length (s).
        peak_ratio: r in [0, 1], the peak's position as a fraction of the duration (0.3–0.4 in
            Chinese cities).
        start_s: time (s) of the storm's start on the model clock.
    """
    if not (math.isfinite(duration_s) and duration_s > 0.0):
        raise ValueError(f"duration_s must be > 0 s, got {duration_s!r}")
    if not (math.isfinite(step_s) and step_s > 0.0):
        raise ValueError(f"step_s must be > 0 s, got {step_s!r}")
    n_blocks = round(duration_s / step_s)
    if n_blocks < 1 or abs(n_blocks * step_s - duration_s) > 1e-9 * duration_s:
        raise ValueError(
            f"duration_s ({duration_s!r}) must be a whole number of steps of {step_s!r} s"
        )
    if not (math.isfinite(peak_ratio) and 0.0 <= peak_ratio <= 1.0):
        raise ValueError(f"peak_ratio must lie in [0, 1], got {peak_ratio!r}")
    big_a = formula._big_a(return_period_years)
    b, n, r = formula.b, formula.n, peak_ratio
    total_min = duration_s / 60.0
    t_peak = r * total_min

    def f(tau: FloatArray) -> FloatArray:
        return big_a * tau / (tau + b) ** n

    edges = np.linspace(0.0, total_min, n_blocks + 1)
    cum = np.empty_like(edges)
    before = edges <= t_peak
    if r > 0.0:
        cum[before] = r * f(np.array([total_min]))[0] - r * f((t_peak - edges[before]) / r)
    else:
        cum[before] = 0.0
    if r < 1.0:
        after = ~before
        cum[after] = r * f(np.array([total_min]))[0] + (1.0 - r) * f(
            (edges[after] - t_peak) / (1.0 - r)
        )
    blocks = np.diff(cum)
    # Round-off can leave a -1e-16 block next to a zero-length tail: never hand out negative rain.
    blocks = np.maximum(blocks, 0.0)
    return Hyetograph.from_blocks(step_s, blocks.tolist(), start_s=start_s)


# ---------------------------------------------------------------------------------------------
# The Zhengzhou "7·20" (20 July 2021) scenario: a reconstruction
# ---------------------------------------------------------------------------------------------

#: Published totals at Zhengzhou national station (shared/reference/facts.md).
ZZ720_PEAK_HOUR_MM = 201.9  # 16:00–17:00, 20 July 2021 (Beijing time)
ZZ720_24H_MM = 552.5  # 20:00 19 July → 20:00 20 July
ZZ720_72H_MM = 617.1  # 20:00 17 July → 20:00 20 July

# Relative weights of the 23 other hours of the 24 h window (20:00 19 July → 20:00 20 July),
# index 20 (16:00–17:00) excluded. They only give a plausible build-up and decay; they are NOT
# observed values.
_ZZ720_SHAPE = (3, 4, 5, 6, 5, 6, 8, 10, 9, 8, 10, 12, 15, 18, 22, 25, 30, 38, 45, 55, 60, 35, 20)
_ZZ720_PEAK_INDEX = 20


@dataclass(frozen=True, slots=True)
class RainScenario:
    """A named rain scenario: a hyetograph on a clock that starts at ``start``.

    ``hourly_mm`` lists the hourly totals (mm) that the hyetograph holds, hour 0 starting at
    ``start``; ``reconstruction`` says that the hourly values are not observations.
    """

    name: str
    label: str
    start: datetime
    hourly_mm: tuple[float, ...]
    hyetograph: Hyetograph
    reconstruction: bool

    def window(self, first_hour: int, n_hours: int) -> Hyetograph:
        """The hyetograph of hours ``[first_hour, first_hour + n_hours)``, its clock at 0."""
        if not (first_hour >= 0 and n_hours >= 1 and first_hour + n_hours <= len(self.hourly_mm)):
            raise ValueError(
                f"window hours [{first_hour}, {first_hour + n_hours}) lie outside the scenario's "
                f"0–{len(self.hourly_mm)} h"
            )
        return Hyetograph.from_blocks(3600.0, self.hourly_mm[first_hour : first_hour + n_hours])


def _scaled_hours(weights: Sequence[float], total_mm: float) -> list[float]:
    """Hourly depths (0.1 mm resolution, like a gauge record) in proportion to ``weights``
    that sum to ``total_mm`` exactly (in tenths of a millimetre)."""
    w = np.asarray(weights, dtype=np.float64)
    tenths_total = round(total_mm * 10.0)
    tenths = np.round(w / w.sum() * tenths_total).astype(np.int64)
    # Put the rounding residual on the largest hour so the total is exact.
    tenths[int(np.argmax(w))] += tenths_total - int(tenths.sum())
    return [int(x) / 10.0 for x in tenths]


def zhengzhou_720_reconstruction(antecedent: bool = False) -> RainScenario:
    """The Zhengzhou "7·20" storm (20 July 2021) as a **reconstruction**, not observed hourly data.

    Only totals were published for the Zhengzhou national station: 201.9 mm in 16:00–17:00 on
    20 July, 552.5 mm in the 24 h from 20:00 on 19 July to 20:00 on 20 July, and 617.1 mm in the
    72 h from 20:00 on 17 July. This scenario matches those totals exactly (to 0.1 mm) and spreads
    the rest of each window over its hours with an assumed build-up and decay. The hourly values
    other than the 16:00–17:00 peak are invented: say so wherever the scenario is shown.

    Args:
        antecedent: if true the scenario covers the 72 h from 20:00 on 17 July (the first 48 h
            carry the 64.6 mm that fell before the main day); otherwise the 24 h from 20:00 on
            19 July (Beijing time).
    """
    rest = ZZ720_24H_MM - ZZ720_PEAK_HOUR_MM
    day = _scaled_hours(_ZZ720_SHAPE, rest)
    day.insert(_ZZ720_PEAK_INDEX, ZZ720_PEAK_HOUR_MM)
    hours = day
    start = datetime(2021, 7, 19, 20, 0, tzinfo=_BEIJING)
    if antecedent:
        # 48 h of light to moderate rain, heavier on the second day: a shape, not observations.
        shape = [1.0 + 0.5 * math.sin(math.pi * k / 12.0) ** 2 + k / 24.0 for k in range(48)]
        hours = _scaled_hours(shape, ZZ720_72H_MM - ZZ720_24H_MM) + day
        start = datetime(2021, 7, 17, 20, 0, tzinfo=_BEIJING)
    label = (
        "郑州“7·20”重建雨型（非逐时实测）/ Zhengzhou 7·20 reconstruction — matches the published "
        f"totals ({ZZ720_PEAK_HOUR_MM} mm in 16:00–17:00, {ZZ720_24H_MM} mm in 24 h"
        + (f", {ZZ720_72H_MM} mm in 72 h" if antecedent else "")
        + "); other hourly values are not observations"
    )
    return RainScenario(
        name="zhengzhou_720_72h" if antecedent else "zhengzhou_720_24h",
        label=label,
        start=start,
        hourly_mm=tuple(hours),
        hyetograph=Hyetograph.from_blocks(3600.0, hours),
        reconstruction=True,
    )


# ---------------------------------------------------------------------------------------------
# Inverse-distance interpolation of gauge series onto the grid
# ---------------------------------------------------------------------------------------------


def idw_gridded_rain(
    gauge_xy: npt.ArrayLike,
    times_s: Sequence[float],
    intensity_mm_h: npt.ArrayLike,
    shape: tuple[int, int],
    cell_size: float,
    origin_xy: tuple[float, float],
    power: float = 2.0,
) -> GriddedRain:
    """Interpolate rain gauge series to the grid by inverse-distance weighting.

    Each cell centre gets ``Σ w_g i_g / Σ w_g`` with ``w_g = 1 / d_g^power`` over the gauges that
    have a value at that time; a cell centre on a gauge takes that gauge's value. A missing value
    (NaN) drops that gauge for that time only, so one broken gauge never stops a run.

    Args:
        gauge_xy: ``(m, 2)`` gauge positions (x east, y north) in the grid's map units (m).
        times_s: ``nt`` strictly increasing times (s), shared by all gauges.
        intensity_mm_h: ``(nt, m)`` intensities (mm/h), piecewise constant like
            :class:`Hyetograph`.
        shape: grid ``(ny, nx)``.
        cell_size: cell size (m).
        origin_xy: map coordinates (m) of the grid's north-west corner (row 0 is north).
        power: IDW exponent (> 0).
    """
    xy = np.asarray(gauge_xy, dtype=np.float64)
    if xy.ndim != 2 or xy.shape[1] != 2 or xy.shape[0] == 0:
        raise ValueError(f"gauge_xy must have shape (m, 2) with m >= 1, got {xy.shape}")
    bad = np.argwhere(~np.isfinite(xy))
    if bad.size:
        raise ValueError(f"gauge_xy[{bad[0][0]}] is not finite: {xy[bad[0][0]].tolist()}")
    t = _validate_times(times_s, "idw_gridded_rain")
    vals = np.asarray(intensity_mm_h, dtype=np.float64)
    if vals.shape != (t.size, xy.shape[0]):
        raise ValueError(
            f"intensity_mm_h must have shape (nt, m) = ({t.size}, {xy.shape[0]}), got {vals.shape}"
        )
    if np.any(np.isinf(vals)):
        k, g = np.argwhere(np.isinf(vals))[0]
        raise ValueError(f"intensity_mm_h[{k}, {g}] is infinite")
    if np.any(vals < 0.0):
        k, g = np.argwhere(vals < 0.0)[0]
        raise ValueError(f"intensity_mm_h[{k}, {g}] is negative ({vals[k, g]!r} mm/h)")
    ny, nx = (int(shape[0]), int(shape[1]))
    if ny <= 0 or nx <= 0:
        raise ValueError(f"shape must be positive (ny, nx), got {shape!r}")
    if not (math.isfinite(cell_size) and cell_size > 0.0):
        raise ValueError(f"cell_size must be > 0 m, got {cell_size!r}")
    if not (math.isfinite(power) and power > 0.0):
        raise ValueError(f"power must be > 0, got {power!r}")
    x0, y0 = float(origin_xy[0]), float(origin_xy[1])
    xc = x0 + (np.arange(nx) + 0.5) * cell_size
    yc = y0 - (np.arange(ny) + 0.5) * cell_size
    valid = ~np.isnan(vals)
    empty = np.flatnonzero(~valid.any(axis=1))
    if empty.size:
        raise ValueError(f"no gauge has a value at times_s[{empty[0]}] = {float(t[empty[0]])!r} s")

    out = np.empty((t.size, ny, nx), dtype=np.float64)
    # Row by row keeps the (m, nx) weight block small on big grids.
    for row in range(ny):
        d2 = (xc[None, :] - xy[:, 0:1]) ** 2 + (yc[row] - xy[:, 1:2]) ** 2  # (m, nx)
        on_gauge = d2 == 0.0
        with np.errstate(divide="ignore"):
            w = np.where(on_gauge, 0.0, d2 ** (-0.5 * power))
        for k in range(t.size):
            ok = valid[k]
            v = np.where(ok, vals[k], 0.0)
            wk = w * ok[:, None]
            field = (v @ wk) / np.maximum(wk.sum(axis=0), np.finfo(np.float64).tiny)
            hit = on_gauge & ok[:, None]
            if hit.any():
                g_idx, c_idx = np.nonzero(hit)
                field[c_idx] = v[g_idx]
            out[k, row] = field
    return GriddedRain(times_s=t.tolist(), intensity_mm_h=out)
