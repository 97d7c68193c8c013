"""Incident models (险情): the report, its dispatch to a team, a timeline of every step, photos,
and the submissions of the public form (kept for rate limiting).

States run ``reported → dispatched → on_site → controlled → closed``; a report found to be false
may be closed straight from ``reported``. The time of each step is stored on the incident so that
response-time figures are simple differences (seconds). ``hazard_point_id`` names a hazard point by
id without a foreign key, so this domain does not depend on the hazard ledger's tables.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fangxun.db.base import Base
from fangxun.db.types import json_type, string_enum, utcnow
from fangxun.org.models import TimestampMixin, Unit


class IncidentStatus(enum.StrEnum):
    """Where an incident stands."""

    reported = "reported"  # 已上报
    dispatched = "dispatched"  # 已派遣
    on_site = "on_site"  # 已到场
    controlled = "controlled"  # 已控制
    closed = "closed"  # 已关闭


class IncidentKind(enum.StrEnum):
    """What kind of danger was reported."""

    ponding = "ponding"  # 道路积水
    underpass_flooding = "underpass_flooding"  # 下穿通道积水
    building_flooding = "building_flooding"  # 小区/地下室进水
    embankment = "embankment"  # 堤防险情
    landslide = "landslide"  # 边坡/塌陷
    trapped_people = "trapped_people"  # 人员被困
    vehicle_trapped = "vehicle_trapped"  # 车辆被困
    power = "power"  # 电力设施
    other = "other"


class Severity(enum.StrEnum):
    """How bad, lowest first."""

    minor = "minor"  # 一般
    moderate = "moderate"  # 较大
    major = "major"  # 重大
    critical = "critical"  # 特别重大


class ReportSource(enum.StrEnum):
    """Who reported: a logged-in user, or the public through the open form."""

    user = "user"
    public = "public"


class Incident(TimestampMixin, Base):
    """One incident. ``lon``/``lat`` are WGS 84 degrees."""

    __tablename__ = "incident"
    __table_args__ = (Index("ix_incident_status_reported", "status", "reported_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id", ondelete="RESTRICT"), index=True)
    kind: Mapped[IncidentKind] = mapped_column(string_enum(IncidentKind, "incident_kind"))
    severity: Mapped[Severity] = mapped_column(string_enum(Severity, "incident_severity"))
    status: Mapped[IncidentStatus] = mapped_column(
        string_enum(IncidentStatus, "incident_status"), default=IncidentStatus.reported
    )
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    location_text: Mapped[str | None] = mapped_column(String(300))
    lon: Mapped[float | None] = mapped_column(Float)
    lat: Mapped[float | None] = mapped_column(Float)
    hazard_point_id: Mapped[int | None] = mapped_column(Integer, index=True)
    source: Mapped[ReportSource] = mapped_column(string_enum(ReportSource, "incident_source"))
    reporter_user_id: Mapped[int | None] = mapped_column(Integer)
    reporter_name: Mapped[str | None] = mapped_column(String(100))
    reporter_phone: Mapped[str | None] = mapped_column(String(32))
    team_id: Mapped[int | None] = mapped_column(
        ForeignKey("supplies_team.id", ondelete="SET NULL"), index=True
    )
    reported_at: Mapped[datetime] = mapped_column(default=utcnow)
    dispatched_at: Mapped[datetime | None] = mapped_column()
    on_site_at: Mapped[datetime | None] = mapped_column()
    controlled_at: Mapped[datetime | None] = mapped_column()
    closed_at: Mapped[datetime | None] = mapped_column()
    #: Lost-update guard (fangxun.versioning): +1 on every UPDATE, checked by it.
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 (SQLAlchemy reads it)

    unit: Mapped[Unit] = relationship()

    @property
    def dispatch_s(self) -> float | None:
        """Seconds from report to dispatch (None until dispatched)."""
        if self.dispatched_at is None:
            return None
        return (self.dispatched_at - self.reported_at).total_seconds()

    @property
    def arrival_s(self) -> float | None:
        """Seconds from report to the team on site (None until on site)."""
        if self.on_site_at is None:
            return None
        return (self.on_site_at - self.reported_at).total_seconds()

    events: Mapped[list[IncidentEvent]] = relationship(
        back_populates="incident",
        cascade="all, delete-orphan",
        order_by="(IncidentEvent.at, IncidentEvent.id)",
    )
    photos: Mapped[list[IncidentPhoto]] = relationship(
        back_populates="incident", cascade="all, delete-orphan", order_by="IncidentPhoto.id"
    )


class IncidentEvent(Base):
    """One step of the timeline: a state change, a dispatch, a note."""

    __tablename__ = "incident_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incident.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_username: Mapped[str] = mapped_column(String(64))
    from_status: Mapped[str | None] = mapped_column(String(32))
    to_status: Mapped[str | None] = mapped_column(String(32))
    note: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict[str, Any] | None] = mapped_column(json_type())

    incident: Mapped[Incident] = relationship(back_populates="events")


class IncidentPhoto(Base):
    """A photo of an incident, stored as a file under ``<data_dir>/incidents/``."""

    __tablename__ = "incident_photo"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incident.id", ondelete="CASCADE"), index=True
    )
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(Integer)
    stored_name: Mapped[str] = mapped_column(String(200))
    uploaded_at: Mapped[datetime] = mapped_column(default=utcnow)

    incident: Mapped[Incident] = relationship(back_populates="photos")


class PublicSubmission(Base):
    """One submission of the public form, by client address: the rate limit counts these."""

    __tablename__ = "incident_public_submission"
    __table_args__ = (Index("ix_incident_public_submission_ip_at", "client_ip", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    client_ip: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(default=utcnow)
