"""Query helpers every domain service uses: one page of rows with the total, flush with a clear
conflict error."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from fangxun.errors import ConflictError


def paginate(session: Session, stmt: Select[Any], limit: int, offset: int) -> tuple[list[Any], int]:
    """One page of ``stmt``'s rows and the total count of all its rows."""
    total = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    return list(session.scalars(stmt.limit(limit).offset(offset))), total


def flush_or_conflict(session: Session, what: str) -> None:
    """Flush; a unique or foreign-key race between a service's check and the insert still ends as a
    clear :class:`ConflictError` ("<what> conflicts with existing data")."""
    try:
        session.flush()
    except IntegrityError as exc:
        raise ConflictError(f"{what} conflicts with existing data") from exc
