"""Lost-update guard (issue 20, item 13): editable records carry a ``version`` (SQLAlchemy's
``version_id_col``: every UPDATE adds one and checks the row still has the version it read). A
client sends back the version it edited — ``If-Match: "3"`` on the API, a hidden ``version``
field in web forms — and a stale one is refused with :class:`~fangxun.errors.StaleVersion`,
listing what changed since, from the audit log.

>>> etag(3), parse_if_match('W/"3"'), parse_if_match("*"), parse_if_match(None)
('"3"', 3, None, None)
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from fangxun.audit.models import AuditEntry
from fangxun.audit.service import object_type_of
from fangxun.errors import StaleVersion, ValidationFailed

#: Columns that change on every write and say nothing about what a person changed.
_NOISE = frozenset({"version", "updated_at", "created_at"})


def etag(version: int) -> str:
    """The strong ETag of a record version."""
    return f'"{version}"'


def parse_if_match(value: str | None) -> int | None:
    """The version in an ``If-Match`` header (``"3"`` or ``W/"3"``); ``None`` for absent or
    ``*``; :class:`ValidationFailed` for anything else."""
    if value is None or value.strip() in ("", "*"):
        return None
    text = value.strip().removeprefix("W/").strip('"')
    if not text.isdigit():
        raise ValidationFailed(
            f'If-Match must be the ETag of the record, e.g. "3"; not {value!r}',
            loc=("header", "If-Match"),
        )
    return int(text)


def changes_since(session: Session, obj: Any, version: int) -> list[dict[str, Any]]:
    """Fields of ``obj`` changed after ``version`` (from the audit log), with their values now."""
    entries = session.scalars(
        select(AuditEntry)
        .where(
            AuditEntry.object_type == object_type_of(obj),
            AuditEntry.object_id == str(obj.id),
        )
        .order_by(AuditEntry.id)
    )
    fields: dict[str, None] = {}
    for entry in entries:
        after = entry.after or {}
        before = entry.before or {}
        # A change made from the version the client read, or a later one (``before`` is taken
        # before the write, so it holds the version the change started from).
        if int(before.get("version") or 0) < version:
            continue
        for key, value in after.items():
            if key not in _NOISE and before.get(key) != value:
                fields[key] = None
    return [{"field": key, "now": _plain(getattr(obj, key, None))} for key in fields]


def _plain(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "value"):
        return value.value
    return value


def check_version(session: Session, obj: Any, expected: int | None, what: str) -> None:
    """Refuse a change made from version ``expected`` of ``obj`` when it has moved on."""
    if expected is None or expected == obj.version:
        return
    changes = changes_since(session, obj, expected)
    names = ", ".join(c["field"] for c in changes) or "(not recorded)"
    raise StaleVersion(
        f"{what} was changed by someone else since you opened it (your version {expected}, "
        f"now {obj.version}; changed: {names}); reload it and make your change again",
        current_version=obj.version,
        changes=changes,
    )


__all__ = ["changes_since", "check_version", "etag", "parse_if_match"]
