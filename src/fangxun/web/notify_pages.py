"""Web pages of notifications: the outbox viewer (``/notifications``: recent notifications, their
deliveries and acknowledgement, with an acknowledge button) and the acknowledgement page a
recipient reaches from the link in a message (``/notify/ack/{token}``, no login).

The link's GET only shows the page; the acknowledgement is its POST (CSRF-protected), so link
previews and mail scanners that fetch URLs never acknowledge anything.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Final

from fastapi import APIRouter, Request, Response
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
    """``warning-change:17`` → 预警变化 #17; a key of another kind as it is."""
    kind, _sep, number = key.partition(":")
    return gettext(EVENT_LABELS[kind]) % {"n": number} if kind in EVENT_LABELS else key


@router.get("/notifications")
def notifications_page(
    request: Request, user: WebUser, db: SessionDep, settings: SettingsDep
) -> Response:
    """The outbox: recent notifications, delivery state and acknowledgement."""
    gettext = gettext_for(negotiate_language(request, settings.language))
    items = service.list_notifications(session=db, actor=user, limit=200)
    return render_page(
        request,
        "notify/list.html",
        settings=settings,
        user=user,
        active="notifications",
        context={
            "items": items,
            "counts": service.delivery_counts(session=db, actor=user),
            "open": len([n for n in items if n.requires_ack and n.acknowledged_at is None]),
            "status_labels": STATUS_LABELS,
            "role_labels": ROLE_LABELS,
            "channel_labels": CHANNEL_LABELS,
            "event_label": lambda key: event_label(key, gettext),
            "local": local_seconds,
            # Who sees the button: roles that may acknowledge for others, and the recipient.
            "may_ack_all": user.role in service.ACK_ROLES,
        },
    )


@router.post("/notifications/{notification_id}/ack", dependencies=[CsrfProtected])
def acknowledge_from_list(notification_id: int, user: WebUser, db: SessionDep) -> Response:
    """Acknowledge from the viewer, then back to it."""
    service.acknowledge(session=db, notification_id=notification_id, actor=user, via="web")
    return RedirectResponse("/notifications", status_code=303)


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
