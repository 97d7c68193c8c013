"""Wire shapes of the audit log (read only: there is no way to write it through the API)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from fangxun.audit.models import AuditAction


class AuditEntryRead(BaseModel):
    """One change as served by ``GET /api/v1/audit``; ``at`` is ISO 8601 UTC."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    at: datetime
    actor_id: int | None
    actor_username: str
    action: AuditAction
    object_type: str
    object_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
