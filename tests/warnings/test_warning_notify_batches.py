"""Fewer messages: one message per recipient per change batch (not one per point), one
acknowledgement for it, acknowledging all of one warning at once, and the daily cap's digest."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from warn_helpers import World, observe, run

from fangxun.config import Settings
from fangxun.db.types import utcnow
from fangxun.errors import PermissionDeniedError
from fangxun.notify import service as notify
from fangxun.notify.models import Notification
from fangxun.org.models import Person, Role, User
from fangxun.warnings.config import WarningRules

T0 = datetime(2026, 7, 20, 8, 0, tzinfo=UTC)


def _settings(settings: Settings, **kw: object) -> Settings:
    rules = WarningRules(enabled=["ponding"], min_hold_s=0)
    return settings.model_copy(update={"warning_rules": rules, **kw})


def _patroller(session: Session, world: World) -> Person:
    """One person responsible for both points (of two street offices)."""
    person = Person(name="巡查员", unit_id=world.district, email="patrol@example.cn")
    session.add(person)
    session.flush()
    world.point_a.responsible_person_id = person.id
    world.point_b.responsible_person_id = person.id
    session.flush()
    return person


def _to(session: Session, address: str) -> list[Notification]:
    return list(
        session.scalars(
            select(Notification).where(Notification.address == address).order_by(Notification.id)
        )
    )


def test_one_message_per_recipient_per_batch_with_one_acknowledgement(
    db_session: Session, settings: Settings, world: World
) -> None:
    s = _settings(settings)
    _patroller(db_session, world)
    observe(db_session, world.depth_a, [(T0, 0.43)])
    observe(db_session, world.depth_b, [(T0, 0.20)])
    changes = run(db_session, s, T0)
    assert len(changes) == 2
    wa, wb = (c.warning for c in sorted(changes, key=lambda c: c.warning.subject))
    # The patroller is told of both points in ONE message, which needs one acknowledgement.
    mine = _to(db_session, "patrol@example.cn")
    assert len(mine) == 1 and mine[0].requires_ack
    assert mine[0].event_key.startswith("warning-batch:")
    assert {r.ref for r in mine[0].refs} == {f"warning:{wa.id}", f"warning:{wb.id}"}
    assert "【预警 2 项" in mine[0].subject and "最高橙色" in mine[0].subject
    # In words: where, how deep, what to do; no datastream ids in the text people read.
    assert "PA 下穿 现积水约 45 厘米，车辆禁止通行" in mine[0].markdown
    assert "PB 下穿 现积水约 20 厘米，车辆减速慢行" in mine[0].markdown
    assert "SA-ponding_depth" not in mine[0].markdown
    # Each office's robot hears of its own point only.
    robot_a = _to(db_session, f"https://robot.example/{world.office_a}")
    assert [(n.event_key, [r.ref for r in n.refs]) for n in robot_a] == [
        (f"warning-change:{wa.changes[0].id}", [f"warning:{wa.id}"])
    ]
    # Before this change one message went per change and recipient: 4; now 3.
    assert len(db_session.scalars(select(Notification)).all()) == 3


def test_acknowledge_all_of_one_warning(
    db_session: Session, settings: Settings, world: World
) -> None:
    s = _settings(settings)
    _patroller(db_session, world)
    observe(db_session, world.depth_a, [(T0, 0.43)])
    observe(db_session, world.depth_b, [(T0, 0.20)])
    changes = run(db_session, s, T0)
    wa = next(c.warning for c in changes if c.warning.hazard_point_id == world.point_a.id)
    viewer = User(username="v", password_hash="x", role=Role.viewer)
    duty = User(username="d", password_hash="x", role=Role.duty)
    db_session.add_all([viewer, duty])
    db_session.flush()
    with pytest.raises(PermissionDeniedError):
        notify.acknowledge_all(session=db_session, ref=f"warning:{wa.id}", actor=viewer)
    done = notify.acknowledge_all(session=db_session, ref=f"warning:{wa.id}", actor=duty)
    assert {n.address for n in done} == {
        "patrol@example.cn",
        f"https://robot.example/{world.office_a}",
    }
    still_open = notify.list_notifications(
        session=db_session,
        actor=duty,
        where=notify.NotificationFilter(unacknowledged=True),
    )
    assert [n.address for n in still_open] == [f"https://robot.example/{world.office_b}"]
    # The filters page through the same rows.
    where = notify.NotificationFilter(ref=f"warning:{wa.id}")
    assert notify.count_notifications(session=db_session, actor=duty, where=where) == 2
    page2 = notify.list_notifications(
        session=db_session, actor=duty, where=where, limit=1, offset=1
    )
    assert len(page2) == 1


def test_daily_cap_holds_informational_messages_for_a_digest(
    db_session: Session, settings: Settings, world: World
) -> None:
    s = _settings(settings, notify_daily_cap=1, notify_digest_every_s=3600.0)
    _patroller(db_session, world)
    observe(db_session, world.depth_a, [(T0, 0.43)])
    run(db_session, s, T0)  # issue: needs acknowledgement, goes out (1 today)
    observe(db_session, world.depth_a, [(T0 + timedelta(minutes=5), 0.20)])
    run(db_session, s, T0 + timedelta(minutes=5))  # downgrade: informs, over the cap → held
    observe(db_session, world.depth_a, [(T0 + timedelta(minutes=10), 0.45)])
    run(db_session, s, T0 + timedelta(minutes=10))  # upgrade: needs ack, never held
    mine = _to(db_session, "patrol@example.cn")
    assert [(n.requires_ack, n.held, len(n.deliveries)) for n in mine] == [
        (True, False, 1),
        (False, True, 0),
        (True, False, 1),
    ]
    now = utcnow()
    assert notify.send_digests(session=db_session, now=now, every_s=3600.0) == []  # too soon
    digests = notify.send_digests(
        session=db_session, now=now + timedelta(hours=1, seconds=1), every_s=3600.0
    )
    # One digest per address with held messages (the office robot was over its cap too).
    by = {d.address: d for d in digests}
    assert set(by) == {"patrol@example.cn", f"https://robot.example/{world.office_a}"}
    digest = by["patrol@example.cn"]
    assert "汇总" in digest.subject and "降级" in digest.markdown
    assert len(digest.deliveries) == 1 and not digest.held
    assert mine[1].digested_at is not None
    assert (
        notify.send_digests(session=db_session, now=now + timedelta(hours=3), every_s=3600.0) == []
    )
