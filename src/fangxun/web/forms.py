"""The form-handler pattern of the web pages, once: run the service call, flush, and on a domain
error roll back and answer with the form again, its message and the status the API would give.

A handler reads::

    return submit_form(
        db,
        lambda: service.lift_warning(session=db, warning_id=warning_id, ...),
        failed=lambda error, status: _page(request, db, settings, user, error=error,
                                           status_code=status),
        done=lambda _warning: RedirectResponse("/warnings", status_code=303),
    )

The status follows :func:`fangxun.api.problems.status_for` (403 for a role that may not, 404 for an
object outside the jurisdiction, 409, 422 ...), so a refused form never looks like a typing error.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TypeVar

from fastapi import Response
from pydantic import BaseModel, ValidationError

from fangxun.db import Session
from fangxun.errors import FangxunError, StaleVersion

T = TypeVar("T")

#: What a form's service call may raise that the user can correct (or must be told about).
FORM_ERRORS: tuple[type[Exception], ...] = (FangxunError, ValidationError, ValueError)


def field_bounds(model: type[BaseModel], name: str) -> tuple[float, float]:
    """The (lower, upper) bounds of a numeric field of a Pydantic schema, from its ``gt``/``ge``
    and ``lt``/``le`` constraints (±inf where there is none): a form checks what the API's schema
    checks, with the numbers written once, in the schema."""
    lo, hi = -math.inf, math.inf
    for constraint in model.model_fields[name].metadata:
        for attr in ("gt", "ge"):
            if (value := getattr(constraint, attr, None)) is not None:
                lo = float(value)
        for attr in ("lt", "le"):
            if (value := getattr(constraint, attr, None)) is not None:
                hi = float(value)
    return lo, hi


def problem_text(exc: Exception) -> str:
    """The message a form shows for ``exc`` (pydantic errors: ``field: message; ...``)."""
    if isinstance(exc, ValidationError):
        return "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
    return str(exc)


def status_of(exc: Exception) -> int:
    """The HTTP status of a refused form: the API's status for a domain error, else 422 (and 409
    for a stale record version, which the API answers 412: a form has no If-Match)."""
    from fangxun.api.problems import status_for  # the API shell maps domain errors once

    if isinstance(exc, StaleVersion):
        return 409
    return status_for(exc) if isinstance(exc, FangxunError) else 422


def submit_form(
    db: Session,
    action: Callable[[], T],
    *,
    failed: Callable[[str, int], Response],
    done: Callable[[T], Response],
) -> Response:
    """Run ``action`` and flush; ``done(result)`` on success. On one of :data:`FORM_ERRORS` roll
    back and answer ``failed(message, status)`` (status as :func:`status_of`)."""
    try:
        result = action()
        db.flush()
    except FORM_ERRORS as exc:
        db.rollback()
        return failed(problem_text(exc), status_of(exc))
    return done(result)
