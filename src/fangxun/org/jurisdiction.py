"""Jurisdiction: which units' objects a user may see. The one reusable check every domain uses.

A ``unit`` user sees its own unit and all its descendants. An ``inspector`` works in one street
office, which is responsible for its own area: it sees its unit and descendants too, unless the
user is marked ``district_wide`` (a district inspector). Every other role sees everything. An
object outside the caller's jurisdiction is reported as *not found* (404), never *forbidden*, so its
existence does not leak.

Typical use in a later domain's service::

    stmt = scope_query(select(HazardPoint), HazardPoint.unit_id, session=session, user=actor)
    point = get_in_jurisdiction(session=session, user=actor, model=HazardPoint, obj_id=7)
    person = get_named_in_body(session=session, user=actor, model=Person, obj_id=5,
                               loc=("body", "person_id"), label="person")
    rows, total = paginate(session, stmt.order_by(HazardPoint.code), limit=50, offset=0)
"""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import Select, false, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from fangxun.audit.service import SystemActor
from fangxun.errors import NotFoundError, ValidationFailed
from fangxun.org.models import Role, Unit, User

T = TypeVar("T")
S = TypeVar("S")


def descendant_unit_ids(*, session: Session, unit_id: int) -> set[int]:
    """``unit_id`` and the ids of all units below it (a recursive CTE: SQLite and PostgreSQL)."""
    tree = select(Unit.id).where(Unit.id == unit_id).cte("tree", recursive=True)
    tree = tree.union_all(select(Unit.id).where(Unit.parent_id == tree.c.id))
    return set(session.scalars(select(tree.c.id)))


#: Roles limited to their unit's jurisdiction (an inspector only without ``district_wide``).
SCOPED_ROLES = frozenset({Role.unit, Role.inspector})


def is_scoped(user: User | SystemActor | None) -> bool:
    """True when ``user`` is limited to its unit's jurisdiction: a ``unit`` user, or an
    ``inspector`` who is not marked ``district_wide``."""
    if user is None or isinstance(user, SystemActor) or user.role not in SCOPED_ROLES:
        return False
    return not (user.role is Role.inspector and bool(getattr(user, "district_wide", False)))


def visible_unit_ids(*, session: Session, user: User | SystemActor | None) -> set[int] | None:
    """Unit ids ``user`` may see; ``None`` means every unit (no restriction).

    A scoped user (see :func:`is_scoped`) without a unit sees nothing (an empty set), rather
    than everything.
    """
    if not is_scoped(user):
        return None
    assert isinstance(user, User)
    if user.unit_id is None:
        return set()
    return descendant_unit_ids(session=session, unit_id=user.unit_id)


def is_unit_visible(
    *, session: Session, user: User | SystemActor | None, unit_id: int | None
) -> bool:
    """True when an object belonging to ``unit_id`` is inside ``user``'s jurisdiction.

    Objects with no unit (``None``) are district-wide: visible only to unrestricted users.
    """
    visible = visible_unit_ids(session=session, user=user)
    if visible is None:
        return True
    return unit_id is not None and unit_id in visible


def scope_query(
    stmt: Select[S],
    unit_column: InstrumentedAttribute[Any],
    *,
    session: Session,
    user: User | SystemActor | None,
) -> Select[S]:
    """Limit ``stmt`` to rows whose ``unit_column`` lies in ``user``'s jurisdiction."""
    visible = visible_unit_ids(session=session, user=user)
    if visible is None:
        return stmt
    if not visible:
        return stmt.where(false())
    return stmt.where(unit_column.in_(sorted(visible)))


def get_in_jurisdiction(
    *,
    session: Session,
    user: User | SystemActor | None,
    model: type[T],
    obj_id: Any,
    unit_attr: str = "unit_id",
    label: str | None = None,
) -> T:
    """Load ``model`` by primary key, or raise :class:`NotFoundError` if it is missing *or* outside
    ``user``'s jurisdiction (the two cases give the same message)."""
    obj = session.get(model, obj_id)
    name = label or getattr(model, "__tablename__", model.__name__)
    if obj is None or not is_unit_visible(
        session=session, user=user, unit_id=getattr(obj, unit_attr)
    ):
        raise NotFoundError(f"{name} {obj_id} not found")
    return obj


def get_named_in_body(
    *,
    session: Session,
    user: User | SystemActor | None,
    model: type[T],
    obj_id: Any,
    loc: tuple[Any, ...],
    unit_attr: str | None = "unit_id",
    label: str | None = None,
) -> T:
    """Load ``model`` named by id in a request body, or raise :class:`ValidationFailed` (422) on
    ``loc`` if it is missing *or* outside ``user``'s jurisdiction (the same message).

    ``unit_attr`` names the attribute holding the object's unit (``"id"`` for a :class:`Unit`);
    ``None`` checks existence only, for objects that belong to no unit.
    """
    obj = session.get(model, obj_id)
    name = label or getattr(model, "__tablename__", model.__name__)
    if obj is None or (
        unit_attr is not None
        and not is_unit_visible(session=session, user=user, unit_id=getattr(obj, unit_attr))
    ):
        raise ValidationFailed(f"{name} {obj_id} does not exist", loc=loc)
    return obj


def unit_in_body(
    session: Session, user: User | SystemActor | None, unit_id: int, loc: tuple[Any, ...]
) -> Unit:
    """A unit named in a request body: missing or outside the jurisdiction → 422 on ``loc``."""
    return get_named_in_body(
        session=session,
        user=user,
        model=Unit,
        obj_id=unit_id,
        loc=loc,
        unit_attr="id",
        label="unit",
    )
