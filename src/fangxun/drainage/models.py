"""Drainage tables: the district's imported SWMM networks and which stations drive them.

The ``.inp`` file itself is kept in the data folder (``drainage/<sha256>.inp``); the table holds
its identity, counts and the terrain check report. A station link says which telemetry sets a
SWMM object at a forecast's start: a pump station's running pumps and power set its SWMM pumps
(role ``pump``), a river gauge's level is an outfall's tailwater (role ``outfall``).
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from fangxun.db.base import Base
from fangxun.db.types import json_type, string_enum, utcnow


class StationRole(enum.StrEnum):
    """What a station's telemetry sets in the network."""

    pump = "pump"  # pumps_running / power → the SWMM pump named swmm_name on or off
    outfall = "outfall"  # river_level → the outfall's tailwater stage


class DrainageNetwork(Base):
    """An imported network; at most one is active (the forecast's)."""

    __tablename__ = "drainage_network"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    #: The stored copy, relative to ``data_dir``.
    inp_file: Mapped[str] = mapped_column(String(300))
    sha256: Mapped[str] = mapped_column(String(64))
    flow_units: Mapped[str] = mapped_column(String(8))
    node_count: Mapped[int] = mapped_column(Integer)
    link_count: Mapped[int] = mapped_column(Integer)
    pump_count: Mapped[int] = mapped_column(Integer)
    outfall_count: Mapped[int] = mapped_column(Integer)
    #: :meth:`fangxun.drainage.checks.TerrainCheck.as_dict` against the district terrain.
    check_report: Mapped[dict[str, Any] | None] = mapped_column(json_type())
    is_active: Mapped[bool] = mapped_column(default=True, index=True)
    imported_at: Mapped[datetime] = mapped_column(default=utcnow)
    imported_by: Mapped[str] = mapped_column(String(64))


class DrainageStationLink(Base):
    """A station whose telemetry sets one SWMM object of a network."""

    __tablename__ = "drainage_station_link"
    __table_args__ = (UniqueConstraint("network_id", "role", "swmm_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    network_id: Mapped[int] = mapped_column(
        ForeignKey("drainage_network.id", ondelete="CASCADE"), index=True
    )
    station_id: Mapped[int] = mapped_column(ForeignKey("mon_station.id", ondelete="CASCADE"))
    role: Mapped[StationRole] = mapped_column(string_enum(StationRole, "drainage_station_role"))
    swmm_name: Mapped[str] = mapped_column(String(100))
