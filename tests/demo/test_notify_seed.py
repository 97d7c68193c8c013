"""The demo district's contact channels: robots per street office, e-mail for people, through
the notify service; the recipients of a street office's hazard point span several channels."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from fangxun.config import Settings
from fangxun.db.types import utcnow
from fangxun.demo import load_demo
from fangxun.demo.files import TerrainFiles
from fangxun.demo.notify_seed import ROBOT_BASE, seed_contacts
from fangxun.hazards.models import HazardPoint
from fangxun.notify import service as notify
from fangxun.notify.models import Channel, ContactChannel
from fangxun.org.models import Unit, UnitKind


@pytest.fixture
def demo_settings(settings: Settings, terrain_files: TerrainFiles) -> Settings:
    return settings.model_copy(update={"data_dir": terrain_files.directory.parent})


def test_demo_contacts_span_several_channels(db_session: Session, demo_settings: Settings) -> None:
    summary = load_demo(session=db_session, settings=demo_settings)
    offices = list(db_session.scalars(select(Unit).where(Unit.kind == UnitKind.street_office)))
    assert len(offices) == 5
    contacts = list(db_session.scalars(select(ContactChannel)))
    assert summary.contacts is not None and summary.contacts.created == len(contacts)
    for office in offices:
        robots = {c.channel for c in contacts if c.unit_id == office.id}
        assert robots == {Channel.WECOM, Channel.DINGTALK}, office.code
    robots = [c for c in contacts if c.unit_id is not None]
    assert all(c.address.startswith(ROBOT_BASE) for c in robots), "never a real robot"
    assert all(c.secret for c in robots if c.channel is Channel.DINGTALK)
    emails = [c for c in contacts if c.channel is Channel.EMAIL]
    assert emails and all(c.person_id is not None for c in emails)
    assert all(c.address.endswith(".example.com") for c in emails)

    again = seed_contacts(session=db_session)
    assert (again.created, again.existing) == (0, len(contacts))

    point = db_session.scalars(
        select(HazardPoint)
        .join(Unit, Unit.id == HazardPoint.unit_id)
        .where(Unit.kind == UnitKind.street_office)
        .order_by(HazardPoint.id)
    ).first()
    assert point is not None
    found = notify.recipients_for(
        session=db_session, unit_id=None, hazard_point_id=point.id, at=utcnow()
    )
    assert {r.channel for r in found} >= {Channel.WECOM, Channel.DINGTALK, Channel.EMAIL}
