"""Forecast runs and per-hazard-point results (fangxun.forecast).

Written by hand after the models; plain SQLAlchemy types so the migration stays frozen.

Revision ID: 0005
Revises: 0004_operations
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004_operations"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _in(column: str, values: Sequence[str]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "forecast_run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("rain_source", sa.String(length=32), nullable=False),
        sa.Column("params", _JSON, nullable=False),
        sa.Column("members", sa.Integer(), nullable=False),
        sa.Column("horizon_s", sa.Float(), nullable=False),
        sa.Column("progress", sa.Float(), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("warm_start_run_id", sa.Integer(), nullable=True),
        sa.Column("output_dir", sa.String(length=300), nullable=True),
        sa.Column("bounds", _JSON, nullable=True),
        sa.Column("summary", _JSON, nullable=True),
        sa.Column("skill", _JSON, nullable=True),
        sa.CheckConstraint(
            _in("status", ("queued", "running", "done", "failed", "forecast_run_status")),
            name=op.f("ck_forecast_run_forecast_run_status"),
        ),
        sa.CheckConstraint(
            _in("rain_source", ("design", "series", "nowcast", "forecast_rain_source")),
            name=op.f("ck_forecast_run_forecast_rain_source"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_forecast_run")),
    )
    op.create_index(op.f("ix_forecast_run_status"), "forecast_run", ["status"], unique=False)
    op.create_table(
        "forecast_point_result",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("point_id", sa.Integer(), nullable=False),
        sa.Column("row", sa.Integer(), nullable=False),
        sa.Column("col", sa.Integer(), nullable=False),
        sa.Column("times_s", _JSON, nullable=False),
        sa.Column("depth_m", _JSON, nullable=False),
        sa.Column("peak_depth_m", sa.Float(), nullable=False),
        sa.Column("peak_time_s", sa.Float(), nullable=False),
        sa.Column("time_to_threshold_s", _JSON, nullable=False),
        sa.Column("probability", _JSON, nullable=False),
        sa.Column("member_peaks_m", _JSON, nullable=False),
        sa.Column("thresholds_m", _JSON, nullable=False),
        sa.Column("risk", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["point_id"],
            ["hazard_point.id"],
            name=op.f("fk_forecast_point_result_point_id_hazard_point"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["forecast_run.id"],
            name=op.f("fk_forecast_point_result_run_id_forecast_run"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_forecast_point_result")),
        sa.UniqueConstraint(
            "run_id", "point_id", name=op.f("uq_forecast_point_result_run_id_point_id")
        ),
    )
    op.create_index(
        op.f("ix_forecast_point_result_point_id"),
        "forecast_point_result",
        ["point_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_forecast_point_result_run_id"), "forecast_point_result", ["run_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_forecast_point_result_run_id"), table_name="forecast_point_result")
    op.drop_index(op.f("ix_forecast_point_result_point_id"), table_name="forecast_point_result")
    op.drop_table("forecast_point_result")
    op.drop_index(op.f("ix_forecast_run_status"), table_name="forecast_run")
    op.drop_table("forecast_run")
