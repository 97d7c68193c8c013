"""Hardening II (issue 20): hazard import jobs (background imports with progress); a version
on hazard points, rectifications and incidents (lost-update guard).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0014"
down_revision: str | Sequence[str] | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


#: JSON on SQLite, JSONB on PostgreSQL (as fangxun.db.types.json_type).
_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


#: Tables whose rows carry a ``version`` (fangxun.versioning).
_VERSIONED = ("hazard_point", "hazard_rectification", "incident")


def upgrade() -> None:
    op.create_table(
        "hazard_import_job",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("filename", sa.String(200), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("progress", sa.Float(), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=True),
        sa.Column("report", _JSON, nullable=True),
        sa.Column("problems", _JSON, nullable=True),
        sa.Column("problem_count", sa.Integer(), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_hazard_import_job_user_id", "hazard_import_job", ["user_id"])
    for table in _VERSIONED:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("version", sa.Integer(), nullable=False, server_default="1"))


def downgrade() -> None:
    for table in _VERSIONED:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("version")
    op.drop_index("ix_hazard_import_job_user_id", table_name="hazard_import_job")
    op.drop_table("hazard_import_job")
