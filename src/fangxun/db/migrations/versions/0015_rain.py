"""Rain frames: the index of stored radar QPE, QPF and nowcast frames (files under the data dir).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | Sequence[str] | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "rain_frame",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("feed", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("variant", sa.String(length=16), nullable=False),
        sa.Column("valid_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("issue_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("units", sa.String(length=16), nullable=False),
        sa.Column("interval_s", sa.Float(), nullable=True),
        sa.Column("path", sa.String(length=400), nullable=False),
        sa.Column("source_file", sa.String(length=400), nullable=False),
        sa.Column("importer", sa.String(length=32), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("crs_wkt", sa.Text(), nullable=False),
        sa.Column("bias_factor", sa.Float(), nullable=True),
        sa.Column("gauges_used", sa.Integer(), nullable=True),
        sa.Column("max_mm_h", sa.Float(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('QPE', 'QPF', 'nowcast')", name=op.f("ck_rain_frame_kind")),
        sa.CheckConstraint("variant IN ('raw', 'adjusted')", name=op.f("ck_rain_frame_variant")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rain_frame")),
        sa.UniqueConstraint(
            "feed",
            "kind",
            "variant",
            "valid_time",
            "issue_time",
            name=op.f("uq_rain_frame_feed_kind_variant_valid_time_issue_time"),
        ),
    )
    op.create_index(
        "ix_rain_frame_feed_kind_time", "rain_frame", ["feed", "kind", "valid_time"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_rain_frame_feed_kind_time", table_name="rain_frame")
    op.drop_table("rain_frame")
