"""Notification services: recipients from the point, the unit and the roster; the outbox is
idempotent per (event, recipient); the sender delivers through the in-memory twin, retries with
backoff and gives up; acknowledgement by API and by link; escalation to the leader on duty, once."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from notify_helpers import NOW, World, build_world
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from fangxun.audit.models import AuditEntry
from fangxun.config import Settings, load_settings
from fangxun.db.engine import session_factory
from fangxun.errors import NotFoundError, PermissionDeniedError, ValidationFailed
from fangxun.notify import sender, service
from fangxun.notify.channels import MemoryTransport
from fangxun.notify.models import Channel, Delivery, DeliveryStatus, Notification
from fangxun.org.models import Role, User

SECRET = "notify-test-secret-0123456789abcdef0123"


@pytest.fixture
def world(db_session: Session) -> World:
    return build_world(db_session)


def _settings(database_url: str, **extra: object) -> Settings:
    return load_settings(
        environment="test",
        database_url=database_url,
        secret_key=SECRET,
        notify_backoff_jitter=0.0,
        **extra,
    )


def _enqueue(session: Session, world: World, key: str = "warning-change:1") -> list[Notification]:
    recipients = service.recipients_for(
        session=session, unit_id=None, hazard_point_id=world.point, at=NOW
    )
    return service.enqueue(
        session=session,
        event_key=key,
        subject="积水预警 黄色",
        markdown="**下穿隧道** 积水 30 cm",
        recipients=recipients,
        unit_id=world.office,
    )


def test_recipients_come_from_point_unit_and_roster(db_session: Session, world: World) -> None:
    found = service.recipients_for(
        session=db_session, unit_id=None, hazard_point_id=world.point, at=NOW
    )
    got = {(r.role, r.channel, r.address) for r in found}
    assert got == {
        ("responsible", Channel.EMAIL, "resp@example.cn"),
        ("deputy", Channel.WEBHOOK, "http://127.0.0.1:9/hook"),
        ("unit_contact", Channel.WECOM, "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k"),
        ("duty", Channel.EMAIL, "member@example.cn"),
        ("duty", Channel.EMAIL, "leader@example.cn"),
    }
    # Off shift nobody from the roster is told.
    later = service.recipients_for(
        session=db_session, unit_id=world.office, hazard_point_id=None, at=NOW + timedelta(days=2)
    )
    assert {r.role for r in later} == {"unit_contact"}
    with pytest.raises(ValidationFailed, match="hazard point 999"):
        service.recipients_for(session=db_session, unit_id=None, hazard_point_id=999, at=NOW)


def test_enqueue_is_idempotent_per_event_and_recipient(db_session: Session, world: World) -> None:
    first = _enqueue(db_session, world)
    db_session.commit()
    again = _enqueue(db_session, world)
    db_session.commit()
    assert [n.id for n in again] == [n.id for n in first]
    assert db_session.scalar(select(func.count()).select_from(Notification)) == 5
    assert db_session.scalar(select(func.count()).select_from(Delivery)) == 5
    keys = {d.idempotency_key for n in first for d in n.deliveries}
    assert len(keys) == 5
    assert {n.id for n in service.unacknowledged(session=db_session, actor=None)} == {
        n.id for n in first
    }
    # A new event is new notifications.
    _enqueue(db_session, world, key="warning-change:2")
    assert db_session.scalar(select(func.count()).select_from(Notification)) == 10


def test_sender_delivers_retries_with_backoff_and_gives_up(
    engine: Engine, database_url: str, db_session: Session, world: World
) -> None:
    _enqueue(db_session, world)
    db_session.commit()
    settings = _settings(database_url, notify_max_attempts=3, notify_backoff_base_s=10.0)
    factory = session_factory(engine)
    ok = MemoryTransport()
    flaky = MemoryTransport(fail_next=10)
    transports = {Channel.EMAIL: ok, Channel.WECOM: ok, Channel.WEBHOOK: flaky}
    start = max(d.next_attempt_at for d in db_session.scalars(select(Delivery)))
    clock = {"now": start}

    def run() -> sender.PassReport:
        return sender.run_pass(
            factory=factory,
            transports=transports,
            settings=settings,
            worker="t",
            clock=lambda: clock["now"],
            rng=random.Random(1),
        )

    report = run()
    assert (report.sent, report.retried, report.dead) == (4, 1, 0)
    assert {m.address for m in ok.sent} >= {"resp@example.cn", "leader@example.cn"}
    assert all(m.ack_url and "/notify/ack/" in m.ack_url for m in ok.sent)
    webhook = db_session.scalar(
        select(Delivery).join(Notification).where(Notification.channel == Channel.WEBHOOK)
    )
    assert webhook is not None
    db_session.refresh(webhook)
    assert webhook.status is DeliveryStatus.retry and webhook.attempts == 1
    assert webhook.next_attempt_at == start + timedelta(seconds=10)  # base, no jitter
    # Not yet due: nothing happens.
    clock["now"] = start + timedelta(seconds=9)
    assert run().claimed == 0
    clock["now"] = start + timedelta(seconds=10)
    assert run().retried == 1
    db_session.refresh(webhook)
    assert webhook.next_attempt_at == clock["now"] + timedelta(seconds=20)  # doubled
    clock["now"] += timedelta(seconds=20)
    assert run().dead == 1
    db_session.refresh(webhook)
    assert webhook.status is DeliveryStatus.dead and webhook.attempts == 3
    assert "told to fail" in (webhook.last_error or "")
    assert len(ok.sent) == 4 and flaky.sent == []


def test_backoff_is_capped_and_jittered() -> None:
    s = load_settings(
        database_url="sqlite://",
        notify_backoff_base_s=30.0,
        notify_backoff_max_s=100.0,
        notify_backoff_jitter=0.5,
    )
    rng = random.Random(3)
    delays = [sender.backoff_s(n, s, rng) for n in range(1, 8)]
    assert 30.0 <= delays[0] <= 45.0 and 60.0 <= delays[1] <= 90.0
    assert all(100.0 <= d <= 150.0 for d in delays[2:])


def _leader_notifications(session: Session) -> list[Notification]:
    return list(
        session.scalars(select(Notification).where(Notification.role == service.LEADER_ROLE))
    )


def test_unacknowledged_escalates_to_leader_on_duty_exactly_once(
    db_session: Session, world: World
) -> None:
    sent = _enqueue(db_session, world)
    db_session.commit()
    # Someone acknowledges; the others stay silent.
    service.acknowledge(session=db_session, notification_id=sent[0].id, actor=None)
    base = sent[0].created_at
    assert (
        service.escalate_overdue(
            session=db_session, now=base + timedelta(minutes=14), default_after_s=900
        )
        == []
    )
    created = service.escalate_overdue(
        session=db_session, now=base + timedelta(minutes=16), default_after_s=900
    )
    db_session.commit()
    assert [(n.address, n.event_key) for n in created] == [
        ("leader@example.cn", "escalation:warning-change:1")
    ]
    assert "未确认" in created[0].markdown and created[0].subject.startswith("【升级】")
    # Again, and later: no second escalation.
    for minutes in (17, 60):
        assert (
            service.escalate_overdue(
                session=db_session, now=base + timedelta(minutes=minutes), default_after_s=900
            )
            == []
        )
    assert len(_leader_notifications(db_session)) == 1
    notes = {n.escalation_note for n in db_session.scalars(select(Notification))}
    assert "escalated to 带班领导" in notes


def test_escalation_goes_up_to_the_district_leader_when_the_unit_has_none(
    db_session: Session, world: World
) -> None:
    outsider = service.Recipient(
        None, "外部", Channel.WEBHOOK, "http://127.0.0.1:9/x", "unit_contact"
    )
    recipients = [
        *service.recipients_for(
            session=db_session, unit_id=world.other_office, hazard_point_id=None, at=NOW
        ),
        outsider,
    ]
    service.enqueue(
        session=db_session,
        event_key="warning-change:9",
        subject="s",
        markdown="m",
        recipients=recipients,
        unit_id=world.other_office,
        escalate_after_s=60,
    )
    created = service.escalate_overdue(
        session=db_session, now=datetime.now(UTC) + timedelta(minutes=2)
    )
    assert [n.address for n in created] == ["dleader@example.cn"]


def test_ack_by_api_role_and_jurisdiction(client, make_user, engine: Engine, world: World) -> None:
    with session_factory(engine)() as session:
        notes = _enqueue(session, world)
        session.commit()
        ids = [n.id for n in notes]
    office_user = make_user(Role.unit, world.office)
    other_user = make_user(Role.unit, world.other_office)
    viewer = make_user(Role.viewer)
    # Jurisdiction: the other office sees nothing and may not acknowledge (404, not 403).
    assert client.get("/api/v1/notifications", headers=other_user.headers(client)).json() == []
    r = client.post(f"/api/v1/notifications/{ids[0]}/ack", headers=other_user.headers(client))
    assert r.status_code == 404, r.text
    r = client.post(f"/api/v1/notifications/{ids[0]}/ack", headers=viewer.headers(client))
    assert r.status_code == 403, r.text
    listed = client.get(
        "/api/v1/notifications?unacknowledged=true", headers=office_user.headers(client)
    ).json()
    assert {n["id"] for n in listed} == set(ids)
    r = client.post(f"/api/v1/notifications/{ids[0]}/ack", headers=office_user.headers(client))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["ack_via"] == "api" and body["acknowledged_by"] == office_user.username
    assert body["deliveries"][0]["status"] == "pending"
    again = client.post(f"/api/v1/notifications/{ids[0]}/ack", headers=office_user.headers(client))
    assert again.json()["acknowledged_at"] == body["acknowledged_at"]
    with session_factory(engine)() as session:
        audited = session.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.object_type == "notify_notification")
        )
        assert audited == 1


def test_ack_by_link(client, engine: Engine, settings: Settings, world: World) -> None:
    with session_factory(engine)() as session:
        note = _enqueue(session, world)[0]
        session.commit()
    url = service.ack_url(
        public_url="http://testserver",
        secret_key=settings.effective_secret_key,
        notification_id=note.id,
    )
    path = url.removeprefix("http://testserver")
    page = client.get(path)
    assert page.status_code == 200 and 'data-testid="ack-button"' in page.text
    # GET never acknowledges (link previews fetch URLs).
    with session_factory(engine)() as session:
        assert session.get(Notification, note.id).acknowledged_at is None  # type: ignore[union-attr]
    token = page.text.split('name="csrf_token" value="')[1].split('"')[0]
    done = client.post(path, data={"csrf_token": token})
    assert done.status_code == 200 and 'data-testid="acknowledged"' in done.text
    with session_factory(engine)() as session:
        acked = session.get(Notification, note.id)
        assert acked is not None and acked.ack_via == "link"
        assert acked.acknowledged_by == f"link:{acked.recipient_name}"
    # A forged token is refused.
    assert client.get(path[:-3] + "xyz").status_code == 404
    # Without the CSRF token the POST is refused.
    assert client.post(path, data={}).status_code == 403


def test_ack_link_expires(db_session: Session, world: World) -> None:
    note = _enqueue(db_session, world)[0]
    token = service.ack_token(secret_key=SECRET, notification_id=note.id)
    with pytest.raises(ValidationFailed, match="expired"):
        service.acknowledge_by_token(
            session=db_session, token=token, secret_key=SECRET, max_age_s=-1
        )
    with pytest.raises(NotFoundError):
        service.acknowledge_by_token(
            session=db_session, token=token, secret_key="another-key", max_age_s=60
        )


def test_own_notification_may_be_acknowledged_by_any_role(
    db_session: Session, world: World
) -> None:
    note = _enqueue(db_session, world)[0]
    viewer = User(username="v", password_hash="x", role=Role.viewer, person_id=None)
    viewer.is_active = True
    with pytest.raises(PermissionDeniedError):
        service.acknowledge(session=db_session, notification_id=note.id, actor=viewer)
    viewer.person_id = note.person_id
    service.acknowledge(session=db_session, notification_id=note.id, actor=viewer)
    assert note.acknowledged_at is not None


def test_contacts_api(client, make_user, world: World) -> None:
    admin = make_user(Role.district)
    other = make_user(Role.unit, world.other_office)
    r = client.post(
        "/api/v1/notify/contacts",
        json={
            "unit_id": world.office,
            "channel": "dingtalk",
            "address": "https://oapi.dingtalk.com/robot/send?access_token=t",
            "secret": "SECx",
        },
        headers=admin.headers(client),
    )
    assert r.status_code == 201, r.text
    assert "secret" not in r.json()
    bad = client.post(
        "/api/v1/notify/contacts",
        json={"person_id": world.member, "channel": "email", "address": "not-an-address"},
        headers=admin.headers(client),
    )
    assert bad.status_code == 422 and "e-mail" in bad.text
    outside = client.post(
        "/api/v1/notify/contacts",
        json={"unit_id": world.office, "channel": "webhook", "address": "https://x.example/h"},
        headers=other.headers(client),
    )
    assert outside.status_code == 422, outside.text
    seen = client.get("/api/v1/notify/contacts", headers=other.headers(client)).json()
    assert seen == []
    r2 = client.delete(f"/api/v1/notify/contacts/{r.json()['id']}", headers=other.headers(client))
    assert r2.status_code == 404


def test_dingtalk_secret_reaches_the_transport_but_not_the_outbox(
    engine: Engine, database_url: str, db_session: Session, world: World
) -> None:
    from fangxun.notify.models import ContactChannel

    url = "https://oapi.dingtalk.com/robot/send?access_token=T"
    db_session.add(
        ContactChannel(
            unit_id=world.other_office, channel=Channel.DINGTALK, address=url, secret="S"
        )
    )
    db_session.commit()
    recipients = service.recipients_for(
        session=db_session, unit_id=world.other_office, hazard_point_id=None, at=NOW
    )
    assert [(r.channel, r.secret) for r in recipients] == [(Channel.DINGTALK, "S")]
    service.enqueue(
        session=db_session,
        event_key="e-ding",
        subject="s",
        markdown="m",
        recipients=recipients,
        unit_id=world.other_office,
        requires_ack=False,
    )
    db_session.commit()
    memory = MemoryTransport()
    start = db_session.scalars(select(Delivery)).one().next_attempt_at
    sender.run_pass(
        factory=session_factory(engine),
        transports={Channel.DINGTALK: memory},
        settings=_settings(database_url),
        clock=lambda: start,
    )
    assert [(m.secret, m.ack_url) for m in memory.sent] == [("S", None)]
