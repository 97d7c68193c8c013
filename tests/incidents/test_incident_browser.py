"""Reporting and dispatching an incident in headless Chromium, in Chinese."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.browser


def test_report_and_dispatch_an_incident(
    live_server: Any, page: Any, ops_seed: dict[str, int], artifacts_dir: Path
) -> None:
    page.goto(live_server.url + "/incidents")
    page.wait_for_url("**/login?next=*")
    page.get_by_label("用户名").fill(live_server.username)
    page.get_by_label("密码").fill(live_server.password)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url("**/incidents")
    assert page.locator(".mainnav a.active").inner_text().strip() == "险情处置"

    form = page.get_by_test_id("report-form")
    form.locator("select[name=unit_id]").select_option(str(ops_seed["office"]))
    form.locator("select[name=kind]").select_option("underpass_flooding")
    form.locator("select[name=severity]").select_option("major")
    form.locator("input[name=title]").fill("科学大道下穿积水约40厘米")
    form.locator("input[name=location_text]").fill("科学大道与长椿路口")
    form.get_by_role("button", name="上报").click()

    page.wait_for_url("**/incidents/*")
    assert page.get_by_test_id("status").inner_text() == "已上报"
    dispatch = page.get_by_test_id("dispatch-form")
    dispatch.locator("select[name=team_id]").select_option(str(ops_seed["team"]))
    dispatch.locator("input[name=note]").fill("带两台潜水泵")
    dispatch.get_by_role("button", name="派遣").click()

    page.wait_for_selector("[data-testid=status]:has-text('已派遣')")
    timeline = page.get_by_test_id("timeline").inner_text()
    assert "梧桐抢险队" in timeline and "带两台潜水泵" in timeline
    assert page.get_by_test_id("dispatch-form").count() == 0
    page.screenshot(path=str(artifacts_dir / "incident-dispatched.png"), full_page=True)

    page.goto(live_server.url + "/incidents")
    row = page.locator("[data-testid=open-incidents] tr[data-incident]")
    assert row.count() == 1 and "已派遣" in row.inner_text()
