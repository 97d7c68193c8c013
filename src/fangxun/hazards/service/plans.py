"""Point plans (一点一策): versioned drafts, approval by the district."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from fangxun.audit.service import (
    record_create,
    record_update,
    snapshot,
)
from fangxun.db.queries import flush_or_conflict
from fangxun.db.types import utcnow
from fangxun.errors import (
    ConflictError,
    NotFoundError,
)
from fangxun.hazards.models import (
    PlanStatus,
    PointPlan,
)
from fangxun.hazards.schemas import (
    PointPlanCreate,
)
from fangxun.hazards.service.common import (
    HazardAction,
    _body_person,
    _require,
)
from fangxun.hazards.service.points import (
    get_point,
)
from fangxun.org.jurisdiction import (
    is_unit_visible,
)
from fangxun.org.models import User
from fangxun.org.permissions import Actor


def create_plan(
    *, session: Session, point_id: int, plan_in: PointPlanCreate, actor: Actor
) -> PointPlan:
    """Draft a new version of a point's plan (version = the last one + 1)."""
    point = get_point(session=session, point_id=point_id, actor=actor)
    _require(actor, HazardAction.manage_points, "draft point plans")
    for i, measure in enumerate(plan_in.measures):
        _body_person(
            session,
            actor,
            measure.responsible_person_id,
            ("body", "measures", i, "responsible_person_id"),
        )
    last = session.scalar(select(func.max(PointPlan.version)).where(PointPlan.point_id == point.id))
    plan = PointPlan(
        point_id=point.id,
        version=(last or 0) + 1,
        title=plan_in.title,
        triggers=[t.model_dump(exclude_none=True) for t in plan_in.triggers],
        measures=[m.model_dump(exclude_none=True) for m in plan_in.measures],
        status=PlanStatus.draft,
        close_needs_evidence=plan_in.close_needs_evidence,
    )
    session.add(plan)
    flush_or_conflict(session, f"plan of {point.code!r}")
    record_create(session=session, actor=actor, obj=plan)
    return plan


def list_plans(*, session: Session, point_id: int, actor: Actor) -> list[PointPlan]:
    """Every version of a point's plan, newest first."""
    point = get_point(session=session, point_id=point_id, actor=actor)
    stmt = select(PointPlan).where(PointPlan.point_id == point.id)
    return list(session.scalars(stmt.order_by(PointPlan.version.desc())))


def get_plan(*, session: Session, plan_id: int, actor: Actor) -> PointPlan:
    """One plan version whose point is in the actor's jurisdiction."""
    plan = session.get(PointPlan, plan_id)
    if plan is None or not is_unit_visible(session=session, user=actor, unit_id=plan.point.unit_id):
        raise NotFoundError(f"point plan {plan_id} not found")
    return plan


def current_plan(*, session: Session, point_id: int) -> PointPlan | None:
    """The approved plan in force for a point, if any (no permission check: internal use)."""
    stmt = select(PointPlan).where(
        PointPlan.point_id == point_id, PointPlan.status == PlanStatus.approved
    )
    return session.scalar(stmt.order_by(PointPlan.version.desc()).limit(1))


def approve_plan(*, session: Session, plan_id: int, actor: Actor) -> PointPlan:
    """Approve a draft (district): it comes into force and the one before is superseded."""
    plan = get_plan(session=session, plan_id=plan_id, actor=actor)
    _require(actor, HazardAction.approve_plans, "approve point plans")
    if plan.status is not PlanStatus.draft:
        raise ConflictError(f"plan version {plan.version} is {plan.status.value}, not a draft")
    now = utcnow()
    for older in session.scalars(
        select(PointPlan).where(
            PointPlan.point_id == plan.point_id, PointPlan.status == PlanStatus.approved
        )
    ):
        before = snapshot(older)
        older.status = PlanStatus.superseded
        record_update(session=session, actor=actor, obj=older, before=before)
    before = snapshot(plan)
    plan.status = PlanStatus.approved
    plan.approved_at = now
    plan.approved_by_id = actor.id if isinstance(actor, User) else None
    plan.approved_by_name = actor.username if actor is not None else "system"
    flush_or_conflict(session, "plan approval")
    record_update(session=session, actor=actor, obj=plan, before=before)
    return plan
