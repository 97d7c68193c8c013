"""Channels: how one message reaches one address. A small interface (:class:`Transport`), the
real transports (generic JSON webhook, WeCom group robot, DingTalk robot, e-mail over SMTP, SMS
through an HTTP gateway in :mod:`fangxun.notify.sms`) and an
in-memory twin for unit tests (:class:`MemoryTransport`).

Every transport carries the delivery's stable idempotency key so that a message sent twice (a
sender that crashed after sending and before recording) is recognised by the receiver:

* webhook: the ``Idempotency-Key`` header (and ``idempotency_key`` in the JSON body);
* e-mail: ``Message-ID: <key@fangxun>``, the standard handle mail clients dedupe by;
* WeCom and DingTalk robots accept no key: a crash in that narrow window can repeat a group
  message. The key is printed in the message's last line so people can see it is a repeat.

Payload shapes (tested in ``tests/notify/test_notify_channels.py``)::

    >>> msg = OutgoingMessage(key="k1", channel=Channel.WECOM, address="https://x", subject="S",
    ...                       markdown="**m**", recipient_name="张三")
    >>> wecom_payload(msg)["msgtype"], sorted(dingtalk_payload(msg)["markdown"])
    ('markdown', ['text', 'title'])
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import smtplib
import time
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any, Protocol

import httpx

from fangxun.config import Settings
from fangxun.notify.markdown import escape as md
from fangxun.notify.models import Channel

logger = logging.getLogger(__name__)

#: WeCom robots refuse markdown content longer than this, bytes of UTF-8.
WECOM_MARKDOWN_MAX_BYTES = 4096
#: DingTalk robots accept about 20 000 bytes; stay well below, bytes of UTF-8.
DINGTALK_MARKDOWN_MAX_BYTES = 18_000
#: HTTP statuses that mean "try again later" even though they are 4xx.
RETRYABLE_4XX = frozenset({408, 409, 425, 429})


class DeliveryError(Exception):
    """A send failed. ``permanent`` failures are not retried (the address or payload is refused)."""

    def __init__(self, detail: str, *, permanent: bool = False) -> None:
        super().__init__(detail)
        self.permanent = permanent


@dataclass(frozen=True)
class OutgoingMessage:
    """One message to one address, as the sender hands it to a transport."""

    key: str  # the delivery's idempotency key
    channel: Channel
    address: str
    subject: str
    markdown: str
    recipient_name: str
    secret: str | None = None  # DingTalk signing secret
    ack_url: str | None = None
    event_key: str = ""
    notification_id: int | None = None
    role: str = ""
    created_at: datetime | None = None


class Transport(Protocol):
    """Sends one message or raises :class:`DeliveryError`."""

    def send(self, message: OutgoingMessage) -> None: ...


# --- payloads (pure) ---------------------------------------------------------------------------


def _truncate_utf8(text: str, limit: int) -> str:
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    cut = data[: limit - len("…".encode())].decode("utf-8", errors="ignore")
    return cut + "…"


def robot_markdown(message: OutgoingMessage, *, limit: int) -> str:
    """The markdown a group robot posts: title, body, acknowledgement link, key; ``limit`` bytes."""
    tail = ""
    if message.ack_url:
        tail += f"\n\n[已收到 / Acknowledge]({message.ack_url})"
    tail += f'\n\n<font color="comment">{md(message.recipient_name)} · {md(message.key)}</font>'
    head = f"### {md(message.subject)}\n\n"
    body = _truncate_utf8(message.markdown, limit - len((head + tail).encode("utf-8")))
    return head + body + tail


def wecom_payload(message: OutgoingMessage) -> dict[str, Any]:
    """The WeCom group-robot body: ``{"msgtype": "markdown", "markdown": {"content": ...}}``
    (content ≤ 4096 bytes of UTF-8)."""
    return {
        "msgtype": "markdown",
        "markdown": {"content": robot_markdown(message, limit=WECOM_MARKDOWN_MAX_BYTES)},
    }


def dingtalk_payload(message: OutgoingMessage) -> dict[str, Any]:
    """The DingTalk custom-robot body: ``{"msgtype": "markdown", "markdown": {"title", "text"},
    "at": {...}}``; ``title`` is what the chat list shows."""
    return {
        "msgtype": "markdown",
        "markdown": {
            "title": message.subject[:64],
            "text": robot_markdown(message, limit=DINGTALK_MARKDOWN_MAX_BYTES),
        },
        "at": {"atMobiles": [], "isAtAll": False},
    }


def dingtalk_signed_url(url: str, secret: str, *, timestamp_ms: int | None = None) -> str:
    """``url`` with DingTalk's signature (加签): ``timestamp`` (ms) and ``sign`` =
    URL-encoded base64 of HMAC-SHA256 over ``"{timestamp}\\n{secret}"`` keyed by ``secret``.

    >>> dingtalk_signed_url("https://oapi.dingtalk.com/robot/send?access_token=t", "s",
    ...                     timestamp_ms=1).split("&")[1]
    'timestamp=1'
    """
    ts = str(timestamp_ms if timestamp_ms is not None else round(time.time() * 1000))
    digest = hmac.new(secret.encode(), f"{ts}\n{secret}".encode(), hashlib.sha256).digest()
    sign = urllib.parse.quote_plus(base64.b64encode(digest).decode())
    joiner = "&" if "?" in url else "?"
    return f"{url}{joiner}timestamp={ts}&sign={sign}"


def webhook_payload(message: OutgoingMessage) -> dict[str, Any]:
    """The generic webhook's JSON body."""
    return {
        "idempotency_key": message.key,
        "event_key": message.event_key,
        "notification_id": message.notification_id,
        "subject": message.subject,
        "markdown": message.markdown,
        "recipient": {"name": message.recipient_name, "role": message.role},
        "ack_url": message.ack_url,
        "created_at": message.created_at.isoformat() if message.created_at else None,
    }


def message_id(key: str) -> str:
    """The e-mail ``Message-ID`` of a delivery: the same for every attempt (RFC 5322 msg-id)."""
    return f"<{key}@fangxun>"


def email_message(message: OutgoingMessage, *, sender: str, now: datetime) -> EmailMessage:
    """The e-mail of a delivery: plain text (markdown reads well as text), stable Message-ID."""
    mail = EmailMessage()
    mail["Subject"] = message.subject
    mail["From"] = sender
    mail["To"] = message.address
    mail["Date"] = format_datetime(now)
    mail["Message-ID"] = message_id(message.key)
    mail["X-Fangxun-Event"] = message.event_key
    body = message.markdown
    if message.ack_url:
        body += f"\n\n已收到 / Acknowledge: {message.ack_url}\n"
    mail.set_content(body)
    return mail


# --- transports --------------------------------------------------------------------------------


def _check_http(response: httpx.Response, what: str) -> None:
    if response.is_success:
        return
    status = response.status_code
    detail = f"{what} answered HTTP {status}: {response.text[:200]}"
    raise DeliveryError(detail, permanent=400 <= status < 500 and status not in RETRYABLE_4XX)


def _check_robot(response: httpx.Response, what: str) -> None:
    """Robots answer HTTP 200 with ``{"errcode": 0}``; any other errcode is a failure (retried:
    the common ones are rate limits)."""
    _check_http(response, what)
    try:
        body = response.json()
    except ValueError as exc:
        raise DeliveryError(f"{what} answered non-JSON: {response.text[:200]}") from exc
    if not isinstance(body, dict) or body.get("errcode", 0) != 0:
        raise DeliveryError(f"{what} refused the message: {str(body)[:200]}")


@dataclass
class HttpTransport:
    """Webhook, WeCom and DingTalk over one :class:`httpx.Client`."""

    timeout_s: float = 10.0
    client: httpx.Client | None = None

    def _client(self) -> httpx.Client:
        if self.client is None:
            self.client = httpx.Client(timeout=self.timeout_s)
        return self.client

    def send(self, message: OutgoingMessage) -> None:
        headers = {"Idempotency-Key": message.key}
        url = message.address
        if message.channel is Channel.WEBHOOK:
            payload, check, what = webhook_payload(message), _check_http, "webhook"
        elif message.channel is Channel.WECOM:
            payload, check, what = wecom_payload(message), _check_robot, "WeCom robot"
        elif message.channel is Channel.DINGTALK:
            payload, check, what = dingtalk_payload(message), _check_robot, "DingTalk robot"
            if message.secret:
                url = dingtalk_signed_url(url, message.secret)
        else:
            raise DeliveryError(f"HTTP transport cannot send {message.channel}", permanent=True)
        try:
            response = self._client().post(url, json=payload, headers=headers)
        except httpx.HTTPError as exc:
            raise DeliveryError(f"{what} unreachable: {type(exc).__name__}: {exc}") from exc
        check(response, what)

    def close(self) -> None:
        """Close the HTTP connections."""
        if self.client is not None:
            self.client.close()


@dataclass
class SmtpTransport:
    """E-mail over SMTP (stdlib ``smtplib``), one connection per message."""

    host: str
    port: int
    sender: str
    username: str | None = None
    password: str | None = None
    starttls: bool = False
    timeout_s: float = 10.0

    def send(self, message: OutgoingMessage) -> None:
        from fangxun.db.types import utcnow

        mail = email_message(message, sender=self.sender, now=utcnow())
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout_s) as smtp:
                if self.starttls:
                    smtp.starttls()
                if self.username:
                    smtp.login(self.username, self.password or "")
                smtp.send_message(mail)
        except smtplib.SMTPRecipientsRefused as exc:
            raise DeliveryError(f"SMTP refused {message.address}: {exc}", permanent=True) from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"SMTP {self.host}:{self.port}: {exc}") from exc


@dataclass
class MemoryTransport:
    """The in-memory twin: records every message; ``fail_next`` failures are raised first."""

    sent: list[OutgoingMessage] = field(default_factory=list)
    fail_next: int = 0
    permanent: bool = False

    def send(self, message: OutgoingMessage) -> None:
        if self.fail_next > 0:
            self.fail_next -= 1
            raise DeliveryError("memory transport told to fail", permanent=self.permanent)
        self.sent.append(message)


def build_transports(settings: Settings) -> dict[Channel, Transport]:
    """The real transports for every channel, configured from ``settings``."""
    http = HttpTransport(timeout_s=settings.notify_http_timeout_s)
    smtp = SmtpTransport(
        host=settings.notify_smtp_host,
        port=settings.notify_smtp_port,
        sender=settings.notify_smtp_from,
        username=settings.notify_smtp_username,
        password=settings.notify_smtp_password,
        starttls=settings.notify_smtp_starttls,
        timeout_s=settings.notify_http_timeout_s,
    )
    from fangxun.notify.sms import SmsTransport, preset  # sms builds on this module

    sms = SmsTransport(
        url=settings.notify_sms_gateway_url,
        template=preset(settings.notify_sms_preset),
        sign=settings.notify_sms_sign,
        template_id=settings.notify_sms_template_id,
        app_id=settings.notify_sms_app_id,
        authorization=settings.notify_sms_authorization,
        max_chars=settings.notify_sms_max_chars,
        timeout_s=settings.notify_http_timeout_s,
    )
    return {
        Channel.WEBHOOK: http,
        Channel.WECOM: http,
        Channel.DINGTALK: http,
        Channel.EMAIL: smtp,
        Channel.SMS: sms,
    }


def close_transports(transports: Mapping[Channel, Transport]) -> None:
    """Release connections held by the transports."""
    for transport in {id(t): t for t in transports.values()}.values():
        close = getattr(transport, "close", None)
        if callable(close):
            close()
