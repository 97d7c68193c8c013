"""Hardening: indexes and tables that load, fault and security work need.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The ingest-rate metric counts observations received in the last minutes.
    op.create_index("ix_mon_observation_received_at", "mon_observation", ["received_at"])


def downgrade() -> None:
    op.drop_index("ix_mon_observation_received_at", table_name="mon_observation")
