"""The replay's clock shared by the demo story and the pages: it runs at the replay's speed, never
past the replay's end, holds there once the replay ended, and a missing or broken file means
"no replay" (the pages show the wall clock)."""

from __future__ import annotations

import doctest
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fangxun import replay_clock


def test_doctests() -> None:
    assert doctest.testmod(replay_clock).failed == 0


def test_the_clock_runs_at_speed_and_stops_at_the_end(tmp_path: Path) -> None:
    wall = datetime(2026, 12, 8, 0, 0, tzinfo=UTC)
    t0 = datetime(2026, 12, 7, 14, 0, tzinfo=UTC)
    replay_clock.started(tmp_path, wall=wall, t0=t0, speed=20.0, duration_s=11 * 3600.0)
    state = replay_clock.current(tmp_path)
    assert state is not None and state.state == "playing"
    assert state.time_at(wall + timedelta(minutes=3)) == t0 + timedelta(hours=1)
    # Never past the end.
    assert state.time_at(wall + timedelta(hours=2)) == t0 + timedelta(hours=11)
    shown = state.as_json(wall + timedelta(minutes=3))
    assert shown["time"] == (t0 + timedelta(hours=1)).isoformat() and shown["speed"] == 20.0
    replay_clock.ended(tmp_path, at=t0 + timedelta(hours=11))
    ended = replay_clock.current(tmp_path)
    assert ended is not None and ended.as_json(wall)["speed"] == 0.0
    assert ended.time_at(wall + timedelta(days=1)) == t0 + timedelta(hours=11)
    replay_clock.clear(tmp_path)
    assert replay_clock.current(tmp_path) is None


def test_a_broken_file_is_no_replay(tmp_path: Path) -> None:
    path = replay_clock.state_path(tmp_path)
    path.parent.mkdir(parents=True)
    path.write_text("{not json", encoding="utf-8")
    assert replay_clock.current(tmp_path) is None
