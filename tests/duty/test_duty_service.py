"""Duty roster: a month from a rotation without gaps, gaps when a leader goes or nobody checks in,
swaps with approval, the current team, and the Excel / iCalendar exports."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from icalendar import Calendar
from openpyxl import load_workbook
from sqlalchemy import select
from sqlalchemy.orm import Session

from factories import make_unit
from fangxun.audit.models import AuditEntry
from fangxun.audit.service import SystemActor
from fangxun.duty import service
from fangxun.duty.models import DutyRole, SwapStatus
from fangxun.duty.schemas import AssignmentIn, RotationCreate, ShiftCreate, SwapCreate
from fangxun.errors import ConflictError, PermissionDeniedError, ValidationFailed
from fangxun.org import service as org_service
from fangxun.org.models import Role, UnitKind, User
from fangxun.org.schemas import PersonCreate

SYSTEM = SystemActor(username="duty-tests")


@dataclass
class Org:
    """Ids of the test organisation."""

    district: int
    office_a: int
    office_b: int
    leaders: list[int]
    members: list[int]
    outsider: int


@pytest.fixture
def org(db_session: Session) -> Org:
    """District, offices A and B; 3 leaders and 6 members in A, one person in B."""

    def unit(code: str, kind: UnitKind, parent: int | None) -> int:
        return make_unit(db_session, code, kind, parent, actor=SYSTEM).id

    def person(name: str, unit_id: int) -> int:
        return org_service.create_person(
            session=db_session,
            person_in=PersonCreate(name=name, unit_id=unit_id, phone="13800000000"),
            actor=SYSTEM,
        ).id

    district = unit("D", UnitKind.district, None)
    a = unit("A", UnitKind.street_office, district)
    b = unit("B", UnitKind.street_office, district)
    return Org(
        district=district,
        office_a=a,
        office_b=b,
        leaders=[person(f"领导{i}", a) for i in range(3)],
        members=[person(f"队员{i}", a) for i in range(6)],
        outsider=person("外单位", b),
    )


JULY_START = datetime(2026, 7, 1, 0, 0, tzinfo=UTC)  # 08:00 Asia/Shanghai
JULY_END = datetime(2026, 8, 1, 0, 0, tzinfo=UTC)


def _fill_july(session: Session, org: Org, *, shift_hours: int = 24) -> list[object]:
    rotation = service.create_rotation(
        session=session,
        rotation_in=RotationCreate(
            unit_id=org.office_a,
            name="主汛期轮班",
            shift_hours=shift_hours,
            first_shift_hour=8,
            members_per_shift=2,
            leader_ids=org.leaders,
            member_ids=org.members,
        ),
        actor=SYSTEM,
    )
    return list(
        service.fill_month(
            session=session, rotation_id=rotation.id, year=2026, month=7, actor=SYSTEM
        )
    )


def _gaps(session: Session, org: Org, now: datetime) -> list[service.DutyGap]:
    return service.find_gaps(
        session=session,
        actor=SYSTEM,
        unit_id=org.office_a,
        start=JULY_START,
        end=JULY_END,
        now=now,
    )


def test_month_from_rotation_has_no_gaps(db_session: Session, org: Org) -> None:
    shifts = _fill_july(db_session, org)
    assert len(shifts) == 31
    assert shifts[0].starts_at == JULY_START and shifts[-1].ends_at == JULY_END  # type: ignore[attr-defined]
    for shift in shifts:
        roles = [a.role for a in shift.assignments]  # type: ignore[attr-defined]
        assert roles.count(DutyRole.leader) == 1 and roles.count(DutyRole.member) == 2
    # Leaders take turns in order.
    leaders = [
        next(a.person_id for a in s.assignments if a.role is DutyRole.leader)  # type: ignore[attr-defined]
        for s in shifts[:4]
    ]
    assert leaders == [org.leaders[0], org.leaders[1], org.leaders[2], org.leaders[0]]
    assert _gaps(db_session, org, now=JULY_START - timedelta(days=1)) == []


def test_split_shifts_cover_the_month(db_session: Session, org: Org) -> None:
    shifts = _fill_july(db_session, org, shift_hours=12)
    assert len(shifts) == 62
    assert _gaps(db_session, org, now=JULY_START - timedelta(days=1)) == []


def test_gap_when_leader_removed(db_session: Session, org: Org) -> None:
    shifts = _fill_july(db_session, org)
    target = shifts[9]
    leader = next(a for a in target.assignments if a.role is DutyRole.leader)  # type: ignore[attr-defined]
    service.remove_assignment(session=db_session, assignment_id=leader.id, actor=SYSTEM)
    gaps = _gaps(db_session, org, now=JULY_START - timedelta(days=1))
    assert [(g.kind, g.shift_id) for g in gaps] == [("no_leader", target.id)]  # type: ignore[attr-defined]
    # The change is in the audit log.
    entries = db_session.scalars(
        select(AuditEntry).where(
            AuditEntry.object_type == "duty_shift",
            AuditEntry.object_id == str(target.id),  # type: ignore[attr-defined]
        )
    ).all()
    assert entries and entries[-1].before != entries[-1].after


def test_uncovered_time_is_a_gap(db_session: Session, org: Org) -> None:
    service.create_shift(
        session=db_session,
        shift_in=ShiftCreate(
            unit_id=org.office_a,
            starts_at=JULY_START,
            ends_at=JULY_START + timedelta(hours=24),
            assignments=[AssignmentIn(person_id=org.leaders[0], role=DutyRole.leader)],
        ),
        actor=SYSTEM,
    )
    gaps = service.find_gaps(
        session=db_session,
        actor=SYSTEM,
        unit_id=org.office_a,
        start=JULY_START,
        end=JULY_START + timedelta(hours=48),
        now=JULY_START - timedelta(hours=1),
    )
    assert [(g.kind, g.starts_at, g.ends_at) for g in gaps] == [
        ("uncovered", JULY_START + timedelta(hours=24), JULY_START + timedelta(hours=48))
    ]


def test_no_check_in_after_grace_is_a_gap_until_someone_checks_in(
    db_session: Session, org: Org
) -> None:
    shifts = _fill_july(db_session, org)
    first = shifts[0]
    now = JULY_START + timedelta(minutes=31)
    gaps = _gaps(db_session, org, now=now)
    assert [(g.kind, g.shift_id) for g in gaps] == [("no_check_in", first.id)]  # type: ignore[attr-defined]
    # Within the grace period there is no alarm yet.
    assert _gaps(db_session, org, now=JULY_START + timedelta(minutes=29)) == []
    member = first.assignments[1]  # type: ignore[attr-defined]
    service.check_in(
        session=db_session,
        assignment_id=member.id,
        actor=SYSTEM,
        at=JULY_START + timedelta(minutes=5),
    )
    assert _gaps(db_session, org, now=now) == []


def test_check_in_outside_shift_refused(db_session: Session, org: Org) -> None:
    shifts = _fill_july(db_session, org)
    member = shifts[3].assignments[0]  # type: ignore[attr-defined]
    with pytest.raises(ValidationFailed, match="outside shift"):
        service.check_in(session=db_session, assignment_id=member.id, actor=SYSTEM, at=JULY_START)


def test_overlapping_shift_and_second_leader_refused(db_session: Session, org: Org) -> None:
    shifts = _fill_july(db_session, org)
    with pytest.raises(ConflictError):
        service.create_shift(
            session=db_session,
            shift_in=ShiftCreate(
                unit_id=org.office_a,
                starts_at=JULY_START + timedelta(hours=3),
                ends_at=JULY_START + timedelta(hours=5),
            ),
            actor=SYSTEM,
        )
    with pytest.raises(ConflictError, match="already has a leader"):
        service.add_assignment(
            session=db_session,
            shift_id=shifts[0].id,  # type: ignore[attr-defined]
            assignment_in=AssignmentIn(person_id=org.outsider, role=DutyRole.leader),
            actor=SYSTEM,
        )
    with pytest.raises(ConflictError, match="already has shifts"):
        _fill_july(db_session, org)


def test_swap_needs_approval_by_someone_else(db_session: Session, org: Org) -> None:
    shifts = _fill_july(db_session, org)
    users = {}
    for name in ("asker", "approver"):
        user = User(username=name, password_hash="x", role=Role.duty, is_active=True)
        db_session.add(user)
        users[name] = user
    db_session.flush()
    assignment = shifts[2].assignments[1]  # type: ignore[attr-defined]
    original = assignment.person_id
    swap = service.request_swap(
        session=db_session,
        swap_in=SwapCreate(
            assignment_id=assignment.id, replacement_person_id=org.outsider, reason="病假"
        ),
        actor=users["asker"],
    )
    assert swap.status is SwapStatus.pending and assignment.person_id == original
    with pytest.raises(PermissionDeniedError):
        service.decide_swap(session=db_session, swap_id=swap.id, approve=True, actor=users["asker"])
    service.decide_swap(session=db_session, swap_id=swap.id, approve=True, actor=users["approver"])
    assert swap.status is SwapStatus.approved
    assert assignment.person_id == org.outsider
    with pytest.raises(ConflictError):
        service.decide_swap(
            session=db_session, swap_id=swap.id, approve=False, actor=users["approver"]
        )


def test_current_team(db_session: Session, org: Org) -> None:
    shifts = _fill_july(db_session, org)
    at = JULY_START + timedelta(days=4, hours=3)
    teams = service.current_team(session=db_session, actor=SYSTEM, at=at)
    assert len(teams) == 1
    team = teams[0]
    assert team.shift_id == shifts[4].id  # type: ignore[attr-defined]
    assert team.leader is not None and team.leader.person_id == org.leaders[4 % 3]
    assert len(team.members) == 2 and all(m.phone for m in team.members)
    assert (
        service.current_team(session=db_session, actor=SYSTEM, at=JULY_END + timedelta(hours=1))
        == []
    )


def test_exports(db_session: Session, org: Org) -> None:
    _fill_july(db_session, org)
    shifts = service.list_shifts(session=db_session, actor=SYSTEM, unit_id=org.office_a)
    book = load_workbook(io.BytesIO(service.export_xlsx(shifts)))
    rows = list(book.active.iter_rows(values_only=True))  # type: ignore[union-attr]
    assert rows[0][0] == "单位" and len(rows) == 32
    assert rows[1][1] == "2026-07-01 08:00" and rows[1][3] == "领导0"
    cal = Calendar.from_ical(service.export_ical(shifts))
    events = [c for c in cal.walk("VEVENT")]
    assert len(events) == 31
    assert events[0].decoded("dtstart") == JULY_START
    assert "领导0" in str(events[0]["summary"])
