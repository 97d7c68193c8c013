"""Supplies and teams services: catalogue, warehouses, stock movements, quotas, stocktaking,
shortages against quota, expiry, teams and drills.

Stock never goes negative. Taking items out is one conditional UPDATE
(``quantity = quantity - n WHERE quantity >= n``): on PostgreSQL the second of two concurrent
transactions waits for the first row lock and then re-checks the condition against the committed
row, so the last items are never issued twice; the CHECK constraint is the last line of defence.

Keyword-only functions; jurisdiction follows the warehouse's (or team's) unit; every change is
audited; nothing commits.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Select, and_, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from fangxun.audit.models import AuditAction
from fangxun.audit.service import (
    actor_username,
    record_change,
    record_create,
    record_update,
    snapshot,
)
from fangxun.db.types import utcnow
from fangxun.errors import (
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    ValidationFailed,
)
from fangxun.org.jurisdiction import (
    get_in_jurisdiction,
    get_named_in_body,
    is_unit_visible,
    scope_query,
    unit_in_body,
)
from fangxun.org.models import Person, Role, User
from fangxun.org.permissions import Actor, require_role
from fangxun.supplies.models import (
    Drill,
    DrillAttachment,
    DrillFinding,
    MovementKind,
    Quota,
    Readiness,
    Stock,
    StockMovement,
    Stocktake,
    StocktakeLine,
    StocktakeStatus,
    SupplyItem,
    Team,
    TeamMember,
    Warehouse,
)
from fangxun.supplies.schemas import (
    DrillCreate,
    FindingIn,
    IssueIn,
    ItemCreate,
    QuotaIn,
    ReceiveIn,
    TeamCreate,
    TeamMemberIn,
    WarehouseCreate,
)
from fangxun.times import local_zone

#: Roles that may change supplies and teams (a ``unit`` user only inside its jurisdiction).
WRITERS = frozenset({Role.admin, Role.district, Role.duty, Role.unit})
#: Roles that may change the catalogue and approve stocktaking adjustments.
MANAGERS = frozenset({Role.admin, Role.district, Role.unit})


def _item(session: Session, item_id: int, loc: tuple[str, ...] = ("body", "item_id")) -> SupplyItem:
    item = session.get(SupplyItem, item_id)
    if item is None:
        raise ValidationFailed(f"item {item_id} does not exist", loc=loc)
    return item


def _person(session: Session, person_id: int, loc: tuple[str | int, ...]) -> Person:
    person = session.get(Person, person_id)
    if person is None:
        raise ValidationFailed(f"person {person_id} does not exist", loc=loc)
    return person


# --- catalogue and warehouses ------------------------------------------------------------------


def create_item(*, session: Session, item_in: ItemCreate, actor: Actor) -> SupplyItem:
    """Add a kind of item to the catalogue (admin, district, unit)."""
    require_role(actor, MANAGERS, "change the supplies catalogue")
    if session.scalar(select(SupplyItem.id).where(SupplyItem.code == item_in.code)):
        raise ConflictError(f"an item with code {item_in.code!r} already exists")
    item = SupplyItem(**item_in.model_dump())
    session.add(item)
    record_create(session=session, actor=actor, obj=item)
    return item


def list_items(*, session: Session) -> list[SupplyItem]:
    """The whole catalogue, by code (the catalogue is shared by every unit)."""
    return list(session.scalars(select(SupplyItem).order_by(SupplyItem.code)))


def create_warehouse(*, session: Session, warehouse_in: WarehouseCreate, actor: Actor) -> Warehouse:
    """Add a warehouse of a unit in the actor's jurisdiction."""
    require_role(actor, MANAGERS, "add warehouses")
    unit_in_body(session, actor, warehouse_in.unit_id, ("body", "unit_id"))
    if session.scalar(select(Warehouse.id).where(Warehouse.code == warehouse_in.code)):
        raise ConflictError(f"a warehouse with code {warehouse_in.code!r} already exists")
    warehouse = Warehouse(**warehouse_in.model_dump())
    session.add(warehouse)
    record_create(session=session, actor=actor, obj=warehouse)
    return warehouse


def get_warehouse(*, session: Session, warehouse_id: int, actor: Actor) -> Warehouse:
    """A warehouse in the actor's jurisdiction, else :class:`NotFoundError`."""
    return get_in_jurisdiction(
        session=session, user=actor, model=Warehouse, obj_id=warehouse_id, label="warehouse"
    )


def list_warehouses(*, session: Session, actor: Actor) -> list[Warehouse]:
    """Warehouses in the actor's jurisdiction, by code."""
    stmt = scope_query(select(Warehouse), Warehouse.unit_id, session=session, user=actor)
    return list(session.scalars(stmt.order_by(Warehouse.code)))


# --- stock -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StockLine:
    """Stock of one item in one warehouse with its quota."""

    warehouse_id: int
    item_id: int
    item_code: str
    item_name: str
    unit_of_measure: str
    quantity: int
    quota: int | None
    expires_on: date | None


def _stock_row(session: Session, warehouse_id: int, item_id: int) -> Stock:
    """The stock row of (warehouse, item), created at zero when missing."""
    stock = session.scalar(
        select(Stock).where(Stock.warehouse_id == warehouse_id, Stock.item_id == item_id)
    )
    if stock is None:
        stock = Stock(warehouse_id=warehouse_id, item_id=item_id, quantity=0)
        try:
            with session.begin_nested():
                session.add(stock)
        except IntegrityError:
            # Another transaction created it between our read and insert: use theirs.
            stock = session.scalars(
                select(Stock).where(Stock.warehouse_id == warehouse_id, Stock.item_id == item_id)
            ).one()
    return stock


def _move(
    session: Session,
    actor: Actor,
    *,
    warehouse: Warehouse,
    item: SupplyItem,
    delta: int,
    kind: MovementKind,
    incident_id: int | None = None,
    stocktake_id: int | None = None,
    note: str | None = None,
) -> StockMovement:
    """Change a stock row by ``delta`` atomically, refusing to go below zero; log and audit it."""
    stock = _stock_row(session, warehouse.id, item.id)
    before = {"quantity": stock.quantity}
    condition = Stock.id == stock.id
    if delta < 0:
        condition = and_(condition, Stock.quantity >= -delta)
    result = session.execute(
        update(Stock)
        .where(condition)
        .values(quantity=Stock.quantity + delta, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        session.refresh(stock)
        raise ConflictError(
            f"not enough {item.name_zh} ({item.code}) in {warehouse.name_zh}: "
            f"{stock.quantity} {item.unit_of_measure} left, {-delta} asked"
        )
    session.refresh(stock)
    movement = StockMovement(
        warehouse_id=warehouse.id,
        item_id=item.id,
        kind=kind,
        delta=delta,
        incident_id=incident_id,
        stocktake_id=stocktake_id,
        actor_username=actor_username(actor),
        note=note,
    )
    session.add(movement)
    record_change(
        session=session,
        actor=actor,
        action=AuditAction.update,
        obj=stock,
        before={**snapshot(stock), **before},
        after={**snapshot(stock), "movement": kind.value, "incident_id": incident_id},
    )
    return movement


def receive(
    *, session: Session, warehouse_id: int, receive_in: ReceiveIn, actor: Actor
) -> StockMovement:
    """Add items to a warehouse; an expiry date earlier than the held one becomes the stock's."""
    warehouse = get_warehouse(session=session, warehouse_id=warehouse_id, actor=actor)
    require_role(actor, WRITERS, "change stock")
    item = _item(session, receive_in.item_id)
    movement = _move(
        session,
        actor,
        warehouse=warehouse,
        item=item,
        delta=receive_in.quantity,
        kind=MovementKind.receive,
        note=receive_in.note,
    )
    if receive_in.expires_on is not None:
        stock = _stock_row(session, warehouse.id, item.id)
        if stock.expires_on is None or receive_in.expires_on < stock.expires_on:
            stock.expires_on = receive_in.expires_on
    return movement


def _incident(session: Session, actor: Actor, incident_id: int) -> None:
    from fangxun.incidents.models import Incident  # the incident domain owns the table

    get_named_in_body(
        session=session,
        user=actor,
        model=Incident,
        obj_id=incident_id,
        loc=("body", "incident_id"),
        label="incident",
    )


def issue(*, session: Session, warehouse_id: int, issue_in: IssueIn, actor: Actor) -> StockMovement:
    """Take items out of a warehouse, for an incident when named; :class:`ConflictError` when
    fewer are held than asked (stock never goes negative, even under concurrent issues)."""
    warehouse = get_warehouse(session=session, warehouse_id=warehouse_id, actor=actor)
    require_role(actor, WRITERS, "issue supplies")
    item = _item(session, issue_in.item_id)
    if issue_in.incident_id is not None:
        _incident(session, actor, issue_in.incident_id)
    return _move(
        session,
        actor,
        warehouse=warehouse,
        item=item,
        delta=-issue_in.quantity,
        kind=MovementKind.issue,
        incident_id=issue_in.incident_id,
        note=issue_in.note,
    )


def return_items(
    *, session: Session, warehouse_id: int, return_in: IssueIn, actor: Actor
) -> StockMovement:
    """Bring issued items back; no more than were issued to that incident from this warehouse."""
    warehouse = get_warehouse(session=session, warehouse_id=warehouse_id, actor=actor)
    require_role(actor, WRITERS, "return supplies")
    item = _item(session, return_in.item_id)
    if return_in.incident_id is not None:
        _incident(session, actor, return_in.incident_id)
        out = -(
            session.scalar(
                select(func.coalesce(func.sum(StockMovement.delta), 0)).where(
                    StockMovement.warehouse_id == warehouse.id,
                    StockMovement.item_id == item.id,
                    StockMovement.incident_id == return_in.incident_id,
                    StockMovement.kind.in_([MovementKind.issue, MovementKind.return_]),
                )
            )
            or 0
        )
        if return_in.quantity > out:
            raise ValidationFailed(
                f"only {out} {item.unit_of_measure} of {item.code} are out for incident "
                f"{return_in.incident_id}",
                loc=("body", "quantity"),
            )
    return _move(
        session,
        actor,
        warehouse=warehouse,
        item=item,
        delta=return_in.quantity,
        kind=MovementKind.return_,
        incident_id=return_in.incident_id,
        note=return_in.note,
    )


def set_quota(*, session: Session, warehouse_id: int, quota_in: QuotaIn, actor: Actor) -> Quota:
    """Set the reserve standard of an item in a warehouse."""
    warehouse = get_warehouse(session=session, warehouse_id=warehouse_id, actor=actor)
    require_role(actor, MANAGERS, "set quotas")
    _item(session, quota_in.item_id)
    quota = session.scalar(
        select(Quota).where(Quota.warehouse_id == warehouse.id, Quota.item_id == quota_in.item_id)
    )
    if quota is None:
        quota = Quota(
            warehouse_id=warehouse.id, item_id=quota_in.item_id, quantity=quota_in.quantity
        )
        session.add(quota)
        record_create(session=session, actor=actor, obj=quota)
        return quota
    before = snapshot(quota)
    quota.quantity = quota_in.quantity
    record_update(session=session, actor=actor, obj=quota, before=before)
    return quota


def stock_of(*, session: Session, warehouse_id: int, actor: Actor) -> list[StockLine]:
    """Every item held or with a quota in a warehouse, by item code."""
    warehouse = get_warehouse(session=session, warehouse_id=warehouse_id, actor=actor)
    stocks = {
        s.item_id: s
        for s in session.scalars(select(Stock).where(Stock.warehouse_id == warehouse.id))
    }
    quotas = {
        q.item_id: q.quantity
        for q in session.scalars(select(Quota).where(Quota.warehouse_id == warehouse.id))
    }
    items = session.scalars(
        select(SupplyItem)
        .where(SupplyItem.id.in_(set(stocks) | set(quotas)))
        .order_by(SupplyItem.code)
    )
    return [
        StockLine(
            warehouse.id,
            item.id,
            item.code,
            item.name_zh,
            item.unit_of_measure,
            stocks[item.id].quantity if item.id in stocks else 0,
            quotas.get(item.id),
            stocks[item.id].expires_on if item.id in stocks else None,
        )
        for item in items
    ]


def movements(
    *,
    session: Session,
    actor: Actor,
    warehouse_id: int | None = None,
    incident_id: int | None = None,
    limit: int = 200,
) -> list[StockMovement]:
    """Stock movements in the actor's jurisdiction, newest first."""
    stmt = select(StockMovement).join(Warehouse, StockMovement.warehouse_id == Warehouse.id)
    stmt = scope_query(stmt, Warehouse.unit_id, session=session, user=actor)
    if warehouse_id is not None:
        stmt = stmt.where(StockMovement.warehouse_id == warehouse_id)
    if incident_id is not None:
        stmt = stmt.where(StockMovement.incident_id == incident_id)
    stmt = stmt.options(selectinload(StockMovement.item), selectinload(StockMovement.warehouse))
    return list(
        session.scalars(
            stmt.order_by(StockMovement.at.desc(), StockMovement.id.desc()).limit(limit)
        )
    )


@dataclass(frozen=True)
class Shortage:
    """An item held below its quota in a warehouse."""

    warehouse_id: int
    warehouse_name: str
    unit_id: int
    item_id: int
    item_name: str
    unit_of_measure: str
    quota: int
    quantity: int

    @property
    def shortfall(self) -> int:
        """How many are missing to reach the quota."""
        return self.quota - self.quantity


def shortages(*, session: Session, actor: Actor, unit_id: int | None = None) -> list[Shortage]:
    """Every (warehouse, item) held below quota in the actor's jurisdiction (查漏补缺),
    largest shortfall first."""
    # scope_query is typed for one-entity selects; this one has four columns.
    stmt = cast(
        "Select[Any]",
        select(Quota, Warehouse, SupplyItem, func.coalesce(Stock.quantity, 0))
        .join(Warehouse, Quota.warehouse_id == Warehouse.id)
        .join(SupplyItem, Quota.item_id == SupplyItem.id)
        .outerjoin(
            Stock, and_(Stock.warehouse_id == Quota.warehouse_id, Stock.item_id == Quota.item_id)
        )
        .where(func.coalesce(Stock.quantity, 0) < Quota.quantity),
    )
    stmt = scope_query(stmt, Warehouse.unit_id, session=session, user=actor)
    if unit_id is not None:
        stmt = stmt.where(Warehouse.unit_id == unit_id)
    rows = [
        Shortage(
            wh.id,
            wh.name_zh,
            wh.unit_id,
            item.id,
            item.name_zh,
            item.unit_of_measure,
            q.quantity,
            qty,
        )
        for q, wh, item, qty in session.execute(stmt)
    ]
    return sorted(rows, key=lambda s: (-s.shortfall, s.warehouse_id, s.item_id))


def expiring(
    *, session: Session, actor: Actor, within_days: int = 30, today: date | None = None
) -> list[Stock]:
    """Stock rows (quantity > 0) whose earliest expiry is within ``within_days`` days of today."""
    today = today or utcnow().date()
    stmt = (
        select(Stock)
        .join(Warehouse, Stock.warehouse_id == Warehouse.id)
        .where(Stock.quantity > 0, Stock.expires_on <= today + timedelta(days=within_days))
    )
    stmt = scope_query(stmt, Warehouse.unit_id, session=session, user=actor)
    return list(session.scalars(stmt.order_by(Stock.expires_on)))


# --- stocktaking -------------------------------------------------------------------------------


def start_stocktake(*, session: Session, warehouse_id: int, actor: Actor) -> Stocktake:
    """Open a stocktake: one line per item held or with a quota, with the book quantity now."""
    warehouse = get_warehouse(session=session, warehouse_id=warehouse_id, actor=actor)
    require_role(actor, WRITERS, "take stock")
    open_id = session.scalar(
        select(Stocktake.id).where(
            Stocktake.warehouse_id == warehouse.id, Stocktake.status == StocktakeStatus.counting
        )
    )
    if open_id is not None:
        raise ConflictError(f"stocktake {open_id} of this warehouse is still open")
    take = Stocktake(warehouse_id=warehouse.id, started_by=actor_username(actor))
    take.lines = [
        StocktakeLine(item_id=line.item_id, book_quantity=line.quantity)
        for line in stock_of(session=session, warehouse_id=warehouse.id, actor=actor)
    ]
    session.add(take)
    record_create(session=session, actor=actor, obj=take)
    return take


def get_stocktake(*, session: Session, stocktake_id: int, actor: Actor) -> Stocktake:
    """A stocktake of a warehouse in the actor's jurisdiction."""
    take = session.get(Stocktake, stocktake_id)
    if take is None or not is_unit_visible(
        session=session, user=actor, unit_id=take.warehouse.unit_id
    ):
        raise NotFoundError(f"stocktake {stocktake_id} not found")
    return take


def record_counts(
    *, session: Session, stocktake_id: int, counts: dict[int, int], actor: Actor
) -> Stocktake:
    """Record counted quantities (an item not on the sheet gets a line with book quantity 0)."""
    take = get_stocktake(session=session, stocktake_id=stocktake_id, actor=actor)
    require_role(actor, WRITERS, "take stock")
    if take.status is not StocktakeStatus.counting:
        raise ConflictError(f"stocktake {take.id} is {take.status.value}, no longer counting")
    lines = {line.item_id: line for line in take.lines}
    for item_id, counted in counts.items():
        if counted < 0:
            raise ValidationFailed("a count cannot be negative", loc=("body", "counts", item_id))
        _item(session, item_id, ("body", "counts", str(item_id)))
        line = lines.get(item_id)
        if line is None:
            line = StocktakeLine(item_id=item_id, book_quantity=0)
            take.lines.append(line)
        line.counted_quantity = counted
    session.flush()
    return take


def approve_stocktake(*, session: Session, stocktake_id: int, actor: Actor) -> Stocktake:
    """Approve a counted stocktake: every discrepancy becomes an audited ``adjust`` movement.

    Needs a manager role, every line counted, and an approver other than who started the count.
    The adjustment is the difference counted − book, applied to the stock as it is now (items
    issued while counting stay accounted for).
    """
    take = get_stocktake(session=session, stocktake_id=stocktake_id, actor=actor)
    require_role(actor, MANAGERS, "approve stocktaking adjustments")
    if take.status is not StocktakeStatus.counting:
        raise ConflictError(f"stocktake {take.id} is already {take.status.value}")
    uncounted = [line.item_id for line in take.lines if line.counted_quantity is None]
    if uncounted:
        raise ValidationFailed(f"items {uncounted} are not counted yet", loc=("body", "counts"))
    if isinstance(actor, User) and actor.username == take.started_by:
        raise PermissionDeniedError(
            "a stocktake must be approved by someone other than its counter"
        )
    before = snapshot(take)
    for line in take.lines:
        diff = line.difference or 0
        if diff:
            _move(
                session,
                actor,
                warehouse=take.warehouse,
                item=line.item,
                delta=diff,
                kind=MovementKind.adjust,
                stocktake_id=take.id,
                note=(
                    f"stocktake {take.id}: book {line.book_quantity}, "
                    f"counted {line.counted_quantity}"
                ),
            )
    take.status = StocktakeStatus.approved
    take.approved_at = utcnow()
    take.approved_by = actor_username(actor)
    record_change(
        session=session,
        actor=actor,
        action=AuditAction.update,
        obj=take,
        before=before,
        after={
            **snapshot(take),
            "discrepancies": {
                str(line.item_id): line.difference for line in take.lines if line.difference
            },
        },
    )
    return take


# --- teams and drills --------------------------------------------------------------------------


def create_team(*, session: Session, team_in: TeamCreate, actor: Actor) -> Team:
    """Add an emergency team of a unit."""
    require_role(actor, MANAGERS, "add teams")
    unit_in_body(session, actor, team_in.unit_id, ("body", "unit_id"))
    if team_in.leader_person_id is not None:
        _person(session, team_in.leader_person_id, ("body", "leader_person_id"))
    team = Team(**team_in.model_dump())
    session.add(team)
    record_create(session=session, actor=actor, obj=team)
    return team


def get_team(*, session: Session, team_id: int, actor: Actor) -> Team:
    """A team in the actor's jurisdiction, else :class:`NotFoundError`."""
    return get_in_jurisdiction(
        session=session, user=actor, model=Team, obj_id=team_id, label="team"
    )


def list_teams(*, session: Session, actor: Actor, readiness: Readiness | None = None) -> list[Team]:
    """Teams in the actor's jurisdiction, by name."""
    stmt = scope_query(select(Team), Team.unit_id, session=session, user=actor)
    if readiness is not None:
        stmt = stmt.where(Team.readiness == readiness)
    stmt = stmt.options(selectinload(Team.members))
    return list(session.scalars(stmt.order_by(Team.name, Team.id)))


def add_team_member(
    *, session: Session, team_id: int, member_in: TeamMemberIn, actor: Actor
) -> TeamMember:
    """Add a person with skills to a team."""
    team = get_team(session=session, team_id=team_id, actor=actor)
    require_role(actor, MANAGERS, "change teams")
    _person(session, member_in.person_id, ("body", "person_id"))
    if any(m.person_id == member_in.person_id for m in team.members):
        raise ConflictError(f"person {member_in.person_id} is already in team {team.id}")
    member = TeamMember(person_id=member_in.person_id, skills=list(member_in.skills))
    team.members.append(member)
    record_create(session=session, actor=actor, obj=member)
    return member


def set_readiness(*, session: Session, team_id: int, readiness: Readiness, actor: Actor) -> Team:
    """Change whether a team can be sent (待命, 出动, 休整, 不可用)."""
    team = get_team(session=session, team_id=team_id, actor=actor)
    require_role(actor, WRITERS, "change team readiness")
    before = snapshot(team)
    team.readiness = readiness
    record_update(session=session, actor=actor, obj=team, before=before)
    return team


def _open_ledger_rectification(*, session: Session, finding_in: FindingIn, actor: Actor) -> int:
    """Open the hazard ledger's rectification for a drill finding about a hazard point; due at
    the end of the deadline day, Beijing time. Returns its id."""
    from fangxun.hazards import service as hazards
    from fangxun.hazards.schemas import RectificationCreate

    assert finding_in.deadline is not None and finding_in.owner_person_id is not None
    assert finding_in.hazard_point_id is not None
    due = datetime.combine(finding_in.deadline, time(23, 59), tzinfo=local_zone())
    rect = hazards.create_rectification(
        session=session,
        rect_in=RectificationCreate(
            point_id=finding_in.hazard_point_id,
            finding=f"演练发现：{finding_in.description}",
            measure=finding_in.measure or finding_in.description,
            deadline=due,
            responsible_person_id=finding_in.owner_person_id,
        ),
        actor=actor,
    )
    return rect.id


def create_drill(*, session: Session, drill_in: DrillCreate, actor: Actor) -> Drill:
    """Record a drill with its findings; a finding that needs rectification needs an owner and
    a deadline."""
    require_role(actor, WRITERS, "record drills")
    unit_in_body(session, actor, drill_in.unit_id, ("body", "unit_id"))
    for i, team_id in enumerate(drill_in.team_ids):
        team = session.get(Team, team_id)
        if team is None:
            raise ValidationFailed(f"team {team_id} does not exist", loc=("body", "team_ids", i))
    findings = []
    for i, finding in enumerate(drill_in.findings):
        if finding.needs_rectification and (
            finding.owner_person_id is None or finding.deadline is None
        ):
            raise ValidationFailed(
                "a finding that needs rectification needs an owner and a deadline",
                loc=("body", "findings", i),
            )
        if finding.owner_person_id is not None:
            _person(session, finding.owner_person_id, ("body", "findings", i, "owner_person_id"))
        findings.append(DrillFinding(**finding.model_dump(exclude={"measure"})))
    for finding_in, row in zip(drill_in.findings, findings, strict=True):
        if finding_in.needs_rectification and finding_in.hazard_point_id is not None:
            row.rectification_id = _open_ledger_rectification(
                session=session, finding_in=finding_in, actor=actor
            )
    drill = Drill(
        unit_id=drill_in.unit_id,
        held_on=drill_in.held_on,
        scenario=drill_in.scenario,
        team_ids=list(drill_in.team_ids),
        participants=drill_in.participants,
        findings=findings,
    )
    session.add(drill)
    record_create(session=session, actor=actor, obj=drill)
    return drill


def list_drills(*, session: Session, actor: Actor) -> list[Drill]:
    """Drills in the actor's jurisdiction, newest first."""
    stmt = scope_query(select(Drill), Drill.unit_id, session=session, user=actor)
    stmt = stmt.options(selectinload(Drill.findings))
    return list(session.scalars(stmt.order_by(Drill.held_on.desc(), Drill.id.desc())))


def get_drill(*, session: Session, drill_id: int, actor: Actor) -> Drill:
    """A drill in the actor's jurisdiction, else :class:`NotFoundError`."""
    return get_in_jurisdiction(
        session=session, user=actor, model=Drill, obj_id=drill_id, label="drill"
    )


def add_drill_attachment(
    *,
    session: Session,
    drill_id: int,
    filename: str,
    content: bytes,
    data_dir: Path,
    actor: Actor,
) -> DrillAttachment:
    """Attach a photo or document (JPEG, PNG, WebP, PDF; type read from the content) to a drill;
    the bytes go to the content-addressed store of attachments."""
    from fangxun.hazards import attachments as files  # one store and one type check for both

    drill = get_drill(session=session, drill_id=drill_id, actor=actor)
    require_role(actor, WRITERS, "record drills")
    name = re.sub(r"[^\w.\-() ]+", "_", filename)[:200] or "file"
    media_type = files.check_content(content, filename=name)
    attachment = DrillAttachment(
        filename=name,
        content_type=media_type,
        size_bytes=len(content),
        sha256=files.store(data_dir, content),
        uploaded_by=actor_username(actor),
    )
    drill.attachments.append(attachment)
    session.flush()
    record_create(session=session, actor=actor, obj=attachment)
    return attachment


def drill_attachment_file(
    *, session: Session, drill_id: int, attachment_id: int, data_dir: Path, actor: Actor
) -> tuple[Path, DrillAttachment]:
    """The file and record of a drill's attachment."""
    from fangxun.hazards import attachments as files

    drill = get_drill(session=session, drill_id=drill_id, actor=actor)
    attachment = next((a for a in drill.attachments if a.id == attachment_id), None)
    if attachment is None:
        raise NotFoundError(f"attachment {attachment_id} of drill {drill_id} not found")
    return files.path_for(data_dir, attachment.sha256), attachment


def open_rectifications(*, session: Session, actor: Actor) -> list[DrillFinding]:
    """Drill findings that need rectification and are not closed, by deadline."""
    stmt = (
        select(DrillFinding)
        .join(Drill, DrillFinding.drill_id == Drill.id)
        .where(DrillFinding.needs_rectification.is_(True), DrillFinding.closed_at.is_(None))
    )
    stmt = scope_query(stmt, Drill.unit_id, session=session, user=actor)
    return list(session.scalars(stmt.order_by(DrillFinding.deadline, DrillFinding.id)))


def close_finding(*, session: Session, finding_id: int, actor: Actor) -> DrillFinding:
    """Close a drill finding's rectification (销号)."""
    finding = session.get(DrillFinding, finding_id)
    if finding is None or not is_unit_visible(
        session=session, user=actor, unit_id=finding.drill.unit_id
    ):
        raise NotFoundError(f"finding {finding_id} not found")
    require_role(actor, MANAGERS, "close rectifications")
    if finding.closed_at is not None:
        raise ConflictError(f"finding {finding_id} is already closed")
    before = snapshot(finding)
    finding.closed_at = utcnow()
    record_update(session=session, actor=actor, obj=finding, before=before)
    return finding
