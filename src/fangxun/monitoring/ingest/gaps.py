"""Noticing lost messages: per-station sequence numbers and the broker's drop counter.

A broker with stock limits drops QoS 1 messages queued for an offline ingest beyond
``max_queued_messages`` (1000 in Mosquitto); nothing in the data says so. Two witnesses:

* **Sequence numbers**: a sender may number its messages per station (MQTT 5 user property
  ``seq``, an integer counting up by one). :class:`SequenceGaps` logs a warning for every jump and
  counts the missing numbers; a redelivery (a number already seen) is not a gap, and a late
  message fills its hole again.
* **The broker's drop counter** ``$SYS/broker/publish/messages/dropped`` (Mosquitto, retained,
  every ``sys_interval``): :class:`BrokerDrops` logs a warning when it grows, with the increase.

>>> gaps = SequenceGaps()
>>> gaps.observe("RG01", 1), gaps.observe("RG01", 2), gaps.observe("RG01", 6), gaps.missing
(0, 0, 3, 3)
>>> gaps.observe("RG01", 4), gaps.missing  # a late one fills its hole
(0, 2)
"""

from __future__ import annotations

import logging
import threading

logger = logging.getLogger(__name__)

#: The topic of Mosquitto's count of dropped publish messages.
DROPPED_TOPIC = "$SYS/broker/publish/messages/dropped"
#: Holes remembered per station (older ones are forgotten, still counted).
MAX_HOLES = 10_000


class SequenceGaps:
    """Per-station sequence numbers: the last seen and the holes below it (thread safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last: dict[str, int] = {}
        self._holes: dict[str, set[int]] = {}
        self.gaps = 0
        self.missing = 0

    def observe(self, station: str, seq: int) -> int:
        """Record ``seq`` from ``station``; return how many numbers it shows missing (0: none)."""
        with self._lock:
            last = self._last.get(station)
            if last is None:
                self._last[station] = seq
                return 0
            if seq > last + 1:
                lost = seq - last - 1
                holes = self._holes.setdefault(station, set())
                if len(holes) + lost <= MAX_HOLES:
                    holes.update(range(last + 1, seq))
                self._last[station] = seq
                self.gaps += 1
                self.missing += lost
                logger.warning(
                    "gap: station %s sequence jumped from %d to %d (%d message(s) missing)",
                    station, last, seq, lost,
                )  # fmt: skip
                return lost
            if seq > last:
                self._last[station] = seq
            elif seq in self._holes.get(station, ()):
                self._holes[station].discard(seq)
                self.missing -= 1
                logger.info("station %s: message %d arrived late (hole filled)", station, seq)
            return 0

    def snapshot(self) -> dict[str, int]:
        """Gaps seen and numbers still missing."""
        with self._lock:
            return {"gaps": self.gaps, "missing": self.missing}


class BrokerDrops:
    """The broker's dropped-message counter; warns when it grows (thread safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.last: int | None = None
        self.dropped = 0

    def update(self, payload: bytes) -> int:
        """Record a counter value; return the increase (the first value counts whole: those
        drops happened before we looked, possibly while ingest was away)."""
        try:
            value = int(float(payload.decode("ascii").strip()))
        except (UnicodeDecodeError, ValueError):
            logger.warning("unreadable %s payload %r", DROPPED_TOPIC, payload[:40])
            return 0
        with self._lock:
            before = self.last if self.last is not None and value >= self.last else 0
            self.last = value
            increase = value - before
            if increase > 0:
                self.dropped += increase
        if increase > 0:
            logger.warning(
                "the broker dropped %d message(s) (%s = %d): data may be lost; raise "
                "max_queued_messages (docs/operator-guide.md, Mosquitto)",
                increase, DROPPED_TOPIC, value,
            )  # fmt: skip
        return increase
