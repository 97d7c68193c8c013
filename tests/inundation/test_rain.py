"""Tests for fangxun.inundation.rain: hyetographs, gridded rain and the rain tools."""

from __future__ import annotations

import doctest
import math
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import rainkit as rain_module
from fangxun.inundation.rain import (
    EXAMPLE_FORMULA_UNVERIFIED,
    MM_H_TO_M_S,
    GriddedRain,
    Hyetograph,
    StormFormula,
    chicago_hyetograph,
    idw_gridded_rain,
    zhengzhou_720_reconstruction,
)


def test_doctest() -> None:
    result = doctest.testmod(rain_module)
    assert result.attempted > 0 and result.failed == 0


# ---------------------------------------------------------------------------------------------
# Hyetograph
# ---------------------------------------------------------------------------------------------


def test_hyetograph_basic_semantics() -> None:
    h = Hyetograph(times_s=[600.0, 3600.0, 5400.0], intensity_mm_h=[36.0, 72.0, 0.0])
    assert h.rate_m_s(0.0) == 0.0  # before the first time: no rain
    assert h.rate_m_s(599.999) == 0.0
    assert h.rate_m_s(600.0) == pytest.approx(36.0 * MM_H_TO_M_S)
    assert h.rate_m_s(3599.0) == pytest.approx(1e-5)
    assert h.rate_m_s(3600.0) == pytest.approx(2e-5)  # left-closed segments
    assert h.rate_m_s(1e9) == 0.0  # last intensity holds for ever
    assert h.next_change_s(0.0) == 600.0
    assert h.next_change_s(600.0) == 3600.0  # strictly after
    assert h.next_change_s(5400.0) == math.inf
    # 36 mm/h for 50 min + 72 mm/h for 30 min = 30 + 36 mm.
    assert h.depth_m(0.0, 1e6) == pytest.approx(0.066, rel=1e-14)
    assert h.total_mm() == pytest.approx(66.0, rel=1e-14)
    assert h.depth_m(1000.0, 1000.0) == 0.0


def test_hyetograph_last_intensity_holds() -> None:
    h = Hyetograph(times_s=[0.0], intensity_mm_h=[3.6])
    assert h.depth_m(0.0, 1000.0) == pytest.approx(1e-3, rel=1e-14)
    assert h.next_change_s(-5.0) == 0.0
    assert h.next_change_s(0.0) == math.inf


def test_hyetograph_is_immutable_and_copies_input() -> None:
    times = [0.0, 10.0]
    values = np.array([1.0, 0.0])
    h = Hyetograph(times_s=times, intensity_mm_h=values)
    values[0] = 99.0
    assert h.intensity_mm_h[0] == 1.0
    with pytest.raises(ValueError):
        h.intensity_mm_h[0] = 5.0
    with pytest.raises(AttributeError):
        h.times_s = np.array([0.0])  # type: ignore[misc]


@pytest.mark.parametrize(
    ("times", "values", "match"),
    [
        ([0.0, 10.0, 10.0], [1.0, 2.0, 3.0], r"strictly increasing: times_s\[2\]"),
        ([0.0, 10.0, 5.0], [1.0, 2.0, 3.0], r"times_s\[2\] = 5.0 is not after times_s\[1\]"),
        ([-1.0, 10.0], [1.0, 2.0], r"times_s\[0\] must be >= 0"),
        ([0.0, float("nan")], [1.0, 2.0], r"times_s\[1\] is not finite"),
        ([0.0, 10.0], [1.0, -2.0], r"intensity_mm_h\[1\] is negative"),
        ([0.0, 10.0], [float("inf"), 2.0], r"intensity_mm_h\[0\] is not finite"),
        ([0.0, 10.0], [1.0], r"same length"),
        ([], [], r"at least one"),
        ([[0.0, 1.0]], [[1.0, 2.0]], r"1-D"),
        (["a"], [1.0], r"sequence of numbers"),
    ],
)
def test_hyetograph_rejects_bad_input(times: list, values: list, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        Hyetograph(times_s=times, intensity_mm_h=values)


def test_hyetograph_depth_rejects_reversed_interval() -> None:
    h = Hyetograph(times_s=[0.0], intensity_mm_h=[1.0])
    with pytest.raises(ValueError, match="t1 >= t0"):
        h.depth_m(10.0, 5.0)
    with pytest.raises(ValueError, match="finite"):
        h.depth_m(0.0, math.inf)


def test_from_blocks() -> None:
    h = Hyetograph.from_blocks(300.0, [1.0, 5.0, 2.0], start_s=60.0)
    assert list(h.times_s) == [60.0, 360.0, 660.0, 960.0]
    assert h.intensity_mm_h[-1] == 0.0
    assert h.depth_m(360.0, 660.0) == pytest.approx(5e-3, rel=1e-14)
    assert h.total_mm() == pytest.approx(8.0, rel=1e-14)
    with pytest.raises(ValueError, match="step_s"):
        Hyetograph.from_blocks(0.0, [1.0])


@st.composite
def hyetographs(draw: st.DrawFn) -> Hyetograph:
    n = draw(st.integers(1, 12))
    steps = draw(st.lists(st.floats(0.5, 5000.0), min_size=n, max_size=n))
    start = draw(st.floats(0.0, 1000.0))
    times = start + np.cumsum([0.0, *steps[:-1]])
    values = draw(st.lists(st.floats(0.0, 300.0), min_size=n, max_size=n))
    return Hyetograph(times_s=times.tolist(), intensity_mm_h=values)


def _brute_depth(h: Hyetograph, t0: float, t1: float) -> float:
    """Integrate by walking next_change_s and rate_m_s, as the model does."""
    total, t = 0.0, t0
    while t < t1:
        t_next = min(h.next_change_s(t), t1)
        assert t_next > t
        total += h.rate_m_s(t) * (t_next - t)
        t = t_next
    return total


@settings(max_examples=200, deadline=None)
@given(h=hyetographs(), a=st.floats(0.0, 60000.0), b=st.floats(0.0, 60000.0), c=st.floats(0.0, 1.0))
def test_depth_is_exact_and_additive(h: Hyetograph, a: float, b: float, c: float) -> None:
    t0, t1 = min(a, b), max(a, b)
    tm = t0 + c * (t1 - t0)
    d = h.depth_m(t0, t1)
    assert d >= 0.0
    # Additive over a split point, and equal to the step-by-step integral the model performs.
    assert d == pytest.approx(h.depth_m(t0, tm) + h.depth_m(tm, t1), rel=1e-12, abs=1e-18)
    assert d == pytest.approx(_brute_depth(h, t0, t1), rel=1e-12, abs=1e-18)
    # Bounded by the peak rate times the duration.
    assert d <= float(h.intensity_mm_h.max()) * MM_H_TO_M_S * (t1 - t0) * (1 + 1e-12) + 1e-18


@settings(max_examples=200, deadline=None)
@given(h=hyetographs(), t=st.floats(-100.0, 80000.0))
def test_next_change_is_strictly_later_breakpoint(h: Hyetograph, t: float) -> None:
    nxt = h.next_change_s(t)
    assert nxt > t
    later = h.times_s[h.times_s > t]
    if later.size:
        assert nxt == later[0]
        # The rate is constant on [t, nxt).
        assert h.rate_m_s(t) == h.rate_m_s(0.5 * (t + nxt)) or 0.5 * (t + nxt) == nxt
    else:
        assert nxt == math.inf


@settings(max_examples=100, deadline=None)
@given(h=hyetographs())
def test_total_matches_depth_to_last_breakpoint(h: Hyetograph) -> None:
    assert h.total_mm() == pytest.approx(
        h.depth_m(0.0, float(h.times_s[-1])) * 1000.0, rel=1e-12, abs=1e-15
    )


# ---------------------------------------------------------------------------------------------
# GriddedRain
# ---------------------------------------------------------------------------------------------


def test_gridded_rain_semantics() -> None:
    field = np.arange(2 * 3 * 4, dtype=float).reshape(2, 3, 4)
    g = GriddedRain(times_s=[60.0, 120.0], intensity_mm_h=field)
    assert g.shape == (3, 4)
    np.testing.assert_array_equal(g.rate_m_s_field(0.0), 0.0)
    np.testing.assert_allclose(g.rate_m_s_field(60.0), field[0] * MM_H_TO_M_S)
    np.testing.assert_allclose(g.rate_m_s_field(1e6), field[1] * MM_H_TO_M_S)
    assert g.next_change_s(0.0) == 60.0
    assert g.next_change_s(60.0) == 120.0
    assert g.next_change_s(120.0) == math.inf
    r = g.rate_m_s_field(90.0)
    with pytest.raises(ValueError):
        r[0, 0] = 1.0  # read-only
    with pytest.raises(AttributeError):
        g.shape = (1, 1)  # type: ignore[misc]
    np.testing.assert_allclose(
        g.depth_m_field(0.0, 180.0), (field[0] + field[1]) * 60.0 * MM_H_TO_M_S, rtol=1e-14
    )


@pytest.mark.parametrize(
    ("times", "shape", "match"),
    [
        ([0.0, 60.0], (2, 3), r"3-D"),
        ([0.0, 60.0], (3, 2, 2), r"3 time slices, times_s has 2"),
        ([0.0, 60.0], (2, 0, 2), r"empty grid"),
        ([60.0, 0.0], (2, 2, 2), r"strictly increasing"),
    ],
)
def test_gridded_rain_rejects_bad_input(times: list, shape: tuple, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        GriddedRain(times_s=times, intensity_mm_h=np.ones(shape))


def test_gridded_rain_names_bad_cell() -> None:
    field = np.ones((2, 3, 4))
    field[1, 2, 3] = -1.0
    with pytest.raises(ValueError, match=r"intensity_mm_h\[1, 2, 3\] is negative"):
        GriddedRain(times_s=[0.0, 60.0], intensity_mm_h=field)
    field[1, 2, 3] = np.nan
    with pytest.raises(ValueError, match=r"intensity_mm_h\[1, 2, 3\] is not finite"):
        GriddedRain(times_s=[0.0, 60.0], intensity_mm_h=field)


# ---------------------------------------------------------------------------------------------
# Storm intensity formula and Chicago hyetograph
# ---------------------------------------------------------------------------------------------

FORMULA = StormFormula(a=18.0, b=15.0, c=0.9, n=0.8, name="test")


def test_storm_formula_values() -> None:
    # i = A/(t+b)^n, A = a(1 + C lg P): P = 10 → A = 18 · 1.9 = 34.2; t = 45 min → (60)^0.8.
    i = FORMULA.intensity_mm_min(45.0, 10.0)
    assert i == pytest.approx(34.2 / 60.0**0.8, rel=1e-14)
    assert FORMULA.intensity_mm_h(2700.0, 10.0) == pytest.approx(60.0 * i, rel=1e-14)
    assert FORMULA.depth_mm(2700.0, 10.0) == pytest.approx(45.0 * i, rel=1e-14)
    q = StormFormula.from_q_form(3000.0, 15.0, 0.9, 0.8)
    # 1 mm/min over a hectare is 166.67 L/s.
    assert q.a == pytest.approx(3000.0 / 166.666666666667, rel=1e-12)


def test_storm_formula_monotone() -> None:
    depths = [FORMULA.depth_mm(60.0 * m, 5.0) for m in (10, 30, 60, 120, 360)]
    intens = [FORMULA.intensity_mm_h(60.0 * m, 5.0) for m in (10, 30, 60, 120, 360)]
    assert depths == sorted(depths)
    assert intens == sorted(intens, reverse=True)
    assert FORMULA.depth_mm(3600.0, 100.0) > FORMULA.depth_mm(3600.0, 2.0)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"a": -1.0, "b": 10.0, "c": 0.5, "n": 0.7}, r"StormFormula\.a"),
        ({"a": 10.0, "b": -1.0, "c": 0.5, "n": 0.7}, r"StormFormula\.b"),
        ({"a": 10.0, "b": 10.0, "c": -0.5, "n": 0.7}, r"StormFormula\.c"),
        ({"a": 10.0, "b": 10.0, "c": 0.5, "n": 1.2}, r"StormFormula\.n"),
        ({"a": float("nan"), "b": 10.0, "c": 0.5, "n": 0.7}, r"StormFormula\.a must be a finite"),
    ],
)
def test_storm_formula_rejects_bad_parameters(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        StormFormula(**kwargs)


def test_storm_formula_rejects_bad_return_period() -> None:
    with pytest.raises(ValueError, match="return period"):
        FORMULA.depth_mm(3600.0, 0.0)


def test_example_formula_is_labelled_unverified() -> None:
    assert "unverified" in EXAMPLE_FORMULA_UNVERIFIED.name
    assert "unverified" in (StormFormula.__doc__ or "").lower()


@settings(max_examples=100, deadline=None)
@given(
    r=st.floats(0.0, 1.0),
    p=st.sampled_from([1.0, 2.0, 5.0, 10.0, 50.0, 100.0]),
    n_blocks=st.integers(1, 48),
    step_min=st.sampled_from([1.0, 5.0, 10.0]),
)
def test_chicago_total_equals_formula(r: float, p: float, n_blocks: int, step_min: float) -> None:
    duration = n_blocks * step_min * 60.0
    h = chicago_hyetograph(FORMULA, p, duration, step_min * 60.0, peak_ratio=r)
    assert h.total_mm() == pytest.approx(FORMULA.depth_mm(duration, p), rel=1e-12)
    assert np.all(h.intensity_mm_h >= 0.0)
    assert h.times_s.size == n_blocks + 1 and h.intensity_mm_h[-1] == 0.0
    # The rain stops at the end of the storm.
    assert h.depth_m(duration, duration + 1e5) == 0.0


def test_chicago_shape_peaks_at_r_and_windows_match_formula() -> None:
    h = chicago_hyetograph(FORMULA, 10.0, 7200.0, 300.0, peak_ratio=0.5)
    blocks = h.intensity_mm_h[:-1] * (300.0 / 3600.0)
    # Peak at 60 min: the two blocks either side of it are the largest and equal (r = 0.5).
    top2 = sorted(np.argsort(blocks)[-2:].tolist())
    assert top2 == [11, 12]
    assert blocks[11] == pytest.approx(blocks[12], rel=1e-12)
    # Rising before the peak, falling after it.
    assert np.all(np.diff(blocks[:12]) > 0) and np.all(np.diff(blocks[12:]) < 0)
    # Any window split 1:1 around the peak holds the formula's depth for its length.
    for half_blocks in (1, 2, 4, 6):
        tau_s = 2 * half_blocks * 300.0
        got = h.depth_m(3600.0 - tau_s / 2, 3600.0 + tau_s / 2) * 1000.0
        assert got == pytest.approx(FORMULA.depth_mm(tau_s, 10.0), rel=1e-12)


def test_chicago_peak_position_follows_r() -> None:
    for r, expected_block in ((0.0, 0), (0.3, 7), (0.4, 9), (1.0, 23)):
        h = chicago_hyetograph(FORMULA, 5.0, 7200.0, 300.0, peak_ratio=r)
        assert int(np.argmax(h.intensity_mm_h)) == expected_block, r


@pytest.mark.parametrize(
    ("args", "match"),
    [
        ((3600.0, 700.0, 0.4), "whole number of steps"),
        ((0.0, 300.0, 0.4), "duration_s"),
        ((3600.0, -5.0, 0.4), "step_s"),
        ((3600.0, 300.0, 1.5), "peak_ratio"),
    ],
)
def test_chicago_rejects_bad_input(args: tuple, match: str) -> None:
    duration, step, r = args
    with pytest.raises(ValueError, match=match):
        chicago_hyetograph(FORMULA, 5.0, duration, step, peak_ratio=r)


# ---------------------------------------------------------------------------------------------
# 7·20 reconstruction
# ---------------------------------------------------------------------------------------------


def test_720_matches_published_totals() -> None:
    s = zhengzhou_720_reconstruction()
    assert s.reconstruction
    assert "reconstruction" in s.label and "重建" in s.label
    assert "reconstruction" in (zhengzhou_720_reconstruction.__doc__ or "")
    assert len(s.hourly_mm) == 24
    assert s.start == datetime(2021, 7, 19, 20, 0, tzinfo=timezone(timedelta(hours=8)))
    # 16:00–17:00 on 20 July is hour 20 from 20:00 on 19 July.
    peak_start = 20 * 3600.0
    assert s.hyetograph.depth_m(peak_start, peak_start + 3600.0) * 1000 == pytest.approx(201.9)
    assert s.hyetograph.depth_m(0.0, 24 * 3600.0) * 1000 == pytest.approx(552.5, abs=1e-9)
    assert s.hyetograph.depth_m(0.0, 1e7) * 1000 == pytest.approx(552.5, abs=1e-9)
    assert max(s.hourly_mm) == 201.9 and s.hourly_mm.index(201.9) == 20
    # Hourly values at gauge resolution (0.1 mm), never negative.
    assert all(v >= 0.0 and abs(v * 10 - round(v * 10)) < 1e-9 for v in s.hourly_mm)


def test_720_with_antecedent_matches_72h_total() -> None:
    s = zhengzhou_720_reconstruction(antecedent=True)
    day = zhengzhou_720_reconstruction()
    assert len(s.hourly_mm) == 72
    assert s.start == datetime(2021, 7, 17, 20, 0, tzinfo=timezone(timedelta(hours=8)))
    assert s.hyetograph.depth_m(0.0, 72 * 3600.0) * 1000 == pytest.approx(617.1, abs=1e-9)
    assert s.hourly_mm[48:] == day.hourly_mm
    assert "617.1" in s.label


def test_720_window() -> None:
    s = zhengzhou_720_reconstruction()
    w = s.window(16, 6)  # 12:00–18:00 on 20 July
    assert w.times_s[0] == 0.0
    assert w.depth_m(4 * 3600.0, 5 * 3600.0) * 1000 == pytest.approx(201.9)
    assert w.total_mm() == pytest.approx(sum(s.hourly_mm[16:22]))
    with pytest.raises(ValueError, match="outside"):
        s.window(20, 10)


# ---------------------------------------------------------------------------------------------
# Inverse-distance interpolation
# ---------------------------------------------------------------------------------------------


def test_idw_single_gauge_is_uniform() -> None:
    g = idw_gridded_rain([[55.0, -33.0]], [0.0, 600.0], [[10.0], [0.0]], (4, 5), 10.0, (0.0, 0.0))
    assert g.shape == (4, 5)
    np.testing.assert_allclose(g.intensity_mm_h[0], 10.0)
    np.testing.assert_allclose(g.intensity_mm_h[1], 0.0)
    assert list(g.times_s) == [0.0, 600.0]


def test_idw_on_gauge_midpoint_and_nan() -> None:
    # Grid 1 × 3, 10 m cells, NW corner at (1000, 2000): centres at x = 1005, 1015, 1025, y = 1995.
    gauges = [[1005.0, 1995.0], [1025.0, 1995.0]]
    vals = [[10.0, 30.0], [np.nan, 8.0]]
    g = idw_gridded_rain(gauges, [0.0, 60.0], vals, (1, 3), 10.0, (1000.0, 2000.0))
    np.testing.assert_allclose(g.intensity_mm_h[0, 0], [10.0, 20.0, 30.0])
    # The broken gauge is dropped at that time only.
    np.testing.assert_allclose(g.intensity_mm_h[1, 0], 8.0)


def test_idw_power_changes_weights() -> None:
    gauges = [[0.0, 0.0], [30.0, 0.0]]
    # One cell whose centre is at (5, -5): distances √50 and √650.
    g1 = idw_gridded_rain(gauges, [0.0], [[0.0, 13.0]], (1, 1), 10.0, (0.0, 0.0), power=1.0)
    g2 = idw_gridded_rain(gauges, [0.0], [[0.0, 13.0]], (1, 1), 10.0, (0.0, 0.0), power=2.0)
    w1 = np.array([50.0**-0.5, 650.0**-0.5])
    w2 = np.array([1 / 50.0, 1 / 650.0])
    assert g1.intensity_mm_h[0, 0, 0] == pytest.approx(13.0 * w1[1] / w1.sum(), rel=1e-12)
    assert g2.intensity_mm_h[0, 0, 0] == pytest.approx(13.0 * w2[1] / w2.sum(), rel=1e-12)


@settings(max_examples=50, deadline=None)
@given(
    m=st.integers(1, 5),
    seed=st.integers(0, 2**31 - 1),
)
def test_idw_stays_within_gauge_range(m: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    xy = rng.uniform(-50.0, 150.0, size=(m, 2))
    vals = rng.uniform(0.0, 100.0, size=(3, m))
    g = idw_gridded_rain(xy, [0.0, 60.0, 120.0], vals, (6, 7), 15.0, (0.0, 90.0))
    for k in range(3):
        assert g.intensity_mm_h[k].min() >= vals[k].min() - 1e-9
        assert g.intensity_mm_h[k].max() <= vals[k].max() + 1e-9


@pytest.mark.parametrize(
    ("xy", "vals", "match"),
    [
        ([[0.0, 0.0, 1.0]], [[1.0]], r"gauge_xy must have shape"),
        ([[0.0, np.nan]], [[1.0]], r"gauge_xy\[0\] is not finite"),
        ([[0.0, 0.0]], [[1.0, 2.0]], r"intensity_mm_h must have shape"),
        ([[0.0, 0.0]], [[-1.0]], r"intensity_mm_h\[0, 0\] is negative"),
        ([[0.0, 0.0]], [[np.nan]], r"no gauge has a value at times_s\[0\]"),
    ],
)
def test_idw_rejects_bad_input(xy: list, vals: list, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        idw_gridded_rain(xy, [0.0], vals, (2, 2), 10.0, (0.0, 0.0))
