"""Markers of the hardening tests (registered here: pyproject's list belongs to the lead)."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "audit: audits the installed dependencies with pip-audit (needs the network)"
    )
