"""Shared fixtures: settings, a fresh migrated database per test (SQLite and PostgreSQL), a session,
the FastAPI app and TestClient, and factories for units and users.

Database isolation:

* SQLite: a file in ``tmp_path``, copied from a template migrated once per worker (fast, and still
  the schema Alembic builds).
* PostgreSQL (only when ``FANGXUN_TEST_POSTGRES_URL`` is set, e.g.
  ``postgresql+psycopg://postgres@127.0.0.1:5432/test``): a uniquely named schema per test, selected
  with ``search_path`` in the connection URL, migrated with Alembic, dropped afterwards, so xdist
  workers never see each other's tables. Without the variable those tests are skipped, saying why.

Fixtures parametrized over both databases: ``database_url``, ``engine``, ``db_session``,
``settings``, ``app``, ``client``, ``make_unit``, ``make_user``. Use ``sqlite_engine`` where one
backend is enough.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import settings as hypothesis_settings
from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

import factories
from fangxun.api.app import create_app
from fangxun.audit.service import SystemActor
from fangxun.config import Settings, load_settings
from fangxun.db import make_engine, session_factory, session_scope
from fangxun.db.migrate import upgrade_engine
from fangxun.org import security
from fangxun.org import service as org_service
from fangxun.org.models import Role, UnitKind
from fangxun.org.schemas import UserCreate

# Hypothesis' 200 ms per-example deadline fails on a loaded 2-core CI machine (pysteps, numba
# and PostgreSQL share it); the examples' own assertions are the test, not their speed.
hypothesis_settings.register_profile("fangxun", deadline=None)
hypothesis_settings.load_profile("fangxun")

# The live server, Chromium and login fixtures, for every test folder (tests/web_harness.py).
pytest_plugins = ["web_harness"]

POSTGRES_ENV = "FANGXUN_TEST_POSTGRES_URL"
TEST_SECRET_KEY = "test-secret-key-0123456789abcdef-0123456789"
DEFAULT_PASSWORD = "correct-horse-battery"
SYSTEM = SystemActor(username="test-setup")

BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
]


@pytest.fixture(autouse=True, scope="session")
def _cheap_password_hashing() -> Iterator[None]:
    """argon2 at minimum cost: hashing is not what the tests measure, and it is slow by design."""
    security.set_password_hasher(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    yield
    security.set_password_hasher(PasswordHasher())


# --- databases ---------------------------------------------------------------------------------


def postgres_base_url() -> str:
    """The PostgreSQL URL from the environment, or skip the test saying what to set."""
    url = os.environ.get(POSTGRES_ENV, "").strip()
    if not url:
        pytest.skip(
            f"PostgreSQL tests need {POSTGRES_ENV}, "
            "e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test"
        )
    return url


def with_search_path(url: str, schema: str) -> str:
    """``url`` whose connections use ``schema`` first (psycopg passes ``options`` to the server)."""
    return (
        make_url(url)
        .update_query_dict({"options": f"-csearch_path={schema}"})
        .render_as_string(hide_password=False)
    )


@pytest.fixture
def postgres_schema_url() -> Iterator[str]:
    """An empty, uniquely named PostgreSQL schema for this test; dropped afterwards."""
    base = postgres_base_url()
    schema = f"fx_test_{uuid.uuid4().hex[:16]}"
    admin = make_engine(base)
    try:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        yield with_search_path(base, schema)
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        admin.dispose()


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite database migrated to head once per worker; tests get copies of it."""
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    try:
        upgrade_engine(engine)
        with engine.begin() as conn:
            # Fold the WAL into the main file so a plain copy carries everything.
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        engine.dispose()
    return path


@pytest.fixture
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """URL of an empty database; parametrize indirectly with "sqlite" or "postgresql"."""
    backend = getattr(request, "param", "sqlite")
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'empty.db'}"
    url: str = request.getfixturevalue("postgres_schema_url")
    return url


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path, _sqlite_template: Path) -> str:
    """URL of a fresh database migrated to head, on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        path = tmp_path / "fangxun.db"
        shutil.copyfile(_sqlite_template, path)
        return f"sqlite:///{path}"
    url: str = request.getfixturevalue("postgres_schema_url")
    engine = make_engine(url)
    try:
        upgrade_engine(engine)
    finally:
        engine.dispose()
    return url


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """An engine on the fresh database."""
    eng = make_engine(database_url)
    yield eng
    eng.dispose()


@pytest.fixture
def sqlite_engine(tmp_path: Path, _sqlite_template: Path) -> Iterator[Engine]:
    """An engine on a fresh migrated SQLite database (for tests that need only one backend)."""
    path = tmp_path / "sqlite-only.db"
    shutil.copyfile(_sqlite_template, path)
    eng = make_engine(f"sqlite:///{path}")
    yield eng
    eng.dispose()


@pytest.fixture
def db_session(engine: Engine) -> Iterator[Session]:
    """A session on the fresh database; whatever the test leaves uncommitted is rolled back."""
    session = session_factory(engine)()
    try:
        yield session
    finally:
        session.rollback()
        session.close()


# --- settings and app --------------------------------------------------------------------------


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """Test settings on the fresh database; throttling after 3 failures in 60 s."""
    return load_settings(
        environment="test",
        database_url=database_url,
        data_dir=tmp_path / "data",
        secret_key=TEST_SECRET_KEY,
        login_max_attempts=3,
        login_window_s=60,
    )


@pytest.fixture
def app(settings: Settings, engine: Engine) -> FastAPI:
    """The whole application on the fresh database."""
    return create_app(settings, engine=engine)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    """A TestClient for :func:`app`."""
    with TestClient(app) as test_client:
        yield test_client


# --- factories ---------------------------------------------------------------------------------


@dataclass
class MadeUser:
    """A user created for a test, with the clear-text password to log in with."""

    id: int
    username: str
    password: str
    role: Role
    unit_id: int | None
    _headers: dict[str, str] = field(default_factory=dict, repr=False)

    def headers(self, client: TestClient) -> dict[str, str]:
        """``Authorization`` headers for ``client``, logging in once through the token endpoint."""
        if not self._headers:
            response = client.post(
                "/api/v1/auth/token", data={"username": self.username, "password": self.password}
            )
            assert response.status_code == 200, response.text
            self._headers = {"Authorization": f"Bearer {response.json()['access_token']}"}
        return self._headers


MakeUnit = Callable[..., int]
MakeUser = Callable[..., MadeUser]


@pytest.fixture
def make_unit(engine: Engine) -> MakeUnit:
    """``make_unit(code, kind=UnitKind.district, parent=None, name_zh=None) -> unit id``."""

    def factory(
        code: str,
        kind: UnitKind | str = UnitKind.district,
        parent: int | None = None,
        name_zh: str | None = None,
    ) -> int:
        with session_scope(engine) as session:
            return factories.make_unit(
                session, code, kind, parent, name_zh=name_zh, actor=SYSTEM
            ).id

    return factory


@pytest.fixture
def make_user(engine: Engine) -> MakeUser:
    """``make_user(role, unit=None, username=None, password=...) -> MadeUser`` (committed)."""
    counter = {"n": 0}

    def factory(
        role: Role | str,
        unit: int | None = None,
        *,
        username: str | None = None,
        password: str = DEFAULT_PASSWORD,
        **extra: Any,
    ) -> MadeUser:
        counter["n"] += 1
        name = username or f"{Role(role).value}{counter['n']}"
        with session_scope(engine) as session:
            user = org_service.create_user(
                session=session,
                user_in=UserCreate(
                    username=name, password=password, role=Role(role), unit_id=unit, **extra
                ),
                actor=SYSTEM,
            )
            return MadeUser(user.id, user.username, password, user.role, user.unit_id)

    return factory
