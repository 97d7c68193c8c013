"""Field work: client keys of offline submissions, river reaches, patrol plans, patrols with
their thinned tracks and findings; a point plan may ask for photo evidence before a rectification
is closed; photos and documents of drills; SMS (短信) as a notification channel (issue 22).

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0021"
down_revision: str | Sequence[str] | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


OLD_CHANNELS = ("webhook", "wecom", "dingtalk", "email")
NEW_CHANNELS = (*OLD_CHANNELS, "sms")


def _channels(values: Sequence[str]) -> None:
    check = f"channel IN ({', '.join(repr(v) for v in values)})"
    for table in ("notify_contact", "notify_notification"):
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(op.f(f"ck_{table}_notify_channel"), type_="check")
            batch.create_check_constraint(op.f(f"ck_{table}_notify_channel"), check)


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _ts(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "field_client_submission",
        sa.Column("key", sa.String(36), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column(
            "outcome",
            sa.Enum(
                "applied",
                "conflict",
                name="field_submission_outcome",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("result_url", sa.String(300), nullable=True),
        _ts("received_at"),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["org_user.id"],
            name=op.f("fk_field_client_submission_user_id_org_user"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_field_client_submission")),
    )
    op.create_index(
        op.f("ix_field_client_submission_user_id"), "field_client_submission", ["user_id"]
    )
    op.create_table(
        "field_river_reach",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("river", sa.String(100), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("line", _json(), nullable=False),
        sa.Column("length_m", sa.Float(), nullable=False),
        _ts("created_at"),
        _ts("updated_at"),
        sa.ForeignKeyConstraint(
            ["unit_id"],
            ["org_unit.id"],
            name=op.f("fk_field_river_reach_unit_id_org_unit"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_field_river_reach")),
        sa.UniqueConstraint("code", name=op.f("uq_field_river_reach_code")),
    )
    op.create_index(op.f("ix_field_river_reach_unit_id"), "field_river_reach", ["unit_id"])
    op.create_table(
        "field_patrol_plan",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("reach_id", sa.Integer(), nullable=True),
        sa.Column("route", _json(), nullable=True),
        sa.Column("assignee_person_id", sa.Integer(), nullable=True),
        sa.Column("interval_s", sa.Integer(), nullable=False),
        _ts("starts_at"),
        sa.Column("active", sa.Boolean(), nullable=False),
        _ts("created_at"),
        _ts("updated_at"),
        sa.ForeignKeyConstraint(
            ["unit_id"],
            ["org_unit.id"],
            name=op.f("fk_field_patrol_plan_unit_id_org_unit"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["reach_id"],
            ["field_river_reach.id"],
            name=op.f("fk_field_patrol_plan_reach_id_field_river_reach"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["assignee_person_id"],
            ["org_person.id"],
            name=op.f("fk_field_patrol_plan_assignee_person_id_org_person"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_field_patrol_plan")),
    )
    for column in ("unit_id", "reach_id", "assignee_person_id"):
        op.create_index(op.f(f"ix_field_patrol_plan_{column}"), "field_patrol_plan", [column])
    op.create_table(
        "field_patrol",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=True),
        _ts("started_at"),
        _ts("ended_at"),
        sa.Column("track", _json(), nullable=False),
        sa.Column("raw_points", sa.Integer(), nullable=False),
        sa.Column("length_m", sa.Float(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("recorded_by", sa.String(64), nullable=False),
        _ts("created_at"),
        sa.ForeignKeyConstraint(
            ["unit_id"],
            ["org_unit.id"],
            name=op.f("fk_field_patrol_unit_id_org_unit"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["field_patrol_plan.id"],
            name=op.f("fk_field_patrol_plan_id_field_patrol_plan"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_field_patrol")),
    )
    op.create_index(op.f("ix_field_patrol_unit_id"), "field_patrol", ["unit_id"])
    op.create_index("ix_field_patrol_plan_ended", "field_patrol", ["plan_id", "ended_at"])
    op.create_table(
        "field_patrol_finding",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patrol_id", sa.Integer(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("hazard_point_id", sa.Integer(), nullable=True),
        sa.Column("photo_name", sa.String(100), nullable=True),
        sa.Column("photo_type", sa.String(50), nullable=True),
        sa.ForeignKeyConstraint(
            ["patrol_id"],
            ["field_patrol.id"],
            name=op.f("fk_field_patrol_finding_patrol_id_field_patrol"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["hazard_point_id"],
            ["hazard_point.id"],
            name=op.f("fk_field_patrol_finding_hazard_point_id_hazard_point"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_field_patrol_finding")),
    )
    op.create_index(
        op.f("ix_field_patrol_finding_patrol_id"), "field_patrol_finding", ["patrol_id"]
    )

    with op.batch_alter_table("hazard_point_plan") as batch:
        batch.add_column(
            sa.Column(
                "close_needs_evidence", sa.Boolean(), server_default=sa.false(), nullable=False
            )
        )

    _channels(NEW_CHANNELS)
    op.create_table(
        "supplies_drill_attachment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("drill_id", sa.Integer(), nullable=False),
        sa.Column("filename", sa.String(200), nullable=False),
        sa.Column("content_type", sa.String(50), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("uploaded_by", sa.String(64), nullable=False),
        _ts("created_at"),
        sa.ForeignKeyConstraint(
            ["drill_id"],
            ["supplies_drill.id"],
            name=op.f("fk_supplies_drill_attachment_drill_id_supplies_drill"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_supplies_drill_attachment")),
    )
    op.create_index(
        op.f("ix_supplies_drill_attachment_drill_id"), "supplies_drill_attachment", ["drill_id"]
    )


def downgrade() -> None:
    op.drop_table("supplies_drill_attachment")
    op.execute("DELETE FROM notify_contact WHERE channel = 'sms'")
    op.execute("DELETE FROM notify_notification WHERE channel = 'sms'")
    _channels(OLD_CHANNELS)
    with op.batch_alter_table("hazard_point_plan") as batch:
        batch.drop_column("close_needs_evidence")
    op.drop_table("field_patrol_finding")
    op.drop_table("field_patrol")
    op.drop_table("field_patrol_plan")
    op.drop_table("field_river_reach")
    op.drop_table("field_client_submission")
