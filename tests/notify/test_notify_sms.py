"""SMS (短信) through an HTTP gateway: the presets' request shapes reach a fake gateway on
loopback; its rate limits (HTTP 429, the providers' limit codes) and failure replies become
retries or permanent failures; through the outbox, a rate-limited SMS goes out on the retry and
only once."""

from __future__ import annotations

import json
import random
import threading
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from notify_helpers import NOW, build_world
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from fangxun.config import load_settings
from fangxun.db.engine import session_factory
from fangxun.notify import sender, service
from fangxun.notify.channels import DeliveryError, OutgoingMessage, build_transports
from fangxun.notify.models import Channel, ContactChannel, Delivery, DeliveryStatus, Notification
from fangxun.notify.schemas import ContactCreate
from fangxun.notify.sms import PRESETS, SmsTransport, preset, sms_text

SECRET = "notify-test-secret-0123456789abcdef0123"


@dataclass
class Gateway:
    """A fake SMS gateway: records each request; answers from ``replies`` in turn (status, JSON
    body, headers), then 200 with ``ok_body``."""

    requests: list[dict[str, Any]] = field(default_factory=list)
    replies: list[tuple[int, Any, dict[str, str]]] = field(default_factory=list)
    ok_body: Any = field(default_factory=lambda: {"code": 0})
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, request: dict[str, Any]) -> tuple[int, Any, dict[str, str]]:
        with self.lock:
            self.requests.append(request)
            return self.replies.pop(0) if self.replies else (200, self.ok_body, {})


@contextmanager
def fake_gateway(gateway: Gateway) -> Iterator[str]:
    """Serve ``gateway`` on 127.0.0.1 (a free port); yield its URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            kind = self.headers.get("Content-Type", "")
            if kind.startswith("application/x-www-form-urlencoded"):
                body: Any = dict(urllib.parse.parse_qsl(raw.decode()))
            else:
                body = json.loads(raw or b"{}")
            status, reply, headers = gateway.answer(
                {"path": self.path, "headers": dict(self.headers), "body": body}
            )
            data = json.dumps(reply).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *_args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/sms"
    finally:
        server.shutdown()
        server.server_close()


def _message(key: str = "delivery-1") -> OutgoingMessage:
    return OutgoingMessage(
        key=key,
        channel=Channel.SMS,
        address="13800000000",
        subject="积水预警 黄色",
        markdown="**下穿隧道** 积水 30 cm，请立即封闭。",
        recipient_name="张三",
        ack_url="http://127.0.0.1:8000/notify/ack/t",
    )


def _transport(url: str, name: str, **extra: Any) -> SmsTransport:
    return SmsTransport(url=url, template=preset(name), template_id="SMS_1", app_id="140", **extra)


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_each_preset_reaches_the_gateway_in_its_shape(name: str) -> None:
    ok = {
        "generic": {"code": 0},
        "form": {"code": 0},
        "aliyun": {"Code": "OK", "BizId": "1"},
        "tencent": {"Response": {"SendStatusSet": [{"Code": "Ok"}]}},
    }[name]
    gateway = Gateway(ok_body=ok)
    with fake_gateway(gateway) as url:
        _transport(url, name, authorization="Bearer t").send(_message())
    (request,) = gateway.requests
    body = request["body"]
    text = sms_text(_message(), sign="防汛", max_chars=300)
    assert text.startswith("【防汛】积水预警 黄色：下穿隧道 积水 30 cm")
    assert text.endswith("回执 http://127.0.0.1:8000/notify/ack/t")
    assert request["headers"]["Idempotency-Key"] == "delivery-1"
    assert request["headers"]["Authorization"] == "Bearer t"
    if name == "generic":
        assert body == {"phone": "13800000000", "text": text, "idempotency_key": "delivery-1"}
    elif name == "form":
        assert body == {"mobile": "13800000000", "content": text, "msgid": "delivery-1"}
    elif name == "aliyun":
        assert body["PhoneNumbers"] == "13800000000" and body["SignName"] == "防汛"
        assert body["TemplateCode"] == "SMS_1" and body["OutId"] == "delivery-1"
        assert json.loads(body["TemplateParam"]) == {"text": text}
    else:
        assert body["PhoneNumberSet"] == ["13800000000"] and body["SmsSdkAppId"] == "140"
        assert body["TemplateParamSet"] == [text] and body["SessionContext"] == "delivery-1"


@pytest.mark.parametrize(
    ("name", "reply", "permanent", "words"),
    [
        ("generic", (429, {"error": "slow down"}, {"Retry-After": "30"}), False, "retry after 30"),
        ("generic", (503, {"error": "busy"}, {}), False, "HTTP 503"),
        ("generic", (400, {"error": "bad number"}, {}), True, "HTTP 400"),
        ("aliyun", (200, {"Code": "isv.BUSINESS_LIMIT_CONTROL"}, {}), False, "rate limit"),
        ("aliyun", (200, {"Code": "isv.MOBILE_NUMBER_ILLEGAL"}, {}), True, "MOBILE_NUMBER"),
        ("aliyun", (200, {"Code": "isp.SYSTEM_ERROR"}, {}), False, "SYSTEM_ERROR"),
        (
            "tencent",
            (
                200,
                {
                    "Response": {
                        "SendStatusSet": [{"Code": "LimitExceeded.PhoneNumberOneHourLimit"}]
                    }
                },
                {},
            ),
            False,
            "rate limit",
        ),
        (
            "tencent",
            (200, {"Response": {"Error": {"Code": "AuthFailure.SignatureFailure"}}}, {}),
            False,
            "refused",
        ),
    ],
)
def test_rate_limits_and_failure_replies(
    name: str, reply: tuple[int, Any, dict[str, str]], permanent: bool, words: str
) -> None:
    gateway = Gateway(replies=[reply])
    with fake_gateway(gateway) as url, pytest.raises(DeliveryError) as caught:
        _transport(url, name).send(_message())
    assert caught.value.permanent is permanent
    assert words in str(caught.value)


def test_no_gateway_is_a_permanent_failure_that_says_what_to_set() -> None:
    with pytest.raises(DeliveryError, match="NOTIFY_SMS_GATEWAY_URL") as caught:
        SmsTransport(url=None, template=preset("generic")).send(_message())
    assert caught.value.permanent


def test_an_unknown_preset_is_named() -> None:
    with pytest.raises(ValueError, match="aliyun, form, generic, tencent"):
        preset("yunpian")


def test_a_long_message_is_cut_but_keeps_the_sign_and_the_link() -> None:
    message = _message()
    long = OutgoingMessage(**{**message.__dict__, "markdown": "积水" * 400})
    text = sms_text(long, sign="防汛", max_chars=120)
    assert len(text) == 120
    assert text.startswith("【防汛】") and text.endswith("/notify/ack/t")
    assert "…" in text


@pytest.mark.parametrize("address", ["13800000000", "+8613912345678"])
def test_an_sms_contact_is_a_mobile_number(address: str) -> None:
    assert ContactCreate(person_id=1, channel=Channel.SMS, address=address).address == address


@pytest.mark.parametrize("address", ["12345", "https://sms.example", "1380000000a"])
def test_an_sms_contact_that_is_not_a_number_is_refused(address: str) -> None:
    with pytest.raises(ValueError, match="mobile number"):
        ContactCreate(person_id=1, channel=Channel.SMS, address=address)


def test_through_the_outbox_a_rate_limited_sms_goes_out_on_the_retry_once(
    engine: Engine, database_url: str, db_session: Session
) -> None:
    world = build_world(db_session)
    db_session.add(
        ContactChannel(person_id=world.responsible, channel=Channel.SMS, address="13800000000")
    )
    db_session.commit()
    recipients = service.recipients_for(
        session=db_session, unit_id=None, hazard_point_id=world.point, at=NOW
    )
    service.enqueue(
        session=db_session,
        event_key="warning-change:sms",
        subject="积水预警 黄色",
        markdown="**下穿隧道** 积水 30 cm",
        recipients=[r for r in recipients if r.channel is Channel.SMS],
        unit_id=world.office,
    )
    db_session.commit()
    gateway = Gateway(replies=[(429, {"error": "slow down"}, {"Retry-After": "10"})])
    with fake_gateway(gateway) as url:
        settings = load_settings(
            environment="test",
            database_url=database_url,
            secret_key=SECRET,
            notify_backoff_jitter=0.0,
            notify_backoff_base_s=10.0,
            notify_sms_gateway_url=url,
        )
        transports = build_transports(settings)
        start = db_session.scalars(select(Delivery)).one().next_attempt_at
        clock = {"now": start}

        def run() -> sender.PassReport:
            return sender.run_pass(
                factory=session_factory(engine),
                transports=transports,
                settings=settings,
                worker="t",
                clock=lambda: clock["now"],
                rng=random.Random(1),
            )

        assert run().retried == 1
        clock["now"] = start + timedelta(seconds=10)
        assert run().sent == 1
        assert run().claimed == 0
    delivery = db_session.scalar(
        select(Delivery).join(Notification).where(Notification.channel == Channel.SMS)
    )
    assert delivery is not None
    db_session.refresh(delivery)
    assert delivery.status is DeliveryStatus.sent and delivery.attempts == 2
    assert [r["body"]["phone"] for r in gateway.requests] == ["13800000000", "13800000000"]
    # Both tries carry the same key: a gateway that keeps out-ids drops the repeat.
    keys = {r["headers"]["Idempotency-Key"] for r in gateway.requests}
    assert len(keys) == 1
