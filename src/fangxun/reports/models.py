"""Report models: storm events, the cause of ponding at each point, and the review's follow-ups.

* :class:`StormEvent` — a rain event found in the gauges' observations (start and end by the dry
  gap ``rain_event_gap_s``), with its rain figures in SI (m of rain) and the grade and estimated
  return period at detection time. Per-point statistics are not stored: they are computed from the
  observations when asked for, so a late observation changes them.
* :class:`PointCause` — the cause a person confirmed for the ponding at one hazard point during an
  event, with the evidence, and the suggestions the data made at that time.
* :class:`ReviewItem` — a problem the post-event review (复盘) found, and the rectification it
  opened in the hazard ledger.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fangxun.db.base import Base
from fangxun.db.types import json_type, string_enum, utcnow


class EventStatus(enum.StrEnum):
    """Where an event stands: still raining (``open``), over, or reviewed."""

    open = "open"  # 进行中 (the last rain is within the dry gap of the data's end)
    closed = "closed"  # 已结束
    reviewed = "reviewed"  # 已复盘


class StormEvent(Base):
    """One storm event. Rain amounts in m (SI); ``grade`` is a GB/T 28592 code."""

    __tablename__ = "report_storm_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Start of the first rainy reporting interval, and time of the last rainy report (UTC).
    start: Mapped[datetime] = mapped_column(index=True)
    end: Mapped[datetime] = mapped_column()
    status: Mapped[EventStatus] = mapped_column(
        string_enum(EventStatus, "report_event_status"), default=EventStatus.closed
    )
    name: Mapped[str] = mapped_column(String(200))
    #: Event total at the heaviest gauge, and the gauges' mean total, m.
    total_m: Mapped[float] = mapped_column(Float)
    mean_total_m: Mapped[float] = mapped_column(Float)
    #: Largest rolling 1 h, 3 h, 12 h and 24 h totals over every gauge, m.
    max_1h_m: Mapped[float] = mapped_column(Float)
    max_3h_m: Mapped[float] = mapped_column(Float)
    max_12h_m: Mapped[float] = mapped_column(Float)
    max_24h_m: Mapped[float] = mapped_column(Float)
    #: GB/T 28592 grade code of the largest 24 h / 12 h totals ("none" below 暴雨).
    grade: Mapped[str] = mapped_column(String(32))
    #: Estimated return period from the configured storm formula, years (None: not estimable).
    return_period_years: Mapped[float | None] = mapped_column(Float)
    #: Datastream code of the heaviest gauge.
    peak_gauge: Mapped[str | None] = mapped_column(String(64))
    #: Per gauge: ``{code: {"total_m", "max_1h_m", ...}}`` and the estimate's details.
    details: Mapped[dict[str, Any]] = mapped_column(json_type())
    detected_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    causes: Mapped[list[PointCause]] = relationship(
        back_populates="event", cascade="all, delete-orphan", order_by="PointCause.id"
    )
    review_items: Mapped[list[ReviewItem]] = relationship(
        back_populates="event", cascade="all, delete-orphan", order_by="ReviewItem.id"
    )


class PointCause(Base):
    """The confirmed cause of ponding at one hazard point in one event."""

    __tablename__ = "report_point_cause"
    __table_args__ = (UniqueConstraint("event_id", "point_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(
        ForeignKey("report_storm_event.id", ondelete="CASCADE"), index=True
    )
    point_id: Mapped[int] = mapped_column(
        ForeignKey("hazard_point.id", ondelete="CASCADE"), index=True
    )
    #: A code of ``Settings.report_causes``.
    cause: Mapped[str] = mapped_column(String(64))
    #: What the person saw (free text), and the data's suggestions when it was confirmed.
    evidence: Mapped[str | None] = mapped_column(Text)
    suggestions: Mapped[list[dict[str, Any]]] = mapped_column(json_type())
    confirmed_by: Mapped[str] = mapped_column(String(64))
    confirmed_at: Mapped[datetime] = mapped_column(default=utcnow)

    event: Mapped[StormEvent] = relationship(back_populates="causes")


class ReviewItem(Base):
    """A problem the review found at a point, and the rectification it opened."""

    __tablename__ = "report_review_item"
    __table_args__ = (UniqueConstraint("event_id", "point_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(
        ForeignKey("report_storm_event.id", ondelete="CASCADE"), index=True
    )
    point_id: Mapped[int] = mapped_column(
        ForeignKey("hazard_point.id", ondelete="CASCADE"), index=True
    )
    unit_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id", ondelete="RESTRICT"), index=True)
    cause: Mapped[str] = mapped_column(String(64))
    problem: Mapped[str] = mapped_column(Text)
    rectification_id: Mapped[int | None] = mapped_column(
        ForeignKey("hazard_rectification.id", ondelete="SET NULL"), index=True
    )
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: Kept for the record of what was asked (the rectification may change later).
    deadline: Mapped[datetime] = mapped_column()
    responsible_person_id: Mapped[int | None] = mapped_column(Integer)

    event: Mapped[StormEvent] = relationship(back_populates="review_items")


__all__ = ["EventStatus", "PointCause", "ReviewItem", "StormEvent"]
