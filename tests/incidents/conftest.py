"""The web-test harness of ``tests/web/conftest.py`` (live server, Chromium, login), made available
to the incident web tests here without copying it: the module is loaded by path under its own name
and its fixtures re-exported."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from fangxun.audit.service import SystemActor
from fangxun.db import make_engine, session_scope
from fangxun.org import service as org_service
from fangxun.org.models import UnitKind
from fangxun.org.schemas import UnitCreate
from fangxun.supplies import service as supplies
from fangxun.supplies.schemas import TeamCreate

_PATH = Path(__file__).resolve().parents[1] / "web" / "conftest.py"
_NAME = "fangxun_tests_web_harness"

if _NAME in sys.modules:
    _harness = sys.modules[_NAME]
else:
    _spec = importlib.util.spec_from_file_location(_NAME, _PATH)
    assert _spec is not None and _spec.loader is not None
    _harness = importlib.util.module_from_spec(_spec)
    sys.modules[_NAME] = _harness
    _spec.loader.exec_module(_harness)

LiveServer = _harness.LiveServer
csrf_of = _harness.csrf_of
USERNAME = _harness.USERNAME
PASSWORD = _harness.PASSWORD

credentials = _harness.credentials
login = _harness.login
web_settings = _harness.web_settings
_web_db_template = _harness._web_db_template
web_db = _harness.web_db
web_app = _harness.web_app
web_client = _harness.web_client
live_server = _harness.live_server
browser = _harness.browser
page = _harness.page
artifacts_dir = _harness.artifacts_dir

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
