"""The OpenAPI document says what the API really sends: every error is an RFC 9457 problem.

FastAPI documents its 422 as ``application/json`` with ``HTTPValidationError``, and the routes'
other error responses without a body; the handlers in :mod:`fangxun.api.problems` send
``application/problem+json``. :func:`install_problem_openapi` rewrites every 4xx/5xx response of
the generated document to that media type and the :class:`Problem` schema (schemathesis checks
responses against it).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

from fangxun.api.problems import PROBLEM_MEDIA_TYPE


class ProblemFieldError(BaseModel):
    """One invalid field: where (``loc``), what was wrong (``msg``) and the kind (``type``)."""

    loc: list[str | int]
    msg: str
    type: str | None = None


class Problem(BaseModel):
    """An RFC 9457 problem; ``errors`` lists invalid fields (422)."""

    type: str
    title: str
    status: int
    detail: str
    code: str
    instance: str | None = None
    errors: list[ProblemFieldError] | None = None


def problem_openapi(app: FastAPI) -> dict[str, Any]:
    """The app's OpenAPI document with every error response described as a problem."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(
        title=app.title,
        version=app.version,
        summary=app.summary,
        description=app.description,
        routes=app.routes,
    )
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    problem_schema = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    components.update(problem_schema.pop("$defs", {}))
    components["Problem"] = problem_schema
    content = {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            if not isinstance(operation, dict):
                continue
            for code, response in operation.get("responses", {}).items():
                if str(code)[:1] in ("4", "5"):
                    response["content"] = dict(content)
    app.openapi_schema = schema
    return schema


def install_problem_openapi(app: FastAPI) -> None:
    """Make ``app.openapi()`` (and ``/api/openapi.json``) return :func:`problem_openapi`."""

    def openapi() -> dict[str, Any]:
        return problem_openapi(app)

    app.openapi = openapi  # type: ignore[method-assign]


__all__ = ["Problem", "install_problem_openapi", "problem_openapi"]
