"""Contingency plans (预案): create, read, change, delete; the plan in force for a district."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from fangxun.audit.service import (
    audited_delete,
    audited_update,
    record_create,
    record_update,
    snapshot,
)
from fangxun.db.queries import flush_or_conflict
from fangxun.errors import ConflictError
from fangxun.org.jurisdiction import get_in_jurisdiction, scope_query, unit_in_body
from fangxun.org.permissions import Actor, require_role
from fangxun.response.models import ContingencyPlan, PlanAction, ResponseActivation
from fangxun.response.schemas import PlanActionIn, PlanCreate, PlanUpdate
from fangxun.response.service.common import DECIDERS


def _plan_snapshot(plan: ContingencyPlan) -> dict[str, Any]:
    data = snapshot(plan)
    data["actions"] = [
        {
            "level": a.level.value,
            "department_id": a.department_id,
            "action": a.action,
            "sort_order": a.sort_order,
            "requires_confirmation": a.requires_confirmation,
        }
        for a in plan.actions
    ]
    return data


def _actions(session: Session, actor: Actor, items: Sequence[PlanActionIn]) -> list[PlanAction]:
    out: list[PlanAction] = []
    for i, item in enumerate(items):
        unit_in_body(session, actor, item.department_id, ("body", "actions", i, "department_id"))
        out.append(
            PlanAction(
                level=item.level,
                department_id=item.department_id,
                action=item.action,
                sort_order=item.sort_order,
                requires_confirmation=item.requires_confirmation,
            )
        )
    return out


def _deactivate_others(session: Session, plan: ContingencyPlan, actor: Actor) -> None:
    # One plan in force per unit: activating a plan retires the one before.
    for other in session.scalars(
        select(ContingencyPlan).where(
            ContingencyPlan.unit_id == plan.unit_id,
            ContingencyPlan.is_active.is_(True),
            ContingencyPlan.id != plan.id,
        )
    ):
        before = _plan_snapshot(other)
        other.is_active = False
        session.flush()
        record_update(session=session, actor=actor, obj=other, before=before)


def create_plan(*, session: Session, plan_in: PlanCreate, actor: Actor) -> ContingencyPlan:
    """Create a contingency plan with its actions (``district`` role)."""
    require_role(actor, DECIDERS, "edit contingency plans")
    unit_in_body(session, actor, plan_in.unit_id, ("body", "unit_id"))
    plan = ContingencyPlan(
        unit_id=plan_in.unit_id,
        name=plan_in.name,
        description=plan_in.description,
        is_active=plan_in.is_active,
    )
    plan.actions = _actions(session, actor, plan_in.actions)
    session.add(plan)
    flush_or_conflict(session, f"plan {plan_in.name!r}")
    if plan.is_active:
        _deactivate_others(session, plan, actor)
    session.refresh(plan)
    record_create(session=session, actor=actor, obj=plan, snap=_plan_snapshot)
    return plan


def get_plan(*, session: Session, plan_id: int, actor: Actor) -> ContingencyPlan:
    """A plan in the actor's jurisdiction, else :class:`NotFoundError`."""
    return get_in_jurisdiction(
        session=session, user=actor, model=ContingencyPlan, obj_id=plan_id, label="plan"
    )


def list_plans(*, session: Session, actor: Actor) -> list[ContingencyPlan]:
    """Plans in the actor's jurisdiction, active first."""
    stmt = scope_query(
        select(ContingencyPlan), ContingencyPlan.unit_id, session=session, user=actor
    ).options(selectinload(ContingencyPlan.actions).selectinload(PlanAction.department))
    return list(
        session.scalars(stmt.order_by(ContingencyPlan.is_active.desc(), ContingencyPlan.id))
    )


def update_plan(
    *, session: Session, plan_id: int, plan_in: PlanUpdate, actor: Actor
) -> ContingencyPlan:
    """Change a plan (``actions``, when given, replace all of them). Tasks already created keep
    their text: a checklist is what was asked at the time."""
    plan = get_plan(session=session, plan_id=plan_id, actor=actor)
    require_role(actor, DECIDERS, "edit contingency plans")
    with audited_update(session=session, actor=actor, obj=plan, snap=_plan_snapshot):
        if plan_in.name is not None:
            plan.name = plan_in.name
        if "description" in plan_in.model_fields_set:
            plan.description = plan_in.description
        if plan_in.actions is not None:
            plan.actions = _actions(session, actor, plan_in.actions)
        if plan_in.is_active is not None:
            plan.is_active = plan_in.is_active
        flush_or_conflict(session, f"plan {plan.name!r}")
        if plan.is_active:
            _deactivate_others(session, plan, actor)
        session.refresh(plan)
    return plan


def delete_plan(*, session: Session, plan_id: int, actor: Actor) -> None:
    """Delete a plan that no activation used; a used plan is kept for the record (deactivate it)."""
    plan = get_plan(session=session, plan_id=plan_id, actor=actor)
    require_role(actor, DECIDERS, "edit contingency plans")
    used = session.scalar(
        select(ResponseActivation.id).where(ResponseActivation.plan_id == plan.id).limit(1)
    )
    if used is not None:
        raise ConflictError(f"plan {plan.id} was used by activation {used}; deactivate it instead")
    audited_delete(session=session, actor=actor, obj=plan, snap=_plan_snapshot)


def active_plan(*, session: Session, unit_id: int | None) -> ContingencyPlan | None:
    """The plan in force for a district unit (no permission check: internal use)."""
    stmt = select(ContingencyPlan).where(ContingencyPlan.is_active.is_(True))
    if unit_id is not None:
        stmt = stmt.where(ContingencyPlan.unit_id == unit_id)
    return session.scalar(stmt.order_by(ContingencyPlan.id.desc()).limit(1))
