"""SMS (短信) through an HTTP gateway, behind the same outbox as the other channels.

A gateway is described by a :class:`SmsTemplate`: the body it takes (JSON or a form) with
placeholders, and where its reply says "sent", "slow down" or "never". The presets cover the
request shapes people meet: a plain JSON gateway, the ``mobile=&content=`` form of in-house
短信平台, and the SendSms bodies of Aliyun and Tencent Cloud. (The cloud providers also want
their requests signed; that is the job of the office's SMS proxy, which takes these bodies.)

Placeholders: ``{phone}`` (the contact's number), ``{text}`` (the message as plain text, with the
sign, cut to ``notify_sms_max_chars``), ``{sign}``, ``{template_id}``, ``{app_id}``,
``{template_param}`` (``{"text": ...}`` as JSON, for template-based providers) and ``{key}`` (the
delivery's idempotency key, which gateways that keep an out-id use to drop repeats).

Failures: HTTP 429 and the rate-limit codes of the reply are retried by the outbox (backoff), as
are 5xx and unknown reply codes; a refused number or template (4xx, the permanent codes) is not.

>>> from fangxun.notify.channels import OutgoingMessage
>>> from fangxun.notify.models import Channel
>>> msg = OutgoingMessage(key="k", channel=Channel.SMS, address="13800000000", subject="黄色预警",
...                       markdown="**雪松路** 积水 [详情](http://x)", recipient_name="张三")
>>> sms_text(msg, sign="防汛", max_chars=60)
'【防汛】黄色预警：雪松路 积水 详情'
>>> fill({"to": ["{phone}"], "n": "{key}"}, {"phone": "138", "key": "k"})
{'to': ['138'], 'n': 'k'}
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

import httpx

from fangxun.notify.channels import RETRYABLE_4XX, DeliveryError, OutgoingMessage


@dataclass(frozen=True)
class SmsTemplate:
    """The request shape of one kind of gateway and how to read its reply.

    ``success_path`` is a dotted path into the JSON reply (list items by index); None means any
    2xx answer is a success. A reply value in ``rate_limited`` is retried later, one in
    ``permanent`` is never retried; any other non-success value is retried.
    """

    content_type: Literal["json", "form"]
    body: Mapping[str, Any]
    success_path: str | None = None
    success: frozenset[str] = frozenset()
    rate_limited: frozenset[str] = frozenset()
    permanent: frozenset[str] = frozenset()
    headers: Mapping[str, str] = field(default_factory=dict)


PRESETS: Final[dict[str, SmsTemplate]] = {
    "generic": SmsTemplate(
        content_type="json",
        body={"phone": "{phone}", "text": "{text}", "idempotency_key": "{key}"},
    ),
    "form": SmsTemplate(
        content_type="form",
        body={"mobile": "{phone}", "content": "{text}", "msgid": "{key}"},
    ),
    # dysmsapi SendSms: {"Code": "OK", ...}.
    "aliyun": SmsTemplate(
        content_type="json",
        body={
            "PhoneNumbers": "{phone}",
            "SignName": "{sign}",
            "TemplateCode": "{template_id}",
            "TemplateParam": "{template_param}",
            "OutId": "{key}",
        },
        success_path="Code",
        success=frozenset({"OK"}),
        rate_limited=frozenset(
            {"isv.BUSINESS_LIMIT_CONTROL", "Throttling.User", "isv.DAY_LIMIT_CONTROL"}
        ),
        permanent=frozenset(
            {
                "isv.MOBILE_NUMBER_ILLEGAL",
                "isv.SMS_TEMPLATE_ILLEGAL",
                "isv.SMS_SIGNATURE_ILLEGAL",
                "isv.AMOUNT_NOT_ENOUGH",
            }
        ),
    ),
    # sms.tencentcloudapi.com SendSms: {"Response": {"SendStatusSet": [{"Code": "Ok"}]}}.
    "tencent": SmsTemplate(
        content_type="json",
        body={
            "PhoneNumberSet": ["{phone}"],
            "SmsSdkAppId": "{app_id}",
            "SignName": "{sign}",
            "TemplateId": "{template_id}",
            "TemplateParamSet": ["{text}"],
            "SessionContext": "{key}",
        },
        success_path="Response.SendStatusSet.0.Code",
        success=frozenset({"Ok"}),
        rate_limited=frozenset(
            {
                "LimitExceeded.PhoneNumberThirtySecondLimit",
                "LimitExceeded.PhoneNumberOneHourLimit",
                "LimitExceeded.PhoneNumberDailyLimit",
                "RequestLimitExceeded",
            }
        ),
        permanent=frozenset(
            {
                "InvalidParameterValue.IncorrectPhoneNumber",
                "FailedOperation.TemplateIncorrectOrUnapproved",
                "FailedOperation.SignatureIncorrectOrUnapproved",
                "FailedOperation.InsufficientBalanceInSmsPackage",
            }
        ),
    ),
}

_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")
_MARKUP = re.compile(r"[*_`#>]+")
_SPACE = re.compile(r"\s+")


def sms_text(message: OutgoingMessage, *, sign: str, max_chars: int) -> str:
    """The message as an SMS: ``【sign】subject：body`` in plain text (markdown links keep their
    text, emphasis and headings their words), the acknowledgement link last, at most
    ``max_chars`` characters (the body is cut, never the sign or the link)."""
    body = _SPACE.sub(" ", _MARKUP.sub("", _LINK.sub(r"\1", message.markdown))).strip()
    head = f"【{sign}】{message.subject}：" if sign else f"{message.subject}："
    tail = f" 回执 {message.ack_url}" if message.ack_url else ""
    room = max_chars - len(head) - len(tail)
    if len(body) > room:
        body = body[: max(0, room - 1)] + "…"
    return head + body + tail


def fill(template: Any, values: Mapping[str, str]) -> Any:
    """``template`` (dicts, lists, strings) with every ``{name}`` replaced from ``values``; an
    unknown name → :class:`KeyError` naming it (a wrong preset is a configuration error)."""
    if isinstance(template, str):
        return template.format_map(values)
    if isinstance(template, Mapping):
        return {k: fill(v, values) for k, v in template.items()}
    if isinstance(template, list):
        return [fill(v, values) for v in template]
    return template


def reply_value(body: Any, path: str) -> str | None:
    """The value at the dotted ``path`` of a JSON reply (list items by index), as text."""
    node = body
    for part in path.split("."):
        if isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            return None
    return None if node is None else str(node)


@dataclass
class SmsTransport:
    """Sends SMS through the configured gateway (one :class:`httpx.Client`)."""

    url: str | None
    template: SmsTemplate
    sign: str = "防汛"
    template_id: str = ""
    app_id: str = ""
    authorization: str | None = None
    max_chars: int = 300
    timeout_s: float = 10.0
    client: httpx.Client | None = None

    def _client(self) -> httpx.Client:
        if self.client is None:
            self.client = httpx.Client(timeout=self.timeout_s)
        return self.client

    def request(self, message: OutgoingMessage) -> tuple[dict[str, Any], dict[str, str]]:
        """The body and headers of the gateway request for ``message``."""
        text = sms_text(message, sign=self.sign, max_chars=self.max_chars)
        values = {
            "phone": message.address,
            "text": text,
            "sign": self.sign,
            "template_id": self.template_id,
            "app_id": self.app_id,
            "template_param": json.dumps({"text": text}, ensure_ascii=False),
            "key": message.key,
        }
        headers = {"Idempotency-Key": message.key, **self.template.headers}
        if self.authorization:
            headers["Authorization"] = self.authorization
        return fill(dict(self.template.body), values), headers

    def send(self, message: OutgoingMessage) -> None:
        """Send one SMS or raise :class:`DeliveryError` (``permanent`` when retrying is futile)."""
        if not self.url:
            raise DeliveryError(
                "no SMS gateway configured (FANGXUN_NOTIFY_SMS_GATEWAY_URL)", permanent=True
            )
        body, headers = self.request(message)
        try:
            if self.template.content_type == "form":
                response = self._client().post(self.url, data=body, headers=headers)
            else:
                response = self._client().post(self.url, json=body, headers=headers)
        except httpx.HTTPError as exc:
            raise DeliveryError(f"SMS gateway unreachable: {type(exc).__name__}: {exc}") from exc
        self._check(response)

    def _check(self, response: httpx.Response) -> None:
        status = response.status_code
        if status == 429:
            wait = response.headers.get("Retry-After")
            raise DeliveryError(
                "SMS gateway rate limit (HTTP 429)" + (f", retry after {wait} s" if wait else "")
            )
        if not response.is_success:
            raise DeliveryError(
                f"SMS gateway answered HTTP {status}: {response.text[:200]}",
                permanent=400 <= status < 500 and status not in RETRYABLE_4XX,
            )
        if self.template.success_path is None:
            return
        try:
            value = reply_value(response.json(), self.template.success_path)
        except ValueError as exc:
            raise DeliveryError(f"SMS gateway answered non-JSON: {response.text[:200]}") from exc
        if value in self.template.success:
            return
        if value in self.template.rate_limited:
            raise DeliveryError(f"SMS gateway rate limit: {value}")
        raise DeliveryError(
            f"SMS gateway refused the message: {value or response.text[:200]}",
            permanent=value in self.template.permanent,
        )

    def close(self) -> None:
        """Close the HTTP connections."""
        if self.client is not None:
            self.client.close()


def preset(name: str) -> SmsTemplate:
    """The preset ``name``; an unknown one → ``ValueError`` listing the presets."""
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(
            f"FANGXUN_NOTIFY_SMS_PRESET={name!r}: one of {', '.join(sorted(PRESETS))}"
        ) from None
