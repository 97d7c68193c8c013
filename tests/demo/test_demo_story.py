"""The demo story's pieces that need no broker: its clock, its settings and its rain forecast."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from fangxun.config import Settings, load_settings
from fangxun.db import session_scope
from fangxun.demo.replay import scenario_rain
from fangxun.demo.story import (
    FORECAST_STEP_S,
    ReplayClock,
    Story,
    StoryOptions,
    demo_story_settings,
)
from fangxun.reports.models import StormEvent


def test_replay_clock_runs_fast_and_never_passes_the_wall_clock() -> None:
    clock = ReplayClock(speed=100.0)
    start = datetime(2026, 7, 20, 8, 0, tzinfo=UTC)
    assert clock.now(start) is None and clock.offset_s(start) is None
    clock.started(start, start - timedelta(hours=10))
    assert clock.offset_s(start + timedelta(seconds=36)) == pytest.approx(3600.0)
    assert clock.now(start + timedelta(seconds=36)) == start - timedelta(hours=9)
    # 10 h behind at the start, it catches up after 10 h / 99 of wall time and stays at "now".
    late = start + timedelta(hours=1)
    assert clock.now(late) == late


def test_story_settings(tmp_path: Path) -> None:
    base = load_settings(environment="demo", database_url="sqlite://", data_dir=tmp_path)
    s = demo_story_settings(base, cell_m=80.0)
    assert s.response_rule_mode == "start"
    assert s.monitoring_stale_s >= 24 * 3600
    assert s.forecast_resolution_m == 80.0
    assert base.response_rule_mode == "propose", "the caller's settings are left alone"


def test_forecast_rain_is_the_scenarios_own_rain(tmp_path: Path) -> None:
    settings = load_settings(
        environment="demo", database_url=f"sqlite:///{tmp_path / 'x.db'}", data_dir=tmp_path
    )
    story = Story(settings, StoryOptions(first_hour=12, hours=10), say=lambda _t: None)
    story.rain, _ = scenario_rain("720", first_hour=12, hours=10)
    offset = 6.5 * 3600.0
    series = story.forecast_rain(offset)
    horizon = story.settings.forecast_horizon_s
    assert len(series) == round(horizon / FORECAST_STEP_S)
    total_mm = sum(series) * FORECAST_STEP_S / 3600.0
    expected_mm = story.rain.depth_m(offset, offset + horizon) * 1000.0
    assert total_mm == pytest.approx(expected_mm, abs=0.05)
    # Hour 20 of the reconstruction (201.9 mm) is 8 h into the window: inside this horizon.
    peak = series[round((8 * 3600 - offset) / FORECAST_STEP_S)]
    assert peak == pytest.approx(201.9, rel=0.05)
    story.engine.dispose()


def test_replayed_storm_is_stored_as_a_storm_event(settings: Settings, engine: Engine) -> None:
    """After the replay the story runs storm-event detection: the storm appears under /reports."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "reports"))
    import report_helpers as rh  # the reports tests' crafted gauge: 84 mm from T0+1 h to T0+3 h

    with session_scope(engine) as session:
        rh.build(session)
    said: list[str] = []
    story = Story(settings, StoryOptions(first_hour=12, hours=10), say=said.append)
    try:
        ids = story.detect_storm_events(rh.T0 + timedelta(hours=8))
        again = story.detect_storm_events(rh.T0 + timedelta(hours=8))
    finally:
        story.engine.dispose()
    assert len(ids) == 1 and again == ids, "detection twice keeps one event"
    with session_scope(engine) as session:
        [event] = session.scalars(select(StormEvent)).all()
        assert event.id == ids[0]
        assert event.start >= rh.T0 + timedelta(hours=1) - rh.STEP
        assert event.end <= rh.T0 + timedelta(hours=3)
        assert event.total_m * 1000.0 == pytest.approx(84.0, abs=0.5)
    assert any(f"storm event #{ids[0]}" in text for text in said)
    assert any("storm event" in text for _at, text in story.log.events)
