"""Supplies and teams models: the item catalogue, warehouses, stock and quotas per warehouse,
stock movements (receive, issue to an incident, return, adjustment), stocktaking sessions, and
emergency teams with members, readiness and drills.

Quantities are whole counts in the item's unit of measure (bags, sets, pieces). ``quantity`` of a
stock row can never go below zero: a CHECK constraint backs the conditional UPDATE of the service.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fangxun.db.base import Base
from fangxun.db.types import json_type, string_enum, utcnow
from fangxun.org.models import Person, TimestampMixin, Unit


class MovementKind(enum.StrEnum):
    """Why stock changed."""

    receive = "receive"  # 入库
    issue = "issue"  # 出库 (to an incident)
    return_ = "return"  # 归还
    adjust = "adjust"  # 盘点调整


class StocktakeStatus(enum.StrEnum):
    """A stocktaking session: counting, then approved (adjustments applied) or cancelled."""

    counting = "counting"
    approved = "approved"
    cancelled = "cancelled"


class Readiness(enum.StrEnum):
    """Whether a team can be sent now."""

    standby = "standby"  # 待命
    deployed = "deployed"  # 出动中
    resting = "resting"  # 休整
    unavailable = "unavailable"  # 不可用


class SupplyItem(TimestampMixin, Base):
    """A kind of item in the catalogue (sandbags, pumps, life jackets …)."""

    __tablename__ = "supplies_item"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name_zh: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str | None] = mapped_column(String(200))
    #: Unit of measure as shown to people (袋, 台, 件, 套 …).
    unit_of_measure: Mapped[str] = mapped_column(String(16))
    category: Mapped[str | None] = mapped_column(String(64))


class Warehouse(TimestampMixin, Base):
    """A store of supplies owned by a unit; ``lon``/``lat`` WGS 84 degrees."""

    __tablename__ = "supplies_warehouse"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name_zh: Mapped[str] = mapped_column(String(200))
    unit_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id", ondelete="RESTRICT"), index=True)
    address: Mapped[str | None] = mapped_column(String(300))
    lon: Mapped[float | None] = mapped_column(Float)
    lat: Mapped[float | None] = mapped_column(Float)

    unit: Mapped[Unit] = relationship()


class Stock(Base):
    """How many of an item a warehouse holds, and the earliest expiry date among them."""

    __tablename__ = "supplies_stock"
    __table_args__ = (
        UniqueConstraint("warehouse_id", "item_id"),
        CheckConstraint("quantity >= 0", name="quantity_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    warehouse_id: Mapped[int] = mapped_column(
        ForeignKey("supplies_warehouse.id", ondelete="CASCADE"), index=True
    )
    item_id: Mapped[int] = mapped_column(
        ForeignKey("supplies_item.id", ondelete="RESTRICT"), index=True
    )
    quantity: Mapped[int] = mapped_column(Integer, default=0)
    expires_on: Mapped[date | None] = mapped_column(Date)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    warehouse: Mapped[Warehouse] = relationship()
    item: Mapped[SupplyItem] = relationship()


class Quota(Base):
    """The reserve standard: how many of an item a warehouse should hold (储备定额)."""

    __tablename__ = "supplies_quota"
    __table_args__ = (
        UniqueConstraint("warehouse_id", "item_id"),
        CheckConstraint("quantity >= 0", name="quota_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    warehouse_id: Mapped[int] = mapped_column(
        ForeignKey("supplies_warehouse.id", ondelete="CASCADE"), index=True
    )
    item_id: Mapped[int] = mapped_column(
        ForeignKey("supplies_item.id", ondelete="RESTRICT"), index=True
    )
    quantity: Mapped[int] = mapped_column(Integer)

    warehouse: Mapped[Warehouse] = relationship()
    item: Mapped[SupplyItem] = relationship()


class StockMovement(Base):
    """One change of stock; ``delta`` > 0 adds. Issues and returns name their incident."""

    __tablename__ = "supplies_movement"

    id: Mapped[int] = mapped_column(primary_key=True)
    warehouse_id: Mapped[int] = mapped_column(
        ForeignKey("supplies_warehouse.id", ondelete="CASCADE"), index=True
    )
    item_id: Mapped[int] = mapped_column(
        ForeignKey("supplies_item.id", ondelete="RESTRICT"), index=True
    )
    kind: Mapped[MovementKind] = mapped_column(string_enum(MovementKind, "supplies_movement_kind"))
    delta: Mapped[int] = mapped_column(Integer)
    incident_id: Mapped[int | None] = mapped_column(
        ForeignKey("incident.id", ondelete="SET NULL"), index=True
    )
    stocktake_id: Mapped[int | None] = mapped_column(
        ForeignKey("supplies_stocktake.id", ondelete="SET NULL")
    )
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_username: Mapped[str] = mapped_column(String(64))
    note: Mapped[str | None] = mapped_column(Text)

    item: Mapped[SupplyItem] = relationship()
    warehouse: Mapped[Warehouse] = relationship()


class Stocktake(Base):
    """A stocktaking session of one warehouse (清查核查): count → discrepancies → approval."""

    __tablename__ = "supplies_stocktake"

    id: Mapped[int] = mapped_column(primary_key=True)
    warehouse_id: Mapped[int] = mapped_column(
        ForeignKey("supplies_warehouse.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[StocktakeStatus] = mapped_column(
        string_enum(StocktakeStatus, "supplies_stocktake_status"), default=StocktakeStatus.counting
    )
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_by: Mapped[str] = mapped_column(String(64))
    approved_at: Mapped[datetime | None] = mapped_column()
    approved_by: Mapped[str | None] = mapped_column(String(64))
    note: Mapped[str | None] = mapped_column(Text)

    warehouse: Mapped[Warehouse] = relationship()
    lines: Mapped[list[StocktakeLine]] = relationship(
        back_populates="stocktake", cascade="all, delete-orphan", order_by="StocktakeLine.id"
    )


class StocktakeLine(Base):
    """The book quantity of an item when the count started and what was counted."""

    __tablename__ = "supplies_stocktake_line"
    __table_args__ = (UniqueConstraint("stocktake_id", "item_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    stocktake_id: Mapped[int] = mapped_column(
        ForeignKey("supplies_stocktake.id", ondelete="CASCADE"), index=True
    )
    item_id: Mapped[int] = mapped_column(ForeignKey("supplies_item.id", ondelete="RESTRICT"))
    book_quantity: Mapped[int] = mapped_column(Integer)
    counted_quantity: Mapped[int | None] = mapped_column(Integer)

    stocktake: Mapped[Stocktake] = relationship(back_populates="lines")
    item: Mapped[SupplyItem] = relationship()

    @property
    def difference(self) -> int | None:
        """Counted minus book (negative: items missing); None until counted."""
        if self.counted_quantity is None:
            return None
        return self.counted_quantity - self.book_quantity


class Team(TimestampMixin, Base):
    """An emergency team (应急队伍) of a unit, its equipment and readiness."""

    __tablename__ = "supplies_team"

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id", ondelete="RESTRICT"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    specialty: Mapped[str | None] = mapped_column(String(100))
    readiness: Mapped[Readiness] = mapped_column(
        string_enum(Readiness, "supplies_team_readiness"), default=Readiness.standby
    )
    #: Equipment as free lines ("2 pump trucks", "1 generator 50 kW").
    equipment: Mapped[list[Any]] = mapped_column(json_type(), default=list)
    leader_person_id: Mapped[int | None] = mapped_column(
        ForeignKey("org_person.id", ondelete="SET NULL")
    )
    phone: Mapped[str | None] = mapped_column(String(32))

    unit: Mapped[Unit] = relationship()
    members: Mapped[list[TeamMember]] = relationship(
        back_populates="team", cascade="all, delete-orphan", order_by="TeamMember.id"
    )


class TeamMember(Base):
    """A person in a team with their skills."""

    __tablename__ = "supplies_team_member"
    __table_args__ = (UniqueConstraint("team_id", "person_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(
        ForeignKey("supplies_team.id", ondelete="CASCADE"), index=True
    )
    person_id: Mapped[int] = mapped_column(ForeignKey("org_person.id", ondelete="RESTRICT"))
    skills: Mapped[list[Any]] = mapped_column(json_type(), default=list)

    team: Mapped[Team] = relationship(back_populates="members")
    person: Mapped[Person] = relationship()


class Drill(TimestampMixin, Base):
    """An exercise (应急演练): when, what scenario, who took part, what it found."""

    __tablename__ = "supplies_drill"

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id", ondelete="RESTRICT"), index=True)
    held_on: Mapped[date] = mapped_column(Date)
    scenario: Mapped[str] = mapped_column(Text)
    team_ids: Mapped[list[Any]] = mapped_column(json_type(), default=list)
    participants: Mapped[int] = mapped_column(Integer, default=0)
    findings: Mapped[list[DrillFinding]] = relationship(
        back_populates="drill", cascade="all, delete-orphan", order_by="DrillFinding.id"
    )
    attachments: Mapped[list[DrillAttachment]] = relationship(
        cascade="all, delete-orphan", order_by="DrillAttachment.id"
    )


class DrillAttachment(Base):
    """A photo or document of a drill (issue 22); the bytes are in the content-addressed store
    of attachments (``<data_dir>/attachments/``, by SHA-256), as the hazard ledger's."""

    __tablename__ = "supplies_drill_attachment"

    id: Mapped[int] = mapped_column(primary_key=True)
    drill_id: Mapped[int] = mapped_column(
        ForeignKey("supplies_drill.id", ondelete="CASCADE"), index=True
    )
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(50))
    size_bytes: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class DrillFinding(Base):
    """A finding of a drill; one that needs fixing opens a rectification (owner, deadline)."""

    __tablename__ = "supplies_drill_finding"

    id: Mapped[int] = mapped_column(primary_key=True)
    drill_id: Mapped[int] = mapped_column(
        ForeignKey("supplies_drill.id", ondelete="CASCADE"), index=True
    )
    description: Mapped[str] = mapped_column(Text)
    needs_rectification: Mapped[bool] = mapped_column(default=False)
    owner_person_id: Mapped[int | None] = mapped_column(
        ForeignKey("org_person.id", ondelete="SET NULL")
    )
    deadline: Mapped[date | None] = mapped_column(Date)
    closed_at: Mapped[datetime | None] = mapped_column()
    #: The hazard point the finding is about, if any: its rectification then lives in the ledger.
    hazard_point_id: Mapped[int | None] = mapped_column(
        ForeignKey("hazard_point.id", ondelete="SET NULL")
    )
    rectification_id: Mapped[int | None] = mapped_column(
        ForeignKey("hazard_rectification.id", ondelete="SET NULL")
    )

    drill: Mapped[Drill] = relationship(back_populates="findings")
