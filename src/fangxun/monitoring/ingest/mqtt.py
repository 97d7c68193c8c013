"""The MQTT ingest service: subscribe, batch, write, commit, then acknowledge.

``fangxun ingest`` runs :class:`MqttIngest`. It subscribes to :data:`TOPIC` with QoS 1 on a
persistent MQTT 5 session (fixed client id, ``clean_start`` false, a session expiry interval), so
the broker keeps the messages published while the service is down and delivers them when it
returns. Messages are acknowledged by hand (paho ``manual_ack``) only after the batch holding them
has been committed: a crash between receipt and commit means the broker delivers them again, and
the idempotent writer counts the repeats as duplicates. Nothing is lost and nothing is doubled.

Lost messages are noticed and logged (:mod:`fangxun.monitoring.ingest.gaps`): per-station
sequence numbers when the sender gives them (MQTT 5 user property ``seq``), and the broker's
``$SYS/broker/publish/messages/dropped`` counter.

The broker connection is kept by paho's network thread, which reconnects with exponential backoff
(1 s doubling to 30 s). A database failure keeps the batch (unacknowledged) and retries it.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from fangxun.config import Settings
from fangxun.db.engine import session_scope
from fangxun.monitoring import service
from fangxun.monitoring.ingest.gaps import DROPPED_TOPIC, BrokerDrops, SequenceGaps
from fangxun.monitoring.ingest.parser import parse_payload
from fangxun.monitoring.ingest.writer import (
    IngestCounters,
    Pending,
    PendingReject,
    WriteOptions,
    write_observations,
)
from fangxun.monitoring.models import Source

logger = logging.getLogger(__name__)

#: Stations publish here; ``+`` is the station code.
TOPIC = "fangxun/v1/stations/+/observations"


def station_topic(station_code: str) -> str:
    """The topic a station publishes its observations to."""
    return f"fangxun/v1/stations/{station_code}/observations"


def station_of_topic(topic: str) -> str | None:
    """The station code in a station topic (see :func:`station_topic`), else None."""
    parts = topic.split("/")
    if len(parts) == 5 and parts[:3] == ["fangxun", "v1", "stations"]:
        return (parts[3] or None) if parts[4] == "observations" else None
    return None


@dataclass(frozen=True)
class MqttConfig:
    """Broker and batching settings. Durations in seconds."""

    host: str = "127.0.0.1"
    port: int = 1883
    client_id: str = "fangxun-ingest"
    session_expiry_s: int = 7 * 24 * 3600
    #: Most observations per transaction.
    batch_size: int = 2000
    #: Longest time a message waits in a partial batch, s.
    flush_s: float = 0.2
    #: A batch is written once no message has arrived for this long, s (keeps latency low and,
    #: since the broker holds back messages beyond its in-flight window until we acknowledge,
    #: keeps the pipeline moving).
    idle_s: float = 0.005
    keepalive_s: int = 30
    #: MQTT 5 Receive Maximum: unacknowledged messages the broker may have in flight to us.
    receive_maximum: int = 1000
    stale_check_s: float = 60.0

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> MqttConfig:
        """Config from the ``FANGXUN_MQTT_*`` and ``FANGXUN_INGEST_*`` settings."""
        values: dict[str, Any] = {
            "host": settings.mqtt_host,
            "port": settings.mqtt_port,
            "client_id": settings.mqtt_client_id,
            "session_expiry_s": settings.mqtt_session_expiry_s,
            "batch_size": settings.ingest_batch_size,
            "flush_s": settings.ingest_flush_s,
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)


@dataclass(frozen=True)
class _Inbound:
    mid: int
    qos: int
    topic: str
    payload: bytes
    generation: int
    #: The sender's per-station sequence number (MQTT 5 user property ``seq``), if any.
    seq: int | None = None


def sequence_of(msg: mqtt.MQTTMessage) -> int | None:
    """The ``seq`` user property of an MQTT 5 message as an integer, else None."""
    props = getattr(msg, "properties", None)
    for key, value in getattr(props, "UserProperty", None) or ():
        if key == "seq":
            try:
                return int(value)
            except ValueError:
                return None
    return None


class MqttIngest:
    """Subscribe to :data:`TOPIC` and write every observation exactly once.

    ``run(stop)`` blocks until ``stop`` is set. ``on_batch`` (optional) is called after each
    committed batch with the running counters (for progress output).
    """

    def __init__(
        self,
        *,
        engine: Engine,
        config: MqttConfig,
        options: WriteOptions | None = None,
        stale_after: timedelta | None = None,
        counters: IngestCounters | None = None,
        on_batch: Callable[[IngestCounters], None] | None = None,
        heartbeat: Callable[[], None] | None = None,
    ) -> None:
        self.engine = engine
        #: Called from the loop while connected and not stuck on the database (a liveness signal
        #: for the web UI, :mod:`fangxun.monitoring.heartbeat`).
        self.heartbeat = heartbeat
        self.config = config
        self.options = options or WriteOptions()
        self.stale_after = stale_after
        self.counters = counters or IngestCounters()
        self.on_batch = on_batch
        #: Witnesses of lost messages (logged as they are seen).
        self.gaps = SequenceGaps()
        self.broker_drops = BrokerDrops()
        self.connected = threading.Event()
        self.subscribed = threading.Event()
        self._queue: queue.Queue[_Inbound] = queue.Queue()
        self._generation = 0
        self._client = self._make_client()

    # --- paho callbacks (network thread) -------------------------------------------------------

    def _make_client(self) -> mqtt.Client:
        client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=self.config.client_id,
            protocol=mqtt.MQTTv5,
            manual_ack=True,
        )
        client.reconnect_delay_set(min_delay=1, max_delay=30)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        return client

    def _on_connect(
        self, client: mqtt.Client, _userdata: Any, flags: Any, reason: Any, _props: Any
    ) -> None:
        if reason.is_failure:
            logger.error("MQTT connect refused: %s", reason)
            return
        self._generation += 1
        logger.info(
            "connected to %s:%s (session present: %s)",
            self.config.host,
            self.config.port,
            flags.session_present,
        )
        self.connected.set()
        # Subscribing again is harmless when the session is present and needed when it is not.
        client.subscribe([(TOPIC, 1), (DROPPED_TOPIC, 0)])

    def _on_subscribe(self, *_args: Any) -> None:
        self.subscribed.set()

    def _on_disconnect(self, *_args: Any) -> None:
        self.connected.clear()
        logger.warning("disconnected from the broker; paho reconnects with backoff")

    def _on_message(self, _client: mqtt.Client, _userdata: Any, msg: mqtt.MQTTMessage) -> None:
        if msg.topic == DROPPED_TOPIC:
            self.broker_drops.update(bytes(msg.payload))
            return
        self._queue.put(
            _Inbound(
                msg.mid, msg.qos, msg.topic, bytes(msg.payload), self._generation, sequence_of(msg)
            )
        )

    # --- writer loop (caller's thread) ---------------------------------------------------------

    def start(self) -> None:
        """Connect (asynchronously; retried with backoff until the broker answers)."""
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = self.config.session_expiry_s
        props.ReceiveMaximum = self.config.receive_maximum
        self._client.connect_async(
            self.config.host,
            self.config.port,
            keepalive=self.config.keepalive_s,
            clean_start=False,
            properties=props,
        )
        self._client.loop_start()

    def stop(self) -> None:
        """Disconnect; unacknowledged messages stay with the broker for the next run."""
        self._client.disconnect()
        self._client.loop_stop()

    def run(self, stop: threading.Event) -> None:
        """Connect and process messages until ``stop`` is set."""
        self.start()
        next_stale = time.monotonic()
        try:
            while not stop.is_set():
                batch = self._collect(stop)
                if batch:
                    self._process(batch, stop)
                if self.heartbeat is not None and self.connected.is_set():
                    self.heartbeat()
                if self.stale_after is not None and time.monotonic() >= next_stale:
                    next_stale = time.monotonic() + self.config.stale_check_s
                    self._check_stale()
        finally:
            self.stop()

    def _collect(self, stop: threading.Event) -> list[_Inbound]:
        try:
            first = self._queue.get(timeout=0.2)
        except queue.Empty:
            return []
        batch = [first]
        # Observations per message are unknown before parsing; payload size is a fair proxy.
        weight = max(1, first.payload.count(b"datastream"))
        deadline = time.monotonic() + self.config.flush_s
        while weight < self.config.batch_size and not stop.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                item = self._queue.get(timeout=min(remaining, self.config.idle_s))
            except queue.Empty:
                break
            batch.append(item)
            weight += max(1, item.payload.count(b"datastream"))
        return batch

    def _process(self, batch: list[_Inbound], stop: threading.Event) -> None:
        items: list[Pending] = []
        rejects: list[PendingReject] = []
        for inbound in batch:
            parsed = parse_payload(inbound.payload)
            sender = station_of_topic(inbound.topic)
            items.extend(Pending(m, inbound.topic, sender) for m in parsed.messages)
            rejects.extend(PendingReject(r, inbound.topic) for r in parsed.rejects)
        delay = 0.5
        while True:
            try:
                with session_scope(self.engine) as session:
                    result = write_observations(
                        session=session,
                        items=items,
                        rejects=rejects,
                        source=Source.mqtt,
                        options=self.options,
                    )
                break
            except SQLAlchemyError:
                # Keep the batch unacknowledged and retry: the database may be restarting.
                logger.exception("database write failed; retrying in %.1f s", delay)
                if stop.wait(delay):
                    return
                delay = min(delay * 2, 30.0)
        self.counters.add(result, received=len(items) + len(rejects))
        for inbound in batch:
            sender = station_of_topic(inbound.topic)
            if inbound.seq is not None and sender is not None:
                self.gaps.observe(sender, inbound.seq)
        logger.debug("batch: %d messages, %d observations", len(batch), len(items))
        generation = self._generation
        for inbound in batch:
            # A message from before a reconnect is redelivered by the broker on the new
            # connection; acknowledging its old packet id could acknowledge another message.
            if inbound.qos > 0 and inbound.generation == generation:
                self._client.ack(inbound.mid, inbound.qos)
        if self.on_batch is not None:
            self.on_batch(self.counters)

    def _check_stale(self) -> None:
        assert self.stale_after is not None
        try:
            with session_scope(self.engine) as session:
                raised, cleared = service.update_stale_alarms(
                    session=session, stale_after=self.stale_after
                )
            if raised or cleared:
                logger.warning("stale stations: %d alarms raised, %d cleared", raised, cleared)
        except SQLAlchemyError:
            logger.exception("stale-station check failed")
