"""Every section's page in Chromium at 1600×1000 after the demo's storm: no page is taller than
three screens (long lists are paged), and tables use the width (no column one character wide).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import replayed_demo

from fangxun.config import Settings
from fangxun.demo.org_seed import PRIMARY_LOGIN
from fangxun.web.nav import visible_sections

pytestmark = [pytest.mark.browser, pytest.mark.slow]

VIEWPORT = {"width": 1600, "height": 1000}
#: The tallest a page may be, px: three screens.
MAX_HEIGHT_PX = 3 * VIEWPORT["height"]
#: Detail pages looked at besides the sections (the first of each list).
DETAILS = ("/reports/events/1", "/incidents/1", "/hazards/points/1")
#: Table cells narrower than this while holding text wrap one character per line, px.
MIN_CELL_PX = 28

#: Cells of visible tables whose text wraps into a column about one character wide.
NARROW_CELLS_JS = """(minPx) => {
  const out = [];
  for (const cell of document.querySelectorAll("table td, table th")) {
    const text = cell.innerText.trim();
    if (text.length < 2 || cell.offsetParent === null) continue;
    const r = cell.getBoundingClientRect();
    if (r.width < minPx && r.height > 2.5 * parseFloat(getComputedStyle(cell).lineHeight || 20)) {
      out.push(text.slice(0, 20));
    }
  }
  return out;
}"""


@pytest.fixture
def web_settings(replayed: replayed_demo.ReplayedDemo, tmp_path: Path) -> Settings:
    """The live server serves a copy of the replayed demo."""
    demo = replayed_demo.fresh_copy(replayed, tmp_path / "demo")
    return replayed_demo.settings_for(demo.db, demo.data_dir)


@pytest.fixture
def web_db(web_settings: Settings) -> str:
    """The replayed demo has its own logins: nothing to add."""
    return web_settings.database_url


def test_no_page_is_taller_than_three_screens(
    live_server: Any, page: Any, artifacts_dir: Path
) -> None:
    page.set_viewport_size(VIEWPORT)
    page.goto(live_server.url + "/login")
    page.get_by_label("用户名").fill(PRIMARY_LOGIN.username)
    page.get_by_label("密码").fill(PRIMARY_LOGIN.password)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url("**/map")
    paths = [s.path for s in visible_sections(PRIMARY_LOGIN.role.value) if s.slug != "map"]
    problems = []
    heights = {}
    for path in [*paths, *DETAILS]:
        answer = page.goto(live_server.url + path)
        if answer is None or answer.status >= 400:
            continue
        page.wait_for_load_state("networkidle")
        height = page.evaluate("() => document.documentElement.scrollHeight")
        heights[path] = height
        name = path.strip("/").replace("/", "-")
        page.screenshot(path=str(artifacts_dir / f"layout-{name}.png"), full_page=True)
        if height > MAX_HEIGHT_PX:
            problems.append(f"{path}: {height} px tall")
        narrow = page.evaluate(NARROW_CELLS_JS, MIN_CELL_PX)
        if narrow:
            problems.append(f"{path}: cells one character wide: {narrow[:5]}")
    assert len(heights) >= len(paths), f"pages not reached: {set(paths) - set(heights)}"
    assert not problems, "\n".join(problems) + f"\nheights: {heights}"
