"""Consultation briefings (会商研判): one call gathers the situation now into a frozen briefing,
decisions become tasks with owners and deadlines, and the briefing exports as PDF.

Sections, in order: rain so far, forecast, warnings in force (with the rainstorm signal and the
response level), points at risk, open incidents, duty team, supply shortages, teams. A section
that fails is kept and marked *not available* with the reason, so the briefing never silently
leaves something out.

The forecast and warnings sections come from :mod:`fangxun.forecast.briefing` and
:mod:`fangxun.warnings.briefing` (``briefing_section(*, session, actor, at) -> dict``), called
explicitly: a missing module is an import error, never a quiet "not installed".

Jurisdiction: a briefing holds the data of the jurisdiction it was gathered for, ``unit_id``
(None: the whole district). It is read like every other record of that unit: a ``unit`` login (or
a scoped inspector) reads the briefings of its own units only, never a district-wide one, and a
convener may gather a briefing for one unit, whose content is then what that unit may see.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from fangxun.audit.models import AuditAction
from fangxun.audit.service import (
    actor_username,
    record_change,
    record_create,
    record_update,
    snapshot,
)
from fangxun.briefings.models import Briefing, BriefingTask, TaskStatus
from fangxun.briefings.schemas import BriefingCreate, TaskCreate
from fangxun.db.types import utcnow
from fangxun.duty import service as duty
from fangxun.errors import ConflictError, NotFoundError, ValidationFailed
from fangxun.forecast import briefing as forecast_briefing
from fangxun.incidents import service as incidents
from fangxun.org.jurisdiction import get_in_jurisdiction, is_scoped, scope_query, unit_in_body
from fangxun.org.models import Person, Role, Unit, User
from fangxun.org.permissions import Actor, require_role
from fangxun.supplies import service as supplies
from fangxun.supplies.models import Readiness
from fangxun.times import SHORT, local_zone
from fangxun.times import local as local_time
from fangxun.warnings import briefing as warnings_briefing

logger = logging.getLogger(__name__)

#: Roles that may generate briefings and record decisions.
CONVENERS = frozenset({Role.admin, Role.district, Role.duty})
#: Section keys in the order of the briefing.
SECTION_KEYS = (
    "rain",
    "forecast",
    "warnings",
    "points_at_risk",
    "incidents",
    "duty",
    "shortages",
    "teams",
)
TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "web" / "templates" / "briefings"

SectionFn = Callable[..., dict[str, Any]]


def _require(actor: Actor, what: str) -> None:
    require_role(actor, CONVENERS, what)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _available(data: dict[str, Any]) -> dict[str, Any]:
    return {"available": True, "reason": None, "data": data}


def _not_available(reason: str) -> dict[str, Any]:
    return {"available": False, "reason": reason, "data": None}


# --- sections owned here -----------------------------------------------------------------------


def _incidents(*, session: Session, actor: Actor, at: datetime) -> dict[str, Any]:
    open_items = incidents.list_incidents(session=session, actor=actor, open_only=True)
    open_items = [i for i in open_items if i.reported_at <= at]
    stats = incidents.response_stats(
        session=session, actor=actor, since=at - timedelta(hours=24), until=at
    )
    by_status: dict[str, int] = {}
    for item in open_items:
        by_status[item.status.value] = by_status.get(item.status.value, 0) + 1
    return {
        "open": len(open_items),
        "by_status": by_status,
        "items": [
            {
                "id": i.id,
                "title": i.title,
                "kind": i.kind.value,
                "severity": i.severity.value,
                "status": i.status.value,
                "location": i.location_text,
                "reported_at": _iso(i.reported_at),
                "team_id": i.team_id,
            }
            for i in open_items
        ],
        "last_24h": {
            "reported": stats.incidents,
            "dispatched": stats.dispatched,
            "dispatch_mean_s": stats.dispatch_mean_s,
            "arrival_mean_s": stats.arrival_mean_s,
        },
    }


def _duty(*, session: Session, actor: Actor, at: datetime) -> dict[str, Any]:
    teams = duty.current_team(session=session, actor=actor, at=at)
    return {
        "teams": [
            {
                "unit": t.unit_name,
                "shift_id": t.shift_id,
                "starts_at": _iso(t.starts_at),
                "ends_at": _iso(t.ends_at),
                "leader": t.leader.name if t.leader else None,
                "leader_phone": t.leader.phone if t.leader else None,
                "members": [m.name for m in t.members],
                "checked_in": [m.name for m in [t.leader, *t.members] if m and m.checked_in],
            }
            for t in teams
        ]
    }


def _shortages(*, session: Session, actor: Actor, at: datetime) -> dict[str, Any]:
    rows = supplies.shortages(session=session, actor=actor)
    return {
        "count": len(rows),
        "items": [
            {
                "warehouse": r.warehouse_name,
                "item": r.item_name,
                "unit_of_measure": r.unit_of_measure,
                "quota": r.quota,
                "quantity": r.quantity,
                "shortfall": r.shortfall,
            }
            for r in rows
        ],
    }


def _teams(*, session: Session, actor: Actor, at: datetime) -> dict[str, Any]:
    teams = supplies.list_teams(session=session, actor=actor)
    counts = {r.value: 0 for r in Readiness}
    for team in teams:
        counts[team.readiness.value] += 1
    return {
        "by_readiness": counts,
        "standby": [
            {
                "name": t.name,
                "specialty": t.specialty,
                "members": len(t.members),
                "phone": t.phone,
                "equipment": list(t.equipment or []),
            }
            for t in teams
            if t.readiness is Readiness.standby
        ],
    }


# --- fall-backs on other domains' services -----------------------------------------------------


def _rain_from_monitoring(*, session: Session, actor: Actor, at: datetime) -> dict[str, Any]:
    from fangxun.monitoring import service as monitoring

    gauges: list[dict[str, Any]] = []
    for ds in monitoring.list_datastreams(session=session, actor=actor):
        if ds.observed_property.code != "rainfall":
            continue
        totals = monitoring.rain_totals(session=session, actor=actor, code=ds.code, end=at)
        gauges.append(
            {
                "datastream": ds.code,
                "totals_mm": totals.totals_mm,
                "event_total_mm": totals.event_total_mm,
                "event_start": _iso(totals.event_start),
            }
        )
    gauges.sort(key=lambda g: -float(g["event_total_mm"]))
    return {
        "gauges": gauges,
        "max_event_total_mm": gauges[0]["event_total_mm"] if gauges else None,
        "max_1h_mm": max((float(g["totals_mm"].get("1h", 0.0)) for g in gauges), default=None),
    }


#: Warning colours, lowest first (the hazard points' threshold columns).
COLOURS = ("blue", "yellow", "orange", "red")


def _colour_reached(point: Any, depth_m: float) -> str | None:
    """The highest warning colour whose threshold ``depth_m`` reaches at ``point``, or None."""
    reached = None
    for colour in COLOURS:
        if depth_m >= getattr(point, f"threshold_{colour}_m"):
            reached = colour
    return reached


def _observed_ponding(*, session: Session, points: dict[int, Any]) -> list[dict[str, Any]]:
    """Ponding sensors at the given hazard points whose latest clean value reaches a threshold,
    deepest first."""
    from fangxun.monitoring.models import Datastream, ObservedProperty, Station

    rows = session.execute(
        select(Datastream, Station)
        .join(Station, Datastream.station_id == Station.id)
        .join(ObservedProperty, Datastream.observed_property_id == ObservedProperty.id)
        .where(
            ObservedProperty.code == "ponding_depth",
            Station.hazard_point_id.in_(list(points)),
            Datastream.last_value.is_not(None),
        )
    ).all()
    out = []
    for ds, station in rows:
        if ds.last_flags or ds.last_value is None or station.hazard_point_id is None:
            continue  # flagged values are kept but never drive a briefing
        point = points[station.hazard_point_id]
        colour = _colour_reached(point, ds.last_value)
        if colour is not None:
            out.append(
                {
                    "id": point.id,
                    "code": point.code,
                    "name": point.name,
                    "datastream": ds.code,
                    "depth_cm": round(ds.last_value * 100.0, 1),
                    "colour": colour,
                    "time": ds.last_time.isoformat() if ds.last_time else None,
                }
            )
    return sorted(out, key=lambda p: -p["depth_cm"])


def _forecast_ponding(
    *, session: Session, actor: Actor, at: datetime, limit: int
) -> list[dict[str, Any]]:
    """Points the operational forecast in force expects to reach a threshold, highest risk
    first (never a scenario's)."""
    from fangxun.forecast import service as forecast

    run = forecast.current_run(session=session, at=at)
    if run is None:
        return []
    return forecast_briefing.points_at_risk(session=session, actor=actor, run=run, limit=limit)


def _points_from_hazards(*, session: Session, actor: Actor, at: datetime) -> dict[str, Any]:
    """Points at risk: observed ponding over a threshold (sensors at hazard points), forecast
    ponding from the current run, and points with open problems in the ledger."""
    from fangxun.hazards import service as hazards

    visible, _ = hazards.list_points(session=session, actor=actor, limit=1_000_000)
    points, total = hazards.list_points(
        session=session, actor=actor, flt=hazards.PointFilter(has_open=True), limit=20
    )
    return {
        "basis": "sensors at hazard points, the operational forecast in force, and the hazard "
        "ledger",
        "observed": _observed_ponding(session=session, points={p.id: p for p in visible}),
        "forecast": _forecast_ponding(session=session, actor=actor, at=at, limit=20),
        "with_open_problems": total,
        "items": [{"id": p.id, "code": p.code, "name": p.name} for p in points],
    }


#: Where each section comes from, in the briefing's order (explicit: no optional imports).
SECTIONS: dict[str, SectionFn] = {
    "rain": _rain_from_monitoring,
    "forecast": forecast_briefing.briefing_section,
    "warnings": warnings_briefing.briefing_section,
    "points_at_risk": _points_from_hazards,
    "incidents": _incidents,
    "duty": _duty,
    "shortages": _shortages,
    "teams": _teams,
}
assert tuple(SECTIONS) == SECTION_KEYS


def gather(*, session: Session, actor: Actor, at: datetime) -> dict[str, Any]:
    """Every section of the briefing at ``at``, as ``actor`` may see it, as JSON-ready data (see
    the module docstring)."""
    sections: dict[str, Any] = {}
    for key, fn in SECTIONS.items():
        try:
            # A savepoint: a failing section must not spoil the session for the others.
            with session.begin_nested():
                sections[key] = _available(fn(session=session, actor=actor, at=at))
        except Exception as exc:  # one section never stops the briefing
            logger.warning("briefing section %s failed: %s", key, exc)
            sections[key] = _not_available(f"{type(exc).__name__}: {exc}")
    return {"as_of": at.isoformat(), "sections": sections}


def unit_reader(unit: Unit) -> User:
    """A reader with ``unit``'s jurisdiction (a transient ``unit`` login, never stored): what a
    briefing for one unit may hold is what that unit's own login sees."""
    return User(
        username=f"briefing:{unit.code}"[:64],
        password_hash="!",
        role=Role.unit,
        unit_id=unit.id,
        is_active=True,
    )


def generate(*, session: Session, briefing_in: BriefingCreate, actor: Actor) -> Briefing:
    """Generate and store the briefing for ``as_of`` (default now)."""
    _require(actor, "generate briefings")
    at = briefing_in.as_of.astimezone(UTC) if briefing_in.as_of else utcnow()
    local = at.astimezone(local_zone())
    reader: Actor = actor
    unit_id = briefing_in.unit_id
    if unit_id is None and isinstance(actor, User) and is_scoped(actor):
        unit_id = actor.unit_id  # a scoped convener's briefing is its own unit's
    if unit_id is not None:
        unit = unit_in_body(session, actor, unit_id, ("body", "unit_id"))
        reader = unit_reader(unit)
    title = briefing_in.title or f"防汛会商材料 {local:%Y-%m-%d %H:%M}"
    briefing = Briefing(
        title=title,
        as_of=at,
        created_by=actor_username(actor),
        unit_id=unit_id,
        content=gather(session=session, actor=reader, at=at),
    )
    briefing.tasks = []
    session.add(briefing)
    record_change(
        session=session,
        actor=actor,
        action=AuditAction.create,
        obj=briefing,
        before=None,
        after={k: v for k, v in snapshot(briefing).items() if k != "content"},
    )
    return briefing


def get_briefing(*, session: Session, briefing_id: int, actor: Actor) -> Briefing:
    """A briefing in the actor's jurisdiction, else :class:`NotFoundError` (a district-wide
    briefing is outside every unit's)."""
    return get_in_jurisdiction(
        session=session, user=actor, model=Briefing, obj_id=briefing_id, label="briefing"
    )


def list_briefings(*, session: Session, actor: Actor, limit: int = 50) -> list[Briefing]:
    """Briefings in the actor's jurisdiction, newest first."""
    stmt = scope_query(
        select(Briefing).options(selectinload(Briefing.tasks)),
        Briefing.unit_id,
        session=session,
        user=actor,
    )
    return list(
        session.scalars(stmt.order_by(Briefing.as_of.desc(), Briefing.id.desc()).limit(limit))
    )


def add_task(
    *, session: Session, briefing_id: int, task_in: TaskCreate, actor: Actor
) -> BriefingTask:
    """Record a decision of the meeting as a task with an owner and a deadline."""
    briefing = get_briefing(session=session, briefing_id=briefing_id, actor=actor)
    _require(actor, "record decisions")
    if session.get(Person, task_in.owner_person_id) is None:
        raise ValidationFailed(
            f"person {task_in.owner_person_id} does not exist", loc=("body", "owner_person_id")
        )
    deadline = task_in.deadline.astimezone(UTC)
    if deadline <= briefing.as_of:
        raise ValidationFailed("the deadline is before the meeting", loc=("body", "deadline"))
    task = BriefingTask(
        decision=task_in.decision, owner_person_id=task_in.owner_person_id, deadline=deadline
    )
    briefing.tasks.append(task)
    session.flush()
    record_create(session=session, actor=actor, obj=task)
    return task


def set_task_status(
    *, session: Session, task_id: int, status: TaskStatus, actor: Actor
) -> BriefingTask:
    """Mark a task done or dropped."""
    task = session.get(BriefingTask, task_id)
    if task is None or task.briefing_id not in _visible_briefings(session, actor, [task]):
        raise NotFoundError(f"task {task_id} not found")
    _require(actor, "update decisions")
    if task.status is not TaskStatus.open:
        raise ConflictError(f"task {task_id} is already {task.status.value}")
    before = snapshot(task)
    task.status = status
    task.done_at = utcnow() if status is TaskStatus.done else None
    record_update(session=session, actor=actor, obj=task, before=before)
    return task


def _visible_briefings(session: Session, actor: Actor, tasks: list[BriefingTask]) -> set[int]:
    ids = sorted({t.briefing_id for t in tasks})
    stmt = scope_query(
        select(Briefing.id).where(Briefing.id.in_(ids)),
        Briefing.unit_id,
        session=session,
        user=actor,
    )
    return set(session.scalars(stmt))


def open_tasks(
    *, session: Session, actor: Actor, now: datetime | None = None
) -> list[BriefingTask]:
    """Open tasks of the briefings in the actor's jurisdiction, by deadline (overdue first)."""
    visible = scope_query(select(Briefing.id), Briefing.unit_id, session=session, user=actor)
    stmt = select(BriefingTask).where(
        BriefingTask.status == TaskStatus.open, BriefingTask.briefing_id.in_(visible)
    )
    return list(session.scalars(stmt.order_by(BriefingTask.deadline, BriefingTask.id)))


# --- PDF ---------------------------------------------------------------------------------------


def render_html(briefing: Briefing) -> str:
    """The briefing as a standalone HTML document (Chinese; the PDF's source)."""
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    env = Environment(loader=FileSystemLoader(TEMPLATE_DIR), autoescape=select_autoescape(["html"]))

    def local(value: str | datetime | None) -> str:
        return local_time(value, SHORT, empty="—")

    def minutes(value: float | None) -> str:
        return "—" if value is None else f"{value / 60:.0f} 分钟"

    env.filters["local"] = local
    env.filters["minutes"] = minutes
    owners = {t.owner_person_id: t.owner.name for t in briefing.tasks}
    return env.get_template("pdf.html").render(
        briefing=briefing,
        sections=briefing.content.get("sections", {}),
        owners=owners,
        generated=local(briefing.as_of),
    )


def export_pdf(briefing: Briefing) -> bytes:
    """The briefing as PDF bytes (WeasyPrint; CJK text in Noto Sans CJK)."""
    from weasyprint import HTML

    pdf = HTML(string=render_html(briefing)).write_pdf()
    assert pdf is not None
    return bytes(pdf)
