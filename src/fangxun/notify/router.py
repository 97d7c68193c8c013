"""HTTP routes of notifications: the outbox as seen by duty users, acknowledgement, and the contact
channels of people and units. Thin: parse, call the service, render."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from fangxun.api.deps import CurrentUser, SessionDep
from fangxun.api.problems import error_responses
from fangxun.notify import service
from fangxun.notify.schemas import AckWarningIn, ContactCreate, ContactRead, NotificationRead

router = APIRouter(tags=["notifications"])

_ERRORS = error_responses(401, 403, 404)


@router.get("/notifications", response_model=list[NotificationRead], responses=_ERRORS)
def list_notifications(
    response: Response,
    user: CurrentUser,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    event_key: Annotated[str | None, Query(max_length=200)] = None,
    unacknowledged: bool = False,
    mine: Annotated[bool, Query(description="Only those sent to you")] = False,
    warning_id: Annotated[int | None, Query(ge=1, description="Only about this warning")] = None,
    unit_id: Annotated[int | None, Query(ge=1)] = None,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Any:
    """The newest notifications in your jurisdiction, with delivery state and acknowledgement
    (filters; ``X-Total-Count`` with the total for paging)."""
    where = service.NotificationFilter(
        mine=mine,
        unacknowledged=unacknowledged,
        ref=f"warning:{warning_id}" if warning_id is not None else None,
        unit_id=unit_id,
        event_key=event_key,
    )
    response.headers["X-Total-Count"] = str(
        service.count_notifications(session=session, actor=user, where=where)
    )
    return service.list_notifications(
        session=session, actor=user, limit=limit, offset=offset, where=where
    )


@router.post(
    "/notifications/acknowledge-warning", response_model=list[NotificationRead], responses=_ERRORS
)
def acknowledge_warning(body: AckWarningIn, user: CurrentUser, session: SessionDep) -> Any:
    """Acknowledge every open notification about one warning in your jurisdiction at once
    (``admin``, ``district``, ``duty``, ``unit``)."""
    return service.acknowledge_all(
        session=session, ref=f"warning:{body.warning_id}", actor=user, via="api"
    )


@router.get("/notifications/{notification_id}", response_model=NotificationRead, responses=_ERRORS)
def get_notification(notification_id: int, user: CurrentUser, session: SessionDep) -> Any:
    """One notification."""
    return service.get_notification(session=session, notification_id=notification_id, actor=user)


@router.post(
    "/notifications/{notification_id}/ack", response_model=NotificationRead, responses=_ERRORS
)
def acknowledge(notification_id: int, user: CurrentUser, session: SessionDep) -> Any:
    """Acknowledge a notification (已收到); a second acknowledgement changes nothing."""
    return service.acknowledge(
        session=session, notification_id=notification_id, actor=user, via="api"
    )


@router.get("/notify/contacts", response_model=list[ContactRead], responses=_ERRORS)
def list_contacts(
    user: CurrentUser,
    session: SessionDep,
    person_id: Annotated[int | None, Query(ge=1)] = None,
    unit_id: Annotated[int | None, Query(ge=1)] = None,
) -> Any:
    """Contact channels of people and units in your jurisdiction."""
    return service.list_contacts(session=session, actor=user, person_id=person_id, unit_id=unit_id)


@router.post("/notify/contacts", response_model=ContactRead, status_code=201, responses=_ERRORS)
def add_contact(body: ContactCreate, user: CurrentUser, session: SessionDep) -> Any:
    """Add a contact channel (e-mail, webhook, WeCom or DingTalk robot) of a person or unit."""
    return service.add_contact(session=session, contact_in=body, actor=user)


@router.delete("/notify/contacts/{contact_id}", status_code=204, responses=_ERRORS)
def delete_contact(contact_id: int, user: CurrentUser, session: SessionDep) -> Response:
    """Remove a contact channel."""
    service.delete_contact(session=session, contact_id=contact_id, actor=user)
    return Response(status_code=204)
