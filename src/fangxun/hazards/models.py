"""Hazard ledger models: hazard points, attachments, point plans (一点一策), inspection plans and
records, rectifications (整改) and their transition history.

Depths are stored in metres (SI); the API and files speak centimetres and convert once at the
edge (:mod:`fangxun.hazards.schemas`). Jurisdiction follows the point's ``unit_id``: records,
rectifications and plans belong to the unit of their point.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fangxun.db.base import Base
from fangxun.db.types import json_type, string_enum, utcnow
from fangxun.org.models import Person, TimestampMixin, Unit


class HazardKind(enum.StrEnum):
    """What kind of place a hazard point is (keys of ``Settings.hazard_thresholds_cm``)."""

    low_lying_road = "low_lying_road"  # 低洼路段
    underpass = "underpass"  # 下穿通道
    residential_compound = "residential_compound"  # 居民小区
    river_embankment = "river_embankment"  # 河道堤防
    pump_station = "pump_station"  # 泵站
    construction_site = "construction_site"  # 在建工地
    bridge_culvert = "bridge_culvert"  # 桥涵
    channel = "channel"  # 沟渠
    other = "other"  # 其他


class RiskLevel(enum.StrEnum):
    """Risk level of a point, lowest first."""

    low = "low"
    medium = "medium"
    high = "high"
    very_high = "very_high"


class PointStatus(enum.StrEnum):
    """A point is watched while active; a retired point stays in the ledger for history."""

    active = "active"
    retired = "retired"


class PlanStatus(enum.StrEnum):
    """A point plan version: drafted, approved (the one in force), or replaced by a newer one."""

    draft = "draft"
    approved = "approved"
    superseded = "superseded"


class RectificationStatus(enum.StrEnum):
    """States of a rectification (整改): open → in_progress → submitted → verified → closed,
    and submitted → rejected → in_progress."""

    open = "open"
    in_progress = "in_progress"
    submitted = "submitted"
    verified = "verified"
    rejected = "rejected"
    closed = "closed"


class HazardPoint(TimestampMixin, Base):
    """A hazard point (隐患点): where it is, who owns it, and at what ponding depth to act."""

    __tablename__ = "hazard_point"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[HazardKind] = mapped_column(string_enum(HazardKind, "hazard_kind"))
    #: WGS 84 longitude and latitude, degrees.
    lon: Mapped[float] = mapped_column(Float)
    lat: Mapped[float] = mapped_column(Float)
    #: Optional outline: a GeoJSON Polygon geometry (WGS 84).
    polygon: Mapped[dict[str, Any] | None] = mapped_column(json_type())
    address: Mapped[str | None] = mapped_column(String(300))
    description: Mapped[str | None] = mapped_column(Text)
    unit_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id", ondelete="RESTRICT"), index=True)
    responsible_person_id: Mapped[int | None] = mapped_column(
        ForeignKey("org_person.id", ondelete="SET NULL"), index=True
    )
    deputy_person_id: Mapped[int | None] = mapped_column(
        ForeignKey("org_person.id", ondelete="SET NULL"), index=True
    )
    risk_level: Mapped[RiskLevel] = mapped_column(string_enum(RiskLevel, "hazard_risk_level"))
    #: Ponding depth thresholds, m (blue < yellow < orange < red).
    threshold_blue_m: Mapped[float] = mapped_column(Float)
    threshold_yellow_m: Mapped[float] = mapped_column(Float)
    threshold_orange_m: Mapped[float] = mapped_column(Float)
    threshold_red_m: Mapped[float] = mapped_column(Float)
    status: Mapped[PointStatus] = mapped_column(
        string_enum(PointStatus, "hazard_point_status"), default=PointStatus.active
    )
    #: Lost-update guard (fangxun.versioning): +1 on every UPDATE, checked by it.
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 (SQLAlchemy reads it)

    unit: Mapped[Unit] = relationship()
    responsible_person: Mapped[Person | None] = relationship(foreign_keys=[responsible_person_id])
    deputy_person: Mapped[Person | None] = relationship(foreign_keys=[deputy_person_id])


class HazardAttachment(Base):
    """A photo or document of a point (or of one of its inspections or rectifications).

    The bytes live on disk under ``<data_dir>/attachments/`` named by their SHA-256, so the same
    photo uploaded twice is stored once.
    """

    __tablename__ = "hazard_attachment"

    id: Mapped[int] = mapped_column(primary_key=True)
    point_id: Mapped[int] = mapped_column(
        ForeignKey("hazard_point.id", ondelete="CASCADE"), index=True
    )
    inspection_id: Mapped[int | None] = mapped_column(
        ForeignKey("hazard_inspection_record.id", ondelete="SET NULL"), index=True
    )
    rectification_id: Mapped[int | None] = mapped_column(
        ForeignKey("hazard_rectification.id", ondelete="SET NULL"), index=True
    )
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    #: Size of the file, bytes.
    size_bytes: Mapped[int] = mapped_column(Integer)
    uploaded_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PointPlan(TimestampMixin, Base):
    """One version of a point's plan (一点一策): triggers → measures, and who approved it.

    ``triggers`` is a list of ``{"colour", "ponding_m", "rain_mm", "rain_window_s"}`` (any of them);
    ``measures`` a list of ``{"action", "responsible_person_id", "team", "equipment", "supplies"}``.
    """

    __tablename__ = "hazard_point_plan"
    __table_args__ = (UniqueConstraint("point_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    point_id: Mapped[int] = mapped_column(
        ForeignKey("hazard_point.id", ondelete="CASCADE"), index=True
    )
    version: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))
    triggers: Mapped[list[dict[str, Any]]] = mapped_column(json_type())
    measures: Mapped[list[dict[str, Any]]] = mapped_column(json_type())
    status: Mapped[PlanStatus] = mapped_column(
        string_enum(PlanStatus, "hazard_plan_status"), default=PlanStatus.draft
    )
    approved_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("org_user.id", ondelete="SET NULL")
    )
    approved_by_name: Mapped[str | None] = mapped_column(String(64))
    approved_at: Mapped[datetime | None] = mapped_column()
    #: Closing a rectification of the point needs photo evidence attached to it (issue 22).
    close_needs_evidence: Mapped[bool] = mapped_column(default=False, server_default=false())

    point: Mapped[HazardPoint] = relationship()


inspection_plan_points = Table(
    "hazard_inspection_plan_point",
    Base.metadata,
    Column(
        "plan_id",
        ForeignKey("hazard_inspection_plan.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("point_id", ForeignKey("hazard_point.id", ondelete="CASCADE"), primary_key=True),
)


class InspectionPlan(TimestampMixin, Base):
    """An inspection plan (排查计划): which points, how often, by whom, for which unit."""

    __tablename__ = "hazard_inspection_plan"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    unit_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id", ondelete="RESTRICT"), index=True)
    inspector_person_id: Mapped[int | None] = mapped_column(
        ForeignKey("org_person.id", ondelete="SET NULL")
    )
    #: Time between inspections of each point, s.
    interval_s: Mapped[int] = mapped_column(Integer)
    starts_at: Mapped[datetime] = mapped_column()
    active: Mapped[bool] = mapped_column(default=True)

    points: Mapped[list[HazardPoint]] = relationship(
        secondary=inspection_plan_points, order_by=lambda: HazardPoint.code
    )


class InspectionRecord(TimestampMixin, Base):
    """One inspection or patrol of a point: when, who, where (GPS), checklist, notes."""

    __tablename__ = "hazard_inspection_record"
    __table_args__ = (Index("ix_hazard_inspection_record_point_at", "point_id", "inspected_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    point_id: Mapped[int] = mapped_column(ForeignKey("hazard_point.id", ondelete="CASCADE"))
    plan_id: Mapped[int | None] = mapped_column(
        ForeignKey("hazard_inspection_plan.id", ondelete="SET NULL"), index=True
    )
    inspected_at: Mapped[datetime] = mapped_column()
    inspector_person_id: Mapped[int | None] = mapped_column(
        ForeignKey("org_person.id", ondelete="SET NULL")
    )
    recorded_by: Mapped[str] = mapped_column(String(64))
    #: GPS position of the inspector, WGS 84 degrees.
    gps_lon: Mapped[float | None] = mapped_column(Float)
    gps_lat: Mapped[float | None] = mapped_column(Float)
    #: ``[{"item": str, "ok": bool, "note": str | None}]``.
    checklist: Mapped[list[dict[str, Any]]] = mapped_column(json_type())
    notes: Mapped[str | None] = mapped_column(Text)
    #: True when the inspection found a problem (a rectification may follow).
    has_finding: Mapped[bool] = mapped_column(default=False)

    point: Mapped[HazardPoint] = relationship()


class Rectification(TimestampMixin, Base):
    """A rectification (整改) of a finding: measure, deadline, the named person, and its state."""

    __tablename__ = "hazard_rectification"

    id: Mapped[int] = mapped_column(primary_key=True)
    point_id: Mapped[int] = mapped_column(
        ForeignKey("hazard_point.id", ondelete="CASCADE"), index=True
    )
    inspection_id: Mapped[int | None] = mapped_column(
        ForeignKey("hazard_inspection_record.id", ondelete="SET NULL")
    )
    finding: Mapped[str] = mapped_column(Text)
    measure: Mapped[str] = mapped_column(Text)
    deadline: Mapped[datetime] = mapped_column()
    responsible_person_id: Mapped[int] = mapped_column(
        ForeignKey("org_person.id", ondelete="RESTRICT")
    )
    status: Mapped[RectificationStatus] = mapped_column(
        string_enum(RectificationStatus, "hazard_rectification_status"),
        default=RectificationStatus.open,
        index=True,
    )
    closed_at: Mapped[datetime | None] = mapped_column()
    #: Lost-update guard (fangxun.versioning): +1 on every UPDATE, checked by it.
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 (SQLAlchemy reads it)

    point: Mapped[HazardPoint] = relationship()
    responsible_person: Mapped[Person] = relationship()
    events: Mapped[list[RectificationEvent]] = relationship(
        back_populates="rectification",
        order_by=lambda: RectificationEvent.id,
        cascade="all, delete-orphan",
    )


class RectificationEvent(Base):
    """One transition of a rectification, with the comment that justified it."""

    __tablename__ = "hazard_rectification_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    rectification_id: Mapped[int] = mapped_column(
        ForeignKey("hazard_rectification.id", ondelete="CASCADE"), index=True
    )
    action: Mapped[str] = mapped_column(String(16))
    from_status: Mapped[str | None] = mapped_column(String(32))
    to_status: Mapped[str] = mapped_column(String(32))
    comment: Mapped[str] = mapped_column(Text)
    actor_id: Mapped[int | None] = mapped_column()
    actor_username: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(default=utcnow)

    rectification: Mapped[Rectification] = relationship(back_populates="events")


class ImportJobStatus(enum.StrEnum):
    """Where an import job stands."""

    queued = "queued"
    running = "running"
    done = "done"
    failed = "failed"


class HazardImportJob(Base):
    """One import of a file into the ledger, run in the background (issue 20, item 5): its
    progress (0–1), and what it did or the first problems that refused it (all rows or none)."""

    __tablename__ = "hazard_import_job"

    id: Mapped[int] = mapped_column(primary_key=True)
    status: Mapped[str] = mapped_column(String(16), default=ImportJobStatus.queued.value)
    filename: Mapped[str] = mapped_column(String(200))
    size_bytes: Mapped[int] = mapped_column(Integer)
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    #: Rows read from the file (known once it is read).
    rows: Mapped[int | None] = mapped_column(Integer)
    #: ``{"created", "updated", "unchanged"}`` once done.
    report: Mapped[dict[str, Any] | None] = mapped_column(json_type())
    #: The first problems (``{"loc", "msg"}``), at most ``Settings.import_max_problems``.
    problems: Mapped[list[Any] | None] = mapped_column(json_type())
    #: How many problems there were in all.
    problem_count: Mapped[int] = mapped_column(Integer, default=0)
    message: Mapped[str | None] = mapped_column(Text)
    user_id: Mapped[int] = mapped_column(Integer, index=True)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column()
    finished_at: Mapped[datetime | None] = mapped_column()


__all__ = [
    "HazardAttachment",
    "HazardImportJob",
    "HazardKind",
    "HazardPoint",
    "ImportJobStatus",
    "InspectionPlan",
    "InspectionRecord",
    "PlanStatus",
    "PointPlan",
    "PointStatus",
    "Rectification",
    "RectificationEvent",
    "RectificationStatus",
    "RiskLevel",
    "inspection_plan_points",
]
