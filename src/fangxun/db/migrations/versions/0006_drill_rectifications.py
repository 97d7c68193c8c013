"""Drill findings about a hazard point open the hazard ledger's rectification.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("supplies_drill_finding") as batch:
        batch.add_column(sa.Column("hazard_point_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("rectification_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_supplies_drill_finding_hazard_point_id_hazard_point"),
            "hazard_point",
            ["hazard_point_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch.create_foreign_key(
            op.f("fk_supplies_drill_finding_rectification_id_hazard_rectification"),
            "hazard_rectification",
            ["rectification_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    with op.batch_alter_table("supplies_drill_finding") as batch:
        batch.drop_constraint(
            op.f("fk_supplies_drill_finding_rectification_id_hazard_rectification"),
            type_="foreignkey",
        )
        batch.drop_constraint(
            op.f("fk_supplies_drill_finding_hazard_point_id_hazard_point"), type_="foreignkey"
        )
        batch.drop_column("rectification_id")
        batch.drop_column("hazard_point_id")
