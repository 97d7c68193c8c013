"""Command operations: duty roster, incidents, supplies and teams, consultation briefings.

Generated with Alembic's autogenerate against the models and checked by hand; column types are
plain SQLAlchemy types so the migration stays frozen when the models change. Self-contained: it
creates only the tables of fangxun.duty, fangxun.incidents, fangxun.supplies and
fangxun.briefings (``incident.hazard_point_id`` has no foreign key, so it does not depend on the
hazard ledger's tables).

Revision ID: 0004_operations
Revises: 0003
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004_operations"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: JSON on SQLite, JSONB on PostgreSQL (as fangxun.db.types.json_type).
_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "briefing",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("as_of", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("content", _JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_briefing")),
    )
    op.create_table(
        "incident_public_submission",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_ip", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_public_submission")),
    )
    op.create_index(
        "ix_incident_public_submission_ip_at",
        "incident_public_submission",
        ["client_ip", "at"],
        unique=False,
    )
    op.create_table(
        "supplies_item",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name_zh", sa.String(length=200), nullable=False),
        sa.Column("name_en", sa.String(length=200), nullable=True),
        sa.Column("unit_of_measure", sa.String(length=16), nullable=False),
        sa.Column("category", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_supplies_item")),
        sa.UniqueConstraint("code", name=op.f("uq_supplies_item_code")),
    )
    op.create_table(
        "duty_rotation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("shift_hours", sa.Integer(), nullable=False),
        sa.Column("first_shift_hour", sa.Integer(), nullable=False),
        sa.Column("members_per_shift", sa.Integer(), nullable=False),
        sa.Column("leader_ids", _JSON, nullable=False),
        sa.Column("member_ids", _JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["unit_id"],
            ["org_unit.id"],
            name=op.f("fk_duty_rotation_unit_id_org_unit"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_duty_rotation")),
    )
    op.create_index(op.f("ix_duty_rotation_unit_id"), "duty_rotation", ["unit_id"], unique=False)
    op.create_table(
        "duty_shift",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("handover_note", sa.Text(), nullable=True),
        sa.Column("handed_over_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("handed_over_by", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["unit_id"],
            ["org_unit.id"],
            name=op.f("fk_duty_shift_unit_id_org_unit"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_duty_shift")),
    )
    op.create_index(
        "ix_duty_shift_unit_starts", "duty_shift", ["unit_id", "starts_at"], unique=False
    )
    op.create_table(
        "supplies_drill",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("held_on", sa.Date(), nullable=False),
        sa.Column("scenario", sa.Text(), nullable=False),
        sa.Column("team_ids", _JSON, nullable=False),
        sa.Column("participants", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["unit_id"],
            ["org_unit.id"],
            name=op.f("fk_supplies_drill_unit_id_org_unit"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_supplies_drill")),
    )
    op.create_index(op.f("ix_supplies_drill_unit_id"), "supplies_drill", ["unit_id"], unique=False)
    op.create_table(
        "supplies_warehouse",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name_zh", sa.String(length=200), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("address", sa.String(length=300), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["unit_id"],
            ["org_unit.id"],
            name=op.f("fk_supplies_warehouse_unit_id_org_unit"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_supplies_warehouse")),
        sa.UniqueConstraint("code", name=op.f("uq_supplies_warehouse_code")),
    )
    op.create_index(
        op.f("ix_supplies_warehouse_unit_id"), "supplies_warehouse", ["unit_id"], unique=False
    )
    op.create_table(
        "briefing_task",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("briefing_id", sa.Integer(), nullable=False),
        sa.Column("decision", sa.Text(), nullable=False),
        sa.Column("owner_person_id", sa.Integer(), nullable=False),
        sa.Column("deadline", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "open",
                "done",
                "dropped",
                name="briefing_task_status",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["briefing_id"],
            ["briefing.id"],
            name=op.f("fk_briefing_task_briefing_id_briefing"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["owner_person_id"],
            ["org_person.id"],
            name=op.f("fk_briefing_task_owner_person_id_org_person"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_briefing_task")),
    )
    op.create_index(
        op.f("ix_briefing_task_briefing_id"), "briefing_task", ["briefing_id"], unique=False
    )
    op.create_table(
        "duty_assignment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("shift_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column(
            "role",
            sa.Enum(
                "leader",
                "member",
                name="duty_role",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("checked_in_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["org_person.id"],
            name=op.f("fk_duty_assignment_person_id_org_person"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["shift_id"],
            ["duty_shift.id"],
            name=op.f("fk_duty_assignment_shift_id_duty_shift"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_duty_assignment")),
        sa.UniqueConstraint(
            "shift_id", "person_id", name=op.f("uq_duty_assignment_shift_id_person_id")
        ),
    )
    op.create_index(
        op.f("ix_duty_assignment_person_id"), "duty_assignment", ["person_id"], unique=False
    )
    op.create_index(
        op.f("ix_duty_assignment_shift_id"), "duty_assignment", ["shift_id"], unique=False
    )
    op.create_table(
        "supplies_drill_finding",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("drill_id", sa.Integer(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("needs_rectification", sa.Boolean(), nullable=False),
        sa.Column("owner_person_id", sa.Integer(), nullable=True),
        sa.Column("deadline", sa.Date(), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["drill_id"],
            ["supplies_drill.id"],
            name=op.f("fk_supplies_drill_finding_drill_id_supplies_drill"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["owner_person_id"],
            ["org_person.id"],
            name=op.f("fk_supplies_drill_finding_owner_person_id_org_person"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_supplies_drill_finding")),
    )
    op.create_index(
        op.f("ix_supplies_drill_finding_drill_id"),
        "supplies_drill_finding",
        ["drill_id"],
        unique=False,
    )
    op.create_table(
        "supplies_quota",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("warehouse_id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.CheckConstraint("quantity >= 0", name=op.f("ck_supplies_quota_quota_not_negative")),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["supplies_item.id"],
            name=op.f("fk_supplies_quota_item_id_supplies_item"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["warehouse_id"],
            ["supplies_warehouse.id"],
            name=op.f("fk_supplies_quota_warehouse_id_supplies_warehouse"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_supplies_quota")),
        sa.UniqueConstraint(
            "warehouse_id", "item_id", name=op.f("uq_supplies_quota_warehouse_id_item_id")
        ),
    )
    op.create_index(op.f("ix_supplies_quota_item_id"), "supplies_quota", ["item_id"], unique=False)
    op.create_index(
        op.f("ix_supplies_quota_warehouse_id"), "supplies_quota", ["warehouse_id"], unique=False
    )
    op.create_table(
        "supplies_stock",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("warehouse_id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("expires_on", sa.Date(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("quantity >= 0", name=op.f("ck_supplies_stock_quantity_not_negative")),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["supplies_item.id"],
            name=op.f("fk_supplies_stock_item_id_supplies_item"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["warehouse_id"],
            ["supplies_warehouse.id"],
            name=op.f("fk_supplies_stock_warehouse_id_supplies_warehouse"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_supplies_stock")),
        sa.UniqueConstraint(
            "warehouse_id", "item_id", name=op.f("uq_supplies_stock_warehouse_id_item_id")
        ),
    )
    op.create_index(op.f("ix_supplies_stock_item_id"), "supplies_stock", ["item_id"], unique=False)
    op.create_index(
        op.f("ix_supplies_stock_warehouse_id"), "supplies_stock", ["warehouse_id"], unique=False
    )
    op.create_table(
        "supplies_stocktake",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("warehouse_id", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "counting",
                "approved",
                "cancelled",
                name="supplies_stocktake_status",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_by", sa.String(length=64), nullable=False),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("approved_by", sa.String(length=64), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["warehouse_id"],
            ["supplies_warehouse.id"],
            name=op.f("fk_supplies_stocktake_warehouse_id_supplies_warehouse"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_supplies_stocktake")),
    )
    op.create_index(
        op.f("ix_supplies_stocktake_warehouse_id"),
        "supplies_stocktake",
        ["warehouse_id"],
        unique=False,
    )
    op.create_table(
        "supplies_team",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("specialty", sa.String(length=100), nullable=True),
        sa.Column(
            "readiness",
            sa.Enum(
                "standby",
                "deployed",
                "resting",
                "unavailable",
                name="supplies_team_readiness",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("equipment", _JSON, nullable=False),
        sa.Column("leader_person_id", sa.Integer(), nullable=True),
        sa.Column("phone", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["leader_person_id"],
            ["org_person.id"],
            name=op.f("fk_supplies_team_leader_person_id_org_person"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"],
            ["org_unit.id"],
            name=op.f("fk_supplies_team_unit_id_org_unit"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_supplies_team")),
    )
    op.create_index(op.f("ix_supplies_team_unit_id"), "supplies_team", ["unit_id"], unique=False)
    op.create_table(
        "duty_swap",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("assignment_id", sa.Integer(), nullable=False),
        sa.Column("replacement_person_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "approved",
                "rejected",
                name="duty_swap_status",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("requested_by", sa.String(length=64), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.String(length=64), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["assignment_id"],
            ["duty_assignment.id"],
            name=op.f("fk_duty_swap_assignment_id_duty_assignment"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["replacement_person_id"],
            ["org_person.id"],
            name=op.f("fk_duty_swap_replacement_person_id_org_person"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_duty_swap")),
    )
    op.create_index(
        op.f("ix_duty_swap_assignment_id"), "duty_swap", ["assignment_id"], unique=False
    )
    op.create_table(
        "incident",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "ponding",
                "underpass_flooding",
                "building_flooding",
                "embankment",
                "landslide",
                "trapped_people",
                "vehicle_trapped",
                "power",
                "other",
                name="incident_kind",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column(
            "severity",
            sa.Enum(
                "minor",
                "moderate",
                "major",
                "critical",
                name="incident_severity",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column(
            "status",
            sa.Enum(
                "reported",
                "dispatched",
                "on_site",
                "controlled",
                "closed",
                name="incident_status",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("location_text", sa.String(length=300), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("hazard_point_id", sa.Integer(), nullable=True),
        sa.Column(
            "source",
            sa.Enum(
                "user",
                "public",
                name="incident_source",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("reporter_user_id", sa.Integer(), nullable=True),
        sa.Column("reporter_name", sa.String(length=100), nullable=True),
        sa.Column("reporter_phone", sa.String(length=32), nullable=True),
        sa.Column("team_id", sa.Integer(), nullable=True),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("dispatched_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("on_site_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("controlled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["team_id"],
            ["supplies_team.id"],
            name=op.f("fk_incident_team_id_supplies_team"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"],
            ["org_unit.id"],
            name=op.f("fk_incident_unit_id_org_unit"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident")),
    )
    op.create_index(
        op.f("ix_incident_hazard_point_id"), "incident", ["hazard_point_id"], unique=False
    )
    op.create_index(
        "ix_incident_status_reported", "incident", ["status", "reported_at"], unique=False
    )
    op.create_index(op.f("ix_incident_team_id"), "incident", ["team_id"], unique=False)
    op.create_index(op.f("ix_incident_unit_id"), "incident", ["unit_id"], unique=False)
    op.create_table(
        "supplies_stocktake_line",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("stocktake_id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("book_quantity", sa.Integer(), nullable=False),
        sa.Column("counted_quantity", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["supplies_item.id"],
            name=op.f("fk_supplies_stocktake_line_item_id_supplies_item"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["stocktake_id"],
            ["supplies_stocktake.id"],
            name=op.f("fk_supplies_stocktake_line_stocktake_id_supplies_stocktake"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_supplies_stocktake_line")),
        sa.UniqueConstraint(
            "stocktake_id", "item_id", name=op.f("uq_supplies_stocktake_line_stocktake_id_item_id")
        ),
    )
    op.create_index(
        op.f("ix_supplies_stocktake_line_stocktake_id"),
        "supplies_stocktake_line",
        ["stocktake_id"],
        unique=False,
    )
    op.create_table(
        "supplies_team_member",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("skills", _JSON, nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["org_person.id"],
            name=op.f("fk_supplies_team_member_person_id_org_person"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["team_id"],
            ["supplies_team.id"],
            name=op.f("fk_supplies_team_member_team_id_supplies_team"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_supplies_team_member")),
        sa.UniqueConstraint(
            "team_id", "person_id", name=op.f("uq_supplies_team_member_team_id_person_id")
        ),
    )
    op.create_index(
        op.f("ix_supplies_team_member_team_id"), "supplies_team_member", ["team_id"], unique=False
    )
    op.create_table(
        "incident_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_username", sa.String(length=64), nullable=False),
        sa.Column("from_status", sa.String(length=32), nullable=True),
        sa.Column("to_status", sa.String(length=32), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("data", _JSON, nullable=True),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incident.id"],
            name=op.f("fk_incident_event_incident_id_incident"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_event")),
    )
    op.create_index(
        op.f("ix_incident_event_incident_id"), "incident_event", ["incident_id"], unique=False
    )
    op.create_table(
        "incident_photo",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("content_type", sa.String(length=64), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("stored_name", sa.String(length=200), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incident.id"],
            name=op.f("fk_incident_photo_incident_id_incident"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_photo")),
    )
    op.create_index(
        op.f("ix_incident_photo_incident_id"), "incident_photo", ["incident_id"], unique=False
    )
    op.create_table(
        "supplies_movement",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("warehouse_id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "receive",
                "issue",
                "return",
                "adjust",
                name="supplies_movement_kind",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("delta", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=True),
        sa.Column("stocktake_id", sa.Integer(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_username", sa.String(length=64), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incident.id"],
            name=op.f("fk_supplies_movement_incident_id_incident"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["supplies_item.id"],
            name=op.f("fk_supplies_movement_item_id_supplies_item"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["stocktake_id"],
            ["supplies_stocktake.id"],
            name=op.f("fk_supplies_movement_stocktake_id_supplies_stocktake"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["warehouse_id"],
            ["supplies_warehouse.id"],
            name=op.f("fk_supplies_movement_warehouse_id_supplies_warehouse"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_supplies_movement")),
    )
    op.create_index(
        op.f("ix_supplies_movement_incident_id"), "supplies_movement", ["incident_id"], unique=False
    )
    op.create_index(
        op.f("ix_supplies_movement_item_id"), "supplies_movement", ["item_id"], unique=False
    )
    op.create_index(
        op.f("ix_supplies_movement_warehouse_id"),
        "supplies_movement",
        ["warehouse_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_supplies_movement_warehouse_id"), table_name="supplies_movement")
    op.drop_index(op.f("ix_supplies_movement_item_id"), table_name="supplies_movement")
    op.drop_index(op.f("ix_supplies_movement_incident_id"), table_name="supplies_movement")
    op.drop_table("supplies_movement")
    op.drop_index(op.f("ix_incident_photo_incident_id"), table_name="incident_photo")
    op.drop_table("incident_photo")
    op.drop_index(op.f("ix_incident_event_incident_id"), table_name="incident_event")
    op.drop_table("incident_event")
    op.drop_index(op.f("ix_supplies_team_member_team_id"), table_name="supplies_team_member")
    op.drop_table("supplies_team_member")
    op.drop_index(
        op.f("ix_supplies_stocktake_line_stocktake_id"), table_name="supplies_stocktake_line"
    )
    op.drop_table("supplies_stocktake_line")
    op.drop_index(op.f("ix_incident_unit_id"), table_name="incident")
    op.drop_index(op.f("ix_incident_team_id"), table_name="incident")
    op.drop_index("ix_incident_status_reported", table_name="incident")
    op.drop_index(op.f("ix_incident_hazard_point_id"), table_name="incident")
    op.drop_table("incident")
    op.drop_index(op.f("ix_duty_swap_assignment_id"), table_name="duty_swap")
    op.drop_table("duty_swap")
    op.drop_index(op.f("ix_supplies_team_unit_id"), table_name="supplies_team")
    op.drop_table("supplies_team")
    op.drop_index(op.f("ix_supplies_stocktake_warehouse_id"), table_name="supplies_stocktake")
    op.drop_table("supplies_stocktake")
    op.drop_index(op.f("ix_supplies_stock_warehouse_id"), table_name="supplies_stock")
    op.drop_index(op.f("ix_supplies_stock_item_id"), table_name="supplies_stock")
    op.drop_table("supplies_stock")
    op.drop_index(op.f("ix_supplies_quota_warehouse_id"), table_name="supplies_quota")
    op.drop_index(op.f("ix_supplies_quota_item_id"), table_name="supplies_quota")
    op.drop_table("supplies_quota")
    op.drop_index(op.f("ix_supplies_drill_finding_drill_id"), table_name="supplies_drill_finding")
    op.drop_table("supplies_drill_finding")
    op.drop_index(op.f("ix_duty_assignment_shift_id"), table_name="duty_assignment")
    op.drop_index(op.f("ix_duty_assignment_person_id"), table_name="duty_assignment")
    op.drop_table("duty_assignment")
    op.drop_index(op.f("ix_briefing_task_briefing_id"), table_name="briefing_task")
    op.drop_table("briefing_task")
    op.drop_index(op.f("ix_supplies_warehouse_unit_id"), table_name="supplies_warehouse")
    op.drop_table("supplies_warehouse")
    op.drop_index(op.f("ix_supplies_drill_unit_id"), table_name="supplies_drill")
    op.drop_table("supplies_drill")
    op.drop_index("ix_duty_shift_unit_starts", table_name="duty_shift")
    op.drop_table("duty_shift")
    op.drop_index(op.f("ix_duty_rotation_unit_id"), table_name="duty_rotation")
    op.drop_table("duty_rotation")
    op.drop_table("supplies_item")
    op.drop_index("ix_incident_public_submission_ip_at", table_name="incident_public_submission")
    op.drop_table("incident_public_submission")
    op.drop_table("briefing")
