"""fangxun.audit: who changed what, when, with the object before and after."""

from __future__ import annotations

from fangxun.audit.models import AuditAction, AuditEntry
from fangxun.audit.service import SystemActor, list_entries, record_change, snapshot

__all__ = ["AuditAction", "AuditEntry", "SystemActor", "list_entries", "record_change", "snapshot"]
