"""Issue 20, item 11: a stock Mosquitto drops QoS 1 messages queued for an offline ingest. The
shipped broker settings keep a burst whole, and with stock settings the ingest notices the loss
(per-station sequence numbers and the broker's $SYS drop counter) and logs it."""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from mon_helpers import Network
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from sqlalchemy import Engine, func, select

from fangxun.db import session_scope
from fangxun.monitoring.ingest.gaps import SequenceGaps
from fangxun.monitoring.ingest.mqtt import TOPIC, MqttConfig, MqttIngest, station_topic
from fangxun.monitoring.models import Observation
from service_processes import SHIPPED_CONF, Broker

pytestmark = [pytest.mark.mqtt]

START = datetime.now(UTC).replace(microsecond=0) - timedelta(days=2)


def _client(port: int, client_id: str) -> mqtt.Client:
    client = mqtt.Client(
        callback_api_version=mqtt.CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=mqtt.MQTTv5,
    )
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)
    return client


def _session(port: int, client_id: str, *, clean: bool) -> mqtt.Client:
    """A persistent MQTT 5 session subscribed to the station topics (as ``fangxun ingest``)."""
    client = _client(port, client_id)
    props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    props.SessionExpiryInterval = 3600
    client.connect("127.0.0.1", port, clean_start=clean, properties=props)
    return client


def _publish_burst(port: int, n: int, *, first_seq: int = 1, code: str = "RG01-rain") -> None:
    pub = _client(port, f"pub-{uuid.uuid4().hex[:8]}")
    pub.connect("127.0.0.1", port)
    pub.loop_start()
    infos = []
    for i in range(n):
        seq = first_seq + i
        props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
        props.UserProperty = ("seq", str(seq))
        payload = {"datastream": code, "time": (START + timedelta(minutes=seq)).isoformat(),
                   "value": 0.5}  # fmt: skip
        infos.append(pub.publish(station_topic("RG01"), json.dumps(payload), 1, properties=props))
    for info in infos:
        info.wait_for_publish(timeout=60)
    pub.disconnect()
    pub.loop_stop()


def _queued_after_offline_burst(broker: Broker, n: int) -> int:
    """Messages an offline persistent session gets back after a burst of ``n``."""
    client_id = f"sess-{uuid.uuid4().hex[:8]}"
    sub = _session(broker.port, client_id, clean=True)
    done = threading.Event()
    sub.on_subscribe = lambda *_a: done.set()
    sub.loop_start()
    sub.subscribe(TOPIC, qos=1)
    assert done.wait(10)
    sub.disconnect()
    sub.loop_stop()
    _publish_burst(broker.port, n)
    got: list[int] = []
    back = _session(broker.port, client_id, clean=False)
    back.on_message = lambda _c, _u, msg: got.append(1)
    back.loop_start()
    last, deadline = -1, time.monotonic() + 30
    while time.monotonic() < deadline and (len(got) != last or len(got) == 0):
        last = len(got)
        time.sleep(1.0)
    back.disconnect()
    back.loop_stop()
    return len(got)


@pytest.mark.parametrize("shipped", [True, False], ids=["shipped", "stock"])
def test_shipped_broker_settings_keep_a_burst_for_an_offline_ingest(
    tmp_path: Path, shipped: bool
) -> None:
    broker = Broker(tmp_path / "broker", settings=None if shipped else "")
    broker.start()
    try:
        got = _queued_after_offline_burst(broker, 2500)
    finally:
        broker.stop()
    if shipped:
        assert got == 2500
    else:
        assert got < 2500  # the control: stock Mosquitto (max_queued_messages 1000) drops some


def test_shipped_settings_file_names_what_ingest_needs() -> None:
    text = SHIPPED_CONF.read_text()
    settings = dict(
        line.split(None, 1) for line in text.splitlines() if line and not line.startswith("#")
    )
    assert settings["persistence"] == "true"
    assert int(settings["max_queued_messages"]) >= 1_000_000
    assert "sys_interval" in settings


def test_ingest_logs_the_gap_a_stock_broker_leaves(
    sqlite_engine: Engine,
    sqlite_network: Network,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Stock broker (queue of 1000), ingest away during a burst of 1200 numbered messages: the
    broker's drop counter and the next message's sequence number both show the loss."""
    broker = Broker(tmp_path / "broker", settings="sys_interval 1\n")
    broker.start()
    client_id = f"ingest-{uuid.uuid4().hex[:8]}"
    stop = threading.Event()
    service = MqttIngest(
        engine=sqlite_engine, config=MqttConfig(port=broker.port, client_id=client_id)
    )
    try:
        # The ingest's persistent session exists (as in production), then ingest is away.
        first = threading.Thread(target=service.run, args=(stop,), daemon=True)
        first.start()
        assert service.subscribed.wait(10)
        stop.set()
        first.join(10)
        _publish_burst(broker.port, 1200)
        caplog.set_level(logging.INFO, logger="fangxun.monitoring.ingest")
        stop = threading.Event()
        service = MqttIngest(
            engine=sqlite_engine, config=MqttConfig(port=broker.port, client_id=client_id)
        )
        thread = threading.Thread(target=service.run, args=(stop,), daemon=True)
        thread.start()
        assert service.subscribed.wait(10)
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline and service.counters.snapshot()["stored"] < 1000:
            time.sleep(0.2)
        _publish_burst(broker.port, 1, first_seq=1201)  # the sender goes on
        while time.monotonic() < deadline and (
            service.broker_drops.dropped == 0 or service.gaps.missing == 0
        ):
            time.sleep(0.2)
        stop.set()
        thread.join(15)
    finally:
        stop.set()
        broker.stop()
    with session_scope(sqlite_engine) as session:
        rows = session.scalar(select(func.count()).select_from(Observation)) or 0
    assert 0 < rows < 1201
    assert service.gaps.missing == 1201 - rows  # every lost message counted, none twice
    assert service.broker_drops.dropped >= service.gaps.missing > 0
    messages = [r.getMessage() for r in caplog.records]
    assert any(m.startswith("gap: station RG01 sequence jumped") for m in messages)
    assert any("the broker dropped" in m for m in messages)


def test_sequence_gaps_ignore_redeliveries_and_fill_late_holes() -> None:
    gaps = SequenceGaps()
    for seq in (5, 6, 6, 7, 10, 8, 11, 7):
        gaps.observe("A", seq)
    gaps.observe("B", 100)  # the first number of a station is its baseline, not a gap
    assert gaps.snapshot() == {"gaps": 1, "missing": 1}  # 9 is still missing
