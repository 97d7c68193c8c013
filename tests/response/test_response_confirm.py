"""The response page's decision form: with a level in force, that level is the default (never a
lower one), and every consequential button says what it will do before doing it; in Chromium,
dismissing the question leaves the level as it was, accepting it changes the level."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from response_helpers import seed_running_level


def _selected(page: str) -> list[str]:
    form = page[page.index('data-testid="decide"') :]
    form = form[: form.index("</form>")]
    return re.findall(r'<option value="([IV]+)" selected>', form)


def test_level_in_force_is_the_default_and_buttons_ask(
    web_client: TestClient, web_db: str, login: Any
) -> None:
    assert login(web_client).status_code == 303
    quiet = web_client.get("/response").text
    assert _selected(quiet) == []  # nothing in force: the lowest level first, nothing forced
    seed_running_level(web_db)  # level IV by rule
    page = web_client.get("/response")
    assert _selected(page.text) == ["IV"]
    assert 'data-confirm="确定将应急响应调整为：{level}？"' in page.text
    assert 'data-confirm="确定终止Ⅳ级应急响应？"' in page.text
    assert "/static/js/confirm.js" in page.text
    assert web_client.get("/static/js/confirm.js").status_code == 200

    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    raised = web_client.post(
        "/response/level", data={"csrf_token": token.group(1), "level": "II", "reason": "会商"}
    )
    assert raised.status_code == 303
    after = web_client.get("/response").text
    assert _selected(after) == ["II"]  # never IV (lower) as the default next to II in force


@pytest.mark.browser
def test_dismissed_question_changes_nothing(live_server: Any, page: Any, web_db: str) -> None:
    seed_running_level(web_db)
    page.goto(live_server.url + "/response")
    page.wait_for_url("**/login?next=*")
    page.get_by_label("用户名").fill(live_server.username)
    page.get_by_label("密码").fill(live_server.password)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url("**/response")
    asked: list[str] = []

    def dismiss(dialog: Any) -> None:
        asked.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", dismiss)
    form = page.get_by_test_id("decide")
    form.locator("select[name=level]").select_option("II")
    form.locator("input[name=reason]").fill("会商决定")
    form.get_by_role("button").click()
    page.wait_for_timeout(300)
    assert asked == ["确定将应急响应调整为：Ⅱ级应急响应？"]
    assert "Ⅳ级应急响应" in page.get_by_test_id("level").inner_text()

    page.remove_listener("dialog", dismiss)
    page.once("dialog", lambda d: d.accept())
    form.get_by_role("button").click()
    page.wait_for_url("**/response")
    page.get_by_test_id("level").filter(has_text="Ⅱ级应急响应").wait_for()
