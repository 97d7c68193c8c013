"""Recording and reading the audit log. Every service that changes data calls record_change."""

from __future__ import annotations

import enum
import getpass
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Protocol

from sqlalchemy import func, inspect, select
from sqlalchemy.orm import Session

from fangxun.audit.models import AuditAction, AuditEntry
from fangxun.errors import ValidationFailed

#: Never copied into the audit log.
SECRET_FIELDS = frozenset({"password_hash", "token_hash"})


class Actor(Protocol):
    """Anything named as the author of a change (a ``User`` or a :class:`SystemActor`)."""

    @property
    def id(self) -> int | None: ...

    @property
    def username(self) -> str: ...


@dataclass(frozen=True)
class SystemActor:
    """The system itself acting (CLI, demo loader, ingest), named in the log by ``username``."""

    username: str = "system"
    id: None = None


def cli_actor() -> SystemActor:
    """The command line acting for the operating-system user who runs it (``cli:<login>``)."""
    try:
        who = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (containers)
        who = "unknown"
    return SystemActor(username=f"cli:{who}"[:64])


def actor_username(actor: Actor | None) -> str:
    """The name a change is logged under: the actor's username, or ``"system"`` for None."""
    return actor.username if actor is not None else "system"


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    return str(value)


def snapshot(obj: Any, *, exclude: frozenset[str] = SECRET_FIELDS) -> dict[str, Any]:
    """The column values of a mapped object as JSON-ready data (secrets left out)."""
    mapper = inspect(obj).mapper
    return {
        attr.key: _jsonable(getattr(obj, attr.key))
        for attr in mapper.column_attrs
        if attr.key not in exclude
    }


def object_type_of(obj: Any) -> str:
    """The name an object is logged under: its table name (stable across refactors)."""
    return str(getattr(obj, "__tablename__", type(obj).__name__))


def record_change(
    *,
    session: Session,
    actor: Actor | None,
    action: AuditAction | str,
    obj: Any,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> AuditEntry | None:
    """Add an audit row for a change to ``obj`` (flushing first so a new object has its id).

    ``before`` is None for a create and ``after`` None for a delete; :func:`snapshot` takes them.
    An update that changed nothing records nothing and returns None.
    """
    action = AuditAction(action)
    if action is AuditAction.update and before == after:
        return None
    if action is not AuditAction.delete:
        session.flush()
    identity = inspect(obj).identity
    if identity is None:
        raise ValueError(f"cannot audit {object_type_of(obj)} without a primary key")
    object_id = ",".join(str(part) for part in identity)
    entry = AuditEntry(
        actor_id=actor.id if actor is not None else None,
        actor_username=actor_username(actor),
        action=action,
        object_type=object_type_of(obj),
        object_id=object_id,
        before=_jsonable(before) if before is not None else None,
        after=_jsonable(after) if after is not None else None,
    )
    session.add(entry)
    return entry


#: How an object is photographed for the audit log (:func:`snapshot`, or one that adds children).
Snapshot = Callable[[Any], dict[str, Any]]


def record_create(
    *, session: Session, actor: Actor | None, obj: Any, snap: Snapshot = snapshot
) -> AuditEntry | None:
    """Audit the creation of ``obj`` (``snap(obj)``, by default its :func:`snapshot`, as
    ``after``)."""
    return record_change(
        session=session,
        actor=actor,
        action=AuditAction.create,
        obj=obj,
        before=None,
        after=snap(obj),
    )


def record_update(
    *,
    session: Session,
    actor: Actor | None,
    obj: Any,
    before: dict[str, Any],
    snap: Snapshot = snapshot,
) -> AuditEntry | None:
    """Audit a change to ``obj`` from ``before`` to ``snap(obj)`` now (nothing if equal)."""
    return record_change(
        session=session,
        actor=actor,
        action=AuditAction.update,
        obj=obj,
        before=before,
        after=snap(obj),
    )


def record_delete(
    *, session: Session, actor: Actor | None, obj: Any, before: dict[str, Any]
) -> AuditEntry | None:
    """Audit the deletion of ``obj``, whose :func:`snapshot` before it was ``before``."""
    return record_change(
        session=session, actor=actor, action=AuditAction.delete, obj=obj, before=before, after=None
    )


@contextmanager
def audited_update(
    *, session: Session, actor: Actor | None, obj: Any, snap: Snapshot = snapshot
) -> Iterator[None]:
    """Audit what the ``with`` block changes in ``obj``: ``snap(obj)`` before and after (nothing
    when equal, nothing when the block raises). The block flushes, as its checks need::

        with audited_update(session=session, actor=actor, obj=plan, snap=_plan_snapshot):
            plan.name = plan_in.name
            flush_or_conflict(session, "plan")
    """
    before = snap(obj)
    yield
    record_update(session=session, actor=actor, obj=obj, before=before, snap=snap)


def audited_delete(
    *,
    session: Session,
    actor: Actor | None,
    obj: Any,
    snap: Snapshot = snapshot,
    flush: Callable[[Session], None] | None = None,
) -> None:
    """Delete ``obj``, flush (``flush(session)`` when given, e.g. to turn a foreign-key refusal
    into a conflict) and audit it with ``snap(obj)`` as it was."""
    before = snap(obj)
    session.delete(obj)
    if flush is None:
        session.flush()
    else:
        flush(session)
    record_delete(session=session, actor=actor, obj=obj, before=before)


def list_entries(
    *,
    session: Session,
    object_type: str | None = None,
    object_id: str | None = None,
    actor_id: int | None = None,
    actor_username: str | None = None,
    action: AuditAction | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[AuditEntry], int]:
    """Audit entries matching every given filter, newest first, with the total count.

    Permission to read the log is checked by the caller's shell (``admin`` and ``district`` only).
    """
    if since is not None and until is not None and since > until:
        raise ValidationFailed("'since' must not be after 'until'", loc=("query", "since"))
    stmt = select(AuditEntry)
    if object_type is not None:
        stmt = stmt.where(AuditEntry.object_type == object_type)
    if object_id is not None:
        stmt = stmt.where(AuditEntry.object_id == object_id)
    if actor_id is not None:
        stmt = stmt.where(AuditEntry.actor_id == actor_id)
    if actor_username is not None:
        stmt = stmt.where(AuditEntry.actor_username == actor_username)
    if action is not None:
        stmt = stmt.where(AuditEntry.action == action)
    if since is not None:
        stmt = stmt.where(AuditEntry.at >= since)
    if until is not None:
        stmt = stmt.where(AuditEntry.at <= until)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(
        stmt.order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(limit).offset(offset)
    )
    return list(rows), total
