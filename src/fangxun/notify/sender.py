"""The sender: claims due deliveries from the outbox, sends them, records the outcome, retries with
exponential backoff and jitter, gives up after ``notify_max_attempts`` (dead, with the last
error), and runs escalation once per pass.

Exactly once, in effect, across crashes — the mechanism:

1. **Claim, committed before sending.** One short transaction selects due deliveries
   (``pending``/``retry`` whose ``next_attempt_at`` has come, or ``sending`` whose claim is older
   than ``notify_claim_lease_s`` — a sender that died), with ``FOR UPDATE SKIP LOCKED`` on
   PostgreSQL so parallel senders never take the same row (SQLite: run one sender), marks them
   ``sending`` with a claim time and counts the attempt, and commits.
2. **Send** with the delivery's ``idempotency_key``, fixed at enqueue time and reused on every
   attempt (HTTP ``Idempotency-Key``; e-mail ``Message-ID``). Just before, the claim is renewed
   (committed) and a row that another sender has taken over meanwhile is skipped.
3. **Record** the outcome in its own transaction (``sent``, or ``retry`` at a later time, or
   ``dead``). A database that is away at this moment (a PostgreSQL restart) is waited for with
   backoff, up to the claim lease: the message has gone out, and recording it late is better
   than sending it again.

A crash between 2 and 3 leaves the row ``sending``; after the lease it is claimed and sent again
with the same key, and the receiver drops the repeat. No delivery is lost (the claim is durable
before anything goes out) and none is applied twice by a receiver that dedupes by the key. The
lease must be longer than one send can take (``notify_http_timeout_s``), or a slow send could be
repeated while it is still in flight — still harmless, by the same key.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from tenacity import (
    Retrying,
    before_sleep_log,
    retry_if_exception_type,
    stop_after_delay,
    wait_exponential,
)

from fangxun.config import Settings
from fangxun.db.types import utcnow
from fangxun.notify import service
from fangxun.notify.channels import DeliveryError, OutgoingMessage, Transport
from fangxun.notify.models import Channel, Delivery, DeliveryStatus, Notification

logger = logging.getLogger(__name__)

#: Backoff of the sender loop after a failed pass (database away), s: first wait, and cap.
PASS_RETRY_FIRST_S = 1.0
PASS_RETRY_MAX_S = 30.0


@dataclass
class PassReport:
    """What one pass of the sender did (counts of deliveries)."""

    claimed: int = 0
    sent: int = 0
    retried: int = 0
    dead: int = 0
    escalated: int = 0

    def add(self, other: PassReport) -> None:
        """Add ``other``'s counts to these."""
        self.claimed += other.claimed
        self.sent += other.sent
        self.retried += other.retried
        self.dead += other.dead
        self.escalated += other.escalated


def worker_name() -> str:
    """This sender's name in ``claimed_by``: host and process id."""
    return f"{socket.gethostname()}:{os.getpid()}"[:100]


def backoff_s(attempts: int, settings: Settings, rng: random.Random | None = None) -> float:
    """Delay before the next attempt after ``attempts`` failed ones, s: base·2^(attempts−1),
    capped at ``notify_backoff_max_s``, plus up to ``notify_backoff_jitter`` of it at random.

    >>> from fangxun.config import Settings
    >>> s = Settings(database_url="sqlite://", notify_backoff_jitter=0.0)
    >>> [backoff_s(n, s) for n in (1, 2, 3)]
    [30.0, 60.0, 120.0]
    """
    base = min(
        settings.notify_backoff_base_s * 2.0 ** max(attempts - 1, 0), settings.notify_backoff_max_s
    )
    return base * (1.0 + (rng or random).random() * settings.notify_backoff_jitter)


def claim_due(
    *, session: Session, now: datetime, limit: int, lease_s: float, worker: str
) -> list[int]:
    """Mark up to ``limit`` due deliveries ``sending`` for ``worker`` and return their ids; the
    caller commits before sending (step 1 of the module's mechanism)."""
    stale = now - timedelta(seconds=lease_s)
    stmt = (
        select(Delivery)
        .where(
            or_(
                and_(
                    Delivery.status.in_([DeliveryStatus.pending, DeliveryStatus.retry]),
                    Delivery.next_attempt_at <= now,
                ),
                and_(Delivery.status == DeliveryStatus.sending, Delivery.claimed_at <= stale),
            )
        )
        .order_by(Delivery.next_attempt_at, Delivery.id)
        .limit(limit)
        .with_for_update(skip_locked=True)  # PostgreSQL; SQLite ignores it (one sender)
    )
    ids: list[int] = []
    for delivery in session.scalars(stmt):
        if delivery.status is DeliveryStatus.sending:
            logger.warning(
                "notify: delivery %s was claimed by %s at %s and never recorded; sending again "
                "with the same key %s",
                delivery.id,
                delivery.claimed_by,
                delivery.claimed_at,
                delivery.idempotency_key,
            )
        delivery.status = DeliveryStatus.sending
        delivery.claimed_at = now
        delivery.claimed_by = worker
        delivery.attempts += 1
        ids.append(delivery.id)
    session.flush()
    return ids


def renew_claim(*, session: Session, delivery_id: int, worker: str, now: datetime) -> bool:
    """Refresh ``worker``'s claim on a delivery to ``now``; False when it no longer holds it."""
    result = session.execute(
        update(Delivery)
        .where(
            Delivery.id == delivery_id,
            Delivery.status == DeliveryStatus.sending,
            Delivery.claimed_by == worker,
        )
        .values(claimed_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0) == 1)


def _message(session: Session, delivery: Delivery, settings: Settings) -> OutgoingMessage:
    n: Notification = delivery.notification
    url = (
        service.ack_url(
            public_url=settings.notify_public_url,
            secret_key=settings.effective_secret_key,
            notification_id=n.id,
        )
        if n.requires_ack
        else None
    )
    return OutgoingMessage(
        key=delivery.idempotency_key,
        channel=n.channel,
        address=n.address,
        subject=n.subject,
        markdown=n.markdown,
        recipient_name=n.recipient_name,
        secret=service.signing_secret(session=session, notification=n),
        ack_url=url,
        event_key=n.event_key,
        notification_id=n.id,
        role=n.role,
        created_at=n.created_at,
    )


def record_outcome(
    *,
    session: Session,
    delivery_id: int,
    error: DeliveryError | None,
    now: datetime,
    settings: Settings,
    rng: random.Random | None = None,
    worker: str | None = None,
) -> DeliveryStatus | None:
    """Record a send's outcome (step 3): sent, retry after a backoff, or dead. With ``worker``,
    nothing is recorded (None) when the delivery is no longer claimed by it."""
    delivery = session.get(Delivery, delivery_id, with_for_update=True)
    assert delivery is not None
    if worker is not None and (
        delivery.status is not DeliveryStatus.sending or delivery.claimed_by != worker
    ):
        logger.warning(
            "notify: delivery %s was taken over; its outcome stays with the new owner", delivery_id
        )
        return None
    if error is None:
        delivery.status = DeliveryStatus.sent
        delivery.sent_at = now
    else:
        delivery.last_error = str(error)[:2000]
        if error.permanent or delivery.attempts >= settings.notify_max_attempts:
            delivery.status = DeliveryStatus.dead
            logger.error(
                "notify: delivery %s given up after %d attempt(s): %s",
                delivery.id,
                delivery.attempts,
                error,
            )
        else:
            delivery.status = DeliveryStatus.retry
            delivery.next_attempt_at = now + timedelta(
                seconds=backoff_s(delivery.attempts, settings, rng)
            )
            logger.warning(
                "notify: delivery %s attempt %d failed, retry at %s: %s",
                delivery.id,
                delivery.attempts,
                delivery.next_attempt_at.isoformat(),
                error,
            )
    delivery.claimed_at = None
    session.flush()
    return delivery.status


def send_batch(
    *,
    factory: sessionmaker[Session],
    transports: Mapping[Channel, Transport],
    settings: Settings,
    worker: str,
    clock: Callable[[], datetime] = utcnow,
    rng: random.Random | None = None,
) -> PassReport:
    """Claim one batch (committed), send each delivery and record each outcome (committed)."""
    report = PassReport()
    with factory.begin() as session:
        ids = claim_due(
            session=session,
            now=clock(),
            limit=settings.notify_batch_size,
            lease_s=settings.notify_claim_lease_s,
            worker=worker,
        )
    report.claimed = len(ids)
    for delivery_id in ids:
        with factory.begin() as session:
            # Renew the claim just before sending: the lease then covers one send, not a whole
            # batch, and a row another sender took over (our lease ran out) is left to it.
            if not renew_claim(
                session=session, delivery_id=delivery_id, worker=worker, now=clock()
            ):
                logger.warning("notify: delivery %s was taken over; not sending it", delivery_id)
                continue
            delivery = session.get(Delivery, delivery_id)
            assert delivery is not None
            message = _message(session, delivery, settings)
        transport = transports.get(message.channel)
        error: DeliveryError | None = None
        if transport is None:
            error = DeliveryError(f"no transport for channel {message.channel}", permanent=True)
        else:
            try:
                transport.send(message)
            except DeliveryError as exc:
                error = exc
            except Exception as exc:  # a bug in one transport must not stop the outbox
                logger.exception("notify: transport %s crashed", message.channel)
                error = DeliveryError(f"{type(exc).__name__}: {exc}")
        # The message is out: keep trying to record it while the database is away (backoff,
        # logged), for up to the lease; only after that may another sender send it again.
        for attempt in Retrying(
            retry=retry_if_exception_type(SQLAlchemyError),
            wait=wait_exponential(multiplier=0.5, max=10.0),
            stop=stop_after_delay(settings.notify_claim_lease_s),
            before_sleep=before_sleep_log(logger, logging.WARNING),
            reraise=True,
        ):
            with attempt, factory.begin() as session:
                status = record_outcome(
                    session=session,
                    delivery_id=delivery_id,
                    error=error,
                    now=clock(),
                    settings=settings,
                    rng=rng,
                    worker=worker,
                )
        if status is None:
            continue
        if status is DeliveryStatus.sent:
            report.sent += 1
        elif status is DeliveryStatus.dead:
            report.dead += 1
        else:
            report.retried += 1
    return report


def run_pass(
    *,
    factory: sessionmaker[Session],
    transports: Mapping[Channel, Transport],
    settings: Settings,
    worker: str | None = None,
    clock: Callable[[], datetime] = utcnow,
    rng: random.Random | None = None,
) -> PassReport:
    """One pass: escalate overdue notifications and enqueue due digests (committed), then send
    batches until none is due."""
    worker = worker or worker_name()
    report = PassReport()
    with factory.begin() as session:
        report.escalated = len(
            service.escalate_overdue(
                session=session, now=clock(), default_after_s=settings.notify_escalate_after_s
            )
        )
        # Messages held by the daily cap go out as one digest per address.
        service.send_digests(session=session, now=clock(), every_s=settings.notify_digest_every_s)
    while True:
        batch = send_batch(
            factory=factory,
            transports=transports,
            settings=settings,
            worker=worker,
            clock=clock,
            rng=rng,
        )
        report.add(batch)
        if batch.claimed < settings.notify_batch_size:
            return report


def run_forever(
    *,
    factory: sessionmaker[Session],
    transports: Mapping[Channel, Transport],
    settings: Settings,
    stop: threading.Event,
    on_pass: Callable[[PassReport], None] | None = None,
) -> None:
    """Run passes until ``stop`` is set, pausing ``notify_poll_interval_s`` when idle. A database
    error in one pass is logged and the loop goes on (the outbox keeps the work), trying again
    after an exponential backoff (:data:`PASS_RETRY_FIRST_S` doubling up to
    :data:`PASS_RETRY_MAX_S`)."""
    worker = worker_name()
    in_a_row = 0
    while not stop.is_set():
        try:
            report = run_pass(
                factory=factory, transports=transports, settings=settings, worker=worker
            )
        except Exception:
            in_a_row += 1
            delay = min(PASS_RETRY_MAX_S, PASS_RETRY_FIRST_S * 2.0 ** (in_a_row - 1))
            logger.exception(
                "notify: sender pass failed (%d in a row); retrying in %.1f s", in_a_row, delay
            )
            stop.wait(delay)
            continue
        if in_a_row:
            logger.info("notify: sender pass succeeded again after %d failures", in_a_row)
        in_a_row = 0
        if on_pass is not None:
            on_pass(report)
        if report.claimed == 0:
            stop.wait(settings.notify_poll_interval_s)
