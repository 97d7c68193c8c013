"""The periodic loop of CLI services: a failing tick is logged and the loop goes on; SIGINT and
SIGTERM stop it cleanly between ticks; ``fangxun warnings evaluate --every N`` runs on it."""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fangxun.cli.loop import run_every
from fangxun.cli.main import app
from fangxun.config import get_settings


def test_failing_tick_is_logged_and_loop_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    calls: list[int] = []

    def tick() -> None:
        calls.append(len(calls))
        if len(calls) == 2:
            raise RuntimeError("database away")

    with caplog.at_level(logging.ERROR, logger="fangxun.cli.loop"):
        failed = run_every(tick, 0.01, max_ticks=4, name="probe")
    assert calls == [0, 1, 2, 3]
    assert failed == 1
    [record] = caplog.records
    assert "probe failed" in record.getMessage() and record.exc_info is not None
    assert "database away" in str(record.exc_info[1])


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_during_a_tick_ends_the_loop_after_it(sig: signal.Signals) -> None:
    before = signal.getsignal(sig)
    calls: list[str] = []

    def tick() -> None:
        calls.append("start")
        os.kill(os.getpid(), sig)  # arrives mid-tick: the tick still finishes
        calls.append("end")

    t0 = time.monotonic()
    failed = run_every(tick, 3600.0)
    assert failed == 0 and calls == ["start", "end"]
    assert time.monotonic() - t0 < 5.0
    assert signal.getsignal(sig) == before  # the old handler is back


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_during_the_wait_ends_it_at_once(sig: signal.Signals) -> None:
    calls: list[float] = []
    timer = threading.Timer(0.3, lambda: os.kill(os.getpid(), sig))
    timer.start()
    t0 = time.monotonic()
    try:
        failed = run_every(lambda: calls.append(time.monotonic()), 3600.0)
    finally:
        timer.cancel()
    assert failed == 0 and len(calls) == 1
    assert time.monotonic() - t0 < 5.0  # not an hour


def test_interval_is_a_cadence_not_a_pause() -> None:
    """A tick that takes 0.1 s in a 0.15 s cadence leaves a 0.05 s wait, not 0.15 s (on a clock
    the tick advances, and a stop event that records the waits instead of sleeping)."""
    now = [0.0]

    def tick() -> None:
        now[0] += 0.1  # the tick's work takes 0.1 s

    stop = _RecordingStop(3)
    assert run_every(tick, 0.15, stop=stop, clock=lambda: now[0]) == 0
    assert stop.waits == [0.05, 0.05, 0.05]


def test_every_must_be_positive() -> None:
    with pytest.raises(ValueError, match="every_s"):
        run_every(lambda: None, 0)


@pytest.fixture
def empty_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'empty.db'}"  # no tables: every evaluation fails
    monkeypatch.setenv("FANGXUN_DATABASE_URL", url)
    monkeypatch.setenv("FANGXUN_ENVIRONMENT", "test")
    get_settings.cache_clear()
    yield url
    get_settings.cache_clear()


def test_warnings_evaluate_every_survives_errors_and_stops_on_sigterm(
    empty_db: str, caplog: pytest.LogCaptureFixture
) -> None:
    timer = threading.Timer(1.5, lambda: os.kill(os.getpid(), signal.SIGTERM))
    timer.start()
    try:
        with caplog.at_level(logging.ERROR, logger="fangxun.cli.loop"):
            result = CliRunner().invoke(app, ["warnings", "evaluate", "--every", "1"])
    finally:
        timer.cancel()
    assert result.exit_code == 0, result.output
    assert "stopped (2 failed evaluations)" in result.output
    assert len(caplog.records) == 2
    assert all("warning evaluation failed" in r.getMessage() for r in caplog.records)


def test_warnings_evaluate_at_and_every_exclude_each_other(empty_db: str) -> None:
    result = CliRunner().invoke(
        app, ["warnings", "evaluate", "--every", "5", "--at", "2026-07-01T08:00+08:00"]
    )
    assert result.exit_code != 0
    assert "--at and --every" in result.output


class _RecordingStop(threading.Event):
    """A stop event that records each wait instead of sleeping, and stops after ``n`` waits."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.n = n
        self.waits: list[float] = []

    def wait(self, timeout: float | None = None) -> bool:
        self.waits.append(round(timeout or 0.0, 3))
        if len(self.waits) >= self.n:
            self.set()
        return self.is_set()


def test_failed_ticks_are_retried_with_backoff_capped_at_the_cadence(
    caplog: pytest.LogCaptureFixture,
) -> None:
    outcomes = iter([False, False, False, False, False, True, False, True])

    def tick() -> None:
        if not next(outcomes):
            raise RuntimeError("database away")

    stop = _RecordingStop(8)
    with caplog.at_level(logging.INFO, logger="fangxun.cli.loop"):
        failed = run_every(tick, 10.0, stop=stop, clock=lambda: 0.0)
    assert failed == 6
    # 1, 2, 4, 8 s, then the 10 s cadence; a success resets the backoff.
    assert stop.waits == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0, 1.0, 10.0]
    messages = [r.getMessage() for r in caplog.records]
    assert any("next try in 8.0 s" in m for m in messages)
    assert any("succeeded again after 5 failed tries" in m for m in messages)
