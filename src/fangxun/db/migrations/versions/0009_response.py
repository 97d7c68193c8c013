"""Contingency plans, response levels and action checklists.

Generated with Alembic's autogenerate against fangxun.response.models and checked by hand; column
types are plain SQLAlchemy types so the migration stays frozen when the models change.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: JSON on SQLite, JSONB on PostgreSQL (as fangxun.db.types.json_type).
_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "response_plan",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["unit_id"],
            ["org_unit.id"],
            name=op.f("fk_response_plan_unit_id_org_unit"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_response_plan")),
    )
    op.create_index(op.f("ix_response_plan_unit_id"), "response_plan", ["unit_id"], unique=False)
    op.create_table(
        "response_activation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=True),
        sa.Column("plan_id", sa.Integer(), nullable=True),
        sa.Column(
            "level",
            sa.Enum(
                "IV",
                "III",
                "II",
                "I",
                name="response_level",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column(
            "status",
            sa.Enum(
                "active",
                "ended",
                name="response_activation_status",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_by", sa.String(length=64), nullable=False),
        sa.Column("rule", sa.String(length=100), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("source_ref", sa.String(length=200), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_by", sa.String(length=64), nullable=True),
        sa.Column("end_reason", sa.Text(), nullable=True),
        sa.Column("checklist_levels", _JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["response_plan.id"],
            name=op.f("fk_response_activation_plan_id_response_plan"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"],
            ["org_unit.id"],
            name=op.f("fk_response_activation_unit_id_org_unit"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_response_activation")),
    )
    op.create_index(
        op.f("ix_response_activation_plan_id"), "response_activation", ["plan_id"], unique=False
    )
    op.create_index(
        "ix_response_activation_unit_status",
        "response_activation",
        ["unit_id", "status"],
        unique=False,
    )
    op.create_index(
        "uq_response_activation_active_unit",
        "response_activation",
        ["unit_id"],
        unique=True,
        sqlite_where=sa.text("status = 'active'"),
        postgresql_where=sa.text("status = 'active'"),
    )
    op.create_table(
        "response_plan_action",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column(
            "level",
            sa.Enum(
                "IV",
                "III",
                "II",
                "I",
                name="response_level",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("sort_order", sa.Integer(), nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("requires_confirmation", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["org_unit.id"],
            name=op.f("fk_response_plan_action_department_id_org_unit"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["response_plan.id"],
            name=op.f("fk_response_plan_action_plan_id_response_plan"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_response_plan_action")),
    )
    op.create_index(
        op.f("ix_response_plan_action_department_id"),
        "response_plan_action",
        ["department_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_response_plan_action_plan_id"), "response_plan_action", ["plan_id"], unique=False
    )
    op.create_table(
        "response_level_change",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=True),
        sa.Column("activation_id", sa.Integer(), nullable=True),
        sa.Column(
            "change_type",
            sa.Enum(
                "start",
                "raise",
                "lower",
                "stand_down",
                name="response_change_type",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column(
            "from_level",
            sa.Enum(
                "IV",
                "III",
                "II",
                "I",
                name="response_from_level",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=True,
        ),
        sa.Column(
            "to_level",
            sa.Enum(
                "IV",
                "III",
                "II",
                "I",
                name="response_to_level",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=True,
        ),
        sa.Column(
            "status",
            sa.Enum(
                "proposed",
                "applied",
                "rejected",
                "superseded",
                name="response_change_status",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("rule", sa.String(length=100), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("source_ref", sa.String(length=200), nullable=True),
        sa.Column("decided_by", sa.String(length=64), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["activation_id"],
            ["response_activation.id"],
            name=op.f("fk_response_level_change_activation_id_response_activation"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"],
            ["org_unit.id"],
            name=op.f("fk_response_level_change_unit_id_org_unit"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_response_level_change")),
    )
    op.create_index(
        op.f("ix_response_level_change_activation_id"),
        "response_level_change",
        ["activation_id"],
        unique=False,
    )
    op.create_index(
        "ix_response_level_change_unit_status",
        "response_level_change",
        ["unit_id", "status"],
        unique=False,
    )
    op.create_table(
        "response_task",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dedupe_key", sa.String(length=200), nullable=True),
        sa.Column("activation_id", sa.Integer(), nullable=True),
        sa.Column(
            "level",
            sa.Enum(
                "IV",
                "III",
                "II",
                "I",
                name="response_level",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=True,
        ),
        sa.Column("plan_action_id", sa.Integer(), nullable=True),
        sa.Column("hazard_point_id", sa.Integer(), nullable=True),
        sa.Column("point_plan_id", sa.Integer(), nullable=True),
        sa.Column("measure_index", sa.Integer(), nullable=True),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("sort_order", sa.Integer(), nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("details", _JSON, nullable=False),
        sa.Column("requires_confirmation", sa.Boolean(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "confirmed",
                "done",
                "not_applicable",
                name="response_task_status",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("source_ref", sa.String(length=200), nullable=True),
        sa.Column("confirmed_by", sa.String(length=64), nullable=True),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("done_by", sa.String(length=64), nullable=True),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["activation_id"],
            ["response_activation.id"],
            name=op.f("fk_response_task_activation_id_response_activation"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["hazard_point_id"],
            ["hazard_point.id"],
            name=op.f("fk_response_task_hazard_point_id_hazard_point"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["org_person.id"],
            name=op.f("fk_response_task_person_id_org_person"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["plan_action_id"],
            ["response_plan_action.id"],
            name=op.f("fk_response_task_plan_action_id_response_plan_action"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["point_plan_id"],
            ["hazard_point_plan.id"],
            name=op.f("fk_response_task_point_plan_id_hazard_point_plan"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"],
            ["org_unit.id"],
            name=op.f("fk_response_task_unit_id_org_unit"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_response_task")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_response_task_dedupe_key")),
    )
    op.create_index(
        op.f("ix_response_task_activation_id"), "response_task", ["activation_id"], unique=False
    )
    op.create_index(
        op.f("ix_response_task_hazard_point_id"), "response_task", ["hazard_point_id"], unique=False
    )
    op.create_index(
        op.f("ix_response_task_person_id"), "response_task", ["person_id"], unique=False
    )
    op.create_index(
        "ix_response_task_unit_status", "response_task", ["unit_id", "status"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_response_task_unit_status", table_name="response_task")
    op.drop_index(op.f("ix_response_task_person_id"), table_name="response_task")
    op.drop_index(op.f("ix_response_task_hazard_point_id"), table_name="response_task")
    op.drop_index(op.f("ix_response_task_activation_id"), table_name="response_task")
    op.drop_table("response_task")
    op.drop_index("ix_response_level_change_unit_status", table_name="response_level_change")
    op.drop_index(
        op.f("ix_response_level_change_activation_id"), table_name="response_level_change"
    )
    op.drop_table("response_level_change")
    op.drop_index(op.f("ix_response_plan_action_plan_id"), table_name="response_plan_action")
    op.drop_index(op.f("ix_response_plan_action_department_id"), table_name="response_plan_action")
    op.drop_table("response_plan_action")
    op.drop_index("uq_response_activation_active_unit", table_name="response_activation")
    op.drop_index("ix_response_activation_unit_status", table_name="response_activation")
    op.drop_index(op.f("ix_response_activation_plan_id"), table_name="response_activation")
    op.drop_table("response_activation")
    op.drop_index(op.f("ix_response_plan_unit_id"), table_name="response_plan")
    op.drop_table("response_plan")
