"""Database layer: engine, session scope (commit at the edge), base model, types, migrations."""

from __future__ import annotations

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError as DatabaseError
from sqlalchemy.orm import Session

from fangxun.db.base import NAMING_CONVENTION, Base
from fangxun.db.engine import make_engine, session_factory, session_scope
from fangxun.db.types import UTCDateTime, json_type, utcnow

# Session, Engine and DatabaseError (SQLAlchemy's base error): what the shells (api, cli, web)
# annotate with and catch; they take no SQLAlchemy import of their own (import-linter contract
# "shells-no-queries" in pyproject.toml).
__all__ = [
    "NAMING_CONVENTION",
    "Base",
    "DatabaseError",
    "Engine",
    "Session",
    "UTCDateTime",
    "json_type",
    "make_engine",
    "session_factory",
    "session_scope",
    "utcnow",
]
