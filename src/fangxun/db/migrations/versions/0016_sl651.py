"""SL 651-2014 telemetry: stations by BCD address with their element mappings; dead letters of
source ``sl651``.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0016"
down_revision: str | Sequence[str] | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_SOURCES = ("mqtt", "http", "csv", "replay")
NEW_SOURCES = (*OLD_SOURCES, "sl651")


def _in(column: str, values: Sequence[str]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _sources(values: Sequence[str]) -> None:
    with op.batch_alter_table("mon_dead_letter") as batch:
        batch.drop_constraint(op.f("ck_mon_dead_letter_ingest_source"), type_="check")
        batch.create_check_constraint(
            op.f("ck_mon_dead_letter_ingest_source"), _in("source", values)
        )


def upgrade() -> None:
    op.create_table(
        "mon_sl651_station",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("address", sa.String(length=10), nullable=False),
        sa.Column("station_id", sa.Integer(), nullable=False),
        sa.Column("password", sa.Integer(), nullable=True),
        sa.Column(
            "elements", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=True
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["station_id"],
            ["mon_station.id"],
            name=op.f("fk_mon_sl651_station_station_id_mon_station"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mon_sl651_station")),
        sa.UniqueConstraint("address", name=op.f("uq_mon_sl651_station_address")),
    )
    op.create_index(op.f("ix_mon_sl651_station_station_id"), "mon_sl651_station", ["station_id"])
    _sources(NEW_SOURCES)


def downgrade() -> None:
    op.execute("DELETE FROM mon_dead_letter WHERE source = 'sl651'")
    _sources(OLD_SOURCES)
    op.drop_index(op.f("ix_mon_sl651_station_station_id"), table_name="mon_sl651_station")
    op.drop_table("mon_sl651_station")
