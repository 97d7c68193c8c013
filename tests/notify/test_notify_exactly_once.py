"""Exactly once across a crash: the real sender (`fangxun notify send`, a subprocess) delivers to a
local HTTP receiver (webhook and WeCom-shaped robot endpoints) and a local SMTP server (aiosmtpd);
the receiver holds its reply to the n-th message and the test SIGKILLs the sender right then —
after the message arrived, before the sender could record it. A restarted sender re-sends that
one delivery (same key) after the claim lease; the receivers, deduping by key, accept every
(event, recipient) exactly once and miss none. Retries on HTTP 500 keep the key too."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from notify_helpers import NOW, World, build_world
from notify_receivers import Recorder, http_receiver, smtp_receiver
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from fangxun.config import load_settings
from fangxun.db.engine import session_factory
from fangxun.notify import sender, service
from fangxun.notify.channels import (
    MemoryTransport,
    build_transports,
    close_transports,
    message_id,
)
from fangxun.notify.models import Channel, Delivery, DeliveryStatus, Notification

SECRET = "notify-test-secret-0123456789abcdef0123"
EVENTS = 4
LEASE_S = 2.0


def _enqueue_events(session: Session, world: World) -> None:
    recipients = service.recipients_for(
        session=session, unit_id=None, hazard_point_id=world.point, at=NOW
    )
    for i in range(EVENTS):
        service.enqueue(
            session=session,
            event_key=f"warning-change:{i}",
            subject=f"积水预警 {i}",
            markdown=f"第 {i} 次变化",
            recipients=recipients,
            unit_id=world.office,
        )
    session.commit()


def _sender_env(database_url: str, smtp_port: int) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "FANGXUN_ENVIRONMENT": "test",
            "FANGXUN_DATABASE_URL": database_url,
            "FANGXUN_SECRET_KEY": SECRET,
            "FANGXUN_NOTIFY_SMTP_HOST": "127.0.0.1",
            "FANGXUN_NOTIFY_SMTP_PORT": str(smtp_port),
            "FANGXUN_NOTIFY_CLAIM_LEASE_S": str(LEASE_S),
            "FANGXUN_NOTIFY_BATCH_SIZE": "6",
            "FANGXUN_NOTIFY_POLL_INTERVAL_S": "0.2",
            "FANGXUN_NOTIFY_HTTP_TIMEOUT_S": "1.5",
        }
    )
    return env


def _sender(env: dict[str, str], tmp_path: Path, *args: str) -> subprocess.Popen[bytes]:
    log = (tmp_path / f"sender-{time.monotonic_ns()}.log").open("wb")
    return subprocess.Popen(
        # The `fangxun notify` sub-app itself (what `fangxun notify send` runs), without the
        # start-up cost of importing every other command.
        [sys.executable, "-c", "from fangxun.cli.notify import app; app()", "send", *args],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


@pytest.mark.parametrize("crash_in", ["http", "smtp"])
def test_each_recipient_gets_each_change_once_across_a_killed_sender(
    engine: Engine, database_url: str, tmp_path: Path, crash_in: str
) -> None:
    http, smtp = Recorder(), Recorder()
    # Hold the reply to the 3rd message of one receiver: the sender is mid-batch then.
    (http if crash_in == "http" else smtp).hold_at = 3
    held = http if crash_in == "http" else smtp
    with http_receiver(http) as base, smtp_receiver(smtp) as smtp_port:
        with session_factory(engine)() as session:
            world = build_world(session, webhook_url=f"{base}/hook", robot_url=f"{base}/wecom")
            _enqueue_events(session, world)
            expected = {
                (n.event_key, n.channel, n.address): n.deliveries[0].idempotency_key
                for n in session.scalars(select(Notification))
            }
        http_keys = {k for (_, ch, _), k in expected.items() if ch is not Channel.EMAIL}
        mail_keys = {message_id(k) for (_, ch, _), k in expected.items() if ch is Channel.EMAIL}
        assert (len(http_keys), len(mail_keys)) == (2 * EVENTS, 3 * EVENTS)

        env = _sender_env(database_url, smtp_port)
        first = _sender(env, tmp_path)
        try:
            assert held.held.wait(60), "the sender never reached the 3rd message"
        finally:
            first.send_signal(signal.SIGKILL)
            first.wait(10)
        held.release.set()
        with session_factory(engine)() as session:
            states = [d.status for d in session.scalars(select(Delivery))]
        # The crash left the rest of the claimed batch "sending" — the in-flight one among them,
        # already received — and later batches pending.
        in_flight = states.count(DeliveryStatus.sending)
        assert 1 <= in_flight <= 6, states
        assert 2 <= states.count(DeliveryStatus.sent) < len(expected) - in_flight, states

        time.sleep(LEASE_S + 0.5)  # the dead sender's claim expires
        second = _sender(env, tmp_path, "--once")
        assert second.wait(120) == 0

    with session_factory(engine)() as session:
        deliveries = list(session.scalars(select(Delivery)))
    assert {d.status for d in deliveries} == {DeliveryStatus.sent}
    assert sum(d.attempts == 2 for d in deliveries) == in_flight  # claimed twice
    # Raw counts: the held message arrived twice (before the kill, and after the restart); the
    # receivers' dedupe by key accepts each (event, recipient) exactly once, none missing.
    raw_http, raw_smtp = len(http.raw), len(smtp.raw)
    dup_http, dup_smtp = (1, 0) if crash_in == "http" else (0, 1)
    print(
        f"crash in {crash_in}: raw http {raw_http}, raw smtp {raw_smtp}, "
        f"accepted {len(http.accepted)} + {len(smtp.accepted)}"
    )
    assert raw_http == 2 * EVENTS + dup_http and raw_smtp == 3 * EVENTS + dup_smtp
    assert set(http.accepted) == http_keys
    assert set(smtp.accepted) == mail_keys
    wecom = [b for b in http.accepted.values() if b["path"] == "/wecom"]
    assert len(wecom) == EVENTS and all(b["json"]["msgtype"] == "markdown" for b in wecom)


def test_retry_on_http_500_keeps_the_key(engine: Engine, database_url: str) -> None:
    http = Recorder(fail_first=2, fail_status=500)
    settings = load_settings(
        environment="test",
        database_url=database_url,
        secret_key=SECRET,
        notify_backoff_base_s=5.0,
        notify_backoff_jitter=0.0,
    )
    with http_receiver(http) as base:
        with session_factory(engine)() as session:
            world = build_world(session, webhook_url=f"{base}/hook")
            person = service.recipients_for(
                session=session, unit_id=world.office, hazard_point_id=world.point, at=NOW
            )
            deputy = [r for r in person if r.channel is Channel.WEBHOOK]
            service.enqueue(
                session=session,
                event_key="e1",
                subject="s",
                markdown="m",
                recipients=deputy,
                unit_id=world.office,
            )
            session.commit()
            start = session.scalars(select(Delivery)).one().next_attempt_at
        transports = build_transports(settings)
        factory = session_factory(engine)
        outcomes = []
        for step_s in (0.0, 5.0, 15.0):  # due at +0, then after 5 s, then after 10 s more
            report = sender.run_pass(
                factory=factory,
                transports=transports,
                settings=settings,
                clock=lambda s=step_s: start + timedelta(seconds=s),
                rng=random.Random(0),
            )
            outcomes.append((report.sent, report.retried))
        close_transports(transports)
    assert outcomes == [(0, 1), (0, 1), (1, 0)]
    assert len(http.raw) == 3  # 500, 500, then 200
    assert len({k for k, _ in http.raw}) == 1  # the same Idempotency-Key every attempt
    with session_factory(engine)() as session:
        d = session.scalars(select(Delivery)).one()
        assert (d.status, d.attempts) == (DeliveryStatus.sent, 3)


def test_parallel_claims_never_overlap_on_postgresql(engine: Engine, database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("FOR UPDATE SKIP LOCKED is PostgreSQL's; SQLite runs one sender")
    with session_factory(engine)() as session:
        _enqueue_events(session, build_world(session))
        now = max(d.next_attempt_at for d in session.scalars(select(Delivery)))
    factory = session_factory(engine)
    first, second = factory(), factory()
    try:
        a = sender.claim_due(session=first, now=now, limit=8, lease_s=60, worker="a")
        # The first transaction still holds its rows: the second skips them.
        b = sender.claim_due(session=second, now=now, limit=100, lease_s=60, worker="b")
        first.commit()
        second.commit()
    finally:
        first.close()
        second.close()
    assert len(a) == 8 and len(b) == 5 * EVENTS - 8
    assert not set(a) & set(b)
    with factory() as session:
        # A live claim is not taken over; renewing it works only for its owner.
        assert sender.claim_due(session=session, now=now, limit=100, lease_s=60, worker="c") == []
        assert sender.renew_claim(session=session, delivery_id=a[0], worker="b", now=now) is False
        assert sender.renew_claim(session=session, delivery_id=a[0], worker="a", now=now) is True


def test_sender_pass_runs_escalation(engine: Engine, database_url: str) -> None:
    settings = load_settings(
        environment="test",
        database_url=database_url,
        secret_key=SECRET,
        notify_escalate_after_s=60,
    )
    with session_factory(engine)() as session:
        _enqueue_events(session, build_world(session))
        start = max(n.created_at for n in session.scalars(select(Notification)))
    factory = session_factory(engine)
    memory = MemoryTransport()
    transports = dict.fromkeys(Channel, memory)
    later = start + timedelta(seconds=61)
    first = sender.run_pass(
        factory=factory, transports=transports, settings=settings, clock=lambda: later
    )
    again = sender.run_pass(
        factory=factory, transports=transports, settings=settings, clock=lambda: later
    )
    assert (first.escalated, again.escalated) == (EVENTS, 0)
    to_leader = [m for m in memory.sent if m.role == service.LEADER_ROLE]
    assert sorted(m.event_key for m in to_leader) == [
        f"escalation:warning-change:{i}" for i in range(EVENTS)
    ]
    assert {m.address for m in to_leader} == {"leader@example.cn"}
