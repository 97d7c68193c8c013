"""The forecast's part of a consultation briefing (会商研判): the operational forecast in force at
the briefing's time, the hazard points it puts at risk in the reader's jurisdiction, and the recent
what-if runs, each labelled a scenario (情景推演) so that nobody reads one as the forecast.

Called by :func:`fangxun.briefings.service.gather`; returns JSON-ready data. Depths in cm and
times ISO 8601 (UTC) at this edge.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from fangxun.forecast import service
from fangxun.forecast.models import ForecastRun, RunPurpose, RunStatus
from fangxun.org.permissions import Actor

#: Most points at risk listed; most scenario runs listed, and how far back they are looked for.
MAX_POINTS: Final = 20
MAX_SCENARIOS: Final = 5
SCENARIO_WINDOW: Final = timedelta(hours=24)
#: How a run's purpose is named in the briefing (Chinese, the briefing's language).
PURPOSE_LABELS: Final = {
    RunPurpose.operational: "业务预报",
    RunPurpose.scenario: "情景推演（会商），非现行预报",
    RunPurpose.exercise: "演练",
}
COLOURS: Final = ("blue", "yellow", "orange", "red")


def points_at_risk(
    *, session: Session, actor: Actor, run: ForecastRun, limit: int = MAX_POINTS
) -> list[dict[str, Any]]:
    """The points of ``run`` in the actor's jurisdiction with a risk above zero, highest first."""
    out = []
    for res in service.point_results(session=session, run_id=run.id, actor=actor)[:limit]:
        if res.risk <= 0:
            break
        reached = [c for c in COLOURS if res.time_to_threshold_s.get(c) is not None]
        out.append(
            {
                "id": res.point_id,
                "code": res.code,
                "name": res.name,
                "run_id": run.id,
                "peak_depth_cm": res.peak_depth_cm,
                "peak_time": res.peak_time.isoformat(),
                "colour": reached[-1] if reached else None,
                "probability": res.probability,
            }
        )
    return out


def _reaching(*, session: Session, actor: Actor, run: ForecastRun) -> dict[str, int]:
    """How many of the actor's points the run sees reach each colour."""
    counts = dict.fromkeys(COLOURS, 0)
    for res in service.point_results(session=session, run_id=run.id, actor=actor, order="id"):
        for c in COLOURS:
            if res.time_to_threshold_s.get(c) is not None:
                counts[c] += 1
    return counts


def _run(*, session: Session, actor: Actor, run: ForecastRun) -> dict[str, Any]:
    summary = run.summary or {}
    return {
        "run_id": run.id,
        "purpose": run.purpose.value,
        "label": PURPOSE_LABELS[run.purpose],
        "rain_source": run.rain_source.value,
        "issued_at": run.issued_at.isoformat(),
        "horizon_h": round(run.horizon_s / 3600.0, 2),
        "members": run.members,
        "rain_total_mm": summary.get("rain_total_mm"),
        "points_reaching": _reaching(session=session, actor=actor, run=run),
        "created_by": run.created_by,
    }


def briefing_section(*, session: Session, actor: Actor, at: datetime) -> dict[str, Any]:
    """The forecast section of a briefing at ``at`` (see the module docstring)."""
    run = service.current_run(session=session, at=at)
    scenarios = session.scalars(
        select(ForecastRun)
        .where(
            ForecastRun.purpose == RunPurpose.scenario,
            ForecastRun.status == RunStatus.done,
            ForecastRun.finished_at <= at,
            ForecastRun.finished_at > at - SCENARIO_WINDOW,
        )
        .order_by(ForecastRun.finished_at.desc(), ForecastRun.id.desc())
        .limit(MAX_SCENARIOS)
    )
    return {
        "in_force": _run(session=session, actor=actor, run=run) if run is not None else None,
        "points_at_risk": (
            points_at_risk(session=session, actor=actor, run=run) if run is not None else []
        ),
        "scenarios": [_run(session=session, actor=actor, run=r) for r in scenarios],
    }


__all__ = ["briefing_section", "points_at_risk"]
