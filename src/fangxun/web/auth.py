"""Web authentication: a signed session cookie, CSRF tokens, and the logged-in user dependency.

The cookie ``fangxun_session`` holds a JSON payload signed (not encrypted) with
``Settings.secret_key`` by :mod:`itsdangerous`, its timestamp checked against
``Settings.session_ttl_s`` (s): a random per-session CSRF token and, once logged in, an opaque
``web`` token issued by :func:`fangxun.org.service.issue_token`. The token is checked in the
database on every request, so logout (and anything that revokes the user's tokens, such as
deactivation) ends the session on the server, not only in the browser. Cookie flags: ``HttpOnly``,
``SameSite=Lax``, and ``Secure`` in production (demo, development and test run on plain HTTP at
127.0.0.1).

Every form POST carries the CSRF token in the hidden field ``csrf_token`` (or, for HTMX, the header
``X-CSRF-Token``); :func:`csrf_protect` compares it with the session's token and otherwise raises
:class:`CsrfRejected`, which :class:`fangxun.web.render.WebRoute` turns into a 403 page.

Later pages use the dependencies like this::

    router = APIRouter(route_class=WebRoute)

    @router.post("/hazards/{hazard_id}/close", dependencies=[CsrfProtected])
    def close(user: WebUser, ...): ...
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from typing import Annotated, Any, Final

from fastapi import Depends, Request, Response
from itsdangerous import BadSignature, TimestampSigner, URLSafeTimedSerializer

from fangxun.api.deps import SessionDep, SettingsDep
from fangxun.api.principal import Principal, resolve_principal
from fangxun.config import Settings
from fangxun.db import Session
from fangxun.db.types import utcnow
from fangxun.errors import AuthenticationError
from fangxun.org import service as org_service
from fangxun.org.models import User

SESSION_COOKIE: Final = "fangxun_session"
CSRF_FIELD: Final = "csrf_token"
CSRF_HEADER: Final = "X-CSRF-Token"
_SALT: Final = "fangxun.web.session"
#: Environments served on plain HTTP, where a ``Secure`` cookie would never be sent back.
_INSECURE_ENVIRONMENTS: Final = frozenset({"development", "demo", "test"})
#: Where ``request.state`` keeps the session read (or started) for this request.
_STATE_KEY: Final = "fangxun_web_session"
#: ``AuthToken.purpose`` of browser sessions (API bearer tokens are "api").
WEB_TOKEN_PURPOSE: Final = "web"


@dataclass(frozen=True)
class WebSession:
    """The content of the session cookie. ``token`` is None before login (CSRF token only)."""

    csrf: str
    token: str | None = None

    def to_payload(self) -> dict[str, Any]:
        """The JSON-able form stored in the cookie."""
        return {"c": self.csrf, "t": self.token}

    @classmethod
    def from_payload(cls, payload: object) -> WebSession | None:
        """Parse a payload written by :meth:`to_payload`; None when it has another shape."""
        if not isinstance(payload, dict):
            return None
        csrf, token = payload.get("c"), payload.get("t")
        if not isinstance(csrf, str) or len(csrf) < 16:
            return None
        if token is not None and not isinstance(token, str):
            return None
        return cls(csrf=csrf, token=token)


class LoginRequired(Exception):
    """Raised by :func:`current_web_user`: the page needs a logged-in user.

    ``next_path`` is where the login returns to.
    """

    def __init__(self, next_path: str) -> None:
        super().__init__(f"login required for {next_path}")
        self.next_path = next_path


class CsrfRejected(Exception):
    """Raised by :func:`csrf_protect`: the form's CSRF token is missing or does not match."""

    def __init__(self, settings: Settings, reason: str) -> None:
        super().__init__(reason)
        self.settings = settings
        self.reason = reason


class _SessionSigner(TimestampSigner):
    """itsdangerous's signer with the cookie's time read from :func:`utcnow`, the clock the
    tokens' expiry reads too (one seam for a test's clock; the same whole seconds as
    ``time.time()``)."""

    def get_timestamp(self) -> int:
        return int(utcnow().timestamp())


def _serializer(settings: Settings) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(settings.effective_secret_key, salt=_SALT, signer=_SessionSigner)


def _new_csrf() -> str:
    return secrets.token_urlsafe(32)


def cookie_is_secure(settings: Settings) -> bool:
    """True when cookies must carry the ``Secure`` flag (production, served over HTTPS)."""
    return settings.environment not in _INSECURE_ENVIRONMENTS


def read_session(request: Request, settings: Settings) -> WebSession | None:
    """The valid session of ``request``; None when absent, tampered with or older than the TTL."""
    cached = getattr(request.state, _STATE_KEY, None)
    if isinstance(cached, WebSession):
        return cached
    raw = request.cookies.get(SESSION_COOKIE)
    if not raw:
        return None
    try:
        payload = _serializer(settings).loads(raw, max_age=settings.session_ttl_s)
    except BadSignature:  # also covers SignatureExpired
        return None
    session = WebSession.from_payload(payload)
    if session is not None:
        setattr(request.state, _STATE_KEY, session)
    return session


def ensure_session(request: Request, settings: Settings) -> tuple[WebSession, bool]:
    """The session of ``request``, or a new anonymous one; the flag says it is new (to be saved)."""
    session = read_session(request, settings)
    if session is not None:
        return session, False
    session = WebSession(csrf=_new_csrf())
    setattr(request.state, _STATE_KEY, session)
    return session, True


def login_session(request: Request, db: Session, user: User, settings: Settings) -> WebSession:
    """A fresh session for ``user``: a new ``web`` token valid ``session_ttl_s`` and a new CSRF
    token (so a CSRF token seen before login is worthless)."""
    token = org_service.issue_token(
        session=db, user=user, ttl_s=settings.session_ttl_s, purpose=WEB_TOKEN_PURPOSE
    )
    session = WebSession(csrf=_new_csrf(), token=token)
    setattr(request.state, _STATE_KEY, session)
    return session


def logout_session(request: Request, db: Session, settings: Settings) -> None:
    """Revoke the session's ``web`` token (the caller also clears the cookie)."""
    session = read_session(request, settings)
    if session is not None and session.token:
        org_service.revoke_token(session=db, token=session.token)


def write_session(response: Response, session: WebSession, settings: Settings) -> None:
    """Set the signed session cookie on ``response``."""
    response.set_cookie(
        SESSION_COOKIE,
        _serializer(settings).dumps(session.to_payload()),
        max_age=settings.session_ttl_s,
        path="/",
        httponly=True,
        samesite="lax",
        secure=cookie_is_secure(settings),
    )


def clear_session(response: Response, settings: Settings) -> None:
    """Remove the session cookie (logout)."""
    response.delete_cookie(
        SESSION_COOKIE,
        path="/",
        httponly=True,
        samesite="lax",
        secure=cookie_is_secure(settings),
    )


def csrf_matches(request: Request, settings: Settings, token: str | None) -> bool:
    """True when ``token`` equals the CSRF token of the request's session (constant time)."""
    session = read_session(request, settings)
    if session is None or not token:
        return False
    return hmac.compare_digest(session.csrf.encode(), token.encode())


async def csrf_protect(request: Request, settings: SettingsDep) -> None:
    """Dependency for every state-changing web request: the CSRF token must match the session.

    The token is read from the ``X-CSRF-Token`` header, else from the form field ``csrf_token``.
    """
    token = request.headers.get(CSRF_HEADER)
    if not token:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            form = await request.form()
            value = form.get(CSRF_FIELD)
            token = value if isinstance(value, str) else None
    if read_session(request, settings) is None:
        raise CsrfRejected(settings, "no session cookie (cookies blocked or session expired)")
    if not token:
        raise CsrfRejected(settings, f"the form has no {CSRF_FIELD} field")
    if not csrf_matches(request, settings, token):
        raise CsrfRejected(settings, f"the form's {CSRF_FIELD} does not match the session")


#: ``dependencies=[CsrfProtected]`` on a route rejects a POST without the session's CSRF token.
CsrfProtected = Depends(csrf_protect)


def _request_target(request: Request) -> str:
    target = request.url.path
    if request.url.query:
        target += "?" + request.url.query
    return target


def session_user(request: Request, db: Session, settings: Settings) -> User | None:
    """The active user logged in by the request's session cookie, or None."""
    session = read_session(request, settings)
    if session is None or not session.token:
        return None
    try:
        user = org_service.user_for_token(
            session=db, token=session.token, purpose=WEB_TOKEN_PURPOSE
        )
    except AuthenticationError:
        # Expired, revoked (logout, deactivated user) or unknown.
        return None
    request.state.web_user = user
    return user


def current_web_user(request: Request, db: SessionDep, settings: SettingsDep) -> User:
    """Dependency: the logged-in, active user of the session cookie; else :class:`LoginRequired`
    (rendered as a redirect to ``/login?next=...``)."""
    user = session_user(request, db, settings)
    if user is None:
        raise LoginRequired(_request_target(request))
    return user


#: The logged-in user of a web page; redirects to ``/login`` when nobody is logged in.
WebUser = Annotated[User, Depends(current_web_user)]


async def current_web_principal(request: Request) -> Principal:
    """Dependency: as :func:`current_web_user`, but the :class:`Principal` from the in-process
    principal cache when known (no database session, no thread-pool hop): for the ``async`` map
    documents polled by every open map."""
    settings: Settings = request.app.state.settings
    session = read_session(request, settings)
    if session is not None and session.token:
        try:
            return await resolve_principal(request, session.token, WEB_TOKEN_PURPOSE)
        except AuthenticationError:  # expired, revoked (logout, deactivated user) or unknown
            pass
    raise LoginRequired(_request_target(request))


#: The logged-in principal of a cached map document; redirects to ``/login`` as :data:`WebUser`.
WebPrincipal = Annotated[Principal, Depends(current_web_principal)]


def safe_next(target: str | None, default: str = "/map") -> str:
    """``target`` if it is a path on this site, else ``default`` (no open redirects).

    >>> safe_next("/hazards?x=1"), safe_next("//evil.example/"), safe_next("https://x")
    ('/hazards?x=1', '/map', '/map')
    >>> safe_next(None, default="/login")
    '/login'
    """
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return default
    if any(ch in target for ch in "\r\n"):
        return default
    return target


__all__ = [
    "CSRF_FIELD",
    "CSRF_HEADER",
    "SESSION_COOKIE",
    "CsrfProtected",
    "CsrfRejected",
    "LoginRequired",
    "WebSession",
    "WebUser",
    "clear_session",
    "cookie_is_secure",
    "csrf_matches",
    "csrf_protect",
    "current_web_user",
    "ensure_session",
    "login_session",
    "logout_session",
    "read_session",
    "safe_next",
    "session_user",
    "write_session",
]
