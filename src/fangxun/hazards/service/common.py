"""Shared parts of the hazard ledger services: the role table, the permission check, the
jurisdiction filter and the checks of points and people named in a request body."""

from __future__ import annotations

import enum
from typing import Any, Final

from sqlalchemy import Select
from sqlalchemy.orm import Session

from fangxun.errors import (
    PermissionDeniedError,
)
from fangxun.hazards.models import (
    HazardPoint,
    RectificationStatus,
)
from fangxun.org.jurisdiction import (
    get_named_in_body,
    scope_query,
)
from fangxun.org.models import Person, Role, User
from fangxun.org.permissions import Actor, is_system

#: cm per m: depths are cm at the edges and m inside.
CM_PER_M: Final = 100.0
#: Default window of "inspected recently" in the ledger statistics, s (30 days).
DEFAULT_COVERAGE_WINDOW_S: Final = 30 * 86400
#: States in which a rectification still needs work by its unit (these can be overdue).
OPEN_STATES: Final = frozenset(
    {
        RectificationStatus.open,
        RectificationStatus.in_progress,
        RectificationStatus.submitted,
        RectificationStatus.rejected,
    }
)
#: States that count as "open problems" of a point (anything not closed).
UNCLOSED_STATES: Final = frozenset(set(RectificationStatus) - {RectificationStatus.closed})


class HazardAction(enum.StrEnum):
    """Actions on the ledger that need a role (reading needs only the jurisdiction)."""

    manage_points = "manage_points"
    #: Add a point found in the field and correct or move it (inspectors, issue 22); retiring,
    #: deleting, importing and planning stay with ``manage_points``.
    report_points = "report_points"
    approve_plans = "approve_plans"
    record_inspections = "record_inspections"
    open_rectifications = "open_rectifications"
    advance_rectifications = "advance_rectifications"
    verify_rectifications = "verify_rectifications"


ROLE_ACTIONS: Final[dict[Role, frozenset[HazardAction]]] = {
    Role.admin: frozenset(HazardAction),
    Role.district: frozenset(
        {
            HazardAction.manage_points,
            HazardAction.approve_plans,
            HazardAction.record_inspections,
            HazardAction.open_rectifications,
            HazardAction.verify_rectifications,
        }
    ),
    Role.unit: frozenset(
        {
            HazardAction.manage_points,
            HazardAction.record_inspections,
            HazardAction.open_rectifications,
            HazardAction.advance_rectifications,
        }
    ),
    Role.inspector: frozenset(
        {
            HazardAction.report_points,
            HazardAction.record_inspections,
            HazardAction.open_rectifications,
        }
    ),
    Role.duty: frozenset(),
    Role.viewer: frozenset(),
}


def can(actor: Actor, action: HazardAction) -> bool:
    """True when ``actor`` may perform ``action`` (the system may do everything)."""
    if is_system(actor):
        return True
    assert isinstance(actor, User)
    return actor.is_active and action in ROLE_ACTIONS.get(actor.role, frozenset())


def _require_point_writer(actor: Actor) -> None:
    """Who may add a point or change one: ``manage_points`` or ``report_points``."""
    if not can(actor, HazardAction.report_points):
        _require(actor, HazardAction.manage_points, "manage hazard points")


def _require(actor: Actor, action: HazardAction, what: str) -> None:
    if not can(actor, action):
        role = actor.role.value if isinstance(actor, User) else "system"
        raise PermissionDeniedError(f"role {role!r} may not {what}")


def _scope_points(stmt: Select[Any], *, session: Session, actor: Actor) -> Select[Any]:
    """Limit a statement that involves :class:`HazardPoint` to the actor's jurisdiction."""
    return scope_query(stmt, HazardPoint.unit_id, session=session, user=actor)


def _body_person(
    session: Session, actor: Actor, person_id: int | None, loc: tuple[Any, ...]
) -> None:
    if person_id is not None:
        get_named_in_body(
            session=session, user=actor, model=Person, obj_id=person_id, loc=loc, label="person"
        )


def _body_point(
    session: Session, actor: Actor, point_id: int, loc: tuple[str | int, ...]
) -> HazardPoint:
    return get_named_in_body(
        session=session,
        user=actor,
        model=HazardPoint,
        obj_id=point_id,
        loc=loc,
        label="hazard point",
    )
