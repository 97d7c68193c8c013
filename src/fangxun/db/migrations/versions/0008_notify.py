"""Notification outbox: contact channels of people and units, notifications (one per event and
recipient) and their deliveries (the sender's work items).

Generated with Alembic's autogenerate against the models of fangxun.notify and checked by hand;
plain SQLAlchemy types so the migration stays frozen when the models change.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _enum(name: str, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=32)


_CHANNEL = _enum("notify_channel", "webhook", "wecom", "dingtalk", "email")
_STATUS = _enum("notify_delivery_status", "pending", "sending", "retry", "sent", "dead")


def upgrade() -> None:
    op.create_table(
        "notify_contact",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("unit_id", sa.Integer(), nullable=True),
        sa.Column("channel", _CHANNEL, nullable=False),
        sa.Column("address", sa.String(length=500), nullable=False),
        sa.Column("secret", sa.String(length=200), nullable=True),
        sa.Column("label", sa.String(length=100), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(person_id IS NULL) <> (unit_id IS NULL)",
            name=op.f("ck_notify_contact_person_xor_unit"),
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["org_person.id"],
            name=op.f("fk_notify_contact_person_id_org_person"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"],
            ["org_unit.id"],
            name=op.f("fk_notify_contact_unit_id_org_unit"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notify_contact")),
        sa.UniqueConstraint(
            "person_id",
            "unit_id",
            "channel",
            "address",
            name=op.f("uq_notify_contact_person_id_unit_id_channel_address"),
        ),
    )
    op.create_index(
        op.f("ix_notify_contact_person_id"), "notify_contact", ["person_id"], unique=False
    )
    op.create_index(op.f("ix_notify_contact_unit_id"), "notify_contact", ["unit_id"], unique=False)
    op.create_table(
        "notify_notification",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_key", sa.String(length=200), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=True),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("recipient_name", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("channel", _CHANNEL, nullable=False),
        sa.Column("address", sa.String(length=500), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("markdown", sa.Text(), nullable=False),
        sa.Column("requires_ack", sa.Boolean(), nullable=False),
        sa.Column("escalate_after_s", sa.Float(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_by", sa.String(length=64), nullable=True),
        sa.Column("ack_via", sa.String(length=16), nullable=True),
        sa.Column("escalated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("escalation_note", sa.String(length=300), nullable=True),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["org_person.id"],
            name=op.f("fk_notify_notification_person_id_org_person"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"],
            ["org_unit.id"],
            name=op.f("fk_notify_notification_unit_id_org_unit"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notify_notification")),
        sa.UniqueConstraint(
            "event_key",
            "channel",
            "address",
            name=op.f("uq_notify_notification_event_key_channel_address"),
        ),
    )
    op.create_index(
        "ix_notify_notification_created_at", "notify_notification", ["created_at"], unique=False
    )
    op.create_index(
        op.f("ix_notify_notification_event_key"), "notify_notification", ["event_key"], unique=False
    )
    op.create_index(
        op.f("ix_notify_notification_person_id"), "notify_notification", ["person_id"], unique=False
    )
    op.create_index(
        op.f("ix_notify_notification_unit_id"), "notify_notification", ["unit_id"], unique=False
    )
    op.create_table(
        "notify_delivery",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("notification_id", sa.Integer(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=100), nullable=False),
        sa.Column("status", _STATUS, nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claimed_by", sa.String(length=100), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["notification_id"],
            ["notify_notification.id"],
            name=op.f("fk_notify_delivery_notification_id_notify_notification"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notify_delivery")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_notify_delivery_idempotency_key")),
    )
    op.create_index(
        "ix_notify_delivery_due", "notify_delivery", ["status", "next_attempt_at"], unique=False
    )
    op.create_index(
        op.f("ix_notify_delivery_notification_id"),
        "notify_delivery",
        ["notification_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_notify_delivery_notification_id"), table_name="notify_delivery")
    op.drop_index("ix_notify_delivery_due", table_name="notify_delivery")
    op.drop_table("notify_delivery")
    op.drop_index(op.f("ix_notify_notification_unit_id"), table_name="notify_notification")
    op.drop_index(op.f("ix_notify_notification_person_id"), table_name="notify_notification")
    op.drop_index(op.f("ix_notify_notification_event_key"), table_name="notify_notification")
    op.drop_index("ix_notify_notification_created_at", table_name="notify_notification")
    op.drop_table("notify_notification")
    op.drop_index(op.f("ix_notify_contact_unit_id"), table_name="notify_contact")
    op.drop_index(op.f("ix_notify_contact_person_id"), table_name="notify_contact")
    op.drop_table("notify_contact")
