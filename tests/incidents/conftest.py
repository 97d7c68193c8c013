"""Seed data for the incident web tests; the live server, Chromium and login come from
``tests/web_harness.py`` (a plugin of ``tests/conftest.py``)."""

from __future__ import annotations

import pytest

from fangxun.audit.service import SystemActor
from fangxun.db import make_engine, session_scope
from fangxun.org import service as org_service
from fangxun.org.models import UnitKind
from fangxun.org.schemas import UnitCreate
from fangxun.supplies import service as supplies
from fangxun.supplies.schemas import TeamCreate

_SETUP = SystemActor(username="incident-web-tests")


@pytest.fixture
def ops_seed(web_db: str) -> dict[str, int]:
    """A district, a street office and a team on standby."""
    engine = make_engine(web_db)
    try:
        with session_scope(engine) as session:
            d = org_service.create_unit(
                session=session,
                unit_in=UnitCreate(code="GXQ", name_zh="高新区", kind=UnitKind.district),
                actor=_SETUP,
            ).id
            a = org_service.create_unit(
                session=session,
                unit_in=UnitCreate(
                    code="WT", name_zh="梧桐办事处", kind=UnitKind.street_office, parent_id=d
                ),
                actor=_SETUP,
            ).id
            team = supplies.create_team(
                session=session, team_in=TeamCreate(unit_id=a, name="梧桐抢险队"), actor=_SETUP
            ).id
    finally:
        engine.dispose()
    return {"district": d, "office": a, "team": team}
