"""Wire shapes of the duty roster (``XCreate``, ``XRead``); times ISO 8601 with an offset."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from fangxun.duty.models import DutyRole, SwapStatus

Note = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AssignmentIn(_Strict):
    """A person on a shift."""

    person_id: int = Field(ge=1)
    role: DutyRole = DutyRole.member


class ShiftCreate(_Strict):
    """A new shift of a unit with its people (one of them normally the leader)."""

    unit_id: int = Field(ge=1)
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    assignments: list[AssignmentIn] = Field(default_factory=list, max_length=50)


class AssignmentRead(BaseModel):
    """A person on a shift as served."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    shift_id: int
    person_id: int
    person_name: str
    person_phone: str | None
    role: DutyRole
    checked_in_at: datetime | None


class ShiftRead(BaseModel):
    """A shift with its people."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    unit_id: int
    starts_at: datetime
    ends_at: datetime
    handover_note: str | None
    handed_over_at: datetime | None
    handed_over_by: str | None
    assignments: list[AssignmentRead]


class RotationCreate(_Strict):
    """A rotation template: people in turn order and how a day is cut into shifts."""

    unit_id: int = Field(ge=1)
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    shift_hours: int = Field(default=24, description="Hours per shift; 24, 12, 8 or 6")
    first_shift_hour: int = Field(default=8, ge=0, le=23, description="Local hour, Asia/Shanghai")
    members_per_shift: int = Field(default=2, ge=0, le=20)
    leader_ids: list[int] = Field(min_length=1, max_length=100)
    member_ids: list[int] = Field(default_factory=list, max_length=500)


class RotationRead(BaseModel):
    """A rotation template as served."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    unit_id: int
    name: str
    shift_hours: int
    first_shift_hour: int
    members_per_shift: int
    leader_ids: list[int]
    member_ids: list[int]


class FillMonth(_Strict):
    """Fill a calendar month (local time) with shifts from a rotation."""

    year: int = Field(ge=2000, le=2100)
    month: int = Field(ge=1, le=12)


class HandoverIn(_Strict):
    """The handover note at the end of a shift."""

    note: Note


class SwapCreate(_Strict):
    """Ask to hand an assignment to someone else."""

    assignment_id: int = Field(ge=1)
    replacement_person_id: int = Field(ge=1)
    reason: Note | None = None


class SwapDecision(_Strict):
    """Approve or reject a swap."""

    approve: bool


class SwapRead(BaseModel):
    """A swap request as served."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    assignment_id: int
    replacement_person_id: int
    reason: str | None
    status: SwapStatus
    requested_by: str
    requested_at: datetime
    decided_by: str | None
    decided_at: datetime | None


class GapRead(BaseModel):
    """A hole in the roster: ``kind`` is ``uncovered``, ``no_leader`` or ``no_check_in``."""

    model_config = ConfigDict(from_attributes=True)

    kind: str
    unit_id: int
    starts_at: datetime
    ends_at: datetime
    shift_id: int | None
    detail: str


class DutyMember(BaseModel):
    """One person of the current duty team, with how to reach them."""

    model_config = ConfigDict(from_attributes=True)

    person_id: int
    name: str
    phone: str | None
    email: str | None
    role: DutyRole
    checked_in: bool


class DutyTeamRead(BaseModel):
    """Who is on duty now for a unit."""

    model_config = ConfigDict(from_attributes=True)

    unit_id: int
    unit_name: str
    shift_id: int
    starts_at: datetime
    ends_at: datetime
    leader: DutyMember | None
    members: list[DutyMember]
