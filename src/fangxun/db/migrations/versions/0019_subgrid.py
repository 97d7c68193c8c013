"""Official signals: CAP 1.2 alerts of the meteorological service (warning_official_signal).

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | Sequence[str] | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "warning_official_signal",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("identifier", sa.String(length=200), nullable=False),
        sa.Column("sender", sa.String(length=200), nullable=False),
        sa.Column("sent", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("msg_type", sa.String(length=16), nullable=False),
        sa.Column("references", sa.Text(), nullable=True),
        sa.Column("event", sa.String(length=200), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("colour", sa.String(length=8), nullable=True),
        sa.Column("area", sa.Text(), nullable=True),
        sa.Column("effective", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expires", sa.DateTime(timezone=True), nullable=True),
        sa.Column("superseded_by", sa.String(length=200), nullable=True),
        sa.Column("source", sa.String(length=500), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("raw_xml", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_warning_official_signal")),
        sa.UniqueConstraint("sender", "identifier", name="uq_warning_official_signal_sender_ident"),
    )
    op.create_index(
        op.f("ix_warning_official_signal_identifier"),
        "warning_official_signal",
        ["identifier"],
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_warning_official_signal_identifier"), table_name="warning_official_signal"
    )
    op.drop_table("warning_official_signal")
