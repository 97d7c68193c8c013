"""The situation room (一张图): one JSON-ready snapshot of everything the live side panel and the
command-room wall show, gathered from the domain services.

Sections: the clock, the rainstorm signal in force, the response level, rain totals (1 h, 3 h,
24 h, event), the points at risk with time to threshold, open and new incidents, unacknowledged
notifications, the duty team, and the current forecast's map overlay. Like a briefing, a section
whose domain is not installed (or fails) is kept and marked *not available* with the reason, so
the panel never silently leaves something out.

"As of": rain totals and observed depths are read at the time of the newest observation, never
later than now (:func:`data_time`). In normal operation gauges report every few minutes, so this
is "now"; during an accelerated storm replay (``fangxun demo``), whose observations run behind the
wall clock, it is the replay's clock. The panel shows both times.

>>> _colour_rank("orange") > _colour_rank("yellow") > _colour_rank(None)
True
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from types import ModuleType
from typing import Any, Final

from sqlalchemy.orm import Session

from fangxun.db.types import utcnow
from fangxun.duty import service as duty
from fangxun.forecast import service as forecast
from fangxun.hazards import service as hazards
from fangxun.incidents import service as incidents
from fangxun.monitoring import service as monitoring
from fangxun.org.permissions import Actor
from fangxun.supplies import service as supplies

logger = logging.getLogger(__name__)

#: Warning colours, lowest first.
COLOURS: Final = ("blue", "yellow", "orange", "red")
#: Rain windows of the panel (labels of :data:`fangxun.monitoring.service.RAIN_WINDOWS_S`).
RAIN_WINDOWS: Final = ("1h", "3h", "24h")
#: Incidents reported within this time before "as of" are "new", s.
NEW_INCIDENT_S: Final = 6 * 3600.0
#: How many points at risk the panel lists.
TOP_POINTS: Final = 10
#: How many gauges the wall's rain ranking lists.
TOP_GAUGES: Final = 8

Section = dict[str, Any]


def _colour_rank(colour: str | None) -> int:
    """0 for no colour, 1 (blue) … 4 (red)."""
    return COLOURS.index(colour) + 1 if colour in COLOURS else 0


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _value(obj: Any, name: str) -> Any:
    """``obj.name`` with enums as their value (objects of other domains, read duck-typed)."""
    value = getattr(obj, name, None)
    return getattr(value, "value", value)


def _optional(module: str) -> ModuleType | None:
    """A domain's service module, or None while that domain is not installed."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name is not None and module.startswith(exc.name):
            return None
        raise


def _function(module: str, name: str) -> Callable[..., Any]:
    mod = _optional(module)
    fn = getattr(mod, name, None) if mod is not None else None
    if not callable(fn):
        raise LookupError(f"{module}.{name} is not available (that domain is not installed)")
    return fn  # type: ignore[no-any-return]


# --- the clock ---------------------------------------------------------------------------------


def data_time(*, session: Session, actor: Actor, now: datetime | None = None) -> datetime:
    """The time of the newest rain-gauge observation the actor may see, at most ``now``; ``now``
    when there is none."""
    now = now or utcnow()
    latest = [
        ds.last_time
        for ds in monitoring.list_datastreams(session=session, actor=actor)
        if ds.observed_property.code == "rainfall" and ds.last_time is not None
    ]
    return min(max(latest), now) if latest else now


# --- sections ----------------------------------------------------------------------------------


def _signal(*, session: Session, actor: Actor, as_of: datetime) -> Section:
    """The rainstorm signal (暴雨预警信号): the meteorological service's official signal in force
    at "as of" (``colour``); beside it, what our own rain gauges indicate (``indication``), which
    is never the signal itself."""
    official = _function("fangxun.warnings.official", "signal_in_force")(session=session, now=as_of)
    indication = _function("fangxun.warnings.service", "rainstorm_signal")(session=session)
    return {
        "colour": official.colour if official is not None else None,
        "event": official.event if official is not None else None,
        "sent": _iso(official.sent) if official is not None else None,
        "indication": _value_of(indication),
    }


def _value_of(value: Any) -> Any:
    return getattr(value, "value", value)


def _response(*, session: Session, actor: Actor, as_of: datetime) -> Section:
    activation = _function("fangxun.response.service", "current_level")(session=session)
    if activation is None:
        return {"level": None, "progress": None}
    # The checklist's progress: the running activation's tasks by status, all departments.
    rows = _function("fangxun.response.service", "board")(session=session, actor=actor)
    progress: dict[str, int] = {}
    for row in rows:
        for status, tasks in row.cells.items():
            progress[status] = progress.get(status, 0) + len(tasks)
    return {
        "level": _value(activation, "level"),
        "status": _value(activation, "status"),
        "since": _iso(getattr(activation, "started_at", None) or getattr(activation, "at", None)),
        "progress": progress,
    }


def _rain(*, session: Session, actor: Actor, as_of: datetime) -> Section:
    best: dict[str, float] = dict.fromkeys(RAIN_WINDOWS, 0.0)
    best["event"] = 0.0
    where: dict[str, str | None] = dict.fromkeys(best, None)
    gauges = 0
    ranking: list[dict[str, Any]] = []
    for ds in monitoring.list_datastreams(session=session, actor=actor):
        if ds.observed_property.code != "rainfall":
            continue
        gauges += 1
        totals = monitoring.rain_totals(session=session, actor=actor, code=ds.code, end=as_of)
        values = {w: float(totals.totals_mm.get(w, 0.0)) for w in RAIN_WINDOWS}
        values["event"] = float(totals.event_total_mm)
        for key, value in values.items():
            if value > best[key]:
                best[key], where[key] = value, ds.code
        ranking.append(
            {
                "code": ds.station.code,
                "name": ds.station.name_zh,
                "mm": {k: round(v, 1) for k, v in values.items()},
            }
        )
    # The wall's ranking: the wettest gauges of the last hour first (then of the event).
    ranking.sort(key=lambda g: (-g["mm"]["1h"], -g["mm"]["event"], g["code"]))
    return {
        "gauges": gauges,
        "max_mm": {k: round(v, 1) for k, v in best.items()},
        "gauge_of_max": where,
        "ranking": ranking[:TOP_GAUGES],
    }


def _observed_depths(*, session: Session, actor: Actor) -> dict[int, tuple[float, str]]:
    """Hazard point id → (latest clean ponding depth, m; datastream code) of its sensor."""
    out: dict[int, tuple[float, str]] = {}
    for ds in monitoring.list_datastreams(session=session, actor=actor):
        point_id = ds.station.hazard_point_id
        if (
            ds.observed_property.code != "ponding_depth"
            or point_id is None
            or ds.last_value is None
            or ds.last_flags  # flagged values are kept but never drive the panel
        ):
            continue
        if point_id not in out or ds.last_value > out[point_id][0]:
            out[point_id] = (float(ds.last_value), ds.code)
    return out


def _reached(thresholds_m: dict[str, float], depth_m: float) -> str | None:
    reached = None
    for colour in COLOURS:
        if colour in thresholds_m and depth_m >= thresholds_m[colour]:
            reached = colour
    return reached


def _point_warnings(*, session: Session, actor: Actor) -> dict[int, str]:
    """Hazard point id → highest colour of its active warnings (empty without the domain)."""
    try:
        active = _function("fangxun.warnings.service", "active_warnings")
    except LookupError:
        return {}
    out: dict[int, str] = {}
    for warning in active(session=session, actor=actor):
        point_id = getattr(warning, "hazard_point_id", None)
        colour = _value(warning, "colour")
        if point_id is not None and _colour_rank(colour) > _colour_rank(out.get(point_id)):
            out[point_id] = colour
    return out


def _points(*, session: Session, actor: Actor, as_of: datetime) -> Section:
    """Points at risk: a sensor at the point over a threshold, the current forecast expecting one,
    or an active warning on the point; those the forecast flags before their sensor first (by time
    to threshold), then by colour."""
    visible, _ = hazards.list_points(session=session, actor=actor, limit=1_000_000)
    by_id = {p.id: p for p in visible}
    observed = _observed_depths(session=session, actor=actor)
    warned = _point_warnings(session=session, actor=actor)
    rows: dict[int, dict[str, Any]] = {}

    def row(point_id: int) -> dict[str, Any]:
        if point_id not in rows:
            p = by_id[point_id]
            depth = observed.get(point_id)
            thresholds = hazards.thresholds_of(p)
            thresholds_m = {c: float(getattr(p, f"threshold_{c}_m")) for c in COLOURS}
            rows[point_id] = {
                "id": p.id,
                "code": p.code,
                "name": p.name,
                "lon": p.lon,
                "lat": p.lat,
                "url": f"/hazards/points/{p.id}",
                "thresholds_cm": thresholds.model_dump(mode="json"),
                "observed_cm": round(depth[0] * 100.0, 1) if depth else None,
                "observed_colour": _reached(thresholds_m, depth[0]) if depth else None,
                "datastream": depth[1] if depth else None,
                "forecast_peak_cm": None,
                "forecast_colour": None,
                "next_colour": None,
                "time_to_threshold_s": None,
                "warning_colour": warned.get(point_id),
            }
        return rows[point_id]

    run = forecast.current_run(session=session)
    run_info = None
    if run is not None:
        run_info = {"id": run.id, "issued_at": _iso(run.issued_at)}
        for res in forecast.point_results(session=session, run_id=run.id, actor=actor):
            reach = {c: s for c, s in res.time_to_threshold_s.items() if s is not None}
            if res.point_id not in by_id or not reach:
                continue
            r = row(res.point_id)
            r["forecast_peak_cm"] = res.peak_depth_cm
            r["forecast_colour"] = max(reach, key=_colour_rank)
            # The next colour the sensor has not reached yet, and when the forecast reaches it,
            # counted from "as of" (the run was issued earlier).
            pending = [c for c in reach if _colour_rank(c) > _colour_rank(r["observed_colour"])]
            if pending:
                nxt = min(pending, key=_colour_rank)
                eta = run.issued_at + timedelta(seconds=reach[nxt]) - as_of
                r["next_colour"] = nxt
                r["time_to_threshold_s"] = max(0.0, eta.total_seconds())
    for point_id in observed:
        # A sensor below every threshold, not forecast to reach one, no warning: not at risk.
        if (
            point_id in by_id
            and row(point_id)["observed_colour"] is None
            and rows[point_id]["forecast_colour"] is None
            and point_id not in warned
        ):
            del rows[point_id]
    for point_id in warned:
        if point_id in by_id:
            row(point_id)

    def colour_of(r: dict[str, Any]) -> str | None:
        keys = ("observed_colour", "forecast_colour", "warning_colour")
        colour: str | None = max((r[k] for k in keys), key=_colour_rank)
        return colour

    items = []
    for r in rows.values():
        r["colour"] = colour_of(r)
        # "Flagged before its sensor crossed": the point has a sensor, and the forecast reaches a
        # colour the sensor has not (a point without a sensor has only the forecast).
        r["forecast_ahead"] = r["datastream"] is not None and _colour_rank(
            r["forecast_colour"]
        ) > _colour_rank(r["observed_colour"])
        items.append(r)
    # What the forecast sees coming comes first (the early warning, soonest first); then what the
    # sensors and warnings show, highest colour first.
    items.sort(
        key=lambda r: (
            not r["forecast_ahead"],
            -_colour_rank(r["colour"]),
            r["time_to_threshold_s"] if r["time_to_threshold_s"] is not None else 1e12,
            r["code"],
        )
    )
    return {
        "count": len(items),
        "ahead": sum(1 for r in items if r["forecast_ahead"]),
        "forecast_run": run_info,
        "items": items[:TOP_POINTS],
        "colours": {str(r["id"]): r["colour"] for r in items if r["colour"]},
    }


def _incidents(*, session: Session, actor: Actor, as_of: datetime) -> Section:
    open_items = incidents.list_incidents(session=session, actor=actor, open_only=True, limit=50)
    new_after = as_of - timedelta(seconds=NEW_INCIDENT_S)
    return {
        "open": len(open_items),
        "items": [
            {
                "id": i.id,
                "title": i.title,
                "severity": i.severity.value,
                "status": i.status.value,
                "location": i.location_text,
                "reported_at": _iso(i.reported_at),
                "new": i.reported_at >= new_after,
                "url": f"/incidents/{i.id}",
            }
            for i in open_items[:10]
        ],
    }


def _notifications(*, session: Session, actor: Actor, as_of: datetime) -> Section:
    pending = _function("fangxun.notify.service", "unacknowledged")(
        session=session, actor=actor, limit=20
    )
    return {
        "count": len(pending),
        "items": [
            {
                "id": getattr(n, "id", None),
                "subject": getattr(n, "subject", None),
                "recipient": getattr(n, "recipient_name", None) or getattr(n, "name", None),
                "channel": _value(n, "channel"),
                "status": _value(n, "status"),
                "created_at": _iso(getattr(n, "created_at", None)),
            }
            for n in pending
        ],
    }


def _duty(*, session: Session, actor: Actor, as_of: datetime) -> Section:
    # The roster runs on the wall clock, not the replay's.
    teams = duty.current_team(session=session, actor=actor, at=utcnow())
    return {
        "teams": [
            {
                "unit": t.unit_name,
                "leader": t.leader.name if t.leader else None,
                "leader_phone": t.leader.phone if t.leader else None,
                "members": [m.name for m in t.members],
            }
            for t in teams
        ]
    }


def _offices(*, session: Session, actor: Actor, as_of: datetime) -> Section:
    """Status by street office (the wall): its points at risk and their highest colour (sensor or
    warning), its open incidents and its checklist tasks still open."""
    from fangxun.org import service as org
    from fangxun.org.models import UnitKind

    offices, _total = org.list_units(
        session=session, actor=actor, kind=UnitKind.street_office, limit=1000
    )
    visible, _ = hazards.list_points(session=session, actor=actor, limit=1_000_000)
    unit_of = {p.id: p.unit_id for p in visible}
    thresholds = {
        p.id: {c: float(getattr(p, f"threshold_{c}_m")) for c in COLOURS} for p in visible
    }
    colour_at: dict[int, str | None] = {}
    for point_id, (depth, _code) in _observed_depths(session=session, actor=actor).items():
        if point_id in thresholds:
            colour_at[point_id] = _reached(thresholds[point_id], depth)
    for point_id, colour in _point_warnings(session=session, actor=actor).items():
        if _colour_rank(colour) > _colour_rank(colour_at.get(point_id)):
            colour_at[point_id] = colour
    open_incidents = incidents.list_incidents(
        session=session, actor=actor, open_only=True, limit=1000
    )
    try:
        rows = _function("fangxun.response.service", "board")(session=session, actor=actor)
    except LookupError:
        rows = []
    tasks_open = {r.unit_id: r.open_count for r in rows}
    out = []
    for unit in offices:
        at_risk = [
            c for pid, c in colour_at.items() if c is not None and unit_of.get(pid) == unit.id
        ]
        out.append(
            {
                "id": unit.id,
                "name": unit.name_zh,
                "points_at_risk": len(at_risk),
                "colour": max(at_risk, key=_colour_rank) if at_risk else None,
                "incidents": sum(1 for i in open_incidents if i.unit_id == unit.id),
                "tasks_open": tasks_open.get(unit.id, 0),
            }
        )
    return {"items": out}


SECTIONS: Final[dict[str, Callable[..., Section]]] = {
    "signal": _signal,
    "response": _response,
    "rain": _rain,
    "points": _points,
    "incidents": _incidents,
    "notifications": _notifications,
    "duty": _duty,
    "offices": _offices,
}


def snapshot(*, session: Session, actor: Actor, now: datetime | None = None) -> dict[str, Any]:
    """Every section of the live panel as JSON-ready data, read at :func:`data_time`.

    Each section is ``{"available": bool, "reason": str | None, "data": {...} | None}``; the
    top level carries ``now`` and ``as_of`` (ISO 8601, UTC).
    """
    now = now or utcnow()
    as_of = data_time(session=session, actor=actor, now=now)
    sections: dict[str, Any] = {}
    for key, fn in SECTIONS.items():
        try:
            # A savepoint: a failing section must not spoil the session for the others.
            with session.begin_nested():
                data = fn(session=session, actor=actor, as_of=as_of)
            sections[key] = {"available": True, "reason": None, "data": data}
        except LookupError as exc:
            sections[key] = {"available": False, "reason": str(exc), "data": None}
        except Exception as exc:  # one section never blanks the panel
            logger.warning("situation section %s failed: %s", key, exc, exc_info=True)
            sections[key] = {
                "available": False,
                "reason": f"{type(exc).__name__}: {exc}",
                "data": None,
            }
    return {"now": now.isoformat(), "as_of": as_of.isoformat(), "sections": sections}


def forecast_overlay(*, session: Session) -> dict[str, Any] | None:
    """The current forecast run's max-depth overlay and time-slider frames for the map, or None.

    ``bounds`` is ``[[south, west], [north, east]]`` in degrees; frame ``offset_s`` is seconds
    after the run's issue time.
    """
    run = forecast.current_run(session=session)
    if run is None or not run.bounds:
        return None
    frames = (run.summary or {}).get("frames_s", [])
    s, w, n, e = (float(v) for v in run.bounds)
    return {
        "run": run.id,
        "issued_at": _iso(run.issued_at),
        "bounds": [[s, w], [n, e]],
        "overlay": f"/forecast/runs/{run.id}/overlay.png",
        "frames": [
            {
                "offset_s": float(t),
                "time": _iso(run.issued_at + timedelta(seconds=float(t))),
                "url": f"/forecast/runs/{run.id}/frame_{float(t):08.0f}.png",
            }
            for t in frames
        ],
    }


def resources(*, session: Session, actor: Actor) -> dict[str, Any]:
    """Warehouses (with their stock) and emergency teams as an RFC 7946 FeatureCollection.

    Teams have no position of their own: each is placed at the first warehouse of its unit (its
    base), and left off the map when its unit has none.
    """
    features: list[dict[str, Any]] = []
    base: dict[int, tuple[float, float]] = {}
    for wh in supplies.list_warehouses(session=session, actor=actor):
        if wh.lon is None or wh.lat is None:
            continue
        base.setdefault(wh.unit_id, (wh.lon, wh.lat))
        stock = supplies.stock_of(session=session, warehouse_id=wh.id, actor=actor)
        features.append(
            {
                "type": "Feature",
                "id": f"warehouse-{wh.id}",
                "geometry": {"type": "Point", "coordinates": [wh.lon, wh.lat]},
                "properties": {
                    "kind": "warehouse",
                    "name": wh.name_zh,
                    "unit": wh.unit.name_zh,
                    "stock": [
                        {
                            "item": line.item_name,
                            "quantity": line.quantity,
                            "unit_of_measure": line.unit_of_measure,
                        }
                        for line in stock
                    ],
                },
            }
        )
    for team in supplies.list_teams(session=session, actor=actor):
        if team.unit_id not in base:
            continue
        lon, lat = base[team.unit_id]
        features.append(
            {
                "type": "Feature",
                "id": f"team-{team.id}",
                "geometry": {"type": "Point", "coordinates": [lon, lat]},
                "properties": {
                    "kind": "team",
                    "name": team.name,
                    "unit": team.unit.name_zh,
                    "readiness": team.readiness.value,
                    "specialty": team.specialty,
                    "members": len(team.members),
                    "phone": team.phone,
                    "equipment": list(team.equipment or []),
                },
            }
        )
    return {"type": "FeatureCollection", "features": features}
