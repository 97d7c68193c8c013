"""In headless Chromium: a street office and the district flood-control office walk a
rectification from open to closed through the workflow page; the ledger map shows the points.

The live server and Chromium come from the shared harness (tests/web_harness.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hazard_helpers import PASSWORD, seed_web_ledger

from web_harness import LiveServer

pytestmark = pytest.mark.browser


@pytest.fixture
def ledger_ids(web_db: str) -> dict[str, int]:
    """The two-office ledger of :func:`seed_web_ledger` in the live server's database."""
    return seed_web_ledger(web_db)


def _page_as(browser: Any, base: str, username: str, errors: list[str]) -> Any:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.on("pageerror", lambda exc: errors.append(f"JavaScript error: {exc}"))
    page.goto(base + "/login")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url("**/map")
    return page


def _move(page: Any, action: str, comment: str, expected: str) -> None:
    form = page.locator(f"form.move[data-action='{action}']")
    form.locator("textarea").fill(comment)
    form.locator("button").click()
    page.wait_for_selector(f"[data-testid='rect-status'][data-status='{expected}']")


def test_walk_a_rectification_from_open_to_closed(
    ledger_ids: dict[str, int], live_server: LiveServer, browser: Any, artifacts_dir: Path
) -> None:
    base, ids, chromium = live_server.url, ledger_ids, browser
    errors: list[str] = []
    url = f"{base}/hazards/rectifications/{ids['wutong_rect']}"

    office = _page_as(chromium, base, "wutong", errors)
    office.goto(base + "/hazards")
    office.wait_for_selector("#hazard-map[data-ready='true']")
    # The office sees its own point on the map (one marker, coloured for an open problem).
    assert office.locator("#hazard-map path.leaflet-interactive").count() == 1
    office.get_by_role("link", name="梧桐低洼路段").click()
    office.get_by_role("link", name="梧桐篦子堵塞").click()
    office.wait_for_url(url)
    assert office.get_by_test_id("rect-status").get_attribute("data-status") == "open"
    # The office may not verify; it starts and submits.
    assert office.locator("form.move[data-action='verify']").count() == 0
    _move(office, "start", "已安排施工队清掏", "in_progress")
    _move(office, "submit", "清掏完成，申请验收", "submitted")
    assert office.locator("form.move").count() == 0

    district = _page_as(chromium, base, "fxdistrict", errors)
    district.goto(url)
    _move(district, "reject", "复核仍有淤积，退回", "rejected")
    office.goto(url)
    _move(office, "resume", "重新清掏", "in_progress")
    _move(office, "submit", "已彻底清掏", "submitted")
    district.goto(url)
    _move(district, "verify", "现场验收合格", "verified")
    _move(district, "close", "销号", "closed")
    history = district.get_by_test_id("rect-history").inner_text()
    for comment in ("已安排施工队清掏", "复核仍有淤积，退回", "现场验收合格", "销号"):
        assert comment in history
    assert district.locator("form.move").count() == 0
    district.screenshot(path=str(artifacts_dir / "hazard-rectification.png"), full_page=True)
    district.goto(base + "/hazards")
    district.wait_for_selector("#hazard-map[data-ready='true']")
    assert district.locator("#hazard-map path.leaflet-interactive").count() == 2
    district.screenshot(path=str(artifacts_dir / "hazard-ledger.png"), full_page=True)
    # The one map (一张图) shows the same points in its hazard layer.
    district.goto(base + "/map")
    district.wait_for_selector("#map[data-ready='true']")
    assert district.locator("#map path.leaflet-interactive").count() == 2
    assert not errors, errors
