"""Monitoring models, after the OGC SensorThings API 1.1 concepts.

* :class:`Station` — a Thing with its Location (rain gauge, ponding sensor at a hazard point, river
  level gauge, pump station), in WGS 84 lon/lat.
* :class:`Sensor` — the instrument (make/model), shared by datastreams.
* :class:`ObservedProperty` — what is measured, with its quality-control limits in SI.
* :class:`Datastream` — station × property × unit, with a unique, stable ``code`` that payloads
  name; it also caches the latest value (the fast path for maps and rules).
* :class:`Observation` — one value (SI) at one phenomenon time, unique on (datastream, time), with
  its quality-control flags.
* :class:`DeadLetter` — an input that could not be stored, with the reason and the raw payload.
* :class:`MonitoringAlarm` — a technical alarm about the network itself (a station gone silent).
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fangxun.db.base import Base
from fangxun.db.types import json_type, string_enum, utcnow

#: 64-bit ids on PostgreSQL; SQLite only auto-increments a plain INTEGER PRIMARY KEY.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class StationKind(enum.StrEnum):
    """What a station is."""

    rain_gauge = "rain_gauge"  # 雨量站
    ponding = "ponding"  # 积水监测点 (at a hazard point)
    river_gauge = "river_gauge"  # 河道水位站
    pump_station = "pump_station"  # 泵站


class Source(enum.StrEnum):
    """Which transport an input arrived by."""

    mqtt = "mqtt"
    http = "http"
    csv = "csv"
    replay = "replay"
    sl651 = "sl651"


class Station(Base):
    """A monitoring station (SensorThings Thing + Location)."""

    __tablename__ = "mon_station"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name_zh: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str | None] = mapped_column(String(200))
    kind: Mapped[StationKind] = mapped_column(string_enum(StationKind, "station_kind"))
    #: WGS 84 longitude and latitude, degrees.
    lon: Mapped[float] = mapped_column(Float)
    lat: Mapped[float] = mapped_column(Float)
    #: Ground or gauge-zero elevation, m (None when unknown).
    elevation_m: Mapped[float | None] = mapped_column(Float)
    #: The street office or department responsible (sets the jurisdiction); None: district-wide.
    unit_id: Mapped[int | None] = mapped_column(
        ForeignKey("org_unit.id", ondelete="RESTRICT"), index=True
    )
    #: The hazard point a ponding sensor sits at. A plain integer, not a foreign key, so monitoring
    #: does not depend on the hazard ledger's migration order.
    hazard_point_id: Mapped[int | None] = mapped_column(Integer, index=True)
    properties: Mapped[dict[str, Any] | None] = mapped_column(json_type())
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    datastreams: Mapped[list[Datastream]] = relationship(back_populates="station")


class Sensor(Base):
    """An instrument model (SensorThings Sensor)."""

    __tablename__ = "mon_sensor"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    #: How the sensor is described (SensorThings ``encodingType``/``metadata``), free form.
    metadata_json: Mapped[dict[str, Any] | None] = mapped_column(json_type())


class ObservedProperty(Base):
    """What is observed, with default quality-control limits in SI units.

    ``range_min``/``range_max`` bound a plausible value; ``max_rate_per_s`` is the largest
    plausible change between consecutive values per second (spike test); ``stuck_after_s`` flags a
    value unchanged for that long (None: never, e.g. rain that is 0 for weeks).
    """

    __tablename__ = "mon_observed_property"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name_zh: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(100))
    definition: Mapped[str | None] = mapped_column(String(300))
    #: The SI unit values are stored in ("m", "m3/s", "1").
    si_unit: Mapped[str] = mapped_column(String(16))
    range_min: Mapped[float | None] = mapped_column(Float)
    range_max: Mapped[float | None] = mapped_column(Float)
    max_rate_per_s: Mapped[float | None] = mapped_column(Float)
    stuck_after_s: Mapped[float | None] = mapped_column(Float)


class Datastream(Base):
    """Station × observed property × unit, named by a unique, stable ``code``.

    ``unit`` is the unit the sensor sends and people read; values are stored in SI. River gauges
    carry their warning and guarantee levels (警戒/保证水位, m above the gauge datum).
    """

    __tablename__ = "mon_datastream"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    station_id: Mapped[int] = mapped_column(
        ForeignKey("mon_station.id", ondelete="CASCADE"), index=True
    )
    sensor_id: Mapped[int | None] = mapped_column(
        ForeignKey("mon_sensor.id", ondelete="SET NULL"), index=True
    )
    observed_property_id: Mapped[int] = mapped_column(
        ForeignKey("mon_observed_property.id", ondelete="RESTRICT"), index=True
    )
    unit: Mapped[str] = mapped_column(String(16))
    #: Reporting interval, s (rain per interval); None for instantaneous values.
    interval_s: Mapped[int | None] = mapped_column(Integer)
    #: Per-datastream overrides of the property's range, SI.
    range_min: Mapped[float | None] = mapped_column(Float)
    range_max: Mapped[float | None] = mapped_column(Float)
    warning_level_m: Mapped[float | None] = mapped_column(Float)
    guarantee_level_m: Mapped[float | None] = mapped_column(Float)
    #: Latest observation (by phenomenon time), SI, with its flags; the fast path.
    last_time: Mapped[datetime | None] = mapped_column()
    last_value: Mapped[float | None] = mapped_column(Float)
    last_flags: Mapped[int | None] = mapped_column(Integer)
    #: When the current run of identical values began (stuck-sensor test).
    same_since: Mapped[datetime | None] = mapped_column()

    station: Mapped[Station] = relationship(back_populates="datastreams")
    observed_property: Mapped[ObservedProperty] = relationship()
    sensor: Mapped[Sensor | None] = relationship()


class Observation(Base):
    """One value (SI) at one phenomenon time; ``flags`` is a :class:`~fangxun.monitoring.qc.Flag`
    bit set (0 = passed every check)."""

    __tablename__ = "mon_observation"
    __table_args__ = (
        UniqueConstraint("datastream_id", "phenomenon_time"),
        Index("ix_mon_observation_time", "phenomenon_time"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    datastream_id: Mapped[int] = mapped_column(ForeignKey("mon_datastream.id", ondelete="CASCADE"))
    phenomenon_time: Mapped[datetime] = mapped_column()
    value: Mapped[float] = mapped_column(Float)
    flags: Mapped[int] = mapped_column(Integer, default=0)
    #: Indexed for the ingest-rate metric and "what arrived lately" (migration 0012).
    received_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class DeadLetter(Base):
    """An input that could not be stored: the reason, where it came from and the raw payload."""

    __tablename__ = "mon_dead_letter"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    received_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    source: Mapped[Source] = mapped_column(string_enum(Source, "ingest_source"))
    #: MQTT topic, HTTP client, CSV file and line.
    origin: Mapped[str | None] = mapped_column(String(300))
    reason: Mapped[str] = mapped_column(String(500))
    #: The offending item, or the whole payload when it could not be split (decoded as UTF-8 with
    #: replacement).
    raw: Mapped[str] = mapped_column(Text)


class Sl651Station(Base):
    """An SL 651-2014 telemetry station (遥测站): its 10-digit BCD address mapped to a station,
    and its element identifiers mapped to datastreams.

    ``elements`` maps an element id (``"PN05"``, ``"DRP"``, ``"Z"``...) to a datastream code, or to
    null to ignore that element on purpose; an element missing here falls back to the defaults of
    :mod:`fangxun.monitoring.ingest.sl651_ingest` (5-min and 1-h rain to the station's rainfall
    datastreams of that interval, PT to accumulated rain, Z/DRZ1 to its water level), else it is a
    dead letter. ``password``, when set, must match the frames' password.
    """

    __tablename__ = "mon_sl651_station"

    id: Mapped[int] = mapped_column(primary_key=True)
    address: Mapped[str] = mapped_column(String(10), unique=True)
    station_id: Mapped[int] = mapped_column(
        ForeignKey("mon_station.id", ondelete="CASCADE"), index=True
    )
    password: Mapped[int | None] = mapped_column(Integer)
    elements: Mapped[dict[str, Any] | None] = mapped_column(json_type())
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    station: Mapped[Station] = relationship()


class MonitoringAlarm(Base):
    """A technical alarm about the monitoring network (kind ``stale``: no data for too long)."""

    __tablename__ = "mon_alarm"

    id: Mapped[int] = mapped_column(primary_key=True)
    station_id: Mapped[int] = mapped_column(
        ForeignKey("mon_station.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(32))
    message: Mapped[str] = mapped_column(String(300))
    raised_at: Mapped[datetime] = mapped_column(default=utcnow)
    cleared_at: Mapped[datetime | None] = mapped_column()

    station: Mapped[Station] = relationship()
