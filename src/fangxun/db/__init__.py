"""Database layer: engine, session scope (commit at the edge), base model, types, migrations."""

from __future__ import annotations

from fangxun.db.base import NAMING_CONVENTION, Base
from fangxun.db.engine import make_engine, session_factory, session_scope
from fangxun.db.types import UTCDateTime, json_type, utcnow

__all__ = [
    "NAMING_CONVENTION",
    "Base",
    "UTCDateTime",
    "json_type",
    "make_engine",
    "session_factory",
    "session_scope",
    "utcnow",
]
