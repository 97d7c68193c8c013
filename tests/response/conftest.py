"""Fixtures of the response tests (the organisation is built in :mod:`response_helpers`)."""

from __future__ import annotations

import pytest
from response_helpers import Org, build_org
from sqlalchemy.orm import Session


@pytest.fixture
def org(db_session: Session) -> Org:
    """District, street office, two departments, users, the active plan and a point plan."""
    return build_org(db_session)
