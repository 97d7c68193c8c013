"""Response levels and checklists: a level started by rule creates the plan's tasks; propose mode
waits for a person; rules never lower a level; raising II after IV creates the III and II
checklists once; a point plan's trigger creates tasks once per activation; task confirmation is
audited and limited to the unit's own tasks."""

from __future__ import annotations

import io
import json
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from openpyxl import Workbook
from response_helpers import ACTIONS, Org, rule_settings
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from fangxun.audit.models import AuditEntry
from fangxun.errors import ConflictError, NotFoundError, PermissionDeniedError, ValidationFailed
from fangxun.response import service
from fangxun.response.models import (
    ActivationStatus,
    ChangeStatus,
    ChangeType,
    ResponseActivation,
    ResponseLevel,
    ResponseTask,
    TaskStatus,
)
from fangxun.response.schemas import TaskUpdate

T0 = datetime(2026, 7, 20, 8, 0, tzinfo=UTC)


def _signal(s: Session, colour: str | None, mode: str = "start", minutes: int = 0) -> object:
    return service.apply_warning_signal(
        session=s,
        warning_kind="rainstorm",
        colour=colour,
        unit_id=None,
        source_ref=f"warning-change:{colour}:{minutes}",
        at=T0 + timedelta(minutes=minutes),
        settings=rule_settings(mode),
    )


def _tasks(s: Session) -> list[ResponseTask]:
    return list(s.scalars(select(ResponseTask).order_by(ResponseTask.id)))


def _expected(*levels: ResponseLevel) -> Counter[str]:
    return Counter(text for lvl, _d, text in ACTIONS if lvl in levels)


def test_level_started_by_rule_creates_the_plans_tasks(db_session: Session, org: Org) -> None:
    change = _signal(db_session, "yellow")
    assert change is not None
    activation = service.current_level(session=db_session)
    assert activation is not None and activation.level is ResponseLevel.IV
    assert activation.unit_id == org.district
    assert activation.started_by == "rule:response"
    assert activation.rule == "rainstorm:yellow→IV"
    assert activation.started_at == T0
    tasks = _tasks(db_session)
    assert Counter(t.action for t in tasks) == _expected(ResponseLevel.IV)
    assert {t.unit_id for t in tasks} == {org.cgj, org.swj}
    assert all(t.status is TaskStatus.pending and t.activation_id == activation.id for t in tasks)
    # A street office or department resolves to the same district.
    assert service.current_level(session=db_session, unit_id=org.cgj) is activation


def test_propose_mode_waits_for_a_person(db_session: Session, org: Org) -> None:
    proposal = _signal(db_session, "orange", mode="propose")
    assert proposal is not None
    assert service.current_level(session=db_session) is None
    assert _tasks(db_session) == []
    waiting = service.open_proposals(session=db_session)
    assert [(p.to_level, p.status) for p in waiting] == [(ResponseLevel.III, ChangeStatus.proposed)]
    # The same signal again proposes nothing new; a weaker one neither.
    assert _signal(db_session, "orange", mode="propose", minutes=5) is None
    assert _signal(db_session, "yellow", mode="propose", minutes=6) is None
    # A viewer may not confirm; the district may.
    with pytest.raises(PermissionDeniedError):
        service.decide_proposal(
            session=db_session, change_id=waiting[0].id, confirm=True, actor=org.users["viewer"]
        )
    applied = service.decide_proposal(
        session=db_session, change_id=waiting[0].id, confirm=True, actor=org.users["district"]
    )
    assert applied.status is ChangeStatus.applied
    assert applied.decided_by == "district1"
    activation = service.current_level(session=db_session)
    assert activation is not None and activation.level is ResponseLevel.III
    assert Counter(t.action for t in _tasks(db_session)) == _expected(
        ResponseLevel.IV, ResponseLevel.III
    )
    assert service.open_proposals(session=db_session) == []


def test_rejected_proposal_starts_nothing(db_session: Session, org: Org) -> None:
    proposal = _signal(db_session, "yellow", mode="propose")
    assert proposal is not None
    done = service.decide_proposal(
        session=db_session,
        change_id=proposal.id,  # type: ignore[attr-defined]
        confirm=False,
        reason="雨势减弱",
        actor=org.users["district"],
    )
    assert done.status is ChangeStatus.rejected
    assert service.current_level(session=db_session) is None
    with pytest.raises(NotFoundError):
        service.decide_proposal(
            session=db_session,
            change_id=proposal.id,  # type: ignore[attr-defined]
            confirm=True,
            actor=org.users["district"],
        )


def test_rules_never_lower_a_level(db_session: Session, org: Org) -> None:
    assert _signal(db_session, "orange") is not None
    assert _signal(db_session, "yellow", minutes=10) is None
    assert _signal(db_session, "blue", minutes=11) is None
    assert _signal(db_session, None, minutes=12) is None  # lifted
    activation = service.current_level(session=db_session)
    assert activation is not None and activation.level is ResponseLevel.III
    assert activation.status is ActivationStatus.active
    # Red raises to II, never to I (I only by decision).
    assert _signal(db_session, "red", minutes=20) is not None
    assert service.current_level(session=db_session).level is ResponseLevel.II  # type: ignore[union-attr]


def test_raising_ii_after_iv_creates_iii_and_ii_checklists_once(
    db_session: Session, org: Org
) -> None:
    _signal(db_session, "yellow")
    assert len(_tasks(db_session)) == 2
    change = service.decide_level(
        session=db_session, level=ResponseLevel.II, reason="会商决定", actor=org.users["district"]
    )
    assert (change.change_type, change.from_level, change.to_level) == (
        ChangeType.raise_,
        ResponseLevel.IV,
        ResponseLevel.II,
    )
    expected = _expected(ResponseLevel.IV, ResponseLevel.III, ResponseLevel.II)
    assert Counter(t.action for t in _tasks(db_session)) == expected
    # Down to III and back up to II creates nothing more.
    service.decide_level(
        session=db_session, level=ResponseLevel.III, reason="雨势减弱", actor=org.users["district"]
    )
    service.decide_level(
        session=db_session, level=ResponseLevel.II, reason="再次加强", actor=org.users["district"]
    )
    assert Counter(t.action for t in _tasks(db_session)) == expected
    activation = service.current_level(session=db_session)
    assert activation is not None and activation.checklist_levels == ["IV", "III", "II"]
    with pytest.raises(ConflictError):
        service.decide_level(
            session=db_session, level=ResponseLevel.II, reason="同级", actor=org.users["district"]
        )


def test_decisions_need_the_district_role_and_are_audited(db_session: Session, org: Org) -> None:
    with pytest.raises(PermissionDeniedError):
        service.decide_level(
            session=db_session, level=ResponseLevel.I, reason="x", actor=org.users["duty"]
        )
    service.decide_level(
        session=db_session, level=ResponseLevel.I, reason="特大暴雨", actor=org.users["district"]
    )
    assert len(_tasks(db_session)) == len(ACTIONS)  # level I: every level's checklist
    change = service.stand_down(session=db_session, reason="雨停水退", actor=org.users["district"])
    assert change.change_type is ChangeType.stand_down
    assert service.current_level(session=db_session) is None
    entries = db_session.scalars(
        select(AuditEntry).where(AuditEntry.object_type == "response_activation")
    ).all()
    assert [e.action.value for e in entries] == ["create", "update"]
    assert all(e.actor_username == "district1" for e in entries)
    assert entries[1].after is not None and entries[1].after["status"] == "ended"
    with pytest.raises(ConflictError):
        service.stand_down(session=db_session, reason="again", actor=org.users["district"])
    # A new activation after the stand-down creates its checklist again.
    _signal(db_session, "yellow", minutes=120)
    assert len(_tasks(db_session)) == len(ACTIONS) + 2


def test_point_trigger_creates_tasks_once(db_session: Session, org: Org) -> None:
    # Below the trigger: nothing.
    none = service.apply_point_trigger(
        session=db_session,
        hazard_point_id=org.point,
        colour="yellow",
        depth_m=0.20,
        source_ref="w:1",
        at=T0,
    )
    assert none == []
    _signal(db_session, "yellow")
    first = service.apply_point_trigger(
        session=db_session,
        hazard_point_id=org.point,
        colour="yellow",
        depth_m=0.30,  # ≥ 27 cm
        source_ref="w:2",
        at=T0,
    )
    assert [t.action for t in first] == ["雪松路下穿: 封闭下穿通道", "雪松路下穿: 移动泵车抽排"]
    assert [t.person_id for t in first] == [org.person_office, org.person_cgj]
    assert [t.unit_id for t in first] == [org.office, org.cgj]
    assert first[1].details["equipment"] == ["移动泵车"]
    again = service.apply_point_trigger(
        session=db_session,
        hazard_point_id=org.point,
        colour="red",
        depth_m=0.50,
        source_ref="w:3",
        at=T0,
    )
    assert again == []
    # A new activation: the point plan's tasks again, once.
    service.stand_down(session=db_session, reason="结束", actor=org.users["district"])
    _signal(db_session, "yellow", minutes=300)
    second = service.apply_point_trigger(
        session=db_session,
        hazard_point_id=org.point,
        colour="orange",
        depth_m=None,
        source_ref="w:4",
        at=T0,
    )
    assert len(second) == 2 and second[0].activation_id != first[0].activation_id


def test_point_trigger_without_a_response_waits_for_the_open_tasks(
    db_session: Session, org: Org
) -> None:
    first = service.apply_point_trigger(
        session=db_session,
        hazard_point_id=org.point,
        colour="orange",
        depth_m=None,
        source_ref="w:1",
        at=T0,
    )
    assert len(first) == 2 and all(t.activation_id is None for t in first)
    assert (
        service.apply_point_trigger(
            session=db_session,
            hazard_point_id=org.point,
            colour="orange",
            depth_m=None,
            source_ref="w:2",
            at=T0,
        )
        == []
    )
    with pytest.raises(NotFoundError):
        service.apply_point_trigger(
            session=db_session,
            hazard_point_id=99999,
            colour="red",
            depth_m=None,
            source_ref="w:3",
            at=T0,
        )


def test_confirmation_is_audited_and_limited_to_the_units_own_tasks(
    db_session: Session, org: Org
) -> None:
    _signal(db_session, "yellow")
    tasks = _tasks(db_session)
    cgj_task = next(t for t in tasks if t.unit_id == org.cgj)
    swj_task = next(t for t in tasks if t.unit_id == org.swj)
    cgj = org.users["cgj"]
    # Another department's task is not found for a unit user.
    with pytest.raises(NotFoundError):
        service.update_task(
            session=db_session,
            task_id=swj_task.id,
            task_in=TaskUpdate(status=TaskStatus.confirmed),
            actor=cgj,
        )
    assert [t.id for t in service.list_tasks(session=db_session, actor=cgj)] == [cgj_task.id]
    with pytest.raises(PermissionDeniedError):
        service.update_task(
            session=db_session,
            task_id=cgj_task.id,
            task_in=TaskUpdate(status=TaskStatus.confirmed),
            actor=org.users["viewer"],
        )
    task = service.update_task(
        session=db_session,
        task_id=cgj_task.id,
        task_in=TaskUpdate(status=TaskStatus.confirmed, note="3 辆排水车已出发"),
        actor=cgj,
    )
    assert (task.status, task.confirmed_by, task.note) == (
        TaskStatus.confirmed,
        "cgj1",
        "3 辆排水车已出发",
    )
    assert task.confirmed_at is not None
    task = service.update_task(
        session=db_session,
        task_id=cgj_task.id,
        task_in=TaskUpdate(status=TaskStatus.done),
        actor=cgj,
    )
    assert task.done_by == "cgj1" and task.done_at is not None
    entries = db_session.scalars(
        select(AuditEntry).where(
            AuditEntry.object_type == "response_task", AuditEntry.object_id == str(cgj_task.id)
        )
    ).all()
    assert [(e.before or {}).get("status") for e in entries] == ["pending", "confirmed"]
    assert [(e.after or {}).get("status") for e in entries] == ["confirmed", "done"]
    assert {e.actor_username for e in entries} == {"cgj1"}
    with pytest.raises(ConflictError):
        service.update_task(
            session=db_session,
            task_id=cgj_task.id,
            task_in=TaskUpdate(status=TaskStatus.not_applicable, note="x"),
            actor=cgj,
        )
    with pytest.raises(ValidationFailed):
        service.update_task(
            session=db_session,
            task_id=swj_task.id,
            task_in=TaskUpdate(status=TaskStatus.not_applicable),
            actor=org.users["swj"],
        )
    board = service.board(session=db_session, actor=org.users["district"])
    by_unit = {row.unit_id: {k: len(v) for k, v in row.cells.items()} for row in board}
    assert by_unit[org.cgj]["done"] == 1 and by_unit[org.swj]["pending"] == 1


def test_plan_import_from_json_and_excel(db_session: Session, org: Org) -> None:
    doc = {
        "name": "导入预案",
        "actions": [
            {"level": "四级", "department": "CGJ", "action": "巡查积水点"},
            {"level": "III", "department": "SWJ单位", "action": "开启泵站", "sort_order": 2},
        ],
    }
    plan = service.import_plan(
        session=db_session,
        filename="plan.json",
        data=json.dumps(doc, ensure_ascii=False).encode(),
        unit_id=org.district,
        actor=org.users["district"],
    )
    assert [(a.level, a.department_id) for a in plan.actions] == [
        (ResponseLevel.IV, org.cgj),
        (ResponseLevel.III, org.swj),
    ]
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Excel预案"
    sheet.append(["级别", "部门", "措施", "顺序", "需确认"])
    sheet.append(["II", "CGJ", "封闭道路", 1, "是"])
    sheet.append(["I", "不存在的部门", "全员上岗", 2, "否"])
    buf = io.BytesIO()
    book.save(buf)
    with pytest.raises(ValidationFailed) as err:
        service.import_plan(
            session=db_session,
            filename="plan.xlsx",
            data=buf.getvalue(),
            unit_id=org.district,
            actor=org.users["district"],
        )
    assert "row 3" in str(err.value.problems[0].loc)
    with pytest.raises(ValidationFailed):
        service.import_plan(
            session=db_session,
            filename="plan.json",
            data=b"{not json",
            unit_id=org.district,
            actor=org.users["district"],
        )
    with pytest.raises(PermissionDeniedError):
        service.import_plan(
            session=db_session,
            filename="plan.json",
            data=json.dumps(doc).encode(),
            unit_id=org.district,
            actor=org.users["duty"],
        )


def test_one_running_response_per_district_even_when_racing(db_session: Session, org: Org) -> None:
    _signal(db_session, "yellow")
    # What a second transaction that did not see the first start would insert.
    db_session.add(
        ResponseActivation(
            unit_id=org.district,
            level=ResponseLevel.III,
            started_at=T0,
            started_by="rule:response",
            checklist_levels=[],
        )
    )
    with pytest.raises(IntegrityError):
        db_session.flush()
