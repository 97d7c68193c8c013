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


def test_filters_paging_and_acknowledging_all_of_a_warning(
    client, make_user, engine: Engine, login
) -> None:
    with session_factory(engine)() as session:
        world = build_world(session)
        recipients = service.recipients_for(
            session=session, unit_id=None, hazard_point_id=world.point, at=NOW
        )
        for k in range(3):
            service.enqueue(
                session=session,
                event_key=f"warning-change:{k + 1}",
                subject=f"积水预警 第{k + 1}条",
                markdown="积水",
                recipients=recipients,
                unit_id=world.office,
                refs=[f"warning:{17 if k < 2 else 18}"],
            )
        session.commit()
    duty = make_user(Role.duty)
    login(client, duty.username, duty.password)
    every = client.get("/notifications")
    total = len(re.findall(r'data-testid="notification-\d+"', every.text))
    assert total == 3 * len(recipients)
    about_17 = client.get("/notifications?warning=17&unacknowledged=1")
    rows = re.findall(r'data-testid="notification-\d+"', about_17.text)
    assert len(rows) == 2 * len(recipients) and "第3条" not in about_17.text
    assert 'data-testid="ack-warning"' in about_17.text
    done = client.post(
        "/notifications/ack-warning",
        data={"csrf_token": csrf_of(about_17), "warning_id": "17"},
        follow_redirects=True,
    )
    assert done.status_code == 200
    after = client.get("/notifications?warning=17&unacknowledged=1").text
    assert re.findall(r'data-testid="notification-\d+"', after) == []
    still = client.get("/notifications?unacknowledged=1")
    assert len(re.findall(r'data-testid="notification-\d+"', still.text)) == len(recipients)
    # Mine: the duty user is no recipient (no person): nothing.
    mine = client.get("/notifications?mine=1")
    assert re.findall(r'data-testid="notification-\d+"', mine.text) == []
    # Paging: 50 a page; page 2 of 3·n rows is empty here, and says so.
    assert "1 / 1" in every.text
