"""Forecast district inputs: which warm start a run used (previous run, observations, dry).

Land use and catchments are files (GeoTIFF, GeoJSON) named in the settings, not tables.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WARM_START_KINDS = ("run", "observations", "dry")


def upgrade() -> None:
    with op.batch_alter_table("forecast_run") as batch:
        batch.add_column(sa.Column("warm_start_kind", sa.String(length=32), nullable=True))
        batch.create_check_constraint(
            op.f("ck_forecast_run_forecast_warm_start_kind"),
            "warm_start_kind IN ({})".format(", ".join(repr(v) for v in WARM_START_KINDS)),
        )


def downgrade() -> None:
    with op.batch_alter_table("forecast_run") as batch:
        batch.drop_constraint(op.f("ck_forecast_run_forecast_warm_start_kind"), type_="check")
        batch.drop_column("warm_start_kind")
