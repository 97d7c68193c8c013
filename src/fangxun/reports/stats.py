"""Pure computations of the post-event reports: storm events in rain series, rolling maxima, the
rainfall grade, the return period from a storm formula, time above a threshold, time to drain,
and the cause suggestions. No database here: :mod:`fangxun.reports.service` feeds these.

Units: rain depths in m, depths in m, durations in s (SI); only the grade thresholds are written in
mm, as GB/T 28592 writes them.

>>> from datetime import UTC, datetime, timedelta
>>> t0 = datetime(2026, 7, 1, tzinfo=UTC)
>>> times = [t0 + timedelta(minutes=5 * k) for k in (1, 2, 3)]
>>> s = RainSeries("RG01", times, [0.01, 0.02, 0.0], 300)
>>> [round(e.max_total_m * 1000, 1) for e in find_events([s], gap=timedelta(hours=6))]
[30.0]
>>> rolling_max([0.0, 600.0, 1200.0], [1.0, 2.0, 3.0], 1200.0)
5.0
>>> time_above([0.0, 10.0, 20.0], [0.0, 1.0, 0.0], 0.5)
10.0
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np

from fangxun.times import SHORT, local
from rainkit import StormFormula

#: GB/T 28592-2012 grades by the 24 h total, mm (lower bound of each grade), heaviest first.
GRADES_24H_MM: tuple[tuple[str, float], ...] = (
    ("extreme_rainstorm", 250.0),  # 特大暴雨
    ("heavy_rainstorm", 100.0),  # 大暴雨
    ("rainstorm", 50.0),  # 暴雨
)
#: GB/T 28592-2012 grades by the 12 h total, mm.
GRADES_12H_MM: tuple[tuple[str, float], ...] = (
    ("extreme_rainstorm", 140.0),
    ("heavy_rainstorm", 70.0),
    ("rainstorm", 30.0),
)
GRADE_ORDER: tuple[str, ...] = ("none", "rainstorm", "heavy_rainstorm", "extreme_rainstorm")
GRADE_LABELS_ZH: dict[str, str] = {
    "none": "暴雨以下",
    "rainstorm": "暴雨",
    "heavy_rainstorm": "大暴雨",
    "extreme_rainstorm": "特大暴雨",
}
#: Durations over which the return period is estimated, s. Storm formulas are fitted to short
#: durations (minutes to a few hours), so longer windows are not used.
RETURN_PERIOD_DURATIONS_S: tuple[int, ...] = (1800, 3600, 7200, 3 * 3600)
#: Above this the estimate is shown as "more than" (formulas are fitted to 1–100 years).
RETURN_PERIOD_SHOWN_MAX_YEARS = 100.0
#: Rolling windows of the event statistics, s.
WINDOWS_S: dict[str, int] = {"1h": 3600, "3h": 3 * 3600, "12h": 12 * 3600, "24h": 24 * 3600}


# --- rain ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RainSeries:
    """A gauge's interval rain depths (m), each stamped at the end of its interval."""

    code: str
    times: Sequence[datetime]
    depths_m: Sequence[float]
    interval_s: int


@dataclass(frozen=True)
class GaugeStats:
    """One gauge's figures over an event: total and rolling maxima (m)."""

    code: str
    total_m: float
    max_m: dict[str, float]


@dataclass
class EventWindow:
    """A storm event found in the series: its window, its gauges' figures, whether still open."""

    start: datetime
    end: datetime
    gauges: list[GaugeStats] = field(default_factory=list)
    is_open: bool = False

    @property
    def max_total_m(self) -> float:
        """Total at the heaviest gauge, m."""
        return max((g.total_m for g in self.gauges), default=0.0)

    @property
    def mean_total_m(self) -> float:
        """Mean of the gauges' totals, m."""
        return float(np.mean([g.total_m for g in self.gauges])) if self.gauges else 0.0

    def max_over_gauges(self, label: str) -> float:
        """Largest rolling total of window ``label`` ("1h", "3h", "12h", "24h") over gauges, m."""
        return max((g.max_m[label] for g in self.gauges), default=0.0)

    @property
    def peak_gauge(self) -> str | None:
        """Code of the heaviest gauge."""
        return max(self.gauges, key=lambda g: g.total_m).code if self.gauges else None


def rolling_max(times_s: Sequence[float], values: Sequence[float], window_s: float) -> float:
    """Largest sum of ``values`` over a window of ``window_s`` s, the window ``(t - W, t]``
    ending at a sample time (interval values stamped at interval end; ends between samples
    never hold more). ``times_s`` must be sorted."""
    t = np.asarray(times_s, dtype=np.float64)
    v = np.asarray(values, dtype=np.float64)
    if t.size == 0:
        return 0.0
    csum = np.concatenate([[0.0], np.cumsum(v)])
    # For each end j, the first sample inside (t_j - W, t_j].
    first = np.searchsorted(t, t - window_s, side="right")
    sums = csum[1:] - csum[first]
    return float(max(sums.max(), 0.0))


def gauge_stats(series: RainSeries, start: datetime, end: datetime) -> GaugeStats:
    """Total and rolling maxima (m) of ``series`` over the event ``(start, end]``."""
    pairs = [(t, d) for t, d in zip(series.times, series.depths_m, strict=True) if start < t <= end]
    pairs.sort(key=lambda p: p[0])
    secs = [(t - start).total_seconds() for t, _ in pairs]
    vals = [max(0.0, d) for _, d in pairs]
    return GaugeStats(
        code=series.code,
        total_m=float(sum(vals)),
        max_m={label: rolling_max(secs, vals, w) for label, w in WINDOWS_S.items()},
    )


def find_events(
    series: Sequence[RainSeries],
    *,
    gap: timedelta,
    min_total_m: float = 0.0,
    data_end: datetime | None = None,
) -> list[EventWindow]:
    """Storm events in the gauges' series, oldest first.

    Rain at any gauge (a depth > 0) is rain in the district. Two rainy reports whose times differ
    by ``gap`` or more belong to different events (the rule of the monitoring event totals); an
    event starts at the beginning of its first rainy interval and ends at its last rainy report.
    Events whose heaviest gauge got less than ``min_total_m`` are left out. An event whose last
    rain is less than ``gap`` before ``data_end`` may go on: it is marked ``is_open``.
    """
    if gap <= timedelta(0):
        raise ValueError(f"the dry gap must be positive, got {gap}")
    wet: list[tuple[datetime, int]] = []
    for s in series:
        wet += [(t, s.interval_s) for t, d in zip(s.times, s.depths_m, strict=True) if d > 0]
    wet.sort()
    clusters: list[tuple[datetime, datetime]] = []
    for t, interval in wet:
        if clusters and t - clusters[-1][1] < gap:
            clusters[-1] = (clusters[-1][0], t)
        else:
            clusters.append((t - timedelta(seconds=interval), t))
    events: list[EventWindow] = []
    for start, end in clusters:
        ev = EventWindow(start=start, end=end)
        ev.gauges = [gauge_stats(s, start, end) for s in series]
        ev.gauges = [g for g in ev.gauges if g.total_m > 0]
        ev.is_open = data_end is not None and data_end - end < gap
        if ev.max_total_m + 1e-12 >= min_total_m:
            events.append(ev)
    return events


def rainfall_grade(max_24h_m: float, max_12h_m: float) -> str:
    """GB/T 28592 grade code of the largest 24 h and 12 h totals (the higher of the two)."""

    def grade(total_m: float, table: tuple[tuple[str, float], ...]) -> str:
        mm = round(total_m * 1000.0, 1)  # the standard's grades are in tenths of mm
        return next((code for code, low in table if mm >= low), "none")

    g24, g12 = grade(max_24h_m, GRADES_24H_MM), grade(max_12h_m, GRADES_12H_MM)
    return max(g24, g12, key=GRADE_ORDER.index)


def return_period_years(formula: StormFormula, depth_m: float, duration_s: float) -> float | None:
    """Return period P (years) whose formula depth over ``duration_s`` equals ``depth_m``:
    ``A = i (t + b)^n`` and ``P = 10^((A/a - 1)/C)``. None when the formula has ``C = 0`` or no
    rain fell. Very large values are capped at 10⁹ years (the formula says nothing there)."""
    if depth_m <= 0 or duration_s <= 0 or formula.c <= 0:
        return None
    t_min = duration_s / 60.0
    i_mm_min = depth_m * 1000.0 / t_min
    big_a = i_mm_min * (t_min + formula.b) ** formula.n
    exponent = (big_a / formula.a - 1.0) / formula.c
    return float(10.0 ** min(exponent, 9.0))


def estimate_return_period(
    formula: StormFormula, times_s: Sequence[float], depths_m: Sequence[float]
) -> tuple[float | None, int | None]:
    """Largest return period (years) over :data:`RETURN_PERIOD_DURATIONS_S` of a gauge's series,
    and the duration (s) it was found at."""
    best: tuple[float | None, int | None] = (None, None)
    for d in RETURN_PERIOD_DURATIONS_S:
        p = return_period_years(formula, rolling_max(times_s, depths_m, d), d)
        if p is not None and (best[0] is None or p > best[0]):
            best = (p, d)
    return best


def format_return_period(p: float | None) -> str:
    """Return period for people: "约 5 年", "> 100 年（超出公式范围）", "< 1 年", "—"."""
    if p is None:
        return "—"
    if p > RETURN_PERIOD_SHOWN_MAX_YEARS:
        return f"> {RETURN_PERIOD_SHOWN_MAX_YEARS:.0f} 年（超出公式适用范围）"
    if p < 1.0:
        return "< 1 年"
    return f"约 {p:.0f} 年" if p >= 10 else f"约 {p:.1f} 年"


# --- depths --------------------------------------------------------------------------------------


def time_above(times_s: Sequence[float], depth_m: Sequence[float], threshold_m: float) -> float:
    """Seconds the depth is at or above ``threshold_m``, linear between samples."""
    t = np.asarray(times_s, dtype=np.float64)
    d = np.asarray(depth_m, dtype=np.float64)
    total = 0.0
    for k in range(len(t) - 1):
        t0, t1, d0, d1 = t[k], t[k + 1], d[k], d[k + 1]
        a0, a1 = d0 >= threshold_m, d1 >= threshold_m
        if a0 and a1:
            total += t1 - t0
        elif a0 != a1:
            tc = t0 + (threshold_m - d0) / (d1 - d0) * (t1 - t0)
            total += (tc - t0) if a0 else (t1 - tc)
    return float(total)


def first_reaching(
    times_s: Sequence[float], depth_m: Sequence[float], threshold_m: float
) -> float | None:
    """Time (s) the depth first reaches ``threshold_m``, linear between samples; None: never."""
    for k in range(len(times_s)):
        if depth_m[k] >= threshold_m:
            if k == 0:
                return float(times_s[0])
            t0, t1, d0, d1 = times_s[k - 1], times_s[k], depth_m[k - 1], depth_m[k]
            return float(t0 + (threshold_m - d0) / (d1 - d0) * (t1 - t0))
    return None


def time_to_drain(
    times_s: Sequence[float], depth_m: Sequence[float], drained_m: float
) -> float | None:
    """Seconds from the peak until the depth is back at or below ``drained_m`` (linear between
    samples); 0 when the peak never rose above it; None when it had not drained by the last
    sample."""
    if len(times_s) == 0:
        return None
    k_peak = int(np.argmax(depth_m))
    if depth_m[k_peak] <= drained_m:
        return 0.0
    for k in range(k_peak + 1, len(times_s)):
        if depth_m[k] <= drained_m:
            t0, t1, d0, d1 = times_s[k - 1], times_s[k], depth_m[k - 1], depth_m[k]
            tc = t0 + (d0 - drained_m) / (d0 - d1) * (t1 - t0)
            return float(tc - times_s[k_peak])
    return None


# --- causes --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Suggestion:
    """A cause the data points to, with the evidence in words (Chinese, for the report)."""

    cause: str
    evidence: str


@dataclass
class CauseContext:
    """What the data says about one ponded point in one event. Times in s from the event start."""

    kind: str
    times_s: Sequence[float]
    depth_m: Sequence[float]
    ponding_m: float
    rain_end_s: float
    #: Largest mean intensity over the drainage design duration at the nearest gauge, mm/h, and
    #: the drainage design intensity (capacity) it is compared with, mm/h.
    design_window_mm_h: float | None = None
    capacity_mm_h: float | None = None
    #: Pump station serving the point: (time s, pumps running, power 0/1); either may be None.
    pump_code: str | None = None
    pump: Sequence[tuple[float, float | None, float | None]] = ()
    #: Nearest river gauge: (time s, level m) and the outfall elevation it is compared with.
    river_code: str | None = None
    river: Sequence[tuple[float, float]] = ()
    outfall_m: float | None = None
    outfall_source: str = ""
    #: Time for the point to drain after rain ended (None: not drained in the data), s.
    drained_after_rain_s: float | None = None
    forecast_peak_m: float | None = None
    #: The moment ``times_s`` count from: evidence then names clock times (Beijing time).
    origin: datetime | None = None

    def clock(self, t_s: float) -> str:
        """A time of the context in words: a Beijing clock time, else hours from the start."""
        if self.origin is None:
            return f"第 {t_s / 3600:.1f} 小时"
        return local(self.origin + timedelta(seconds=t_s), SHORT + " ")


def _pump_failure(
    ctx: CauseContext, t: list[float], d: list[float], pump_expected_m: float
) -> Suggestion | None:
    """The first moment the depth rises above ``pump_expected_m`` while the pump station reports
    no power or no pump running, as a ``pump_failure`` suggestion; None when there is none."""
    pump = sorted(ctx.pump or ())
    for k in range(1, len(t)):
        if not (d[k] > d[k - 1] and d[k] >= pump_expected_m):
            continue
        status = [p for p in pump if p[0] <= t[k]]
        if not status:
            continue
        _, running, power = status[-1]
        if power is not None and power < 0.5:
            what = "停电"
        elif running is not None and running < 0.5:
            what = "无泵运行"
        else:
            continue
        return Suggestion(
            "pump_failure",
            f"{ctx.clock(t[k])}积水 {d[k] * 100:.0f} cm 且仍在上涨时，泵站 {ctx.pump_code} {what}",
        )
    return None


def suggest_causes(
    ctx: CauseContext,
    *,
    causes: Sequence[str],
    pump_expected_m: float,
    slow_drain_s: float,
) -> list[Suggestion]:
    """Causes the data suggests for a ponded point, strongest evidence first; only codes in
    ``causes`` (the configured list) are suggested, "other" when nothing else fits.

    Rules: depth rising above ``pump_expected_m`` while the serving pump station reports no pump
    running or no power → ``pump_failure``; a river level at or above the outfall while the point
    was ponded → ``river_backwater``; rain over the drainage design duration heavier than the
    design intensity → ``drainage_capacity``; still wet ``slow_drain_s`` after rain ended with
    neither of the first two to explain it → ``blocked_inlets``; a construction site →
    ``construction_works``; a low-lying road or underpass, or a forecast that ponds there too →
    ``terrain_low_point``.
    """
    out: list[Suggestion] = []
    t, d = list(ctx.times_s), list(ctx.depth_m)
    pump_failure = _pump_failure(ctx, t, d, pump_expected_m)
    if pump_failure is not None:
        out.append(pump_failure)
    if ctx.river and ctx.outfall_m is not None:
        wet = [(tt, dd) for tt, dd in zip(t, d, strict=True) if dd >= ctx.ponding_m]
        if wet:
            t_first, t_last = wet[0][0], wet[-1][0]
            during = [lv for tt, lv in ctx.river if t_first <= tt <= t_last]
            if during and max(during) >= ctx.outfall_m:
                out.append(
                    Suggestion(
                        "river_backwater",
                        f"积水期间河道水位（{ctx.river_code}）最高 {max(during):.2f} m，"
                        f"高于排水出口 {ctx.outfall_m:.2f} m（{ctx.outfall_source}）",
                    )
                )
    if (
        ctx.design_window_mm_h is not None
        and ctx.capacity_mm_h is not None
        and ctx.design_window_mm_h > ctx.capacity_mm_h
    ):
        out.append(
            Suggestion(
                "drainage_capacity",
                f"雨强 {ctx.design_window_mm_h:.1f} mm/h 超过排水设计能力 "
                f"{ctx.capacity_mm_h:.1f} mm/h",
            )
        )
    slow = ctx.drained_after_rain_s is None or ctx.drained_after_rain_s > slow_drain_s
    if slow and not any(s.cause in ("pump_failure", "river_backwater") for s in out):
        how = (
            "至数据结束仍未退水"
            if ctx.drained_after_rain_s is None
            else f"雨停后 {ctx.drained_after_rain_s / 3600:.1f} 小时才退水"
        )
        out.append(Suggestion("blocked_inlets", f"{how}，泵站与河道水位不能解释，疑似雨水口堵塞"))
    if ctx.kind == "construction_site":
        out.append(Suggestion("construction_works", "隐患点为在建工地"))
    if ctx.kind in ("low_lying_road", "underpass"):
        out.append(Suggestion("terrain_low_point", "隐患点为低洼路段或下穿通道"))
    elif ctx.forecast_peak_m is not None and ctx.forecast_peak_m >= ctx.ponding_m:
        out.append(
            Suggestion(
                "terrain_low_point", f"预报模型在此处也积水 {ctx.forecast_peak_m * 100:.0f} cm"
            )
        )
    out = [s for s in out if s.cause in causes]
    if not out and "other" in causes:
        out.append(Suggestion("other", "数据未指向已列原因，需现场核实"))
    return out


def design_window_intensity_mm_h(
    times_s: Sequence[float], depths_m: Sequence[float], window_s: float
) -> float:
    """Largest mean intensity (mm/h) over a window of ``window_s`` s of a gauge's series."""
    return rolling_max(times_s, depths_m, window_s) * 1000.0 * 3600.0 / window_s


def finite_or_none(x: float | None) -> float | None:
    """``x`` when it is a finite number, else None (JSON has no NaN)."""
    return x if x is not None and math.isfinite(x) else None
