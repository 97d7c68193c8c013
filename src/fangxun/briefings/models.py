"""Consultation briefing models (会商研判): a generated snapshot of the situation, and the
decisions of the meeting as tasks with owners and deadlines."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fangxun.db.base import Base
from fangxun.db.types import json_type, string_enum, utcnow
from fangxun.org.models import Person


class TaskStatus(enum.StrEnum):
    """A decision's task is open until done (or dropped)."""

    open = "open"
    done = "done"
    dropped = "dropped"


class Briefing(Base):
    """One briefing: the situation at ``as_of`` in ``content`` (sections, JSON), frozen."""

    __tablename__ = "briefing"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    as_of: Mapped[datetime] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(64))
    #: The jurisdiction the briefing was gathered for; None: district-wide (its content holds
    #: every unit's data, so only district-wide readers see it).
    unit_id: Mapped[int | None] = mapped_column(
        ForeignKey("org_unit.id", ondelete="RESTRICT"), index=True
    )
    content: Mapped[dict[str, Any]] = mapped_column(json_type())

    tasks: Mapped[list[BriefingTask]] = relationship(
        back_populates="briefing", cascade="all, delete-orphan", order_by="BriefingTask.id"
    )


class BriefingTask(Base):
    """A decision taken in the meeting and the task that carries it out."""

    __tablename__ = "briefing_task"

    id: Mapped[int] = mapped_column(primary_key=True)
    briefing_id: Mapped[int] = mapped_column(
        ForeignKey("briefing.id", ondelete="CASCADE"), index=True
    )
    decision: Mapped[str] = mapped_column(Text)
    owner_person_id: Mapped[int] = mapped_column(ForeignKey("org_person.id", ondelete="RESTRICT"))
    deadline: Mapped[datetime] = mapped_column()
    status: Mapped[TaskStatus] = mapped_column(
        string_enum(TaskStatus, "briefing_task_status"), default=TaskStatus.open
    )
    done_at: Mapped[datetime | None] = mapped_column()

    briefing: Mapped[Briefing] = relationship(back_populates="tasks")
    owner: Mapped[Person] = relationship()
