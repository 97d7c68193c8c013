"""Rendering of web pages: the shared page context, language cookie, and the web route class.

:func:`render_page` fills the context every template of the base layout needs (language, user and
role, navigation, CSRF token, language-switch links) and keeps the cookies in step (a new anonymous
session, ``?lang=``). :class:`WebRoute` turns :class:`~fangxun.web.auth.LoginRequired` into a
redirect to the login page and :class:`~fangxun.web.auth.CsrfRejected` into a 403 page, so every web
router gets both with ``APIRouter(route_class=WebRoute)``.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import urlencode

from fastapi import Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute

from fangxun import __version__, replay_clock
from fangxun.config import Settings
from fangxun.org.models import User
from fangxun.times import SHORT, SHORT_SECONDS, local_zone
from fangxun.times import local as local_time
from fangxun.web.auth import (
    CSRF_FIELD,
    CSRF_HEADER,
    CsrfRejected,
    LoginRequired,
    ensure_session,
    write_session,
)
from fangxun.web.i18n import (
    HTML_LANG,
    LANG_COOKIE,
    LANGUAGE_NAMES,
    LANGUAGES,
    N_,
    gettext_for,
    negotiate_language,
    templates_for,
)
from fangxun.web.nav import visible_sections
from fangxun.web.staleness import poll_seconds, staleness_for

#: Role names as shown in the top bar (msgids).
ROLE_LABELS: Final[dict[str, str]] = {
    "admin": N_("System administrator"),
    "district": N_("District flood-control office"),
    "duty": N_("Duty officer"),
    "unit": N_("Unit"),
    "inspector": N_("Inspector"),
    "viewer": N_("Viewer"),
}
#: Names of the environments for the top bar's badge (msgids).
ENVIRONMENT_LABELS: Final[dict[str, str]] = {
    "development": N_("Development"),
    "test": N_("Test"),
    "demo": N_("Demo"),
    "production": N_("Production"),
}
#: How long the language choice is remembered, s (one year).
LANG_COOKIE_MAX_AGE_S: Final = 365 * 24 * 3600


def local(value: datetime | None, *, seconds: bool = False) -> str:
    """A UTC time as shown on the pages: the district's zone, month-day hour:minute."""
    return local_time(value, SHORT_SECONDS if seconds else SHORT)


def role_name(user: User) -> str:
    """The role of ``user`` as a plain string (the enum's value)."""
    role = user.role
    return str(getattr(role, "value", role))


def _static_url(request: Request) -> Callable[[str], str]:
    root = request.scope.get("root_path", "")

    def static(path: str) -> str:
        # The version in the query string makes browsers fetch new assets after an upgrade.
        return f"{root}/static/{path.lstrip('/')}?v={__version__}"

    return static


def _language_links(request: Request) -> list[dict[str, str]]:
    links = []
    for code in LANGUAGES:
        params = [(k, v) for k, v in request.query_params.multi_items() if k != LANG_COOKIE]
        params.append((LANG_COOKIE, code))
        links.append({"code": code, "name": LANGUAGE_NAMES[code], "url": f"?{urlencode(params)}"})
    return links


def remember_language(request: Request, response: Response) -> None:
    """Keep a ``?lang=`` choice in the ``lang`` cookie (also across a redirect to the login)."""
    lang = request.query_params.get(LANG_COOKIE)
    if lang in LANGUAGES:
        response.set_cookie(
            LANG_COOKIE, lang, max_age=LANG_COOKIE_MAX_AGE_S, path="/", samesite="lax"
        )


def _clock_config(settings: Settings, lang: str) -> dict[str, Any]:
    state = replay_clock.current(settings.data_dir)
    _ = gettext_for(lang)
    return {
        "timezone": local_zone().key,
        "replay": state.as_json(datetime.now(UTC)) if state is not None else None,
        "labels": {"replay": _("Replay"), "replay_ended": _("Replay ended")},
    }


def render_page(
    request: Request,
    template: str,
    *,
    settings: Settings,
    user: User | None = None,
    context: dict[str, Any] | None = None,
    status_code: int = 200,
    active: str | None = None,
) -> HTMLResponse:
    """Render ``template`` in the request's language with the base layout's context.

    ``active`` is the slug of the navigation entry to highlight. Starts an anonymous session (for
    the CSRF token of forms) when the request has none, and remembers ``?lang=`` in the ``lang``
    cookie.
    """
    lang = negotiate_language(request, settings.language)
    session, is_new = ensure_session(request, settings)
    role = role_name(user) if user is not None else None
    page: dict[str, Any] = {
        "lang": lang,
        "html_lang": HTML_LANG[lang],
        "languages": _language_links(request),
        "user": user,
        "role": role,
        "role_label": ROLE_LABELS.get(role, role) if role else None,
        "nav": visible_sections(role) if role else [],
        "active": active,
        "csrf_token": session.csrf,
        "csrf_field": CSRF_FIELD,
        "csrf_header": CSRF_HEADER,
        "static": _static_url(request),
        "version": __version__,
        "environment": settings.environment,
        "environment_label": gettext_for(lang)(
            ENVIRONMENT_LABELS.get(settings.environment, settings.environment)
        ),
        # The "data is stale" banner of base.html (one cached query; see web/staleness.py).
        "staleness": staleness_for(request, settings) if user is not None else None,
        "stale_poll_s": poll_seconds(),
        # The one clock of the screen (top bar): the replay's during a replay.
        "clock_config": _clock_config(settings, lang),
    }
    page.update(context or {})
    response = templates_for(lang).TemplateResponse(
        request, template, page, status_code=status_code
    )
    # Pages depend on the session and the user: never let a shared cache keep them.
    response.headers["Cache-Control"] = "no-store"
    if is_new:
        write_session(response, session, settings)
    remember_language(request, response)
    return response


def login_redirect(request: Request, next_path: str) -> Response:
    """Send the browser to the login page, coming back to ``next_path`` afterwards."""
    target = "/login?" + urlencode({"next": next_path}) if next_path not in ("/", "") else "/login"
    response: Response
    if request.headers.get("HX-Request"):
        # HTMX swaps fragments; it follows this header with a full-page navigation instead.
        response = Response(status_code=401, headers={"HX-Redirect": target})
    else:
        response = RedirectResponse(target, status_code=303)
    remember_language(request, response)
    return response


def csrf_rejected_page(request: Request, exc: CsrfRejected) -> HTMLResponse:
    """The 403 page for a form without a valid CSRF token; says what happened and what to do."""
    lang = negotiate_language(request, exc.settings.language)
    _ = gettext_for(lang)
    return render_page(
        request,
        "error.html",
        settings=exc.settings,
        user=getattr(request.state, "web_user", None),
        status_code=403,
        context={
            "title": _("Form security check failed"),
            "message": _(
                "The form was sent without a valid security token (CSRF), so nothing was changed. "
                "Reload the page and send the form again."
            ),
            "reason": exc.reason,
        },
    )


class WebRoute(APIRoute):
    """Route class of web pages: login redirects and CSRF rejections become HTML responses."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def web_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except LoginRequired as exc:
                return login_redirect(request, exc.next_path)
            except CsrfRejected as exc:
                return csrf_rejected_page(request, exc)

        return web_handler


__all__ = [
    "ROLE_LABELS",
    "WebRoute",
    "csrf_rejected_page",
    "local",
    "login_redirect",
    "remember_language",
    "render_page",
    "role_name",
]
