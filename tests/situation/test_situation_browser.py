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


#: Elements whose visible part (their box clipped by every ancestor that clips) lies outside the
#: viewport; and the page itself when it scrolls. Leaflet's panes are clipped by the map.
VISIBLE_OVERFLOW_JS = """() => {
  const W = window.innerWidth, H = window.innerHeight, out = [];
  const d = document.documentElement;
  if (d.scrollWidth > W || d.scrollHeight > H) out.push(`page ${d.scrollWidth}x${d.scrollHeight}`);
  for (const el of document.querySelectorAll("body *")) {
    const style = getComputedStyle(el);
    if (style.display === "none" || style.visibility === "hidden") continue;
    let r = el.getBoundingClientRect();
    let box = { left: r.left, top: r.top, right: r.right, bottom: r.bottom };
    for (let a = el.parentElement; a && a !== document.body; a = a.parentElement) {
      if (getComputedStyle(a).overflow === "visible") continue;
      const c = a.getBoundingClientRect();
      box = {
        left: Math.max(box.left, c.left), top: Math.max(box.top, c.top),
        right: Math.min(box.right, c.right), bottom: Math.min(box.bottom, c.bottom),
      };
    }
    if (box.right - box.left <= 0 || box.bottom - box.top <= 0) continue;  // clipped away
    if (box.left < -1 || box.top < -1 || box.right > W + 1 || box.bottom > H + 1) {
      out.push(`${el.tagName}.${el.className} ${Math.round(box.right)}x${Math.round(box.bottom)}`);
    }
  }
  return out;
}"""


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
    seen: dict[str, object] = {}
    try:
        deadline = time.monotonic() + STORY_TIMEOUT_S
        # The page is never reloaded: what it shows came by server-sent events. Look until the
        # red signal, a response level, a forecast-flagged point and an incident were all shown.
        while time.monotonic() < deadline and not story.replay_done:
            ahead = page.locator("[data-testid=sit-points] li[data-ahead=true]")
            if ahead.count() and not ahead_seen:
                ahead_seen.append(ahead.first.inner_text())
                _shot(page, artifacts_dir, "situation-forecast-ahead.png")
            if page.get_by_test_id("sit-signal").get_attribute("data-colour") == "red":
                seen.setdefault("red", story.clock.offset_s())
            level = page.get_by_test_id("sit-response").get_attribute("data-level")
            if level:
                seen["level"] = level
            if page.locator("[data-testid=sit-incidents] li[data-incident]").count():
                seen.setdefault("incident", story.clock.offset_s())
            if ahead_seen and {"red", "level", "incident"} <= set(seen):
                break
            page.wait_for_timeout(1000)
        events = story.log.events[-5:]
        assert "red" in seen, f"no red signal on the map; story: {events}"
        assert seen.get("level") in ("IV", "III", "II"), f"response level on the map: {seen}"
        assert ahead_seen, (
            f"no point flagged by the forecast before its sensor ({len(story.log.forecasts)} "
            "forecasts ran)"
        )
        assert "incident" in seen, f"no incident on the map; story: {events}"
        assert page.locator("[data-testid=sit-live][data-state=live]").count() == 1
        _shot(page, artifacts_dir, "situation-map.png")
    finally:
        story.stop()

    # The command-room wall: full HD, nothing outside the viewport (map panes clip their own).
    context = browser.new_context(viewport={"width": 1920, "height": 1080}, locale="zh-CN")
    try:
        wall = context.new_page()
        _login(wall, live_server.url, "/wall")
        # the wall keeps the live panel's data hidden (its own panels show it): attached only
        wall.wait_for_selector("#situation[data-ready=true]", state="attached")
        wall.wait_for_selector("[data-testid=wall][data-ready=true]")
        overflow = wall.evaluate(VISIBLE_OVERFLOW_JS)
        assert overflow == []
        assert wall.locator("header.topbar").is_hidden()
        assert wall.get_by_test_id("sit-signal").get_attribute("data-colour") == "red"
        official = wall.locator("[data-testid=wall-signal] [data-field=signal]")
        assert official.get_attribute("data-colour") == "red", "the official signal on the wall"
        assert wall.get_by_test_id("wall-replay").inner_text() == "回放结束"
        _shot(wall, artifacts_dir, "situation-wall.png")
    finally:
        context.close()
