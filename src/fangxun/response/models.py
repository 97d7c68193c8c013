"""Emergency response models: contingency plans (预案) with actions per level and department,
response activations (levels IV → I) with their history of changes and proposals, and the tasks of
the action checklist (one per plan action, or per measure of a point plan 一点一策).

A level belongs to a district unit (its scope); a task belongs to the department or unit that
carries it out (its jurisdiction). Times are UTC in the database.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fangxun.db.base import Base
from fangxun.db.types import json_type, string_enum, utcnow
from fangxun.org.models import Person, TimestampMixin, Unit


class ResponseLevel(enum.StrEnum):
    """Emergency response level, 四级 (IV, lowest) to 一级 (I, highest)."""

    IV = "IV"
    III = "III"
    II = "II"
    I = "I"  # noqa: E741 — the level's official name

    @property
    def rank(self) -> int:
        """1 for IV … 4 for I: a higher rank is a stronger response."""
        return LEVEL_ORDER.index(self) + 1


#: Levels from the lowest to the highest.
LEVEL_ORDER: tuple[ResponseLevel, ...] = (
    ResponseLevel.IV,
    ResponseLevel.III,
    ResponseLevel.II,
    ResponseLevel.I,
)


class ActivationStatus(enum.StrEnum):
    """An activation runs from its start until the stand-down."""

    active = "active"
    ended = "ended"


class ChangeType(enum.StrEnum):
    """What a level change does."""

    start = "start"  # no level → a level
    raise_ = "raise"  # a higher level
    lower_ = "lower"  # a lower level (by decision only); `lower` would shadow str.lower
    stand_down = "stand_down"  # end the response (by decision only)


class ChangeStatus(enum.StrEnum):
    """A rule's proposal waits for a person; a decision or a rule in "start" mode is applied."""

    proposed = "proposed"
    applied = "applied"
    rejected = "rejected"
    superseded = "superseded"  # a stronger proposal, or a decision, overtook it


class TaskStatus(enum.StrEnum):
    """Where a checklist task stands."""

    pending = "pending"
    confirmed = "confirmed"  # the department has it in hand (已确认)
    done = "done"
    not_applicable = "not_applicable"


class ContingencyPlan(TimestampMixin, Base):
    """A contingency plan (预案) of a district: actions per level per department.

    At most one plan per unit is active; the rules and decisions use the active one.
    """

    __tablename__ = "response_plan"

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id", ondelete="RESTRICT"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    is_active: Mapped[bool] = mapped_column(Boolean, default=False)

    unit: Mapped[Unit] = relationship()
    actions: Mapped[list[PlanAction]] = relationship(
        back_populates="plan",
        cascade="all, delete-orphan",
        order_by="(PlanAction.sort_order, PlanAction.id)",
    )


class PlanAction(Base):
    """One action of a plan: at ``level``, ``department`` does ``action`` (in ``sort_order``)."""

    __tablename__ = "response_plan_action"

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(
        ForeignKey("response_plan.id", ondelete="CASCADE"), index=True
    )
    level: Mapped[ResponseLevel] = mapped_column(string_enum(ResponseLevel, "response_level"))
    department_id: Mapped[int] = mapped_column(
        ForeignKey("org_unit.id", ondelete="RESTRICT"), index=True
    )
    #: Order of the action within its level (smaller first).
    sort_order: Mapped[int] = mapped_column(Integer, default=0)
    action: Mapped[str] = mapped_column(Text)
    requires_confirmation: Mapped[bool] = mapped_column(Boolean, default=True)

    plan: Mapped[ContingencyPlan] = relationship(back_populates="actions")
    department: Mapped[Unit] = relationship()

    @property
    def department_name(self) -> str:
        """The department's Chinese name (for the wire shape)."""
        return self.department.name_zh


class ResponseActivation(TimestampMixin, Base):
    """One emergency response from its start to its stand-down, at its current ``level``.

    ``checklist_levels`` lists the levels whose plan checklist has been created in this
    activation, so raising IV → II creates III and II once, and going back up creates nothing.
    """

    __tablename__ = "response_activation"
    __table_args__ = (
        Index("ix_response_activation_unit_status", "unit_id", "status"),
        # One running response per district, even with two warnings racing to start one.
        Index(
            "uq_response_activation_active_unit",
            "unit_id",
            unique=True,
            sqlite_where=text("status = 'active'"),
            postgresql_where=text("status = 'active'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_unit.id", ondelete="RESTRICT"))
    plan_id: Mapped[int | None] = mapped_column(
        ForeignKey("response_plan.id", ondelete="SET NULL"), index=True
    )
    level: Mapped[ResponseLevel] = mapped_column(string_enum(ResponseLevel, "response_level"))
    status: Mapped[ActivationStatus] = mapped_column(
        string_enum(ActivationStatus, "response_activation_status"),
        default=ActivationStatus.active,
    )
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: Username of the person who started it, or ``rule`` when a rule did.
    started_by: Mapped[str] = mapped_column(String(64))
    #: The rule that started it (e.g. ``rainstorm:yellow→IV``), if any.
    rule: Mapped[str | None] = mapped_column(String(100))
    reason: Mapped[str | None] = mapped_column(Text)
    source_ref: Mapped[str | None] = mapped_column(String(200))
    ended_at: Mapped[datetime | None] = mapped_column()
    ended_by: Mapped[str | None] = mapped_column(String(64))
    end_reason: Mapped[str | None] = mapped_column(Text)
    checklist_levels: Mapped[list[Any]] = mapped_column(json_type(), default=list)

    unit: Mapped[Unit | None] = relationship()
    plan: Mapped[ContingencyPlan | None] = relationship()


class LevelChange(Base):
    """A change of level, applied or proposed: who or which rule, when, why, from what to what."""

    __tablename__ = "response_level_change"
    __table_args__ = (Index("ix_response_level_change_unit_status", "unit_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_unit.id", ondelete="RESTRICT"))
    activation_id: Mapped[int | None] = mapped_column(
        ForeignKey("response_activation.id", ondelete="CASCADE"), index=True
    )
    change_type: Mapped[ChangeType] = mapped_column(string_enum(ChangeType, "response_change_type"))
    from_level: Mapped[ResponseLevel | None] = mapped_column(
        string_enum(ResponseLevel, "response_from_level")
    )
    to_level: Mapped[ResponseLevel | None] = mapped_column(
        string_enum(ResponseLevel, "response_to_level")
    )
    status: Mapped[ChangeStatus] = mapped_column(
        string_enum(ChangeStatus, "response_change_status")
    )
    at: Mapped[datetime] = mapped_column(default=utcnow)
    #: Username of the person, or ``rule``.
    actor: Mapped[str] = mapped_column(String(64))
    rule: Mapped[str | None] = mapped_column(String(100))
    reason: Mapped[str | None] = mapped_column(Text)
    source_ref: Mapped[str | None] = mapped_column(String(200))
    #: Who confirmed or rejected a proposal, and when.
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[datetime | None] = mapped_column()

    activation: Mapped[ResponseActivation | None] = relationship()


class ResponseTask(TimestampMixin, Base):
    """One task of the action checklist: from a plan action (once per activation) or from a
    measure of a point plan (一点一策, once per activation and measure).

    ``dedupe_key`` makes creation idempotent: ``act:<activation>:action:<plan action>`` or
    ``act:<activation>:point-plan:<plan>:<measure index>``.
    """

    __tablename__ = "response_task"
    __table_args__ = (
        UniqueConstraint("dedupe_key"),
        Index("ix_response_task_unit_status", "unit_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    dedupe_key: Mapped[str | None] = mapped_column(String(200))
    activation_id: Mapped[int | None] = mapped_column(
        ForeignKey("response_activation.id", ondelete="CASCADE"), index=True
    )
    level: Mapped[ResponseLevel | None] = mapped_column(
        string_enum(ResponseLevel, "response_level")
    )
    plan_action_id: Mapped[int | None] = mapped_column(
        ForeignKey("response_plan_action.id", ondelete="SET NULL")
    )
    hazard_point_id: Mapped[int | None] = mapped_column(
        ForeignKey("hazard_point.id", ondelete="CASCADE"), index=True
    )
    point_plan_id: Mapped[int | None] = mapped_column(
        ForeignKey("hazard_point_plan.id", ondelete="SET NULL")
    )
    measure_index: Mapped[int | None] = mapped_column(Integer)
    #: The department or unit that carries it out (its users see and confirm it).
    unit_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id", ondelete="RESTRICT"))
    person_id: Mapped[int | None] = mapped_column(
        ForeignKey("org_person.id", ondelete="SET NULL"), index=True
    )
    sort_order: Mapped[int] = mapped_column(Integer, default=0)
    action: Mapped[str] = mapped_column(Text)
    #: Team, equipment and supplies of a point-plan measure.
    details: Mapped[dict[str, Any]] = mapped_column(json_type(), default=dict)
    requires_confirmation: Mapped[bool] = mapped_column(Boolean, default=True)
    status: Mapped[TaskStatus] = mapped_column(
        string_enum(TaskStatus, "response_task_status"), default=TaskStatus.pending
    )
    source_ref: Mapped[str | None] = mapped_column(String(200))
    confirmed_by: Mapped[str | None] = mapped_column(String(64))
    confirmed_at: Mapped[datetime | None] = mapped_column()
    done_by: Mapped[str | None] = mapped_column(String(64))
    done_at: Mapped[datetime | None] = mapped_column()
    note: Mapped[str | None] = mapped_column(Text)

    unit: Mapped[Unit] = relationship()
    person: Mapped[Person | None] = relationship()

    @property
    def unit_name(self) -> str:
        """The Chinese name of the unit that carries the task out."""
        return self.unit.name_zh

    @property
    def person_name(self) -> str | None:
        """The name of the person responsible, if any."""
        return self.person.name if self.person is not None else None
