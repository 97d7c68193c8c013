"""Issuing and lifting a warning in headless Chromium, in Chinese, through the confirmation step."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.browser


def test_issue_confirm_and_lift_a_warning(live_server: Any, page: Any, artifacts_dir: Path) -> None:
    page.goto(live_server.url + "/warnings")
    page.wait_for_url("**/login?next=*")
    page.get_by_label("用户名").fill(live_server.username)
    page.get_by_label("密码").fill(live_server.password)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url("**/warnings")
    assert page.locator(".mainnav a.active").inner_text().strip().startswith("预警")

    form = page.get_by_test_id("issue-form")
    form.locator("select[name=kind]").select_option("rainstorm")
    form.locator("select[name=colour]").select_option("yellow")
    form.locator("textarea[name=reason]").fill("市气象台发布暴雨黄色预警信号")
    form.get_by_role("button", name="下一步：确认").click()

    page.wait_for_selector("[data-testid=warning-confirm]")
    assert "市气象台发布暴雨黄色预警信号" in page.get_by_test_id("warning-confirm").inner_text()
    page.get_by_test_id("confirm").click()
    page.wait_for_url("**/warnings")
    row = page.locator("[data-testid=active-warnings] tr[data-warning]")
    assert row.count() == 1 and "黄色" in row.inner_text() and "暴雨" in row.inner_text()
    assert page.get_by_test_id("cap-link").count() == 1
    page.screenshot(path=str(artifacts_dir / "warnings-issued.png"), full_page=True)

    row.locator("input[name=reason]").fill("雨势减弱")
    row.get_by_role("button", name="解除").click()
    page.wait_for_selector("[data-testid=warning-confirm]")
    page.get_by_test_id("confirm").click()
    page.wait_for_url("**/warnings")
    page.wait_for_selector("[data-testid=no-warnings]")
    assert "雨势减弱" in page.get_by_test_id("warning-history").inner_text()
