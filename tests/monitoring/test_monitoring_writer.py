"""The batched idempotent writer and quality control, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from mon_helpers import Network
from sqlalchemy import Engine, func, select

from fangxun.db import session_scope
from fangxun.monitoring.ingest.parser import ObservationMessage, parse_payload
from fangxun.monitoring.ingest.writer import (
    Pending,
    PendingReject,
    WriteResult,
    write_observations,
)
from fangxun.monitoring.models import Datastream, DeadLetter, Observation, Source
from fangxun.monitoring.qc import Flag

T0 = datetime(2021, 7, 20, 8, 0, tzinfo=UTC)
NOW = T0 + timedelta(hours=12)


def msg(code: str, minutes: float, value: float) -> Pending:
    return Pending(
        ObservationMessage(datastream=code, time=T0 + timedelta(minutes=minutes), value=value)
    )


def write(engine: Engine, items: list[Pending], **kw: object) -> WriteResult:
    with session_scope(engine) as session:
        return write_observations(session=session, items=items, source=Source.http, now=NOW, **kw)  # type: ignore[arg-type]


def stored(engine: Engine, code: str) -> list[tuple[datetime, float, int]]:
    with session_scope(engine) as session:
        ds_id = session.scalar(select(Datastream.id).where(Datastream.code == code))
        rows = session.execute(
            select(Observation.phenomenon_time, Observation.value, Observation.flags)
            .where(Observation.datastream_id == ds_id)
            .order_by(Observation.phenomenon_time)
        ).all()
        return [(t, v, f) for t, v, f in rows]


def dead(engine: Engine) -> list[str]:
    with session_scope(engine) as session:
        return list(session.scalars(select(DeadLetter.reason).order_by(DeadLetter.id)))


def test_stores_in_si_and_is_idempotent(engine: Engine, network: Network) -> None:
    batch = [msg(network.rain, 5 * i, 1.5) for i in range(1, 4)] + [msg(network.ponding, 0, 12.0)]
    first = write(engine, batch)
    assert (first.stored, first.duplicates, first.dead_lettered) == (4, 0, 0)
    again = write(engine, batch)  # a redelivery
    assert (again.stored, again.duplicates, again.conflicts) == (0, 4, 0)
    rows = stored(engine, network.rain)
    assert [v for _, v, _ in rows] == pytest.approx([0.0015] * 3)
    assert stored(engine, network.ponding)[0][1] == pytest.approx(0.12)
    with session_scope(engine) as session:
        ds = session.scalar(select(Datastream).where(Datastream.code == network.rain))
        assert ds is not None and ds.last_time == T0 + timedelta(minutes=15)
        assert session.scalar(select(func.count()).select_from(Observation)) == 4


def test_bad_items_dead_lettered_good_ones_kept(engine: Engine, network: Network) -> None:
    payload = (
        '[{"datastream": "RG01-rain", "time": "2021-07-20T16:05:00+08:00", "value": 2},'
        ' {"datastream": "RG01-rain", "time": "2021-07-20T16:10:00+08:00", "value": "x"},'
        ' {"datastream": "NOPE", "time": "2021-07-20T16:10:00+08:00", "value": 1},'
        ' {"datastream": "RG01-rain", "time": "not a time", "value": 1},'
        ' {"datastream": "RG01-rain", "time": "2021-07-20T16:15:00+08:00", "value": 3}]'
    )
    parsed = parse_payload(payload)
    result = write(
        engine,
        [Pending(m) for m in parsed.messages],
        rejects=[PendingReject(r, "test") for r in parsed.rejects],
    )
    assert result.stored == 2
    assert result.dead_lettered == 3
    assert [v for _, v, _ in stored(engine, network.rain)] == pytest.approx([0.002, 0.003])
    reasons = dead(engine)
    assert any("unknown datastream 'NOPE'" in r for r in reasons)
    assert any("value" in r and "number" in r for r in reasons)
    assert any("time" in r for r in reasons)


def test_conflicting_duplicate_flags_and_dead_letters(engine: Engine, network: Network) -> None:
    write(engine, [msg(network.ponding, 0, 10.0)])
    result = write(engine, [msg(network.ponding, 0, 11.0)])
    assert (result.stored, result.conflicts) == (0, 1)
    (row,) = stored(engine, network.ponding)
    assert row[1] == pytest.approx(0.10)  # the first value stays
    assert row[2] & Flag.CONFLICT
    assert "conflicting duplicate" in dead(engine)[0]
    # within one batch as well
    result = write(engine, [msg(network.ponding, 5, 1.0), msg(network.ponding, 5, 2.0)])
    assert (result.stored, result.conflicts) == (1, 1)
    assert stored(engine, network.ponding)[1][2] & Flag.CONFLICT


def test_qc_range_spike_future_too_old(sqlite_engine: Engine, sqlite_network: Network) -> None:
    n = sqlite_network
    items = [
        msg(n.ponding, 0, 0.0),
        msg(n.ponding, 1, 30.0),  # 30 cm in 60 s: 0.005 m/s, within 0.01 m/s
        msg(n.ponding, 2, 200.0),  # +170 cm in 60 s: spike
        msg(n.ponding, 3, -5.0),  # below 0: range
        msg(n.rain, 60 * 12 + 8, 1.0),  # 8 min after NOW: future (30 min: a dead letter)
        msg(n.rain, -60 * 24 * 40, 1.0),  # 40 days before: too old
    ]
    result = write(sqlite_engine, items)
    flags = [r.flags for r in result.items]
    assert flags[0] == 0 and flags[1] == 0
    assert flags[2] == Flag.SPIKE
    assert flags[3] & Flag.RANGE
    assert flags[4] == Flag.FUTURE
    assert flags[5] == Flag.TOO_OLD
    assert result.flagged == 4 and result.stored == 6  # flagged values are kept


def test_qc_stuck_across_batches(sqlite_engine: Engine, sqlite_network: Network) -> None:
    river = sqlite_network.river
    # River level limit: unchanged for 6 h is stuck. Write hourly in separate batches.
    flags = [write(sqlite_engine, [msg(river, 60 * h, 85.25)]).items[0].flags for h in range(8)]
    assert flags[:6] == [0] * 6
    assert flags[6] == Flag.STUCK and flags[7] == Flag.STUCK
    # a change ends the run
    assert write(sqlite_engine, [msg(river, 60 * 8, 85.30)]).items[0].flags == 0


def test_out_of_order_spike_uses_stored_predecessor(
    sqlite_engine: Engine, sqlite_network: Network
) -> None:
    p = sqlite_network.ponding
    write(sqlite_engine, [msg(p, 0, 0.0), msg(p, 10, 0.0)])
    late = write(sqlite_engine, [msg(p, 1, 150.0)])  # 1.5 m one minute after 0: spike
    assert late.items[0].flags == Flag.SPIKE
    with session_scope(sqlite_engine) as session:
        ds = session.scalar(select(Datastream).where(Datastream.code == p))
        assert ds is not None and ds.last_time == T0 + timedelta(minutes=10)  # not moved back


def test_station_may_write_only_its_own_datastreams(engine: Engine, network: Network) -> None:
    """The MQTT topic names the sending station: its own stream is stored, another's refused."""
    own = msg(network.rain, 5, 1.0)
    other = msg(network.ponding, 5, 12.0)
    result = write(
        engine,
        [Pending(own.message, "t", station_code="RG01"), Pending(other.message, "t", "RG01")],
    )
    assert [r.status for r in result.items] == ["stored", "rejected"]
    assert "belongs to station 'PD01'" in (result.items[1].reason or "")
    assert stored(engine, network.ponding) == []
    assert any("not to the sending station 'RG01'" in reason for reason in dead(engine))


def test_station_of_topic() -> None:
    from fangxun.monitoring.ingest.mqtt import station_of_topic, station_topic

    assert station_of_topic(station_topic("RG01")) == "RG01"
    assert station_of_topic("fangxun/v1/stations//observations") is None
    assert station_of_topic("v1.1/Datastreams(3)/Observations") is None
