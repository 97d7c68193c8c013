"""Forecast skill after an event: per point and threshold, hit / miss / false alarm / correct
negative, and the lead time gained.

The forecast says "yes" for a colour when the control run's depth reached its threshold within
the horizon; the observation says "yes" when the ponding sensor at the point reached it within
the same window ``[issued_at, issued_at + horizon]``. For a hit, the **lead time gained** is the
time from the forecast's issue to the observed crossing (s): how long ahead the duty officer knew.
Totals per colour give POD = hits/(hits+misses), FAR = false alarms/(hits+false alarms) and
CSI = hits/(hits+misses+false alarms) (None when undefined).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from fangxun.forecast.engine import COLOURS
from fangxun.forecast.models import ForecastPointResult, ForecastRun, RunStatus
from fangxun.forecast.service import get_run

#: An observed depth series: (time, depth m) pairs.
Series = Sequence[tuple[datetime, float]]


def outcome(forecast_yes: bool, observed_yes: bool) -> str:
    """Contingency-table cell of one forecast/observation pair."""
    if forecast_yes:
        return "hit" if observed_yes else "false_alarm"
    return "miss" if observed_yes else "correct_negative"


def _ratio(num: int, den: int) -> float | None:
    return num / den if den else None


def score(
    *,
    run: ForecastRun,
    results: Sequence[ForecastPointResult],
    observed: Mapping[int, Series],
) -> dict[str, Any]:
    """Skill of ``run`` against observed series per point id (points without one are skipped)."""
    start = run.issued_at
    end = start + timedelta(seconds=run.horizon_s)
    points: dict[str, Any] = {}
    totals = {
        c: dict.fromkeys(("hit", "miss", "false_alarm", "correct_negative"), 0) for c in COLOURS
    }
    leads: dict[str, list[float]] = {c: [] for c in COLOURS}
    for res in results:
        series = sorted((t, d) for t, d in observed.get(res.point_id, ()) if start <= t <= end)
        if not series:
            continue
        per: dict[str, Any] = {}
        for colour in COLOURS:
            thr = res.thresholds_m[colour]
            crossing = next((t for t, d in series if d >= thr), None)
            fc = res.time_to_threshold_s.get(colour) is not None
            cell = outcome(fc, crossing is not None)
            totals[colour][cell] += 1
            entry: dict[str, Any] = {"outcome": cell}
            if crossing is not None:
                entry["observed_crossing"] = crossing.isoformat()
            if cell == "hit" and crossing is not None:
                lead = (crossing - start).total_seconds()
                entry["lead_time_s"] = lead
                entry["forecast_crossing_s"] = res.time_to_threshold_s[colour]
                leads[colour].append(lead)
            per[colour] = entry
        per["observed_peak_m"] = max(d for _, d in series)
        per["forecast_peak_m"] = res.peak_depth_m
        points[str(res.point_id)] = per
    summary: dict[str, Any] = {}
    for colour, t in totals.items():
        h, m, f = t["hit"], t["miss"], t["false_alarm"]
        summary[colour] = {
            **t,
            "pod": _ratio(h, h + m),
            "far": _ratio(f, h + f),
            "csi": _ratio(h, h + m + f),
            "mean_lead_time_s": sum(leads[colour]) / len(leads[colour]) if leads[colour] else None,
        }
    return {"window": [start.isoformat(), end.isoformat()], "points": points, "totals": summary}


def observed_from_sensors(
    *, session: Session, run: ForecastRun
) -> dict[int, list[tuple[datetime, float]]]:
    """Ponding-depth observations (m, unflagged) in the run's window, per hazard point of the
    sensor's station."""
    from fangxun.monitoring.models import Datastream, Observation, ObservedProperty, Station

    start = run.issued_at
    end = start + timedelta(seconds=run.horizon_s)
    rows = session.execute(
        select(Station.hazard_point_id, Observation.phenomenon_time, Observation.value)
        .join(Datastream, Datastream.station_id == Station.id)
        .join(ObservedProperty, ObservedProperty.id == Datastream.observed_property_id)
        .join(Observation, Observation.datastream_id == Datastream.id)
        .where(
            Station.hazard_point_id.is_not(None),
            ObservedProperty.code == "ponding_depth",
            Observation.flags == 0,
            Observation.phenomenon_time >= start,
            Observation.phenomenon_time <= end,
        )
    ).all()
    out: dict[int, list[tuple[datetime, float]]] = {}
    for pid, t, v in rows:
        if pid is None:
            continue
        out.setdefault(int(pid), []).append((t, float(v)))
    return out


def score_run(
    *,
    session: Session,
    run_id: int,
    observed: Mapping[int, Series] | None = None,
) -> dict[str, Any]:
    """Score a done run against ``observed`` (default: the ponding sensors) and store it on the
    run (``run.skill``)."""
    run = get_run(session=session, run_id=run_id)
    if run.status != RunStatus.done:
        raise ValueError(f"forecast run {run_id} is {run.status.value}: only done runs are scored")
    obs = observed if observed is not None else observed_from_sensors(session=session, run=run)
    results = list(
        session.scalars(select(ForecastPointResult).where(ForecastPointResult.run_id == run.id))
    )
    run.skill = score(run=run, results=results, observed=obs)
    session.flush()
    return run.skill
