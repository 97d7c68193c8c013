"""A department confirms its checklist task on the response board in headless Chromium (HTMX:
the board is swapped in place, the page does not navigate)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from response_helpers import seed_running_level

pytestmark = pytest.mark.browser


def test_department_confirms_a_task_with_htmx(
    live_server: Any, page: Any, web_db: str, artifacts_dir: Path
) -> None:
    _org, tasks = seed_running_level(web_db)
    page.goto(live_server.url + "/response")
    page.wait_for_url("**/login?next=*")
    page.get_by_label("用户名").fill("cgj1")
    page.get_by_label("密码").fill("correct-horse-battery")
    page.get_by_role("button", name="登录").click()
    page.wait_for_url("**/response")
    assert "Ⅳ级应急响应" in page.get_by_test_id("level").inner_text()
    card = page.locator(f"[data-task='{tasks['调度排水车辆到低洼点']}']")
    assert card.get_attribute("data-status") == "pending"
    card.locator("input[name=note]").fill("3 辆排水车已出发")
    card.get_by_role("button", name="确认", exact=True).click()
    confirmed = page.locator(
        f"[data-task='{tasks['调度排水车辆到低洼点']}'][data-status=confirmed]"
    )
    confirmed.wait_for()
    text = confirmed.inner_text()
    assert "确认人 cgj1" in text and "3 辆排水车已出发" in text
    assert page.url.endswith("/response")
    assert page.locator("[data-task]").count() == 1  # only the department's own task
    assert "转移低洼住户" in page.get_by_test_id("plan").inner_text()  # the whole plan in force
    page.screenshot(path=str(artifacts_dir / "response-board.png"), full_page=True)
