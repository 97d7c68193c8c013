"""API shell: health, OpenAPI docs, problem responses for errors and bad bodies."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, select

from fangxun.api.app import create_app
from fangxun.api.deps import SessionDep
from fangxun.config import load_settings
from fangxun.db import session_scope
from fangxun.errors import ConflictError
from fangxun.org.models import Role, Unit, UnitKind

MakeUser = Callable[..., Any]

PROBLEM = "application/problem+json"


def test_health_ok(client: TestClient, engine: Engine) -> None:
    response = client.get("/api/v1/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["database"]["status"] == "ok"
    assert body["checks"]["database"]["dialect"] == engine.dialect.name


def test_health_503_when_database_is_down(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'missing-dir' / 'x.db'}"
    settings = load_settings(environment="test", database_url=url)
    # A plain engine (make_engine would create the folder): every connection fails.
    app = create_app(settings, engine=create_engine(url))
    with TestClient(app) as client:
        response = client.get("/api/v1/health")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["database"]["status"] == "unavailable"
    assert "OperationalError" in body["checks"]["database"]["reason"]


def test_openapi_docs(client: TestClient) -> None:
    assert client.get("/api/docs").status_code == 200
    spec = client.get("/api/openapi.json").json()
    assert "/api/v1/auth/token" in spec["paths"]
    assert "/api/v1/audit" in spec["paths"]
    assert "post" not in spec["paths"]["/api/v1/audit"]


def test_unknown_api_path_is_a_problem(client: TestClient) -> None:
    response = client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith(PROBLEM)
    assert response.json()["status"] == 404


def test_missing_token_is_401_problem(client: TestClient) -> None:
    response = client.get("/api/v1/units")
    assert response.status_code == 401
    assert response.headers["content-type"].startswith(PROBLEM)
    assert response.headers["www-authenticate"] == "Bearer"
    body = response.json()
    assert body["type"] == "urn:fangxun:problem:authentication_failed"
    assert body["title"] and body["detail"]


def test_bad_body_names_the_field(client: TestClient, make_user: MakeUser) -> None:
    admin = make_user(Role.admin)
    response = client.post(
        "/api/v1/units",
        json={"code": "bad code!", "name_zh": "", "kind": "village", "extra": 1},
        headers=admin.headers(client),
    )
    assert response.status_code == 422
    assert response.headers["content-type"].startswith(PROBLEM)
    body = response.json()
    assert body["status"] == 422 and body["type"] == "urn:fangxun:problem:validation_failed"
    locs = {tuple(e["loc"]): e["msg"] for e in body["errors"]}
    assert ("body", "code") in locs and "pattern" in locs[("body", "code")]
    assert ("body", "name_zh") in locs
    assert ("body", "kind") in locs and "district" in locs[("body", "kind")]
    assert ("body", "extra") in locs
    assert "body.code" in body["detail"]


def test_malformed_json_is_a_problem(client: TestClient, make_user: MakeUser) -> None:
    admin = make_user(Role.admin)
    response = client.post(
        "/api/v1/units",
        content=b"{not json",
        headers={**admin.headers(client), "content-type": "application/json"},
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"][0] == "body"


def test_domain_validation_error_names_the_field(client: TestClient, make_user: MakeUser) -> None:
    admin = make_user(Role.admin)
    response = client.post(
        "/api/v1/units",
        json={"code": "wutong", "name_zh": "梧桐街道办事处", "kind": "street_office"},
        headers=admin.headers(client),
    )
    assert response.status_code == 422
    body = response.json()
    assert body["errors"] == [
        {
            "loc": ["body", "parent_id"],
            "msg": "a street office needs a parent unit",
            "type": "value_error",
        }
    ]


def test_conflict_is_409(client: TestClient, make_user: MakeUser) -> None:
    admin = make_user(Role.admin)
    body = {"code": "gxq", "name_zh": "高新区", "kind": "district"}
    assert client.post("/api/v1/units", json=body, headers=admin.headers(client)).status_code == 201
    response = client.post("/api/v1/units", json=body, headers=admin.headers(client))
    assert response.status_code == 409
    assert "gxq" in response.json()["detail"]


def test_web_pages_and_static_files_are_mounted(client: TestClient, app: FastAPI) -> None:
    assert client.get("/login").status_code == 200
    assert "/static" in {getattr(route, "path", "") for route in app.routes}


def test_request_session_commits_on_success_and_rolls_back_on_error(
    app: FastAPI, engine: Engine
) -> None:
    @app.post("/api/v1/_test/units/{code}")
    def add_unit(code: str, session: SessionDep, fail: bool = False) -> dict[str, str]:
        session.add(Unit(code=code, name_zh=code, kind=UnitKind.district))
        session.flush()  # written, but not committed
        if fail:
            raise ConflictError("failing after the write")
        return {"code": code}

    with TestClient(app) as client:
        assert client.post("/api/v1/_test/units/kept").status_code == 200
        failed = client.post("/api/v1/_test/units/dropped", params={"fail": True})
        assert failed.status_code == 409
        assert failed.headers["content-type"].startswith(PROBLEM)
    with session_scope(engine) as session:
        assert set(session.scalars(select(Unit.code))) == {"kept"}
