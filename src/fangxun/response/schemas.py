"""Wire shapes of emergency response (``XCreate``, ``XUpdate``, ``XRead``); times ISO 8601 with an
offset."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from fangxun.response.models import (
    ActivationStatus,
    ChangeStatus,
    ChangeType,
    ResponseLevel,
    TaskStatus,
)

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PlanActionIn(_Strict):
    """One action of a plan: at ``level``, the department does ``action``."""

    level: ResponseLevel
    department_id: int = Field(ge=1)
    action: Text
    sort_order: int = Field(default=0, ge=0, le=10_000)
    requires_confirmation: bool = True


class PlanCreate(_Strict):
    """A new contingency plan (预案) of a district unit with its actions."""

    unit_id: int = Field(ge=1)
    name: Name
    description: Text | None = None
    is_active: bool = False
    actions: list[PlanActionIn] = Field(default_factory=list, max_length=500)


#: A plain value in a plan file (text, number, yes/no or empty); never a list or mapping.
PlanFileValue = Annotated[str | int | float | bool | None, Field(union_mode="smart")]


class PlanFileAction(_Strict):
    """One action row of a JSON/YAML plan file, before its values are interpreted (level names,
    department codes, yes/no words: see ``response.service.import_plan``)."""

    level: PlanFileValue = None
    department: PlanFileValue = None
    action: PlanFileValue = None
    sort_order: PlanFileValue = None
    requires_confirmation: PlanFileValue = True


class PlanFile(_Strict):
    """The shape of a JSON/YAML contingency-plan file: ``{name, description?, actions: [...]}``."""

    name: PlanFileValue = None
    description: PlanFileValue = None
    actions: list[PlanFileAction] = Field(max_length=10_000)


class PlanUpdate(_Strict):
    """Change a plan; ``actions``, when given, replace every action of the plan."""

    name: Name | None = None
    description: Text | None = None
    is_active: bool | None = None
    actions: list[PlanActionIn] | None = Field(default=None, max_length=500)


class PlanActionRead(BaseModel):
    """A plan action as served."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    level: ResponseLevel
    department_id: int
    department_name: str
    action: str
    sort_order: int
    requires_confirmation: bool


class PlanRead(BaseModel):
    """A contingency plan with its actions."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    unit_id: int
    name: str
    description: str | None
    is_active: bool
    actions: list[PlanActionRead]
    created_at: datetime
    updated_at: datetime


class LevelDecision(_Strict):
    """Start, raise or lower the response to ``level`` by decision, with the reason."""

    level: ResponseLevel
    reason: Text
    unit_id: int | None = Field(default=None, ge=1, description="District unit; default: the root")


class StandDown(_Strict):
    """End the response (stand-down) by decision, with the reason."""

    reason: Text
    unit_id: int | None = Field(default=None, ge=1)


class ProposalDecision(_Strict):
    """Confirm or reject a rule's proposal."""

    confirm: bool
    reason: Text | None = None


class ActivationRead(BaseModel):
    """A response activation as served."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    unit_id: int | None
    plan_id: int | None
    level: ResponseLevel
    status: ActivationStatus
    started_at: datetime
    started_by: str
    rule: str | None
    reason: str | None
    source_ref: str | None
    ended_at: datetime | None
    ended_by: str | None
    end_reason: str | None
    checklist_levels: list[str]


class LevelChangeRead(BaseModel):
    """A level change (applied) or a proposal (waiting, rejected, superseded)."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    unit_id: int | None
    activation_id: int | None
    change_type: ChangeType
    from_level: ResponseLevel | None
    to_level: ResponseLevel | None
    status: ChangeStatus
    at: datetime
    actor: str
    rule: str | None
    reason: str | None
    source_ref: str | None
    decided_by: str | None
    decided_at: datetime | None


class TaskUpdate(_Strict):
    """Move a task on: ``confirmed``, ``done`` or ``not_applicable`` (with a note why)."""

    status: TaskStatus
    note: Text | None = None


class TaskRead(BaseModel):
    """A checklist task as served."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    activation_id: int | None
    level: ResponseLevel | None
    plan_action_id: int | None
    hazard_point_id: int | None
    point_plan_id: int | None
    measure_index: int | None
    unit_id: int
    unit_name: str
    person_id: int | None
    person_name: str | None
    sort_order: int
    action: str
    details: dict[str, Any]
    requires_confirmation: bool
    status: TaskStatus
    source_ref: str | None
    confirmed_by: str | None
    confirmed_at: datetime | None
    done_by: str | None
    done_at: datetime | None
    note: str | None
    created_at: datetime
    updated_at: datetime


class StatusRead(BaseModel):
    """The response now: the current activation, waiting proposals and task counts by status."""

    activation: ActivationRead | None
    proposals: list[LevelChangeRead]
    task_counts: dict[str, int]
