"""Warning rules other than rain, the manual lifecycle with its audit, CAP 1.2 output against the
OASIS schema, notifications and response in the same transaction, and jurisdiction."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from lxml import etree
from sqlalchemy import select
from sqlalchemy.orm import Session
from warn_helpers import SYSTEM, World, observe, run

from fangxun.audit.models import AuditEntry
from fangxun.config import Settings
from fangxun.errors import ConflictError, NotFoundError, PermissionDeniedError, ValidationFailed
from fangxun.forecast.models import ForecastPointResult, ForecastRun, RainSource, RunStatus
from fangxun.monitoring.models import MonitoringAlarm
from fangxun.notify.models import Notification
from fangxun.org.models import Role, User
from fangxun.response.models import LevelChange
from fangxun.warnings import cap, service
from fangxun.warnings.config import WarningRules
from fangxun.warnings.models import ChangeType, Colour, Origin, WarningKind, WarningStatus
from fangxun.warnings.schemas import WarningChangeIn, WarningIssue, WarningLiftIn

T0 = datetime(2026, 7, 20, 8, 0, tzinfo=UTC)
XSD = etree.XMLSchema(etree.parse("/work/shared/reference/cap/CAP-v1.2.xsd"))
NS = {"cap": cap.CAP_NS}


def _rules(settings: Settings, **kw: object) -> Settings:
    return settings.model_copy(update={"warning_rules": WarningRules(**kw)})  # type: ignore[arg-type]


def _user(session: Session, role: Role, unit_id: int | None = None, name: str = "u") -> User:
    user = User(username=f"{name}-{role.value}", password_hash="x", role=role, unit_id=unit_id)
    session.add(user)
    session.flush()
    return user


def _xml(text: str | None) -> etree._Element:
    assert text is not None
    doc = etree.fromstring(text.encode("utf-8"))
    XSD.assertValid(doc)  # the shared reference schema, not the package's copy
    return doc


# --- rules -------------------------------------------------------------------------------------


def test_ponding_rule_follows_the_points_thresholds_and_ignores_stale_or_flagged_values(
    db_session: Session, settings: Settings, world: World
) -> None:
    s = _rules(settings, enabled=["ponding"])
    observe(db_session, world.depth_a, [(T0, 0.42)])
    observe(db_session, world.depth_b, [(T0, 0.30)], flags=1)  # flagged: not used
    changes = run(db_session, s, T0)
    assert [(c.warning.subject, c.to_colour) for c in changes] == [
        (f"ponding:{world.point_a.id}", Colour.orange)
    ]
    w = changes[0].warning
    assert w.unit_id == world.office_a and w.evidence is not None
    assert w.evidence["depth_m"] == pytest.approx(0.42)
    # The sensor goes silent: nothing changes, however long.
    assert run(db_session, s, T0 + timedelta(hours=5)) == []
    assert w.status is WarningStatus.active


def test_river_pump_and_stale_rules(db_session: Session, settings: Settings, world: World) -> None:
    s = _rules(settings, enabled=["river_level", "pump_failure", "stale_sensor"], min_hold_s=0)
    observe(db_session, world.river, [(T0, 92.3)])
    observe(db_session, world.power, [(T0, 0.0)])
    db_session.add(
        MonitoringAlarm(
            station_id=world.depth_b.station_id,
            kind="stale",
            message="station SB silent",
            raised_at=T0,
        )
    )
    got = {c.warning.kind: c.to_colour for c in run(db_session, s, T0)}
    assert got == {
        WarningKind.river_level: Colour.orange,  # above the warning level (92 m)
        WarningKind.pump_failure: Colour.orange,
        WarningKind.stale_sensor: Colour.blue,
    }
    t1 = T0 + timedelta(minutes=5)
    observe(db_session, world.river, [(t1, 93.05)])
    assert [(c.change_type, c.to_colour) for c in run(db_session, s, t1)] == [
        (ChangeType.upgrade, Colour.red)  # above the guarantee level (93 m)
    ]
    t2 = t1 + timedelta(minutes=5)
    observe(db_session, world.river, [(t2, 91.5)])
    observe(db_session, world.power, [(t2, 1.0)])
    for alarm in db_session.scalars(select(MonitoringAlarm)):
        alarm.cleared_at = t2
    changes = run(db_session, s, t2)
    assert sorted(c.change_type.value for c in changes) == ["lift", "lift", "lift"]


def _forecast(db_session: Session, world: World, *, members: int, prob: float) -> ForecastRun:
    fr = ForecastRun(
        status=RunStatus.done,
        rain_source=RainSource.design,
        params={},
        members=members,
        horizon_s=3 * 3600,
        created_by="t",
        issued_at=T0,
        finished_at=T0,
    )
    db_session.add(fr)
    db_session.flush()
    thr = {"blue": 0.15, "yellow": 0.27, "orange": 0.40, "red": 0.50}
    db_session.add(
        ForecastPointResult(
            run_id=fr.id,
            point_id=world.point_a.id,
            row=0,
            col=0,
            times_s=[0, 3600],
            depth_m=[0, 0.3],
            peak_depth_m=0.3,
            peak_time_s=3600,
            time_to_threshold_s={"blue": 1800.0, "yellow": 3000.0, "orange": None, "red": None},
            probability={"blue": 0.9, "yellow": prob, "orange": 0.0, "red": 0.0},
            member_peaks_m=[0.3] * members,
            thresholds_m=thr,
        )
    )
    db_session.flush()
    return fr


@pytest.mark.parametrize(("prob", "colour"), [(0.8, "yellow"), (0.2, "blue")])
def test_predicted_ponding_needs_the_probability_and_lead_time(
    db_session: Session, settings: Settings, world: World, prob: float, colour: str
) -> None:
    _forecast(db_session, world, members=20, prob=prob)
    auto = ["blue", "yellow", "orange", "red"]  # approval is tested in test_warning_approval
    s = _rules(
        settings,
        enabled=["predicted_ponding"],
        predicted_min_probability=0.5,
        approval_auto_colours=auto,
    )
    changes = run(db_session, s, T0)
    assert [(c.warning.kind, c.to_colour) for c in changes] == [
        (WarningKind.predicted_ponding, Colour(colour))
    ]
    short = _rules(
        settings, enabled=["predicted_ponding"], predicted_lead_s=600, approval_auto_colours=auto
    )
    changes[0].warning.status = WarningStatus.lifted  # start afresh with a short lead time
    db_session.flush()
    assert run(db_session, short, T0) == []  # 30 min to blue is beyond a 10 min lead


# --- lifecycle, CAP, flows ---------------------------------------------------------------------


def test_rule_changes_carry_valid_cap_alerts_that_reference_each_other(
    db_session: Session, settings: Settings, world: World
) -> None:
    s = _rules(settings, enabled=["ponding"], min_hold_s=600)
    observe(db_session, world.depth_a, [(T0, 0.2)])
    issue = run(db_session, s, T0)[0]
    t1 = T0 + timedelta(minutes=5)
    observe(db_session, world.depth_a, [(t1, 0.45)])
    upgrade = run(db_session, s, t1)[0]
    t2 = t1 + timedelta(minutes=5)
    observe(db_session, world.depth_a, [(t2, 0.0)])
    assert run(db_session, s, t2) == []  # held: 5 min < 10 min
    t3 = t1 + timedelta(minutes=10)
    observe(db_session, world.depth_a, [(t3, 0.0)])
    lift = run(db_session, s, t3)[0]
    assert [issue.change_type, upgrade.change_type, lift.change_type] == [
        ChangeType.issue,
        ChangeType.upgrade,
        ChangeType.lift,
    ]
    docs = [_xml(c.cap_xml) for c in (issue, upgrade, lift)]
    assert [d.findtext("cap:msgType", namespaces=NS) for d in docs] == ["Alert", "Update", "Cancel"]
    assert docs[0].findtext("cap:sent", namespaces=NS) == "2026-07-20T16:00:00+08:00"
    assert docs[0].find("cap:references", namespaces=NS) is None
    for doc, prev in ((docs[1], issue), (docs[2], upgrade)):
        _sender, ident, sent = doc.findtext("cap:references", namespaces=NS).split(",")
        assert ident == prev.cap_identifier and sent.endswith("+08:00")
    langs = [i.findtext("cap:language", namespaces=NS) for i in docs[1].iterfind("cap:info", NS)]
    assert langs == ["zh-CN", "en"]
    assert docs[1].findtext("cap:info/cap:severity", namespaces=NS) == "Severe"  # orange
    polygon = docs[0].findtext("cap:info/cap:area/cap:polygon", namespaces=NS)
    pts = polygon.split()
    assert pts[0] == pts[-1] and len(pts) == 5 and pts[0].startswith("34.799000,113.539000")
    # Notifications queued in the same transaction, once per recipient and change.
    keys = {n.event_key for n in db_session.scalars(select(Notification))}
    assert {f"warning-change:{c.id}" for c in (issue, upgrade, lift)} <= keys
    acks = {n.event_key: n.requires_ack for n in db_session.scalars(select(Notification))}
    assert acks[f"warning-change:{issue.id}"] and not acks[f"warning-change:{lift.id}"]


def test_rainstorm_signal_drives_the_response_level(
    db_session: Session, settings: Settings, world: World
) -> None:
    s = _rules(settings, enabled=["rainstorm"])
    observe(db_session, world.rain, [(T0 - timedelta(minutes=5 * k), 0.0012) for k in range(60)])
    changes = run(db_session, s, T0)  # 72 mm in 5 h: yellow
    assert [c.to_colour for c in changes] == [Colour.yellow]
    assert service.rainstorm_signal(session=db_session) is Colour.yellow
    proposals = list(db_session.scalars(select(LevelChange)))
    assert [(p.to_level.value if p.to_level else None, p.source_ref) for p in proposals] == [
        ("IV", f"warning-change:{changes[0].id}")
    ]
    doc = _xml(changes[0].cap_xml)
    assert doc.findtext("cap:info/cap:area/cap:circle", namespaces=NS)  # district circle


def test_manual_issue_change_lift_with_reason_and_audit(
    db_session: Session, settings: Settings, world: World
) -> None:
    duty = _user(db_session, Role.duty)
    w = service.issue_warning(
        session=db_session,
        actor=duty,
        settings=settings,
        at=T0,
        warning_in=WarningIssue(
            kind=WarningKind.ponding,
            colour=Colour.yellow,
            hazard_point_id=world.point_b.id,
            reason="现场巡查积水 25 厘米",
        ),
    )
    assert w.origin is Origin.manual and w.unit_id == world.office_b
    with pytest.raises(ConflictError):
        service.issue_warning(
            session=db_session,
            actor=duty,
            settings=settings,
            warning_in=WarningIssue(
                kind=WarningKind.ponding,
                colour=Colour.red,
                hazard_point_id=world.point_b.id,
                reason="again",
            ),
        )
    service.change_warning(
        session=db_session,
        warning_id=w.id,
        actor=duty,
        settings=settings,
        change_in=WarningChangeIn(colour=Colour.red, reason="水位上涨"),
        at=T0 + timedelta(minutes=1),
    )
    # The rules never lower or lift a person's warning (the sensor reads dry).
    observe(db_session, world.depth_b, [(T0 + timedelta(hours=2), 0.0)])
    assert run(db_session, _rules(settings, min_hold_s=0), T0 + timedelta(hours=2)) == []
    service.lift_warning(
        session=db_session,
        warning_id=w.id,
        actor=duty,
        settings=settings,
        lift_in=WarningLiftIn(reason="积水已退"),
        at=T0 + timedelta(hours=3),
    )
    assert [(c.change_type.value, c.actor, c.reason) for c in w.changes] == [
        ("issue", duty.username, "现场巡查积水 25 厘米"),
        ("upgrade", duty.username, "水位上涨"),
        ("lift", duty.username, "积水已退"),
    ]
    for c in w.changes:
        _xml(c.cap_xml)
    audit = list(
        db_session.scalars(
            select(AuditEntry).where(
                AuditEntry.object_type == "warning", AuditEntry.object_id == str(w.id)
            )
        )
    )
    assert sorted(a.action.value for a in audit) == ["create", "update", "update"]
    assert all(a.actor_username == duty.username for a in audit)
    with pytest.raises(ConflictError):
        service.lift_warning(
            session=db_session,
            warning_id=w.id,
            actor=duty,
            settings=settings,
            lift_in=WarningLiftIn(reason="x"),
        )


@pytest.mark.parametrize("role", [Role.viewer, Role.inspector, Role.unit])
def test_only_duty_district_and_admin_issue_warnings(
    db_session: Session, settings: Settings, world: World, role: Role
) -> None:
    user = _user(db_session, role, world.office_a if role is Role.unit else None)
    with pytest.raises(PermissionDeniedError):
        service.issue_warning(
            session=db_session,
            actor=user,
            settings=settings,
            warning_in=WarningIssue(kind=WarningKind.rainstorm, colour=Colour.blue, reason="r"),
        )


def test_manual_issue_names_its_subject(
    db_session: Session, settings: Settings, world: World
) -> None:
    with pytest.raises(ValidationFailed, match="hazard_point_id"):
        service.issue_warning(
            session=db_session,
            actor=SYSTEM,
            settings=settings,
            warning_in=WarningIssue(kind=WarningKind.ponding, colour=Colour.blue, reason="r"),
        )
    with pytest.raises(ValidationFailed, match="does not exist"):
        service.issue_warning(
            session=db_session,
            actor=SYSTEM,
            settings=settings,
            warning_in=WarningIssue(
                kind=WarningKind.pump_failure, colour=Colour.blue, reason="r", station_id=99999
            ),
        )


def test_jurisdiction(db_session: Session, settings: Settings, world: World) -> None:
    s = _rules(settings, enabled=["ponding", "rainstorm"])
    observe(db_session, world.depth_a, [(T0, 0.3)])
    observe(db_session, world.depth_b, [(T0, 0.3)])
    observe(db_session, world.rain, [(T0 - timedelta(minutes=5 * k), 0.0012) for k in range(60)])
    run(db_session, s, T0)
    unit_b = _user(db_session, Role.unit, world.office_b, "b")
    seen = service.active_warnings(session=db_session, actor=unit_b)
    assert sorted(w.subject for w in seen) == [f"ponding:{world.point_b.id}", "rainstorm"]
    other = next(
        w
        for w in service.active_warnings(session=db_session, actor=None)
        if w.hazard_point_id == world.point_a.id
    )
    with pytest.raises(NotFoundError):
        service.get_warning(session=db_session, warning_id=other.id, actor=unit_b)
    history, total = service.warning_history(session=db_session, actor=unit_b)
    assert total == 2 and {c.warning.unit_id for c in history} == {None, world.office_b}


def test_cap_invalid_alert_is_refused() -> None:
    bad = cap.build_alert(
        cap.Alert(
            identifier="a.1",
            sender="s",
            sent=T0,
            msg_type="Alert",
            references=(),
            infos=(),
            status="Maybe",
        )
    )
    with pytest.raises(cap.CapInvalid):
        cap.validate(bad)


def test_ponding_warning_starts_the_point_plans_tasks(
    db_session: Session, settings: Settings, world: World
) -> None:
    from fangxun.hazards.models import PlanStatus, PointPlan
    from fangxun.response.models import ResponseTask

    db_session.add(
        PointPlan(
            point_id=world.point_a.id,
            version=1,
            title="PA 一点一策",
            triggers=[{"colour": "yellow"}],
            measures=[{"action": "封闭下穿通道"}, {"action": "启动移动泵车"}],
            status=PlanStatus.approved,
        )
    )
    s = _rules(settings, enabled=["ponding"])
    observe(db_session, world.depth_a, [(T0, 0.2)])
    run(db_session, s, T0)  # blue: below the plan's trigger
    assert list(db_session.scalars(select(ResponseTask))) == []
    t1 = T0 + timedelta(minutes=5)
    observe(db_session, world.depth_a, [(t1, 0.3)])
    change = run(db_session, s, t1)[0]
    tasks = list(db_session.scalars(select(ResponseTask).order_by(ResponseTask.id)))
    assert [t.action for t in tasks] == ["PA 下穿: 封闭下穿通道", "PA 下穿: 启动移动泵车"]
    assert change.to_colour is Colour.yellow


def test_rules_respect_a_persons_lift_for_the_hold_time(
    db_session: Session, settings: Settings, world: World
) -> None:
    s = _rules(settings, enabled=["ponding"], min_hold_s=1800)
    observe(db_session, world.depth_a, [(T0, 0.3)])
    w = run(db_session, s, T0)[0].warning
    service.lift_warning(
        session=db_session,
        warning_id=w.id,
        actor=SYSTEM,
        settings=s,
        lift_in=WarningLiftIn(reason="现场确认为误报"),
        at=T0,
    )
    t1 = T0 + timedelta(minutes=10)
    observe(db_session, world.depth_a, [(t1, 0.3)])
    assert run(db_session, s, t1) == []
    t2 = T0 + timedelta(minutes=30)
    observe(db_session, world.depth_a, [(t2, 0.3)])
    again = run(db_session, s, t2)
    assert [(c.change_type, c.to_colour) for c in again] == [(ChangeType.issue, Colour.yellow)]
    assert again[0].warning.id != w.id


@pytest.mark.parametrize("window_s", [600, 3 * 3600, 6 * 3600, 12 * 3600])
def test_rolling_totals_agree_with_the_monitoring_accumulations(window_s: int) -> None:
    from fangxun.monitoring.service import rain_totals_from_series
    from fangxun.warnings.rules import rolling_total_mm

    times = [T0 - timedelta(minutes=5 * k) for k in range(200)]
    depths = [0.0001 * (k % 17) for k in range(200)]
    ours = rolling_total_mm(list(zip(times, depths, strict=True)), end=T0, window_s=window_s)
    theirs = rain_totals_from_series(
        times, depths, end=T0, event_gap=timedelta(hours=6), windows_s={"w": window_s}
    ).totals_mm["w"]
    assert ours == pytest.approx(theirs, abs=1e-6)


def test_a_warning_outlives_its_hazard_point(
    db_session: Session, settings: Settings, world: World
) -> None:
    w = service.issue_warning(
        session=db_session,
        actor=SYSTEM,
        settings=settings,
        warning_in=WarningIssue(
            kind=WarningKind.ponding,
            colour=Colour.blue,
            hazard_point_id=world.point_b.id,
            reason="r",
        ),
    )
    db_session.delete(world.point_b)
    db_session.flush()
    service.lift_warning(
        session=db_session,
        warning_id=w.id,
        actor=SYSTEM,
        settings=settings,
        lift_in=WarningLiftIn(reason="点位已撤销"),
    )
    assert w.status is WarningStatus.lifted
    _xml(w.changes[-1].cap_xml)
