"""Shared by the response services: warning colours, who decides and moves tasks, the rules'
actor, and the district a response level belongs to."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from fangxun.audit.service import SystemActor
from fangxun.errors import NotFoundError, ValidationFailed
from fangxun.org.models import Role, Unit, UnitKind
from fangxun.org.permissions import Actor
from fangxun.response.models import TaskStatus

#: Warning colours from the weakest to the strongest.
COLOURS: tuple[str, ...] = ("blue", "yellow", "orange", "red")
#: Roles that may edit plans and decide levels (the district flood-control office).
DECIDERS = frozenset({Role.admin, Role.district})
#: Roles that may move checklist tasks on (a ``unit`` user only its own unit's tasks).
TASK_WRITERS = frozenset({Role.admin, Role.district, Role.duty, Role.unit})
#: How a task may move on.
TASK_MOVES: dict[TaskStatus, frozenset[TaskStatus]] = {
    TaskStatus.pending: frozenset(
        {TaskStatus.confirmed, TaskStatus.done, TaskStatus.not_applicable}
    ),
    TaskStatus.confirmed: frozenset(
        {TaskStatus.done, TaskStatus.not_applicable, TaskStatus.pending}
    ),
    TaskStatus.done: frozenset({TaskStatus.confirmed}),
    TaskStatus.not_applicable: frozenset({TaskStatus.pending}),
}
#: The name under which rules act in level changes and the audit log.
RULE_ACTOR = SystemActor(username="rule:response")
#: Column headings of a plan workbook (first sheet): level, department (code or name), action,
#: order, confirmation required (是/否).
XLSX_HEADER = ("级别", "部门", "措施", "顺序", "需确认")


def rank_of_colour(colour: str | None) -> int:
    """0 for none, 1 for blue … 4 for red; an unknown colour is 0."""
    return COLOURS.index(colour) + 1 if colour in COLOURS else 0


def _aware(value: datetime, what: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValidationFailed(f"{what}: give a time zone offset", loc=(what,))
    return value.astimezone(UTC)


def _name(actor: Actor) -> str:
    return actor.username if actor is not None else "system"


# --- scope -------------------------------------------------------------------------------------


def district_scope(*, session: Session, unit_id: int | None) -> int | None:
    """The district unit a response level belongs to.

    ``None`` means the district: the one root unit of kind ``district`` (``None`` when there is
    not exactly one). A street office or department resolves to the district above it.
    """
    if unit_id is None:
        roots = list(
            session.scalars(
                select(Unit.id)
                .where(Unit.parent_id.is_(None), Unit.kind == UnitKind.district)
                .limit(2)
            )
        )
        return roots[0] if len(roots) == 1 else None
    unit = session.get(Unit, unit_id)
    if unit is None:
        raise NotFoundError(f"unit {unit_id} not found")
    seen: set[int] = set()
    while unit.kind is not UnitKind.district and unit.parent is not None and unit.id not in seen:
        seen.add(unit.id)
        unit = unit.parent
    return unit.id


# --- plans -------------------------------------------------------------------------------------
