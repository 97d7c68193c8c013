"""Shared helpers of the hazard ledger tests (imported by conftest and the test modules)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient

from factories import make_unit
from fangxun.audit.service import SystemActor
from fangxun.db import make_engine, session_scope, utcnow
from fangxun.hazards import service
from fangxun.hazards.models import HazardKind
from fangxun.hazards.schemas import (
    HazardPointCreate,
    Measure,
    PointPlanCreate,
    RectificationCreate,
    Trigger,
)
from fangxun.org import service as org_service
from fangxun.org.models import Role, UnitKind
from fangxun.org.schemas import PersonCreate, UserCreate

SYSTEM = SystemActor(username="hazard-tests")


@dataclass
class Ledger:
    """Ids and users of the fixture district."""

    district: int
    wutong: int
    gouzhao: int
    wutong_person: int
    gouzhao_person: int
    wutong_point: int
    gouzhao_point: int
    users: dict[str, Any]

    def h(self, client: TestClient, who: str) -> dict[str, str]:
        """Authorization headers of the user ``who``."""
        headers: dict[str, str] = self.users[who].headers(client)
        return headers


WEB_SYSTEM = SystemActor(username="hazard-web-tests")
PASSWORD = "correct-horse-battery"


def seed_web_ledger(database_url: str) -> dict[str, int]:
    """District, two offices, users district/wutong/gouzhao, one point and rectification each."""
    engine = make_engine(database_url)
    ids: dict[str, int] = {}
    try:
        with session_scope(engine) as session:
            d = make_unit(session, "GXQ", name_zh="高新区", actor=WEB_SYSTEM)
            for code, name in (("WUTONG", "梧桐街道办事处"), ("GOUZHAO", "沟赵办事处")):
                unit = make_unit(
                    session, code, UnitKind.street_office, d.id, name_zh=name, actor=WEB_SYSTEM
                )
                person = org_service.create_person(
                    session=session,
                    person_in=PersonCreate(name=f"{name[:2]}联系人", unit_id=unit.id),
                    actor=WEB_SYSTEM,
                )
                org_service.create_user(
                    session=session,
                    user_in=UserCreate(
                        username=code.lower(), password=PASSWORD, role=Role.unit, unit_id=unit.id
                    ),
                    actor=WEB_SYSTEM,
                )
                point = service.create_point(
                    session=session,
                    point_in=HazardPointCreate(
                        code=f"{code[:2]}-001",
                        name=f"{name[:2]}低洼路段",
                        kind=HazardKind.low_lying_road,
                        lon=113.55 if code == "WUTONG" else 113.53,
                        lat=34.80,
                        unit_id=unit.id,
                        responsible_person_id=person.id,
                    ),
                    actor=WEB_SYSTEM,
                )
                rect = service.create_rectification(
                    session=session,
                    rect_in=RectificationCreate(
                        point_id=point.id,
                        finding=f"{name[:2]}篦子堵塞",
                        measure="清掏",
                        deadline=utcnow() + timedelta(days=3),
                        responsible_person_id=person.id,
                    ),
                    actor=WEB_SYSTEM,
                )
                plan = service.create_plan(
                    session=session,
                    point_id=point.id,
                    plan_in=PointPlanCreate(
                        title="一点一策",
                        triggers=[Trigger(colour="yellow"), Trigger(rain_mm=50, rain_window_h=3)],
                        measures=[
                            Measure(action="封闭路段"),
                            Measure(action="泵车抽排", team="抢险队"),
                        ],
                    ),
                    actor=WEB_SYSTEM,
                )
                service.approve_plan(session=session, plan_id=plan.id, actor=WEB_SYSTEM)
                ids[f"{code.lower()}_point"] = point.id
                ids[f"{code.lower()}_rect"] = rect.id
                ids[f"{code.lower()}_person"] = person.id
            org_service.create_user(
                session=session,
                user_in=UserCreate(
                    username="fxdistrict", password=PASSWORD, role=Role.district, unit_id=d.id
                ),
                actor=WEB_SYSTEM,
            )
    finally:
        engine.dispose()
    return ids
