"""Forecast models: runs (jobs with a status) and per-hazard-point results.

Depths in metres, times in seconds after the run's ``issued_at`` (SI); colours are the warning
thresholds of the point (blue, yellow, orange, red).
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fangxun.db.base import Base
from fangxun.db.types import json_type, string_enum, utcnow


class RunStatus(enum.StrEnum):
    """Job states: queued → running → done | failed."""

    queued = "queued"
    running = "running"
    done = "done"
    failed = "failed"


class RainSource(enum.StrEnum):
    """Where a run's rain comes from."""

    design = "design"  # a design storm (Chicago hyetograph from the storm formula)
    series = "series"  # an uploaded forecast series
    nowcast = "nowcast"  # persistence with decay from the observed gauges


class RunPurpose(enum.StrEnum):
    """What a run is for. Only ``operational`` runs can be the forecast in force and raise live
    warnings; ``scenario`` runs (what-if, design storm, consultation 会商推演) are shown and never
    warn; ``exercise`` runs (drills 演练) raise warnings marked CAP ``Exercise`` that reach only
    the drill's people."""

    operational = "operational"  # scheduled, or started as such by a duty officer
    scenario = "scenario"  # what-if, design storm, uploaded series, consultation
    exercise = "exercise"  # a drill


class WarmStartKind(enum.StrEnum):
    """Where a run's initial water came from."""

    run = "run"  # the previous forecast's depth field
    observations = "observations"  # the ponding sensors' readings, spread over their low areas
    dry = "dry"  # no water


class ForecastRun(Base):
    """One forecast run (a job). ``params`` holds the request; ``summary`` what the run found."""

    __tablename__ = "forecast_run"

    id: Mapped[int] = mapped_column(primary_key=True)
    status: Mapped[RunStatus] = mapped_column(
        string_enum(RunStatus, "forecast_run_status"), default=RunStatus.queued, index=True
    )
    rain_source: Mapped[RainSource] = mapped_column(string_enum(RainSource, "forecast_rain_source"))
    #: What the run is for (see :class:`RunPurpose`); only operational runs can be in force.
    purpose: Mapped[RunPurpose] = mapped_column(
        string_enum(RunPurpose, "forecast_run_purpose"),
        default=RunPurpose.operational,
        server_default=RunPurpose.operational.value,
        index=True,
    )
    #: The drill an exercise run belongs to (its warnings reach only the drill's people).
    drill_id: Mapped[int | None] = mapped_column(
        ForeignKey("supplies_drill.id", ondelete="SET NULL"), index=True
    )
    params: Mapped[dict[str, Any]] = mapped_column(json_type())
    members: Mapped[int] = mapped_column(Integer, default=1)
    horizon_s: Mapped[float] = mapped_column(Float)
    #: Fraction of the work done, 0–1.
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    #: Failure reason, or notes (warm start, points off the grid).
    message: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(64))
    #: Time zero of the forecast's clock.
    issued_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column()
    finished_at: Mapped[datetime | None] = mapped_column()
    warm_start_run_id: Mapped[int | None] = mapped_column(Integer)
    #: Which warm start the run used (set when it finishes; see :class:`WarmStartKind`).
    warm_start_kind: Mapped[WarmStartKind | None] = mapped_column(
        string_enum(WarmStartKind, "forecast_warm_start_kind")
    )
    #: Folder of the run's files, relative to ``data_dir``.
    output_dir: Mapped[str | None] = mapped_column(String(300))
    #: Overlay bounds for the map: [south, west, north, east], degrees.
    bounds: Mapped[list[float] | None] = mapped_column(json_type())
    summary: Mapped[dict[str, Any] | None] = mapped_column(json_type())
    #: Skill after the event, per point and threshold.
    skill: Mapped[dict[str, Any] | None] = mapped_column(json_type())

    points: Mapped[list[ForecastPointResult]] = relationship(
        back_populates="run", cascade="all, delete-orphan", order_by="ForecastPointResult.id"
    )


class ForecastPointResult(Base):
    """The forecast at one hazard point: depth series of the control member, peak, crossings,
    ensemble probabilities of exceeding each threshold."""

    __tablename__ = "forecast_point_result"
    __table_args__ = (UniqueConstraint("run_id", "point_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(
        ForeignKey("forecast_run.id", ondelete="CASCADE"), index=True
    )
    point_id: Mapped[int] = mapped_column(
        ForeignKey("hazard_point.id", ondelete="CASCADE"), index=True
    )
    row: Mapped[int] = mapped_column(Integer)
    col: Mapped[int] = mapped_column(Integer)
    times_s: Mapped[list[float]] = mapped_column(json_type())
    depth_m: Mapped[list[float]] = mapped_column(json_type())
    peak_depth_m: Mapped[float] = mapped_column(Float)
    peak_time_s: Mapped[float] = mapped_column(Float)
    #: colour → seconds after ``issued_at`` until the depth first reaches it (None: never).
    time_to_threshold_s: Mapped[dict[str, float | None]] = mapped_column(json_type())
    #: colour → probability (0–1) that the peak reaches it.
    probability: Mapped[dict[str, float]] = mapped_column(json_type())
    #: Peak depth of each ensemble member, m (member 0 is the control).
    member_peaks_m: Mapped[list[float]] = mapped_column(json_type())
    #: colour → threshold used, m (a copy: the ledger may change later).
    thresholds_m: Mapped[dict[str, float]] = mapped_column(json_type())
    #: Ranking key: highest colour index reached with probability weight (see service.risk_score).
    risk: Mapped[float] = mapped_column(Float, default=0.0)

    run: Mapped[ForecastRun] = relationship(back_populates="points")
