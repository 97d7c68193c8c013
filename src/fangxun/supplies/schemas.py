"""Wire shapes of supplies, warehouses, stock, stocktaking, teams and drills."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from fangxun.supplies.models import MovementKind, Readiness, StocktakeStatus

Code = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_.-]+$"
    ),
]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000)]
Lon = Annotated[float, Field(ge=-180, le=180, description="WGS 84 longitude, degrees")]
Lat = Annotated[float, Field(ge=-90, le=90, description="WGS 84 latitude, degrees")]
Count = Annotated[int, Field(gt=0, le=10_000_000, description="Whole items, > 0")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ItemCreate(_Strict):
    """A kind of item in the catalogue."""

    code: Code
    name_zh: Name
    name_en: Name | None = None
    unit_of_measure: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=16)
    ]
    category: Annotated[str, StringConstraints(max_length=64)] | None = None


class ItemRead(BaseModel):
    """A catalogue item as served."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    code: str
    name_zh: str
    name_en: str | None
    unit_of_measure: str
    category: str | None


class WarehouseCreate(_Strict):
    """A warehouse of a unit."""

    code: Code
    name_zh: Name
    unit_id: int = Field(ge=1)
    address: Annotated[str, StringConstraints(max_length=300)] | None = None
    lon: Lon | None = None
    lat: Lat | None = None


class WarehouseRead(BaseModel):
    """A warehouse as served."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    code: str
    name_zh: str
    unit_id: int
    address: str | None
    lon: float | None
    lat: float | None


class ReceiveIn(_Strict):
    """Items arriving in a warehouse (入库)."""

    item_id: int = Field(ge=1)
    quantity: Count
    expires_on: date | None = None
    note: Text | None = None


class IssueIn(_Strict):
    """Items leaving a warehouse for an incident (出库), or coming back from it (归还)."""

    item_id: int = Field(ge=1)
    quantity: Count
    incident_id: int | None = Field(default=None, ge=1)
    note: Text | None = None


class QuotaIn(_Strict):
    """The reserve standard of an item in a warehouse."""

    item_id: int = Field(ge=1)
    quantity: int = Field(ge=0, le=10_000_000)


class StockRead(BaseModel):
    """Stock of an item in a warehouse, with its quota."""

    model_config = ConfigDict(from_attributes=True)

    warehouse_id: int
    item_id: int
    item_code: str
    item_name: str
    unit_of_measure: str
    quantity: int
    quota: int | None
    expires_on: date | None


class MovementRead(BaseModel):
    """A stock movement as served."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    warehouse_id: int
    item_id: int
    kind: MovementKind
    delta: int
    incident_id: int | None
    stocktake_id: int | None
    at: datetime
    actor_username: str
    note: str | None


class ShortageRead(BaseModel):
    """An item held below its quota (查漏补缺)."""

    model_config = ConfigDict(from_attributes=True)

    warehouse_id: int
    warehouse_name: str
    unit_id: int
    item_id: int
    item_name: str
    unit_of_measure: str
    quota: int
    quantity: int
    shortfall: int


class CountIn(_Strict):
    """Counted quantities of a stocktake, by item id."""

    counts: dict[int, Annotated[int, Field(ge=0, le=10_000_000)]] = Field(min_length=1)


class StocktakeLineRead(BaseModel):
    """One line of a stocktake: book, counted and the difference."""

    model_config = ConfigDict(from_attributes=True)

    item_id: int
    book_quantity: int
    counted_quantity: int | None
    difference: int | None


class StocktakeRead(BaseModel):
    """A stocktaking session as served."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    warehouse_id: int
    status: StocktakeStatus
    started_at: datetime
    started_by: str
    approved_at: datetime | None
    approved_by: str | None
    lines: list[StocktakeLineRead]


class TeamCreate(_Strict):
    """An emergency team of a unit."""

    unit_id: int = Field(ge=1)
    name: Name
    specialty: Annotated[str, StringConstraints(max_length=100)] | None = None
    readiness: Readiness = Readiness.standby
    equipment: list[Annotated[str, StringConstraints(max_length=200)]] = Field(
        default_factory=list, max_length=100
    )
    leader_person_id: int | None = Field(default=None, ge=1)
    phone: Annotated[str, StringConstraints(max_length=32)] | None = None


class TeamMemberIn(_Strict):
    """A person joining a team, with skills."""

    person_id: int = Field(ge=1)
    skills: list[Annotated[str, StringConstraints(max_length=100)]] = Field(
        default_factory=list, max_length=50
    )


class ReadinessIn(_Strict):
    """A change of a team's readiness."""

    readiness: Readiness


class TeamMemberRead(BaseModel):
    """A team member as served."""

    model_config = ConfigDict(from_attributes=True)

    person_id: int
    skills: list[str]


class TeamRead(BaseModel):
    """A team as served."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    unit_id: int
    name: str
    specialty: str | None
    readiness: Readiness
    equipment: list[str]
    leader_person_id: int | None
    phone: str | None
    members: list[TeamMemberRead]


class FindingIn(_Strict):
    """A finding of a drill; ``needs_rectification`` opens a rectification with owner, deadline."""

    description: Text
    needs_rectification: bool = False
    owner_person_id: int | None = Field(default=None, ge=1)
    deadline: date | None = None
    #: A finding about a hazard point opens its rectification in the hazard ledger (整改销号).
    hazard_point_id: int | None = Field(default=None, ge=1)
    #: What to do; defaults to the description.
    measure: Text | None = None


class DrillCreate(_Strict):
    """A drill held by a unit."""

    unit_id: int = Field(ge=1)
    held_on: date
    scenario: Text
    team_ids: list[int] = Field(default_factory=list, max_length=50)
    participants: int = Field(default=0, ge=0, le=100_000)
    findings: list[FindingIn] = Field(default_factory=list, max_length=100)


class FindingRead(BaseModel):
    """A drill finding as served."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    description: str
    needs_rectification: bool
    owner_person_id: int | None
    deadline: date | None
    closed_at: datetime | None
    hazard_point_id: int | None = None
    rectification_id: int | None = None


class DrillAttachmentRead(BaseModel):
    """A drill's photo or document as served (the file at its own URL)."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    filename: str
    content_type: str
    size_bytes: int
    uploaded_by: str
    created_at: datetime


class DrillRead(BaseModel):
    """A drill as served."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    unit_id: int
    held_on: date
    scenario: str
    team_ids: list[int]
    participants: int
    findings: list[FindingRead]
    attachments: list[DrillAttachmentRead] = Field(default_factory=list)
