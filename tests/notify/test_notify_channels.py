"""Channels: WeCom and DingTalk markdown payload shapes and DingTalk's signature; the webhook and
SMTP transports against local receivers (key in the Idempotency-Key header / Message-ID); robot
error codes and HTTP statuses as retryable or permanent failures."""

from __future__ import annotations

import base64
import hashlib
import hmac
import urllib.parse

import httpx
import pytest
from notify_receivers import Recorder, http_receiver, smtp_receiver

from fangxun.notify.channels import (
    WECOM_MARKDOWN_MAX_BYTES,
    DeliveryError,
    HttpTransport,
    OutgoingMessage,
    SmtpTransport,
    dingtalk_payload,
    dingtalk_signed_url,
    message_id,
    wecom_payload,
)
from fangxun.notify.models import Channel


def _msg(
    channel: Channel, address: str = "http://127.0.0.1:9/", **extra: object
) -> OutgoingMessage:
    fields: dict[str, object] = {
        "key": "fx-abc",
        "channel": channel,
        "address": address,
        "subject": "暴雨黄色预警",
        "markdown": "**一街道** 3 h 降雨 52 mm",
        "recipient_name": "一街道群",
        "ack_url": "http://fx.example/notify/ack/tok",
        "event_key": "warning-change:3",
    }
    fields.update(extra)
    return OutgoingMessage(**fields)  # type: ignore[arg-type]


def test_wecom_markdown_payload() -> None:
    body = wecom_payload(_msg(Channel.WECOM))
    assert set(body) == {"msgtype", "markdown"} and body["msgtype"] == "markdown"
    assert set(body["markdown"]) == {"content"}
    content = body["markdown"]["content"]
    assert content.startswith("### 暴雨黄色预警")
    assert "[已收到 / Acknowledge](http://fx.example/notify/ack/tok)" in content
    assert "fx-abc" in content
    long = wecom_payload(_msg(Channel.WECOM, markdown="雨" * 5000))["markdown"]["content"]
    assert len(long.encode()) <= WECOM_MARKDOWN_MAX_BYTES
    assert "Acknowledge" in long  # the link survives truncation


def test_dingtalk_markdown_payload_and_signature() -> None:
    body = dingtalk_payload(_msg(Channel.DINGTALK))
    assert body["msgtype"] == "markdown"
    assert body["markdown"]["title"] == "暴雨黄色预警"
    assert "52 mm" in body["markdown"]["text"]
    assert body["at"] == {"atMobiles": [], "isAtAll": False}
    url = dingtalk_signed_url(
        "https://oapi.dingtalk.com/robot/send?access_token=T", "SECret", timestamp_ms=1700000000000
    )
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
    assert query["access_token"] == ["T"] and query["timestamp"] == ["1700000000000"]
    expected = base64.b64encode(
        hmac.new(b"SECret", b"1700000000000\nSECret", hashlib.sha256).digest()
    ).decode()
    assert query["sign"] == [expected]


def test_webhook_and_robots_carry_the_key_to_a_local_receiver() -> None:
    recorder = Recorder()
    transport = HttpTransport(timeout_s=5)
    with http_receiver(recorder) as base:
        transport.send(_msg(Channel.WEBHOOK, f"{base}/hook"))
        transport.send(_msg(Channel.WECOM, f"{base}/wecom"))
        transport.send(_msg(Channel.DINGTALK, f"{base}/ding?access_token=T", secret="S"))
    transport.close()
    assert [k for k, _ in recorder.raw] == ["fx-abc"] * 3
    hook, wecom, ding = (b for _, b in recorder.raw)
    assert hook["json"]["idempotency_key"] == "fx-abc"
    assert hook["json"]["event_key"] == "warning-change:3"
    assert hook["json"]["ack_url"].endswith("/notify/ack/tok")
    assert wecom["json"]["msgtype"] == "markdown"
    assert "timestamp=" in ding["path"] and "sign=" in ding["path"]


def test_http_failures_are_retryable_or_permanent() -> None:
    for status, permanent in ((500, False), (503, False), (429, False), (400, True), (404, True)):
        recorder = Recorder(fail_first=1, fail_status=status)
        with http_receiver(recorder) as base, pytest.raises(DeliveryError) as err:
            HttpTransport(timeout_s=5).send(_msg(Channel.WEBHOOK, f"{base}/hook"))
        assert err.value.permanent is permanent, status
    with pytest.raises(DeliveryError, match="unreachable"):
        HttpTransport(timeout_s=1).send(_msg(Channel.WEBHOOK, "http://127.0.0.1:9/hook"))


def test_robot_error_code_is_a_failure() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"errcode": 45009, "errmsg": "api freq out of limit"})

    transport = HttpTransport(client=httpx.Client(transport=httpx.MockTransport(refuse)))
    with pytest.raises(DeliveryError, match="45009") as err:
        transport.send(_msg(Channel.WECOM, "https://qyapi.weixin.qq.com/cgi-bin/webhook/send"))
    assert not err.value.permanent


def test_email_has_a_stable_message_id() -> None:
    recorder = Recorder()
    with smtp_receiver(recorder) as port:
        smtp = SmtpTransport(host="127.0.0.1", port=port, sender="fx@example.cn")
        smtp.send(_msg(Channel.EMAIL, "duty@example.cn"))
        smtp.send(_msg(Channel.EMAIL, "duty@example.cn"))  # a repeat after a crash
    assert [k for k, _ in recorder.raw] == [message_id("fx-abc")] * 2
    assert len(recorder.accepted) == 1
    assert recorder.raw[0][1] == {"to": ["duty@example.cn"], "subject": "暴雨黄色预警"}
