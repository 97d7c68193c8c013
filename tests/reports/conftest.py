"""Fixtures of the report tests (the crafted district is in ``report_helpers``)."""

from __future__ import annotations

import pytest
from report_helpers import Crafted, build
from sqlalchemy.orm import Session


@pytest.fixture
def crafted(db_session: Session) -> Crafted:
    """The crafted district in the test's session (flushed, rolled back afterwards)."""
    return build(db_session)
