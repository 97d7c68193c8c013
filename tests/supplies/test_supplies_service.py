"""Supplies and teams: stock never negative (also under two concurrent transactions on
PostgreSQL), issue and return for an incident, shortages against quota, expiry, stocktaking with
audited adjustments, teams and drills."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from factories import make_unit
from fangxun.audit.models import AuditEntry
from fangxun.audit.service import SystemActor
from fangxun.db import make_engine, session_scope
from fangxun.db.migrate import upgrade_engine
from fangxun.errors import ConflictError, PermissionDeniedError, ValidationFailed
from fangxun.incidents import service as incidents
from fangxun.incidents.models import IncidentKind
from fangxun.incidents.schemas import IncidentCreate
from fangxun.org import service as org_service
from fangxun.org.models import Role, UnitKind, User
from fangxun.org.schemas import PersonCreate
from fangxun.supplies import service
from fangxun.supplies.models import MovementKind, Readiness, Stock, StockMovement
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

SYSTEM = SystemActor(username="supplies-tests")


@dataclass
class Depot:
    office_a: int
    office_b: int
    warehouse: int
    other_warehouse: int
    sandbags: int
    pumps: int
    jackets: int
    person: int


def _setup(session: Session) -> Depot:
    def unit(code: str, kind: UnitKind, parent: int | None) -> int:
        return make_unit(session, code, kind, parent, actor=SYSTEM).id

    d = unit("D", UnitKind.district, None)
    a = unit("A", UnitKind.street_office, d)
    b = unit("B", UnitKind.street_office, d)

    def item(code: str, name: str, uom: str) -> int:
        return service.create_item(
            session=session,
            item_in=ItemCreate(code=code, name_zh=name, unit_of_measure=uom),
            actor=SYSTEM,
        ).id

    def warehouse(code: str, unit_id: int) -> int:
        return service.create_warehouse(
            session=session,
            warehouse_in=WarehouseCreate(code=code, name_zh=f"{code}仓库", unit_id=unit_id),
            actor=SYSTEM,
        ).id

    person = org_service.create_person(
        session=session, person_in=PersonCreate(name="仓管员", unit_id=a), actor=SYSTEM
    ).id
    return Depot(
        a,
        b,
        warehouse("WA", a),
        warehouse("WB", b),
        item("SANDBAG", "编织袋", "条"),
        item("PUMP", "潜水泵", "台"),
        item("JACKET", "救生衣", "件"),
        person,
    )


@pytest.fixture
def depot(db_session: Session) -> Depot:
    return _setup(db_session)


def _receive(session: Session, depot: Depot, item: int, n: int, **extra: object) -> None:
    service.receive(
        session=session,
        warehouse_id=depot.warehouse,
        receive_in=ReceiveIn(item_id=item, quantity=n, **extra),  # type: ignore[arg-type]
        actor=SYSTEM,
    )


def _incident(session: Session, depot: Depot) -> int:
    return incidents.report(
        session=session,
        incident_in=IncidentCreate(unit_id=depot.office_a, kind=IncidentKind.ponding, title="积水"),
        actor=SYSTEM,
    ).id


def _qty(session: Session, warehouse: int, item: int) -> int:
    return session.scalars(
        select(Stock.quantity).where(Stock.warehouse_id == warehouse, Stock.item_id == item)
    ).one()


def test_issue_and_return_for_an_incident(db_session: Session, depot: Depot) -> None:
    _receive(db_session, depot, depot.sandbags, 500)
    iid = _incident(db_session, depot)
    service.issue(
        session=db_session,
        warehouse_id=depot.warehouse,
        issue_in=IssueIn(item_id=depot.sandbags, quantity=300, incident_id=iid),
        actor=SYSTEM,
    )
    assert _qty(db_session, depot.warehouse, depot.sandbags) == 200
    with pytest.raises(ValidationFailed, match="only 300"):
        service.return_items(
            session=db_session,
            warehouse_id=depot.warehouse,
            return_in=IssueIn(item_id=depot.sandbags, quantity=301, incident_id=iid),
            actor=SYSTEM,
        )
    service.return_items(
        session=db_session,
        warehouse_id=depot.warehouse,
        return_in=IssueIn(item_id=depot.sandbags, quantity=120, incident_id=iid),
        actor=SYSTEM,
    )
    assert _qty(db_session, depot.warehouse, depot.sandbags) == 320
    used = service.movements(session=db_session, actor=SYSTEM, incident_id=iid)
    assert sorted((m.kind, m.delta) for m in used) == [
        (MovementKind.issue, -300),
        (MovementKind.return_, 120),
    ]


def test_stock_never_negative(db_session: Session, depot: Depot) -> None:
    _receive(db_session, depot, depot.pumps, 3)
    with pytest.raises(ConflictError, match="3 台 left, 4 asked"):
        service.issue(
            session=db_session,
            warehouse_id=depot.warehouse,
            issue_in=IssueIn(item_id=depot.pumps, quantity=4),
            actor=SYSTEM,
        )
    assert _qty(db_session, depot.warehouse, depot.pumps) == 3
    with pytest.raises(ConflictError):
        service.issue(
            session=db_session,
            warehouse_id=depot.warehouse,
            issue_in=IssueIn(item_id=depot.jackets, quantity=1),
            actor=SYSTEM,
        )


def test_shortages_and_expiry(db_session: Session, depot: Depot) -> None:
    for item, quota in ((depot.sandbags, 1000), (depot.pumps, 4), (depot.jackets, 50)):
        service.set_quota(
            session=db_session,
            warehouse_id=depot.warehouse,
            quota_in=QuotaIn(item_id=item, quantity=quota),
            actor=SYSTEM,
        )
    _receive(db_session, depot, depot.sandbags, 400)
    _receive(db_session, depot, depot.pumps, 4)
    _receive(db_session, depot, depot.jackets, 20, expires_on=date(2026, 8, 1))
    _receive(db_session, depot, depot.jackets, 10, expires_on=date(2027, 8, 1))
    rows = service.shortages(session=db_session, actor=SYSTEM)
    assert [(r.item_id, r.quota, r.quantity, r.shortfall) for r in rows] == [
        (depot.sandbags, 1000, 400, 600),
        (depot.jackets, 50, 30, 20),
    ]
    soon = service.expiring(
        session=db_session, actor=SYSTEM, within_days=30, today=date(2026, 7, 10)
    )
    assert [(s.item_id, s.expires_on) for s in soon] == [(depot.jackets, date(2026, 8, 1))]
    assert (
        service.expiring(session=db_session, actor=SYSTEM, within_days=10, today=date(2026, 7, 10))
        == []
    )


def test_stocktake_adjustments_are_audited(db_session: Session, depot: Depot) -> None:
    _receive(db_session, depot, depot.sandbags, 500)
    _receive(db_session, depot, depot.pumps, 6)
    counter = User(username="counter", password_hash="x", role=Role.duty)
    approver = User(username="chief", password_hash="x", role=Role.district)
    db_session.add_all([counter, approver])
    db_session.flush()
    take = service.start_stocktake(session=db_session, warehouse_id=depot.warehouse, actor=counter)
    assert {(line.item_id, line.book_quantity) for line in take.lines} == {
        (depot.sandbags, 500),
        (depot.pumps, 6),
    }
    with pytest.raises(ConflictError, match="still open"):
        service.start_stocktake(session=db_session, warehouse_id=depot.warehouse, actor=counter)
    service.record_counts(
        session=db_session,
        stocktake_id=take.id,
        counts={depot.sandbags: 480, depot.pumps: 6, depot.jackets: 12},
        actor=counter,
    )
    diffs = {line.item_id: line.difference for line in take.lines}
    assert diffs == {depot.sandbags: -20, depot.pumps: 0, depot.jackets: 12}
    # Items issued while counting stay accounted for: the adjustment is applied to today's stock.
    service.issue(
        session=db_session,
        warehouse_id=depot.warehouse,
        issue_in=IssueIn(item_id=depot.sandbags, quantity=100),
        actor=counter,
    )
    with pytest.raises(PermissionDeniedError):
        service.approve_stocktake(session=db_session, stocktake_id=take.id, actor=counter)
    service.approve_stocktake(session=db_session, stocktake_id=take.id, actor=approver)
    assert _qty(db_session, depot.warehouse, depot.sandbags) == 380
    assert _qty(db_session, depot.warehouse, depot.jackets) == 12
    adjustments = db_session.scalars(
        select(StockMovement).where(StockMovement.kind == MovementKind.adjust)
    ).all()
    assert sorted((m.item_id, m.delta) for m in adjustments) == sorted(
        [(depot.sandbags, -20), (depot.jackets, 12)]
    )
    assert all(m.actor_username == "chief" and m.stocktake_id == take.id for m in adjustments)
    audit = db_session.scalars(
        select(AuditEntry).where(
            AuditEntry.actor_username == "chief", AuditEntry.object_type == "supplies_stock"
        )
    ).all()
    assert len(audit) == 2
    assert {(e.before["quantity"], e.after["quantity"]) for e in audit} == {(400, 380), (0, 12)}  # type: ignore[index]
    approval = db_session.scalars(
        select(AuditEntry).where(AuditEntry.object_type == "supplies_stocktake")
    ).all()
    assert approval[-1].after["status"] == "approved"  # type: ignore[index]
    assert approval[-1].after["discrepancies"] == {  # type: ignore[index]
        str(depot.sandbags): -20,
        str(depot.jackets): 12,
    }
    with pytest.raises(ConflictError):
        service.approve_stocktake(session=db_session, stocktake_id=take.id, actor=approver)


def test_teams_and_drills(db_session: Session, depot: Depot) -> None:
    team = service.create_team(
        session=db_session,
        team_in=TeamCreate(unit_id=depot.office_a, name="梧桐抢险队", equipment=["抽水泵车 2 台"]),
        actor=SYSTEM,
    )
    service.add_team_member(
        session=db_session,
        team_id=team.id,
        member_in=TeamMemberIn(person_id=depot.person, skills=["驾驶", "抽排"]),
        actor=SYSTEM,
    )
    with pytest.raises(ConflictError):
        service.add_team_member(
            session=db_session,
            team_id=team.id,
            member_in=TeamMemberIn(person_id=depot.person),
            actor=SYSTEM,
        )
    assert [
        t.id
        for t in service.list_teams(session=db_session, actor=SYSTEM, readiness=Readiness.standby)
    ] == [team.id]
    service.set_readiness(
        session=db_session, team_id=team.id, readiness=Readiness.resting, actor=SYSTEM
    )
    assert service.list_teams(session=db_session, actor=SYSTEM, readiness=Readiness.standby) == []
    with pytest.raises(ValidationFailed, match="owner and a deadline"):
        service.create_drill(
            session=db_session,
            drill_in=DrillCreate(
                unit_id=depot.office_a,
                held_on=date(2026, 5, 20),
                scenario="下穿通道积水抢排",
                findings=[FindingIn(description="泵车到场慢", needs_rectification=True)],
            ),
            actor=SYSTEM,
        )
    drill = service.create_drill(
        session=db_session,
        drill_in=DrillCreate(
            unit_id=depot.office_a,
            held_on=date(2026, 5, 20),
            scenario="下穿通道积水抢排",
            team_ids=[team.id],
            participants=24,
            findings=[
                FindingIn(
                    description="泵车到场慢",
                    needs_rectification=True,
                    owner_person_id=depot.person,
                    deadline=date(2026, 6, 1),
                ),
                FindingIn(description="通讯顺畅"),
            ],
        ),
        actor=SYSTEM,
    )
    open_items = service.open_rectifications(session=db_session, actor=SYSTEM)
    assert [f.description for f in open_items] == ["泵车到场慢"]
    service.close_finding(session=db_session, finding_id=open_items[0].id, actor=SYSTEM)
    assert service.open_rectifications(session=db_session, actor=SYSTEM) == []
    assert len(drill.findings) == 2


def test_other_units_warehouse_is_not_found(db_session: Session, depot: Depot) -> None:
    from fangxun.errors import NotFoundError

    b_user = User(username="b", password_hash="x", role=Role.unit, unit_id=depot.office_b)
    db_session.add(b_user)
    db_session.flush()
    with pytest.raises(NotFoundError):
        service.stock_of(session=db_session, warehouse_id=depot.warehouse, actor=b_user)
    assert [w.id for w in service.list_warehouses(session=db_session, actor=b_user)] == [
        depot.other_warehouse
    ]


@pytest.mark.postgres
def test_concurrent_issue_of_the_last_items_does_not_oversell(postgres_schema_url: str) -> None:
    """Two transactions each take 7 of the last 10 pumps at the same time: one wins, one is
    refused, 3 remain. The first holds its row lock for 0.5 s so the second really waits."""
    engine = make_engine(postgres_schema_url)
    try:
        upgrade_engine(engine)
        with session_scope(engine) as session:
            depot = _setup(session)
            _receive(session, depot, depot.pumps, 10)
        first_updated = threading.Event()
        outcomes: dict[str, str] = {}

        def worker(name: str, hold_s: float, wait_for: threading.Event | None) -> None:
            if wait_for is not None:
                assert wait_for.wait(10)
            try:
                with session_scope(engine) as session:
                    service.issue(
                        session=session,
                        warehouse_id=depot.warehouse,
                        issue_in=IssueIn(item_id=depot.pumps, quantity=7),
                        actor=SYSTEM,
                    )
                    if wait_for is None:
                        first_updated.set()
                    time.sleep(hold_s)
                outcomes[name] = "issued"
            except ConflictError as exc:
                outcomes[name] = f"refused: {exc}"

        threads = [
            threading.Thread(target=worker, args=("first", 0.5, None)),
            threading.Thread(target=worker, args=("second", 0.0, first_updated)),
        ]
        started = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        elapsed = time.monotonic() - started
        assert outcomes["first"] == "issued"
        assert (
            outcomes["second"].startswith("refused: not enough")
            and "3 台 left" in outcomes["second"]
        )
        assert elapsed >= 0.5  # the second really waited for the first's lock
        with session_scope(engine) as session:
            assert _qty(session, depot.warehouse, depot.pumps) == 3
            issues = session.scalars(
                select(StockMovement).where(StockMovement.kind == MovementKind.issue)
            ).all()
            assert [m.delta for m in issues] == [-7]
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_many_concurrent_issues_never_oversell(postgres_schema_url: str) -> None:
    """Eight transactions race for 20 sandbags, 3 each: exactly six succeed, 2 are left."""
    engine = make_engine(postgres_schema_url)
    try:
        upgrade_engine(engine)
        with session_scope(engine) as session:
            depot = _setup(session)
            _receive(session, depot, depot.sandbags, 20)
        barrier = threading.Barrier(8)
        results: list[bool] = []
        lock = threading.Lock()

        def worker() -> None:
            barrier.wait(10)
            try:
                with session_scope(engine) as session:
                    service.issue(
                        session=session,
                        warehouse_id=depot.warehouse,
                        issue_in=IssueIn(item_id=depot.sandbags, quantity=3),
                        actor=SYSTEM,
                    )
                    time.sleep(0.05)
                ok = True
            except ConflictError:
                ok = False
            with lock:
                results.append(ok)

        threads = [threading.Thread(target=worker) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert sorted(results) == [False, False] + [True] * 6
        with session_scope(engine) as session:
            assert _qty(session, depot.warehouse, depot.sandbags) == 2
    finally:
        engine.dispose()


def test_a_drill_finding_at_a_hazard_point_opens_its_ledger_rectification(
    db_session: Session, depot: Depot
) -> None:
    from fangxun.hazards import service as hazards
    from fangxun.hazards.models import HazardKind, RectificationStatus
    from fangxun.hazards.schemas import HazardPointCreate

    point = hazards.create_point(
        session=db_session,
        point_in=HazardPointCreate(
            code="WT-UP-01",
            name="梧桐下穿",
            kind=HazardKind.underpass,
            lon=113.55,
            lat=34.80,
            unit_id=depot.office_a,
            responsible_person_id=depot.person,
        ),
        actor=SYSTEM,
    )
    drill = service.create_drill(
        session=db_session,
        drill_in=DrillCreate(
            unit_id=depot.office_a,
            held_on=date(2026, 6, 1),
            scenario="下穿通道积水抽排演练",
            findings=[
                FindingIn(
                    description="泵车到场用时 40 分钟，超过预案要求",
                    needs_rectification=True,
                    owner_person_id=depot.person,
                    deadline=date(2026, 6, 15),
                    hazard_point_id=point.id,
                    measure="泵车前置到下穿口值守",
                ),
                FindingIn(description="照明灯具电量不足", needs_rectification=False),
            ],
        ),
        actor=SYSTEM,
    )
    db_session.flush()
    linked, plain = drill.findings
    assert plain.rectification_id is None
    assert linked.rectification_id is not None
    rect = hazards.get_rectification(
        session=db_session, rect_id=linked.rectification_id, actor=SYSTEM
    )
    assert rect.point_id == point.id and rect.status == RectificationStatus.open
    assert rect.finding == "演练发现：泵车到场用时 40 分钟，超过预案要求"
    assert rect.measure == "泵车前置到下穿口值守"
    assert rect.responsible_person_id == depot.person
    # Due at the end of the deadline day, Beijing time.
    assert rect.deadline == datetime(2026, 6, 15, 15, 59, tzinfo=UTC)
