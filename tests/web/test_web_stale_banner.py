"""The "data is stale" banner: shown on every page of a signed-in user when a critical station's
newest observation is older than ``monitoring_stale_s`` or a service heartbeat has stopped;
refreshed by an HTMX poll of ``/web/stale-banner``; one cached query however many pages."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from fangxun.audit.service import SystemActor
from fangxun.config import Settings
from fangxun.db import make_engine, session_scope
from fangxun.db.types import utcnow
from fangxun.monitoring import heartbeat
from fangxun.monitoring import service as monitoring
from fangxun.monitoring.ingest.parser import ObservationMessage
from fangxun.monitoring.ingest.writer import Pending, write_observations
from fangxun.monitoring.models import Source, StationKind
from fangxun.monitoring.schemas import DatastreamCreate, StationCreate
from fangxun.web import staleness

SETUP = SystemActor(username="stale-tests")


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    staleness.clear_cache()
    yield
    staleness.clear_cache()


@pytest.fixture
def web_engine(web_settings: Settings, web_db: str) -> Iterator[Engine]:
    engine = make_engine(web_db)
    try:
        yield engine
    finally:
        engine.dispose()


def add_station(
    engine: Engine, code: str, kind: StationKind, *, critical: bool | None = None
) -> str:
    """A station with one datastream; returns the datastream's code."""
    with session_scope(engine) as session:
        monitoring.ensure_observed_properties(session=session)
        monitoring.create_station(
            session=session,
            station_in=StationCreate(
                code=code,
                name_zh=code,
                kind=kind,
                lon=113.6,
                lat=34.8,
                properties={"critical": critical} if critical is not None else None,
            ),
            actor=SETUP,
        )
        prop = "ponding_depth" if kind is StationKind.ponding else "rainfall"
        monitoring.create_datastream(
            session=session,
            datastream_in=DatastreamCreate(
                code=f"{code}-x",
                name=code,
                station_code=code,
                observed_property=prop,
                unit="cm" if prop == "ponding_depth" else "mm",
            ),
            actor=SETUP,
        )
    return f"{code}-x"


def observe(engine: Engine, stream: str, age: timedelta, value: float = 1.0) -> None:
    """Store one observation ``age`` ago."""
    msg = ObservationMessage(datastream=stream, time=utcnow() - age, value=value)
    with session_scope(engine) as session:
        result = write_observations(session=session, items=[Pending(msg)], source=Source.http)
    assert result.stored == 1


def banner(html: str) -> str:
    """The banner element's opening tag and text, or '' when the page has none."""
    start = html.find('id="stale-banner"')
    if start < 0:
        return ""
    end = html.find("</div>", start)
    return html[start:end]


def test_critical_station_gone_quiet_shows_the_banner_on_every_page(
    web_client: TestClient, login: Any, web_engine: Engine
) -> None:
    stream = add_station(web_engine, "PD9", StationKind.ponding)
    observe(web_engine, stream, timedelta(hours=2))  # default limit: 30 min
    login(web_client)
    for path in ("/map", "/monitoring", "/warnings", "/notifications"):
        html = web_client.get(path).text
        b = banner(html)
        assert 'data-state="stale"' in b, path
        assert 'role="alert"' in b and 'hx-get="/web/stale-banner"' in b
        assert "数据已过时" in b
        assert "1 个关键站点已超过 30 分钟没有数据" in b
    english = banner(web_client.get("/map?lang=en").text)
    assert "Data is stale" in english
    assert "1 critical station(s) sent no data for more than 30 minutes." in english
    # Only a count: no station code reaches users of other jurisdictions.
    assert "PD9" not in english


def test_fresh_data_or_a_non_critical_station_shows_none(
    web_client: TestClient, login: Any, web_engine: Engine
) -> None:
    fresh = add_station(web_engine, "PD1", StationKind.ponding)
    observe(web_engine, fresh, timedelta(minutes=1))
    rain = add_station(web_engine, "RG1", StationKind.rain_gauge)  # not a critical kind
    observe(web_engine, rain, timedelta(hours=3))
    add_station(web_engine, "PD2", StationKind.ponding)  # never reported: not "stale data"
    login(web_client)
    b = banner(web_client.get("/map").text)
    assert 'data-state="fresh"' in b and "hidden" in b
    assert 'hx-get="/web/stale-banner"' in b  # it keeps asking
    # A rain gauge marked critical counts.
    staleness.clear_cache()
    marked = add_station(web_engine, "RG2", StationKind.rain_gauge, critical=True)
    observe(web_engine, marked, timedelta(hours=1))
    assert 'data-state="stale"' in banner(web_client.get("/map").text)


def test_a_stopped_service_heartbeat_shows_the_banner(
    web_client: TestClient, login: Any, web_settings: Settings
) -> None:
    login(web_client)
    heartbeat.beat(web_settings.data_dir, heartbeat.INGEST, force=True)
    heartbeat.beat(web_settings.data_dir, heartbeat.WARNINGS, force=True)
    assert 'data-state="fresh"' in banner(web_client.get("/map").text)
    # The evaluator's last beat was an hour ago.
    path = heartbeat.heartbeat_path(web_settings.data_dir, heartbeat.WARNINGS)
    old = time.time() - 3600
    os.utime(path, (old, old))
    staleness.clear_cache()
    b = banner(web_client.get("/map?lang=en").text)
    assert 'data-state="stale"' in b
    assert "The warning evaluation has stopped reporting." in b
    assert 'data-testid="quiet-ingest"' not in b  # the ingest beat just now
    assert 'data-testid="quiet-warnings"' in b


def test_poll_fragment_and_signed_out(
    web_client: TestClient, login: Any, web_engine: Engine
) -> None:
    signed_out = web_client.get("/web/stale-banner")
    assert signed_out.status_code == 200
    assert 'data-state="signed-out"' in signed_out.text and "hx-get" not in signed_out.text
    stream = add_station(web_engine, "PD3", StationKind.ponding)
    observe(web_engine, stream, timedelta(hours=2))
    login(web_client)
    fragment = web_client.get("/web/stale-banner")
    assert fragment.status_code == 200
    assert fragment.headers["cache-control"] == "no-store"
    assert fragment.text.strip().startswith('<div id="stale-banner"')
    assert 'data-state="stale"' in fragment.text
    # Pages without a user (the login form) carry no banner.
    web_client.cookies.clear()
    assert banner(web_client.get("/login").text) == ""


def test_one_cached_check_for_many_pages(
    web_client: TestClient, login: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []
    real = staleness.compute_staleness

    def counting(*args: Any, **kwargs: Any) -> staleness.Staleness:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(staleness, "compute_staleness", counting)
    login(web_client)
    for _ in range(5):
        web_client.get("/map")
        web_client.get("/web/stale-banner")
    assert len(calls) == 1


def test_the_check_on_sqlite_and_postgresql(engine: Engine, settings: Settings) -> None:
    quiet = add_station(engine, "PD5", StationKind.ponding)
    observe(engine, quiet, timedelta(hours=2))
    marked = add_station(engine, "RG5", StationKind.rain_gauge, critical=True)
    observe(engine, marked, timedelta(hours=5))
    fresh = add_station(engine, "PD6", StationKind.ponding)
    observe(engine, fresh, timedelta(minutes=5))
    result = staleness.compute_staleness(engine, settings)
    assert result.stale_stations == 2 and result.is_stale
    assert result.oldest is not None
    assert timedelta(hours=4.9) < utcnow() - result.oldest < timedelta(hours=5.1)
    assert result.quiet_services == ()


@pytest.mark.browser
def test_banner_in_the_browser_clears_itself_when_data_returns(
    live_server: Any, page: Any, web_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Poll every second and check afresh each time, so the test need not wait 30 s.
    monkeypatch.setattr(staleness, "POLL_S", 1)
    monkeypatch.setattr(staleness, "CACHE_S", 0.0)
    engine = make_engine(web_settings.database_url)
    try:
        stream = add_station(engine, "PD7", StationKind.ponding)
        observe(engine, stream, timedelta(hours=2), value=5.0)
        page.goto(live_server.url + "/monitoring?lang=en")
        page.wait_for_url("**/login?next=*")
        page.get_by_label("Username").fill(live_server.username)
        page.get_by_label("Password").fill(live_server.password)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url("**/monitoring?lang=en")
        shown = page.locator("[data-testid='stale-banner'][data-state='stale']")
        shown.wait_for(state="visible")
        assert "Data is stale" in shown.inner_text()
        assert "1 critical station(s)" in shown.inner_text()
        # The station reports again: the HTMX poll swaps the banner out, no reload.
        observe(engine, stream, timedelta(seconds=30), value=6.0)
        page.wait_for_selector(
            "[data-testid='stale-banner'][data-state='fresh']", state="attached", timeout=20_000
        )
        assert not page.get_by_test_id("stale-banner").is_visible()
        assert page.url.endswith("/monitoring?lang=en")  # the same page, never reloaded
    finally:
        engine.dispose()
