"""Fixtures of the field-work tests: the web harness's database with the demo district loaded
(units, people, demo logins such as ``inspector``/``inspector-demo``, hazard points, warehouses,
shifts, the demo reach and patrol plan)."""

from __future__ import annotations

import pytest
from fastapi import FastAPI

from fangxun.api.app import create_app
from fangxun.config import Settings
from fangxun.db import make_engine, session_scope
from fangxun.demo.org_seed import load_demo


@pytest.fixture
def web_app(web_settings: Settings, web_db: str) -> FastAPI:
    """The whole application on a fresh database holding the demo district."""
    engine = make_engine(web_db)
    try:
        with session_scope(engine) as session:
            load_demo(session=session, settings=web_settings, write_terrain=False)
    finally:
        engine.dispose()
    return create_app(web_settings)
