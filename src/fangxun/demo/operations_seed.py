"""Command operations of the demo district: the supplies catalogue, a warehouse per street office
and the district's central store with quotas (some deliberately short, so 查漏补缺 has something
to show), emergency teams with members and equipment, a drill with findings, the duty roster of the
district and of every street office for this month and the next, and two closed incidents of last
summer for the response-time figures.

Deterministic and idempotent: what exists (by code, by name, by month) is left alone. Places and
people are fictitious; the people are those of :mod:`fangxun.demo.org_seed`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Final
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from fangxun.db.types import utcnow
from fangxun.demo.actor import DEMO_ACTOR
from fangxun.duty import service as duty
from fangxun.duty.models import DutyRotation, DutyShift
from fangxun.duty.schemas import RotationCreate
from fangxun.incidents import service as incidents
from fangxun.incidents.models import Incident, IncidentKind, IncidentStatus, Severity
from fangxun.incidents.schemas import IncidentCreate, TransitionIn
from fangxun.org.models import Person, Unit
from fangxun.supplies import service as supplies
from fangxun.supplies.models import Drill, SupplyItem, Team, Warehouse
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
from fangxun.times import DEFAULT_ZONE

#: The demo district's clock: its story is told in China Standard Time whatever the setting.
LOCAL_TZ: Final = ZoneInfo(DEFAULT_ZONE)

#: The catalogue: code, name, English name, unit of measure, category.
ITEMS: Final[tuple[tuple[str, str, str, str, str], ...]] = (
    ("SANDBAG", "编织袋", "Woven sandbag", "条", "挡水"),
    ("FLOODBOARD", "挡水板", "Flood barrier board", "块", "挡水"),
    ("PUMP", "潜水泵", "Submersible pump", "台", "排水"),
    ("PUMPTRUCK", "龙吸水排涝车", "Pump truck", "辆", "排水"),
    ("GENERATOR", "发电机组", "Generator set", "台", "电力"),
    ("LIFEJACKET", "救生衣", "Life jacket", "件", "救生"),
    ("LIGHT", "移动照明灯", "Mobile floodlight", "套", "照明"),
    ("RAINCOAT", "雨衣雨靴", "Raincoat and boots", "套", "防护"),
)
#: Warehouses: code, name, owning unit code, lon, lat (WGS 84, degrees; fictitious).
WAREHOUSES: Final[tuple[tuple[str, str, str, float, float], ...]] = (
    ("WH-GXQ", "高新区防汛物资中心库", "GXQ", 113.5520, 34.8150),
    ("WH-WUTONG", "梧桐办事处物资仓库", "WUTONG", 113.5380, 34.8210),
    ("WH-GOUZHAO", "沟赵办事处物资仓库", "GOUZHAO", 113.5190, 34.8280),
    ("WH-FENGYANG", "枫杨办事处物资仓库", "FENGYANG", 113.5650, 34.8060),
    ("WH-SHIFO", "石佛办事处物资仓库", "SHIFO", 113.5830, 34.8190),
)
#: Quota and stock held per item: (quota, held) for the central store and for an office store.
CENTRAL: Final[dict[str, tuple[int, int]]] = {
    "SANDBAG": (20000, 17500),
    "FLOODBOARD": (400, 400),
    "PUMP": (40, 36),
    "PUMPTRUCK": (4, 4),
    "GENERATOR": (10, 10),
    "LIFEJACKET": (300, 300),
    "LIGHT": (30, 24),
    "RAINCOAT": (200, 200),
}
OFFICE: Final[dict[str, tuple[int, int]]] = {
    "SANDBAG": (3000, 3000),
    "FLOODBOARD": (60, 60),
    "PUMP": (8, 8),
    "LIFEJACKET": (50, 50),
    "LIGHT": (6, 6),
    "RAINCOAT": (40, 40),
}
#: Office stores that are short (office code → item → held), for the 查漏补缺 report.
SHORT: Final[dict[str, dict[str, int]]] = {
    "GOUZHAO": {"SANDBAG": 1800, "PUMP": 5},
    "SHIFO": {"LIFEJACKET": 32},
}
#: Life jackets expire; one batch soon, so the expiry list has something.
JACKETS_EXPIRE: Final = date(2027, 5, 31)

#: Teams: unit code, name, specialty, phone, equipment, members (person names of that unit).
TEAMS: Final[tuple[tuple[str, str, str, str, tuple[str, ...], tuple[str, ...]], ...]] = (
    ("YJGLJ", "高新区综合应急救援队", "抢险救援", "138-0000-0741",
     ("冲锋舟 2 艘", "龙吸水排涝车 1 辆"), ("魏勇", "叶青")),
    ("CGJ", "城管局排涝抢险队", "城市排涝", "138-0000-0701",
     ("龙吸水排涝车 3 辆", "潜水泵 12 台"), ("田卫东", "董燕")),
    ("SWJ", "水务局泵站抢修队", "泵站抢修", "138-0000-0731",
     ("发电机组 2 台",), ("钟海涛", "汪琳", "程立新")),
    ("WUTONG", "梧桐办事处防汛抢险队", "巡查排险", "138-0000-0201",
     ("潜水泵 4 台", "编织袋 500 条"), ("张伟", "杨帆", "马俊杰")),
    ("GOUZHAO", "沟赵办事处防汛抢险队", "巡查排险", "138-0000-0301",
     ("潜水泵 3 台",), ("郭鹏", "林晓燕", "罗涛")),
    ("FENGYANG", "枫杨办事处防汛抢险队", "巡查排险", "138-0000-0401",
     ("潜水泵 4 台",), ("韩东", "冯婷", "唐亮")),
    ("SHIFO", "石佛办事处防汛抢险队", "巡查排险", "138-0000-0501",
     ("潜水泵 3 台", "移动照明灯 2 套"), ("曹磊", "彭晨", "曾勇")),
)  # fmt: skip
#: Duty rotations: unit code, leaders (in turn), members (in turn), members per shift.
ROTATIONS: Final[tuple[tuple[str, tuple[str, ...], tuple[str, ...], int], ...]] = (
    ("GXQ", ("刘建国", "赵丽华", "吴磊"), ("孙浩", "周敏", "郑雅琴", "陈志远"), 2),
    ("WUTONG", ("王振华", "李秀英"), ("杨帆", "马俊杰", "张伟"), 1),
    ("GOUZHAO", ("黄志强", "何静"), ("林晓燕", "罗涛", "郭鹏"), 1),
    ("FENGYANG", ("高红梅", "宋明"), ("冯婷", "唐亮", "韩东"), 1),
    ("SHIFO", ("许国庆", "邓丽"), ("彭晨", "曾勇", "曹磊"), 1),
    ("SHUANGQIAO", ("谢文斌", "蒋芳"), ("潘雪", "杜强", "袁超"), 1),
)
ROTATION_NAME: Final = "主汛期24小时值班轮换"


@dataclass
class OperationsSeedSummary:
    """What :func:`seed_operations` created (0 everywhere on a second run)."""

    items: int = 0
    warehouses: int = 0
    teams: int = 0
    shifts: int = 0
    incidents: int = 0
    drills: int = 0


def _units(session: Session) -> dict[str, Unit]:
    return {u.code: u for u in session.scalars(select(Unit))}


def _person(session: Session, unit: Unit, name: str) -> Person:
    person = session.scalar(
        select(Person).where(Person.unit_id == unit.id, Person.name == name).limit(1)
    )
    if person is None:
        raise LookupError(f"demo person {name} of {unit.code} is missing: load the organisation")
    return person


def _seed_supplies(
    session: Session, units: dict[str, Unit], summary: OperationsSeedSummary
) -> None:
    items: dict[str, SupplyItem] = {}
    for code, name, name_en, uom, category in ITEMS:
        item = session.scalar(select(SupplyItem).where(SupplyItem.code == code))
        if item is None:
            item = supplies.create_item(
                session=session,
                item_in=ItemCreate(
                    code=code, name_zh=name, name_en=name_en, unit_of_measure=uom, category=category
                ),
                actor=DEMO_ACTOR,
            )
            summary.items += 1
        items[code] = item
    session.flush()
    for code, name, unit_code, lon, lat in WAREHOUSES:
        if session.scalar(select(Warehouse.id).where(Warehouse.code == code)) is not None:
            continue
        warehouse = supplies.create_warehouse(
            session=session,
            warehouse_in=WarehouseCreate(
                code=code, name_zh=name, unit_id=units[unit_code].id, lon=lon, lat=lat
            ),
            actor=DEMO_ACTOR,
        )
        session.flush()
        summary.warehouses += 1
        plan = CENTRAL if unit_code == "GXQ" else OFFICE
        for item_code, (quota, held) in plan.items():
            held = SHORT.get(unit_code, {}).get(item_code, held)
            supplies.set_quota(
                session=session,
                warehouse_id=warehouse.id,
                quota_in=QuotaIn(item_id=items[item_code].id, quantity=quota),
                actor=DEMO_ACTOR,
            )
            supplies.receive(
                session=session,
                warehouse_id=warehouse.id,
                receive_in=ReceiveIn(
                    item_id=items[item_code].id,
                    quantity=held,
                    expires_on=JACKETS_EXPIRE if item_code == "LIFEJACKET" else None,
                    note="演示初始库存",
                ),
                actor=DEMO_ACTOR,
            )


def _seed_teams(session: Session, units: dict[str, Unit], summary: OperationsSeedSummary) -> None:
    for unit_code, name, specialty, phone, equipment, members in TEAMS:
        unit = units[unit_code]
        exists = session.scalar(select(Team.id).where(Team.unit_id == unit.id, Team.name == name))
        if exists is not None:
            continue
        people = [_person(session, unit, m) for m in members]
        team = supplies.create_team(
            session=session,
            team_in=TeamCreate(
                unit_id=unit.id,
                name=name,
                specialty=specialty,
                phone=phone,
                equipment=list(equipment),
                leader_person_id=people[0].id,
            ),
            actor=DEMO_ACTOR,
        )
        session.flush()
        for person in people:
            supplies.add_team_member(
                session=session,
                team_id=team.id,
                member_in=TeamMemberIn(person_id=person.id, skills=[specialty]),
                actor=DEMO_ACTOR,
            )
        summary.teams += 1


def _seed_drill(session: Session, units: dict[str, Unit], summary: OperationsSeedSummary) -> None:
    unit = units["WUTONG"]
    held_on = date(2026, 5, 20)
    if session.scalar(select(Drill.id).where(Drill.unit_id == unit.id, Drill.held_on == held_on)):
        return
    team_ids = list(
        session.scalars(select(Team.id).where(Team.unit_id.in_([unit.id, units["CGJ"].id])))
    )
    supplies.create_drill(
        session=session,
        drill_in=DrillCreate(
            unit_id=unit.id,
            held_on=held_on,
            scenario="短时强降雨致梧桐街雪松路下穿通道积水，车辆被困，抢排与人员转移",
            team_ids=team_ids,
            participants=46,
            findings=[
                FindingIn(
                    description="排涝车从中心库到场用时 38 分钟，超过 30 分钟要求",
                    needs_rectification=True,
                    owner_person_id=_person(session, unit, "张伟").id,
                    deadline=date(2026, 6, 15),
                ),
                FindingIn(description="下穿通道拦挡设施到位及时，封闭用时 9 分钟"),
            ],
        ),
        actor=DEMO_ACTOR,
    )
    summary.drills += 1


def _months(now: datetime) -> list[tuple[int, int]]:
    local = now.astimezone(LOCAL_TZ)
    first = (local.year, local.month)
    second = (local.year + (local.month == 12), local.month % 12 + 1)
    # Before 08:00 on the 1st, the previous month's last shift is still running.
    if local.day == 1 and local.hour < 8:
        prev = (local.year - (local.month == 1), (local.month - 2) % 12 + 1)
        return [prev, first, second]
    return [first, second]


def _seed_duty(
    session: Session, units: dict[str, Unit], summary: OperationsSeedSummary, now: datetime
) -> None:
    for unit_code, leaders, members, per_shift in ROTATIONS:
        unit = units[unit_code]
        rotation = session.scalar(
            select(DutyRotation).where(
                DutyRotation.unit_id == unit.id, DutyRotation.name == ROTATION_NAME
            )
        )
        if rotation is None:
            rotation = duty.create_rotation(
                session=session,
                rotation_in=RotationCreate(
                    unit_id=unit.id,
                    name=ROTATION_NAME,
                    shift_hours=24,
                    first_shift_hour=8,
                    members_per_shift=per_shift,
                    leader_ids=[_person(session, unit, n).id for n in leaders],
                    member_ids=[_person(session, unit, n).id for n in members],
                ),
                actor=DEMO_ACTOR,
            )
            session.flush()
        for year, month in _months(now):
            slots = duty.month_slots(year, month, shift_hours=24, first_shift_hour=8)
            taken = session.scalar(
                select(DutyShift.id).where(
                    DutyShift.unit_id == unit.id,
                    DutyShift.starts_at < slots[-1][1],
                    DutyShift.ends_at > slots[0][0],
                )
            )
            if taken is None:
                summary.shifts += len(
                    duty.fill_month(
                        session=session,
                        rotation_id=rotation.id,
                        year=year,
                        month=month,
                        actor=DEMO_ACTOR,
                    )
                )


#: Two closed incidents of last summer: title, office, kind, severity, report time (local), and
#: minutes from report to dispatch, on site, controlled, closed.
PAST_INCIDENTS: Final = (
    ("梧桐街雪松路下穿通道积水约35厘米", "WUTONG", IncidentKind.underpass_flooding,
     Severity.major, datetime(2026, 7, 20, 16, 5, tzinfo=LOCAL_TZ), (6, 24, 95, 180)),
    ("雅梅苑小区地下车库进水", "GOUZHAO", IncidentKind.building_flooding,
     Severity.moderate, datetime(2026, 7, 20, 16, 40, tzinfo=LOCAL_TZ), (9, 31, 120, 240)),
)  # fmt: skip


def _seed_incidents(
    session: Session, units: dict[str, Unit], summary: OperationsSeedSummary
) -> None:
    for title, unit_code, kind, severity, reported, minutes in PAST_INCIDENTS:
        reported_utc = reported.astimezone(UTC)
        if session.scalar(
            select(Incident.id).where(Incident.title == title, Incident.reported_at == reported_utc)
        ):
            continue
        unit = units[unit_code]
        incident = incidents.report(
            session=session,
            incident_in=IncidentCreate(
                unit_id=unit.id,
                kind=kind,
                severity=severity,
                title=title,
                location_text=title[:8],
                reported_at=reported_utc,
            ),
            actor=DEMO_ACTOR,
        )
        session.flush()
        team = session.scalar(select(Team).where(Team.unit_id == unit.id).limit(1))
        assert team is not None
        steps = (
            (IncidentStatus.dispatched, minutes[0]),
            (IncidentStatus.on_site, minutes[1]),
            (IncidentStatus.controlled, minutes[2]),
            (IncidentStatus.closed, minutes[3]),
        )
        for status, after in steps:
            if status is IncidentStatus.on_site:
                # The team used supplies from its office store (returned in part after closing).
                store = session.scalar(
                    select(Warehouse).where(Warehouse.unit_id == unit.id).limit(1)
                )
                if store is not None:
                    pump = session.scalar(select(SupplyItem).where(SupplyItem.code == "PUMP"))
                    assert pump is not None
                    supplies.issue(
                        session=session,
                        warehouse_id=store.id,
                        issue_in=IssueIn(item_id=pump.id, quantity=2, incident_id=incident.id),
                        actor=DEMO_ACTOR,
                    )
                    supplies.return_items(
                        session=session,
                        warehouse_id=store.id,
                        return_in=IssueIn(item_id=pump.id, quantity=2, incident_id=incident.id),
                        actor=DEMO_ACTOR,
                    )
            incidents.transition(
                session=session,
                incident_id=incident.id,
                transition_in=TransitionIn(
                    to_status=status,
                    team_id=team.id if status is IncidentStatus.dispatched else None,
                    at=reported_utc + timedelta(minutes=after),
                ),
                actor=DEMO_ACTOR,
            )
        summary.incidents += 1


def seed_operations(*, session: Session, now: datetime | None = None) -> OperationsSeedSummary:
    """Load the demo's supplies, teams, drill, duty roster and past incidents (idempotent).

    Needs the demo organisation (units and people) loaded first. Never commits.
    """
    now = now or utcnow()
    units = _units(session)
    summary = OperationsSeedSummary()
    _seed_supplies(session, units, summary)
    _seed_teams(session, units, summary)
    session.flush()
    _seed_drill(session, units, summary)
    _seed_duty(session, units, summary, now)
    _seed_incidents(session, units, summary)
    session.flush()
    return summary
