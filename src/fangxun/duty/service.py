"""Duty roster services: shifts and assignments, rotations that fill a month, check-in, handover,
swaps with approval, gap detection and the current duty team, and Excel / iCalendar export.

Keyword-only functions that check permission and jurisdiction (a shift belongs to its unit; other
units' shifts are *not found*), record every change in the audit log and never commit.

>>> from datetime import datetime, UTC
>>> [s.isoformat() for s, _ in month_slots(2026, 2, shift_hours=24, first_shift_hour=8)][:2]
['2026-02-01T00:00:00+00:00', '2026-02-02T00:00:00+00:00']
"""

from __future__ import annotations

import calendar
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from fangxun.audit.models import AuditAction
from fangxun.audit.service import (
    actor_username,
    record_change,
    record_create,
    record_update,
    snapshot,
)
from fangxun.db.types import utcnow
from fangxun.duty.models import (
    DutyAssignment,
    DutyRole,
    DutyRotation,
    DutyShift,
    DutySwap,
    SwapStatus,
)
from fangxun.duty.schemas import AssignmentIn, RotationCreate, ShiftCreate, SwapCreate
from fangxun.errors import ConflictError, PermissionDeniedError, ValidationFailed
from fangxun.org.jurisdiction import (
    get_in_jurisdiction,
    is_unit_visible,
    scope_query,
    unit_in_body,
)
from fangxun.org.models import Person, Role, User
from fangxun.org.permissions import Actor, require_role
from fangxun.times import local_zone

#: Shift lengths that divide a day, h.
SHIFT_HOURS = (24, 12, 8, 6)
#: Column headings of the Excel roster (a document for people: Chinese).
XLSX_HEADER = ["单位", "开始", "结束", "带班领导", "值班人员", "联系电话", "已报到", "交接班记录"]
#: Roles that may change the roster (a ``unit`` user only inside its jurisdiction).
WRITERS = frozenset({Role.admin, Role.district, Role.duty, Role.unit})


def require_writer(actor: Actor) -> None:
    """Raise :class:`PermissionDeniedError` unless ``actor`` may change operations records."""
    require_role(actor, WRITERS, "change the duty roster")


def _aware(value: datetime, loc: tuple[str, ...]) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValidationFailed("give a time zone offset, e.g. 2026-07-20T08:00:00+08:00", loc=loc)
    return value.astimezone(UTC)


def _person(session: Session, person_id: int, loc: tuple[str | int, ...]) -> Person:
    person = session.get(Person, person_id)
    if person is None:
        raise ValidationFailed(f"person {person_id} does not exist", loc=loc)
    return person


def _shift_snapshot(shift: DutyShift) -> dict[str, object]:
    data = snapshot(shift)
    data["assignments"] = [
        {"person_id": a.person_id, "role": a.role.value} for a in shift.assignments
    ]
    return data


# --- shifts ------------------------------------------------------------------------------------


def _check_assignments(session: Session, items: Sequence[AssignmentIn]) -> None:
    seen: set[int] = set()
    leaders = 0
    for i, item in enumerate(items):
        _person(session, item.person_id, ("body", "assignments", i, "person_id"))
        if item.person_id in seen:
            raise ValidationFailed(
                f"person {item.person_id} is on the shift twice",
                loc=("body", "assignments", i, "person_id"),
            )
        seen.add(item.person_id)
        leaders += item.role is DutyRole.leader
    if leaders > 1:
        raise ValidationFailed("a shift has one leader on duty", loc=("body", "assignments"))


def create_shift(*, session: Session, shift_in: ShiftCreate, actor: Actor) -> DutyShift:
    """Create a shift of a unit with its people; overlapping shifts of one unit are refused."""
    require_writer(actor)
    unit_in_body(session, actor, shift_in.unit_id, ("body", "unit_id"))
    starts = _aware(shift_in.starts_at, ("body", "starts_at"))
    ends = _aware(shift_in.ends_at, ("body", "ends_at"))
    if ends <= starts:
        raise ValidationFailed("a shift must end after it starts", loc=("body", "ends_at"))
    _check_assignments(session, shift_in.assignments)
    overlap = session.scalar(
        select(DutyShift.id).where(
            DutyShift.unit_id == shift_in.unit_id,
            DutyShift.starts_at < ends,
            DutyShift.ends_at > starts,
        )
    )
    if overlap is not None:
        raise ConflictError(f"the unit already has shift {overlap} in that time")
    shift = DutyShift(unit_id=shift_in.unit_id, starts_at=starts, ends_at=ends)
    shift.assignments = [
        DutyAssignment(person_id=a.person_id, role=a.role) for a in shift_in.assignments
    ]
    session.add(shift)
    session.flush()
    record_change(
        session=session,
        actor=actor,
        action=AuditAction.create,
        obj=shift,
        before=None,
        after=_shift_snapshot(shift),
    )
    return shift


def get_shift(*, session: Session, shift_id: int, actor: Actor) -> DutyShift:
    """A shift in the actor's jurisdiction, else :class:`NotFoundError`."""
    return get_in_jurisdiction(
        session=session, user=actor, model=DutyShift, obj_id=shift_id, label="shift"
    )


def list_shifts(
    *,
    session: Session,
    actor: Actor,
    unit_id: int | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
) -> list[DutyShift]:
    """Shifts overlapping ``[start, end)`` in the actor's jurisdiction, by unit and start time."""
    stmt = scope_query(select(DutyShift), DutyShift.unit_id, session=session, user=actor)
    if unit_id is not None:
        stmt = stmt.where(DutyShift.unit_id == unit_id)
    if start is not None:
        stmt = stmt.where(DutyShift.ends_at > _aware(start, ("query", "start")))
    if end is not None:
        stmt = stmt.where(DutyShift.starts_at < _aware(end, ("query", "end")))
    stmt = stmt.options(selectinload(DutyShift.assignments).selectinload(DutyAssignment.person))
    return list(session.scalars(stmt.order_by(DutyShift.unit_id, DutyShift.starts_at)))


def add_assignment(
    *, session: Session, shift_id: int, assignment_in: AssignmentIn, actor: Actor
) -> DutyAssignment:
    """Put a person on a shift (as its leader when the shift has none yet)."""
    shift = get_shift(session=session, shift_id=shift_id, actor=actor)
    require_writer(actor)
    _person(session, assignment_in.person_id, ("body", "person_id"))
    before = _shift_snapshot(shift)
    if any(a.person_id == assignment_in.person_id for a in shift.assignments):
        raise ConflictError(f"person {assignment_in.person_id} is already on shift {shift.id}")
    if assignment_in.role is DutyRole.leader and any(
        a.role is DutyRole.leader for a in shift.assignments
    ):
        raise ConflictError(f"shift {shift.id} already has a leader on duty")
    assignment = DutyAssignment(person_id=assignment_in.person_id, role=assignment_in.role)
    shift.assignments.append(assignment)
    session.flush()
    record_change(
        session=session,
        actor=actor,
        action=AuditAction.update,
        obj=shift,
        before=before,
        after=_shift_snapshot(shift),
    )
    return assignment


def _assignment(session: Session, actor: Actor, assignment_id: int) -> DutyAssignment:
    assignment = session.get(DutyAssignment, assignment_id)
    if assignment is None or not is_unit_visible(
        session=session, user=actor, unit_id=assignment.shift.unit_id
    ):
        from fangxun.errors import NotFoundError

        raise NotFoundError(f"assignment {assignment_id} not found")
    return assignment


def get_assignment(*, session: Session, assignment_id: int, actor: Actor) -> DutyAssignment:
    """An assignment of a shift in the actor's jurisdiction, else :class:`NotFoundError`."""
    return _assignment(session, actor, assignment_id)


def remove_assignment(*, session: Session, assignment_id: int, actor: Actor) -> DutyShift:
    """Take a person off a shift; taking the leader off leaves a gap (see :func:`find_gaps`)."""
    assignment = _assignment(session, actor, assignment_id)
    require_writer(actor)
    shift = assignment.shift
    before = _shift_snapshot(shift)
    shift.assignments.remove(assignment)
    session.flush()
    record_change(
        session=session,
        actor=actor,
        action=AuditAction.update,
        obj=shift,
        before=before,
        after=_shift_snapshot(shift),
    )
    return shift


def check_in(
    *, session: Session, assignment_id: int, actor: Actor, at: datetime | None = None
) -> DutyAssignment:
    """Record that the person of an assignment is at their post (报到), at ``at`` (default now).

    A check-in is accepted from 1 h before the shift starts until it ends.
    """
    assignment = _assignment(session, actor, assignment_id)
    require_writer(actor)
    at = _aware(at, ("body", "at")) if at is not None else utcnow()
    shift = assignment.shift
    if not shift.starts_at - timedelta(hours=1) <= at < shift.ends_at:
        raise ValidationFailed(
            f"check-in at {at.isoformat()} is outside shift {shift.id} "
            f"({shift.starts_at.isoformat()} – {shift.ends_at.isoformat()})",
            loc=("body", "at"),
        )
    if assignment.checked_in_at is not None:
        return assignment
    before = snapshot(assignment)
    assignment.checked_in_at = at
    record_update(session=session, actor=actor, obj=assignment, before=before)
    return assignment


def hand_over(*, session: Session, shift_id: int, note: str, actor: Actor) -> DutyShift:
    """Write the handover note of a shift (交接班); a second note replaces the first, audited."""
    shift = get_shift(session=session, shift_id=shift_id, actor=actor)
    require_writer(actor)
    if not note.strip():
        raise ValidationFailed("the handover note is empty", loc=("body", "note"))
    before = snapshot(shift)
    shift.handover_note = note.strip()
    shift.handed_over_at = utcnow()
    shift.handed_over_by = actor_username(actor)
    record_update(session=session, actor=actor, obj=shift, before=before)
    return shift


# --- swaps -------------------------------------------------------------------------------------


def request_swap(*, session: Session, swap_in: SwapCreate, actor: Actor) -> DutySwap:
    """Ask for another person to take an assignment; it changes nothing until approved."""
    assignment = _assignment(session, actor, swap_in.assignment_id)
    require_writer(actor)
    _person(session, swap_in.replacement_person_id, ("body", "replacement_person_id"))
    if any(a.person_id == swap_in.replacement_person_id for a in assignment.shift.assignments):
        raise ConflictError(
            f"person {swap_in.replacement_person_id} is already on shift {assignment.shift_id}"
        )
    swap = DutySwap(
        assignment_id=assignment.id,
        replacement_person_id=swap_in.replacement_person_id,
        reason=swap_in.reason,
        requested_by=actor_username(actor),
    )
    session.add(swap)
    record_create(session=session, actor=actor, obj=swap)
    return swap


def decide_swap(*, session: Session, swap_id: int, approve: bool, actor: Actor) -> DutySwap:
    """Approve (the replacement takes the assignment, check-in cleared) or reject a swap.

    The person who asked may not approve their own request.
    """
    swap = session.get(DutySwap, swap_id)
    if swap is None or not is_unit_visible(
        session=session, user=actor, unit_id=swap.assignment.shift.unit_id
    ):
        from fangxun.errors import NotFoundError

        raise NotFoundError(f"swap {swap_id} not found")
    require_writer(actor)
    if swap.status is not SwapStatus.pending:
        raise ConflictError(f"swap {swap_id} was already {swap.status.value}")
    if isinstance(actor, User) and actor.username == swap.requested_by:
        raise PermissionDeniedError("a swap must be approved by someone other than who asked")
    before = snapshot(swap)
    swap.status = SwapStatus.approved if approve else SwapStatus.rejected
    swap.decided_by = actor_username(actor)
    swap.decided_at = utcnow()
    if approve:
        assignment = swap.assignment
        if any(
            a.person_id == swap.replacement_person_id and a.id != assignment.id
            for a in assignment.shift.assignments
        ):
            raise ConflictError(f"person {swap.replacement_person_id} is already on the shift")
        a_before = snapshot(assignment)
        assignment.person_id = swap.replacement_person_id
        assignment.checked_in_at = None
        session.flush()
        session.refresh(assignment, ["person"])
        record_update(session=session, actor=actor, obj=assignment, before=a_before)
    record_update(session=session, actor=actor, obj=swap, before=before)
    return swap


def list_swaps(
    *, session: Session, actor: Actor, status: SwapStatus | None = None
) -> list[DutySwap]:
    """Swap requests in the actor's jurisdiction, newest first."""
    stmt = (
        select(DutySwap)
        .join(DutyAssignment, DutySwap.assignment_id == DutyAssignment.id)
        .join(DutyShift, DutyAssignment.shift_id == DutyShift.id)
    )
    stmt = scope_query(stmt, DutyShift.unit_id, session=session, user=actor)
    if status is not None:
        stmt = stmt.where(DutySwap.status == status)
    return list(session.scalars(stmt.order_by(DutySwap.requested_at.desc(), DutySwap.id.desc())))


# --- rotations ---------------------------------------------------------------------------------


def create_rotation(*, session: Session, rotation_in: RotationCreate, actor: Actor) -> DutyRotation:
    """Save a rotation template (people in turn order)."""
    require_writer(actor)
    unit_in_body(session, actor, rotation_in.unit_id, ("body", "unit_id"))
    if rotation_in.shift_hours not in SHIFT_HOURS:
        raise ValidationFailed(
            f"shift_hours must be one of {', '.join(map(str, SHIFT_HOURS))}",
            loc=("body", "shift_hours"),
        )
    for field in ("leader_ids", "member_ids"):
        ids: list[int] = getattr(rotation_in, field)
        for i, pid in enumerate(ids):
            _person(session, pid, ("body", field, i))
    if rotation_in.members_per_shift > len(rotation_in.member_ids):
        raise ValidationFailed(
            f"members_per_shift ({rotation_in.members_per_shift}) is more than the "
            f"{len(rotation_in.member_ids)} members in the rotation",
            loc=("body", "members_per_shift"),
        )
    rotation = DutyRotation(**rotation_in.model_dump())
    session.add(rotation)
    record_create(session=session, actor=actor, obj=rotation)
    return rotation


def get_rotation(*, session: Session, rotation_id: int, actor: Actor) -> DutyRotation:
    """A rotation in the actor's jurisdiction, else :class:`NotFoundError`."""
    return get_in_jurisdiction(
        session=session, user=actor, model=DutyRotation, obj_id=rotation_id, label="rotation"
    )


def month_slots(
    year: int,
    month: int,
    *,
    shift_hours: int,
    first_shift_hour: int,
    tz: ZoneInfo | None = None,
) -> list[tuple[datetime, datetime]]:
    """The shift slots (UTC start, UTC end) covering a local calendar month without gaps.

    The first slot starts at ``first_shift_hour`` local time on day 1 and the last ends at the same
    hour on day 1 of the next month; slots are ``shift_hours`` hours long.
    """
    if shift_hours not in SHIFT_HOURS:
        raise ValidationFailed(f"shift_hours must be one of {SHIFT_HOURS}", loc=("shift_hours",))
    days = calendar.monthrange(year, month)[1]
    start = datetime(year, month, 1, first_shift_hour, tzinfo=tz or local_zone()).astimezone(UTC)
    step = timedelta(hours=shift_hours)
    count = days * 24 // shift_hours
    return [(start + i * step, start + (i + 1) * step) for i in range(count)]


def fill_month(
    *, session: Session, rotation_id: int, year: int, month: int, actor: Actor
) -> list[DutyShift]:
    """Create every shift of a month from a rotation; refused if the unit has shifts in it already.

    Leaders and members take turns in list order; a member is never on two shifts in a row when
    the list is long enough (the turn simply advances).
    """
    rotation = get_rotation(session=session, rotation_id=rotation_id, actor=actor)
    require_writer(actor)
    slots = month_slots(
        year, month, shift_hours=rotation.shift_hours, first_shift_hour=rotation.first_shift_hour
    )
    first, last = slots[0][0], slots[-1][1]
    existing = session.scalar(
        select(DutyShift.id).where(
            DutyShift.unit_id == rotation.unit_id,
            DutyShift.starts_at < last,
            DutyShift.ends_at > first,
        )
    )
    if existing is not None:
        raise ConflictError(
            f"the unit already has shifts in {year}-{month:02d} (shift {existing}); "
            "remove them first"
        )
    leaders = [int(x) for x in rotation.leader_ids]
    members = [int(x) for x in rotation.member_ids]
    per = rotation.members_per_shift
    shifts: list[DutyShift] = []
    for i, (starts, ends) in enumerate(slots):
        leader = leaders[i % len(leaders)]
        crew = [members[(i * per + k) % len(members)] for k in range(per)] if members else []
        people = [AssignmentIn(person_id=leader, role=DutyRole.leader)]
        people += [AssignmentIn(person_id=p) for p in dict.fromkeys(crew) if p != leader]
        shift = DutyShift(unit_id=rotation.unit_id, starts_at=starts, ends_at=ends)
        shift.assignments = [DutyAssignment(person_id=a.person_id, role=a.role) for a in people]
        session.add(shift)
        shifts.append(shift)
    session.flush()
    record_change(
        session=session,
        actor=actor,
        action=AuditAction.update,
        obj=rotation,
        before=snapshot(rotation),
        after={**snapshot(rotation), "filled": f"{year}-{month:02d}", "shifts": len(shifts)},
    )
    return shifts


# --- gaps and the current team -----------------------------------------------------------------


@dataclass(frozen=True)
class DutyGap:
    """A hole in the roster that raises an alarm (值班空档)."""

    kind: str  # "uncovered", "no_leader", "no_check_in"
    unit_id: int
    starts_at: datetime
    ends_at: datetime
    shift_id: int | None
    detail: str


def find_gaps(
    *,
    session: Session,
    actor: Actor,
    unit_id: int,
    start: datetime,
    end: datetime,
    now: datetime | None = None,
    check_in_grace_s: float = 1800.0,
) -> list[DutyGap]:
    """Gaps of a unit's roster in ``[start, end)``, in time order.

    * ``uncovered``: a stretch of time with no shift at all;
    * ``no_leader``: a shift without a leader on duty (领导带班);
    * ``no_check_in``: a shift that started more than ``check_in_grace_s`` seconds before ``now``
      and that nobody has checked in to (脱岗).
    """
    unit_in_body(session, actor, unit_id, ("query", "unit_id"))
    start = _aware(start, ("query", "start"))
    end = _aware(end, ("query", "end"))
    if end <= start:
        raise ValidationFailed("'end' must be after 'start'", loc=("query", "end"))
    now = now or utcnow()
    shifts = list_shifts(session=session, actor=actor, unit_id=unit_id, start=start, end=end)
    gaps: list[DutyGap] = []
    cursor = start
    for shift in shifts:
        if shift.starts_at > cursor:
            gaps.append(DutyGap("uncovered", unit_id, cursor, shift.starts_at, None, "no shift"))
        cursor = max(cursor, shift.ends_at)
        if not any(a.role is DutyRole.leader for a in shift.assignments):
            gaps.append(
                DutyGap(
                    "no_leader",
                    unit_id,
                    shift.starts_at,
                    shift.ends_at,
                    shift.id,
                    f"shift {shift.id} has no leader on duty",
                )
            )
        late = shift.starts_at + timedelta(seconds=check_in_grace_s)
        if late <= now < shift.ends_at + timedelta(days=1) and not any(
            a.checked_in_at is not None for a in shift.assignments
        ):
            gaps.append(
                DutyGap(
                    "no_check_in",
                    unit_id,
                    shift.starts_at,
                    shift.ends_at,
                    shift.id,
                    f"nobody checked in to shift {shift.id} within "
                    f"{check_in_grace_s / 60:.0f} min of its start",
                )
            )
    if cursor < end:
        gaps.append(DutyGap("uncovered", unit_id, cursor, end, None, "no shift"))
    return gaps


@dataclass(frozen=True)
class TeamMember:
    """A person on duty now."""

    person_id: int
    name: str
    phone: str | None
    email: str | None
    role: DutyRole
    checked_in: bool


@dataclass(frozen=True)
class DutyTeam:
    """The duty team of one unit at one moment: one call away for notifications."""

    unit_id: int
    unit_name: str
    shift_id: int
    starts_at: datetime
    ends_at: datetime
    leader: TeamMember | None
    members: list[TeamMember]


def current_team(
    *, session: Session, actor: Actor, at: datetime | None = None, unit_id: int | None = None
) -> list[DutyTeam]:
    """The duty team of every unit (or one) in the actor's jurisdiction at ``at`` (default now)."""
    at = _aware(at, ("query", "at")) if at is not None else utcnow()
    stmt = scope_query(select(DutyShift), DutyShift.unit_id, session=session, user=actor).where(
        DutyShift.starts_at <= at, DutyShift.ends_at > at
    )
    if unit_id is not None:
        stmt = stmt.where(DutyShift.unit_id == unit_id)
    stmt = stmt.options(
        selectinload(DutyShift.assignments).selectinload(DutyAssignment.person),
        selectinload(DutyShift.unit),
    )
    teams: list[DutyTeam] = []
    for shift in session.scalars(stmt.order_by(DutyShift.unit_id)):
        people = [
            TeamMember(
                a.person_id,
                a.person.name,
                a.person.phone,
                a.person.email,
                a.role,
                a.checked_in_at is not None,
            )
            for a in shift.assignments
        ]
        leader = next((p for p in people if p.role is DutyRole.leader), None)
        teams.append(
            DutyTeam(
                shift.unit_id,
                shift.unit.name_zh,
                shift.id,
                shift.starts_at,
                shift.ends_at,
                leader,
                [p for p in people if p.role is not DutyRole.leader],
            )
        )
    return teams


# --- export ------------------------------------------------------------------------------------


def _local(value: datetime, tz: ZoneInfo) -> datetime:
    return value.astimezone(tz)


def export_xlsx(shifts: Iterable[DutyShift], *, tz: ZoneInfo | None = None) -> bytes:
    """The roster as an Excel workbook (one row per shift, local times), bytes of a .xlsx file."""
    tz = tz or local_zone()
    from openpyxl import Workbook
    from openpyxl.styles import Font

    from fangxun.excel import append_row

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "值班表"
    append_row(
        sheet, ["单位", "开始", "结束", "带班领导", "值班人员", "联系电话", "已报到", "交接班记录"]
    )
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for shift in shifts:
        leader = next((a for a in shift.assignments if a.role is DutyRole.leader), None)
        crew = [a for a in shift.assignments if a.role is not DutyRole.leader]
        append_row(
            sheet,
            [
                shift.unit.name_zh,
                _local(shift.starts_at, tz).strftime("%Y-%m-%d %H:%M"),
                _local(shift.ends_at, tz).strftime("%Y-%m-%d %H:%M"),
                leader.person.name if leader else "",
                "、".join(a.person.name for a in crew),
                "、".join(a.person.phone or "" for a in shift.assignments if a.person.phone),
                "、".join(a.person.name for a in shift.assignments if a.checked_in_at),
                shift.handover_note or "",
            ],
        )
    for column, width in zip("ABCDEFGH", (16, 18, 18, 12, 24, 30, 20, 40), strict=True):
        sheet.column_dimensions[column].width = width
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def export_ical(shifts: Iterable[DutyShift], *, calendar_name: str = "防汛值班表") -> bytes:
    """The roster as an iCalendar (RFC 5545) file: one VEVENT per shift, times in UTC."""
    from icalendar import Calendar, Event

    cal = Calendar()
    cal.add("prodid", "-//Fangxun//duty roster//ZH")
    cal.add("version", "2.0")
    cal.add("x-wr-calname", calendar_name)
    stamp = utcnow()
    for shift in shifts:
        leader = next((a for a in shift.assignments if a.role is DutyRole.leader), None)
        crew = [a.person.name for a in shift.assignments if a.role is not DutyRole.leader]
        event = Event()
        event.add("uid", f"duty-shift-{shift.id}@fangxun")
        event.add("dtstamp", stamp)
        event.add("dtstart", shift.starts_at)
        event.add("dtend", shift.ends_at)
        event.add(
            "summary",
            f"值班 {shift.unit.name_zh}：带班 {leader.person.name if leader else '（缺）'}",
        )
        event.add("description", "值班人员：" + ("、".join(crew) or "（无）"))
        cal.add_component(event)
    return bytes(cal.to_ical())
