"""Helpers of the response tests: a district with a street office and two departments,
people, users of each role, a contingency plan with actions at every level and a hazard point
with an approved point plan (一点一策)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from factories import make_person, make_unit
from fangxun.audit.service import SystemActor
from fangxun.config import Settings, load_settings
from fangxun.db import make_engine, session_scope
from fangxun.hazards import service as hazards
from fangxun.hazards.models import HazardKind
from fangxun.hazards.schemas import HazardPointCreate, Measure, PointPlanCreate, Trigger
from fangxun.org import service as org_service
from fangxun.org.models import Role, UnitKind, User
from fangxun.org.schemas import UserCreate
from fangxun.response import service
from fangxun.response.models import ResponseLevel, ResponseTask
from fangxun.response.schemas import PlanActionIn, PlanCreate

SYSTEM = SystemActor(username="response-tests")


@dataclass
class Org:
    """Ids and users of the test organisation."""

    district: int
    office: int
    cgj: int  # 城管 (a department)
    swj: int  # 水务 (a department)
    person_office: int
    person_cgj: int
    point: int
    point_plan: int
    plan: int
    users: dict[str, User]


def rule_settings(mode: str = "start") -> Settings:
    """Settings with the default level rules in ``mode``."""
    return load_settings(environment="test", database_url="sqlite://", response_rule_mode=mode)


#: Actions of the test plan: (level, department attr, action).
ACTIONS: tuple[tuple[ResponseLevel, str, str], ...] = (
    (ResponseLevel.IV, "cgj", "调度排水车辆到低洼点"),
    (ResponseLevel.IV, "swj", "泵站预排降低水位"),
    (ResponseLevel.III, "cgj", "巡查下穿通道, 必要时封闭"),
    (ResponseLevel.III, "office", "转移低洼住户"),
    (ResponseLevel.II, "swj", "全部泵站满负荷运行"),
    (ResponseLevel.I, "office", "全员上岗, 24小时值守"),
)


def build_org(s: Session) -> Org:
    """The organisation, the active plan, the point and its approved point plan."""

    def unit(code: str, kind: UnitKind, parent: int | None) -> int:
        return make_unit(s, code, kind, parent, name_zh=f"{code}单位", actor=SYSTEM).id

    def person(name: str, unit_id: int) -> int:
        return make_person(s, name, unit_id, actor=SYSTEM).id

    def user(name: str, role: Role, unit_id: int | None) -> User:
        return org_service.create_user(
            session=s,
            user_in=UserCreate(
                username=name, password="correct-horse-battery", role=role, unit_id=unit_id
            ),
            actor=SYSTEM,
        )

    district = unit("D", UnitKind.district, None)
    office = unit("OFFICE", UnitKind.street_office, district)
    cgj = unit("CGJ", UnitKind.department, district)
    swj = unit("SWJ", UnitKind.department, district)
    p_office = person("王办事处", office)
    p_cgj = person("董城管", cgj)
    ids = {"office": office, "cgj": cgj, "swj": swj}
    plan = service.create_plan(
        session=s,
        plan_in=PlanCreate(
            unit_id=district,
            name="区防汛应急预案",
            is_active=True,
            actions=[
                PlanActionIn(level=lvl, department_id=ids[dept], action=text, sort_order=i)
                for i, (lvl, dept, text) in enumerate(ACTIONS)
            ],
        ),
        actor=SYSTEM,
    )
    point = hazards.create_point(
        session=s,
        point_in=HazardPointCreate(
            code="P-001",
            name="雪松路下穿",
            kind=HazardKind.underpass,
            lon=113.56,
            lat=34.80,
            unit_id=office,
            responsible_person_id=p_office,
        ),
        actor=SYSTEM,
    )
    pp = hazards.create_plan(
        session=s,
        point_id=point.id,
        plan_in=PointPlanCreate(
            title="雪松路下穿一点一策",
            triggers=[Trigger(colour="orange"), Trigger(ponding_cm=27.0)],
            measures=[
                Measure(action="封闭下穿通道", responsible_person_id=p_office, team="属地值守组"),
                Measure(action="移动泵车抽排", responsible_person_id=p_cgj, equipment=["移动泵车"]),
            ],
        ),
        actor=SYSTEM,
    )
    hazards.approve_plan(session=s, plan_id=pp.id, actor=SYSTEM)
    users = {
        "district": user("district1", Role.district, district),
        "duty": user("duty1", Role.duty, district),
        "viewer": user("viewer1", Role.viewer, district),
        "cgj": user("cgj1", Role.unit, cgj),
        "swj": user("swj1", Role.unit, swj),
        "office": user("office1", Role.unit, office),
    }
    s.flush()
    return Org(district, office, cgj, swj, p_office, p_cgj, point.id, pp.id, plan.id, users)


def seed_running_level(database_url: str) -> tuple[Org, dict[str, int]]:
    """Build the organisation in a database and start level IV by rule; the task ids by action."""
    engine = make_engine(database_url)
    try:
        with session_scope(engine) as session:
            org = build_org(session)
            service.apply_warning_signal(
                session=session,
                warning_kind="rainstorm",
                colour="yellow",
                unit_id=None,
                source_ref="warning-change:1",
                at=datetime(2026, 7, 20, 10, 20, tzinfo=UTC),
                settings=rule_settings("start"),
            )
            tasks = {t.action: t.id for t in session.scalars(select(ResponseTask))}
        return org, tasks
    finally:
        engine.dispose()
