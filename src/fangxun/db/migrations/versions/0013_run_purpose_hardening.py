"""Run purpose hardening: every forecast run and warning has a purpose; briefings and inspectors
have a jurisdiction.

* ``forecast_run.purpose`` (operational | scenario | exercise) and ``drill_id``: only operational
  runs can be the forecast in force. Existing runs of a design storm or an uploaded series were
  what-ifs: they become ``scenario``; nowcasts stay ``operational``.
* ``warning.purpose`` (operational | exercise) and ``drill_id``: a drill's warnings are CAP
  ``Exercise`` and reach only the drill's people.
* ``briefing.unit_id``: the jurisdiction a briefing was gathered for (None: district-wide).
* ``org_user.district_wide``: an inspector who reads and writes every unit's points.
* Datastreams whose cached latest reading is flagged ``future`` (a 2099 reading froze them) get
  their newest reading that is not flagged ``future`` back as the latest.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | Sequence[str] | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RUN_PURPOSES = ("operational", "scenario", "exercise")
WARNING_PURPOSES = ("operational", "exercise")
FUTURE = 8  # fangxun.monitoring.qc.Flag.FUTURE


def _newest(column: str) -> str:
    return (
        f"(SELECT o.{column} FROM mon_observation o WHERE o.datastream_id = mon_datastream.id "
        f"AND (o.flags & {FUTURE}) = 0 ORDER BY o.phenomenon_time DESC LIMIT 1)"
    )


def _in(column: str, values: Sequence[str]) -> str:
    return "{} IN ({})".format(column, ", ".join(repr(v) for v in values))


def upgrade() -> None:
    with op.batch_alter_table("forecast_run") as batch:
        batch.add_column(
            sa.Column("purpose", sa.String(length=32), nullable=False, server_default="operational")
        )
        batch.add_column(sa.Column("drill_id", sa.Integer(), nullable=True))
        batch.create_check_constraint(
            op.f("ck_forecast_run_forecast_run_purpose"), _in("purpose", RUN_PURPOSES)
        )
        batch.create_foreign_key(
            op.f("fk_forecast_run_drill_id_supplies_drill"),
            "supplies_drill",
            ["drill_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch.create_index(op.f("ix_forecast_run_purpose"), ["purpose"])
        batch.create_index(op.f("ix_forecast_run_drill_id"), ["drill_id"])
    # What-ifs made before purposes existed must never become the forecast in force.
    op.execute(
        "UPDATE forecast_run SET purpose = 'scenario' WHERE rain_source IN ('design', 'series')"
    )
    with op.batch_alter_table("warning") as batch:
        batch.add_column(
            sa.Column("purpose", sa.String(length=32), nullable=False, server_default="operational")
        )
        batch.add_column(sa.Column("drill_id", sa.Integer(), nullable=True))
        batch.create_check_constraint(
            op.f("ck_warning_warning_purpose"), _in("purpose", WARNING_PURPOSES)
        )
    with op.batch_alter_table("briefing") as batch:
        batch.add_column(sa.Column("unit_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_briefing_unit_id_org_unit"),
            "org_unit",
            ["unit_id"],
            ["id"],
            ondelete="RESTRICT",
        )
        batch.create_index(op.f("ix_briefing_unit_id"), ["unit_id"])
    with op.batch_alter_table("org_user") as batch:
        batch.add_column(
            sa.Column("district_wide", sa.Boolean(), nullable=False, server_default=sa.false())
        )

    op.execute(
        f"UPDATE mon_datastream SET last_time = {_newest('phenomenon_time')}, "
        f"last_value = {_newest('value')}, last_flags = {_newest('flags')}, "
        f"same_since = {_newest('phenomenon_time')} "
        f"WHERE last_flags IS NOT NULL AND (last_flags & {FUTURE}) != 0"
    )


def downgrade() -> None:
    with op.batch_alter_table("org_user") as batch:
        batch.drop_column("district_wide")
    with op.batch_alter_table("briefing") as batch:
        batch.drop_index(op.f("ix_briefing_unit_id"))
        batch.drop_constraint(op.f("fk_briefing_unit_id_org_unit"), type_="foreignkey")
        batch.drop_column("unit_id")
    with op.batch_alter_table("warning") as batch:
        batch.drop_constraint(op.f("ck_warning_warning_purpose"), type_="check")
        batch.drop_column("drill_id")
        batch.drop_column("purpose")
    with op.batch_alter_table("forecast_run") as batch:
        batch.drop_index(op.f("ix_forecast_run_drill_id"))
        batch.drop_index(op.f("ix_forecast_run_purpose"))
        batch.drop_constraint(op.f("fk_forecast_run_drill_id_supplies_drill"), type_="foreignkey")
        batch.drop_constraint(op.f("ck_forecast_run_forecast_run_purpose"), type_="check")
        batch.drop_column("drill_id")
        batch.drop_column("purpose")
