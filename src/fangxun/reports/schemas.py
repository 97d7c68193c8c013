"""Report schemas: storm events, per-point statistics, cause confirmation, the review's outcome.

Served in the units people read (mm of rain, cm of water, s for durations) with times in UTC
(ISO 8601 with offset); the models keep SI.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

#: Largest id a 32-bit INTEGER column holds.
MAX_ID = 2**31 - 1


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class DetectIn(_Strict):
    """Detect storm events in the rain observations between ``start`` and ``end`` (default: all)."""

    start: AwareDatetime | None = None
    end: AwareDatetime | None = None


class StormEventRead(BaseModel):
    """A storm event with its rain figures (mm)."""

    id: int
    name: str
    start: datetime
    end: datetime
    status: str
    total_mm: float
    mean_total_mm: float
    max_1h_mm: float
    max_3h_mm: float
    max_12h_mm: float
    max_24h_mm: float
    grade: str = Field(description="GB/T 28592 grade code: none, rainstorm, heavy_rainstorm, …")
    return_period_years: float | None = Field(description="From the configured storm formula")
    peak_gauge: str | None


class SuggestionRead(BaseModel):
    """A cause the data points to, with the evidence in words."""

    cause: str
    evidence: str


class PointStatsRead(BaseModel):
    """One hazard point over one event."""

    rank: int
    point_id: int
    code: str
    name: str
    unit_id: int
    unit_name: str
    max_depth_cm: float
    max_at: datetime | None
    above_ponding_s: float
    above_threshold_s: dict[str, float]
    time_to_drain_s: float | None
    forecast_peak_cm: float | None
    forecast_error_cm: float | None
    warnings: int | None = Field(description="None: no warnings data in this database")
    warning_lead_s: float | None
    incidents: int
    suggestions: list[SuggestionRead]
    cause: str | None
    cause_evidence: str | None


class StormEventDetail(StormEventRead):
    """An event with its points, worst first."""

    points: list[PointStatsRead]


class CauseIn(_Strict):
    """Confirm the cause of ponding at a point (a code of ``FANGXUN_REPORT_CAUSES``)."""

    point_id: int = Field(ge=1, le=MAX_ID)
    cause: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    evidence: Annotated[str, StringConstraints(max_length=2000)] | None = None


class CauseRead(BaseModel):
    """A confirmed cause."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    event_id: int
    point_id: int
    cause: str
    evidence: str | None
    confirmed_by: str
    confirmed_at: datetime


class ReviewItemRead(BaseModel):
    """A problem the review found and the rectification it opened."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    event_id: int
    point_id: int
    unit_id: int
    cause: str
    problem: str
    rectification_id: int | None
    deadline: datetime


class ReviewOutcomeRead(BaseModel):
    """What the review did: items opened, points skipped (code, why)."""

    created: list[ReviewItemRead]
    skipped: list[tuple[str, str]]
