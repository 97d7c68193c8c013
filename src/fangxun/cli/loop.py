"""A periodic loop for long-running CLI services (``fangxun warnings evaluate --every N``).

One tick that fails is logged with its traceback and the loop goes on with the next one: a
database that is briefly away must not stop the warnings. SIGINT (Ctrl-C) and SIGTERM (systemd,
``docker stop``) end the loop cleanly between ticks — a tick in progress is finished first, never
cut off half-way through a unit of work.
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
    exception in a tick is logged and the loop continues. ``KeyboardInterrupt`` raised inside a
    tick (Ctrl-C before the handler was installed) also stops the loop cleanly.
    """
    if every_s <= 0:
        raise ValueError(f"every_s must be > 0 s, got {every_s}")
    stop = stop or threading.Event()
    failed = 0
    done = 0
    with stop_on_signals(stop):
        while not stop.is_set():
            started = clock()
            try:
                tick()
            except KeyboardInterrupt:
                logger.info("%s interrupted: stopping", name)
                break
            except Exception:
                failed += 1
                logger.exception("%s failed (the loop goes on; %d failed so far)", name, failed)
            done += 1
            if max_ticks is not None and done >= max_ticks:
                break
            # Event.wait returns early when a signal sets ``stop``: no waiting out the interval.
            stop.wait(max(0.0, every_s - (clock() - started)))
    return failed
