"""Notification contact channels of the demo district, so the outbox shows several channels.

Every street office gets a WeCom (企业微信) and a DingTalk (钉钉) group robot; the district's and
the offices' people get a work e-mail channel. The robot URLs point at a local port nobody listens
on (``127.0.0.1:9``, the discard port) and the e-mail domain is reserved (RFC 2606): the demo's
sender delivers through an in-memory transport, and a real sender pointed at this database
reaches nobody.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from fangxun.demo.actor import DEMO_ACTOR
from fangxun.notify import service as notify
from fangxun.notify.models import Channel, ContactChannel
from fangxun.notify.schemas import ContactCreate
from fangxun.org.models import Person, Unit, UnitKind

#: Base of the fictitious robot webhook URLs: a local discard port, never a real service.
ROBOT_BASE: Final = "http://127.0.0.1:9/demo-robot"
#: The demo DingTalk robots' signing secret (加签), fictitious like the URLs.
DINGTALK_SECRET: Final = "SEC-demo-not-a-real-secret"
#: Unit kinds whose people get an e-mail channel (the district's office and the street offices).
EMAIL_KINDS: Final = (UnitKind.district, UnitKind.street_office)


@dataclass
class NotifySeedSummary:
    """Contact channels created and found already there."""

    created: int = 0
    existing: int = 0


def robot_url(channel: Channel, unit_code: str) -> str:
    """The fictitious webhook URL of a unit's group robot."""
    return f"{ROBOT_BASE}/{channel.value}/{unit_code.lower()}"


def _wanted(session: Session) -> list[ContactCreate]:
    out: list[ContactCreate] = []
    offices = session.scalars(
        select(Unit).where(Unit.kind == UnitKind.street_office).order_by(Unit.code)
    )
    for unit in offices:
        out.append(
            ContactCreate(
                unit_id=unit.id,
                channel=Channel.WECOM,
                address=robot_url(Channel.WECOM, unit.code),
                label=f"{unit.name_zh} 企业微信群",
            )
        )
        out.append(
            ContactCreate(
                unit_id=unit.id,
                channel=Channel.DINGTALK,
                address=robot_url(Channel.DINGTALK, unit.code),
                secret=DINGTALK_SECRET,
                label=f"{unit.name_zh} 钉钉群",
            )
        )
    people = session.scalars(
        select(Person)
        .join(Unit, Unit.id == Person.unit_id)
        .where(Unit.kind.in_(EMAIL_KINDS), Person.email.is_not(None))
        .order_by(Person.id)
    )
    for person in people:
        assert person.email is not None
        out.append(
            ContactCreate(
                person_id=person.id, channel=Channel.EMAIL, address=person.email, label="工作邮箱"
            )
        )
    return out


def seed_contacts(*, session: Session) -> NotifySeedSummary:
    """Add the demo's contact channels through the notify service (audited as the demo loader).
    Idempotent: a channel already there (same owner, channel and address) is left alone. Never
    commits."""
    summary = NotifySeedSummary()
    for spec in _wanted(session):
        found = session.scalar(
            select(ContactChannel.id).where(
                ContactChannel.person_id.is_(None)
                if spec.person_id is None
                else ContactChannel.person_id == spec.person_id,
                ContactChannel.unit_id.is_(None)
                if spec.unit_id is None
                else ContactChannel.unit_id == spec.unit_id,
                ContactChannel.channel == spec.channel,
                ContactChannel.address == spec.address,
            )
        )
        if found is not None:
            summary.existing += 1
            continue
        notify.add_contact(session=session, contact_in=spec, actor=DEMO_ACTOR)
        summary.created += 1
    return summary
