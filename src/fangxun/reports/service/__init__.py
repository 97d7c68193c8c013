"""Report services: detect storm events in the rain gauges' observations, per-point statistics of
an event, cause suggestions and their confirmation, the review's rectifications, the season
summary. Keyword-only; never commit.

Who may do what: every logged-in role reads events (rain is district-wide); point statistics are
limited to the actor's jurisdiction. ``admin``, ``district`` and ``duty`` detect events;
``admin``, ``district`` and ``unit`` confirm causes; opening rectifications follows the hazard
ledger's rule (:func:`fangxun.hazards.service.create_rectification`).

Observations flagged by quality control are left out of every figure.
"""

from __future__ import annotations

from fangxun.reports.models import StormEvent as StormEvent  # callers annotate with it
from fangxun.reports.service.causes import (
    cause_context,
    causes_of,
    confirm_cause,
    review_items_of,
    suggest,
)
from fangxun.reports.service.common import (
    CAUSE_LABELS_ZH,
    CAUSE_MEASURES_ZH,
    COLOURS,
    CONFIRM_ROLES,
    DETECT_ROLES,
    cause_label,
    local,
)
from fangxun.reports.service.events import detect_events, get_event, hyetograph, list_events
from fangxun.reports.service.points import (
    ForecastCompare,
    PointStats,
    WarningFacts,
    event_incidents,
    event_window,
    forecast_runs_of,
    point_statistics,
    rainstorm_signals,
)
from fangxun.reports.service.rain import GaugeInfo, rain_gauges, rain_series
from fangxun.reports.service.report import EventReport, build_report
from fangxun.reports.service.review import (
    ReviewOutcome,
    UnitProgress,
    create_rectifications,
    review_progress,
)
from fangxun.reports.service.season import SeasonPoint, SeasonSummary, season_summary

__all__ = [
    "CAUSE_LABELS_ZH",
    "CAUSE_MEASURES_ZH",
    "COLOURS",
    "CONFIRM_ROLES",
    "DETECT_ROLES",
    "EventReport",
    "ForecastCompare",
    "GaugeInfo",
    "PointStats",
    "ReviewOutcome",
    "SeasonPoint",
    "SeasonSummary",
    "UnitProgress",
    "WarningFacts",
    "build_report",
    "cause_context",
    "cause_label",
    "causes_of",
    "confirm_cause",
    "create_rectifications",
    "detect_events",
    "event_incidents",
    "event_window",
    "forecast_runs_of",
    "get_event",
    "hyetograph",
    "list_events",
    "local",
    "point_statistics",
    "rain_gauges",
    "rain_series",
    "rainstorm_signals",
    "review_items_of",
    "review_progress",
    "season_summary",
    "suggest",
]
