"""A future-dated reading never freezes a station (issue 20 item 4), on SQLite and PostgreSQL.

Before: one reading dated 2099 was stored flagged ``future``, stayed the datastream's latest
value after real readings arrived, and kept the station off the stale list. Now a reading more
than ``qc_future_dead_letter_s`` ahead is a dead letter; one within it is stored flagged
``future`` and never becomes the latest.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from mon_helpers import Network
from sqlalchemy import Engine, select

from fangxun.config import Settings
from fangxun.db import session_scope
from fangxun.monitoring import service
from fangxun.monitoring.ingest.parser import ObservationMessage
from fangxun.monitoring.ingest.writer import Pending, WriteOptions, write_observations
from fangxun.monitoring.models import Datastream, DeadLetter, Observation, Source
from fangxun.monitoring.qc import Flag

NOW = datetime(2026, 7, 20, 8, 0, tzinfo=UTC)


def _write(engine: Engine, code: str, t: datetime, value: float, now: datetime) -> None:
    options = WriteOptions.from_settings(Settings(environment="test"))  # type: ignore[call-arg]
    with session_scope(engine) as session:
        write_observations(
            session=session,
            items=[Pending(ObservationMessage(datastream=code, time=t, value=value))],
            source=Source.http,
            options=options,
            now=now,
        )


def _latest(engine: Engine, code: str) -> tuple[datetime | None, float | None]:
    with session_scope(engine) as session:
        ds = session.scalars(select(Datastream).where(Datastream.code == code)).one()
        return ds.last_time, ds.last_value


def _stale(engine: Engine, now: datetime) -> set[str]:
    with session_scope(engine) as session:
        rows = service.stale_stations(
            session=session, actor=None, stale_after=timedelta(minutes=30), now=now
        )
        return {st.code for st, _ in rows}


def test_a_reading_dated_2099_is_a_dead_letter_and_never_the_latest(
    engine: Engine, network: Network
) -> None:
    code = network.ponding
    _write(engine, code, NOW, 5.0, NOW)
    _write(engine, code, datetime(2099, 1, 1, tzinfo=UTC), 80.0, NOW)
    with session_scope(engine) as session:
        times = session.scalars(select(Observation.phenomenon_time)).all()
        assert all(t.year < 2099 for t in times)  # not stored
        reasons = session.scalars(select(DeadLetter.reason)).all()
        assert any("ahead of the server clock" in r for r in reasons)
    later = NOW + timedelta(minutes=5)
    _write(engine, code, later, 12.0, later)
    assert _latest(engine, code) == (later, 0.12)
    # The station falls silent: it is stale 30 min on.
    assert "PD01" in _stale(engine, later + timedelta(minutes=31))


def test_a_reading_a_little_ahead_is_stored_flagged_but_never_the_latest(
    engine: Engine, network: Network
) -> None:
    code = network.ponding
    _write(engine, code, NOW, 5.0, NOW)
    ahead = NOW + timedelta(minutes=8)  # beyond the 5 min tolerance, within the 10 min limit
    _write(engine, code, ahead, 40.0, NOW)
    with session_scope(engine) as session:
        flags = session.scalar(
            select(Observation.flags).where(Observation.phenomenon_time == ahead)
        )
        assert flags == Flag.FUTURE
    assert _latest(engine, code) == (NOW, 0.05)
    t1 = NOW + timedelta(minutes=1)
    _write(engine, code, t1, 6.0, t1)
    assert _latest(engine, code) == (t1, 0.06)
    assert "PD01" in _stale(engine, t1 + timedelta(minutes=31))
