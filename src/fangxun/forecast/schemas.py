"""Forecast request and response shapes. Rain in mm/h and depths in cm on the wire; SI inside."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from fangxun.forecast.models import RainSource, RunPurpose, RunStatus, WarmStartKind


class DesignRain(BaseModel):
    """A Chicago design storm from the configured storm intensity formula."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["design"] = "design"
    storm: Literal["chicago"] = "chicago"
    return_period_years: float = Field(gt=0, le=1000)
    duration_s: float = Field(gt=0, le=48 * 3600)
    step_s: float = Field(default=300.0, gt=0, le=3600)
    peak_ratio: float = Field(default=0.4, ge=0, le=1)


class SeriesRain(BaseModel):
    """A rain forecast: intensities (mm/h) in blocks of ``step_s`` seconds from the start."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["series"] = "series"
    step_s: float = Field(gt=0, le=6 * 3600)
    intensity_mm_h: list[Annotated[float, Field(ge=0, le=500)]] = Field(min_length=1)


class NowcastRain(BaseModel):
    """Persistence with decay from the observed gauges (see fangxun.forecast.rainsource)."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["nowcast"] = "nowcast"


RainSpec = Annotated[DesignRain | SeriesRain | NowcastRain, Field(discriminator="kind")]


class ForecastRunCreate(BaseModel):
    """Start a forecast run. Unset fields take the configured defaults.

    ``purpose`` unset: a nowcast from the gauges is ``operational``; a design storm or an uploaded
    series is a ``scenario`` (what-if) unless a duty officer names it ``operational``. An
    ``exercise`` run names its drill (``drill_id``).
    """

    model_config = ConfigDict(extra="forbid")
    rain: RainSpec = Field(default_factory=NowcastRain)
    purpose: RunPurpose | None = None
    drill_id: int | None = Field(default=None, ge=1)
    horizon_s: float | None = Field(default=None, gt=0, le=48 * 3600)
    members: int | None = Field(default=None, ge=1, le=200)
    seed: int | None = None
    warm_start: bool = True


class ForecastRunRead(BaseModel):
    """A forecast run: its status, progress and summary. ``is_current``: the forecast in force."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    status: RunStatus
    rain_source: RainSource
    #: operational (can be in force and warn), scenario (what-if, 会商推演) or exercise (演练).
    purpose: RunPurpose = RunPurpose.operational
    drill_id: int | None = None
    params: dict[str, Any]
    members: int
    horizon_s: float
    progress: float
    message: str | None
    created_at: datetime
    created_by: str
    issued_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    warm_start_run_id: int | None
    #: Which warm start the run used: run, observations or dry (None until it finishes).
    warm_start_kind: WarmStartKind | None = None
    bounds: list[float] | None
    summary: dict[str, Any] | None
    skill: dict[str, Any] | None
    is_current: bool = False


class PointForecastRead(BaseModel):
    """The forecast at one hazard point (depths in cm, times in s after ``issued_at``)."""

    point_id: int
    code: str
    name: str
    lon: float
    lat: float
    row: int
    col: int
    times_s: list[float]
    depth_cm: list[float]
    peak_depth_cm: float
    peak_time_s: float
    peak_time: datetime
    thresholds_cm: dict[str, float]
    time_to_threshold_s: dict[str, float | None]
    probability: dict[str, float]
    member_peaks_cm: list[float]
    risk: float


class ObservedPeak(BaseModel):
    """What a ponding sensor saw at a point during an event: peak depth (cm) and first crossing
    times (UTC) of each colour (None: never reached)."""

    point_id: int
    peak_depth_cm: float
    crossings: dict[str, datetime | None] = Field(default_factory=dict)
