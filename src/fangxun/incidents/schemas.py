"""Wire shapes of incidents: reports (by users and by the public), transitions, the timeline,
response-time figures."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from fangxun.incidents.models import IncidentKind, IncidentStatus, ReportSource, Severity

Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000)]
Place = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
Phone = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=3, max_length=32, pattern=r"^\+?[0-9 ()-]+$"
    ),
]
Lon = Annotated[float, Field(ge=-180, le=180, description="WGS 84 longitude, degrees")]
Lat = Annotated[float, Field(ge=-90, le=90, description="WGS 84 latitude, degrees")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class IncidentCreate(_Strict):
    """A report by a logged-in user."""

    unit_id: int = Field(ge=1, description="The unit whose jurisdiction the place is in")
    kind: IncidentKind
    severity: Severity = Severity.moderate
    title: Title
    description: Text | None = None
    location_text: Place | None = None
    lon: Lon | None = None
    lat: Lat | None = None
    hazard_point_id: int | None = Field(default=None, ge=1)
    reporter_name: Annotated[str, StringConstraints(max_length=100)] | None = None
    reporter_phone: Phone | None = None
    reported_at: AwareDatetime | None = Field(
        default=None, description="When the danger was reported, if earlier than now"
    )


class PublicReport(_Strict):
    """A report through the public form: no login, fewer fields, rate limited."""

    kind: IncidentKind
    title: Title
    description: Text | None = None
    location_text: Place
    lon: Lon | None = None
    lat: Lat | None = None
    reporter_name: (
        Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)] | None
    ) = None
    reporter_phone: Phone


class TransitionIn(_Strict):
    """Move an incident on. ``team_id`` is required to dispatch; ``at`` defaults to now."""

    to_status: IncidentStatus
    team_id: int | None = Field(default=None, ge=1)
    note: Text | None = None
    at: AwareDatetime | None = None


class NoteIn(_Strict):
    """A note on the timeline that does not change the state."""

    note: Text


class EventRead(BaseModel):
    """One step of the timeline."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    at: datetime
    actor_username: str
    from_status: str | None
    to_status: str | None
    note: str | None


class PhotoRead(BaseModel):
    """A photo's metadata."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    filename: str
    content_type: str
    size_bytes: int
    uploaded_at: datetime


class IncidentRead(BaseModel):
    """An incident with its timeline and response times (s)."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    unit_id: int
    kind: IncidentKind
    severity: Severity
    status: IncidentStatus
    title: str
    description: str | None
    location_text: str | None
    lon: float | None
    lat: float | None
    hazard_point_id: int | None
    source: ReportSource
    reporter_name: str | None
    team_id: int | None
    reported_at: datetime
    dispatched_at: datetime | None
    on_site_at: datetime | None
    controlled_at: datetime | None
    closed_at: datetime | None
    #: Send it back as ``If-Match: "<version>"`` (it is also the ETag) to refuse lost updates.
    version: int = 1
    dispatch_s: float | None
    arrival_s: float | None
    events: list[EventRead]
    photos: list[PhotoRead]


class PublicReceipt(BaseModel):
    """What the public gets back: a reference number, nothing else."""

    reference: int
    status: IncidentStatus


class ResponseStats(BaseModel):
    """Response-time figures over incidents, s: report → dispatch, report → on site."""

    model_config = ConfigDict(from_attributes=True)

    incidents: int
    dispatched: int
    on_site: int
    dispatch_mean_s: float | None
    dispatch_median_s: float | None
    dispatch_p90_s: float | None
    arrival_mean_s: float | None
    arrival_median_s: float | None
    arrival_p90_s: float | None
