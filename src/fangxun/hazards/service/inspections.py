"""Inspection plans, inspection records and the overdue list."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from fangxun.audit.service import (
    audited_delete,
    audited_update,
    record_create,
    snapshot,
)
from fangxun.db.queries import flush_or_conflict, paginate
from fangxun.db.types import utcnow
from fangxun.errors import (
    NotFoundError,
    ValidationFailed,
)
from fangxun.hazards.models import (
    HazardPoint,
    InspectionPlan,
    InspectionRecord,
    PointStatus,
)
from fangxun.hazards.schemas import (
    InspectionPlanCreate,
    InspectionPlanRead,
    InspectionPlanUpdate,
    InspectionRecordCreate,
    OverdueInspection,
)
from fangxun.hazards.service.common import (
    HazardAction,
    _body_person,
    _body_point,
    _require,
    _scope_points,
)
from fangxun.org.jurisdiction import (
    is_unit_visible,
    unit_in_body,
    visible_unit_ids,
)
from fangxun.org.permissions import Actor


def inspection_plan_read(plan: InspectionPlan) -> InspectionPlanRead:
    """The wire shape of an inspection plan."""
    return InspectionPlanRead(
        id=plan.id,
        name=plan.name,
        unit_id=plan.unit_id,
        point_ids=[p.id for p in plan.points],
        inspector_person_id=plan.inspector_person_id,
        interval_s=plan.interval_s,
        starts_at=plan.starts_at,
        active=plan.active,
    )


def _plan_snapshot(plan: InspectionPlan) -> dict[str, Any]:
    return snapshot(plan) | {"point_ids": sorted(p.id for p in plan.points)}


def _plan_points(session: Session, actor: Actor, point_ids: Sequence[int]) -> list[HazardPoint]:
    if len(set(point_ids)) != len(point_ids):
        raise ValidationFailed("a point is listed twice", loc=("body", "point_ids"))
    return [
        _body_point(session, actor, pid, ("body", "point_ids", i))
        for i, pid in enumerate(point_ids)
    ]


def create_inspection_plan(
    *, session: Session, plan_in: InspectionPlanCreate, actor: Actor
) -> InspectionPlan:
    """Create an inspection plan (district; a unit for its own points)."""
    _require(actor, HazardAction.manage_points, "manage inspection plans")
    unit_in_body(session, actor, plan_in.unit_id, ("body", "unit_id"))
    _body_person(session, actor, plan_in.inspector_person_id, ("body", "inspector_person_id"))
    points = _plan_points(session, actor, plan_in.point_ids)
    plan = InspectionPlan(**plan_in.model_dump(exclude={"point_ids"}))
    plan.points = points
    session.add(plan)
    flush_or_conflict(session, "inspection plan")
    record_create(session=session, actor=actor, obj=plan, snap=_plan_snapshot)
    return plan


def get_inspection_plan(*, session: Session, plan_id: int, actor: Actor) -> InspectionPlan:
    """An inspection plan of a unit in the actor's jurisdiction."""
    plan = session.get(InspectionPlan, plan_id)
    if plan is None or not is_unit_visible(session=session, user=actor, unit_id=plan.unit_id):
        raise NotFoundError(f"inspection plan {plan_id} not found")
    return plan


def list_inspection_plans(
    *, session: Session, actor: Actor, limit: int = 100, offset: int = 0
) -> tuple[list[InspectionPlan], int]:
    """Inspection plans of units in the actor's jurisdiction, by name."""
    stmt = select(InspectionPlan)
    visible = visible_unit_ids(session=session, user=actor)
    if visible is not None:
        stmt = stmt.where(InspectionPlan.unit_id.in_(sorted(visible)))
    return paginate(session, stmt.order_by(InspectionPlan.name, InspectionPlan.id), limit, offset)


def update_inspection_plan(
    *, session: Session, plan_id: int, plan_in: InspectionPlanUpdate, actor: Actor
) -> InspectionPlan:
    """Change an inspection plan."""
    plan = get_inspection_plan(session=session, plan_id=plan_id, actor=actor)
    _require(actor, HazardAction.manage_points, "manage inspection plans")
    changes = plan_in.model_dump(exclude_unset=True, exclude={"point_ids"})
    for field in ("name", "interval_s", "active"):
        if field in changes and changes[field] is None:
            raise ValidationFailed("must not be null", loc=("body", field))
    if "inspector_person_id" in changes:
        _body_person(
            session, actor, changes["inspector_person_id"], ("body", "inspector_person_id")
        )
    with audited_update(session=session, actor=actor, obj=plan, snap=_plan_snapshot):
        for key, value in changes.items():
            setattr(plan, key, value)
        if plan_in.point_ids is not None:
            plan.points = _plan_points(session, actor, plan_in.point_ids)
        flush_or_conflict(session, "inspection plan")
    return plan


def delete_inspection_plan(*, session: Session, plan_id: int, actor: Actor) -> None:
    """Delete an inspection plan (its records stay, unlinked)."""
    plan = get_inspection_plan(session=session, plan_id=plan_id, actor=actor)
    _require(actor, HazardAction.manage_points, "manage inspection plans")
    audited_delete(
        session=session,
        actor=actor,
        obj=plan,
        snap=_plan_snapshot,
        flush=lambda s: flush_or_conflict(s, "inspection plan"),
    )


def overdue_inspections(
    *, session: Session, actor: Actor, now: datetime | None = None
) -> list[OverdueInspection]:
    """Points of active plans whose next inspection is past due, most overdue first.

    A point is due ``interval_s`` after its last inspection (any record of that point), or at the
    plan's start when it was never inspected.
    """
    now = now or utcnow()
    plans, _ = list_inspection_plans(session=session, actor=actor, limit=10_000)
    last_by_point: dict[int, datetime] = {
        pid: at
        for pid, at in session.execute(
            select(InspectionRecord.point_id, func.max(InspectionRecord.inspected_at)).group_by(
                InspectionRecord.point_id
            )
        )
        if at is not None
    }
    out: list[OverdueInspection] = []
    for plan in plans:
        if not plan.active:
            continue
        for point in plan.points:
            if point.status is not PointStatus.active:
                continue
            last = last_by_point.get(point.id)
            if last is not None and last.tzinfo is None:
                last = last.replace(tzinfo=now.tzinfo)
            due = (last + timedelta(seconds=plan.interval_s)) if last else plan.starts_at
            if due < now:
                out.append(
                    OverdueInspection(
                        plan_id=plan.id,
                        plan_name=plan.name,
                        unit_id=plan.unit_id,
                        point_id=point.id,
                        point_code=point.code,
                        point_name=point.name,
                        last_inspected_at=last,
                        due_at=due,
                        overdue_s=int((now - due).total_seconds()),
                    )
                )
    out.sort(key=lambda o: (-o.overdue_s, o.point_code))
    return out


# --- inspection records ------------------------------------------------------------------------


def create_inspection(
    *, session: Session, record_in: InspectionRecordCreate, actor: Actor
) -> InspectionRecord:
    """Record an inspection (district, unit, inspector). ``has_finding`` defaults to "some
    checklist item is not ok"."""
    _require(actor, HazardAction.record_inspections, "record inspections")
    point = _body_point(session, actor, record_in.point_id, ("body", "point_id"))
    if record_in.plan_id is not None:
        plan = session.get(InspectionPlan, record_in.plan_id)
        if plan is None or point not in plan.points:
            raise ValidationFailed(
                f"inspection plan {record_in.plan_id} does not cover this point",
                loc=("body", "plan_id"),
            )
    _body_person(session, actor, record_in.inspector_person_id, ("body", "inspector_person_id"))
    if record_in.inspected_at > utcnow() + timedelta(minutes=5):
        raise ValidationFailed(
            "an inspection cannot be in the future", loc=("body", "inspected_at")
        )
    checklist = [c.model_dump(exclude_none=True) for c in record_in.checklist]
    has_finding = record_in.has_finding
    if has_finding is None:
        has_finding = any(not c.ok for c in record_in.checklist)
    record = InspectionRecord(
        point_id=point.id,
        plan_id=record_in.plan_id,
        inspected_at=record_in.inspected_at,
        inspector_person_id=record_in.inspector_person_id,
        recorded_by=actor.username if actor is not None else "system",
        gps_lon=record_in.gps_lon,
        gps_lat=record_in.gps_lat,
        checklist=checklist,
        notes=record_in.notes,
        has_finding=has_finding,
    )
    session.add(record)
    flush_or_conflict(session, "inspection")
    record_create(session=session, actor=actor, obj=record)
    return record


def get_inspection(*, session: Session, record_id: int, actor: Actor) -> InspectionRecord:
    """An inspection record of a point in the actor's jurisdiction."""
    record = session.get(InspectionRecord, record_id)
    if record is None or not is_unit_visible(
        session=session, user=actor, unit_id=record.point.unit_id
    ):
        raise NotFoundError(f"inspection {record_id} not found")
    return record


def list_inspections(
    *,
    session: Session,
    actor: Actor,
    point_id: int | None = None,
    since: datetime | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[InspectionRecord], int]:
    """Inspection records in the actor's jurisdiction, newest first."""
    stmt = _scope_points(
        select(InspectionRecord).join(HazardPoint, HazardPoint.id == InspectionRecord.point_id),
        session=session,
        actor=actor,
    )
    if point_id is not None:
        stmt = stmt.where(InspectionRecord.point_id == point_id)
    if since is not None:
        stmt = stmt.where(InspectionRecord.inspected_at >= since)
    stmt = stmt.order_by(InspectionRecord.inspected_at.desc(), InspectionRecord.id.desc())
    return paginate(session, stmt, limit, offset)
