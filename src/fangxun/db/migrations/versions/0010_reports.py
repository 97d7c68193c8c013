"""Storm events, per-point statistics, causes and reviews.

Written by hand after ``fangxun.reports.models``; plain SQLAlchemy types so the migration stays
frozen.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def _in(column: str, values: Sequence[str]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def upgrade() -> None:
    op.create_table(
        "report_storm_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("total_m", sa.Float(), nullable=False),
        sa.Column("mean_total_m", sa.Float(), nullable=False),
        sa.Column("max_1h_m", sa.Float(), nullable=False),
        sa.Column("max_3h_m", sa.Float(), nullable=False),
        sa.Column("max_12h_m", sa.Float(), nullable=False),
        sa.Column("max_24h_m", sa.Float(), nullable=False),
        sa.Column("grade", sa.String(length=32), nullable=False),
        sa.Column("return_period_years", sa.Float(), nullable=True),
        sa.Column("peak_gauge", sa.String(length=64), nullable=True),
        sa.Column("details", _JSON, nullable=False),
        sa.Column("detected_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            _in("status", ("open", "closed", "reviewed", "report_event_status")),
            name=op.f("ck_report_storm_event_report_event_status"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_storm_event")),
    )
    op.create_index(
        op.f("ix_report_storm_event_start"), "report_storm_event", ["start"], unique=False
    )
    op.create_table(
        "report_point_cause",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("point_id", sa.Integer(), nullable=False),
        sa.Column("cause", sa.String(length=64), nullable=False),
        sa.Column("evidence", sa.Text(), nullable=True),
        sa.Column("suggestions", _JSON, nullable=False),
        sa.Column("confirmed_by", sa.String(length=64), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["report_storm_event.id"],
            name=op.f("fk_report_point_cause_event_id_report_storm_event"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["point_id"],
            ["hazard_point.id"],
            name=op.f("fk_report_point_cause_point_id_hazard_point"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_point_cause")),
        sa.UniqueConstraint(
            "event_id", "point_id", name=op.f("uq_report_point_cause_event_id_point_id")
        ),
    )
    op.create_index(
        op.f("ix_report_point_cause_event_id"), "report_point_cause", ["event_id"], unique=False
    )
    op.create_index(
        op.f("ix_report_point_cause_point_id"), "report_point_cause", ["point_id"], unique=False
    )
    op.create_table(
        "report_review_item",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("point_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("cause", sa.String(length=64), nullable=False),
        sa.Column("problem", sa.Text(), nullable=False),
        sa.Column("rectification_id", sa.Integer(), nullable=True),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deadline", sa.DateTime(timezone=True), nullable=False),
        sa.Column("responsible_person_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["report_storm_event.id"],
            name=op.f("fk_report_review_item_event_id_report_storm_event"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["point_id"],
            ["hazard_point.id"],
            name=op.f("fk_report_review_item_point_id_hazard_point"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["rectification_id"],
            ["hazard_rectification.id"],
            name=op.f("fk_report_review_item_rectification_id_hazard_rectification"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"],
            ["org_unit.id"],
            name=op.f("fk_report_review_item_unit_id_org_unit"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_review_item")),
        sa.UniqueConstraint(
            "event_id", "point_id", name=op.f("uq_report_review_item_event_id_point_id")
        ),
    )
    for col in ("event_id", "point_id", "rectification_id", "unit_id"):
        op.create_index(
            op.f(f"ix_report_review_item_{col}"), "report_review_item", [col], unique=False
        )


def downgrade() -> None:
    for col in ("event_id", "point_id", "rectification_id", "unit_id"):
        op.drop_index(op.f(f"ix_report_review_item_{col}"), table_name="report_review_item")
    op.drop_table("report_review_item")
    op.drop_index(op.f("ix_report_point_cause_point_id"), table_name="report_point_cause")
    op.drop_index(op.f("ix_report_point_cause_event_id"), table_name="report_point_cause")
    op.drop_table("report_point_cause")
    op.drop_index(op.f("ix_report_storm_event_start"), table_name="report_storm_event")
    op.drop_table("report_storm_event")
