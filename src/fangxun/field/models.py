"""Field-work models: river reaches, patrol plans, patrols with their tracks and findings, and the
client keys of submissions queued in a phone's browser.

Geometries are GeoJSON (WGS 84 lon/lat, degrees) in JSON columns, as the hazard ledger keeps its
outlines. Lengths are metres, intervals seconds. Jurisdiction follows ``unit_id``: a patrol
belongs to the unit of its plan or, without a plan, to the unit it was recorded for.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fangxun.db.base import Base
from fangxun.db.types import json_type, string_enum, utcnow
from fangxun.org.models import Person, TimestampMixin, Unit


class SubmissionOutcome(enum.StrEnum):
    """What became of a submission sent with a client key."""

    applied = "applied"  # the record was made; ``result_url`` shows it
    conflict = "conflict"  # refused because the world changed meanwhile (e.g. closed already)


class ClientSubmission(Base):
    """A client key (UUID made in the browser) the server has seen, with its outcome.

    The first request with a key claims it (primary key); a retry or a double tap finds the row
    and gets the same answer without making a second record.
    """

    __tablename__ = "field_client_submission"

    key: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("org_user.id", ondelete="SET NULL"), index=True
    )
    #: The form it came from (``incident``, ``inspection``, ``patrol`` ...).
    kind: Mapped[str] = mapped_column(String(32))
    outcome: Mapped[SubmissionOutcome] = mapped_column(
        string_enum(SubmissionOutcome, "field_submission_outcome")
    )
    message: Mapped[str] = mapped_column(Text, default="")
    #: The page of the record it made (applied), for the phone to link to.
    result_url: Mapped[str | None] = mapped_column(String(300))
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


class RiverReach(TimestampMixin, Base):
    """A reach of a river (or a drainage channel) that people walk along: a LineString."""

    __tablename__ = "field_river_reach"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    river: Mapped[str] = mapped_column(String(100))
    unit_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id", ondelete="RESTRICT"), index=True)
    #: GeoJSON LineString geometry, WGS 84.
    line: Mapped[dict[str, Any]] = mapped_column(json_type())
    #: Length along the line, m.
    length_m: Mapped[float] = mapped_column(Float)

    unit: Mapped[Unit] = relationship()


class PatrolPlan(TimestampMixin, Base):
    """Which reach (or route) is patrolled, how often and by whom."""

    __tablename__ = "field_patrol_plan"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    unit_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id", ondelete="RESTRICT"), index=True)
    reach_id: Mapped[int | None] = mapped_column(
        ForeignKey("field_river_reach.id", ondelete="SET NULL"), index=True
    )
    #: A route that is not a river reach, as a GeoJSON LineString (WGS 84); optional.
    route: Mapped[dict[str, Any] | None] = mapped_column(json_type())
    assignee_person_id: Mapped[int | None] = mapped_column(
        ForeignKey("org_person.id", ondelete="SET NULL"), index=True
    )
    #: Time between patrols, s.
    interval_s: Mapped[int] = mapped_column(Integer)
    starts_at: Mapped[datetime] = mapped_column()
    active: Mapped[bool] = mapped_column(default=True)

    unit: Mapped[Unit] = relationship()
    reach: Mapped[RiverReach | None] = relationship()
    assignee: Mapped[Person | None] = relationship()


class Patrol(Base):
    """One patrol walked: its thinned GPS track and its findings."""

    __tablename__ = "field_patrol"
    __table_args__ = (Index("ix_field_patrol_plan_ended", "plan_id", "ended_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id", ondelete="RESTRICT"), index=True)
    plan_id: Mapped[int | None] = mapped_column(
        ForeignKey("field_patrol_plan.id", ondelete="SET NULL")
    )
    started_at: Mapped[datetime] = mapped_column()
    ended_at: Mapped[datetime] = mapped_column()
    #: The thinned track: a GeoJSON LineString (WGS 84).
    track: Mapped[dict[str, Any]] = mapped_column(json_type())
    #: Fixes received from the phone and vertices kept after thinning.
    raw_points: Mapped[int] = mapped_column(Integer)
    #: Length along the thinned track, m.
    length_m: Mapped[float] = mapped_column(Float)
    notes: Mapped[str | None] = mapped_column(Text)
    recorded_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    unit: Mapped[Unit] = relationship()
    plan: Mapped[PatrolPlan | None] = relationship()
    findings: Mapped[list[PatrolFinding]] = relationship(
        back_populates="patrol", cascade="all, delete-orphan", order_by="PatrolFinding.id"
    )


class PatrolFinding(Base):
    """Something seen on a patrol, pinned where it was seen; a photo optional."""

    __tablename__ = "field_patrol_finding"

    id: Mapped[int] = mapped_column(primary_key=True)
    patrol_id: Mapped[int] = mapped_column(
        ForeignKey("field_patrol.id", ondelete="CASCADE"), index=True
    )
    lon: Mapped[float] = mapped_column(Float)
    lat: Mapped[float] = mapped_column(Float)
    note: Mapped[str] = mapped_column(Text)
    hazard_point_id: Mapped[int | None] = mapped_column(
        ForeignKey("hazard_point.id", ondelete="SET NULL")
    )
    #: The photo's file under ``<data_dir>/patrols/<patrol id>/`` (named by content hash).
    photo_name: Mapped[str | None] = mapped_column(String(100))
    photo_type: Mapped[str | None] = mapped_column(String(50))

    patrol: Mapped[Patrol] = relationship(back_populates="findings")
