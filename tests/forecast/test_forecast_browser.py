"""In headless Chromium: a district user starts a small forecast run from the forecast page's
form (design storm), watches its progress (HTMX polling) and sees the point table when it is done.

The live server and Chromium come from the shared harness (tests/web_harness.py); the district is
the crafted 30 × 30 bowl of the forecast tests, placed where the app looks for the terrain.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from conftest import CELLS, SYSTEM, cell_lonlat
from factories import make_unit
from fangxun.config import Settings, load_settings
from fangxun.db import make_engine, session_scope
from fangxun.forecast import service
from fangxun.hazards import service as hazards_service
from fangxun.hazards.models import HazardKind
from fangxun.hazards.schemas import HazardPointCreate, Thresholds
from web_harness import LiveServer

pytestmark = pytest.mark.browser


@pytest.fixture
def web_settings(tmp_path: Path, terrain_tif: Path) -> Settings:
    """The harness's settings, plus the crafted district as ``<data_dir>/demo/terrain.tif`` and a
    fast model (NumPy backend, coarse outputs)."""
    data_dir = tmp_path / "data"
    (data_dir / "demo").mkdir(parents=True)
    shutil.copyfile(terrain_tif, data_dir / "demo" / "terrain.tif")
    return load_settings(
        environment="test",
        database_url=f"sqlite:///{tmp_path / 'web.db'}",
        data_dir=data_dir,
        secret_key="web-tests-secret-key-0123456789abcdef",
        language="zh",
        basemap_url=None,
        forecast_backend="numpy",
        forecast_output_interval_s=300.0,
        forecast_members=1,
    )


@pytest.fixture
def crafted_points(web_db: str) -> None:
    """The three crafted hazard points in the live server's database."""
    engine = make_engine(web_db)
    try:
        with session_scope(engine) as session:
            unit = make_unit(session, "FXB", name_zh="预报区", actor=SYSTEM)
            for name, (r, c) in CELLS.items():
                lon, lat = cell_lonlat(r, c)
                hazards_service.create_point(
                    session=session,
                    point_in=HazardPointCreate(
                        code=f"FX-{name}",
                        name=f"测试点{name}",
                        kind=HazardKind.low_lying_road,
                        lon=lon,
                        lat=lat,
                        unit_id=unit.id,
                        thresholds_cm=Thresholds(blue=1.0, yellow=5.0, orange=10.0, red=20.0),
                    ),
                    actor=SYSTEM,
                )
    finally:
        engine.dispose()


def test_start_a_run_from_the_page_and_see_it_complete(
    crafted_points: None, live_server: LiveServer, page: Any, artifacts_dir: Path
) -> None:
    # Straight to the forecast page through the login form (not via the live map, whose event
    # stream would be cut off by leaving it).
    page.goto(live_server.url + "/forecast?lang=en")
    page.wait_for_url("**/login**")
    page.get_by_label("Username").fill(live_server.username)
    page.get_by_label("Password").fill(live_server.password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/forecast**")
    assert page.get_by_test_id("no-forecast").is_visible()

    form = page.get_by_test_id("start-form")
    # A bad value is refused with a message next to the field; nothing starts.
    form.get_by_label("Design storm").check()
    form.get_by_label("Return period (years)").fill("abc")
    form.get_by_role("button", name="Start forecast").click()
    error = page.get_by_test_id("error-return_period_years")
    error.wait_for()
    assert "return period" in error.inner_text()

    form = page.get_by_test_id("start-form")
    form.get_by_label("Return period (years)").fill("5")
    form.get_by_label("Duration (min)").fill("30")
    form.get_by_label("Ensemble members").fill("1")
    form.get_by_label("Horizon (min)").fill("40")
    # A design storm is a what-if unless the duty officer names it the operational forecast.
    form.get_by_label("Purpose").select_option("operational")
    form.get_by_role("button", name="Start forecast").click()
    progress = page.get_by_test_id("run-progress")
    progress.wait_for()
    # The fragment polls the run's status until it is done, then shows the ranked points.
    page.wait_for_selector("[data-testid='run-progress'][data-status='done']", timeout=120_000)
    table = page.locator("[data-testid='run-progress'] [data-testid='point-table']")
    assert table.locator("tbody tr").count() == 3
    assert table.locator("tbody tr").first.get_attribute("data-point") == "FX-centre"
    page.screenshot(path=str(artifacts_dir / "forecast_start.png"))

    engine = make_engine(live_server.settings.database_url)
    try:
        with session_scope(engine) as session:
            runs = service.list_runs(session=session)
            assert [(r.status.value, r.purpose.value) for r in runs] == [("done", "operational")]
            assert runs[0].params["rain"]["return_period_years"] == 5.0
            assert runs[0].horizon_s == 2400.0
    finally:
        engine.dispose()

    # The page itself now shows the forecast in force.
    page.get_by_role("link", name="Show it on the map").click()
    page.get_by_test_id("forecast-run").wait_for()
    assert page.locator("section > [data-testid='point-table'] tbody tr").count() == 3


XSS_NAME = '<img src=x onerror="window.__xss=1"><b id="xss-b">粗</b>'


def test_point_name_in_the_map_tooltip_is_text(
    web_db: str, live_server: LiveServer, page: Any
) -> None:
    """Issue 20, item 9: a point named with HTML shows that HTML as text in the forecast map's
    tooltip; no element is made from it and its script never runs."""
    from fangxun.forecast import flows
    from fangxun.forecast.schemas import DesignRain, ForecastRunCreate

    engine = make_engine(web_db)
    try:
        with session_scope(engine) as session:
            unit = make_unit(session, "FXB", name_zh="预报区", actor=SYSTEM)
            lon, lat = cell_lonlat(*CELLS["centre"])
            hazards_service.create_point(
                session=session,
                point_in=HazardPointCreate(
                    code="FX-xss",
                    name=XSS_NAME,
                    kind=HazardKind.low_lying_road,
                    lon=lon,
                    lat=lat,
                    unit_id=unit.id,
                    thresholds_cm=Thresholds(blue=1.0, yellow=5.0, orange=10.0, red=20.0),
                ),
                actor=SYSTEM,
            )
            run_id = service.create_run(
                session=session,
                run_in=ForecastRunCreate(
                    rain=DesignRain(return_period_years=5, duration_s=1800.0),
                    horizon_s=2400.0,
                    purpose="operational",  # only the run in force is on the map
                ),
                actor=SYSTEM,
                settings=live_server.settings,
            ).id
        flows.execute_run(engine, run_id, live_server.settings, executor="serial")
    finally:
        engine.dispose()

    page.goto(live_server.url + "/forecast?lang=en")
    page.wait_for_url("**/login**")
    page.get_by_label("Username").fill(live_server.username)
    page.get_by_label("Password").fill(live_server.password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/forecast**")
    page.get_by_test_id("forecast-run").wait_for()
    marker = page.locator("#fc-map path.leaflet-interactive")
    assert marker.count() == 1
    marker.first.hover(force=True)
    tooltip = page.locator(".leaflet-tooltip")
    tooltip.wait_for()
    assert XSS_NAME in tooltip.inner_text()
    assert tooltip.locator("img, b").count() == 0
    assert page.locator("#xss-b").count() == 0
    assert page.evaluate("window.__xss") is None
