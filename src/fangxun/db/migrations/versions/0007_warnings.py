"""Warnings: rules state, warnings, their changes and CAP alerts.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
_KINDS = (
    "rainstorm",
    "ponding",
    "predicted_ponding",
    "river_level",
    "pump_failure",
    "stale_sensor",
)
_COLOURS = ("blue", "yellow", "orange", "red")


def _in(column: str, values: Sequence[str]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def upgrade() -> None:
    op.create_table(
        "warning",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(length=120), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("colour", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("origin", sa.String(length=32), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=True),
        sa.Column("hazard_point_id", sa.Integer(), nullable=True),
        sa.Column("datastream_id", sa.Integer(), nullable=True),
        sa.Column("station_id", sa.Integer(), nullable=True),
        sa.Column("place", sa.String(length=200), nullable=True),
        sa.Column("evidence", _JSON, nullable=True),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lifted_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(_in("kind", _KINDS), name=op.f("ck_warning_warning_kind")),
        sa.CheckConstraint(_in("colour", _COLOURS), name=op.f("ck_warning_warning_colour")),
        sa.CheckConstraint(
            _in("status", ("active", "lifted")), name=op.f("ck_warning_warning_status")
        ),
        sa.CheckConstraint(
            _in("origin", ("rule", "manual")), name=op.f("ck_warning_warning_origin")
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"],
            ["org_unit.id"],
            name=op.f("fk_warning_unit_id_org_unit"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_warning")),
    )
    op.create_index(op.f("ix_warning_unit_id"), "warning", ["unit_id"], unique=False)
    op.create_index(
        op.f("ix_warning_hazard_point_id"), "warning", ["hazard_point_id"], unique=False
    )
    op.create_index("ix_warning_status_subject", "warning", ["status", "subject"], unique=False)
    op.create_index(
        "uq_warning_active_subject",
        "warning",
        ["subject"],
        unique=True,
        sqlite_where=sa.text("status = 'active'"),
        postgresql_where=sa.text("status = 'active'"),
    )
    op.create_table(
        "warning_change",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("warning_id", sa.Integer(), nullable=False),
        sa.Column("change_type", sa.String(length=32), nullable=False),
        sa.Column("from_colour", sa.String(length=32), nullable=True),
        sa.Column("to_colour", sa.String(length=32), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("evidence", _JSON, nullable=True),
        sa.Column("cap_identifier", sa.String(length=200), nullable=True),
        sa.Column("cap_sent", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cap_xml", sa.Text(), nullable=True),
        sa.CheckConstraint(
            _in("change_type", ("issue", "upgrade", "downgrade", "update", "lift")),
            name=op.f("ck_warning_change_warning_change_type"),
        ),
        sa.CheckConstraint(
            _in("from_colour", _COLOURS), name=op.f("ck_warning_change_warning_change_from_colour")
        ),
        sa.CheckConstraint(
            _in("to_colour", _COLOURS), name=op.f("ck_warning_change_warning_change_to_colour")
        ),
        sa.ForeignKeyConstraint(
            ["warning_id"],
            ["warning.id"],
            name=op.f("fk_warning_change_warning_id_warning"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_warning_change")),
        sa.UniqueConstraint("cap_identifier", name=op.f("uq_warning_change_cap_identifier")),
    )
    op.create_index(
        op.f("ix_warning_change_warning_id"), "warning_change", ["warning_id"], unique=False
    )
    op.create_index("ix_warning_change_at", "warning_change", ["at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_warning_change_at", table_name="warning_change")
    op.drop_index(op.f("ix_warning_change_warning_id"), table_name="warning_change")
    op.drop_table("warning_change")
    op.drop_index("uq_warning_active_subject", table_name="warning")
    op.drop_index("ix_warning_status_subject", table_name="warning")
    op.drop_index(op.f("ix_warning_hazard_point_id"), table_name="warning")
    op.drop_index(op.f("ix_warning_unit_id"), table_name="warning")
    op.drop_table("warning")
