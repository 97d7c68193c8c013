"""HTTP routes of supplies, warehouses, stocktaking, teams and drills: parse, call, render."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, UploadFile
from fastapi.responses import FileResponse

from fangxun.api.deps import CurrentUser, SessionDep, SettingsDep
from fangxun.api.problems import error_responses
from fangxun.hazards.attachments import MAX_ATTACHMENT_BYTES
from fangxun.supplies import service
from fangxun.supplies.models import Readiness
from fangxun.supplies.schemas import (
    CountIn,
    DrillAttachmentRead,
    DrillCreate,
    DrillRead,
    FindingRead,
    IssueIn,
    ItemCreate,
    ItemRead,
    MovementRead,
    QuotaIn,
    ReadinessIn,
    ReceiveIn,
    ShortageRead,
    StockRead,
    StocktakeRead,
    TeamCreate,
    TeamMemberIn,
    TeamMemberRead,
    TeamRead,
    WarehouseCreate,
    WarehouseRead,
)

router = APIRouter(prefix="/supplies", tags=["supplies"])

_ERRORS = error_responses(401, 403, 404, 409, s409="Not enough stock, or a conflicting state")


@router.get("/items", response_model=list[ItemRead], responses=_ERRORS)
def list_items(user: CurrentUser, session: SessionDep) -> Any:
    """The item catalogue."""
    return service.list_items(session=session)


@router.post("/items", response_model=ItemRead, status_code=201, responses=_ERRORS)
def create_item(body: ItemCreate, user: CurrentUser, session: SessionDep) -> Any:
    """Add a kind of item."""
    return service.create_item(session=session, item_in=body, actor=user)


@router.get("/warehouses", response_model=list[WarehouseRead], responses=_ERRORS)
def list_warehouses(user: CurrentUser, session: SessionDep) -> Any:
    """Warehouses in your jurisdiction."""
    return service.list_warehouses(session=session, actor=user)


@router.post("/warehouses", response_model=WarehouseRead, status_code=201, responses=_ERRORS)
def create_warehouse(body: WarehouseCreate, user: CurrentUser, session: SessionDep) -> Any:
    """Add a warehouse."""
    return service.create_warehouse(session=session, warehouse_in=body, actor=user)


@router.get("/warehouses/{warehouse_id}/stock", response_model=list[StockRead], responses=_ERRORS)
def stock(warehouse_id: int, user: CurrentUser, session: SessionDep) -> Any:
    """Stock and quotas of a warehouse."""
    return [
        StockRead.model_validate(line)
        for line in service.stock_of(session=session, warehouse_id=warehouse_id, actor=user)
    ]


@router.post(
    "/warehouses/{warehouse_id}/receive",
    response_model=MovementRead,
    status_code=201,
    responses=_ERRORS,
)
def receive(warehouse_id: int, body: ReceiveIn, user: CurrentUser, session: SessionDep) -> Any:
    """Items arriving (入库)."""
    return service.receive(session=session, warehouse_id=warehouse_id, receive_in=body, actor=user)


@router.post(
    "/warehouses/{warehouse_id}/issue",
    response_model=MovementRead,
    status_code=201,
    responses=_ERRORS,
)
def issue(warehouse_id: int, body: IssueIn, user: CurrentUser, session: SessionDep) -> Any:
    """Items leaving, for an incident when named (出库); 409 when not enough are held."""
    return service.issue(session=session, warehouse_id=warehouse_id, issue_in=body, actor=user)


@router.post(
    "/warehouses/{warehouse_id}/return",
    response_model=MovementRead,
    status_code=201,
    responses=_ERRORS,
)
def return_items(warehouse_id: int, body: IssueIn, user: CurrentUser, session: SessionDep) -> Any:
    """Issued items coming back (归还)."""
    return service.return_items(
        session=session, warehouse_id=warehouse_id, return_in=body, actor=user
    )


@router.put("/warehouses/{warehouse_id}/quotas", status_code=204, responses=_ERRORS)
def set_quota(warehouse_id: int, body: QuotaIn, user: CurrentUser, session: SessionDep) -> None:
    """Set the reserve standard of an item (储备定额)."""
    service.set_quota(session=session, warehouse_id=warehouse_id, quota_in=body, actor=user)


@router.get("/movements", response_model=list[MovementRead], responses=_ERRORS)
def movements(
    user: CurrentUser,
    session: SessionDep,
    warehouse_id: Annotated[int | None, Query(ge=1)] = None,
    incident_id: Annotated[int | None, Query(ge=1)] = None,
) -> Any:
    """Stock movements, newest first."""
    return service.movements(
        session=session, actor=user, warehouse_id=warehouse_id, incident_id=incident_id
    )


@router.get("/shortages", response_model=list[ShortageRead], responses=_ERRORS)
def shortages(
    user: CurrentUser, session: SessionDep, unit_id: Annotated[int | None, Query(ge=1)] = None
) -> Any:
    """Items held below quota (查漏补缺), largest shortfall first."""
    return [
        ShortageRead.model_validate(s)
        for s in service.shortages(session=session, actor=user, unit_id=unit_id)
    ]


@router.get("/expiring", response_model=list[StockRead], responses=_ERRORS)
def expiring(
    user: CurrentUser,
    session: SessionDep,
    within_days: Annotated[int, Query(ge=0, le=3650)] = 30,
) -> Any:
    """Stock whose earliest expiry is within the given number of days."""
    rows = service.expiring(session=session, actor=user, within_days=within_days)
    return [
        StockRead(
            warehouse_id=s.warehouse_id,
            item_id=s.item_id,
            item_code=s.item.code,
            item_name=s.item.name_zh,
            unit_of_measure=s.item.unit_of_measure,
            quantity=s.quantity,
            quota=None,
            expires_on=s.expires_on,
        )
        for s in rows
    ]


@router.post(
    "/warehouses/{warehouse_id}/stocktakes",
    response_model=StocktakeRead,
    status_code=201,
    responses=_ERRORS,
)
def start_stocktake(warehouse_id: int, user: CurrentUser, session: SessionDep) -> Any:
    """Open a stocktake (清查核查) with the book quantities now."""
    take = service.start_stocktake(session=session, warehouse_id=warehouse_id, actor=user)
    session.flush()
    return take


@router.get("/stocktakes/{stocktake_id}", response_model=StocktakeRead, responses=_ERRORS)
def get_stocktake(stocktake_id: int, user: CurrentUser, session: SessionDep) -> Any:
    """A stocktake with book, counted and difference per item."""
    return service.get_stocktake(session=session, stocktake_id=stocktake_id, actor=user)


@router.post("/stocktakes/{stocktake_id}/counts", response_model=StocktakeRead, responses=_ERRORS)
def record_counts(stocktake_id: int, body: CountIn, user: CurrentUser, session: SessionDep) -> Any:
    """Record counted quantities."""
    return service.record_counts(
        session=session, stocktake_id=stocktake_id, counts=body.counts, actor=user
    )


@router.post("/stocktakes/{stocktake_id}/approve", response_model=StocktakeRead, responses=_ERRORS)
def approve_stocktake(stocktake_id: int, user: CurrentUser, session: SessionDep) -> Any:
    """Approve the adjustments (by someone other than the counter); audited."""
    return service.approve_stocktake(session=session, stocktake_id=stocktake_id, actor=user)


@router.get("/teams", response_model=list[TeamRead], responses=_ERRORS)
def list_teams(user: CurrentUser, session: SessionDep, readiness: Readiness | None = None) -> Any:
    """Emergency teams in your jurisdiction."""
    return service.list_teams(session=session, actor=user, readiness=readiness)


@router.post("/teams", response_model=TeamRead, status_code=201, responses=_ERRORS)
def create_team(body: TeamCreate, user: CurrentUser, session: SessionDep) -> Any:
    """Add a team."""
    team = service.create_team(session=session, team_in=body, actor=user)
    team.members = []
    return team


@router.post(
    "/teams/{team_id}/members", response_model=TeamMemberRead, status_code=201, responses=_ERRORS
)
def add_member(team_id: int, body: TeamMemberIn, user: CurrentUser, session: SessionDep) -> Any:
    """Add a person with skills to a team."""
    return service.add_team_member(session=session, team_id=team_id, member_in=body, actor=user)


@router.put("/teams/{team_id}/readiness", response_model=TeamRead, responses=_ERRORS)
def set_readiness(team_id: int, body: ReadinessIn, user: CurrentUser, session: SessionDep) -> Any:
    """Change a team's readiness."""
    return service.set_readiness(
        session=session, team_id=team_id, readiness=body.readiness, actor=user
    )


@router.get("/drills", response_model=list[DrillRead], responses=_ERRORS)
def list_drills(user: CurrentUser, session: SessionDep) -> Any:
    """Drills, newest first."""
    return service.list_drills(session=session, actor=user)


@router.post("/drills", response_model=DrillRead, status_code=201, responses=_ERRORS)
def create_drill(body: DrillCreate, user: CurrentUser, session: SessionDep) -> Any:
    """Record a drill with its findings."""
    drill = service.create_drill(session=session, drill_in=body, actor=user)
    session.flush()
    return drill


@router.post(
    "/drills/{drill_id}/attachments",
    response_model=DrillAttachmentRead,
    status_code=201,
    responses=_ERRORS,
)
def add_drill_attachment(
    drill_id: int, file: UploadFile, user: CurrentUser, session: SessionDep, settings: SettingsDep
) -> Any:
    """Attach a photo or document to a drill (JPEG, PNG, WebP or PDF, at most 10 MiB)."""
    file.file.seek(0)
    content = file.file.read(MAX_ATTACHMENT_BYTES + 1)
    return service.add_drill_attachment(
        session=session,
        drill_id=drill_id,
        filename=file.filename or "file",
        content=content,
        data_dir=settings.data_dir,
        actor=user,
    )


@router.get("/drills/{drill_id}/attachments/{attachment_id}", responses=_ERRORS)
def drill_attachment(
    drill_id: int, attachment_id: int, user: CurrentUser, session: SessionDep, settings: SettingsDep
) -> FileResponse:
    """The file of a drill's attachment."""
    path, attachment = service.drill_attachment_file(
        session=session,
        drill_id=drill_id,
        attachment_id=attachment_id,
        data_dir=settings.data_dir,
        actor=user,
    )
    return FileResponse(path, media_type=attachment.content_type, filename=attachment.filename)


@router.get("/rectifications", response_model=list[FindingRead], responses=_ERRORS)
def open_rectifications(user: CurrentUser, session: SessionDep) -> Any:
    """Drill findings still to be fixed, by deadline."""
    return service.open_rectifications(session=session, actor=user)


@router.post("/findings/{finding_id}/close", response_model=FindingRead, responses=_ERRORS)
def close_finding(finding_id: int, user: CurrentUser, session: SessionDep) -> Any:
    """Close a drill finding's rectification (销号)."""
    return service.close_finding(session=session, finding_id=finding_id, actor=user)
