"""Fixtures of the hazard ledger tests: a small district with two street offices, people, users of
every role, and one hazard point per office (created through the services, committed)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from hazard_helpers import SYSTEM, Ledger
from sqlalchemy import Engine

from fangxun.db import session_scope, utcnow
from fangxun.hazards import service
from fangxun.hazards.models import HazardKind
from fangxun.hazards.schemas import HazardPointCreate, RectificationCreate
from fangxun.org import service as org_service
from fangxun.org.models import Role, UnitKind
from fangxun.org.schemas import PersonCreate


@pytest.fixture
def ledger(engine: Engine, make_unit: Any, make_user: Any) -> Ledger:
    district = make_unit("GXQ", UnitKind.district, name_zh="高新区")
    wutong = make_unit("WUTONG", UnitKind.street_office, district, name_zh="梧桐街道办事处")
    gouzhao = make_unit("GOUZHAO", UnitKind.street_office, district, name_zh="沟赵办事处")
    with session_scope(engine) as session:
        wp = org_service.create_person(
            session=session,
            person_in=PersonCreate(name="王梧桐", unit_id=wutong),
            actor=SYSTEM,
        ).id
        gp = org_service.create_person(
            session=session,
            person_in=PersonCreate(name="赵沟赵", unit_id=gouzhao),
            actor=SYSTEM,
        ).id
        p1 = service.create_point(
            session=session,
            point_in=HazardPointCreate(
                code="WT-001",
                name="梧桐街雪松路下穿",
                kind=HazardKind.underpass,
                lon=113.56,
                lat=34.80,
                unit_id=wutong,
                responsible_person_id=wp,
            ),
            actor=SYSTEM,
        ).id
        p2 = service.create_point(
            session=session,
            point_in=HazardPointCreate(
                code="GZ-001",
                name="雅梅苑",
                kind=HazardKind.residential_compound,
                lon=113.52,
                lat=34.79,
                unit_id=gouzhao,
                responsible_person_id=gp,
            ),
            actor=SYSTEM,
        ).id
    users = {
        "admin": make_user(Role.admin),
        "district": make_user(Role.district, district),
        "duty": make_user(Role.duty, district),
        "viewer": make_user(Role.viewer, district),
        "inspector": make_user(Role.inspector, wutong),
        "wutong": make_user(Role.unit, wutong),
        "gouzhao": make_user(Role.unit, gouzhao),
    }
    return Ledger(district, wutong, gouzhao, wp, gp, p1, p2, users)


@pytest.fixture
def open_rectification(engine: Engine, ledger: Ledger) -> int:
    """An open rectification on the 梧桐 point, due in 7 days."""
    with session_scope(engine) as session:
        rect = service.create_rectification(
            session=session,
            rect_in=RectificationCreate(
                point_id=ledger.wutong_point,
                finding="排水篦子堵塞",
                measure="清掏篦子和雨水口",
                deadline=utcnow() + timedelta(days=7),
                responsible_person_id=ledger.wutong_person,
            ),
            actor=SYSTEM,
        )
        return rect.id
