"""Wire shapes of the hazard ledger (``XCreate``, ``XUpdate``, ``XRead``).

Ponding depths are centimetres here (people write them that way); the service converts them to
metres once. Times are ISO 8601 with an offset; a naive time is refused.
"""

from __future__ import annotations

import itertools
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from fangxun import geo
from fangxun.hazards.models import (
    HazardKind,
    PlanStatus,
    PointStatus,
    RectificationStatus,
    RiskLevel,
)

Code = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_.-]+$"
    ),
]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=5000)]
Lon = Annotated[float, Field(ge=-180.0, le=180.0, description="WGS 84 longitude, degrees")]
Lat = Annotated[float, Field(ge=-90.0, le=90.0, description="WGS 84 latitude, degrees")]
#: A ponding depth in cm (0 < d ≤ 1000).
DepthCm = Annotated[float, Field(gt=0.0, le=1000.0)]
Colour = Literal["blue", "yellow", "orange", "red"]
COLOURS: tuple[Colour, ...] = ("blue", "yellow", "orange", "red")


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("give a time zone offset, e.g. 2026-07-20T16:00:00+08:00")
    return value


AwareDatetime = Annotated[datetime, AfterValidator(_aware)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Thresholds(_Strict):
    """Ponding thresholds, cm: blue < yellow < orange < red."""

    blue: DepthCm
    yellow: DepthCm
    orange: DepthCm
    red: DepthCm

    @model_validator(mode="after")
    def _rising(self) -> Thresholds:
        values = [self.blue, self.yellow, self.orange, self.red]
        if any(b <= a for a, b in itertools.pairwise(values)):
            raise ValueError("thresholds must rise: blue < yellow < orange < red")
        return self


def _check_polygon(value: dict[str, Any] | None) -> dict[str, Any] | None:
    # The one geometry check of every input (API, forms, imports): fangxun.geo.
    return None if value is None else geo.check_polygon(value)


PolygonGeometry = Annotated[dict[str, Any] | None, AfterValidator(_check_polygon)]


# --- hazard points -----------------------------------------------------------------------------


class HazardPointCreate(_Strict):
    """A new hazard point. ``thresholds_cm`` defaults to the configured values of its kind."""

    code: Code
    name: Name
    kind: HazardKind
    lon: Lon
    lat: Lat
    polygon: PolygonGeometry = None
    address: Name | None = None
    description: Text | None = None
    unit_id: int
    responsible_person_id: int | None = None
    deputy_person_id: int | None = None
    risk_level: RiskLevel = RiskLevel.medium
    thresholds_cm: Thresholds | None = None
    status: PointStatus = PointStatus.active


class HazardPointUpdate(_Strict):
    """Fields to change on a point; omitted fields stay as they are."""

    code: Code | None = None
    name: Name | None = None
    kind: HazardKind | None = None
    lon: Lon | None = None
    lat: Lat | None = None
    polygon: PolygonGeometry = None
    address: Name | None = None
    description: Text | None = None
    unit_id: int | None = None
    responsible_person_id: int | None = None
    deputy_person_id: int | None = None
    risk_level: RiskLevel | None = None
    thresholds_cm: Thresholds | None = None
    status: PointStatus | None = None


class HazardPointRead(BaseModel):
    """A point as served, with its open and overdue rectification counts."""

    id: int
    code: str
    name: str
    kind: HazardKind
    lon: float
    lat: float
    polygon: dict[str, Any] | None
    address: str | None
    description: str | None
    unit_id: int
    responsible_person_id: int | None
    deputy_person_id: int | None
    risk_level: RiskLevel
    thresholds_cm: Thresholds
    status: PointStatus
    open_rectifications: int = 0
    overdue_rectifications: int = 0
    created_at: datetime
    updated_at: datetime
    #: Send it back as ``If-Match: "<version>"`` (it is also the ETag) to refuse lost updates.
    version: int = 1


class AttachmentRead(BaseModel):
    """An uploaded photo or document; ``sha256`` names the stored file."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    point_id: int
    inspection_id: int | None
    rectification_id: int | None
    sha256: str
    filename: str
    content_type: str
    size_bytes: int
    uploaded_by: str
    created_at: datetime


# --- point plans -------------------------------------------------------------------------------


class Trigger(_Strict):
    """When a measure starts: a warning colour, a ponding depth (cm) or a rain amount (mm in h)."""

    colour: Colour | None = None
    ponding_cm: DepthCm | None = None
    rain_mm: Annotated[float, Field(gt=0.0, le=2000.0)] | None = None
    rain_window_h: Annotated[float, Field(gt=0.0, le=72.0)] | None = None

    @model_validator(mode="after")
    def _something(self) -> Trigger:
        if self.colour is None and self.ponding_cm is None and self.rain_mm is None:
            raise ValueError("a trigger needs a colour, a ponding depth or a rain amount")
        if self.rain_mm is not None and self.rain_window_h is None:
            raise ValueError("a rain amount needs its window (rain_window_h)")
        return self


class Measure(_Strict):
    """What to do, who leads it, with which team, equipment and supplies."""

    action: Text
    responsible_person_id: int | None = None
    team: Name | None = None
    equipment: list[Name] = Field(default_factory=list)
    supplies: list[Name] = Field(default_factory=list)


class PointPlanCreate(_Strict):
    """A new version of a point's plan (一点一策); it starts as a draft."""

    title: Name
    triggers: list[Trigger] = Field(min_length=1)
    measures: list[Measure] = Field(min_length=1)
    #: Closing a rectification of the point needs photo evidence (once this plan is approved).
    close_needs_evidence: bool = False


class PointPlanRead(BaseModel):
    """One version of a point plan."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    point_id: int
    version: int
    title: str
    triggers: list[dict[str, Any]]
    measures: list[dict[str, Any]]
    status: PlanStatus
    close_needs_evidence: bool = False
    approved_by_id: int | None
    approved_by_name: str | None
    approved_at: datetime | None
    created_at: datetime


# --- inspections -------------------------------------------------------------------------------


class InspectionPlanCreate(_Strict):
    """Which points, how often (``interval_s``, s), by whom, from when."""

    name: Name
    unit_id: int
    point_ids: list[int] = Field(min_length=1)
    inspector_person_id: int | None = None
    interval_s: Annotated[int, Field(ge=3600, le=366 * 86400)]
    starts_at: AwareDatetime
    active: bool = True


class InspectionPlanUpdate(_Strict):
    """Fields to change on an inspection plan."""

    name: Name | None = None
    point_ids: list[int] | None = None
    inspector_person_id: int | None = None
    interval_s: Annotated[int, Field(ge=3600, le=366 * 86400)] | None = None
    active: bool | None = None


class InspectionPlanRead(BaseModel):
    """An inspection plan as served."""

    id: int
    name: str
    unit_id: int
    point_ids: list[int]
    inspector_person_id: int | None
    interval_s: int
    starts_at: datetime
    active: bool


class ChecklistItem(_Strict):
    """One answer of an inspection checklist."""

    item: Name
    ok: bool
    note: Text | None = None


class InspectionRecordCreate(_Strict):
    """An inspection or patrol of a point."""

    point_id: int
    plan_id: int | None = None
    inspected_at: AwareDatetime
    inspector_person_id: int | None = None
    gps_lon: Lon | None = None
    gps_lat: Lat | None = None
    checklist: list[ChecklistItem] = Field(default_factory=list)
    notes: Text | None = None
    has_finding: bool | None = None

    @model_validator(mode="after")
    def _gps_pair(self) -> InspectionRecordCreate:
        if (self.gps_lon is None) != (self.gps_lat is None):
            raise ValueError("give both gps_lon and gps_lat, or neither")
        return self


class InspectionRecordRead(BaseModel):
    """An inspection record as served."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    point_id: int
    plan_id: int | None
    inspected_at: datetime
    inspector_person_id: int | None
    recorded_by: str
    gps_lon: float | None
    gps_lat: float | None
    checklist: list[dict[str, Any]]
    notes: str | None
    has_finding: bool


class OverdueInspection(BaseModel):
    """A point of an active plan whose next inspection is past due."""

    plan_id: int
    plan_name: str
    unit_id: int
    point_id: int
    point_code: str
    point_name: str
    last_inspected_at: datetime | None
    due_at: datetime
    #: How long past due, s.
    overdue_s: int


# --- rectifications ----------------------------------------------------------------------------

RectificationAction = Literal["start", "submit", "verify", "reject", "resume", "close"]


class RectificationCreate(_Strict):
    """Open a rectification for a finding."""

    point_id: int
    inspection_id: int | None = None
    finding: Text
    measure: Text
    deadline: AwareDatetime
    responsible_person_id: int


class RectificationTransition(_Strict):
    """Move a rectification; every move needs a comment."""

    action: RectificationAction
    comment: Text


class RectificationEventRead(BaseModel):
    """One transition as served."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    action: str
    from_status: str | None
    to_status: str
    comment: str
    actor_username: str
    at: datetime


class RectificationRead(BaseModel):
    """A rectification with its overdue flag and history."""

    id: int
    point_id: int
    unit_id: int
    inspection_id: int | None
    finding: str
    measure: str
    deadline: datetime
    responsible_person_id: int
    status: RectificationStatus
    overdue: bool
    closed_at: datetime | None
    created_at: datetime
    updated_at: datetime
    events: list[RectificationEventRead] = Field(default_factory=list)
    #: Send it back as ``If-Match`` (API) or the form's ``version`` to refuse lost updates.
    version: int = 1


# --- statistics and import ---------------------------------------------------------------------


class LedgerStatRow(BaseModel):
    """Ledger figures for one unit and kind."""

    unit_id: int
    unit_code: str
    unit_name: str
    kind: HazardKind
    points: int
    active_points: int
    open_rectifications: int
    overdue_rectifications: int
    inspected_points: int
    #: Share of active points inspected within the window, 0–1 (None without active points).
    inspection_coverage: float | None


class LedgerStats(BaseModel):
    """Ledger statistics per unit and kind, and the inspection window they use (s)."""

    window_s: int
    rows: list[LedgerStatRow]


class ImportReport(BaseModel):
    """What an import did (it writes everything or nothing)."""

    created: int
    updated: int
    unchanged: int


class ImportJobRead(BaseModel):
    """An import running in the background: poll ``GET /hazard-points/import-jobs/{id}`` until
    ``status`` is ``done`` (``report``) or ``failed`` (``message``, the first ``problems`` as
    ``{"loc": ["row", n, column], "msg"}``, and ``problem_count`` in all)."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    status: Literal["queued", "running", "done", "failed"]
    filename: str
    size_bytes: int
    progress: float
    rows: int | None
    report: ImportReport | None
    problems: list[dict[str, Any]] | None
    problem_count: int
    message: str | None
    created_by: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class ImportProblem(BaseModel):
    """One bad cell: ``row`` is the spreadsheet row or the 1-based feature number."""

    row: int
    column: str
    reason: str

    @field_validator("reason")
    @classmethod
    def _nonempty(cls, value: str) -> str:
        return value or "invalid"
