"""Integers out of the database's range are invalid input (422), never a server error (500).

Python integers are unbounded, the database's are not: SQLite refuses to bind an integer beyond
64 bits (``OverflowError``) and PostgreSQL answers "integer out of range" (SQLSTATE 22003) for a
value its column or an ``OFFSET`` cannot hold. Two guards, in one place for every domain:

* :func:`check_integer_params`, run by the request's database session dependency
  (:func:`fangxun.api.deps.get_session`): every path or query parameter the route declares as
  ``int`` must lie within a signed 64-bit integer, whatever the router;
* :func:`install_range_handlers`: what still reaches the driver (an id in a JSON body, a value
  beyond a 32-bit column) becomes a 422 problem naming the error.
"""

from __future__ import annotations

import logging
import re
import types
from typing import Any, Union, get_args, get_origin

from fastapi import FastAPI, Request
from fastapi.dependencies.models import Dependant
from fastapi.responses import Response
from sqlalchemy.exc import DataError

from fangxun.errors import FieldProblem, ValidationFailed

logger = logging.getLogger(__name__)

#: The widest integer any supported database binds: a signed 64-bit SQL ``BIGINT``.
DB_INT_MIN = -(2**63)
DB_INT_MAX = 2**63 - 1
#: SQLSTATE of PostgreSQL's "numeric value out of range" ("integer out of range").
NUMERIC_OUT_OF_RANGE = "22003"

_INTEGER = re.compile(r"\s*[+-]?\d+\s*")


def _is_int_annotation(annotation: Any) -> bool:
    """True for ``int``, ``int | None``, ``list[int]``, ``Annotated`` forms of them (not bool)."""
    if annotation is int:
        return True
    origin = get_origin(annotation)
    if origin in (Union, types.UnionType, list, tuple, set, frozenset):
        return any(_is_int_annotation(a) for a in get_args(annotation) if a is not type(None))
    return False


def _walk(dependant: Dependant, out: set[tuple[str, str]]) -> None:
    for field in dependant.path_params:
        if _is_int_annotation(field.field_info.annotation):
            out.add(("path", field.alias))
    for field in dependant.query_params:
        if _is_int_annotation(field.field_info.annotation):
            out.add(("query", field.alias))
    for sub in dependant.dependencies:
        _walk(sub, out)


#: Per route (by identity: routes are unhashable), the route and its integer parameters.
_CACHE: dict[int, tuple[Any, tuple[tuple[str, str], ...]]] = {}


def integer_params(route: Any) -> tuple[tuple[str, str], ...]:
    """``(where, name)`` of the integer path and query parameters a route declares (cached)."""
    cached = _CACHE.get(id(route))
    if cached is not None and cached[0] is route:
        return cached[1]
    dependant = getattr(route, "dependant", None)
    found: set[tuple[str, str]] = set()
    if isinstance(dependant, Dependant):
        _walk(dependant, found)
    params = tuple(sorted(found))
    # Routes live as long as their app; the test suite builds many apps, so keep the cache small.
    if len(_CACHE) > 4096:
        _CACHE.clear()
    _CACHE[id(route)] = (route, params)
    return params


def in_db_range(text: str) -> bool:
    """False when ``text`` is an integer outside the 64-bit range; True otherwise (anything that
    is no integer is left to the ordinary validation)."""
    if not _INTEGER.fullmatch(text):
        return True
    digits = text.strip().lstrip("+-").lstrip("0")
    if len(digits) > 19:  # also spares int() a 4300-digit string
        return False
    return DB_INT_MIN <= int(text) <= DB_INT_MAX


def check_integer_params(request: Request) -> None:
    """Raise :class:`ValidationFailed` (422) naming each integer path or query parameter of the
    request's route whose value lies outside the database's integer range."""
    params = integer_params(request.scope.get("route"))
    if not params:
        return
    problems: list[FieldProblem] = []
    for where, name in params:
        values = (
            [str(request.path_params.get(name, ""))]
            if where == "path"
            else request.query_params.getlist(name)
        )
        for value in values:
            if not in_db_range(value):
                problems.append(
                    FieldProblem(
                        (where, name),
                        f"{value[:40]} is out of range [{DB_INT_MIN}, {DB_INT_MAX}]",
                    )
                )
    if problems:
        raise ValidationFailed(
            "; ".join(f"{'.'.join(map(str, p.loc))}: {p.msg}" for p in problems),
            problems=problems,
        )


def _is_out_of_range(exc: Exception) -> bool:
    if isinstance(exc, OverflowError):
        # sqlite3's bind error; other overflows (float maths) stay server errors.
        return "SQLite INTEGER" in str(exc)
    if isinstance(exc, DataError):
        return getattr(exc.orig, "sqlstate", None) == NUMERIC_OUT_OF_RANGE
    return False


async def _range_error(request: Request, exc: Exception) -> Response:
    from fangxun.api.problems import problem

    if not _is_out_of_range(exc):
        raise exc  # not ours: the server-error handler logs it and answers 500
    logger.info("out-of-range integer in %s %s: %s", request.method, request.url.path, exc)
    return problem(
        status=422,
        code="validation_failed",
        title="Validation failed",
        detail="a number in the request is out of the database's range",
        instance=request.url.path,
        errors=[{"loc": ["request"], "msg": "integer out of range", "type": "value_error"}],
    )


def install_range_handlers(app: FastAPI) -> None:
    """Map the drivers' integer overflow errors (SQLite's ``OverflowError``, PostgreSQL's
    SQLSTATE 22003 ``DataError``) to 422 problems; other such errors stay 500s."""
    app.add_exception_handler(OverflowError, _range_error)
    app.add_exception_handler(DataError, _range_error)
