"""Fault tests: the whole chain — MQTT ingest, warning evaluator, notification sender, each a real
process — runs through a replay of numbered observations while the broker restarts,
PostgreSQL restarts (twice: once while batches are written, once while a notification is in
flight), and the ingest, the evaluator and the sender are killed with SIGKILL and started again.

Afterwards:

* every published observation is stored exactly once (same count, same values, no dead letter);
* every warning change is made exactly once: the same changes as an uninterrupted control
  evaluation of the same series in a second database;
* every notification is queued exactly once (same as the control) and delivered: each delivery
  reaches the webhook receiver, and a delivery reaches it twice only when the sender was killed
  while that very delivery was in flight (the lease mechanism of :mod:`fangxun.notify.sender`
  sends it again with the same ``Idempotency-Key``, which the receiver honours). A PostgreSQL
  restart while a delivery is in flight does not resend it (the sender waits to record it);
* the services were never restarted by the test except where it killed them, and their logs
  show them reconnecting with backoff; the API app (what ``fangxun serve`` runs) answers 503
  while PostgreSQL is down and 200 after, on the same engine.

A second test drives the demo's replay publisher (:func:`fangxun.demo.replay.publish`) through
a broker restart: every observation of the plan stored exactly once.

The services run as child processes of their own Typer (sub-)apps (``fault_harness``): the same
code as the ``fangxun`` commands, without importing every other command at each (re)start.
The servers are private (a throw-away PostgreSQL cluster and Mosquitto broker on free ports,
see ``fault_harness``), so restarting them disturbs no other test.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from fault_harness import (
    INGEST_CMD,
    NOTIFY_CMD,
    WARNINGS_CMD,
    NumberedPublisher,
    PrivatePostgres,
    Service,
    WebhookReceiver,
    wait_until,
)
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from factories import make_unit
from fangxun.api.app import create_app
from fangxun.audit.service import SystemActor
from fangxun.config import load_settings
from fangxun.db import make_engine, session_scope
from fangxun.db.migrate import upgrade_engine
from fangxun.demo.replay import Frame, ReplayPlan, publish
from fangxun.monitoring import service as monitoring
from fangxun.monitoring.ingest.mqtt import MqttConfig, MqttIngest, station_topic
from fangxun.monitoring.ingest.parser import parse_payload
from fangxun.monitoring.ingest.writer import Pending, write_observations
from fangxun.monitoring.models import DeadLetter, Observation, Source, StationKind
from fangxun.monitoring.schemas import DatastreamCreate, StationCreate
from fangxun.notify import service as notify_service
from fangxun.notify.models import Channel, Delivery, DeliveryStatus, Notification
from fangxun.notify.schemas import ContactCreate
from fangxun.warnings import service as warnings_service
from fangxun.warnings.models import WarningChange
from service_processes import Broker

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.mqtt,
    pytest.mark.slow,
]

SETUP = SystemActor(username="fault-test")
STATION = "RGF1"
STREAM = "RGF1-rain"
PER_PHASE = 100
PHASES = ("blue", "yellow", "orange", "red")
N = PER_PHASE * len(PHASES)
#: Observation spacing, s: the 400 observations span 100 minutes ending 20 minutes ago, so every
#: one of them stays inside the 3 h rain windows for the whole test, whenever it is evaluated.
STEP_S = 15
#: Thresholds met once per phase: each phase brings about 23 mm (see :func:`value_mm`).
RULES: dict[str, Any] = {
    "enabled": ["rainstorm"],
    "rain_forecast_lead_s": 0,
    "rain": {
        colour: {"window_s": 3 * 3600, "amount_mm": 20.0 * (k + 1)}
        for k, colour in enumerate(PHASES)
    },
}
#: Sender settings: a short lease so a killed sender's delivery is sent again within seconds; an
#: HTTP timeout below it (the lease must cover one send).
LEASE_S = 6


def value_mm(i: int) -> float:
    """Rain of observation ``i``, mm (varied, so each reading is recognisable)."""
    return round(0.2 + (i % 7) * 0.01, 2)


def message(i: int, base: datetime) -> str:
    """Observation ``i`` as the station publishes it: its number is its time."""
    t = base + timedelta(seconds=STEP_S * i)
    return json.dumps({"datastream": STREAM, "time": t.isoformat(), "value": value_mm(i)})


def settings_env(url: str, data_dir: Path, mqtt_port: int) -> dict[str, str]:
    """Environment of the services (and, as settings, of the control evaluation)."""
    return {
        "FANGXUN_DATABASE_URL": url,
        "FANGXUN_ENVIRONMENT": "test",
        "FANGXUN_DATA_DIR": str(data_dir),
        "FANGXUN_MQTT_HOST": "127.0.0.1",
        "FANGXUN_MQTT_PORT": str(mqtt_port),
        "FANGXUN_MQTT_CLIENT_ID": f"faults-ingest-{uuid.uuid4().hex[:8]}",
        "FANGXUN_WARNING_RULES": json.dumps(RULES),
        "FANGXUN_NOTIFY_POLL_INTERVAL_S": "0.5",
        "FANGXUN_NOTIFY_CLAIM_LEASE_S": str(LEASE_S),
        "FANGXUN_NOTIFY_HTTP_TIMEOUT_S": "4",
        "FANGXUN_NOTIFY_BACKOFF_BASE_S": "1",
        "FANGXUN_NOTIFY_ESCALATE_AFTER_S": "86400",
        # The replayed series runs up to 20 min behind the clock: not a stale station here.
        "FANGXUN_MONITORING_STALE_S": "86400",
    }


def _create_rain_gauge(
    session: Session, *, unit_id: int | None = None, interval_s: int | None = None
) -> None:
    """The drill's rain gauge and its rainfall datastream (mm), in ``session``."""
    monitoring.ensure_observed_properties(session=session)
    monitoring.create_station(
        session=session,
        station_in=StationCreate(
            code=STATION,
            name_zh="演练雨量站",
            kind=StationKind.rain_gauge,
            lon=113.6,
            lat=34.8,
            unit_id=unit_id,
        ),
        actor=SETUP,
    )
    monitoring.create_datastream(
        session=session,
        datastream_in=DatastreamCreate(
            code=STREAM,
            name=STREAM,
            station_code=STATION,
            observed_property="rainfall",
            unit="mm",
            interval_s=interval_s,
        ),
        actor=SETUP,
    )


def seed(engine: Engine, webhook_url: str) -> None:
    """The district, its webhook contact and one rain gauge (committed)."""
    with session_scope(engine) as session:
        unit = make_unit(session, "FXD", name_zh="演练区", actor=SETUP)
        notify_service.add_contact(
            session=session,
            contact_in=ContactCreate(
                unit_id=unit.id, channel=Channel.WEBHOOK, address=webhook_url, label="receiver"
            ),
            actor=SETUP,
        )
        _create_rain_gauge(session, unit_id=unit.id, interval_s=STEP_S)


def outcome(engine: Engine) -> dict[str, Any]:
    """What the chain produced: observations, warning changes, notifications, deliveries."""
    with session_scope(engine) as session:
        changes = session.execute(
            select(
                WarningChange.id,
                WarningChange.change_type,
                WarningChange.from_colour,
                WarningChange.to_colour,
            ).order_by(WarningChange.id)
        ).all()
        by_id = {
            cid: (str(ct), str(fc) if fc else None, str(tc) if tc else None)
            for cid, ct, fc, tc in changes
        }

        def event(key: str) -> object:
            m = re.fullmatch(r"warning-change:(\d+)", key)
            return by_id.get(int(m.group(1))) if m else key

        notifications = Counter(
            (event(k), str(ch), addr, role)
            for k, ch, addr, role in session.execute(
                select(
                    Notification.event_key,
                    Notification.channel,
                    Notification.address,
                    Notification.role,
                )
            )
        )
        deliveries = {
            key: (status, attempts)
            for key, status, attempts in session.execute(
                select(Delivery.idempotency_key, Delivery.status, Delivery.attempts)
            )
        }
        observations = dict(
            session.execute(select(Observation.phenomenon_time, Observation.value)).all()
        )
        rows = session.scalar(select(func.count()).select_from(Observation)) or 0
        dead = list(session.scalars(select(DeadLetter.reason)))
    return {
        "changes": [by_id[c[0]] for c in changes],
        "notifications": notifications,
        "deliveries": deliveries,
        "observations": observations,
        "rows": rows,
        "dead": dead,
    }


def control_run(url: str, base: datetime, data_dir: Path) -> dict[str, Any]:
    """The same series, written and evaluated in-process without any fault: after each phase's
    observations are written, the rules run once."""
    settings = load_settings(
        environment="test",
        database_url=url,
        data_dir=data_dir,
        warning_rules=RULES,
        monitoring_stale_s=86400,
    )
    engine = make_engine(url)
    try:
        for k in range(len(PHASES)):
            items: list[Pending] = []
            for i in range(k * PER_PHASE, (k + 1) * PER_PHASE):
                parsed = parse_payload(message(i, base).encode())
                items += [Pending(m, station_topic(STATION), STATION) for m in parsed.messages]
            with session_scope(engine) as session:
                write_observations(session=session, items=items, source=Source.mqtt)
            with session_scope(engine) as session:
                warnings_service.evaluate(session=session, settings=settings)
        return outcome(engine)
    finally:
        engine.dispose()


@pytest.fixture
def postgres() -> Iterator[PrivatePostgres]:
    pg = PrivatePostgres()
    try:
        pg.init()
        pg.start()
        yield pg
    finally:
        pg.destroy()


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    b = Broker(tmp_path / "broker")
    b.start()
    try:
        yield b
    finally:
        b.stop()


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    r = WebhookReceiver()
    try:
        yield r
    finally:
        r.close()


class Replay:
    """Publishes one phase of numbered observations from a thread, paced so faults land while
    messages flow (100 messages over about 2 s)."""

    def __init__(self, publisher: NumberedPublisher, base: datetime) -> None:
        self.publisher = publisher
        self.base = base
        self.thread: threading.Thread | None = None

    def start_phase(self, k: int) -> None:
        def run() -> None:
            for i in range(k * PER_PHASE, (k + 1) * PER_PHASE):
                self.publisher.publish(station_topic(STATION), message(i, self.base))
                time.sleep(0.02)

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()

    def join(self) -> None:
        assert self.thread is not None
        self.thread.join(timeout=60)


def test_chain_survives_restarts_and_kills_exactly_once(
    postgres: PrivatePostgres, broker: Broker, receiver: WebhookReceiver, tmp_path: Path
) -> None:
    t_start = time.monotonic()
    postgres.create_database("chain")
    url = postgres.url("chain")
    engine = make_engine(url)
    upgrade_engine(engine)
    seed(engine, receiver.url)
    # The control starts from the very same database (a template copy), never touched again.
    engine.dispose()
    postgres.create_database("control", template="chain")
    engine = make_engine(url)

    data_dir = tmp_path / "var"
    env = os.environ | settings_env(url, data_dir, broker.port)
    logs = tmp_path / "logs"
    logs.mkdir()
    ingest = Service("ingest", [*INGEST_CMD, "--report-s", "0"], env, logs / "ingest.log")
    evaluator = Service(
        "evaluator", [*WARNINGS_CMD, "evaluate", "--every", "2"], env, logs / "evaluator.log"
    )
    sender = Service("sender", [*NOTIFY_CMD, "send"], env, logs / "sender.log")
    services = (ingest, evaluator, sender)
    base = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    # The API server's app (what `fangxun serve` runs), its engine made before the restarts.
    api = TestClient(create_app(load_settings(environment="test", database_url=url)))
    assert api.get("/api/v1/health").status_code == 200
    publisher = NumberedPublisher(broker.port, f"faults-pub-{uuid.uuid4().hex[:8]}")
    replay = Replay(publisher, base)

    def stored() -> int:
        with session_scope(engine) as session:
            return session.scalar(select(func.count()).select_from(Observation)) or 0

    def colour() -> str | None:
        with session_scope(engine) as session:
            return session.scalar(
                select(WarningChange.to_colour).order_by(WarningChange.id.desc()).limit(1)
            )

    def all_sent() -> bool:
        with session_scope(engine) as session:
            statuses = list(session.scalars(select(Delivery.status)))
        return bool(statuses) and all(s is DeliveryStatus.sent for s in statuses)

    marks: list[tuple[str, float]] = []

    def mark(label: str) -> None:
        marks.append((label, time.monotonic() - t_start))

    def phase_done(k: int) -> None:
        replay.join()
        wait_until(lambda: stored() >= (k + 1) * PER_PHASE, f"phase {k + 1} stored")
        wait_until(lambda: colour() == PHASES[k], f"the {PHASES[k]} signal")
        wait_until(all_sent, f"phase {k + 1} notifications delivered")
        mark(f"phase {k + 1} done")

    try:
        mark("set up")
        for s in services:
            s.start()
        # The ingest must hold its subscription before the replay: send observation 0 until it
        # is stored (repeats are duplicates, not rows).
        deadline = time.monotonic() + 60
        while stored() == 0:
            assert time.monotonic() < deadline, ingest.text()[-3000:]
            publisher.publish(station_topic(STATION), message(0, base))
            time.sleep(0.5)

        mark("ingest subscribed")
        # Phase 1 (blue): the broker restarts while observations flow.
        replay.start_phase(0)
        time.sleep(0.5)
        broker.restart(down_s=1.5)
        phase_done(0)

        # Phase 2 (yellow): PostgreSQL restarts while batches are being written, the evaluator
        # ticks and the sender polls (down 4 s: two evaluator ticks in a row fail whatever the
        # phase of its 2 s cadence).
        replay.start_phase(1)
        time.sleep(0.5)
        postgres.stop()
        api_down = api.get("/api/v1/health").status_code  # a clear 503, not a crash
        time.sleep(4.0)
        postgres.start()
        phase_done(1)
        api_after = api.get("/api/v1/health").status_code  # the same engine, reconnected

        # Phase 3 (orange): SIGKILL the ingest and the evaluator mid-phase, then the sender
        # while the orange notification is in flight (the receiver holds the request).
        receiver.hold_next()
        replay.start_phase(2)
        time.sleep(0.8)
        ingest.kill9()
        evaluator.kill9()
        time.sleep(0.5)
        ingest.start()
        evaluator.start()
        assert receiver.arrived.wait(90), "no orange notification reached the receiver"
        sender.kill9()
        receiver.release()
        killed_key = receiver.held[0]
        sender.start()
        phase_done(2)

        # Phase 4 (red): PostgreSQL restarts while the red notification is in flight: the
        # sender must wait for the database to record it, not send it again.
        receiver.hold_next()
        replay.start_phase(3)
        assert receiver.arrived.wait(90), "no red notification reached the receiver"
        postgres.stop()
        receiver.release()  # the answer comes while the database is down
        time.sleep(2.0)
        postgres.start()
        red_key = receiver.held[0]
        phase_done(3)
        time.sleep(1.5)  # a late duplicate (of anything) would arrive now

        alive = {s.name: s.alive() for s in services}
        starts = {s.name: s.starts for s in services}
    finally:
        api.close()
        publisher.close()
        for s in services:
            s.terminate()
        engine.dispose()
    elapsed = time.monotonic() - t_start
    engine = make_engine(url)
    try:
        got = outcome(engine)
    finally:
        engine.dispose()
    want = control_run(postgres.url("control"), base, data_dir)
    ingest_log, evaluator_log, sender_log = (s.text() for s in services)

    # Every process survived everything but its own SIGKILL, and was started once more after it.
    assert (api_down, api_after) == (503, 200)
    assert alive == {"ingest": True, "evaluator": True, "sender": True}, alive
    assert starts == {"ingest": 2, "evaluator": 2, "sender": 2}

    # Observations: each of the N numbered ones exactly once, with its value; nothing refused.
    expected = {
        base + timedelta(seconds=STEP_S * i): value_mm(i) / 1000.0 for i in range(N)
    }  # fmt: skip
    assert got["rows"] == N == len(got["observations"])
    assert got["observations"].keys() == expected.keys()
    assert all(abs(got["observations"][t] - v) < 1e-12 for t, v in expected.items())
    assert got["dead"] == []
    assert got["observations"] == want["observations"]

    # Warning changes: exactly those of the uninterrupted control run.
    assert (
        got["changes"]
        == want["changes"]
        == [
            ("issue", None, "blue"),
            ("upgrade", "blue", "yellow"),
            ("upgrade", "yellow", "orange"),
            ("upgrade", "orange", "red"),
        ]
    )
    # Notifications: queued exactly as in the control run, one delivery each, all sent.
    assert got["notifications"] == want["notifications"]
    assert sum(got["notifications"].values()) == len(got["deliveries"]) >= len(PHASES)
    assert all(status is DeliveryStatus.sent for status, _ in got["deliveries"].values())
    # Delivered: every key reached the receiver; only the one in flight when the sender was
    # killed reached it twice (sent again after the lease, same key, dropped by the receiver).
    assert set(receiver.applied) == set(got["deliveries"])
    assert receiver.duplicates() == {killed_key: 2}, receiver.duplicates()
    assert got["deliveries"][killed_key][1] == 2  # claimed again after the lease
    assert receiver.raw.count(red_key) == 1, "a PostgreSQL restart made the sender resend"
    assert got["deliveries"][red_key][1] == 1

    # They reconnected by themselves, with backoff, as the logs show.
    assert "disconnected from the broker; paho reconnects with backoff" in ingest_log
    assert "session present: True" in ingest_log
    assert re.search(r"database write failed; retrying in \d", ingest_log), ingest_log[-3000:]
    assert "warning evaluation failed" in evaluator_log
    # Backoff: the first retry after 1 s, the next after 2 s (capped at the 2 s cadence).
    assert "next try in 1.0 s" in evaluator_log and "next try in 2.0 s" in evaluator_log
    assert re.search(r"sender pass failed \(\d+ in a row\); retrying in", sender_log)
    # The record of the red delivery waited for PostgreSQL (tenacity's backoff log).
    assert "Retrying" in sender_log and "as it raised" in sender_log, sender_log[-3000:]
    timeline = ", ".join(f"{label} {t:.1f} s" for label, t in marks)
    print(f"\nfault chain: {elapsed:.1f} s ({timeline}); duplicates {receiver.duplicates()}")


def test_demo_replay_publisher_rides_out_a_broker_restart(
    sqlite_engine: Engine, broker: Broker, caplog: pytest.LogCaptureFixture
) -> None:
    """The demo's replay publisher (:func:`fangxun.demo.replay.publish`) keeps publishing across
    a broker restart: paho reconnects with backoff and sends again what the broker had not
    acknowledged; the ingest (in-process here) resubscribes on its persistent session. Every
    observation of the plan is stored exactly once."""
    with session_scope(sqlite_engine) as session:
        _create_rain_gauge(session)
    frames = [Frame(60.0 * k, {STATION: [(STREAM, value_mm(k))]}) for k in range(1, 201)]
    plan = ReplayPlan("test", "numbered frames", duration_s=frames[-1].offset_s, cell_m=0.0)
    plan.frames = frames
    stop = threading.Event()
    ingest = MqttIngest(
        engine=sqlite_engine,
        config=MqttConfig(port=broker.port, client_id=f"faults-replay-{uuid.uuid4().hex[:8]}"),
    )
    thread = threading.Thread(target=ingest.run, args=(stop,), daemon=True)
    result: list[int] = []
    caplog.set_level("INFO", logger="fangxun.monitoring.ingest.mqtt")
    thread.start()
    try:
        assert ingest.subscribed.wait(20)
        # 200 frames over about 4 s of wall time.
        replay = threading.Thread(
            target=lambda: result.append(
                publish(plan, port=broker.port, speed=frames[-1].offset_s / 4.0)
            ),
            daemon=True,
        )
        replay.start()
        time.sleep(1.5)
        broker.restart(down_s=1.5)
        replay.join(timeout=90)
        assert result == [200], "the replay did not finish"

        def count() -> int:
            with session_scope(sqlite_engine) as session:
                return session.scalar(select(func.count()).select_from(Observation)) or 0

        wait_until(lambda: count() >= 200, "all 200 replayed observations stored")
        time.sleep(1.0)  # a duplicate row would show up now
        with session_scope(sqlite_engine) as session:
            values = list(session.scalars(select(Observation.value)))
            dead = session.scalar(select(func.count()).select_from(DeadLetter))
        assert len(values) == 200 and dead == 0
        assert sorted(round(v * 1000, 2) for v in values) == sorted(
            value_mm(k) for k in range(1, 201)
        )
    finally:
        stop.set()
        thread.join(timeout=10)
    messages = [r.getMessage() for r in caplog.records]
    assert any("disconnected from the broker" in m for m in messages)
    assert any("session present: True" in m for m in messages)
