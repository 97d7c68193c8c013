"""Notification models: contact channels of people and units, the outbox of notifications (one per
business event and recipient) and their deliveries (the sender's work items).

Exactly-once in effect: a :class:`Delivery` carries an ``idempotency_key`` fixed when it is
enqueued and reused on every attempt; the sender commits its claim before it sends, so a crash
between sending and recording leaves a ``sending`` row whose lease expires and which is sent again
*with the same key*; receivers dedupe by it (HTTP ``Idempotency-Key``, e-mail ``Message-ID``).
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fangxun.db.base import Base
from fangxun.db.types import string_enum, utcnow
from fangxun.org.models import Person, TimestampMixin, Unit


class Channel(enum.StrEnum):
    """How a message travels."""

    WEBHOOK = "webhook"  # generic JSON POST
    WECOM = "wecom"  # 企业微信群机器人
    DINGTALK = "dingtalk"  # 钉钉自定义机器人
    EMAIL = "email"
    SMS = "sms"  # 短信, through an HTTP gateway (fangxun.notify.sms)


class DeliveryStatus(enum.StrEnum):
    """Outbox state of a delivery: pending → sending → sent, or → retry → … → dead."""

    pending = "pending"
    sending = "sending"  # claimed by a sender (committed) and possibly sent already
    retry = "retry"  # failed, waits for ``next_attempt_at``
    sent = "sent"
    dead = "dead"  # gave up: too many attempts or a permanent refusal


class ContactChannel(TimestampMixin, Base):
    """An address at which a person or a unit receives notifications (exactly one of the two).

    For a unit this is typically its WeCom / DingTalk group robot; ``secret`` is the DingTalk
    robot's optional signing secret (加签).
    """

    __tablename__ = "notify_contact"
    __table_args__ = (
        CheckConstraint("(person_id IS NULL) <> (unit_id IS NULL)", name="person_xor_unit"),
        UniqueConstraint("person_id", "unit_id", "channel", "address"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int | None] = mapped_column(
        ForeignKey("org_person.id", ondelete="CASCADE"), index=True
    )
    unit_id: Mapped[int | None] = mapped_column(
        ForeignKey("org_unit.id", ondelete="CASCADE"), index=True
    )
    channel: Mapped[Channel] = mapped_column(string_enum(Channel, "notify_channel"))
    address: Mapped[str] = mapped_column(String(500))
    secret: Mapped[str | None] = mapped_column(String(200))
    label: Mapped[str | None] = mapped_column(String(100))
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    person: Mapped[Person | None] = relationship()
    unit: Mapped[Unit | None] = relationship()


class Notification(Base):
    """One business event told to one recipient: what, to whom, by which channel, and its ack."""

    __tablename__ = "notify_notification"
    __table_args__ = (
        UniqueConstraint("event_key", "channel", "address"),
        Index("ix_notify_notification_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Idempotency key of the business event (e.g. ``warning-change:17``).
    event_key: Mapped[str] = mapped_column(String(200), index=True)
    unit_id: Mapped[int | None] = mapped_column(
        ForeignKey("org_unit.id", ondelete="SET NULL"), index=True
    )
    person_id: Mapped[int | None] = mapped_column(
        ForeignKey("org_person.id", ondelete="SET NULL"), index=True
    )
    recipient_name: Mapped[str] = mapped_column(String(200))
    #: Why this recipient: responsible, deputy, unit_contact, duty, leader_on_duty.
    role: Mapped[str] = mapped_column(String(32))
    channel: Mapped[Channel] = mapped_column(string_enum(Channel, "notify_channel"))
    address: Mapped[str] = mapped_column(String(500))
    subject: Mapped[str] = mapped_column(String(300))
    markdown: Mapped[str] = mapped_column(Text)
    requires_ack: Mapped[bool] = mapped_column(Boolean, default=True)
    #: Escalate to the leader on duty when not acknowledged this long after creation, s.
    escalate_after_s: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    acknowledged_at: Mapped[datetime | None] = mapped_column()
    acknowledged_by: Mapped[str | None] = mapped_column(String(64))
    #: "link", "api" or "web".
    ack_via: Mapped[str | None] = mapped_column(String(16))
    escalated_at: Mapped[datetime | None] = mapped_column()
    #: What escalation did ("sent to 张三" or why it could not).
    escalation_note: Mapped[str | None] = mapped_column(String(300))
    #: Held back by the recipient's daily cap (no delivery): told later in one digest.
    held: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    #: When a held notification went out in a digest.
    digested_at: Mapped[datetime | None] = mapped_column()

    deliveries: Mapped[list[Delivery]] = relationship(
        back_populates="notification", cascade="all, delete-orphan", order_by="Delivery.id"
    )
    refs: Mapped[list[NotificationRef]] = relationship(
        back_populates="notification", cascade="all, delete-orphan", order_by="NotificationRef.id"
    )


class NotificationRef(Base):
    """What a notification is about, as plain references (``warning:17``): one aggregated message
    tells of several warnings, and the viewer filters and acknowledges by them."""

    __tablename__ = "notify_notification_ref"
    __table_args__ = (UniqueConstraint("notification_id", "ref"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    notification_id: Mapped[int] = mapped_column(
        ForeignKey("notify_notification.id", ondelete="CASCADE"), index=True
    )
    ref: Mapped[str] = mapped_column(String(100), index=True)

    notification: Mapped[Notification] = relationship(back_populates="refs")


class Delivery(Base):
    """The sender's work item for a notification: state, attempts, next try, last error."""

    __tablename__ = "notify_delivery"
    __table_args__ = (Index("ix_notify_delivery_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    notification_id: Mapped[int] = mapped_column(
        ForeignKey("notify_notification.id", ondelete="CASCADE"), index=True
    )
    #: Stable across attempts: receivers dedupe by it.
    idempotency_key: Mapped[str] = mapped_column(String(100), unique=True)
    status: Mapped[DeliveryStatus] = mapped_column(
        string_enum(DeliveryStatus, "notify_delivery_status"), default=DeliveryStatus.pending
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    claimed_at: Mapped[datetime | None] = mapped_column()
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    sent_at: Mapped[datetime | None] = mapped_column()
    last_error: Mapped[str | None] = mapped_column(Text)

    notification: Mapped[Notification] = relationship(back_populates="deliveries")
