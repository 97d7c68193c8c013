"""The audit log: one row per change made by a person (who, when, which object, before, after)."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from fangxun.db.base import Base
from fangxun.db.types import json_type, string_enum, utcnow


class AuditAction(enum.StrEnum):
    """What happened to the object."""

    create = "create"
    update = "update"
    delete = "delete"


class AuditEntry(Base):
    """One change. ``actor_id`` is not a foreign key on purpose: deleting a user keeps history."""

    __tablename__ = "audit_entry"
    __table_args__ = (
        Index("ix_audit_entry_object", "object_type", "object_id"),
        Index("ix_audit_entry_actor_id", "actor_id"),
        Index("ix_audit_entry_at", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_id: Mapped[int | None] = mapped_column()
    actor_username: Mapped[str] = mapped_column(String(64))
    action: Mapped[AuditAction] = mapped_column(string_enum(AuditAction, "audit_action", length=16))
    object_type: Mapped[str] = mapped_column(String(64))
    object_id: Mapped[str] = mapped_column(String(64))
    before: Mapped[dict[str, Any] | None] = mapped_column(json_type())
    after: Mapped[dict[str, Any] | None] = mapped_column(json_type())
