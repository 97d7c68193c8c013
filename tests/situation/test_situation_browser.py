"""The situation room in Chromium during the accelerated 7·20 replay (the demo story without its
own server: the test's live server serves the map while ingest, warnings, forecasts, notify and
the replay run as ``fangxun demo`` runs them).

Asserted on the page: the red rainstorm signal, a response level, and a point the forecast
flagged before its sensor reached the colour; then the wall at 1920×1080 without overflow.
Screenshots go to ``tests/artifacts/`` and are copied into ``docs/images/`` for the user guide.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

import pytest

from fangxun.db import make_engine, session_scope
from fangxun.demo import load_demo
from fangxun.demo.org_seed import PRIMARY_LOGIN
from fangxun.demo.story import Story, StoryOptions

pytestmark = [pytest.mark.browser, pytest.mark.slow]

DOCS_IMAGES = Path(__file__).resolve().parents[2] / "docs" / "images"
#: Fast enough for a test (11 h of storm in about 2 min), slow enough for a few forecasts.
OPTIONS = StoryOptions(speed=330.0, first_hour=12, hours=10, cell_m=160.0, tick_s=1.0)
#: How long the replay may take on a busy machine, s.
STORY_TIMEOUT_S = 420.0


def _login(page: Any, url: str, path: str) -> None:
    page.goto(url + path)
    page.get_by_label("用户名").fill(PRIMARY_LOGIN.username)
    page.get_by_label("密码").fill(PRIMARY_LOGIN.password)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(f"**{path}")


def _shot(page: Any, artifacts_dir: Path, name: str) -> None:
    path = artifacts_dir / name
    page.screenshot(path=str(path))
    DOCS_IMAGES.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(path, DOCS_IMAGES / name)


def test_replay_on_the_map_and_the_wall(
    live_server: Any, page: Any, browser: Any, demo_hillshade: Path, artifacts_dir: Path
) -> None:
    settings = live_server.settings
    engine = make_engine(settings.database_url)
    try:
        with session_scope(engine) as session:
            load_demo(session=session, settings=settings)  # writes the terrain for forecasts
    finally:
        engine.dispose()
    live_server.install_hillshade(demo_hillshade)

    _login(page, live_server.url, "/map")
    page.wait_for_selector("#situation[data-ready=true]")
    assert page.get_by_test_id("sit-signal").get_attribute("data-colour") == ""

    story = Story(settings, OPTIONS, say=lambda _text: None)
    story.prepare()
    story.start()
    ahead_seen: list[str] = []
    red_at = None
    try:
        deadline = time.monotonic() + STORY_TIMEOUT_S
        while time.monotonic() < deadline and not story.replay_done:
            # The page is never reloaded: what it shows came by server-sent events.
            ahead = page.locator("[data-testid=sit-points] li[data-ahead=true]")
            if ahead.count() and not ahead_seen:
                ahead_seen.append(ahead.first.inner_text())
                _shot(page, artifacts_dir, "situation-forecast-ahead.png")
            colour = page.get_by_test_id("sit-signal").get_attribute("data-colour")
            if colour == "red" and red_at is None:
                red_at = time.monotonic()
            if red_at is not None and time.monotonic() - red_at > 8.0:
                break  # the level and the incident follow the signal within a few looks
            page.wait_for_timeout(1000)
        assert red_at is not None, f"no red signal on the map; story: {story.log.events[-5:]}"
        level = page.get_by_test_id("sit-response").get_attribute("data-level")
        assert level in ("IV", "III", "II"), f"response level on the map: {level!r}"
        assert ahead_seen, (
            f"no point flagged by the forecast before its sensor ({len(story.log.forecasts)} "
            "forecasts ran)"
        )
        assert page.locator("[data-testid=sit-incidents] li[data-incident]").count() >= 1
        assert page.locator("[data-testid=sit-live][data-state=live]").count() == 1
        _shot(page, artifacts_dir, "situation-map.png")
    finally:
        story.stop()

    # The command-room wall: full HD, nothing outside the viewport (map panes clip their own).
    context = browser.new_context(viewport={"width": 1920, "height": 1080}, locale="zh-CN")
    try:
        wall = context.new_page()
        _login(wall, live_server.url, "/map?screen=wall")
        wall.wait_for_selector("#situation[data-ready=true]")
        overflow = wall.evaluate(
            """() => {
              const W = window.innerWidth, H = window.innerHeight, out = [];
              const d = document.documentElement;
              if (d.scrollWidth > W || d.scrollHeight > H) out.push(`page ${d.scrollWidth}x${d.scrollHeight}`);
              for (const el of document.querySelectorAll("body *")) {
                if (el.closest(".leaflet-pane")) continue;
                const r = el.getBoundingClientRect();
                if (!r.width || !r.height) continue;
                if (r.left < -1 || r.top < -1 || r.right > W + 1 || r.bottom > H + 1) {
                  out.push(`${el.tagName}.${el.className} ${Math.round(r.right)}x${Math.round(r.bottom)}`);
                }
              }
              return out;
            }"""
        )
        assert overflow == []
        assert wall.locator("header.topbar").is_hidden()
        assert wall.get_by_test_id("sit-signal").get_attribute("data-colour") == "red"
        _shot(wall, artifacts_dir, "situation-wall.png")
    finally:
        context.close()
