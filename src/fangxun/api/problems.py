"""RFC 9457 problem details: every error the API returns has one shape.

``{"type", "title", "status", "detail", "instance", "code"}`` plus
``errors: [{"loc", "msg", "type"}]`` for invalid input: which field was wrong, and why.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from fangxun.errors import (
    AuthenticationError,
    ConfigError,
    ConflictError,
    FangxunError,
    NotFoundError,
    PermissionDeniedError,
    StaleVersion,
    ThrottledError,
    ValidationFailed,
)

logger = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"
TYPE_PREFIX = "urn:fangxun:problem:"

#: HTTP status of each domain error; subclasses inherit their parent's.
STATUS_BY_ERROR: dict[type[FangxunError], int] = {
    NotFoundError: 404,
    PermissionDeniedError: 403,
    ValidationFailed: 422,
    ConflictError: 409,
    # An If-Match naming a version the record has left (issue 20, item 13).
    StaleVersion: 412,
    AuthenticationError: 401,
    ThrottledError: 429,
    ConfigError: 500,
}

_HTTP_TITLES = {
    400: "Bad request",
    401: "Authentication failed",
    403: "Permission denied",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Content too large",
    415: "Unsupported media type",
    422: "Validation failed",
    429: "Too many attempts",
    500: "Internal server error",
    503: "Service unavailable",
}


class ProblemResponse(JSONResponse):
    """A JSON response with the ``application/problem+json`` media type."""

    media_type = PROBLEM_MEDIA_TYPE


#: The error responses the routers document, one text per status (a router may say more).
ERROR_DESCRIPTIONS: dict[int, str] = {
    401: "Not logged in",
    403: "Role may not do this",
    404: "Not found, or outside your jurisdiction",
    409: "Conflicts with the current state",
    422: "Invalid input",
}


def error_responses(*statuses: int, **said: str) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` map of a router's endpoints: each status with its text from
    :data:`ERROR_DESCRIPTIONS` (``said``, keyed ``s403=...``, puts it in the router's words).
    Every error body is an RFC 9457 problem (:func:`problem`)."""
    return {
        status: {"description": said.get(f"s{status}", ERROR_DESCRIPTIONS[status])}
        for status in statuses
    }


def status_for(exc: FangxunError) -> int:
    """The HTTP status for a domain error (400 for an unmapped kind)."""
    for cls in type(exc).__mro__:
        if cls in STATUS_BY_ERROR:
            return STATUS_BY_ERROR[cls]
    return 400


def problem(
    *,
    status: int,
    code: str,
    title: str | None = None,
    detail: str | None = None,
    instance: str | None = None,
    errors: Sequence[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> ProblemResponse:
    """Build a problem response."""
    body: dict[str, Any] = {
        "type": TYPE_PREFIX + code,
        "title": title or _HTTP_TITLES.get(status, "Error"),
        "status": status,
        "detail": detail or title or _HTTP_TITLES.get(status, "Error"),
        "code": code,
    }
    if instance:
        body["instance"] = instance
    if errors is not None:
        body["errors"] = list(errors)
    return ProblemResponse(body, status_code=status, headers=headers)


def _loc_text(loc: Sequence[Any]) -> str:
    # "body" / "query" prefixes say where, the rest is the field path: body.unit.code
    return ".".join(str(part) for part in loc)


async def _domain_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, FangxunError)
    status = status_for(exc)
    headers: dict[str, str] = {}
    errors: list[dict[str, Any]] | None = None
    if isinstance(exc, AuthenticationError):
        headers["WWW-Authenticate"] = "Bearer"
    if isinstance(exc, ThrottledError):
        headers["Retry-After"] = str(exc.retry_after_s)
    if isinstance(exc, ValidationFailed):
        errors = [{"loc": list(p.loc), "msg": p.msg, "type": "value_error"} for p in exc.problems]
    extra: dict[str, Any] = {}
    if isinstance(exc, StaleVersion):
        headers["ETag"] = f'"{exc.current_version}"'
        extra = {"current_version": exc.current_version, "changes": exc.changes}
    if isinstance(exc, ConfigError):
        logger.error("configuration error while serving %s: %s", request.url.path, exc.detail)
    response = problem(
        status=status,
        code=exc.code,
        title=exc.title,
        detail=exc.detail,
        instance=request.url.path,
        errors=errors,
        headers=headers or None,
    )
    if extra:
        body = json.loads(bytes(response.body))
        response = ProblemResponse({**body, **extra}, status_code=status, headers=headers)
    return response


async def _request_validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {
            "loc": list(err.get("loc", ())),
            "msg": str(err.get("msg", "invalid")),
            "type": err.get("type"),
        }
        for err in exc.errors()
    ]
    summary = "; ".join(f"{_loc_text(e['loc'])}: {e['msg']}" for e in errors[:5])
    if len(errors) > 5:
        summary += f"; and {len(errors) - 5} more"
    return problem(
        status=422,
        code="validation_failed",
        title="Validation failed",
        detail=summary or "invalid request",
        instance=request.url.path,
        errors=errors,
    )


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if not request.url.path.startswith("/api"):
        # Web pages keep FastAPI's default handling (the web shell renders its own pages).
        return await http_exception_handler(request, exc)
    detail = exc.detail if isinstance(exc.detail, str) else None
    return problem(
        status=exc.status_code,
        code=f"http_{exc.status_code}",
        detail=detail,
        instance=request.url.path,
        headers=dict(exc.headers) if exc.headers else None,
    )


async def _unexpected_error(request: Request, exc: Exception) -> Response:
    logger.exception("unhandled error serving %s %s", request.method, request.url.path)
    return problem(
        status=500,
        code="internal_error",
        detail="an unexpected error occurred; it has been logged",
        instance=request.url.path,
    )


def install_problem_handlers(app: FastAPI) -> None:
    """Register the handlers that turn errors into problem responses."""
    app.add_exception_handler(FangxunError, _domain_error)
    app.add_exception_handler(RequestValidationError, _request_validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)
    # Integers beyond the database's range: 422, not 500 (fangxun.api.ids).
    from fangxun.api.ids import install_range_handlers

    install_range_handlers(app)
