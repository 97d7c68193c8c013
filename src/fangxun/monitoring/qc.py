"""Quality control of observations: flags stored with every value.

Checks (all limits in SI, per observed property, optionally overridden per datastream):

* ``RANGE`` — outside the physically plausible range;
* ``SPIKE`` — changed faster than ``max_rate_per_s`` since the previous value;
* ``STUCK`` — unchanged for at least ``stuck_after_s``;
* ``FUTURE`` — time ahead of the server clock by more than a tolerance;
* ``TOO_OLD`` — time older than the maximum age on arrival;
* ``CONFLICT`` — a second value for the same (datastream, time) that differs from the stored one
  (the stored row is flagged; the later value goes to the dead letters).

Flagged values are kept but left out of derived values and rules by default.

>>> Flag.RANGE | Flag.SPIKE
<Flag.RANGE|SPIKE: 3>
>>> flag_names(5)
['range', 'stuck']
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta


class Flag(enum.IntFlag):
    """Quality-control flags (bits of ``Observation.flags``; 0 means every check passed)."""

    RANGE = 1
    SPIKE = 2
    STUCK = 4
    FUTURE = 8
    TOO_OLD = 16
    CONFLICT = 32


_RANGE, _SPIKE, _STUCK = int(Flag.RANGE), int(Flag.SPIKE), int(Flag.STUCK)
_FUTURE, _TOO_OLD = int(Flag.FUTURE), int(Flag.TOO_OLD)


def flag_names(flags: int) -> list[str]:
    """The names of the flags set in ``flags``, lower case, in bit order."""
    return [f.name.lower() for f in Flag if f.name is not None and flags & f]


@dataclass(frozen=True)
class Limits:
    """The limits one datastream is checked against (SI units; None disables the check)."""

    range_min: float | None = None
    range_max: float | None = None
    max_rate_per_s: float | None = None
    stuck_after_s: float | None = None


@dataclass(frozen=True)
class Previous:
    """What is known just before a new value: the previous value and time, and since when the
    value has been the same."""

    time: datetime
    value: float
    same_since: datetime


#: Values closer than this are "the same" for the stuck test (float noise from unit conversion).
SAME_TOLERANCE = 1e-9


def check(
    *,
    time: datetime,
    value: float,
    limits: Limits,
    previous: Previous | None,
    now: datetime,
    future_tolerance: timedelta,
    max_age: timedelta,
) -> tuple[int, datetime]:
    """Flags for ``value`` (SI) at ``time``, and the start of its run of identical values.

    ``previous`` must be the observation immediately before ``time`` in the same datastream (or
    None). Returns ``(flags, same_since)``.
    """
    # Plain ints: IntFlag arithmetic is slow enough to show in ingest profiles.
    flags = 0
    if limits.range_min is not None and value < limits.range_min:
        flags |= _RANGE
    if limits.range_max is not None and value > limits.range_max:
        flags |= _RANGE
    if time > now + future_tolerance:
        flags |= _FUTURE
    if time < now - max_age:
        flags |= _TOO_OLD
    same_since = time
    if previous is not None and previous.time < time:
        dt = (time - previous.time).total_seconds()
        if limits.max_rate_per_s is not None and abs(value - previous.value) > (
            limits.max_rate_per_s * dt
        ):
            flags |= _SPIKE
        if abs(value - previous.value) <= SAME_TOLERANCE:
            same_since = previous.same_since
            if (
                limits.stuck_after_s is not None
                and (time - same_since).total_seconds() >= limits.stuck_after_s
            ):
                flags |= _STUCK
    return flags, same_since
