"""The report pages in headless Chromium, in Chinese: the events list, an event page whose three
charts load, and confirming a hazard point's cause (a small crafted event, so it stays quick)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from report_helpers import SYSTEM, T0, build

from fangxun.db import make_engine, session_scope
from fangxun.reports import service as reports
from fangxun.reports.service import cause_label

pytestmark = pytest.mark.browser


def test_events_list_event_charts_and_cause(
    live_server: Any, page: Any, artifacts_dir: Path
) -> None:
    engine = make_engine(live_server.settings.database_url)
    with session_scope(engine) as session:
        crafted = build(session)
        [event] = reports.detect_events(
            session=session,
            settings=live_server.settings,
            actor=SYSTEM,
            now=T0 + timedelta(hours=8),
        )
        event_id = event.id

    page.goto(live_server.url + "/reports")
    page.wait_for_url("**/login?next=*")
    page.get_by_label("用户名").fill(live_server.username)
    page.get_by_label("密码").fill(live_server.password)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url("**/reports")
    rows = page.locator("[data-testid=events] tr").filter(has=page.locator("a"))
    assert rows.count() == 1
    assert "2026-07-10 降雨过程" in rows.inner_text() and "大暴雨" in rows.inner_text()

    rows.get_by_role("link").click()
    page.wait_for_url(f"**/reports/events/{event_id}")
    assert "84" in page.get_by_test_id("figures").inner_text()  # mm in all
    charts = page.locator(".charts img")
    assert charts.count() == 3
    for i in range(3):
        img = charts.nth(i)
        img.scroll_into_view_if_needed()  # lazy images load once on screen
        page.wait_for_function(
            "img => img.complete && img.naturalWidth > 0", arg=img.element_handle()
        )

    row = page.get_by_test_id("causes").locator("tr").filter(has_text="HP-PD1")
    row.locator("select[name=cause]").select_option("pump_failure")
    row.locator("input[name=evidence]").fill("配电柜进水")
    row.get_by_role("button", name="确认").click()
    page.wait_for_url(f"**/reports/events/{event_id}*")
    row = page.get_by_test_id("causes").locator("tr").filter(has_text="HP-PD1")
    assert cause_label("pump_failure") in row.inner_text()
    page.screenshot(path=str(artifacts_dir / "reports-event.png"), full_page=True)

    try:
        with session_scope(engine) as session:
            stored = reports.get_event(session=session, event_id=event_id)
            cause = reports.causes_of(session=session, event=stored)[crafted.points["PD1"]]
            assert (cause.cause, cause.evidence) == ("pump_failure", "配电柜进水")
    finally:
        engine.dispose()
