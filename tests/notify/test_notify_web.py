"""The outbox viewer (通知): notifications, delivery state and acknowledgement, an acknowledge
button, jurisdiction, and the navigation entry."""

from __future__ import annotations

import re

from notify_helpers import NOW, build_world
from sqlalchemy import Engine

from fangxun.db.engine import session_factory
from fangxun.notify import service
from fangxun.org.models import Role
from web_harness import csrf_of


def test_outbox_viewer_lists_and_acknowledges(client, make_user, engine: Engine, login) -> None:
    with session_factory(engine)() as session:
        world = build_world(session)
        recipients = service.recipients_for(
            session=session, unit_id=None, hazard_point_id=world.point, at=NOW
        )
        notes = service.enqueue(
            session=session,
            event_key="warning-change:7",
            subject="积水预警 黄色 下穿隧道",
            markdown="积水 30 cm",
            recipients=recipients,
            unit_id=world.office,
        )
        session.commit()
        first = notes[0].id
    duty = make_user(Role.duty)
    login(client, duty.username, duty.password)
    page = client.get("/notifications")
    assert page.status_code == 200, page.text
    assert "通知" in page.text and "积水预警 黄色 下穿隧道" in page.text
    assert len(re.findall(r'data-testid="notification-\d+"', page.text)) == len(notes)
    assert 'href="/notifications"' in page.text  # the navigation entry
    assert "等待发送" in page.text  # pending deliveries, in Chinese
    done = client.post(
        f"/notifications/{first}/ack", data={"csrf_token": csrf_of(page)}, follow_redirects=True
    )
    assert done.status_code == 200
    row = done.text.split(f'data-testid="notification-{first}"')[1].split("</tr>")[0]
    assert "✓" in row and duty.username in row
    english = client.get("/notifications?lang=en")
    assert "Notifications" in english.text and "Acknowledged" not in english.text.split("<table")[0]


def test_outbox_viewer_respects_jurisdiction(client, make_user, engine: Engine, login) -> None:
    with session_factory(engine)() as session:
        world = build_world(session)
        service.enqueue(
            session=session,
            event_key="e",
            subject="只给一街道",
            markdown="m",
            recipients=service.recipients_for(
                session=session, unit_id=world.office, hazard_point_id=None, at=NOW
            ),
            unit_id=world.office,
        )
        session.commit()
    other = make_user(Role.unit, world.other_office)
    login(client, other.username, other.password)
    page = client.get("/notifications")
    assert page.status_code == 200 and "只给一街道" not in page.text
    # A viewer sees the outbox but no acknowledge button (only for notifications sent to them).
    client.post("/logout", data={"csrf_token": csrf_of(page)})
    viewer = make_user(Role.viewer)
    login(client, viewer.username, viewer.password)
    page = client.get("/notifications")
    assert "只给一街道" in page.text and "/ack" not in page.text
