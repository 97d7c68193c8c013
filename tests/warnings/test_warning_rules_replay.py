"""The rainstorm signal over the 7·20 reconstruction, and series hovering at a threshold.

The expected signal times come from plain rolling sums over the same 5-minute rain series the
demo replay publishes (``fangxun.demo.replay``), computed here without the rules module.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session
from warn_helpers import World, observe, run

from fangxun.config import Settings
from fangxun.demo.replay import STEP_S, scenario_rain
from fangxun.warnings.config import WarningRules
from fangxun.warnings.models import ChangeType

ORDER = ["blue", "yellow", "orange", "red"]
#: (window, s; amount, mm) of each colour, as facts.md gives them (CMA Order No. 16).
FACTS = {
    "blue": (12 * 3600, 50.0),
    "yellow": (6 * 3600, 50.0),
    "orange": (3 * 3600, 50.0),
    "red": (3 * 3600, 100.0),
}
#: 10:00 on 20 July 2021, Beijing time: hour 14 of the reconstruction (as the replay plays it).
T0 = datetime(2021, 7, 20, 2, 0, tzinfo=UTC)


def _with_rules(settings: Settings, **kw: object) -> Settings:
    return settings.model_copy(update={"warning_rules": WarningRules(**kw)})  # type: ignore[arg-type]


def _replay_series() -> list[float]:
    """The replay's 5-minute rain depths, mm, rounded as it publishes them."""
    rain, _label = scenario_rain("720", first_hour=14, hours=8)
    n = int(rain.times_s[-1] // STEP_S)
    return [round(rain.depth_m(k * STEP_S, (k + 1) * STEP_S) * 1000.0, 1) for k in range(n)]


def _sums(depths: list[float], k: int) -> dict[str, float]:
    """Rolling totals at the end of step k (observations 0..k-1 stamped at their ends)."""
    return {c: sum(depths[max(0, k - w // STEP_S) : k]) for c, (w, _) in FACTS.items()}


def _expected(depths: list[float], steps: int, margin: float, hold_s: int) -> list[tuple[int, str]]:
    """Signal changes as (step, colour or 'lift'), by the plain reading of the rule."""
    out: list[tuple[int, str]] = []
    state: str | None = None
    last = -(10**9)
    for k in range(1, steps + 1):
        s = _sums(depths, k)
        raw = [c for c in ORDER if s[c] >= FACTS[c][1] - 1e-9]
        top = raw[-1] if raw else None
        r_top = ORDER.index(top) if top else -1
        r_state = ORDER.index(state) if state else -1
        if r_top > r_state:
            out.append((k, top))  # type: ignore[arg-type]
            state, last = top, k
        elif r_top < r_state:
            kept = [c for c in ORDER[: r_state + 1] if s[c] >= FACTS[c][1] - margin - 1e-9]
            keep = kept[-1] if kept else None
            if keep != state and (k - last) * STEP_S >= hold_s:
                out.append((k, keep or "lift"))
                state, last = keep, k
    return out


def test_720_replay_gives_the_signal_sequence_at_the_expected_times(
    db_session: Session, settings: Settings, world: World
) -> None:
    depths = _replay_series()
    assert max(depths) > 15.0  # the 201.9 mm hour is in the window
    steps = len(depths) + 13 * 3600 // STEP_S  # until the 12-hour window has drained
    settings = _with_rules(settings, enabled=["rainstorm"])
    observe(
        db_session,
        world.rain,
        [(T0 + timedelta(seconds=(k + 1) * STEP_S), d / 1000.0) for k, d in enumerate(depths)],
    )
    got: list[tuple[int, str]] = []
    for k in range(1, steps + 1):
        for ch in run(db_session, settings, T0 + timedelta(seconds=k * STEP_S)):
            assert ch.warning.kind.value == "rainstorm"
            got.append((k, ch.to_colour.value if ch.to_colour else "lift"))
    expected = _expected(depths, steps, margin=5.0, hold_s=1800)
    assert got == expected
    # Not vacuous: the signal rises to red without stepping back, then falls and is lifted.
    raised = [c for _, c in got if c != "lift"]
    up = raised[: raised.index("red") + 1]
    assert up == sorted(up, key=ORDER.index) and len(up) >= 2
    assert got[-1][1] == "lift" and len(got) > len(up) + 1
    # Each colour is first reached exactly when its rolling total first reaches its amount.
    for colour in ORDER:
        first = next(k for k in range(1, steps + 1) if _sums(depths, k)[colour] >= FACTS[colour][1])
        first_got = next(k for k, c in got if c != "lift" and ORDER.index(c) >= ORDER.index(colour))
        assert first_got == first, colour


def test_720_replay_with_forecast_rain_signals_earlier(
    db_session: Session, settings: Settings, world: World
) -> None:
    """A forecast series that brings the rain signals it before the gauges see it (expected)."""
    from fangxun.forecast.models import ForecastRun, RainSource, RunStatus

    depths = _replay_series()
    first_yellow = next(k for k in range(1, len(depths)) if _sums(depths, k)["yellow"] >= 50)
    issued = T0 + timedelta(seconds=(first_yellow - 24) * STEP_S)  # 2 h before the gauges
    steps_ahead = depths[first_yellow - 24 : first_yellow - 24 + 36]
    db_session.add(
        ForecastRun(
            status=RunStatus.done,
            rain_source=RainSource.series,
            params={
                "rain": {
                    "kind": "series",
                    "step_s": STEP_S,
                    "intensity_mm_h": [d * 12 for d in steps_ahead],
                }
            },
            horizon_s=3 * 3600,
            created_by="test",
            issued_at=issued,
            finished_at=issued,
        )
    )
    observe(
        db_session,
        world.rain,
        [
            (T0 + timedelta(seconds=(k + 1) * STEP_S), d / 1000.0)
            for k, d in enumerate(depths[: first_yellow - 24])
        ],
    )
    changes = run(db_session, _with_rules(settings, enabled=["rainstorm"]), issued)
    colours = [c.to_colour.value for c in changes if c.to_colour]
    assert colours and ORDER.index(colours[-1]) >= ORDER.index("yellow")
    assert changes[-1].evidence is not None and changes[-1].evidence["predicted"] is True


def _hover(n: int) -> list[float]:
    # 50 mm / 6 h on average with a 7-step wobble: the 6-hour total crosses 50 mm both ways.
    return [50.0 / 72 + 0.05 * math.sin(2 * math.pi * k / 7) for k in range(n)]


def test_rain_hovering_at_a_threshold_does_not_flap(
    db_session: Session, settings: Settings, world: World
) -> None:
    depths = _hover(72 * 3)
    crossings = sum(
        1
        for k in range(73, len(depths))
        if (_sums(depths, k)["yellow"] >= 50) != (_sums(depths, k - 1)["yellow"] >= 50)
    )
    assert crossings >= 6  # the series really hovers
    observe(
        db_session,
        world.rain,
        [(T0 + timedelta(seconds=(k + 1) * STEP_S), d / 1000.0) for k, d in enumerate(depths)],
    )
    rules = _with_rules(settings, enabled=["rainstorm"])
    got = []
    for k in range(1, len(depths) + 1):
        got += [
            (c.change_type, c.to_colour)
            for c in run(db_session, rules, T0 + timedelta(seconds=k * STEP_S))
        ]
    # Raised once to yellow (blue, 50 mm in 12 h, is reached at the same time), never lowered.
    assert [t for t, _ in got] == [ChangeType.issue]
    assert got[-1][1] is not None and got[-1][1].value == "yellow"


def test_the_same_hovering_series_flaps_without_hysteresis_and_hold(
    db_session: Session, settings: Settings, world: World
) -> None:
    """The control: with margin 0 and no hold time the rule follows every crossing."""
    depths = _hover(72 * 3)
    observe(
        db_session,
        world.rain,
        [(T0 + timedelta(seconds=(k + 1) * STEP_S), d / 1000.0) for k, d in enumerate(depths)],
    )
    rules = _with_rules(settings, enabled=["rainstorm"], rain_margin_mm=0.0, min_hold_s=0)
    n = 0
    for k in range(1, len(depths) + 1):
        n += len(run(db_session, rules, T0 + timedelta(seconds=k * STEP_S)))
    assert n > 4


@pytest.mark.parametrize("hold_s", [0, 3600])
def test_ponding_hovering_at_yellow_keeps_yellow(
    db_session: Session, settings: Settings, world: World, hold_s: int
) -> None:
    values = [0.265, 0.275, 0.262, 0.279, 0.255, 0.271, 0.268, 0.274] * 4
    rules = _with_rules(settings, enabled=["ponding"], min_hold_s=hold_s)
    got = []
    for k, v in enumerate(values):
        t = T0 + timedelta(seconds=k * STEP_S)
        observe(db_session, world.depth_a, [(t, v)])
        got += [
            (c.change_type.value, c.to_colour.value if c.to_colour else None)
            for c in run(db_session, rules, t)
        ]
    assert got == [("issue", "blue"), ("upgrade", "yellow")]
    # Falling clearly below yellow − margin lowers it (after the hold time).
    t = T0 + timedelta(seconds=len(values) * STEP_S + hold_s)
    observe(db_session, world.depth_a, [(t, 0.20)])
    assert [(c.change_type.value, c.to_colour) for c in run(db_session, rules, t)] == [
        ("downgrade", "blue")
    ]
