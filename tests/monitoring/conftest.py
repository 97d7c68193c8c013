"""Fixtures of the monitoring tests: a small network (rain gauges, ponding sensor, river gauge)."""

from __future__ import annotations

import pytest
from mon_helpers import Network, build_network
from sqlalchemy import Engine


@pytest.fixture
def network(engine: Engine) -> Network:
    """The test network on the parametrized fresh database (SQLite and PostgreSQL)."""
    return build_network(engine)


@pytest.fixture
def sqlite_network(sqlite_engine: Engine) -> Network:
    """The test network on a fresh SQLite database."""
    return build_network(sqlite_engine)
