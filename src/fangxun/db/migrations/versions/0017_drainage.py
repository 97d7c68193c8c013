"""Drainage networks (SWMM .inp kept in the data folder) and the stations that drive them.

Written by hand after ``fangxun.drainage.models``; plain SQLAlchemy types so the migration stays
frozen.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0017"
down_revision: str | Sequence[str] | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "drainage_network",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("inp_file", sa.String(length=300), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("flow_units", sa.String(length=8), nullable=False),
        sa.Column("node_count", sa.Integer(), nullable=False),
        sa.Column("link_count", sa.Integer(), nullable=False),
        sa.Column("pump_count", sa.Integer(), nullable=False),
        sa.Column("outfall_count", sa.Integer(), nullable=False),
        sa.Column("check_report", _JSON, nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("imported_by", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_drainage_network")),
    )
    op.create_index(
        op.f("ix_drainage_network_is_active"), "drainage_network", ["is_active"], unique=False
    )
    op.create_table(
        "drainage_station_link",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("network_id", sa.Integer(), nullable=False),
        sa.Column("station_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("swmm_name", sa.String(length=100), nullable=False),
        sa.CheckConstraint(
            "role IN ('pump', 'outfall')",
            name=op.f("ck_drainage_station_link_drainage_station_role"),
        ),
        sa.ForeignKeyConstraint(
            ["network_id"],
            ["drainage_network.id"],
            name=op.f("fk_drainage_station_link_network_id_drainage_network"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["station_id"],
            ["mon_station.id"],
            name=op.f("fk_drainage_station_link_station_id_mon_station"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_drainage_station_link")),
        sa.UniqueConstraint(
            "network_id",
            "role",
            "swmm_name",
            name=op.f("uq_drainage_station_link_network_id_role_swmm_name"),
        ),
    )
    op.create_index(
        op.f("ix_drainage_station_link_network_id"),
        "drainage_station_link",
        ["network_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_drainage_station_link_network_id"), table_name="drainage_station_link")
    op.drop_table("drainage_station_link")
    op.drop_index(op.f("ix_drainage_network_is_active"), table_name="drainage_network")
    op.drop_table("drainage_network")
