"""The approval panel in headless Chromium, in Chinese: the pending proposal with its impact text,
approved in one click (desk and phone screenshots)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from test_warning_approval_web import _proposal

pytestmark = pytest.mark.browser


def test_approve_a_forecast_proposal_in_one_click(
    live_server: Any, page: Any, browser: Any, artifacts_dir: Path
) -> None:
    _proposal(live_server.settings)
    page.set_viewport_size({"width": 1600, "height": 1000})
    page.goto(live_server.url + "/warnings")
    page.wait_for_url("**/login?next=*")
    page.get_by_label("用户名").fill(live_server.username)
    page.get_by_label("密码").fill(live_server.password)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url("**/warnings")
    panel = page.get_by_test_id("proposal")
    assert "待审批" in panel.inner_text()
    impact = panel.get_by_test_id("impact").inner_text()
    assert "雪松路下穿 预计 40 分钟后" in impact and "车辆禁止通行" in impact
    page.screenshot(path=str(artifacts_dir / "warnings-proposal-desk.png"), full_page=True)
    phone = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN")
    try:
        p2 = phone.new_page()
        p2.goto(live_server.url + "/login?next=/warnings")
        p2.get_by_label("用户名").fill(live_server.username)
        p2.get_by_label("密码").fill(live_server.password)
        p2.get_by_role("button", name="登录").click()
        p2.wait_for_url("**/warnings")
        p2.screenshot(path=str(artifacts_dir / "warnings-proposal-phone.png"), full_page=True)
    finally:
        phone.close()
    page.get_by_test_id("approve").click()
    page.wait_for_url("**/warnings")
    row = page.locator("[data-testid=active-warnings] tr[data-warning]")
    assert row.count() == 1 and "橙色" in row.inner_text()
    assert page.get_by_test_id("proposal").count() == 0
    page.screenshot(path=str(artifacts_dir / "warnings-approved-desk.png"), full_page=True)
