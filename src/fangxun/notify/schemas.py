"""Wire shapes of notifications and contact channels; times ISO 8601 with an offset."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from fangxun.notify.models import Channel, DeliveryStatus

Address = Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=500)]


#: A mainland mobile number, optionally with the country code: what an SMS contact's address is.
PHONE_RE = re.compile(r"(\+?86)?1[3-9]\d{9}")


class ContactCreate(BaseModel):
    """A contact channel of a person or of a unit (exactly one of ``person_id`` / ``unit_id``).

    ``address`` is an e-mail address for ``email``, a mobile number for ``sms`` and an http(s)
    URL for the others (a group
    robot's webhook URL for ``wecom`` / ``dingtalk``); ``secret`` is DingTalk's signing secret.
    """

    model_config = ConfigDict(extra="forbid")

    person_id: int | None = Field(default=None, ge=1)
    unit_id: int | None = Field(default=None, ge=1)
    channel: Channel
    address: Address
    secret: str | None = Field(default=None, max_length=200)
    label: str | None = Field(default=None, max_length=100)
    active: bool = True

    @model_validator(mode="after")
    def _check(self) -> ContactCreate:
        if (self.person_id is None) == (self.unit_id is None):
            raise ValueError("name exactly one of person_id and unit_id")
        if self.channel is Channel.EMAIL:
            local, _, domain = self.address.partition("@")
            if not local or "." not in domain:
                raise ValueError(f"address: {self.address!r} is not an e-mail address")
        elif self.channel is Channel.SMS:
            if not PHONE_RE.fullmatch(self.address):
                raise ValueError(
                    f"address: {self.address!r} is not a mobile number (11 digits, 1…, "
                    "optionally +86)"
                )
        elif not self.address.startswith(("http://", "https://")):
            raise ValueError(f"address: a {self.channel.value} address is an http(s) URL")
        if self.secret is not None and self.channel is not Channel.DINGTALK:
            raise ValueError("secret: only DingTalk robots have a signing secret")
        return self


class ContactRead(BaseModel):
    """A contact channel as served (the DingTalk secret is never served back)."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    person_id: int | None
    unit_id: int | None
    channel: Channel
    address: str
    label: str | None
    active: bool


class DeliveryRead(BaseModel):
    """The outbox state of one notification's delivery."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    idempotency_key: str
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime
    sent_at: datetime | None
    last_error: str | None


class NotificationRead(BaseModel):
    """A notification, its acknowledgement and escalation, and its deliveries."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    event_key: str
    unit_id: int | None
    person_id: int | None
    recipient_name: str
    role: str
    channel: Channel
    address: str
    subject: str
    markdown: str
    requires_ack: bool
    escalate_after_s: float | None
    created_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    ack_via: str | None
    escalated_at: datetime | None
    escalation_note: str | None
    deliveries: list[DeliveryRead]


class AckWarningIn(BaseModel):
    """Acknowledge all open notifications about one warning."""

    model_config = ConfigDict(extra="forbid")
    warning_id: int = Field(ge=1)
