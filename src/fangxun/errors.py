"""Typed domain errors.

Services raise these; ``fangxun.api`` maps them to RFC 9457 problem responses (HTTP status by
class) and ``fangxun.cli`` to exit codes. Each carries a machine ``code`` and a human ``detail``.

>>> err = NotFoundError("unit 7 not found")
>>> err.code, err.detail
('not_found', 'unit 7 not found')
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class FieldProblem:
    """One invalid input: ``loc`` is the path to the field (e.g. ``("body", "username")``)."""

    loc: tuple[str | int, ...]
    msg: str


class FangxunError(Exception):
    """Base of every expected (domain) failure."""

    code: str = "error"
    title: str = "Error"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail

    def __str__(self) -> str:
        return self.detail


class NotFoundError(FangxunError):
    """The object does not exist, or exists outside the caller's jurisdiction (never say which)."""

    code = "not_found"
    title = "Not found"


class PermissionDeniedError(FangxunError):
    """The caller's role does not allow the action (on an object it is allowed to see)."""

    code = "permission_denied"
    title = "Permission denied"


class ValidationFailed(FangxunError):
    """Well-formed but unacceptable input; ``problems`` names each field and what was wrong."""

    code = "validation_failed"
    title = "Validation failed"

    def __init__(
        self,
        detail: str,
        *,
        loc: Sequence[str | int] | None = None,
        problems: Sequence[FieldProblem] | None = None,
    ) -> None:
        super().__init__(detail)
        items = list(problems or [])
        if loc is not None:
            items.insert(0, FieldProblem(tuple(loc), detail))
        self.problems: list[FieldProblem] = items


class ConflictError(FangxunError):
    """The change conflicts with existing data (duplicate code or username, object still in use)."""

    code = "conflict"
    title = "Conflict"


class StaleVersion(ConflictError):
    """The record changed since the version the client read (lost-update guard). ``changes``
    lists each field changed since then with its value now (``{"field", "now"}``); the API
    answers 412 (If-Match), the web forms 409."""

    code = "stale_version"
    title = "Changed by someone else"

    def __init__(
        self, detail: str, *, current_version: int, changes: Sequence[dict[str, Any]]
    ) -> None:
        super().__init__(detail)
        self.current_version = current_version
        self.changes = list(changes)


class AuthenticationError(FangxunError):
    """Credentials or token missing, wrong, expired or revoked."""

    code = "authentication_failed"
    title = "Authentication failed"


class ThrottledError(FangxunError):
    """Too many attempts; retry after ``retry_after_s`` seconds."""

    code = "throttled"
    title = "Too many attempts"

    def __init__(self, detail: str, *, retry_after_s: int) -> None:
        super().__init__(detail)
        self.retry_after_s = max(1, int(retry_after_s))


class ConfigError(FangxunError):
    """A setting is missing or invalid; the detail names the ``FANGXUN_...`` variable."""

    code = "config_error"
    title = "Configuration error"


def did_you_mean(text: str | None, known: Sequence[str], *, limit: int = 3) -> str:
    """``"; did you mean 'X' or 'Y'?"`` for the known names nearest ``text`` (one containing the
    other, then difflib's close matches), or ``""`` when none is near: what an import adds to
    "unknown unit 东湖街道" when the sheet wrote 东湖街道 for 东湖街道办事处.

    >>> did_you_mean("东湖街道", ["东湖街道办事处", "西湖街道办事处"])
    "; did you mean '东湖街道办事处'?"
    >>> did_you_mean("不存在", ["东湖街道办事处"])
    ''
    """
    import difflib

    if not text:
        return ""
    near = [k for k in known if k and (text in k or k in text)]
    near += difflib.get_close_matches(text, list(known), n=limit, cutoff=0.6)
    found = list(dict.fromkeys(near))[:limit]
    return "; did you mean " + " or ".join(repr(n) for n in found) + "?" if found else ""


__all__ = [
    "AuthenticationError",
    "ConfigError",
    "ConflictError",
    "FangxunError",
    "FieldProblem",
    "NotFoundError",
    "PermissionDeniedError",
    "StaleVersion",
    "ThrottledError",
    "ValidationFailed",
    "did_you_mean",
]
