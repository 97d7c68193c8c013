"""Pure computations: storm events at the dry-gap edges, rolling maxima, grades, the return period
from the storm formula, time above a threshold and cause suggestions on crafted cases."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from fangxun.inundation.rain import EXAMPLE_FORMULA_UNVERIFIED, StormFormula
from fangxun.reports import stats

T0 = datetime(2026, 7, 1, tzinfo=UTC)
GAP = timedelta(hours=6)


def series(wet: dict[int, float], n: int = 400) -> stats.RainSeries:
    """5-minute series of ``n`` reports; ``wet`` maps report index → mm."""
    times = [T0 + timedelta(minutes=5 * k) for k in range(1, n + 1)]
    return stats.RainSeries("G", times, [wet.get(k, 0.0) / 1000.0 for k in range(1, n + 1)], 300)


@pytest.mark.parametrize(
    ("dry_reports", "expected_events"),
    [
        (71, 1),  # reports 6 h - 5 min apart: the same event
        (72, 2),  # exactly the dry gap apart: two events
        (73, 2),
    ],
)
def test_events_split_at_the_dry_gap(dry_reports: int, expected_events: int) -> None:
    first, second = 10, 10 + dry_reports
    s = series({first: 12.0, second: 15.0})
    events = stats.find_events([s], gap=GAP, data_end=T0 + timedelta(days=5))
    assert len(events) == expected_events
    assert events[0].start == s.times[first - 1] - timedelta(minutes=5)
    if expected_events == 2:
        assert [round(e.max_total_m * 1000, 6) for e in events] == [12.0, 15.0]
        assert events[1].start == s.times[second - 1] - timedelta(minutes=5)
    else:
        assert events[0].end == s.times[second - 1]
        assert events[0].max_total_m * 1000 == pytest.approx(27.0)


def test_event_open_within_a_gap_of_the_data_end_and_minimum_total() -> None:
    s = series({5: 3.0, 300: 20.0})
    last = s.times[299]
    events = stats.find_events([s], gap=GAP, data_end=last + GAP - timedelta(seconds=1))
    assert [e.is_open for e in events] == [False, True]
    events = stats.find_events([s], gap=GAP, data_end=last + GAP)
    assert [e.is_open for e in events] == [False, False]
    events = stats.find_events([s], gap=GAP, min_total_m=0.010)
    assert [round(e.max_total_m * 1000) for e in events] == [20]
    with pytest.raises(ValueError, match="dry gap"):
        stats.find_events([s], gap=timedelta(0))


def test_two_gauges_share_the_event_and_stats_per_gauge() -> None:
    a = series({10: 2.0, 11: 4.0})
    b = stats.RainSeries("H", a.times, [0.0] * 12 + [0.006] + [0.0] * 387, 300)
    (event,) = stats.find_events([a, b], gap=GAP)
    assert event.start == a.times[9] - timedelta(minutes=5) and event.end == a.times[12]
    assert {g.code: round(g.total_m * 1000, 6) for g in event.gauges} == {"G": 6.0, "H": 6.0}
    assert event.mean_total_m == pytest.approx(0.006)


def test_rolling_max_against_brute_force() -> None:
    rng = np.random.default_rng(7)
    times = np.cumsum(rng.integers(60, 900, size=200)).astype(float)
    values = rng.random(200)
    for window in (600.0, 3600.0, 3 * 3600.0):
        brute = max(values[(times > t - window) & (times <= t)].sum() for t in times)
        assert stats.rolling_max(times, values, window) == pytest.approx(brute)


@pytest.mark.parametrize(
    ("h24", "h12", "grade"),
    [
        (49.9, 29.9, "none"),
        (50.0, 20.0, "rainstorm"),
        (40.0, 30.0, "rainstorm"),
        (99.9, 69.9, "rainstorm"),
        (100.0, 60.0, "heavy_rainstorm"),
        (80.0, 70.0, "heavy_rainstorm"),
        (249.9, 139.9, "heavy_rainstorm"),
        (250.0, 100.0, "extreme_rainstorm"),
        (552.5, 400.0, "extreme_rainstorm"),
    ],
)
def test_rainfall_grade_gbt_28592(h24: float, h12: float, grade: str) -> None:
    assert stats.rainfall_grade(h24 / 1000.0, h12 / 1000.0) == grade


def test_return_period_inverts_the_formula() -> None:
    f = EXAMPLE_FORMULA_UNVERIFIED
    for p in (1.0, 5.0, 50.0):
        depth_mm = f.depth_mm(3600.0, p)
        assert stats.return_period_years(f, depth_mm / 1000.0, 3600.0) == pytest.approx(p)
    assert stats.return_period_years(StormFormula(a=10, b=5, c=0.0, n=0.7), 0.05, 3600) is None
    assert stats.return_period_years(f, 0.0, 3600.0) is None
    # The 7·20 record hour is far beyond any formula: shown as "more than 100 years".
    record = stats.return_period_years(f, 0.2019, 3600.0)
    assert record is not None and record > 1e5
    assert stats.format_return_period(record).startswith("> 100")
    assert stats.return_period_years(f, 5.0, 600.0) == pytest.approx(1e9)  # capped
    assert stats.format_return_period(1e9).startswith("> 100")
    assert stats.format_return_period(0.4) == "< 1 年"
    # Estimated from a series: a uniform 2-year hour of 5-minute blocks.
    depth = f.depth_mm(3600.0, 2.0) / 12 / 1000.0
    p, dur = stats.estimate_return_period(f, [300.0 * k for k in range(1, 13)], [depth] * 12)
    assert p is not None and p >= 2.0 - 1e-9 and dur is not None


def test_time_above_and_drain_on_a_triangle() -> None:
    t = np.linspace(0.0, 5 * 3600.0, 61)
    d = np.interp(t, [0.0, 3600.0, 9000.0, 18000.0], [0.0, 0.0, 0.5, 0.0])
    # Closed form: 0.15 m is reached at 1 h + 0.3·1.5 h and left at 2.5 h + 0.7·2.5 h.
    assert stats.time_above(t, d, 0.15) == pytest.approx((4.25 - 1.45) * 3600.0)
    assert stats.time_above(t, d, 0.6) == 0.0
    assert stats.first_reaching(t, d, 0.15) == pytest.approx(1.45 * 3600.0)
    assert stats.time_to_drain(t, d, 0.05) == pytest.approx(0.9 * 2.5 * 3600.0)
    assert stats.time_to_drain(t[:40], d[:40], 0.05) is None
    assert stats.time_to_drain([0.0, 1.0], [0.01, 0.02], 0.05) == 0.0


CAUSES = (
    "drainage_capacity",
    "blocked_inlets",
    "pump_failure",
    "river_backwater",
    "construction_works",
    "terrain_low_point",
    "other",
)


def ctx(**kw: object) -> stats.CauseContext:
    base: dict[str, object] = {
        "kind": "residential_compound",
        "times_s": [0.0, 600.0, 1200.0, 1800.0, 2400.0],
        "depth_m": [0.0, 0.12, 0.25, 0.2, 0.0],
        "ponding_m": 0.15,
        "rain_end_s": 1200.0,
        "drained_after_rain_s": 1200.0,
    }
    base.update(kw)
    return stats.CauseContext(**base)  # type: ignore[arg-type]


def codes(c: stats.CauseContext, causes: tuple[str, ...] = CAUSES) -> list[str]:
    found = stats.suggest_causes(c, causes=causes, pump_expected_m=0.10, slow_drain_s=3600.0)
    return [s.cause for s in found]


def test_cause_pump_failure_when_depth_rose_while_the_pumps_were_off() -> None:
    off = [(0.0, 2.0, 1.0), (500.0, 0.0, 0.0)]
    assert codes(ctx(pump_code="PS1", pump=off)) == ["pump_failure"]
    on = [(0.0, 2.0, 1.0)]
    assert codes(ctx(pump_code="PS1", pump=on)) == ["other"]
    # Off only after the water stopped rising: not the cause.
    late = [(0.0, 2.0, 1.0), (1500.0, 0.0, 1.0)]
    assert codes(ctx(pump_code="PS1", pump=late)) == ["other"]
    found = stats.suggest_causes(
        ctx(pump_code="PS1", pump=off), causes=CAUSES, pump_expected_m=0.10, slow_drain_s=3600
    )
    assert "停电" in found[0].evidence and "PS1" in found[0].evidence


def test_cause_backwater_when_the_river_stood_above_the_outfall() -> None:
    high = [(1200.0, 101.0)]
    assert codes(ctx(river_code="RV", river=high, outfall_m=100.5)) == ["river_backwater"]
    assert codes(ctx(river_code="RV", river=high, outfall_m=101.5)) == ["other"]
    # High water outside the ponded time does not count.
    assert codes(ctx(river_code="RV", river=[(2400.0, 105.0)], outfall_m=100.5)) == ["other"]


def test_cause_capacity_slow_drain_kind_and_configured_list() -> None:
    assert codes(ctx(design_window_mm_h=80.0, capacity_mm_h=48.0)) == ["drainage_capacity"]
    assert codes(ctx(design_window_mm_h=40.0, capacity_mm_h=48.0)) == ["other"]
    assert codes(ctx(drained_after_rain_s=None)) == ["blocked_inlets"]
    assert codes(ctx(drained_after_rain_s=7200.0)) == ["blocked_inlets"]
    # A slow drain explained by backwater is not put down to blocked inlets.
    slow_bw = ctx(
        drained_after_rain_s=None, river_code="RV", river=[(1200.0, 101.0)], outfall_m=100.0
    )
    assert codes(slow_bw) == ["river_backwater"]
    assert codes(ctx(kind="construction_site")) == ["construction_works"]
    assert codes(ctx(kind="underpass")) == ["terrain_low_point"]
    assert codes(ctx(forecast_peak_m=0.3)) == ["terrain_low_point"]
    # Only configured causes are suggested.
    assert codes(ctx(kind="underpass"), ("pump_failure", "other")) == ["other"]


def test_design_window_intensity() -> None:
    # 5 mm every 5 minutes is 60 mm/h over any window within the burst.
    assert stats.design_window_intensity_mm_h(
        [300.0 * k for k in range(1, 13)], [0.005] * 12, 1800.0
    ) == pytest.approx(60.0)
    assert math.isnan(float("nan")) and stats.finite_or_none(float("nan")) is None
