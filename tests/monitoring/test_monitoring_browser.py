"""In headless Chromium: the monitoring page shows the stations on the map, draws a station's
charts and receives live values by server-sent events. Saves a screenshot under tests/artifacts/.

The live server and Chromium come from the shared harness (tests/web_harness.py).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from mon_helpers import build_network

from fangxun.db import make_engine, session_scope
from fangxun.monitoring.ingest.parser import ObservationMessage
from fangxun.monitoring.ingest.writer import Pending, write_observations
from fangxun.monitoring.models import Source
from web_harness import LiveServer

pytestmark = pytest.mark.browser


def _write(url: str, code: str, points: list[tuple[datetime, float]]) -> None:
    engine = make_engine(url)
    try:
        with session_scope(engine) as session:
            write_observations(
                session=session,
                items=[
                    Pending(ObservationMessage(datastream=code, time=t, value=v)) for t, v in points
                ],
                source=Source.http,
            )
    finally:
        engine.dispose()


def test_monitoring_page_live(
    page: Any,
    live_server: LiveServer,
    web_db: str,
    credentials: tuple[str, str],
    artifacts_dir: Path,
) -> None:
    engine = make_engine(web_db)
    network = build_network(engine)
    engine.dispose()
    now = datetime.now(UTC).replace(microsecond=0)
    _write(
        web_db,
        network.river,
        [(now - timedelta(minutes=10 - i), 86.0 + 0.1 * i) for i in range(10)],
    )

    username, password = credentials
    page.goto(live_server.url + "/login")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(password)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url("**/map")
    page.goto(live_server.url + "/monitoring")
    page.wait_for_selector("#mon-map[data-ready=true]")
    assert page.locator(".leaflet-interactive").count() == 4  # one marker per station
    page.locator('#mon-rows tr[data-code="RV01"]').click()
    page.wait_for_selector("#mon-charts svg polyline")
    assert "RV01" in page.locator("#mon-chart-title").inner_text()
    # The chart's time axis reads Beijing time (whatever the browser's zone), with its unit.
    chart_text = page.locator("#mon-charts svg").first.text_content() or ""
    assert "北京时间" in chart_text
    last = (now - timedelta(minutes=1)).astimezone(ZoneInfo("Asia/Shanghai")).strftime("%H:%M")
    assert last in chart_text, chart_text
    assert page.locator("#mon-charts svg text", has_text="m").count() >= 1

    # New data arrives: the event stream updates the table without a reload.
    _write(web_db, network.ponding, [(now, 23.0)])
    page.wait_for_function(
        # A function, not an expression: Playwright evaluates expressions with eval(), which
        # the page's Content Security Policy forbids.
        "() => document.querySelector('#mon-rows tr[data-code=\"PD01\"] td[data-role=values]')"
        ".textContent.includes('23.0 cm')",
        timeout=15_000,
    )
    page.screenshot(path=str(artifacts_dir / "monitoring.png"), full_page=True)
    page.evaluate("window.fxMonitoringEvents.close()")
