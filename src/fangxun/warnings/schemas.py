"""Warning request and response shapes (times ISO 8601 with offset; evidence as recorded)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from fangxun.warnings.models import (
    ChangeType,
    Colour,
    Origin,
    ProposalStatus,
    WarningKind,
    WarningPurpose,
    WarningStatus,
)


class WarningIssue(BaseModel):
    """Issue a warning by hand. The subject follows from ``kind`` and the id it needs:
    ``hazard_point_id`` for ponding and predicted ponding, ``datastream_id`` for a river level,
    ``station_id`` for a pump failure or a stale sensor; a rainstorm signal is district-wide."""

    model_config = ConfigDict(extra="forbid")
    kind: WarningKind
    colour: Colour
    reason: str = Field(min_length=1, max_length=2000)
    hazard_point_id: int | None = None
    datastream_id: int | None = None
    station_id: int | None = None


class WarningChangeIn(BaseModel):
    """Change a warning's colour by hand (or restate it: same colour = ``update``)."""

    model_config = ConfigDict(extra="forbid")
    colour: Colour
    reason: str = Field(min_length=1, max_length=2000)


class WarningLiftIn(BaseModel):
    """Lift a warning by hand."""

    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=2000)


class WarningChangeRead(BaseModel):
    """One change of a warning and its CAP alert's identifier."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    warning_id: int
    change_type: ChangeType
    from_colour: Colour | None
    to_colour: Colour | None
    at: datetime
    actor: str
    reason: str | None
    evidence: dict[str, Any] | None
    cap_identifier: str | None


class WarningRead(BaseModel):
    """A warning as it stands."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    subject: str
    kind: WarningKind
    colour: Colour
    status: WarningStatus
    origin: Origin
    #: operational (live) or exercise (a drill's, CAP status Exercise).
    purpose: WarningPurpose = WarningPurpose.operational
    drill_id: int | None = None
    unit_id: int | None
    hazard_point_id: int | None
    datastream_id: int | None
    station_id: int | None
    place: str | None
    evidence: dict[str, Any] | None
    issued_at: datetime
    changed_at: datetime
    lifted_at: datetime | None


class WarningDetail(WarningRead):
    """A warning with its whole history."""

    changes: list[WarningChangeRead]


class EvaluationRead(BaseModel):
    """What one evaluation of the rules changed."""

    evaluated_at: datetime
    changes: list[WarningChangeRead]


class ProposalRead(BaseModel):
    """A forecast run's predicted-ponding changes waiting for (or past) approval, with what
    changed since the last approved run."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    forecast_run_id: int | None
    status: ProposalStatus
    created_at: datetime
    updated_at: datetime
    deadline_at: datetime
    items: list[dict[str, Any]]
    diff: list[dict[str, Any]] | None
    decided_at: datetime | None
    decided_by: str | None
    decision_note: str | None
    applied_change_ids: list[int] | None
    escalated_at: datetime | None
    escalation_note: str | None
    supersedes_id: int | None


class ProposalApproveIn(BaseModel):
    """Approve a proposal (an optional note goes into the changes' reason and the audit)."""

    model_config = ConfigDict(extra="forbid")
    note: str | None = Field(default=None, max_length=2000)


class ProposalRejectIn(BaseModel):
    """Reject a proposal, with a reason."""

    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=2000)
