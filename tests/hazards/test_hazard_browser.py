"""In headless Chromium: a street office and the district flood-control office walk a
rectification from open to closed through the workflow page; the ledger map shows the points.

The live server and browser set-up follow tests/web/conftest.py (same Chromium, same flags); they
are repeated here because that conftest's fixtures are not visible from tests/hazards/.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from hazard_helpers import PASSWORD, seed_web_ledger

from fangxun.api.app import create_app
from fangxun.config import load_settings
from fangxun.db.migrate import upgrade

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
]
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, dict[str, int]]]:
    settings = load_settings(
        environment="test",
        database_url=f"sqlite:///{tmp_path / 'browser.db'}",
        data_dir=tmp_path / "data",
        secret_key="hazard-browser-tests-secret-key-0123456789",
        language="zh",
    )
    upgrade(settings.database_url)
    ids = seed_web_ledger(settings.database_url)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(create_app(settings), log_level="warning", access_log=False)
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not uv.started:
        assert thread.is_alive() and time.monotonic() < deadline, "live server did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}", ids
    finally:
        uv.should_exit = True
        thread.join(timeout=10)
        sock.close()


@pytest.fixture
def chromium() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} not found: install Debian's chromium package")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            browser.close()


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
    server: tuple[str, dict[str, int]], chromium: Any
) -> None:
    base, ids = server
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
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    district.screenshot(path=str(ARTIFACTS / "hazard-rectification.png"), full_page=True)
    district.goto(base + "/hazards")
    district.wait_for_selector("#hazard-map[data-ready='true']")
    assert district.locator("#hazard-map path.leaflet-interactive").count() == 2
    district.screenshot(path=str(ARTIFACTS / "hazard-ledger.png"), full_page=True)
    assert not errors, errors
