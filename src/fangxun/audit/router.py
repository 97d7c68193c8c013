"""``GET /api/v1/audit``: read the audit log (admin, district). There are no write endpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from fangxun.api.deps import SessionDep, require_role
from fangxun.api.pagination import Page, PageDep
from fangxun.audit.models import AuditAction
from fangxun.audit.schemas import AuditEntryRead
from fangxun.audit.service import list_entries
from fangxun.errors import ValidationFailed
from fangxun.org.models import Role, User

router = APIRouter(tags=["audit"])

AuditReader = Annotated[User, Depends(require_role(Role.admin, Role.district))]


@router.get(
    "/audit",
    response_model=Page[AuditEntryRead],
    responses={401: {"description": "Not logged in"}, 403: {"description": "Not admin/district"}},
)
def read_audit(
    user: AuditReader,
    session: SessionDep,
    page: PageDep,
    object_type: Annotated[str | None, Query(max_length=64, examples=["org_unit"])] = None,
    object_id: Annotated[str | None, Query(max_length=64)] = None,
    actor_id: Annotated[int | None, Query(ge=1)] = None,
    actor_username: Annotated[str | None, Query(max_length=64)] = None,
    action: AuditAction | None = None,
    since: Annotated[datetime | None, Query(description="ISO 8601 with offset")] = None,
    until: Annotated[datetime | None, Query(description="ISO 8601 with offset")] = None,
) -> dict[str, object]:
    """Changes, newest first, filtered by object, actor, action and time."""
    del user
    items, total = list_entries(
        session=session,
        object_type=object_type,
        object_id=object_id,
        actor_id=actor_id,
        actor_username=actor_username,
        action=action,
        since=_aware(since, "since"),
        until=_aware(until, "until"),
        limit=page.limit,
        offset=page.offset,
    )
    return page.page(items, total)


def _aware(value: datetime | None, name: str) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise ValidationFailed(
            "give a time zone offset, e.g. 2026-07-20T16:00:00+08:00", loc=("query", name)
        )
    return value
