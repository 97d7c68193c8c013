"""The command room as the documentation shows it, at the storm's peak and at its end: the wall
(大屏) at 1920×1080 and 3840×2160, and the map, warnings, response, notifications and forecast
pages at 1600×1000. The screenshots go to ``docs/images/`` (``room-<state>-<page>.png``).

On the wall: the official signal and the replay's badge, one clock, no controls, nothing outside
the screen, the views cycling; its type scales with the screen.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import replayed_demo
from zh_text import ISO_TIME, english_words

from fangxun.config import Settings
from fangxun.demo.org_seed import PRIMARY_LOGIN

pytestmark = [pytest.mark.browser, pytest.mark.slow]

DOCS_IMAGES = Path(__file__).resolve().parents[2] / "docs" / "images"
DESK = {"width": 1600, "height": 1000}
WALLS = ({"width": 1920, "height": 1080}, {"width": 3840, "height": 2160})
PAGES = ("map", "warnings", "response", "notifications", "forecast")

#: Visible elements outside the viewport, and the page itself when it scrolls.
OVERFLOW_JS = """() => {
  const W = innerWidth, H = innerHeight, d = document.documentElement, out = [];
  if (d.scrollWidth > W || d.scrollHeight > H) out.push(`page ${d.scrollWidth}x${d.scrollHeight}`);
  for (const el of document.querySelectorAll(".wall-grid *")) {
    if (el.closest(".leaflet-pane")) continue;
    const r = el.getBoundingClientRect();
    if (!r.width || !r.height || getComputedStyle(el).visibility === "hidden") continue;
    if (r.right > W + 1 || r.bottom > H + 1) out.push(`${el.tagName}.${el.className}`);
  }
  return out;
}"""


@pytest.fixture(params=["peak", "end"])
def state(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def web_settings(state: str, request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    source = request.getfixturevalue("replayed_peak" if state == "peak" else "replayed")
    demo = replayed_demo.fresh_copy(source, tmp_path / "demo")
    return replayed_demo.settings_for(demo.db, demo.data_dir)


@pytest.fixture
def web_db(web_settings: Settings) -> str:
    return web_settings.database_url


def _login(page: Any, url: str, path: str) -> None:
    page.goto(f"{url}/login?next={path}")
    page.get_by_label("用户名").fill(PRIMARY_LOGIN.username)
    page.get_by_label("密码").fill(PRIMARY_LOGIN.password)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(f"**{path}")


def _reads_in_chinese(page: Any, where: str) -> None:
    """What the browser shows (the live panels drawn by the scripts too) has no English words and
    no ISO times; Leaflet's own attribution is not the page's text."""
    text = page.evaluate(
        "() => { const c = document.body.cloneNode(true);"
        " c.querySelectorAll('.leaflet-control-attribution, script, style, code, [hidden]')"
        ".forEach((n) => n.remove()); return c.innerText; }"
    )
    problems = [line for line in text.splitlines() if english_words(line) or ISO_TIME.search(line)]
    assert not problems, f"{where}: {problems[:10]}"


def _shot(page: Any, artifacts_dir: Path, name: str) -> None:
    path = artifacts_dir / name
    page.screenshot(path=str(path))
    DOCS_IMAGES.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(path, DOCS_IMAGES / name)


def test_wall_and_pages_at_peak_and_end(
    live_server: Any, browser: Any, demo_hillshade: Path, artifacts_dir: Path, state: str
) -> None:
    live_server.install_hillshade(demo_hillshade)
    for size in WALLS:
        context = browser.new_context(viewport=size, locale="zh-CN")
        try:
            wall = context.new_page()
            _login(wall, live_server.url, "/wall")
            wall.wait_for_selector("[data-testid=wall][data-ready=true]")
            wall.wait_for_timeout(1500)  # the map's tiles and markers
            assert wall.evaluate(OVERFLOW_JS) == []
            assert wall.locator("header.topbar").is_hidden()
            visible_controls = wall.locator(
                ".wall-grid button:visible, .wall-grid input:visible, .leaflet-control-zoom:visible"
            )
            assert visible_controls.count() == 0, "the wall has no controls"
            signal = wall.locator("[data-testid=wall-signal] [data-field=signal]")
            assert signal.get_attribute("data-colour") in ("orange", "red"), "the official signal"
            badge = wall.get_by_test_id("wall-replay")
            assert badge.is_visible() and badge.inner_text() == (
                "回放" if state == "peak" else "回放结束"
            )
            assert wall.locator("[data-testid=wall-clock]").count() == 1
            first = wall.locator("[data-testid=wall]").get_attribute("data-view")
            _reads_in_chinese(wall, f"wall {size['width']}")
            _shot(wall, artifacts_dir, f"room-{state}-wall-{size['width']}.png")
            # Type scales with the screen: a tenth of the width is 9.6 rem on any wall.
            rem = wall.evaluate("() => parseFloat(getComputedStyle(document.body).fontSize)")
            assert rem == pytest.approx(size["width"] / 96, rel=0.02)
            if size["width"] == 1920:
                wall.wait_for_timeout(13_000)  # one cycle (WALL_CYCLE_S = 12 s)
                assert wall.locator("[data-testid=wall]").get_attribute("data-view") != first
        finally:
            context.close()
    context = browser.new_context(viewport=DESK, locale="zh-CN")
    try:
        desk = context.new_page()
        _login(desk, live_server.url, "/map")
        for name in PAGES:
            desk.goto(f"{live_server.url}/{name}")
            if name == "map":  # its event stream never lets the network go idle
                desk.wait_for_selector("#situation[data-ready=true]")
                desk.wait_for_timeout(1500)
            else:
                desk.wait_for_load_state("networkidle")
            assert desk.locator("[data-testid=clock-time]").count() == 1, "one clock"
            assert desk.get_by_test_id("replay-badge").is_visible()
            _reads_in_chinese(desk, name)
            _shot(desk, artifacts_dir, f"room-{state}-{name}.png")
        # The event report as printed: its PDF's first pages as PNG (pdftoppm), charts and all.
        answer = desk.request.get(f"{live_server.url}/reports/events/1/report.pdf")
        assert answer.ok, f"event report: HTTP {answer.status}"
        pdf = artifacts_dir / f"room-{state}-report.pdf"
        pdf.write_bytes(answer.body())
        prefix = artifacts_dir / f"room-{state}-report"
        subprocess.run(
            ["pdftoppm", "-png", "-r", "70", "-f", "1", "-l", "2", str(pdf), str(prefix)],
            check=True,
            timeout=120,
        )
        for png in sorted(artifacts_dir.glob(f"room-{state}-report-*.png")):
            shutil.copyfile(png, DOCS_IMAGES / png.name)
    finally:
        context.close()
