"""CSRF on every form, generated from the app's routes: each web route that writes (POST, PUT,
PATCH, DELETE; the API with its bearer tokens aside) refuses a request without the session's CSRF
token, or with another one, with 403, logged in or not, and changes nothing in the database."""

from __future__ import annotations

import re

import pytest
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from fangxun.api.app import create_app
from fangxun.config import Settings
from fangxun.db.base import Base
from web_harness import csrf_of

WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
#: The title of the page that refuses a form without its CSRF token (Chinese and English): a 403
#: for another reason (a role that may not) would not show that the token is checked.
CSRF_TITLES = ("表单安全校验失败", "Form security check failed")


def _web_writes(client: TestClient) -> list[tuple[str, str]]:
    api_paths = set(client.get("/api/openapi.json").json()["paths"])
    out: set[tuple[str, str]] = set()
    for context in iter_route_contexts(client.app.routes):  # type: ignore[attr-defined]
        if not isinstance(context.original_route, APIRoute) or context.path in api_paths:
            continue
        for method in (context.methods or set()) & WRITE_METHODS:
            out.add((method, str(context.path)))
    return sorted(out)


def _fingerprint(engine: Engine) -> tuple[int, ...]:
    counts = ", ".join(f'(SELECT COUNT(*) FROM "{t}")' for t in sorted(Base.metadata.tables))
    with engine.connect() as conn:
        return tuple(conn.execute(text(f"SELECT {counts}")).one())


def test_every_web_form_needs_the_csrf_token(
    settings: Settings, engine: Engine, make_user: object, make_unit: object
) -> None:
    district = make_unit("D")  # type: ignore[operator]
    admin = make_user("admin", district)  # type: ignore[operator]
    app = create_app(settings, engine=engine)
    with TestClient(app) as anonymous, TestClient(app) as logged_in:
        page = logged_in.get("/login")
        assert (
            logged_in.post(
                "/login",
                data={
                    "username": admin.username,
                    "password": admin.password,
                    "csrf_token": csrf_of(page),
                },
                follow_redirects=False,
            ).status_code
            == 303
        )
        anonymous.get("/login")  # an anonymous session with its own token
        writes = _web_writes(anonymous)
        assert len(writes) >= 20, writes
        before = _fingerprint(engine)
        failures: list[str] = []
        for method, path in writes:
            url = re.sub(r"\{\w+\}", "1", path)
            form = {"reason": "csrf", "username": admin.username, "password": admin.password}
            for who, client in (("anonymous", anonymous), ("admin", logged_in)):
                for token in (None, "forged-token-0123456789abcdef"):
                    data = dict(form) if token is None else {**form, "csrf_token": token}
                    response = client.request(method, url, data=data, follow_redirects=False)
                    refused = response.status_code == 403 and any(
                        t in response.text for t in CSRF_TITLES
                    )
                    if not refused:
                        failures.append(
                            f"{who} {method} {url} token={token} -> {response.status_code}"
                        )
        assert _fingerprint(engine) == before, "a form without its CSRF token changed the database"
    print(f"CSRF: {len(writes)} web write routes x 2 sessions x 2 tokens")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("header", ["X-CSRF-Token"])
def test_htmx_header_token_accepted_and_checked(
    client: TestClient, make_user: object, make_unit: object, header: str
) -> None:
    """The HTMX header is an alternative to the field, checked the same way (a wrong one: 403)."""
    district = make_unit("D")  # type: ignore[operator]
    admin = make_user("admin", district)  # type: ignore[operator]
    page = client.get("/login")
    token = csrf_of(page)
    wrong = client.post(
        "/login",
        data={"username": admin.username, "password": admin.password},
        headers={header: token[::-1]},
        follow_redirects=False,
    )
    assert wrong.status_code == 403
    right = client.post(
        "/login",
        data={"username": admin.username, "password": admin.password},
        headers={header: token},
        follow_redirects=False,
    )
    assert right.status_code == 303
