"""Scheduled forecasts: a run every ``Settings.forecast_interval_s`` while it rains or while a
warning is in force, plus runs on demand (API, CLI).

"It rains" = some rain gauge recorded rain (an unflagged observation > 0) within the last
interval. "A warning is in force" is a pluggable predicate: the warnings domain registers one with
:func:`register_trigger` (until it exists, only rain triggers). A scheduled run is due when the
last run (of any status) was issued at least one interval ago and nothing is queued or running
(a queued or running run older than 4 intervals, at least 1 h, counts as a dead job). Only
operational runs count: a what-if (scenario) or drill (exercise) run never delays the forecast in
force, and every scheduled run is operational.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import Engine, exists, select
from sqlalchemy.orm import Session

from fangxun.audit.service import SystemActor
from fangxun.config import Settings
from fangxun.db import session_scope
from fangxun.db.types import utcnow
from fangxun.forecast import service
from fangxun.forecast.models import ForecastRun, RunPurpose, RunStatus
from fangxun.forecast.schemas import ForecastRunCreate, NowcastRain

#: A trigger: (session, now) → a reason to run (str) or None.
Trigger = Callable[[Session, datetime], str | None]

_TRIGGERS: dict[str, Trigger] = {}

SCHEDULER = SystemActor(username="forecast-scheduler")


def register_trigger(name: str, trigger: Trigger) -> None:
    """Add (or replace) a trigger, e.g. ``"warning"`` from the warnings domain."""
    _TRIGGERS[name] = trigger


def unregister_trigger(name: str) -> None:
    """Remove a trigger (no error when absent)."""
    _TRIGGERS.pop(name, None)


def raining(*, session: Session, now: datetime, window_s: float) -> bool:
    """True when a rain gauge recorded rain (> 0, unflagged) in ``(now − window, now]``."""
    from fangxun.monitoring.models import Datastream, Observation, ObservedProperty

    stmt = select(
        exists().where(
            Observation.datastream_id == Datastream.id,
            Datastream.observed_property_id == ObservedProperty.id,
            ObservedProperty.code == "rainfall",
            Observation.flags == 0,
            Observation.value > 0.0,
            Observation.phenomenon_time > now - timedelta(seconds=window_s),
            Observation.phenomenon_time <= now,
        )
    )
    return bool(session.scalar(stmt))


def reason_to_run(*, session: Session, settings: Settings, now: datetime) -> str | None:
    """Why a scheduled run is due now, or None (no trigger, too soon, or a run in progress)."""
    # A queued/running run blocks the next one, unless it is so old that its job must have died.
    stale_before = now - timedelta(seconds=max(4 * settings.forecast_interval_s, 3600))
    busy = session.scalar(
        select(
            exists().where(
                ForecastRun.status.in_([RunStatus.queued, RunStatus.running]),
                ForecastRun.purpose == RunPurpose.operational,
                ForecastRun.created_at > stale_before,
            )
        )
    )
    if busy:
        return None
    last = session.scalars(
        select(ForecastRun)
        .where(ForecastRun.purpose == RunPurpose.operational)
        .order_by(ForecastRun.issued_at.desc())
        .limit(1)
    ).first()
    if last is not None and (now - last.issued_at).total_seconds() < settings.forecast_interval_s:
        return None
    if raining(session=session, now=now, window_s=settings.forecast_interval_s):
        return "rain at the gauges"
    for name, trigger in _TRIGGERS.items():
        why = trigger(session, now)
        if why:
            return f"{name}: {why}"
    return None


def tick(db: Engine, settings: Settings, *, now: datetime | None = None) -> int | None:
    """Queue a nowcast run when one is due; returns its id (the caller executes it) or None."""
    now = now or utcnow()
    with session_scope(db) as session:
        why = reason_to_run(session=session, settings=settings, now=now)
        if why is None:
            return None
        run = service.create_run(
            session=session,
            run_in=ForecastRunCreate(rain=NowcastRain(), purpose=RunPurpose.operational),
            actor=SCHEDULER,
            settings=settings,
        )
        run.issued_at = now
        run.params = {**run.params, "trigger": why}
        return run.id
