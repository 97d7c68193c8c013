"""The in-process principal cache (fangxun.api.principal) and the hit path of the map's cached
documents: a hit asks the database nothing, yet a logout, a revoked token or a deactivated user
is refused at once in this process and within the cache's TTL from another one."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from fangxun.api.app import create_app
from fangxun.api.cache import watch_writes
from fangxun.api.principal import Principal, PrincipalCache
from fangxun.config import Settings
from fangxun.db import make_engine, session_scope
from fangxun.db.types import utcnow
from fangxun.org import service as org_service
from fangxun.org.models import Role, UnitKind, User
from sql_counting import count_queries

LATEST = "/api/v1/monitoring/latest"
WARNINGS = "/api/v1/warnings"
STATIONS = "/api/v1/monitoring/stations"
POINTS = "/hazards/points.geojson"
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
TTL_S = 5.0
FAR = utcnow() + timedelta(days=1)
P = Principal(id=1, username="duty1", role=Role.duty, unit_id=3)


class Clock:
    """A monotonic clock the test moves by hand, s."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# --- the cache on its own ----------------------------------------------------------------------


def test_entries_expire_after_the_ttl() -> None:
    clock = Clock()
    cache = PrincipalCache(TTL_S, clock=clock)
    cache.put("tok", "api", P, FAR)
    assert cache.get("tok", "api") == P
    assert cache.get("tok", "web") is None  # a bearer token is no web session
    clock.now += TTL_S - 0.01
    assert cache.get("tok", "api") == P
    clock.now += 0.02
    assert cache.get("tok", "api") is None


def test_never_trusted_past_the_token_expiry() -> None:
    clock = Clock()
    cache = PrincipalCache(TTL_S, clock=clock)
    cache.put("soon", "api", P, utcnow() + timedelta(seconds=1))
    cache.put("gone", "api", P, utcnow() - timedelta(seconds=1))
    assert cache.get("soon", "api") == P
    assert cache.get("gone", "api") is None
    clock.now += 1.5
    assert cache.get("soon", "api") is None


def test_eviction_and_a_lookup_that_started_before_it() -> None:
    cache = PrincipalCache(TTL_S)
    cache.put("a", "api", P, FAR)
    cache.put("a", "web", P, FAR)
    cache.put("b", "api", P, FAR)
    cache.evict("a")  # logout: every purpose of that token
    assert (cache.get("a", "api"), cache.get("a", "web"), cache.get("b", "api")) == (None, None, P)
    started = cache.generation
    cache.clear()  # e.g. a token revoked while the lookup ran
    cache.put("b", "api", P, FAR, started)
    assert cache.get("b", "api") is None and len(cache) == 0


def test_off_at_ttl_zero_and_no_token_kept() -> None:
    off = PrincipalCache(0.0)
    off.put("tok", "api", P, FAR)
    assert off.get("tok", "api") is None
    on = PrincipalCache(TTL_S)
    on.put("secret-token-value", "api", P, FAR)
    assert "secret-token-value" not in repr(on._entries)


# --- through the app ---------------------------------------------------------------------------


def _app(settings: Settings, engine: Engine, clock: Callable[[], float]) -> FastAPI:
    """An app with both caches on, as outside tests (tests turn them off unless asked)."""
    app = create_app(settings.model_copy(update={"response_cache_ttl_s": 30.0}), engine=engine)
    app.state.principal_cache = PrincipalCache(TTL_S, clock=clock)
    watch_writes(engine, app.state.principal_cache)
    return app


@pytest.fixture
def duty(make_unit: Callable[..., int], make_user: Callable[..., Any]) -> Any:
    return make_user(Role.duty, make_unit("D", UnitKind.district))


def test_a_cache_hit_asks_the_database_nothing(
    settings: Settings, engine: Engine, duty: Any
) -> None:
    app = _app(settings, engine, Clock())
    app.state.response_cache.version_memo_s = 30.0  # no memo expiry while the test runs
    client = TestClient(app)
    headers = duty.headers(client)
    for path in (LATEST, WARNINGS, STATIONS):
        assert client.get(path, headers=headers).status_code == 200
        with count_queries(engine) as statements:
            again = client.get(path, headers=headers)
        assert again.status_code == 200 and statements == [], (path, statements)
    # A bad token still asks the database (unknown tokens are never cached) and is refused.
    with count_queries(engine) as statements:
        refused = client.get(LATEST, headers={"Authorization": "Bearer nope"})
    assert refused.status_code == 401 and len(statements) == 1


def test_logout_in_this_process_is_refused_at_once(
    settings: Settings, engine: Engine, duty: Any
) -> None:
    client = TestClient(_app(settings, engine, Clock()))
    headers = duty.headers(client)
    assert client.get(LATEST, headers=headers).status_code == 200
    assert client.post("/api/v1/auth/logout", headers=headers).status_code == 204
    assert client.get(LATEST, headers=headers).status_code == 401
    assert client.get(WARNINGS, headers=headers).status_code == 401


def test_deactivation_in_this_process_is_refused_at_once(
    settings: Settings, engine: Engine, duty: Any
) -> None:
    client = TestClient(_app(settings, engine, Clock()))
    headers = duty.headers(client)
    assert client.get(LATEST, headers=headers).status_code == 200
    with session_scope(engine) as session:
        user = session.get(User, duty.id)
        assert user is not None
        user.is_active = False
    assert client.get(LATEST, headers=headers).status_code == 401


@pytest.mark.parametrize("change", ["revoke", "deactivate"])
def test_a_change_in_another_process_is_refused_within_the_ttl(
    settings: Settings, engine: Engine, database_url: str, duty: Any, change: str
) -> None:
    """Another worker process (here: another engine, whose writes this app cannot see) revokes
    the token or deactivates the user: refused once the principal's TTL ran out, at the latest."""
    clock = Clock()
    client = TestClient(_app(settings, engine, clock))
    headers = duty.headers(client)
    token = headers["Authorization"].removeprefix("Bearer ")
    assert client.get(LATEST, headers=headers).status_code == 200
    other = make_engine(database_url)
    try:
        with session_scope(other) as session:
            if change == "revoke":
                org_service.revoke_token(session=session, token=token)
            else:
                user = session.get(User, duty.id)
                assert user is not None
                user.is_active = False
    finally:
        other.dispose()
    clock.now += TTL_S - 0.5
    assert client.get(LATEST, headers=headers).status_code == 200  # the documented bound
    clock.now += 0.6
    assert client.get(LATEST, headers=headers).status_code == 401
    assert client.get(WARNINGS, headers=headers).status_code == 401


def test_a_web_session_cookie_replayed_after_logout_is_refused(
    settings: Settings, engine: Engine, duty: Any
) -> None:
    app = _app(settings, engine, Clock())
    client = TestClient(app, follow_redirects=False)
    match = CSRF_RE.search(client.get("/login").text)
    assert match
    logged_in = client.post(
        "/login",
        data={"username": duty.username, "password": duty.password, "csrf_token": match[1]},
    )
    assert logged_in.status_code == 303
    cookies = dict(client.cookies)
    assert client.get(POINTS).status_code == 200
    page = client.get("/map").text
    csrf = CSRF_RE.search(page)
    assert csrf, "the map page carries the logout form's CSRF token"
    assert client.post("/logout", data={"csrf_token": csrf[1]}).status_code == 303
    replay = TestClient(app, follow_redirects=False, cookies=cookies)
    assert replay.get(POINTS).status_code == 303  # to the login page
