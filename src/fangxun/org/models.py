"""Organisation models: units (district, street offices, departments), people, users, tokens."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fangxun.db.base import Base
from fangxun.db.types import string_enum, utcnow


class UnitKind(enum.StrEnum):
    """What a unit is: the district itself, a street office (办事处) or a department (部门)."""

    district = "district"
    street_office = "street_office"
    department = "department"


class Role(enum.StrEnum):
    """What a user may do. Only ``unit`` is limited to a jurisdiction (its unit and descendants)."""

    admin = "admin"
    district = "district"  # 防汛办: the district flood-control office
    duty = "duty"  # 值班: on duty in the command room
    unit = "unit"  # a street office or department
    inspector = "inspector"
    viewer = "viewer"


class TimestampMixin:
    """Creation and last-change times (UTC)."""

    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Unit(TimestampMixin, Base):
    """An organisational unit. A ``unit`` user's jurisdiction is its unit and all descendants."""

    __tablename__ = "org_unit"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name_zh: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str | None] = mapped_column(String(200))
    kind: Mapped[UnitKind] = mapped_column(string_enum(UnitKind, "unit_kind"))
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("org_unit.id", ondelete="RESTRICT"), index=True
    )

    parent: Mapped[Unit | None] = relationship(remote_side=[id], back_populates="children")
    children: Mapped[list[Unit]] = relationship(back_populates="parent")


class Person(TimestampMixin, Base):
    """A person in the flood-control organisation (may or may not have a login)."""

    __tablename__ = "org_person"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    phone: Mapped[str | None] = mapped_column(String(32))
    email: Mapped[str | None] = mapped_column(String(254))
    unit_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id", ondelete="RESTRICT"), index=True)
    post: Mapped[str | None] = mapped_column(String(100))

    unit: Mapped[Unit] = relationship()


class User(TimestampMixin, Base):
    """A login. ``unit_id`` is required for the ``unit`` role and sets the jurisdiction."""

    __tablename__ = "org_user"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(string_enum(Role, "role"))
    person_id: Mapped[int | None] = mapped_column(
        ForeignKey("org_person.id", ondelete="SET NULL"), index=True
    )
    unit_id: Mapped[int | None] = mapped_column(
        ForeignKey("org_unit.id", ondelete="RESTRICT"), index=True
    )
    is_active: Mapped[bool] = mapped_column(default=True)
    #: An ``inspector`` who works district-wide (reads and writes every unit's points); without
    #: it an inspector's jurisdiction is their unit, like a ``unit`` user's.
    district_wide: Mapped[bool] = mapped_column(default=False, server_default=false())
    last_login_at: Mapped[datetime | None] = mapped_column()

    person: Mapped[Person | None] = relationship()
    unit: Mapped[Unit | None] = relationship()


class AuthToken(Base):
    """An opaque bearer token; only its SHA-256 is stored, so a database leak yields no logins."""

    __tablename__ = "org_auth_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("org_user.id", ondelete="CASCADE"), index=True)
    #: "api" for bearer tokens, "web" for browser sessions.
    purpose: Mapped[str] = mapped_column(String(16), default="api")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()

    user: Mapped[User] = relationship()


class LoginAttempt(Base):
    """One login attempt, kept in the database so throttling holds across processes."""

    __tablename__ = "org_login_attempt"
    __table_args__ = (
        Index("ix_org_login_attempt_username_at", "username", "attempted_at"),
        Index("ix_org_login_attempt_client_ip_at", "client_ip", "attempted_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64))
    client_ip: Mapped[str | None] = mapped_column(String(64))
    attempted_at: Mapped[datetime] = mapped_column(default=utcnow)
    succeeded: Mapped[bool] = mapped_column()
