"""District setup: the standard observed properties, and a boundary on each unit.

A fresh install can register stations without the demo, and a unit (district, street office) can
hold its boundary (``org_unit.geometry``, GeoJSON Polygon/MultiPolygon in WGS 84).

The rows are the monitoring defaults (rain per interval — 5-min and 1-h rain are ``rainfall`` with
``interval_s`` 300 or 3600 —, accumulated rain, ponding depth, river level, pumps running, discharge,
sump level, power) with their quality-control limits in SI. The units of measure a datastream may
name (mm, cm, m, m3/s, 1) are fixed in :mod:`fangxun.monitoring.units`, not a table.

A frozen copy, not an import of the service, so later edits to the defaults do not rewrite history.
Idempotent: a code already present (an older database seeded by the demo) is left as it is, and
``monitoring.service.ensure_observed_properties`` (the demo seed) only adds what is missing.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0018"
down_revision: str | Sequence[str] | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PROP = sa.table(
    "mon_observed_property",
    sa.column("id", sa.Integer),
    sa.column("code", sa.String),
    sa.column("name_zh", sa.String),
    sa.column("name_en", sa.String),
    sa.column("definition", sa.String),
    sa.column("si_unit", sa.String),
    sa.column("range_min", sa.Float),
    sa.column("range_max", sa.Float),
    sa.column("max_rate_per_s", sa.Float),
    sa.column("stuck_after_s", sa.Float),
)

_DS = sa.table("mon_datastream", sa.column("observed_property_id", sa.Integer))


def _row(code: str, name_zh: str, name_en: str, si_unit: str, **kw: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "code": code, "name_zh": name_zh, "name_en": name_en, "si_unit": si_unit,
        "definition": None, "range_min": None, "range_max": None, "max_rate_per_s": None,
        "stuck_after_s": None,
    }  # fmt: skip
    row.update(kw)
    return row


#: SI limits: m, m³/s, 1; rates per second.
STANDARD_PROPERTIES: tuple[dict[str, Any], ...] = (
    _row("rainfall", "降雨量", "Rainfall", "m", range_min=0.0, range_max=0.25,
         definition="Rain depth fallen in the reporting interval ending at the time"),
    _row("rainfall_accumulated", "累计降雨量", "Accumulated rainfall", "m", range_min=0.0,
         range_max=100.0,
         definition="A gauge's running rain total (SL 651 PT); it resets when the gauge is reset"),
    _row("ponding_depth", "积水深度", "Ponding depth", "m", range_min=0.0, range_max=5.0,
         max_rate_per_s=0.01),
    _row("river_level", "河道水位", "River level", "m", range_min=-50.0, range_max=9000.0,
         max_rate_per_s=0.005, stuck_after_s=6 * 3600.0,
         definition="Water level above the gauge datum"),
    _row("pumps_running", "运行台数", "Pumps running", "1", range_min=0.0, range_max=50.0),
    _row("discharge", "抽排流量", "Discharge", "m3/s", range_min=0.0, range_max=200.0),
    _row("sump_level", "前池水位", "Sump level", "m", range_min=-30.0, range_max=9000.0,
         max_rate_per_s=0.02, stuck_after_s=12 * 3600.0),
    _row("power", "供电状态", "Power on", "1", range_min=0.0, range_max=1.0),
)  # fmt: skip


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("org_unit") as batch:
        batch.add_column(sa.Column("geometry", _json(), nullable=True))
    conn = op.get_bind()
    have = set(conn.execute(sa.select(_PROP.c.code)).scalars())
    missing = [r for r in STANDARD_PROPERTIES if r["code"] not in have]
    if missing:
        op.bulk_insert(_PROP, missing)


def downgrade() -> None:
    # Remove the standard rows no datastream uses (a used one stays: its data depends on it).
    used = sa.select(_DS.c.observed_property_id).where(_DS.c.observed_property_id.is_not(None))
    op.execute(
        _PROP.delete().where(
            _PROP.c.code.in_([r["code"] for r in STANDARD_PROPERTIES]), _PROP.c.id.not_in(used)
        )
    )
    with op.batch_alter_table("org_unit") as batch:
        batch.drop_column("geometry")
