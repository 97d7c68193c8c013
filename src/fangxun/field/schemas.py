"""Wire shapes of field work: river reaches, patrol plans, patrols with their track and findings,
and the answer to a submission sent with a client key."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from fangxun.field.models import SubmissionOutcome

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=5000)]
Lon = Annotated[float, Field(ge=-180.0, le=180.0, description="WGS 84 longitude, degrees")]
Lat = Annotated[float, Field(ge=-90.0, le=90.0, description="WGS 84 latitude, degrees")]
#: Most fixes one patrol may send (one a second for 12 h).
MAX_TRACK_FIXES = 43_200


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TrackFix(_Strict):
    """One position from ``navigator.geolocation.watchPosition``."""

    lon: Lon
    lat: Lat
    #: Horizontal accuracy the phone reported, m.
    accuracy_m: Annotated[float, Field(ge=0.0, le=100_000.0)] | None = None


class PatrolFindingIn(_Strict):
    """Something seen on the patrol, pinned where it was seen."""

    lon: Lon
    lat: Lat
    note: Text
    hazard_point_id: int | None = Field(default=None, ge=1)


class PatrolCreate(_Strict):
    """A patrol walked: the raw fixes (thinned by the server), when, and the findings."""

    plan_id: int | None = Field(default=None, ge=1)
    unit_id: int | None = Field(default=None, ge=1, description="Needed without a plan")
    started_at: AwareDatetime
    ended_at: AwareDatetime
    track: list[TrackFix] = Field(min_length=2, max_length=MAX_TRACK_FIXES)
    notes: Text | None = None
    findings: list[PatrolFindingIn] = Field(default_factory=list, max_length=200)


class PatrolFindingRead(BaseModel):
    """A finding as served; ``photo_url`` when it has a photo."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    lon: float
    lat: float
    note: str
    hazard_point_id: int | None
    has_photo: bool = False


class PatrolRead(BaseModel):
    """A patrol as served: the thinned track as a GeoJSON LineString."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    unit_id: int
    plan_id: int | None
    started_at: datetime
    ended_at: datetime
    track: dict[str, Any]
    raw_points: int
    length_m: float
    notes: str | None
    recorded_by: str
    findings: list[PatrolFindingRead]


class ReachCreate(_Strict):
    """A river reach: a line along which people patrol."""

    code: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32)]
    name: Name
    river: Name
    unit_id: int = Field(ge=1)
    coordinates: list[tuple[Lon, Lat]] = Field(min_length=2, max_length=10_000)


class ReachRead(BaseModel):
    """A river reach as served."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    code: str
    name: str
    river: str
    unit_id: int
    line: dict[str, Any]
    length_m: float


class PatrolPlanCreate(_Strict):
    """Which reach or route is patrolled, how often (s) and by whom."""

    name: Name
    unit_id: int = Field(ge=1)
    reach_id: int | None = Field(default=None, ge=1)
    assignee_person_id: int | None = Field(default=None, ge=1)
    interval_s: Annotated[int, Field(ge=3600, le=366 * 86400)]
    starts_at: AwareDatetime
    active: bool = True


class PatrolPlanRead(BaseModel):
    """A patrol plan as served."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    unit_id: int
    reach_id: int | None
    assignee_person_id: int | None
    interval_s: int
    starts_at: datetime
    active: bool


class OverduePatrol(BaseModel):
    """A patrol plan whose next patrol is due and not walked."""

    plan_id: int
    plan_name: str
    unit_id: int
    reach_name: str | None
    last_patrolled_at: datetime | None
    due_at: datetime
    #: How long past due, s.
    overdue_s: int


class SubmissionResult(BaseModel):
    """The server's answer to a queued submission: what became of its client key."""

    key: str
    outcome: SubmissionOutcome
    #: True when the key had been seen before: nothing new was made.
    duplicate: bool = False
    message: str = ""
    result_url: str | None = None
