"""A periodic loop for long-running CLI services (``fangxun warnings evaluate --every N``).

One tick that fails is logged with its traceback and the loop goes on: a database that is
briefly away must not stop the warnings. After a failure the next try comes sooner than the
cadence, with exponential backoff (:data:`RETRY_FIRST_S` doubling, never longer than the cadence),
so a restart of PostgreSQL costs seconds of warnings, not a whole interval. SIGINT (Ctrl-C) and
SIGTERM (systemd, ``docker stop``) end the loop cleanly between ticks — a tick in progress is
finished first, never cut off half-way through a unit of work.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

logger = logging.getLogger(__name__)

#: Signals that end the loop.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
#: First wait after a failed tick, s; doubled after each further failure, capped at the cadence.
RETRY_FIRST_S = 1.0


def retry_delay_s(failures_in_a_row: int, every_s: float) -> float:
    """Wait before the next try after ``failures_in_a_row`` (≥ 1) consecutive failed ticks, s.

    >>> [retry_delay_s(n, 10.0) for n in (1, 2, 3, 4, 5)]
    [1.0, 2.0, 4.0, 8.0, 10.0]
    """
    return min(every_s, RETRY_FIRST_S * 2.0 ** max(failures_in_a_row - 1, 0))


@contextmanager
def stop_on_signals(stop: threading.Event) -> Iterator[threading.Event]:
    """Set ``stop`` on SIGINT/SIGTERM while inside the block; the old handlers come back after.

    Outside the main thread (where Python does not allow signal handlers) nothing is installed.
    """
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def handler(signum: int, _frame: FrameType | None) -> None:
        logger.info("received %s: stopping after the current tick", signal.Signals(signum).name)
        stop.set()

    previous = {sig: signal.signal(sig, handler) for sig in STOP_SIGNALS}
    try:
        yield stop
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def run_every(
    tick: Callable[[], object],
    every_s: float,
    *,
    stop: threading.Event | None = None,
    name: str = "tick",
    max_ticks: int | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> int:
    """Call ``tick()`` every ``every_s`` seconds until ``stop`` is set (by SIGINT/SIGTERM or the
    caller) or ``max_ticks`` ticks ran. Returns the number of ticks that failed.

    Ticks start on a fixed cadence (a slow tick shortens the following wait, never below 0); an
    exception in a tick is logged and the loop continues, trying again after
    :func:`retry_delay_s` (backoff) instead of a whole interval. ``KeyboardInterrupt`` raised
    inside a tick (Ctrl-C before the handler was installed) also stops the loop cleanly.
    """
    if every_s <= 0:
        raise ValueError(f"every_s must be > 0 s, got {every_s}")
    stop = stop or threading.Event()
    failed = 0
    in_a_row = 0
    done = 0
    with stop_on_signals(stop):
        while not stop.is_set():
            started = clock()
            wait_s = every_s
            try:
                tick()
                if in_a_row:
                    logger.info("%s succeeded again after %d failed tries", name, in_a_row)
                in_a_row = 0
            except KeyboardInterrupt:
                logger.info("%s interrupted: stopping", name)
                break
            except Exception:
                failed += 1
                in_a_row += 1
                wait_s = retry_delay_s(in_a_row, every_s)
                logger.exception(
                    "%s failed (the loop goes on; %d failed so far; next try in %.1f s)",
                    name,
                    failed,
                    wait_s,
                )
            done += 1
            if max_ticks is not None and done >= max_ticks:
                break
            # Event.wait returns early when a signal sets ``stop``: no waiting out the interval.
            stop.wait(max(0.0, wait_s - (clock() - started)))
    return failed
