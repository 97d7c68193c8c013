"""Warning rules: what the data say now, as :class:`Finding` objects (one per subject).

Each rule reads the database and returns, per subject, the value behind each colour and its
threshold; :func:`target_colour` turns that into a colour with **hysteresis** (a colour in force
is kept until its value falls below threshold − margin). The lifecycle in
:mod:`fangxun.warnings.service` adds the minimum hold time and issues the changes.

Rules (numbers from :class:`~fangxun.warnings.config.WarningRules`):

* ``rainstorm`` — per rain gauge, the rolling totals of clean 5-minute observations over each
  colour's window (blue 50 mm/12 h, yellow 50 mm/6 h, orange 50 mm/3 h, red 100 mm/3 h); the
  district signal takes the wettest gauge. With a current forecast run whose rain is an uploaded
  series, rain still to come within ``rain_forecast_lead_s`` counts too (a signal means the
  amount is reached *or expected*).
* ``ponding`` — the freshest clean depth of the ponding sensors at a hazard point against the
  point's ``threshold_*_m``.
* ``predicted_ponding`` — the operational forecast in force at a point: the depth reaches a
  threshold within ``predicted_lead_s``, with ensemble probability ≥ ``predicted_min_probability``.
  Scenario runs (what-if, 会商推演) never warn. Each exercise run (drill) whose horizon covers now
  gives the same findings under ``exercise:<run id>:`` subjects, marked ``exercise``.
* ``river_level`` — the latest level against the datastream's warning and guarantee levels.
* ``pump_failure`` — a pump station's power is off.
* ``stale_sensor`` — a critical station has an open ``stale`` monitoring alarm.

>>> lv = [Level("blue", 12.0, 50.0), Level("yellow", 49.0, 50.0)]
>>> target_colour(lv, current=None, margin=5.0) is None
True
>>> target_colour(lv, current="yellow", margin=5.0)   # 49 is within the 5 mm band: kept
'yellow'
>>> target_colour([Level("yellow", 44.0, 50.0)], current="yellow", margin=5.0) is None
True
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from fangxun.forecast.models import ForecastPointResult, ForecastRun, RunPurpose, RunStatus
from fangxun.hazards.models import HazardPoint, PointStatus
from fangxun.monitoring.models import (
    Datastream,
    MonitoringAlarm,
    Observation,
    ObservedProperty,
    Station,
    StationKind,
)
from fangxun.warnings.config import COLOURS, WarningRules
from fangxun.warnings.models import WarningKind, rank


@dataclass(frozen=True)
class Level:
    """The value behind one colour and that colour's threshold (same unit)."""

    colour: str
    value: float
    threshold: float


@dataclass
class Finding:
    """What one rule says about one subject now. ``levels`` empty and ``unknown`` true: no usable
    data (the lifecycle then changes nothing)."""

    subject: str
    kind: WarningKind
    levels: list[Level]
    margin: float
    unit_id: int | None = None
    hazard_point_id: int | None = None
    datastream_id: int | None = None
    station_id: int | None = None
    place: str | None = None
    predicted: bool = False
    unknown: bool = False
    evidence: dict[str, Any] = field(default_factory=dict)
    #: "operational", or "exercise" for a drill's finding (with its drill).
    purpose: str = "operational"
    drill_id: int | None = None


def target_colour(levels: Sequence[Level], *, current: str | None, margin: float) -> str | None:
    """The colour the levels call for, with hysteresis around ``current``.

    Raising follows the thresholds at once; a colour at or below ``current`` stays while its value
    is at least threshold − ``margin``.
    """
    raw: str | None = None
    for lv in levels:
        if lv.value >= lv.threshold and rank(lv.colour) > rank(raw):
            raw = lv.colour
    if rank(raw) >= rank(current):
        return raw
    keep = raw
    for lv in levels:
        if rank(keep) < rank(lv.colour) <= rank(current) and lv.value >= lv.threshold - margin:
            keep = lv.colour
    return keep


def _fresh(ds: Datastream, now: datetime, max_age_s: float) -> bool:
    return (
        ds.last_time is not None
        and ds.last_value is not None
        and (ds.last_flags or 0) == 0
        and now - timedelta(seconds=max_age_s) <= ds.last_time <= now
    )


def _streams(session: Session, prop: str, kinds: Sequence[StationKind]) -> list[Datastream]:
    stmt = (
        select(Datastream)
        .join(Station, Datastream.station_id == Station.id)
        .join(ObservedProperty, Datastream.observed_property_id == ObservedProperty.id)
        .where(ObservedProperty.code == prop, Station.is_active.is_(True), Station.kind.in_(kinds))
        .order_by(Datastream.id)
    )
    return list(session.scalars(stmt))


# --- rainstorm ---------------------------------------------------------------------------------


def rolling_total_mm(
    series: Sequence[tuple[datetime, float]], *, end: datetime, window_s: float
) -> float:
    """Total, mm, of interval depths (m, stamped at interval end) in ``(end - window, end]``."""
    start = end - timedelta(seconds=window_s)
    return sum(d for t, d in series if start < t <= end) * 1000.0


def _forecast_rain(
    session: Session, now: datetime, lead_s: float
) -> tuple[ForecastRun, Any] | None:
    """The current forecast run and its rain when that rain is an uploaded series covering now."""
    from fangxun.forecast import rainsource  # NumPy: only when a forecast run is in force
    from fangxun.forecast.service import current_run

    run = current_run(session=session)
    if run is None or lead_s <= 0:
        return None
    spec = (run.params or {}).get("rain") or {}
    if spec.get("kind") != "series":
        return None
    if not run.issued_at <= now < run.issued_at + timedelta(seconds=run.horizon_s):
        return None
    try:
        rain = rainsource.series_rain(float(spec["step_s"]), spec["intensity_mm_h"])
    except (KeyError, TypeError, ValueError):
        return None
    return run, rain


def rainstorm(*, session: Session, now: datetime, rules: WarningRules) -> list[Finding]:
    """The district rainstorm signal from the wettest gauge (observed, and expected)."""
    colours = [c for c in COLOURS if c in rules.rain]
    if not colours:
        return []
    streams = _streams(session, "rainfall", [StationKind.rain_gauge])
    if not streams:
        return []
    longest = max(rules.rain[c].window_s for c in colours)
    rows = session.execute(
        select(Observation.datastream_id, Observation.phenomenon_time, Observation.value).where(
            Observation.datastream_id.in_([ds.id for ds in streams]),
            Observation.phenomenon_time > now - timedelta(seconds=longest),
            Observation.phenomenon_time <= now,
            Observation.flags == 0,
        )
    ).all()
    by_stream: dict[int, list[tuple[datetime, float]]] = defaultdict(list)
    for ds_id, t, v in rows:
        by_stream[ds_id].append((t, float(v)))
    fc = _forecast_rain(session, now, rules.rain_forecast_lead_s)
    step = 300.0
    ends = [now]
    if fc is not None:
        n = int(rules.rain_forecast_lead_s // step)
        ends += [now + timedelta(seconds=step * k) for k in range(1, n + 1)]
    levels: list[Level] = []
    per_colour: dict[str, Any] = {}
    for c in colours:
        rule = rules.rain[c]
        best = (-1.0, "", now)
        for ds in streams:
            series = by_stream.get(ds.id, [])
            for end in ends:
                start = end - timedelta(seconds=rule.window_s)
                # Observed rain in (start, now], plus forecast rain in (max(start, now), end].
                observed = rolling_total_mm(
                    series, end=now, window_s=max((now - start).total_seconds(), 0.0)
                )
                total = observed
                if end > now and fc is not None:
                    run, rain = fc
                    a = (max(start, now) - run.issued_at).total_seconds()
                    b = (end - run.issued_at).total_seconds()
                    total += rain.depth_m(a, b) * 1000.0
                if total > best[0]:
                    best = (total, ds.code, end)
        value, code, at = best
        levels.append(Level(c, round(value, 3), rule.amount_mm))
        per_colour[c] = {
            "gauge": code,
            "total_mm": round(value, 1),
            "window_s": rule.window_s,
            "threshold_mm": rule.amount_mm,
            "source": "forecast" if at > now else "observed",
            "window_end": at.isoformat(),
        }
    evidence: dict[str, Any] = {"rule": "rainstorm", "colours": per_colour, "at": now.isoformat()}
    if fc is not None:
        evidence["forecast_run_id"] = fc[0].id
    predicted = False
    fired = [lv for lv in levels if lv.value >= lv.threshold]
    if fired:
        top = max(fired, key=lambda lv: rank(lv.colour))
        predicted = per_colour[top.colour]["source"] == "forecast"
    return [
        Finding(
            subject="rainstorm",
            kind=WarningKind.rainstorm,
            levels=levels,
            margin=rules.rain_margin_mm,
            predicted=predicted,
            evidence=evidence,
        )
    ]


# --- ponding -----------------------------------------------------------------------------------


def _thresholds(point: HazardPoint) -> dict[str, float]:
    return {
        "blue": point.threshold_blue_m,
        "yellow": point.threshold_yellow_m,
        "orange": point.threshold_orange_m,
        "red": point.threshold_red_m,
    }


def ponding(*, session: Session, now: datetime, rules: WarningRules) -> list[Finding]:
    """Observed ponding at each active hazard point with a depth sensor."""
    streams = _streams(session, "ponding_depth", [StationKind.ponding])
    by_point: dict[int, list[Datastream]] = defaultdict(list)
    for ds in streams:
        if ds.station.hazard_point_id is not None:
            by_point[ds.station.hazard_point_id].append(ds)
    if not by_point:
        return []
    points = session.scalars(
        select(HazardPoint).where(
            HazardPoint.id.in_(sorted(by_point)), HazardPoint.status == PointStatus.active
        )
    )
    out: list[Finding] = []
    for pt in points:
        fresh = [ds for ds in by_point[pt.id] if _fresh(ds, now, rules.depth_max_age_s)]
        finding = Finding(
            subject=f"ponding:{pt.id}",
            kind=WarningKind.ponding,
            levels=[],
            margin=rules.depth_margin_m,
            unit_id=pt.unit_id,
            hazard_point_id=pt.id,
            place=pt.name,
        )
        if not fresh:
            finding.unknown = True
            out.append(finding)
            continue
        ds = max(fresh, key=lambda d: d.last_value or 0.0)
        depth = float(ds.last_value or 0.0)
        thr = _thresholds(pt)
        finding.datastream_id = ds.id
        finding.levels = [Level(c, depth, thr[c]) for c in COLOURS]
        finding.evidence = {
            "rule": "ponding",
            "point_kind": pt.kind.value,
            "datastream": ds.code,
            "depth_m": round(depth, 4),
            "observed_at": ds.last_time.isoformat() if ds.last_time else None,
            "thresholds_m": thr,
        }
        out.append(finding)
    return out


def predicted_ponding(*, session: Session, now: datetime, rules: WarningRules) -> list[Finding]:
    """Ponding the operational forecast in force expects within the lead time, with enough
    probability (scenario and exercise runs are never in force)."""
    from fangxun.forecast.service import current_run

    run = current_run(session=session)
    if run is None or run.status != RunStatus.done or run.purpose is not RunPurpose.operational:
        return []
    return _predicted_for_run(session=session, run=run, now=now, rules=rules)


def exercise_predicted_ponding(
    *, session: Session, now: datetime, rules: WarningRules
) -> list[Finding]:
    """The predicted-ponding findings of every drill under way (exercise runs whose horizon
    covers ``now``), under subjects of their own so they never touch a live warning."""
    from fangxun.forecast.service import exercise_runs_in_window

    out: list[Finding] = []
    for run in exercise_runs_in_window(session=session, now=now):
        for f in _predicted_for_run(session=session, run=run, now=now, rules=rules):
            f.subject = f"exercise:{run.id}:{f.subject}"
            f.purpose = "exercise"
            f.drill_id = run.drill_id
            f.evidence["purpose"] = "exercise"
            f.evidence["drill_id"] = run.drill_id
            out.append(f)
    return out


def _predicted_for_run(
    *, session: Session, run: ForecastRun, now: datetime, rules: WarningRules
) -> list[Finding]:
    if not run.issued_at <= now <= run.issued_at + timedelta(seconds=run.horizon_s):
        return []
    rows = session.execute(
        select(ForecastPointResult, HazardPoint)
        .join(HazardPoint, HazardPoint.id == ForecastPointResult.point_id)
        .where(ForecastPointResult.run_id == run.id, HazardPoint.status == PointStatus.active)
        .order_by(HazardPoint.id)
    ).all()
    horizon = now + timedelta(seconds=rules.predicted_lead_s)
    out: list[Finding] = []
    for res, pt in rows:
        levels: list[Level] = []
        reached: dict[str, Any] = {}
        thr = dict(res.thresholds_m) if res.thresholds_m else _thresholds(pt)
        for c in COLOURS:
            t = (res.time_to_threshold_s or {}).get(c)
            prob = float((res.probability or {}).get(c, 0.0))
            if run.members <= 1:
                prob = 1.0 if t is not None else 0.0
            when = run.issued_at + timedelta(seconds=float(t)) if t is not None else None
            met = when is not None and when <= horizon and prob >= rules.predicted_min_probability
            # The peak depth stands for the colour only while its timing and probability hold.
            levels.append(Level(c, float(res.peak_depth_m) if met else 0.0, float(thr[c])))
            reached[c] = {
                "at": when.isoformat() if when else None,
                "probability": round(prob, 3),
                "met": met,
            }
        out.append(
            Finding(
                subject=f"predicted_ponding:{pt.id}",
                kind=WarningKind.predicted_ponding,
                levels=levels,
                margin=rules.depth_margin_m,
                unit_id=pt.unit_id,
                hazard_point_id=pt.id,
                place=pt.name,
                predicted=True,
                evidence={
                    "rule": "predicted_ponding",
                    "point_kind": pt.kind.value,
                    "forecast_run_id": run.id,
                    "issued_at": run.issued_at.isoformat(),
                    "peak_depth_m": round(float(res.peak_depth_m), 4),
                    "peak_at": (
                        run.issued_at + timedelta(seconds=float(res.peak_time_s))
                    ).isoformat(),
                    "thresholds_m": thr,
                    "colours": reached,
                    "lead_s": rules.predicted_lead_s,
                    "min_probability": rules.predicted_min_probability,
                },
            )
        )
    return out


# --- river, pumps, stale sensors ---------------------------------------------------------------


def river_level(*, session: Session, now: datetime, rules: WarningRules) -> list[Finding]:
    """River levels against their warning (警戒) and guarantee (保证) levels."""
    out: list[Finding] = []
    for ds in _streams(session, "river_level", [StationKind.river_gauge]):
        if ds.warning_level_m is None and ds.guarantee_level_m is None:
            continue
        st = ds.station
        finding = Finding(
            subject=f"river_level:{ds.id}",
            kind=WarningKind.river_level,
            levels=[],
            margin=rules.river_margin_m,
            unit_id=st.unit_id,
            datastream_id=ds.id,
            station_id=st.id,
            place=st.name_zh,
        )
        if not _fresh(ds, now, rules.river_max_age_s):
            finding.unknown = True
            out.append(finding)
            continue
        level = float(ds.last_value or 0.0)
        if ds.warning_level_m is not None:
            finding.levels.append(Level(rules.river_warning_colour, level, ds.warning_level_m))
        if ds.guarantee_level_m is not None:
            finding.levels.append(Level(rules.river_guarantee_colour, level, ds.guarantee_level_m))
        finding.evidence = {
            "rule": "river_level",
            "datastream": ds.code,
            "level_m": round(level, 3),
            "warning_level_m": ds.warning_level_m,
            "guarantee_level_m": ds.guarantee_level_m,
            "observed_at": ds.last_time.isoformat() if ds.last_time else None,
        }
        out.append(finding)
    return out


def pump_failure(*, session: Session, now: datetime, rules: WarningRules) -> list[Finding]:
    """Pump stations whose power is off (fresh values only)."""
    out: list[Finding] = []
    for ds in _streams(session, "power", [StationKind.pump_station]):
        st = ds.station
        finding = Finding(
            subject=f"pump_failure:{st.id}",
            kind=WarningKind.pump_failure,
            levels=[],
            margin=0.0,
            unit_id=st.unit_id,
            datastream_id=ds.id,
            station_id=st.id,
            place=st.name_zh,
        )
        if not _fresh(ds, now, rules.depth_max_age_s):
            finding.unknown = True
        else:
            failed = float(ds.last_value or 0.0) < 0.5
            finding.levels = [Level(rules.pump_failure_colour, 1.0 if failed else 0.0, 1.0)]
            finding.evidence = {
                "rule": "pump_failure",
                "datastream": ds.code,
                "power_on": not failed,
                "observed_at": ds.last_time.isoformat() if ds.last_time else None,
            }
        out.append(finding)
    return out


def stale_sensor(*, session: Session, now: datetime, rules: WarningRules) -> list[Finding]:
    """Critical stations with an open ``stale`` monitoring alarm."""
    rows = session.execute(
        select(MonitoringAlarm, Station)
        .join(Station, Station.id == MonitoringAlarm.station_id)
        .where(
            MonitoringAlarm.kind == "stale",
            MonitoringAlarm.cleared_at.is_(None),
            Station.is_active.is_(True),
        )
        .order_by(Station.id)
    ).all()
    out: list[Finding] = []
    for alarm, st in rows:
        critical = bool((st.properties or {}).get("critical")) or (
            st.kind.value in rules.critical_station_kinds
        )
        if not critical:
            continue
        out.append(
            Finding(
                subject=f"stale_sensor:{st.id}",
                kind=WarningKind.stale_sensor,
                levels=[Level(rules.stale_colour, 1.0, 1.0)],
                margin=0.0,
                unit_id=st.unit_id,
                station_id=st.id,
                place=st.name_zh,
                evidence={
                    "rule": "stale_sensor",
                    "station": st.code,
                    "alarm": alarm.message,
                    "raised_at": alarm.raised_at.isoformat(),
                },
            )
        )
    return out


RULES = {
    "rainstorm": rainstorm,
    "ponding": ponding,
    "predicted_ponding": predicted_ponding,
    "river_level": river_level,
    "pump_failure": pump_failure,
    "stale_sensor": stale_sensor,
}


def run_rules(*, session: Session, now: datetime, rules: WarningRules) -> list[Finding]:
    """Every enabled rule's findings (with the drills' predicted ponding when that rule is on)."""
    out: list[Finding] = []
    for name in rules.enabled:
        out.extend(RULES[name](session=session, now=now, rules=rules))
    if "predicted_ponding" in rules.enabled:
        out.extend(exercise_predicted_ponding(session=session, now=now, rules=rules))
    return out
