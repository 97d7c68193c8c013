"""The web-test harness, loaded as a plugin by tests/conftest.py so every test folder can use it:

* ``web_settings`` / ``web_app`` / ``web_client``: the full app (``create_app``) against a fresh
  SQLite file in ``tmp_path`` with the migrations applied and one user (:data:`USERNAME`,
  :data:`PASSWORD`, role ``district``) created through the org service.
* ``live_server``: that app served by uvicorn in a thread on a free port (port 0, so parallel
  workers never collide); ``.url`` is its base URL.
* ``browser`` (session) and ``page`` (per test): Debian's ``/usr/bin/chromium`` driven headless by
  Playwright's sync API; ``page`` fails the test on any JavaScript error.
* ``demo_hillshade``: the demo terrain's hillshade, generated once per session.
* ``credentials``: the test login (username, password); ``login``: logs a TestClient in through the
  form as a browser does (GET the form, POST it with its CSRF token).
"""

from __future__ import annotations

import re
import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response

from fangxun.api.app import create_app
from fangxun.audit.service import SystemActor
from fangxun.config import Settings, load_settings
from fangxun.db import make_engine, session_scope
from fangxun.db.migrate import upgrade
from fangxun.org import service as org_service
from fangxun.org.models import Role
from fangxun.org.schemas import UserCreate

USERNAME = "fxweb"
PASSWORD = "correct-horse-battery"
SETUP_ACTOR = SystemActor(username="web-tests")
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
#: How long the live server and Chromium may take to come up, s.
STARTUP_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class LiveServer:
    """A running server: base ``url`` (no trailing slash), its settings and the test login."""

    url: str
    settings: Settings
    username: str = USERNAME
    password: str = PASSWORD

    def install_hillshade(self, source: Path) -> None:
        """Put the hillshade files of ``source`` where the app looks: ``<data_dir>/demo/``."""
        target = self.settings.data_dir / "demo"
        target.mkdir(parents=True, exist_ok=True)
        for name in ("hillshade.png", "hillshade.json"):
            shutil.copyfile(source / name, target / name)


def csrf_of(response: Response) -> str:
    """The CSRF token in a rendered form."""
    match = CSRF_RE.search(response.text)
    assert match, "no csrf_token field in the page"
    return match.group(1)


@pytest.fixture
def credentials() -> tuple[str, str]:
    """Username and password of the test user that ``web_db`` creates."""
    return USERNAME, PASSWORD


#: ``login(client, username=..., password=..., next_path=...)``: the form's answer (not followed).
LoginFn = Callable[..., Response]


@pytest.fixture
def login() -> LoginFn:
    """Log a TestClient in through the form; username and password default to the test user."""

    def do_login(
        client: TestClient,
        username: str = USERNAME,
        password: str = PASSWORD,
        *,
        next_path: str | None = None,
    ) -> Response:
        form = client.get("/login", params={"next": next_path} if next_path else None)
        assert form.status_code == 200, form.text
        data = {"username": username, "password": password, "csrf_token": csrf_of(form)}
        if next_path:
            data["next"] = next_path
        return client.post("/login", data=data)

    return do_login


@pytest.fixture
def web_settings(tmp_path: Path) -> Settings:
    """Test settings: fresh SQLite file, data folder without a basemap, test secret key."""
    return load_settings(
        environment="test",
        database_url=f"sqlite:///{tmp_path / 'web.db'}",
        data_dir=tmp_path / "data",
        secret_key="web-tests-secret-key-0123456789abcdef",
        language="zh",
        basemap_url=None,
    )


@pytest.fixture(scope="session")
def _web_db_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated to head once per worker; each test gets a copy (fresh and fast)."""
    path = tmp_path_factory.mktemp("web-db-template") / "template.db"
    upgrade(f"sqlite:///{path}")
    engine = make_engine(f"sqlite:///{path}")
    try:
        with engine.begin() as conn:
            # Fold the WAL into the main file so that a plain copy carries everything.
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        engine.dispose()
    return path


@pytest.fixture
def web_db(web_settings: Settings, _web_db_template: Path) -> str:
    """A fresh migrated database with the test user (created through the org service)."""
    db_path = Path(web_settings.database_url.removeprefix("sqlite:///"))
    shutil.copyfile(_web_db_template, db_path)
    engine = make_engine(web_settings.database_url)
    try:
        with session_scope(engine) as session:
            org_service.create_user(
                session=session,
                user_in=UserCreate(username=USERNAME, password=PASSWORD, role=Role.district),
                actor=SETUP_ACTOR,
            )
    finally:
        engine.dispose()
    return web_settings.database_url


@pytest.fixture
def web_app(web_settings: Settings, web_db: str) -> FastAPI:
    """The whole application on the fresh database."""
    return create_app(web_settings)


@pytest.fixture
def web_client(web_app: FastAPI) -> Iterator[TestClient]:
    """A TestClient that does not follow redirects (tests look at each hop)."""
    with TestClient(web_app, follow_redirects=False) as client:
        yield client


@pytest.fixture(scope="session")
def demo_hillshade(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo terrain's hillshade (PNG + JSON) in a folder of its own, made once per session."""
    from fangxun.demo.files import write_hillshade
    from fangxun.demo.terrain import generate_terrain

    folder = tmp_path_factory.mktemp("hillshade")
    write_hillshade(generate_terrain(), folder / "hillshade.png", folder / "hillshade.json")
    return folder


@pytest.fixture
def live_server(web_app: FastAPI, web_settings: Settings) -> Iterator[LiveServer]:
    """The app served by uvicorn in a background thread on a free loopback port."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(web_app, log_level="warning", lifespan="on", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="live-server", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("the live server thread stopped during start-up (see the log above)")
        if time.monotonic() > deadline:
            raise RuntimeError(f"the live server did not start within {STARTUP_TIMEOUT_S} s")
        time.sleep(0.02)
    try:
        yield LiveServer(url=f"http://127.0.0.1:{port}", settings=web_settings)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Headless Chromium (Debian's package) under Playwright, shared by the session's tests."""
    from playwright.sync_api import sync_playwright

    deadline = time.monotonic() + 300.0
    # Chromium may still be being installed by `make system` on a fresh machine: wait a while.
    while not CHROMIUM.exists() and time.monotonic() < deadline:
        time.sleep(5)
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} not found: install Debian's chromium package (make system)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            timeout=STARTUP_TIMEOUT_S * 1000,
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Any, live_server: LiveServer) -> Iterator[Any]:
    """A fresh browser context and page (1280×800, zh-CN).

    Fails the test on any JavaScript error and on any asset of the app (``/static/``, the basemap)
    that does not load. A page answered with a 4xx on purpose (wrong password, CSRF) is no error.
    """
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN")
    context.set_default_timeout(15_000)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(f"JavaScript error: {exc}"))

    def on_console(msg: Any) -> None:
        # Chromium also logs every 4xx document as a console error; responses are checked below.
        if msg.type == "error" and not msg.text.startswith("Failed to load resource"):
            errors.append(f"console.error: {msg.text}")

    def on_response(response: Any) -> None:
        path = response.url.removeprefix(live_server.url)
        if response.status >= 400 and path.startswith(("/static/", "/web/")):
            errors.append(f"asset failed: {response.status} {path}")

    tab.on("console", on_console)
    tab.on("response", on_response)

    def on_request_failed(request: Any) -> None:
        # A request cut off because the page navigated or closed (the live panel's event stream,
        # a poll in flight) is aborted by the browser, not failed by the server.
        if "ERR_ABORTED" in (request.failure or ""):
            return
        errors.append(f"request failed: {request.url} ({request.failure})")

    tab.on("requestfailed", on_request_failed)
    try:
        yield tab
    finally:
        context.close()
    assert not errors, "problems on the page:\n" + "\n".join(errors)


@pytest.fixture
def artifacts_dir() -> Path:
    """``tests/artifacts/`` (git-ignored): screenshots for people to look at."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
