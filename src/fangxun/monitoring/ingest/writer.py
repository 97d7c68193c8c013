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


@dataclass
class _Batch:
    """One call's inputs and what has been decided about them so far."""

    items: Sequence[Pending]
    source: Source
    options: WriteOptions
    now: datetime
    result: WriteResult
    #: Dead-letter rows, in the order the inputs were refused.
    dead: list[dict[str, Any]]

    def reject(self, k: int, reason: str) -> None:
        """Item ``k`` cannot be stored: its result says why, and it becomes a dead letter."""
        pending = self.items[k]
        self.result.items[k] = ItemResult("rejected", reason)
        self.dead.append(
            _dead(self.source, pending.origin, reason, msg_json(pending.message), self.now)
        )


@dataclass
class _Rows:
    """The rows to insert, which item each came from, and each datastream's new latest value."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    item_of: dict[tuple[int, datetime], int] = field(default_factory=dict)
    #: Datastream id → (time, value in SI, flags, same since).
    latest: dict[int, tuple[datetime, float, int, datetime]] = field(default_factory=dict)


def _load_streams(session: Session, items: Sequence[Pending]) -> dict[str, _Stream]:
    """The QC context of every datastream the batch names, by code (unknown codes left out)."""
    codes = {p.message.datastream for p in items}
    if not codes:
        return {}
    rows = session.execute(
        select(Datastream, ObservedProperty, Station.code)
        .join(ObservedProperty, Datastream.observed_property_id == ObservedProperty.id)
        .join(Station, Datastream.station_id == Station.id)
        .where(Datastream.code.in_(sorted(codes)))
    ).all()
    return {
        ds.code: _Stream(
            ds.id,
            station_code,
            ds.unit,
            _limits(ds, prop),
            ds.last_time,
            ds.last_value,
            ds.same_since,
        )
        for ds, prop, station_code in rows
    }


def _refusal(
    pending: Pending, streams: dict[str, _Stream], options: WriteOptions, now: datetime
) -> str | None:
    """Why one item cannot be stored whatever else the batch holds (None: it may be)."""
    msg = pending.message
    stream = streams.get(msg.datastream)
    if stream is None:
        return f"unknown datastream {msg.datastream!r}"
    sender = pending.station_code
    if sender is not None and stream.station_code != sender:
        return (
            f"datastream {msg.datastream!r} belongs to station {stream.station_code!r}, "
            f"not to the sending station {sender!r}"
        )
    if msg.time > now + options.future_limit:
        ahead = (msg.time - now).total_seconds()
        return (
            f"time {msg.time.isoformat()} is {ahead:.0f} s ahead of the server clock "
            f"(at most {options.future_limit.total_seconds():.0f} s accepted)"
        )
    return None


def _screen(batch: _Batch, streams: dict[str, _Stream]) -> tuple[dict[str, list[int]], set[int]]:
    """Refuse what cannot be stored and group the rest by datastream: ``(item indices by
    datastream code, first items that a later item of the batch contradicts)``.

    The first of several items for one (datastream, time) wins; a later one with the same value
    is a duplicate, with another value a conflict (dead-lettered).
    """
    by_stream: dict[str, list[int]] = defaultdict(list)
    first_at: dict[tuple[str, datetime], int] = {}
    conflicted: set[int] = set()
    for i, pending in enumerate(batch.items):
        reason = _refusal(pending, streams, batch.options, batch.now)
        if reason is not None:
            batch.reject(i, reason)
            continue
        msg = pending.message
        j = first_at.get((msg.datastream, msg.time))
        if j is None:
            first_at[(msg.datastream, msg.time)] = i
            by_stream[msg.datastream].append(i)
        elif batch.items[j].message.value == msg.value:
            batch.result.items[i] = ItemResult("duplicate")
        else:
            batch.reject(i, "conflicting duplicate: another value for this datastream and time")
            batch.result.conflicts += 1
            conflicted.add(j)
    return by_stream, conflicted


def _previous(
    session: Session, stream: _Stream, prev: qc.Previous | None, time: datetime
) -> qc.Previous | None:
    """The reading QC compares one at ``time`` with: the batch's previous reading, else the
    datastream's latest when it is older, else the stored reading just before (out of order)."""
    if prev is not None and prev.time < time:
        return prev
    if stream.last_time is not None and stream.last_time < time:
        assert stream.last_value is not None
        return qc.Previous(
            stream.last_time, stream.last_value, stream.same_since or stream.last_time
        )
    if stream.last_time is not None:
        return _previous_from_db(session, stream.id, time)
    return prev


def _check_stream(
    session: Session,
    batch: _Batch,
    stream: _Stream,
    indices: list[int],
    conflicted: set[int],
    out: _Rows,
) -> None:
    """Quality-control one datastream's items in time order into rows to insert (values in SI),
    and note its new latest value."""
    indices.sort(key=lambda k: batch.items[k].message.time)
    prev: qc.Previous | None = None
    for k in indices:
        msg = batch.items[k].message
        value = to_si(msg.value, stream.unit)
        prev = _previous(session, stream, prev, msg.time)
        flags, same_since = qc.check(
            time=msg.time,
            value=value,
            limits=stream.limits,
            previous=prev,
            now=batch.now,
            future_tolerance=batch.options.future_tolerance,
            max_age=batch.options.max_age,
        )
        if k in conflicted:
            flags |= qc.Flag.CONFLICT
        out.rows.append(
            {
                "datastream_id": stream.id,
                "phenomenon_time": msg.time,
                "value": value,
                "flags": flags,
                "received_at": batch.now,
            }
        )
        out.item_of[(stream.id, msg.time)] = k
        batch.result.items[k] = ItemResult("stored", None, flags)
        prev = qc.Previous(msg.time, value, same_since)
        # A reading ahead of the clock never becomes the latest (its time is not to be trusted).
        if not flags & _FUTURE and (stream.last_time is None or msg.time > stream.last_time):
            out.latest[stream.id] = (msg.time, value, flags, same_since)


def _stored_values(
    session: Session, keys: list[tuple[int, datetime]]
) -> dict[tuple[int, datetime], float]:
    """The stored values (SI) at ``keys`` (datastream id, time), 500 keys a query."""
    existing: dict[tuple[int, datetime], float] = {}
    for chunk_start in range(0, len(keys), 500):
        chunk = keys[chunk_start : chunk_start + 500]
        for ds_id, t, v in session.execute(
            select(Observation.datastream_id, Observation.phenomenon_time, Observation.value).where(
                tuple_(Observation.datastream_id, Observation.phenomenon_time).in_(chunk)
            )
        ):
            existing[(ds_id, t)] = v
    return existing


def _settle_not_inserted(
    session: Session,
    batch: _Batch,
    streams: dict[str, _Stream],
    rows: _Rows,
    inserted: set[tuple[int, datetime]],
) -> None:
    """Rows the insert skipped were already stored (a redelivery or a repeat): the same value is
    a duplicate, another value a conflict (dead-lettered, and the stored row flagged)."""
    missing = [key for key in rows.item_of if key not in inserted]
    if not missing:
        return
    existing = _stored_values(session, missing)
    conflict_keys: list[tuple[int, datetime]] = []
    for key in missing:
        k = rows.item_of[key]
        msg = batch.items[k].message
        stored = existing.get(key)
        if (
            stored is not None
            and abs(stored - to_si(msg.value, streams[msg.datastream].unit)) <= 1e-12
        ):
            batch.result.items[k] = ItemResult("duplicate")
        else:
            batch.reject(k, "conflicting duplicate: a different value is already stored")
            conflict_keys.append(key)
            batch.result.conflicts += 1
        # A stored row that was not ours must not move the latest-value cache.
        ds_latest = rows.latest.get(key[0])
        if ds_latest is not None and ds_latest[0] == key[1]:
            del rows.latest[key[0]]
    for ds_id, t in conflict_keys:
        session.execute(
            update(Observation)
            .where(Observation.datastream_id == ds_id, Observation.phenomenon_time == t)
            .values(flags=Observation.flags.op("|")(int(qc.Flag.CONFLICT)))
        )


def _advance_latest(
    session: Session, latest: dict[int, tuple[datetime, float, int, datetime]]
) -> None:
    """Move each datastream's latest value on: one executemany for all datastreams; conditional,
    so a concurrent writer with newer data is never overwritten."""
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


def _tally(result: WriteResult, dead_lettered: int) -> None:
    """The batch's totals from its items."""
    for item in result.items:
        if item.status == "stored":
            result.stored += 1
            if item.flags:
                result.flagged += 1
        elif item.status == "duplicate":
            result.duplicates += 1
    result.dead_lettered = dead_lettered


def write_observations(
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
    now = now or utcnow()
    batch = _Batch(
        items=items,
        source=source,
        options=options or WriteOptions(),
        now=now,
        result=WriteResult(items=[ItemResult("stored")] * len(items)),
        dead=[_dead(source, r.origin, r.reject.reason, r.reject.raw, now) for r in rejects],
    )
    streams = _load_streams(session, items)
    by_stream, conflicted = _screen(batch, streams)
    rows = _Rows()
    for code, indices in by_stream.items():
        _check_stream(session, batch, streams[code], indices, conflicted, rows)
    inserted = set(_insert_ignoring_duplicates(session, rows.rows)) if rows.rows else set()
    _settle_not_inserted(session, batch, streams, rows, inserted)
    if rows.latest:
        _advance_latest(session, rows.latest)
    if batch.dead:
        session.execute(cast_table(DeadLetter).insert(), batch.dead)
    _tally(batch.result, len(batch.dead))
    return batch.result


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
