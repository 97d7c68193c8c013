"""Integration tests of ``fangxun ingest`` against a real Mosquitto broker and the database:
every published observation stored exactly once across an ingest crash and a broker restart;
malformed payloads dead-lettered while valid items of the same array are stored."""

from __future__ import annotations

import json
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from mon_helpers import Network, build_network
from mqtt_helpers import IngestProcess, Publisher, payloads
from sqlalchemy import Engine, func, select

from fangxun.db import session_scope
from fangxun.monitoring.ingest.mqtt import MqttConfig, MqttIngest, station_topic
from fangxun.monitoring.models import DeadLetter, Observation
from service_processes import Broker

pytestmark = [pytest.mark.mqtt]

START = int(datetime.now(UTC).timestamp()) - 3 * 24 * 3600  # within the QC age limit


def counts(engine: Engine) -> tuple[int, int, int]:
    with session_scope(engine) as session:
        n = session.scalar(select(func.count()).select_from(Observation)) or 0
        distinct = session.scalar(
            select(func.count()).select_from(
                select(Observation.datastream_id, Observation.phenomenon_time).distinct().subquery()
            )
        ) or 0  # fmt: skip
        dead = session.scalar(select(func.count()).select_from(DeadLetter)) or 0
        return n, distinct, dead


def wait_for(
    engine: Engine, stored: int, dead: int, timeout_s: float = 90.0
) -> tuple[int, int, int]:
    deadline = time.monotonic() + timeout_s
    got = counts(engine)
    while time.monotonic() < deadline and (got[0] < stored or got[2] < dead):
        time.sleep(0.25)
        got = counts(engine)
    time.sleep(0.5)  # anything more (a duplicate) would show up now
    return counts(engine)


@pytest.fixture
def broker(tmp_path: Path) -> Broker:
    b = Broker(tmp_path / "broker")
    b.start()
    yield b  # type: ignore[misc]
    b.stop()


def _probe(engine: Engine, broker: Broker, log: Path) -> int:
    """Publish unknown-datastream probes until one shows up as a dead letter: the ingest's
    subscription exists from then on. Returns the dead letters counted after settling."""
    pub = Publisher(broker.port, f"probe-{uuid.uuid4().hex[:8]}")
    try:
        deadline = time.monotonic() + 30
        while counts(engine)[2] == 0:
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            pub.publish(
                station_topic("X"),
                '{"datastream": "probe", "time": "2021-01-01T00:00:00Z", "value": 0}',
            )
            pub.wait_all()
            time.sleep(0.5)
    finally:
        pub.close()
    time.sleep(0.5)
    return counts(engine)[2]


def test_in_process_mixed_array(
    sqlite_engine: Engine, sqlite_network: Network, broker: Broker
) -> None:
    stop = threading.Event()
    service = MqttIngest(
        engine=sqlite_engine,
        config=MqttConfig(port=broker.port, client_id=f"t-{uuid.uuid4().hex[:8]}"),
    )
    thread = threading.Thread(target=service.run, args=(stop,), daemon=True)
    thread.start()
    try:
        assert service.subscribed.wait(10)
        pub = Publisher(broker.port, f"pub-{uuid.uuid4().hex[:8]}")
        mixed = [
            {"datastream": sqlite_network.rain, "time": "2026-11-20T08:00:00+08:00", "value": 1.5},
            {
                "datastream": sqlite_network.rain,
                "time": "2026-11-20T08:05:00+08:00",
                "value": "NaN",
            },
            {"datastream": "UNKNOWN", "time": "2026-11-20T08:05:00+08:00", "value": 1},
            {"datastream": sqlite_network.rain, "time": "2026-11-20T08:10:00+08:00", "value": 2.5},
        ]
        pub.publish(station_topic("RG01"), json.dumps(mixed))
        pub.publish(station_topic("RG01"), b"\x00not json")
        pub.publish(station_topic("RG01"), json.dumps(mixed))  # repeated: duplicates, not new rows
        pub.wait_all()
        pub.close()
        n, _, dead = wait_for(sqlite_engine, 2, 5, timeout_s=20)
        assert n == 2
        assert dead == 5  # 2 bad items twice + 1 malformed payload
        snap = service.counters.snapshot()
        assert snap["stored"] == 2 and snap["duplicates"] == 2 and snap["dead_lettered"] == 5
        with session_scope(sqlite_engine) as session:
            reasons = list(session.scalars(select(DeadLetter.reason)))
            origins = set(session.scalars(select(DeadLetter.origin)))
        assert any("malformed JSON" in r for r in reasons)
        assert any("UNKNOWN" in r for r in reasons)
        assert origins == {station_topic("RG01")}
    finally:
        stop.set()
        thread.join(10)


@pytest.mark.postgres
@pytest.mark.slow
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_ingest_killed_and_restarted_mid_stream(
    database_url: str, engine: Engine, broker: Broker, tmp_path: Path
) -> None:
    network = build_network(engine)
    n = 3000
    messages = payloads([network.rain, network.ponding, network.river], n, START)
    ingest = IngestProcess(
        database_url=database_url, port=broker.port, client_id=f"ingest-{uuid.uuid4().hex[:8]}",
        log=tmp_path / "ingest.log",
    )  # fmt: skip
    ingest.start()
    pub = Publisher(broker.port, f"pub-{uuid.uuid4().hex[:8]}")
    try:
        probes = _probe(engine, broker, tmp_path / "ingest.log")
        for i, (topic, payload) in enumerate(messages):
            pub.publish(topic, payload)
            if i == n // 3:
                time.sleep(0.3)  # let the ingest be mid-batch
                ingest.kill()
            if i == 2 * n // 3:
                ingest.start()
        pub.wait_all()
        stored, distinct, dead = wait_for(engine, n, probes)
        assert stored == n, (stored, (tmp_path / "ingest.log").read_text()[-3000:])
        assert distinct == n
        assert dead == probes  # nothing else was dead-lettered
    finally:
        pub.close()
        ingest.terminate()


@pytest.mark.postgres
@pytest.mark.slow
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_broker_restarted_mid_stream(
    database_url: str, engine: Engine, broker: Broker, tmp_path: Path
) -> None:
    network = build_network(engine)
    n = 2000
    messages = payloads([network.rain, network.ponding], n, START)
    ingest = IngestProcess(
        database_url=database_url, port=broker.port, client_id=f"ingest-{uuid.uuid4().hex[:8]}",
        log=tmp_path / "ingest.log",
    )  # fmt: skip
    ingest.start()
    try:
        _probe(engine, broker, tmp_path / "ingest.log")
        pub = Publisher(broker.port, f"pub-{uuid.uuid4().hex[:8]}")
        for topic, payload in messages[: n // 2]:
            pub.publish(topic, payload)
        pub.wait_all()
        pub.close()
        deadline = time.monotonic() + 30
        while counts(engine)[0] < n // 8 and time.monotonic() < deadline:
            time.sleep(0.01)
        at_restart = counts(engine)[0]
        broker.restart()  # while the ingest is working through the first half
        print(f"stored when the broker stopped: {at_restart} of {n // 2} published")
        pub = Publisher(broker.port, f"pub-{uuid.uuid4().hex[:8]}")
        for topic, payload in messages[n // 2 :]:
            pub.publish(topic, payload)
        pub.wait_all()
        pub.close()
        stored, distinct, _ = wait_for(engine, n, 1)
        assert stored == n, (stored, (tmp_path / "ingest.log").read_text()[-3000:])
        assert distinct == n
    finally:
        ingest.terminate()
