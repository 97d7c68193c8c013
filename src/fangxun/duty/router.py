"""HTTP routes of the duty roster: parse, call the service, render."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from fangxun.api.deps import CurrentUser, SessionDep, SettingsDep
from fangxun.api.downloads import ICALENDAR, XLSX, download
from fangxun.api.problems import error_responses
from fangxun.db.types import utcnow
from fangxun.duty import service
from fangxun.duty.models import SwapStatus
from fangxun.duty.schemas import (
    AssignmentIn,
    AssignmentRead,
    DutyTeamRead,
    FillMonth,
    GapRead,
    HandoverIn,
    RotationCreate,
    RotationRead,
    ShiftCreate,
    ShiftRead,
    SwapCreate,
    SwapDecision,
    SwapRead,
)
from fangxun.errors import ValidationFailed

router = APIRouter(prefix="/duty", tags=["duty"])

_ERRORS = error_responses(401, 403, 404, s403="Role may not change the roster")
Start = Annotated[datetime | None, Query(description="ISO 8601 with offset")]
End = Annotated[datetime | None, Query(description="ISO 8601 with offset")]
UnitQuery = Annotated[int | None, Query(ge=1)]
#: Largest time range of a roster listing or export, days.
MAX_RANGE_DAYS = 400


def _range(start: datetime | None, end: datetime | None) -> tuple[datetime, datetime]:
    start = start or utcnow() - timedelta(days=1)
    end = end or start + timedelta(days=31)
    if (end - start).days > MAX_RANGE_DAYS:
        raise ValidationFailed(f"at most {MAX_RANGE_DAYS} days at once", loc=("query", "end"))
    return start, end


@router.get("/shifts", response_model=list[ShiftRead], responses=_ERRORS)
def list_shifts(
    user: CurrentUser,
    session: SessionDep,
    unit_id: UnitQuery = None,
    start: Start = None,
    end: End = None,
) -> Any:
    """Shifts in your jurisdiction overlapping [start, end) (default: from yesterday, 31 days)."""
    start, end = _range(start, end)
    return service.list_shifts(session=session, actor=user, unit_id=unit_id, start=start, end=end)


@router.post("/shifts", response_model=ShiftRead, status_code=201, responses=_ERRORS)
def create_shift(body: ShiftCreate, user: CurrentUser, session: SessionDep) -> Any:
    """Create a shift with its leader and members."""
    return service.create_shift(session=session, shift_in=body, actor=user)


@router.get("/shifts/{shift_id}", response_model=ShiftRead, responses=_ERRORS)
def get_shift(shift_id: int, user: CurrentUser, session: SessionDep) -> Any:
    """One shift."""
    return service.get_shift(session=session, shift_id=shift_id, actor=user)


@router.post(
    "/shifts/{shift_id}/assignments",
    response_model=AssignmentRead,
    status_code=201,
    responses=_ERRORS,
)
def add_assignment(
    shift_id: int, body: AssignmentIn, user: CurrentUser, session: SessionDep
) -> Any:
    """Put a person on a shift."""
    return service.add_assignment(
        session=session, shift_id=shift_id, assignment_in=body, actor=user
    )


@router.delete("/assignments/{assignment_id}", response_model=ShiftRead, responses=_ERRORS)
def remove_assignment(assignment_id: int, user: CurrentUser, session: SessionDep) -> Any:
    """Take a person off a shift; the shift is returned."""
    return service.remove_assignment(session=session, assignment_id=assignment_id, actor=user)


@router.post(
    "/assignments/{assignment_id}/check-in", response_model=AssignmentRead, responses=_ERRORS
)
def check_in(assignment_id: int, user: CurrentUser, session: SessionDep) -> Any:
    """Check in to a shift now (报到)."""
    return service.check_in(session=session, assignment_id=assignment_id, actor=user)


@router.post("/shifts/{shift_id}/handover", response_model=ShiftRead, responses=_ERRORS)
def hand_over(shift_id: int, body: HandoverIn, user: CurrentUser, session: SessionDep) -> Any:
    """Write the handover note of a shift."""
    return service.hand_over(session=session, shift_id=shift_id, note=body.note, actor=user)


@router.post("/rotations", response_model=RotationRead, status_code=201, responses=_ERRORS)
def create_rotation(body: RotationCreate, user: CurrentUser, session: SessionDep) -> Any:
    """Save a rotation template."""
    return service.create_rotation(session=session, rotation_in=body, actor=user)


@router.post(
    "/rotations/{rotation_id}/fill",
    response_model=list[ShiftRead],
    status_code=201,
    responses=_ERRORS,
)
def fill_month(rotation_id: int, body: FillMonth, user: CurrentUser, session: SessionDep) -> Any:
    """Create every shift of a month from a rotation."""
    return service.fill_month(
        session=session, rotation_id=rotation_id, year=body.year, month=body.month, actor=user
    )


@router.get("/swaps", response_model=list[SwapRead], responses=_ERRORS)
def list_swaps(user: CurrentUser, session: SessionDep, status: SwapStatus | None = None) -> Any:
    """Swap requests, newest first."""
    return service.list_swaps(session=session, actor=user, status=status)


@router.post("/swaps", response_model=SwapRead, status_code=201, responses=_ERRORS)
def request_swap(body: SwapCreate, user: CurrentUser, session: SessionDep) -> Any:
    """Ask for someone else to take an assignment (needs approval)."""
    return service.request_swap(session=session, swap_in=body, actor=user)


@router.post("/swaps/{swap_id}/decision", response_model=SwapRead, responses=_ERRORS)
def decide_swap(swap_id: int, body: SwapDecision, user: CurrentUser, session: SessionDep) -> Any:
    """Approve or reject a swap (not by who asked)."""
    return service.decide_swap(session=session, swap_id=swap_id, approve=body.approve, actor=user)


@router.get("/gaps", response_model=list[GapRead], responses=_ERRORS)
def gaps(
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    unit_id: Annotated[int, Query(ge=1)],
    start: Start = None,
    end: End = None,
) -> Any:
    """Gaps of a unit's roster: uncovered time, shifts without a leader, nobody checked in."""
    start, end = _range(start, end)
    return [
        GapRead.model_validate(g)
        for g in service.find_gaps(
            session=session,
            actor=user,
            unit_id=unit_id,
            start=start,
            end=end,
            check_in_grace_s=settings.duty_check_in_grace_s,
        )
    ]


@router.get("/current", response_model=list[DutyTeamRead], responses=_ERRORS)
def current(
    user: CurrentUser,
    session: SessionDep,
    unit_id: UnitQuery = None,
    at: Annotated[datetime | None, Query(description="ISO 8601 with offset; default now")] = None,
) -> Any:
    """Who is on duty now, per unit, with phone numbers."""
    return [
        DutyTeamRead.model_validate(t)
        for t in service.current_team(session=session, actor=user, at=at, unit_id=unit_id)
    ]


@router.get(
    "/export.xlsx",
    responses={
        **_ERRORS,
        200: {"content": {XLSX: {}}},
    },
)
def export_xlsx(
    user: CurrentUser,
    session: SessionDep,
    unit_id: UnitQuery = None,
    start: Start = None,
    end: End = None,
) -> Response:
    """The roster as an Excel workbook."""
    start, end = _range(start, end)
    shifts = service.list_shifts(session=session, actor=user, unit_id=unit_id, start=start, end=end)
    return download(service.export_xlsx(shifts), XLSX, "duty-roster.xlsx")


@router.get("/export.ics", responses={**_ERRORS, 200: {"content": {"text/calendar": {}}}})
def export_ics(
    user: CurrentUser,
    session: SessionDep,
    unit_id: UnitQuery = None,
    start: Start = None,
    end: End = None,
) -> Response:
    """The roster as an iCalendar file (subscribe in a calendar app)."""
    start, end = _range(start, end)
    shifts = service.list_shifts(session=session, actor=user, unit_id=unit_id, start=start, end=end)
    return download(service.export_ical(shifts), ICALENDAR, "duty-roster.ics")
