"""Saved column mappings: an office's own headers → the import's fields, kept by name for next
season (the web import's "save this mapping" step; the same JSON as a ``--mapping`` file)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from fangxun.db.base import Base
from fangxun.db.types import json_type
from fangxun.org.models import TimestampMixin


class ColumnMapping(TimestampMixin, Base):
    """A named mapping for one import (``kind``: people, stations or hazards): ``columns`` is
    ``{"source header": "field" or null}``, as in a mapping file's ``"columns"``."""

    __tablename__ = "setup_column_mapping"
    __table_args__ = (UniqueConstraint("kind", "name", name="uq_setup_column_mapping_kind_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(100))
    columns: Mapped[dict[str, Any]] = mapped_column(json_type())
    created_by: Mapped[str] = mapped_column(String(64))
