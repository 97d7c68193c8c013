"""Integers beyond the database's range are a 422 problem, never a 500, in every domain: path and
query integers of every API route, ids in bodies, and the drivers' overflow errors themselves."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from fangxun.api.ids import DB_INT_MAX, in_db_range
from fangxun.api.problems import install_problem_handlers
from fangxun.org.models import Role

MakeUser = Callable[..., Any]
PROBLEM = "application/problem+json"
TOO_BIG = str(2**63)
_PARAM = re.compile(r"{(\w+)(:\w+)?}")


def test_in_db_range() -> None:
    assert in_db_range(str(DB_INT_MAX)) and in_db_range(str(-(2**63)))
    assert not in_db_range(TOO_BIG) and not in_db_range(str(-(2**63) - 1))
    assert not in_db_range("9" * 5000)  # no int() of a huge string
    assert in_db_range("abc") and in_db_range("12.5"), "left to the ordinary validation"


def _is_integer(schema: dict[str, Any]) -> bool:
    if schema.get("type") == "integer":
        return True
    return any(_is_integer(s) for s in schema.get("anyOf", []))


def _operations(app: FastAPI) -> list[tuple[str, str, set[str], set[str]]]:
    """(method, path, integer path parameters, integer query parameters) from the OpenAPI
    document: what clients (and schemathesis) see, for every router."""
    out = []
    for path, item in app.openapi()["paths"].items():
        for method, op in item.items():
            params = op.get("parameters", [])
            ints = {
                where: {p["name"] for p in params if p["in"] == where and _is_integer(p["schema"])}
                for where in ("path", "query")
            }
            out.append((method.upper(), path, ints["path"], ints["query"]))
    return out


# Measured 12-17 s each (every route of the app, sqlite; --durations, load 12 on 2 cores).
@pytest.mark.slow
def test_every_integer_path_parameter_out_of_range_is_422(
    app: FastAPI, client: TestClient, make_user: MakeUser
) -> None:
    headers = make_user(Role.admin).headers(client)
    checked: list[str] = []
    for method, path, ints, _query in _operations(app):
        if not ints:
            continue
        url = _PARAM.sub(lambda m, ints=ints: TOO_BIG if m.group(1) in ints else "1", path)
        response = client.request(method, url, headers=headers, json={})
        assert response.status_code == 422, (method, path, response.status_code, response.text)
        assert response.headers["content-type"].startswith(PROBLEM)
        locs = [e["loc"] for e in response.json()["errors"]]
        assert any(loc[0] == "path" and loc[1] in ints for loc in locs), (path, locs)
        checked.append(f"{method} {path}")
    # Every domain's by-id routes are covered.
    assert len(checked) > 30, checked
    for part in ("/units/", "/people/", "/hazard-points/", "/warnings/", "/reports/", "/forecast/"):
        assert any(part in c for c in checked), part


# Measured 12-17 s each (every route of the app, sqlite; --durations, load 12 on 2 cores).
@pytest.mark.slow
def test_every_integer_query_parameter_out_of_range_is_422(
    app: FastAPI, client: TestClient, make_user: MakeUser
) -> None:
    headers = make_user(Role.admin).headers(client)
    checked = 0
    for method, path, ints, query in _operations(app):
        if method != "GET" or ints:
            continue
        for name in query:
            response = client.get(path, params={name: TOO_BIG}, headers=headers)
            assert response.status_code == 422, (path, name, response.text)
            assert response.headers["content-type"].startswith(PROBLEM)
            checked += 1
    assert checked >= 10


def test_body_id_out_of_range_is_422(client: TestClient, make_user: MakeUser) -> None:
    headers = make_user(Role.admin).headers(client)
    response = client.post(
        "/api/v1/notify/contacts",
        json={"unit_id": 2**63, "channel": "email", "address": "a@b.example.com"},
        headers=headers,
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith(PROBLEM)


def test_driver_overflow_errors_are_422_and_others_stay_500(engine: Engine) -> None:
    """Below the parameter check: the drivers' own errors (SQLite ``OverflowError``, PostgreSQL
    SQLSTATE 22003) map to 422; an unrelated ``OverflowError`` is still a server error."""
    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/api/offset")
    def offset(n: str) -> int:  # a str: the parameter check does not see it
        with engine.connect() as conn:
            return int(
                conn.execute(text("SELECT 1 LIMIT 1 OFFSET :n"), {"n": int(n)}).scalar() or 0
            )

    @app.get("/api/maths")
    def maths() -> float:
        return float(10**400)  # OverflowError: int too large to convert to float

    with TestClient(app, raise_server_exceptions=False) as c:
        assert c.get("/api/offset", params={"n": "0"}).json() == 1
        response = c.get("/api/offset", params={"n": TOO_BIG})
        assert response.status_code == 422, response.text
        assert response.headers["content-type"].startswith(PROBLEM)
        assert response.json()["code"] == "validation_failed"
        assert c.get("/api/maths").status_code == 500
