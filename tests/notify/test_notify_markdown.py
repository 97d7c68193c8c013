"""Markdown injection (issue 20, item 8): names and reasons interpolated into robot markdown
arrive as plain text. Rendered with a CommonMark parser, a value never makes a link, a heading,
emphasis, code, an image or HTML."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from fangxun.notify import service as notify_service
from fangxun.notify.channels import (
    DINGTALK_MARKDOWN_MAX_BYTES,
    WECOM_MARKDOWN_MAX_BYTES,
    OutgoingMessage,
    dingtalk_payload,
    wecom_payload,
)
from fangxun.notify.markdown import escape
from fangxun.notify.models import Channel, Notification
from fangxun.warnings import flows
from fangxun.warnings.models import ChangeType, Colour, Warning, WarningChange, WarningKind

LINK = "[点此确认](http://evil.example/ack)"
HEADING = "### x"
MD = MarkdownIt("commonmark").enable(["table", "strikethrough"])


def html(markdown: str) -> str:
    return MD.render(markdown)


@given(st.text(max_size=60))
def test_an_escaped_value_is_one_line_of_plain_text(text: str) -> None:
    out = html("前缀 " + escape(text))
    tags = set(re.findall(r"</?([a-z0-9]+)", out))
    assert tags == {"p"}, out
    assert out.count("<p>") == 1


def _message() -> tuple[str, str]:
    warning = Warning(
        subject=LINK,
        kind=WarningKind.ponding,
        colour=Colour.red,
        place=f"{LINK}\n{HEADING}",
    )
    change = WarningChange(
        warning=warning,
        change_type=ChangeType.issue,
        to_colour=Colour.red,
        at=datetime(2026, 7, 20, 8, tzinfo=UTC),
        actor="张三",
        reason=f"值班员确认 {LINK}\n\n{HEADING} **加粗** <b>b</b>",
        evidence={},
        cap_identifier="cap-1",
    )
    return flows.message(warning, change)


def _assert_inert(markdown: str) -> None:
    out = html(markdown)
    assert "evil.example" in out  # the text arrives, as text
    assert "<a " not in out
    assert "<strong>" not in out and "<b>" not in out
    assert "<h3>x</h3>" not in out
    assert out.count("<h3>") == 1  # the message's own title only


def test_warning_message_arrives_inert_on_every_robot() -> None:
    subject, markdown = _message()
    _assert_inert(markdown)
    msg = OutgoingMessage(
        key="k",
        channel=Channel.WECOM,
        address="https://qyapi.example/robot",
        subject=subject,
        markdown=markdown,
        recipient_name=LINK,
        ack_url="https://fangxun.example/ack/abc",
    )
    wecom = wecom_payload(msg)["markdown"]["content"]
    ding = dingtalk_payload(msg)["markdown"]["text"]
    assert len(wecom.encode()) <= WECOM_MARKDOWN_MAX_BYTES
    assert len(ding.encode()) <= DINGTALK_MARKDOWN_MAX_BYTES
    for text in (wecom, ding):
        out = html(text)
        assert "evil.example" in out
        # Only the acknowledgement link is a link; the title heading is the robot's own.
        assert re.findall(r'<a href="([^"]*)"', out) == ["https://fangxun.example/ack/abc"]
        assert "<h3>x</h3>" not in out


def test_escalation_message_arrives_inert() -> None:
    subject, markdown = _message()
    overdue = [
        Notification(
            subject=subject,
            markdown=markdown,
            recipient_name=f"{LINK} {HEADING}",
            role="**leader**",
        )
    ]
    out = html(notify_service._escalation_markdown("warning-change:1", overdue, 600.0))
    assert "<a " not in out and "<h3>x</h3>" not in out
    assert "<strong>leader</strong>" not in out
