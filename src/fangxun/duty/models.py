"""Duty roster models: shifts per unit, who is on them (leader and members), check-ins and
handover notes, swap requests, and rotation templates that fill a month.

A shift belongs to a unit (its jurisdiction). The leader on duty (带班领导) is the assignment whose
``role`` is ``leader``; a shift without one is a gap. Times are UTC in the database.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fangxun.db.base import Base
from fangxun.db.types import json_type, string_enum, utcnow
from fangxun.org.models import Person, TimestampMixin, Unit


class DutyRole(enum.StrEnum):
    """Place of a person on a shift."""

    leader = "leader"  # 带班领导
    member = "member"  # 值班人员


class SwapStatus(enum.StrEnum):
    """A swap request is pending until approved or rejected."""

    pending = "pending"
    approved = "approved"
    rejected = "rejected"


class DutyShift(TimestampMixin, Base):
    """One shift of one unit, ``starts_at`` ≤ t < ``ends_at`` (UTC)."""

    __tablename__ = "duty_shift"
    __table_args__ = (Index("ix_duty_shift_unit_starts", "unit_id", "starts_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id", ondelete="RESTRICT"))
    starts_at: Mapped[datetime] = mapped_column()
    ends_at: Mapped[datetime] = mapped_column()
    #: Handover note written at the end of the shift (交接班记录).
    handover_note: Mapped[str | None] = mapped_column(Text)
    handed_over_at: Mapped[datetime | None] = mapped_column()
    handed_over_by: Mapped[str | None] = mapped_column(String(64))

    unit: Mapped[Unit] = relationship()
    assignments: Mapped[list[DutyAssignment]] = relationship(
        back_populates="shift", cascade="all, delete-orphan", order_by="DutyAssignment.id"
    )


class DutyAssignment(Base):
    """A person on a shift, as leader or member, with the time they checked in."""

    __tablename__ = "duty_assignment"
    __table_args__ = (UniqueConstraint("shift_id", "person_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    shift_id: Mapped[int] = mapped_column(
        ForeignKey("duty_shift.id", ondelete="CASCADE"), index=True
    )
    person_id: Mapped[int] = mapped_column(
        ForeignKey("org_person.id", ondelete="RESTRICT"), index=True
    )
    role: Mapped[DutyRole] = mapped_column(string_enum(DutyRole, "duty_role"))
    checked_in_at: Mapped[datetime | None] = mapped_column()

    shift: Mapped[DutyShift] = relationship(back_populates="assignments")
    person: Mapped[Person] = relationship()

    @property
    def person_name(self) -> str:
        """The person's name (for the wire shape)."""
        return self.person.name

    @property
    def person_phone(self) -> str | None:
        """The person's phone number (for the wire shape)."""
        return self.person.phone


class DutySwap(Base):
    """A request to hand an assignment to another person; takes effect when approved."""

    __tablename__ = "duty_swap"

    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(
        ForeignKey("duty_assignment.id", ondelete="CASCADE"), index=True
    )
    replacement_person_id: Mapped[int] = mapped_column(
        ForeignKey("org_person.id", ondelete="RESTRICT")
    )
    reason: Mapped[str | None] = mapped_column(Text)
    status: Mapped[SwapStatus] = mapped_column(
        string_enum(SwapStatus, "duty_swap_status"), default=SwapStatus.pending
    )
    requested_by: Mapped[str] = mapped_column(String(64))
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[datetime | None] = mapped_column()

    assignment: Mapped[DutyAssignment] = relationship()
    replacement: Mapped[Person] = relationship()


class DutyRotation(TimestampMixin, Base):
    """A rotation template: who takes turns, in which order, and how a day is cut into shifts.

    ``leader_ids`` and ``member_ids`` are person ids in rotation order; each shift takes the next
    leader and the next ``members_per_shift`` members. ``first_shift_hour`` is the local hour
    (Asia/Shanghai) at which the first shift of a day starts; ``shift_hours`` divides 24.
    """

    __tablename__ = "duty_rotation"

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id", ondelete="RESTRICT"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    shift_hours: Mapped[int] = mapped_column(Integer, default=24)
    first_shift_hour: Mapped[int] = mapped_column(Integer, default=8)
    members_per_shift: Mapped[int] = mapped_column(Integer, default=2)
    leader_ids: Mapped[list[Any]] = mapped_column(json_type())
    member_ids: Mapped[list[Any]] = mapped_column(json_type())
