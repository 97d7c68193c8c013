"""Fixtures of the warning tests (the set-up itself is in ``warn_helpers``)."""

from __future__ import annotations

from warn_helpers import world

__all__ = ["world"]
