"""Web pages of notifications: the outbox viewer (``/notifications``: recent notifications, their
deliveries and acknowledgement, with an acknowledge button) and the acknowledgement page a
recipient reaches from the link in a message (``/notify/ack/{token}``, no login).

The link's GET only shows the page; the acknowledgement is its POST (CSRF-protected), so link
previews and mail scanners that fetch URLs never acknowledge anything.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Annotated, Any, Final
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request, Response
from fastapi.responses import RedirectResponse

from fangxun.api.deps import SessionDep, SettingsDep
from fangxun.config import Settings
from fangxun.errors import FangxunError, NotFoundError
from fangxun.notify import service
from fangxun.notify.models import DeliveryStatus, Notification
from fangxun.web.auth import CsrfProtected, WebUser
from fangxun.web.i18n import N_, gettext_for, negotiate_language
from fangxun.web.render import WebRoute, local, render_page

router = APIRouter(route_class=WebRoute, include_in_schema=False)

#: Labels of delivery states (msgids).
STATUS_LABELS: Final[dict[str, str]] = {
    DeliveryStatus.pending: N_("Waiting"),
    DeliveryStatus.sending: N_("Sending"),
    DeliveryStatus.retry: N_("Will retry"),
    DeliveryStatus.sent: N_("Sent"),
    DeliveryStatus.dead: N_("Failed"),
}
#: Names of the channels (msgids).
CHANNEL_LABELS: Final[dict[str, str]] = {
    "webhook": N_("Webhook"),
    "wecom": N_("WeCom"),
    "dingtalk": N_("DingTalk"),
    "email": N_("E-mail"),
}
#: What a notification is about, by the prefix of its event key (``warning-change:17``).
EVENT_LABELS: Final[dict[str, str]] = {
    "warning-change": N_("Warning change #%(n)s"),
    "warning-batch": N_("Warning changes #%(n)s (one message)"),
}
#: Labels of the reasons a recipient is told (msgids).
ROLE_LABELS: Final[dict[str, str]] = {
    "responsible": N_("Responsible person"),
    "deputy": N_("Deputy"),
    "unit_contact": N_("Unit contact"),
    "duty": N_("On duty"),
    "leader_on_duty": N_("Leader on duty"),
}


#: Times on these pages to the second (deliveries and acknowledgements follow each other fast).
local_seconds: Final = partial(local, seconds=True)


def event_label(key: str, gettext: Callable[[str], str]) -> str:
    """``warning-change:17`` → 预警变化 #17 (``warning-batch:59-69:<digest>`` → the changes
    59 to 69 in one message); a key of another kind as it is."""
    kind, _sep, rest = key.partition(":")
    number = rest.split(":", 1)[0]
    return gettext(EVENT_LABELS[kind]) % {"n": number} if kind in EVENT_LABELS else key


#: Notifications per page of the viewer.
PAGE_SIZE: Final = 50


@router.get("/notifications")
def notifications_page(
    request: Request,
    user: WebUser,
    db: SessionDep,
    settings: SettingsDep,
    mine: Annotated[bool, Query()] = False,
    unacknowledged: Annotated[bool, Query()] = False,
    warning: Annotated[int | None, Query(ge=1)] = None,
    unit: Annotated[int | None, Query(ge=1)] = None,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
) -> Response:
    """The outbox: notifications with delivery state and acknowledgement; filters (mine, not
    acknowledged, by warning, by unit), pages, and acknowledging all of one warning."""
    gettext = gettext_for(negotiate_language(request, settings.language))
    where = service.NotificationFilter(
        mine=mine,
        unacknowledged=unacknowledged,
        ref=f"warning:{warning}" if warning is not None else None,
        unit_id=unit,
    )
    total = service.count_notifications(session=db, actor=user, where=where)
    items = service.list_notifications(
        session=db, actor=user, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE, where=where
    )
    open_count = service.count_notifications(
        session=db, actor=user, where=service.NotificationFilter(unacknowledged=True)
    )
    query = {
        k: v
        for k, v in {
            "mine": "1" if mine else None,
            "unacknowledged": "1" if unacknowledged else None,
            "warning": warning,
            "unit": unit,
        }.items()
        if v is not None
    }
    return render_page(
        request,
        "notify/list.html",
        settings=settings,
        user=user,
        active="notifications",
        context={
            "items": items,
            "counts": service.delivery_counts(session=db, actor=user),
            "open": open_count,
            "status_labels": STATUS_LABELS,
            "role_labels": ROLE_LABELS,
            "channel_labels": CHANNEL_LABELS,
            "event_label": lambda key: event_label(key, gettext),
            "local": local_seconds,
            # Who sees the button: roles that may acknowledge for others, and the recipient.
            "may_ack_all": user.role in service.ACK_ROLES,
            "filters": {
                "mine": mine,
                "unacknowledged": unacknowledged,
                "warning": warning,
                "unit": unit,
            },
            "units": units_for_filter(db, user),
            "page": page,
            "pages": max(1, -(-total // PAGE_SIZE)),
            "total": total,
            "query": urlencode(query),
            "warning_refs": warning_refs,
        },
    )


def warning_refs(notification: Notification) -> list[int]:
    """The warnings a notification is about (its ``warning:<id>`` references)."""
    return [
        int(r.ref.split(":", 1)[1])
        for r in notification.refs
        if r.ref.startswith("warning:") and r.ref.split(":", 1)[1].isdigit()
    ]


def units_for_filter(db: Any, user: Any) -> list[Any]:
    """The units the viewer may filter by (its jurisdiction; none for a role that may not read
    the organisation)."""
    from fangxun.errors import PermissionDeniedError
    from fangxun.org import service as org

    try:
        units, _total = org.list_units(session=db, actor=user, limit=500)
    except PermissionDeniedError:
        return []
    return units


@router.post("/notifications/{notification_id}/ack", dependencies=[CsrfProtected])
def acknowledge_from_list(notification_id: int, user: WebUser, db: SessionDep) -> Response:
    """Acknowledge from the viewer, then back to it."""
    service.acknowledge(session=db, notification_id=notification_id, actor=user, via="web")
    return RedirectResponse("/notifications", status_code=303)


@router.post("/notifications/ack-warning", dependencies=[CsrfProtected])
def acknowledge_warning(
    user: WebUser, db: SessionDep, warning_id: Annotated[int, Form(ge=1)]
) -> Response:
    """Acknowledge every open notification about one warning at once, then back to its list."""
    service.acknowledge_all(session=db, ref=f"warning:{warning_id}", actor=user, via="web")
    return RedirectResponse(f"/notifications?warning={warning_id}", status_code=303)


def _ack_page(
    request: Request,
    settings: Settings,
    *,
    token: str,
    notification: Notification | None,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    return render_page(
        request,
        "notify/ack.html",
        settings=settings,
        status_code=status_code,
        context={"token": token, "n": notification, "error": error, "local": local_seconds},
    )


@router.get("/notify/ack/{token}")
def ack_link(request: Request, token: str, db: SessionDep, settings: SettingsDep) -> Response:
    """The page of an acknowledgement link: what was sent, and the 已收到 button."""
    try:
        notification = service.notification_for_token(
            session=db,
            token=token,
            secret_key=settings.effective_secret_key,
            max_age_s=settings.notify_ack_link_ttl_s,
        )
    except FangxunError as exc:
        status = 404 if isinstance(exc, NotFoundError) else 410
        return _ack_page(
            request, settings, token=token, notification=None, error=exc.detail, status_code=status
        )
    return _ack_page(request, settings, token=token, notification=notification)


@router.post("/notify/ack/{token}", dependencies=[CsrfProtected])
def ack_link_submit(
    request: Request, token: str, db: SessionDep, settings: SettingsDep
) -> Response:
    """Acknowledge by link (no login: the signed token is the credential)."""
    try:
        notification = service.acknowledge_by_token(
            session=db,
            token=token,
            secret_key=settings.effective_secret_key,
            max_age_s=settings.notify_ack_link_ttl_s,
        )
    except FangxunError as exc:
        status = 404 if isinstance(exc, NotFoundError) else 410
        return _ack_page(
            request, settings, token=token, notification=None, error=exc.detail, status_code=status
        )
    return _ack_page(request, settings, token=token, notification=notification)
