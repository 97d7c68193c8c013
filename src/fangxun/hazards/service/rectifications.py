"""Rectifications: the state machine open → in_progress → submitted → verified → closed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

from sqlalchemy import and_, exists, select
from sqlalchemy.orm import Session

from fangxun import versioning
from fangxun.audit.models import AuditAction
from fangxun.audit.service import (
    record_change,
    record_create,
    snapshot,
)
from fangxun.db.queries import flush_or_conflict, paginate
from fangxun.db.types import utcnow
from fangxun.errors import (
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    ValidationFailed,
)
from fangxun.hazards.models import (
    HazardAttachment,
    HazardPoint,
    InspectionRecord,
    PlanStatus,
    PointPlan,
    Rectification,
    RectificationEvent,
    RectificationStatus,
)
from fangxun.hazards.schemas import (
    RectificationCreate,
    RectificationEventRead,
    RectificationRead,
)
from fangxun.hazards.service.common import (
    OPEN_STATES,
    HazardAction,
    _body_person,
    _body_point,
    _require,
    _scope_points,
    can,
)
from fangxun.org.jurisdiction import (
    is_unit_visible,
)
from fangxun.org.models import User
from fangxun.org.permissions import Actor


@dataclass(frozen=True)
class Transition:
    """One allowed move: from which states, to which, and who may make it."""

    sources: frozenset[RectificationStatus]
    target: RectificationStatus
    needs: HazardAction


S = RectificationStatus
#: The state machine. "advance" moves belong to the owning unit, the rest to the district.
TRANSITIONS: Final[dict[str, Transition]] = {
    "start": Transition(frozenset({S.open}), S.in_progress, HazardAction.advance_rectifications),
    "submit": Transition(
        frozenset({S.in_progress}), S.submitted, HazardAction.advance_rectifications
    ),
    "resume": Transition(
        frozenset({S.rejected}), S.in_progress, HazardAction.advance_rectifications
    ),
    "verify": Transition(frozenset({S.submitted}), S.verified, HazardAction.verify_rectifications),
    "reject": Transition(frozenset({S.submitted}), S.rejected, HazardAction.verify_rectifications),
    "close": Transition(frozenset({S.verified}), S.closed, HazardAction.verify_rectifications),
}


def is_overdue(rect: Rectification, now: datetime | None = None) -> bool:
    """True when the rectification still needs work by its unit and its deadline has passed."""
    return rect.status in OPEN_STATES and rect.deadline < (now or utcnow())


def rectification_read(rect: Rectification, now: datetime | None = None) -> RectificationRead:
    """The wire shape of a rectification, with the overdue flag and its history."""
    return RectificationRead(
        id=rect.id,
        point_id=rect.point_id,
        unit_id=rect.point.unit_id,
        inspection_id=rect.inspection_id,
        finding=rect.finding,
        measure=rect.measure,
        deadline=rect.deadline,
        responsible_person_id=rect.responsible_person_id,
        status=rect.status,
        overdue=is_overdue(rect, now),
        closed_at=rect.closed_at,
        created_at=rect.created_at,
        updated_at=rect.updated_at,
        events=[RectificationEventRead.model_validate(e) for e in rect.events],
        version=rect.version,
    )


def allowed_actions(rect: Rectification, actor: Actor) -> list[str]:
    """The transitions ``actor`` may make on ``rect`` now (for the workflow page's buttons)."""
    return [
        name for name, t in TRANSITIONS.items() if rect.status in t.sources and can(actor, t.needs)
    ]


def create_rectification(
    *, session: Session, rect_in: RectificationCreate, actor: Actor
) -> Rectification:
    """Open a rectification for a finding (district, unit, inspector)."""
    _require(actor, HazardAction.open_rectifications, "open rectifications")
    point = _body_point(session, actor, rect_in.point_id, ("body", "point_id"))
    if rect_in.inspection_id is not None:
        record = session.get(InspectionRecord, rect_in.inspection_id)
        if record is None or record.point_id != point.id:
            raise ValidationFailed(
                f"inspection {rect_in.inspection_id} is not an inspection of this point",
                loc=("body", "inspection_id"),
            )
    _body_person(session, actor, rect_in.responsible_person_id, ("body", "responsible_person_id"))
    rect = Rectification(**rect_in.model_dump(), status=RectificationStatus.open)
    rect.events = [
        RectificationEvent(
            action="open",
            from_status=None,
            to_status=RectificationStatus.open.value,
            comment=rect_in.finding,
            actor_id=actor.id if actor is not None else None,
            actor_username=actor.username if actor is not None else "system",
        )
    ]
    session.add(rect)
    flush_or_conflict(session, "rectification")
    record_create(session=session, actor=actor, obj=rect)
    return rect


def get_rectification(*, session: Session, rect_id: int, actor: Actor) -> Rectification:
    """A rectification of a point in the actor's jurisdiction."""
    rect = session.get(Rectification, rect_id)
    if rect is None or not is_unit_visible(session=session, user=actor, unit_id=rect.point.unit_id):
        raise NotFoundError(f"rectification {rect_id} not found")
    return rect


def _require_evidence(session: Session, rect: Rectification) -> None:
    """Refuse to close ``rect`` without an attachment when the point's approved plan asks for
    photo evidence (``close_needs_evidence``)."""
    needs = session.scalar(
        select(PointPlan.close_needs_evidence).where(
            PointPlan.point_id == rect.point_id, PointPlan.status == PlanStatus.approved
        )
    )
    if not needs:
        return
    has = session.scalar(select(exists().where(HazardAttachment.rectification_id == rect.id)))
    if not has:
        raise ValidationFailed(
            f"the plan of point {rect.point.code!r} asks for photo evidence before a "
            "rectification is closed: attach photos of the fix first",
            loc=("body", "action"),
        )


def transition_rectification(
    *,
    session: Session,
    rect_id: int,
    action: str,
    comment: str,
    actor: Actor,
    now: datetime | None = None,
    expected_version: int | None = None,
) -> Rectification:
    """Move a rectification along its state machine, with a comment; audited. A stale
    ``expected_version`` (the one the person saw) → :class:`~fangxun.errors.StaleVersion`.

    Outside the jurisdiction → :class:`NotFoundError`; a move the role may not make →
    :class:`PermissionDeniedError`; a move not allowed from the current state →
    :class:`ConflictError`; a blank comment → :class:`ValidationFailed`.
    """
    rect = get_rectification(session=session, rect_id=rect_id, actor=actor)
    versioning.check_version(session, rect, expected_version, f"rectification {rect_id}")
    transition = TRANSITIONS.get(action)
    if transition is None:
        raise ValidationFailed(
            f"unknown action {action!r}; one of {', '.join(TRANSITIONS)}", loc=("body", "action")
        )
    if not can(actor, transition.needs):
        who = (
            "the owning unit"
            if transition.needs is HazardAction.advance_rectifications
            else ("the district flood-control office")
        )
        role = actor.role.value if isinstance(actor, User) else "system"
        raise PermissionDeniedError(f"only {who} may {action} a rectification (role {role!r})")
    if rect.status not in transition.sources:
        raise ConflictError(
            f"cannot {action} a rectification that is {rect.status.value} "
            f"(only from {', '.join(sorted(s.value for s in transition.sources))})"
        )
    comment = (comment or "").strip()
    if not comment:
        raise ValidationFailed(
            "a comment is required for every transition", loc=("body", "comment")
        )
    if transition.target is RectificationStatus.closed:
        _require_evidence(session, rect)
    now = now or utcnow()
    before = snapshot(rect)
    previous = rect.status
    rect.status = transition.target
    rect.closed_at = now if transition.target is RectificationStatus.closed else None
    rect.events.append(
        RectificationEvent(
            action=action,
            from_status=previous.value,
            to_status=transition.target.value,
            comment=comment,
            actor_id=actor.id if actor is not None else None,
            actor_username=actor.username if actor is not None else "system",
            at=now,
        )
    )
    flush_or_conflict(session, "rectification")
    record_change(
        session=session,
        actor=actor,
        action=AuditAction.update,
        obj=rect,
        before=before,
        after=snapshot(rect) | {"transition": action, "comment": comment},
    )
    return rect


def list_rectifications(
    *,
    session: Session,
    actor: Actor,
    point_id: int | None = None,
    unit_id: int | None = None,
    status: RectificationStatus | None = None,
    overdue: bool | None = None,
    now: datetime | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[Rectification], int]:
    """Rectifications in the actor's jurisdiction, by deadline (earliest first)."""
    now = now or utcnow()
    stmt = _scope_points(
        select(Rectification).join(HazardPoint, HazardPoint.id == Rectification.point_id),
        session=session,
        actor=actor,
    )
    if point_id is not None:
        stmt = stmt.where(Rectification.point_id == point_id)
    if unit_id is not None:
        stmt = stmt.where(HazardPoint.unit_id == unit_id)
    if status is not None:
        stmt = stmt.where(Rectification.status == status)
    if overdue is not None:
        cond = and_(Rectification.status.in_(OPEN_STATES), Rectification.deadline < now)
        stmt = stmt.where(cond if overdue else ~cond)
    stmt = stmt.order_by(Rectification.deadline, Rectification.id)
    return paginate(session, stmt, limit, offset)
