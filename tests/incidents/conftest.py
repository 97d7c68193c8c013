"""Seed data for the incident web tests; the live server, Chromium and login come from
``tests/web_harness.py`` (a plugin of ``tests/conftest.py``)."""

from __future__ import annotations

import pytest

from factories import make_unit
from fangxun.audit.service import SystemActor
from fangxun.db import make_engine, session_scope
from fangxun.org.models import UnitKind
from fangxun.supplies import service as supplies
from fangxun.supplies.schemas import TeamCreate

_SETUP = SystemActor(username="incident-web-tests")


@pytest.fixture
def ops_seed(web_db: str) -> dict[str, int]:
    """A district, a street office and a team on standby."""
    engine = make_engine(web_db)
    try:
        with session_scope(engine) as session:
            d = make_unit(session, "GXQ", UnitKind.district, name_zh="高新区", actor=_SETUP).id
            a = make_unit(
                session, "WT", UnitKind.street_office, d, name_zh="梧桐办事处", actor=_SETUP
            ).id
            team = supplies.create_team(
                session=session, team_in=TeamCreate(unit_id=a, name="梧桐抢险队"), actor=_SETUP
            ).id
    finally:
        engine.dispose()
    return {"district": d, "office": a, "team": team}
