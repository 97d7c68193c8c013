"""Security: sessions and tokens expire, the audit log cannot be changed through the API, secrets
and passwords never reach the logs, the public form and login are rate limited per address."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from fangxun.api.app import create_app
from fangxun.audit.models import AuditEntry
from fangxun.config import Settings
from fangxun.db import backup as db_backup
from fangxun.db import session_scope
from fangxun.org import service as org_service
from fangxun.web import auth as web_auth
from web_harness import csrf_of

WRITE_METHODS = ("post", "put", "patch", "delete")
MakeUser = Callable[..., Any]


def _web_login(client: TestClient, username: str, password: str) -> int:
    page = client.get("/login")
    response = client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": csrf_of(page)},
        follow_redirects=False,
    )
    return response.status_code


class _ShiftedClock:
    """UTC now plus an offset the test moves on, instead of sleeping."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset


def test_web_session_and_api_token_expire(
    settings: Settings, engine: Engine, make_user: MakeUser, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both expire by the server's clock: the cookie's signed time (web) and the token's row."""
    clock = _ShiftedClock()
    monkeypatch.setattr(web_auth, "utcnow", clock)  # the session cookie's time
    monkeypatch.setattr(org_service, "utcnow", clock)  # the tokens' expiry
    user = make_user("district")
    short = settings.model_copy(update={"session_ttl_s": 1, "token_ttl_s": 1})
    with TestClient(create_app(short, engine=engine)) as client:
        assert _web_login(client, user.username, user.password) == 303
        assert client.get("/map", follow_redirects=False).status_code == 200
        token = client.post(
            "/api/v1/auth/token", data={"username": user.username, "password": user.password}
        ).json()["access_token"]
        bearer = {"Authorization": f"Bearer {token}"}
        assert client.get("/api/v1/auth/me", headers=bearer).status_code == 200
        clock.offset = timedelta(seconds=2.2)
        expired = client.get("/map", follow_redirects=False)
        assert expired.status_code == 303 and expired.headers["location"].startswith("/login")
        assert client.get("/api/v1/auth/me", headers=bearer).status_code == 401


def test_audit_log_cannot_be_altered_through_the_api(
    client: TestClient, engine: Engine, make_user: MakeUser, make_unit: object
) -> None:
    make_unit("D1")  # type: ignore[operator]
    admin = make_user("admin")
    schema = client.get("/api/openapi.json").json()
    audit_paths = [p for p in schema["paths"] if "audit" in p]
    assert audit_paths, "no audit route in the schema"
    for path in audit_paths:
        writes = [m for m in schema["paths"][path] if m in WRITE_METHODS]
        assert not writes, f"{path} offers {writes}"
    with session_scope(engine) as session:
        before = session.scalar(select(func.count()).select_from(AuditEntry))
        first_id = session.scalar(select(func.min(AuditEntry.id)))
    assert before and first_id
    headers = admin.headers(client)
    for path in ("/api/v1/audit", f"/api/v1/audit/{first_id}"):
        for method in WRITE_METHODS:
            response = client.request(method, path, headers=headers, json={"action": "delete"})
            assert response.status_code in (404, 405), (method, path, response.status_code)
    with session_scope(engine) as session:
        assert session.scalar(select(func.count()).select_from(AuditEntry)) == before


def test_secrets_and_passwords_never_logged(
    settings: Settings,
    engine: Engine,
    make_user: MakeUser,
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
) -> None:
    caplog.set_level(logging.DEBUG)
    user = make_user("district", password="Sup3r-secret-passw0rd")
    with TestClient(create_app(settings, engine=engine)) as client:
        client.post(
            "/api/v1/auth/token", data={"username": user.username, "password": "wrong-pw-9f8e"}
        )
        token = client.post(
            "/api/v1/auth/token", data={"username": user.username, "password": user.password}
        ).json()["access_token"]
        client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
        _web_login(client, user.username, user.password)
    with pytest.raises(Exception):  # noqa: B017 - any failure; only the logs matter here
        db_backup.backup(
            "postgresql+psycopg://fx:db-pa55word@127.0.0.1:1/nowhere", tmp_path / "x.bak"
        )
    logged = "\n".join(r.getMessage() for r in caplog.records)
    secret_key = settings.secret_key
    assert secret_key
    for secret in (user.password, "wrong-pw-9f8e", token, secret_key, "db-pa55word"):
        assert secret not in logged


def test_public_form_rate_limited_per_address(
    settings: Settings, engine: Engine, make_unit: object
) -> None:
    make_unit("D")  # type: ignore[operator]
    limited = settings.model_copy(update={"public_report_max": 2})
    report = {
        "kind": "ponding",
        "title": "地道积水 water in the underpass",
        "location_text": "桐柏路地道",
        "reporter_phone": "13900000000",
    }
    with TestClient(create_app(limited, engine=engine)) as client:
        statuses = [
            client.post("/api/v1/public/incidents", json=report).status_code for _ in range(3)
        ]
    assert statuses == [201, 201, 429], statuses
    with TestClient(create_app(limited, engine=engine), client=("203.0.113.9", 5000)) as other:
        # Another address is not held back by the first one's reports.
        assert other.post("/api/v1/public/incidents", json=report).status_code == 201


def test_no_page_takes_its_message_from_the_url(client: TestClient) -> None:
    """Error and notice texts come from a refused form, never from a query parameter: otherwise
    anyone could send a link that shows the office a message of their choosing on a real page."""
    from fastapi.routing import APIRoute, iter_route_contexts

    def query_names(dependant: Any) -> set[str]:
        names = {param.name for param in dependant.query_params}
        for sub in dependant.dependencies:
            names |= query_names(sub)
        return names

    offenders: list[str] = []
    seen = 0
    for context in iter_route_contexts(client.app.routes):  # type: ignore[attr-defined]
        route = context.original_route
        if not isinstance(route, APIRoute) or "GET" not in (route.methods or set()):
            continue
        names = query_names(route.dependant)
        seen += len(names)
        if names & {"error", "notice", "message"}:
            offenders.append(f"{context.path}: {sorted(names)}")
    assert seen > 20, f"only {seen} query parameters found: the check reads nothing"
    assert not offenders, "pages that show a message from the URL:\n" + "\n".join(offenders)
