"""Forecaster approval, impact texts, notification digests, verification archive (issue 19).

* ``warning_proposal``: a forecast run's predicted-ponding changes waiting for approval;
* ``warning_verification_event``: observed crossings, dry-outs and predicted warnings, kept;
* ``notify_notification.held`` / ``digested_at``: the daily cap's held notifications;
* ``notify_notification_ref``: what an (aggregated) notification is about.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0020"
down_revision: str | Sequence[str] | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
_PROPOSAL_STATUSES = ("pending", "approved", "rejected", "superseded", "withdrawn")
_VERIFICATION_KINDS = ("crossing", "dry", "warning")


def _in(column: str, values: Sequence[str]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def upgrade() -> None:
    op.create_table(
        "warning_proposal",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("forecast_run_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deadline_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("items", _JSON, nullable=False),
        sa.Column("diff", _JSON, nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.String(length=64), nullable=True),
        sa.Column("decision_note", sa.Text(), nullable=True),
        sa.Column("applied_change_ids", _JSON, nullable=True),
        sa.Column("escalated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("escalation_note", sa.String(length=300), nullable=True),
        sa.Column("supersedes_id", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            _in("status", _PROPOSAL_STATUSES),
            name=op.f("ck_warning_proposal_warning_proposal_status"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_warning_proposal")),
    )
    op.create_index("ix_warning_proposal_status", "warning_proposal", ["status"])
    op.create_index(
        op.f("ix_warning_proposal_forecast_run_id"), "warning_proposal", ["forecast_run_id"]
    )
    op.create_table(
        "warning_verification_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("hazard_point_id", sa.Integer(), nullable=False),
        sa.Column("colour", sa.String(length=8), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("warning_id", sa.Integer(), nullable=True),
        sa.Column("depth_m", sa.Float(), nullable=True),
        sa.Column("detail", _JSON, nullable=True),
        sa.CheckConstraint(
            _in("kind", _VERIFICATION_KINDS),
            name=op.f("ck_warning_verification_event_warning_verification_kind"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_warning_verification_event")),
    )
    op.create_index(
        "ix_warning_verification_event_point_at",
        "warning_verification_event",
        ["hazard_point_id", "at"],
    )
    with op.batch_alter_table("notify_notification") as batch:
        batch.add_column(sa.Column("held", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("digested_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "notify_notification_ref",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("notification_id", sa.Integer(), nullable=False),
        sa.Column("ref", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(
            ["notification_id"],
            ["notify_notification.id"],
            name=op.f("fk_notify_notification_ref_notification_id_notify_notification"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notify_notification_ref")),
        sa.UniqueConstraint(
            "notification_id",
            "ref",
            name=op.f("uq_notify_notification_ref_notification_id_ref"),
        ),
    )
    op.create_index(
        op.f("ix_notify_notification_ref_notification_id"),
        "notify_notification_ref",
        ["notification_id"],
    )
    op.create_index(op.f("ix_notify_notification_ref_ref"), "notify_notification_ref", ["ref"])


def downgrade() -> None:
    op.drop_index(op.f("ix_notify_notification_ref_ref"), table_name="notify_notification_ref")
    op.drop_index(
        op.f("ix_notify_notification_ref_notification_id"), table_name="notify_notification_ref"
    )
    op.drop_table("notify_notification_ref")
    with op.batch_alter_table("notify_notification") as batch:
        batch.drop_column("digested_at")
        batch.drop_column("held")
    op.drop_index("ix_warning_verification_event_point_at", table_name="warning_verification_event")
    op.drop_table("warning_verification_event")
    op.drop_index(op.f("ix_warning_proposal_forecast_run_id"), table_name="warning_proposal")
    op.drop_index("ix_warning_proposal_status", table_name="warning_proposal")
    op.drop_table("warning_proposal")
