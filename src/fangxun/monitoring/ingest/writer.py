"""The one batched, idempotent writer behind every transport (MQTT, HTTP, CSV, replay).

``write_observations`` resolves datastream codes, runs quality control, inserts with
``INSERT ... ON CONFLICT (datastream_id, phenomenon_time) DO NOTHING`` (SQLite and PostgreSQL
dialect inserts) so a redelivered message is never a duplicate, advances each datastream's latest
value, and writes a dead letter for every input it cannot store. It never commits: the caller
commits, and only then acknowledges the messages (MQTT) or answers (HTTP).

A datastream's latest value (``last_time``/``last_value``) only ever moves to a reading whose time
can be trusted: a reading flagged ``FUTURE`` is stored but never becomes the latest (one reading
dated 2099 would otherwise stay "latest" for ever and keep the station off the stale list), and a
reading further ahead than ``future_limit`` is a dead letter. Readings flagged for their *value*
(range, spike, stuck) do become the latest with their flags, so the rules see "no usable value"
rather than an older clean value that looks fresh.
"""

from __future__ import annotations

import json
import threading
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import (
    DateTime,
    Float,
    Integer,
    Text,
    bindparam,
    cast,
    column,
    func,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session
from sqlalchemy.sql.schema import Table

from fangxun.config import Settings
from fangxun.db.types import UTCDateTime, utcnow
from fangxun.monitoring import qc
from fangxun.monitoring.ingest.parser import ObservationMessage, Reject, clip_raw
from fangxun.monitoring.models import (
    Datastream,
    DeadLetter,
    Observation,
    ObservedProperty,
    Source,
    Station,
)
from fangxun.monitoring.units import to_si

Status = Literal["stored", "duplicate", "rejected"]

_FUTURE = int(qc.Flag.FUTURE)


@dataclass(frozen=True)
class Pending:
    """A parsed observation waiting to be written, with where it came from."""

    message: ObservationMessage
    origin: str | None = None
    #: The station the transport says sent it (the MQTT topic names one); when set, a datastream
    #: of another station is refused, so one station cannot write another's readings.
    station_code: str | None = None


@dataclass(frozen=True)
class PendingReject:
    """An input the parser refused, with where it came from."""

    reject: Reject
    origin: str | None = None


@dataclass(frozen=True)
class ItemResult:
    """What happened to one :class:`Pending` item: stored, duplicate (already stored, same value)
    or rejected (dead-lettered, with the reason)."""

    status: Status
    reason: str | None = None
    flags: int = 0


@dataclass
class WriteResult:
    """Totals of one batch and the result of each pending item (same order as the input)."""

    stored: int = 0
    duplicates: int = 0
    conflicts: int = 0
    dead_lettered: int = 0
    flagged: int = 0
    items: list[ItemResult] = field(default_factory=list)


@dataclass(frozen=True)
class WriteOptions:
    """Quality-control time limits (from :class:`~fangxun.config.Settings`)."""

    future_tolerance: timedelta = timedelta(minutes=5)
    max_age: timedelta = timedelta(days=30)
    #: Readings further ahead of the server clock than this are dead letters, not stored.
    future_limit: timedelta = timedelta(minutes=10)

    @classmethod
    def from_settings(cls, settings: Settings) -> WriteOptions:
        """Options from the ``FANGXUN_QC_*`` settings."""
        return cls(
            future_tolerance=timedelta(seconds=settings.qc_future_tolerance_s),
            max_age=timedelta(seconds=settings.qc_max_age_s),
            future_limit=timedelta(
                seconds=max(settings.qc_future_dead_letter_s, settings.qc_future_tolerance_s)
            ),
        )


class IngestCounters:
    """Running totals of an ingest process (thread safe), for logs and health output."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.received = 0
        self.stored = 0
        self.duplicates = 0
        self.conflicts = 0
        self.dead_lettered = 0
        self.batches = 0

    def add(self, result: WriteResult, *, received: int) -> None:
        """Add one committed batch."""
        with self._lock:
            self.received += received
            self.stored += result.stored
            self.duplicates += result.duplicates
            self.conflicts += result.conflicts
            self.dead_lettered += result.dead_lettered
            self.batches += 1

    def snapshot(self) -> dict[str, int]:
        """The totals as a plain dict."""
        with self._lock:
            return {
                "received": self.received,
                "stored": self.stored,
                "duplicates": self.duplicates,
                "conflicts": self.conflicts,
                "dead_lettered": self.dead_lettered,
                "batches": self.batches,
            }


@dataclass
class _Stream:
    """A datastream's QC context for the batch."""

    id: int
    station_code: str
    unit: str
    limits: qc.Limits
    last_time: datetime | None
    last_value: float | None
    same_since: datetime | None


def _limits(ds: Datastream, prop: ObservedProperty) -> qc.Limits:
    return qc.Limits(
        range_min=ds.range_min if ds.range_min is not None else prop.range_min,
        range_max=ds.range_max if ds.range_max is not None else prop.range_max,
        max_rate_per_s=prop.max_rate_per_s,
        stuck_after_s=prop.stuck_after_s,
    )


def cast_table(model: type[Any]) -> Table:
    """The Core table of a mapped class (typed, for Core inserts and updates)."""
    table = model.__table__
    assert isinstance(table, Table)
    return table


_OBS_COLUMNS = ("datastream_id", "phenomenon_time", "value", "flags", "received_at")


def _insert_ignoring_duplicates(
    session: Session, rows: list[dict[str, Any]]
) -> list[tuple[int, datetime]]:
    """``INSERT ... ON CONFLICT (datastream_id, phenomenon_time) DO NOTHING``; returns the keys of
    the rows actually inserted.

    On PostgreSQL the rows travel as five arrays expanded by ``unnest``: one short statement
    whatever the batch size (a multi-row VALUES list of thousands of parameters costs more to
    build and parse than to run). SQLite takes SQLAlchemy's batched multi-row VALUES.
    """
    table = cast_table(Observation)
    dialect = session.get_bind().dialect.name
    keys = ["datastream_id", "phenomenon_time"]
    returning = (table.c.datastream_id, table.c.phenomenon_time)
    if dialect == "postgresql":
        # The batch travels as one JSON document unpacked by jsonb_to_recordset: one short
        # statement whatever the batch size (a VALUES list of thousands of parameters costs more
        # to build and parse than to run); json.dumps is C code, and PostgreSQL parses the times
        # and numbers itself (a float's repr round-trips exactly).
        doc = json.dumps(
            [
                {"d": r["datastream_id"], "t": r["phenomenon_time"].isoformat(),
                 "v": r["value"], "f": r["flags"]}
                for r in rows
            ]
        )  # fmt: skip
        rec = (
            func.jsonb_to_recordset(cast(bindparam("doc", doc, type_=Text()), JSONB))
            .table_valued(
                column("d", Integer),
                column("t", DateTime(timezone=True)),
                column("v", Float),
                column("f", Integer),
            )
            .render_derived(name="r", with_types=True)
        )
        received = bindparam("received_at", rows[0]["received_at"], type_=UTCDateTime())
        stmt = (
            postgresql.insert(table)
            .from_select(list(_OBS_COLUMNS), select(rec.c.d, rec.c.t, rec.c.v, rec.c.f, received))
            .on_conflict_do_nothing(index_elements=keys)
        )
        # Fast path without RETURNING (fetching thousands of keys back costs as much as the
        # insert); when the row count falls short (a redelivery), undo it to the savepoint and
        # run it again returning the keys that did go in.
        savepoint = session.begin_nested()
        result = session.execute(stmt)
        if isinstance(result, CursorResult) and result.rowcount == len(rows):
            savepoint.commit()
            return [(r["datastream_id"], r["phenomenon_time"]) for r in rows]
        savepoint.rollback()
        return [(int(a), b) for a, b in session.execute(stmt.returning(*returning))]
    if dialect == "sqlite":
        lite = sqlite.insert(table).on_conflict_do_nothing(index_elements=keys)
        return [(int(a), b) for a, b in session.execute(lite.returning(*returning), rows)]
    raise RuntimeError(f"unsupported database dialect {dialect!r}")


def _previous_from_db(session: Session, stream_id: int, time: datetime) -> qc.Previous | None:
    # Out-of-order arrival: look up the stored value just before it (rare, so one query each).
    row = session.execute(
        select(Observation.phenomenon_time, Observation.value)
        .where(Observation.datastream_id == stream_id, Observation.phenomenon_time < time)
        .order_by(Observation.phenomenon_time.desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    return qc.Previous(time=row[0], value=row[1], same_since=row[0])


def _dead(
    source: Source, origin: str | None, reason: str, raw: str, now: datetime
) -> dict[str, Any]:
    return {
        "received_at": now,
        "source": source,
        "origin": (origin or "")[:300] or None,
        "reason": reason[:500],
        "raw": clip_raw(raw),
    }


def write_observations(  # noqa: C901  split pending, issue 25 (steps of one batch)
    *,
    session: Session,
    items: Sequence[Pending],
    rejects: Sequence[PendingReject] = (),
    source: Source,
    options: WriteOptions | None = None,
    now: datetime | None = None,
) -> WriteResult:
    """Write a batch of parsed observations and dead-letter every input that cannot be stored.

    Idempotent on (datastream, phenomenon time): a repeated item with the same value counts as a
    duplicate; one with a different value flags the stored row ``CONFLICT`` and is dead-lettered.
    Never commits. Values in ``items`` are in their datastream's unit and stored in SI.
    """
    options = options or WriteOptions()
    now = now or utcnow()
    result = WriteResult(items=[ItemResult("stored")] * len(items))
    dead: list[dict[str, Any]] = [
        _dead(source, r.origin, r.reject.reason, r.reject.raw, now) for r in rejects
    ]

    codes = {p.message.datastream for p in items}
    streams: dict[str, _Stream] = {}
    if codes:
        rows = session.execute(
            select(Datastream, ObservedProperty, Station.code)
            .join(ObservedProperty, Datastream.observed_property_id == ObservedProperty.id)
            .join(Station, Datastream.station_id == Station.id)
            .where(Datastream.code.in_(sorted(codes)))
        ).all()
        for ds, prop, station_code in rows:
            streams[ds.code] = _Stream(
                ds.id,
                station_code,
                ds.unit,
                _limits(ds, prop),
                ds.last_time,
                ds.last_value,
                ds.same_since,
            )

    # Group by datastream; the first of several items for one (datastream, time) wins.
    by_stream: dict[str, list[int]] = defaultdict(list)
    first_at: dict[tuple[str, datetime], int] = {}
    conflicted: set[int] = set()  # first items that a later item of the batch contradicts
    for i, pending in enumerate(items):
        msg = pending.message
        if msg.datastream not in streams:
            result.items[i] = ItemResult("rejected", f"unknown datastream {msg.datastream!r}")
            dead.append(
                _dead(source, pending.origin, result.items[i].reason or "", msg_json(msg), now)
            )
            continue
        sender = pending.station_code
        if sender is not None and streams[msg.datastream].station_code != sender:
            owner = streams[msg.datastream].station_code
            reason = (
                f"datastream {msg.datastream!r} belongs to station {owner!r}, "
                f"not to the sending station {sender!r}"
            )
            result.items[i] = ItemResult("rejected", reason)
            dead.append(_dead(source, pending.origin, reason, msg_json(msg), now))
            continue
        if msg.time > now + options.future_limit:
            ahead = (msg.time - now).total_seconds()
            reason = (
                f"time {msg.time.isoformat()} is {ahead:.0f} s ahead of the server clock "
                f"(at most {options.future_limit.total_seconds():.0f} s accepted)"
            )
            result.items[i] = ItemResult("rejected", reason)
            dead.append(_dead(source, pending.origin, reason, msg_json(msg), now))
            continue
        code_time = (msg.datastream, msg.time)
        if code_time in first_at:
            j = first_at[code_time]
            if items[j].message.value == msg.value:
                result.items[i] = ItemResult("duplicate")
            else:
                reason = "conflicting duplicate: another value for this datastream and time"
                result.items[i] = ItemResult("rejected", reason)
                dead.append(_dead(source, pending.origin, reason, msg_json(msg), now))
                result.conflicts += 1
                conflicted.add(j)
            continue
        first_at[code_time] = i
        by_stream[msg.datastream].append(i)

    rows_to_insert: list[dict[str, Any]] = []
    row_item: dict[tuple[int, datetime], int] = {}
    latest: dict[int, tuple[datetime, float, int, datetime]] = {}
    for code, indices in by_stream.items():
        stream = streams[code]
        indices.sort(key=lambda k: items[k].message.time)
        prev: qc.Previous | None = None
        for k in indices:
            msg = items[k].message
            value = to_si(msg.value, stream.unit)
            if prev is None or prev.time >= msg.time:
                if stream.last_time is not None and stream.last_time < msg.time:
                    assert stream.last_value is not None
                    prev = qc.Previous(
                        stream.last_time, stream.last_value, stream.same_since or stream.last_time
                    )
                elif stream.last_time is not None:
                    prev = _previous_from_db(session, stream.id, msg.time)
            flags, same_since = qc.check(
                time=msg.time,
                value=value,
                limits=stream.limits,
                previous=prev,
                now=now,
                future_tolerance=options.future_tolerance,
                max_age=options.max_age,
            )
            if k in conflicted:
                flags |= qc.Flag.CONFLICT
            rows_to_insert.append(
                {
                    "datastream_id": stream.id,
                    "phenomenon_time": msg.time,
                    "value": value,
                    "flags": flags,
                    "received_at": now,
                }
            )
            row_item[(stream.id, msg.time)] = k
            result.items[k] = ItemResult("stored", None, flags)
            prev = qc.Previous(msg.time, value, same_since)
            # A reading ahead of the clock never becomes the latest (its time is not to be trusted).
            if not flags & _FUTURE and (stream.last_time is None or msg.time > stream.last_time):
                latest[stream.id] = (msg.time, value, flags, same_since)

    inserted: set[tuple[int, datetime]] = set()
    if rows_to_insert:
        for ds_id, t in _insert_ignoring_duplicates(session, rows_to_insert):
            inserted.add((ds_id, t))

    missing = [key for key in row_item if key not in inserted]
    if missing:
        # Already stored (a redelivery or a repeat): same value = duplicate, else a conflict.
        existing: dict[tuple[int, datetime], float] = {}
        for chunk_start in range(0, len(missing), 500):
            chunk = missing[chunk_start : chunk_start + 500]
            for ds_id, t, v in session.execute(
                select(
                    Observation.datastream_id, Observation.phenomenon_time, Observation.value
                ).where(tuple_(Observation.datastream_id, Observation.phenomenon_time).in_(chunk))
            ):
                existing[(ds_id, t)] = v
        conflict_keys: list[tuple[int, datetime]] = []
        for key in missing:
            k = row_item[key]
            msg = items[k].message
            stream = streams[msg.datastream]
            stored = existing.get(key)
            if stored is not None and abs(stored - to_si(msg.value, stream.unit)) <= 1e-12:
                result.items[k] = ItemResult("duplicate")
            else:
                reason = "conflicting duplicate: a different value is already stored"
                result.items[k] = ItemResult("rejected", reason)
                dead.append(_dead(source, items[k].origin, reason, msg_json(msg), now))
                conflict_keys.append(key)
                result.conflicts += 1
            # A stored row that was not ours must not move the latest-value cache.
            ds_latest = latest.get(key[0])
            if ds_latest is not None and ds_latest[0] == key[1]:
                del latest[key[0]]
        for ds_id, t in conflict_keys:
            session.execute(
                update(Observation)
                .where(Observation.datastream_id == ds_id, Observation.phenomenon_time == t)
                .values(flags=Observation.flags.op("|")(int(qc.Flag.CONFLICT)))
            )

    if latest:
        # One executemany for all datastreams; conditional, so a concurrent writer with newer
        # data is never overwritten.
        table = cast_table(Datastream)
        stmt = (
            update(table)
            .where(
                table.c.id == bindparam("ds_id"),
                or_(table.c.last_time.is_(None), table.c.last_time < bindparam("t")),
            )
            .values(
                last_time=bindparam("t"),
                last_value=bindparam("v"),
                last_flags=bindparam("f"),
                same_since=bindparam("s"),
            )
        )
        session.connection().execute(
            stmt,
            [
                {"ds_id": ds_id, "t": t, "v": value, "f": flags, "s": same_since}
                for ds_id, (t, value, flags, same_since) in latest.items()
            ],
        )

    if dead:
        session.execute(cast_table(DeadLetter).insert(), dead)

    for item in result.items:
        if item.status == "stored":
            result.stored += 1
            if item.flags:
                result.flagged += 1
        elif item.status == "duplicate":
            result.duplicates += 1
    result.dead_lettered = len(dead)
    return result


def msg_json(msg: ObservationMessage) -> str:
    """A message as the JSON object it was sent as (time in UTC)."""
    return json.dumps(
        {"datastream": msg.datastream, "time": msg.time.isoformat(), "value": msg.value},
        ensure_ascii=False,
    )


__all__ = [
    "IngestCounters",
    "ItemResult",
    "Pending",
    "PendingReject",
    "WriteOptions",
    "WriteResult",
    "write_observations",
]
