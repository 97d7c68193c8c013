"""Wire shapes of consultation briefings and their decision tasks."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from fangxun.briefings.models import TaskStatus


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BriefingCreate(_Strict):
    """Generate a briefing; ``as_of`` defaults to now. ``unit_id``: a briefing for one unit's
    jurisdiction (its content is what that unit may see; that unit's logins read it); unset: the
    whole district (read only by district-wide roles)."""

    title: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] | None = None
    as_of: AwareDatetime | None = None
    unit_id: int | None = Field(default=None, ge=1)


class TaskCreate(_Strict):
    """A decision of the meeting, the person who carries it out and by when."""

    decision: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000)
    ]
    owner_person_id: int = Field(ge=1)
    deadline: AwareDatetime


class TaskRead(BaseModel):
    """A decision task as served."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    briefing_id: int
    decision: str
    owner_person_id: int
    deadline: datetime
    status: TaskStatus
    done_at: datetime | None


class BriefingRead(BaseModel):
    """A briefing with its sections and tasks."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    title: str
    as_of: datetime
    created_at: datetime
    created_by: str
    #: The jurisdiction the briefing was gathered for (None: the whole district).
    unit_id: int | None = None
    content: dict[str, Any]
    tasks: list[TaskRead]
