"""The web shell in headless Chromium: log in through the form and see the map."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.browser


def test_login_and_see_the_map(
    live_server: Any, page: Any, demo_hillshade: Path, artifacts_dir: Path
) -> None:
    live_server.install_hillshade(demo_hillshade)

    page.goto(live_server.url + "/")
    page.wait_for_url("**/login")
    page.get_by_label("用户名").fill(live_server.username)
    page.get_by_label("密码").fill(live_server.password)
    page.get_by_role("button", name="登录").click()

    page.wait_for_url("**/map")
    page.wait_for_selector("#map[data-ready='true']")
    # Leaflet built its container, panes and controls from the vendored files.
    assert page.locator("#map.leaflet-container").count() == 1
    assert page.evaluate("typeof window.L") == "object"
    assert page.evaluate("window.L.version") == "1.9.4"
    # The offline basemap: the hillshade image overlay, loaded, with the synthetic-terrain label.
    overlay = page.locator("img.fangxun-hillshade")
    overlay.wait_for(state="attached")
    page.wait_for_function(
        "() => { const i = document.querySelector('img.fangxun-hillshade');"
        " return i && i.complete && i.naturalWidth > 0; }"
    )
    assert page.locator("[data-testid='basemap-notice']").count() == 0
    assert page.get_by_test_id("terrain-label").inner_text() == "合成地形（演示）"
    # Layer switcher and legend scaffolding.
    assert page.locator(".leaflet-control-layers").count() == 1
    assert "隐患点" in page.locator(".leaflet-control-layers").inner_text()
    assert "图例" in page.get_by_test_id("legend").inner_text()
    # The top bar names the user and the role; the navigation marks the map as current.
    assert live_server.username in page.get_by_test_id("whoami").inner_text()
    assert page.locator(".mainnav a.active").inner_text().strip() == "一张图"

    page.screenshot(path=str(artifacts_dir / "map.png"))


def test_map_without_basemap_shows_the_notice(live_server: Any, page: Any) -> None:
    page.goto(live_server.url + "/map?lang=en")
    page.wait_for_url("**/login?next=*")
    page.get_by_label("Username").fill(live_server.username)
    page.get_by_label("Password").fill(live_server.password)
    page.get_by_role("button", name="Log in").click()

    page.wait_for_url("**/map?lang=en")
    page.wait_for_selector("#map[data-ready='true']")
    notice = page.get_by_test_id("basemap-notice")
    assert "No offline basemap" in notice.inner_text()
    assert page.locator("img.fangxun-hillshade").count() == 0
    # Logging out ends the session: the map sends us back to the login page.
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url("**/login?logged_out=1")
    page.goto(live_server.url + "/map")
    page.wait_for_url("**/login?next=*")
