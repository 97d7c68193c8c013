"""Pydantic schemas of the monitoring API: create/read models and derived-value shapes.

Values are given and returned in the datastream's unit (``mm``, ``cm``, ``m``, ``m3/s``, ``1``);
rain totals in millimetres; times ISO 8601 with offset (returned in UTC).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from fangxun.monitoring.models import StationKind
from fangxun.monitoring.units import SI_FACTORS

_CODE = r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class StationCreate(_Strict):
    """A new station; ``lon``/``lat`` WGS 84 degrees, ``elevation_m`` metres."""

    code: str = Field(min_length=1, max_length=64, pattern=_CODE)
    name_zh: str = Field(min_length=1, max_length=200)
    name_en: str | None = Field(default=None, max_length=200)
    kind: StationKind
    lon: float = Field(ge=-180, le=180)
    lat: float = Field(ge=-90, le=90)
    elevation_m: float | None = None
    unit_id: int | None = None
    hazard_point_id: int | None = None
    properties: dict[str, Any] | None = None


class StationRead(BaseModel):
    """A station as stored."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    code: str
    name_zh: str
    name_en: str | None
    kind: StationKind
    lon: float
    lat: float
    elevation_m: float | None
    unit_id: int | None
    hazard_point_id: int | None
    is_active: bool


class ObservedPropertyCreate(_Strict):
    """A property with its quality-control limits in SI (m, m³/s, 1; rate per second)."""

    code: str = Field(min_length=1, max_length=64, pattern=_CODE)
    name_zh: str
    name_en: str
    definition: str | None = None
    si_unit: Literal["m", "m3/s", "1"]
    range_min: float | None = None
    range_max: float | None = None
    max_rate_per_s: float | None = Field(default=None, gt=0)
    stuck_after_s: float | None = Field(default=None, gt=0)


class DatastreamCreate(_Strict):
    """A datastream: ``station_code`` × ``observed_property`` (code) × ``unit``.

    River-level limits ``warning_level_m``/``guarantee_level_m`` are metres above the gauge datum.
    """

    code: str = Field(min_length=1, max_length=64, pattern=_CODE)
    name: str = Field(min_length=1, max_length=200)
    station_code: str
    observed_property: str
    unit: str
    interval_s: int | None = Field(default=None, gt=0)
    sensor_code: str | None = None
    range_min: float | None = None
    range_max: float | None = None
    warning_level_m: float | None = None
    guarantee_level_m: float | None = None

    @field_validator("unit")
    @classmethod
    def _unit(cls, value: str) -> str:
        if value not in SI_FACTORS:
            raise ValueError(f"unknown unit {value!r}; use one of {', '.join(sorted(SI_FACTORS))}")
        return value


class DatastreamRead(BaseModel):
    """A datastream with its latest value (in ``unit``) and QC flag names."""

    id: int
    code: str
    name: str
    station_code: str
    observed_property: str
    unit: str
    interval_s: int | None
    warning_level_m: float | None
    guarantee_level_m: float | None
    last_time: datetime | None
    last_value: float | None
    last_flags: list[str]
    #: River gauges: "normal", "warning" (≥ 警戒水位) or "guarantee" (≥ 保证水位); else None.
    level_status: str | None = None


class ObservationRead(BaseModel):
    """One observation in its datastream's unit."""

    time: datetime
    value: float
    flags: list[str]


class ObservationIn(BaseModel):
    """One observation on the wire (documentation of ``POST /observations``; parsing is done by
    :mod:`fangxun.monitoring.ingest.parser`)."""

    datastream: str
    time: datetime = Field(description="ISO 8601 with a UTC offset")
    value: float = Field(description="In the datastream's unit")


class ItemResultRead(BaseModel):
    """The outcome of one item of a posted payload."""

    index: int
    status: Literal["stored", "duplicate", "rejected"]
    reason: str | None = None
    flags: list[str] = []


class IngestResponse(BaseModel):
    """Totals and per-item results of ``POST /observations``."""

    stored: int
    duplicates: int
    rejected: int
    items: list[ItemResultRead]


class DeadLetterRead(BaseModel):
    """An input that was not stored."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    received_at: datetime
    source: str
    origin: str | None
    reason: str
    raw: str


class RainTotals(BaseModel):
    """Rolling rain totals of one gauge ending at ``end``, mm; windows keyed ``10m``…``24h``."""

    datastream: str
    station_code: str
    end: datetime
    totals_mm: dict[str, float]
    event_total_mm: float
    event_start: datetime | None


class ArealRain(BaseModel):
    """Areal (district) rain over a window by inverse distance weighting, mm."""

    end: datetime
    window_s: int
    method: Literal["idw"]
    power: float
    mean_mm: float
    gauges: dict[str, float]
    samples: int


class StaleStation(BaseModel):
    """A station with no observation for too long."""

    code: str
    name_zh: str
    kind: StationKind
    last_time: datetime | None
    silent_s: float | None
