"""Request dependencies: settings, one database session per request, the current user, roles."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from fangxun.api.ids import check_integer_params
from fangxun.api.principal import Principal, resolve_principal
from fangxun.config import Settings
from fangxun.errors import AuthenticationError, PermissionDeniedError
from fangxun.org.models import Role, User
from fangxun.org.service import user_for_token

TOKEN_URL = "/api/v1/auth/token"

_bearer = OAuth2PasswordBearer(tokenUrl=TOKEN_URL, auto_error=False)


def get_settings_dep(request: Request) -> Settings:
    """The settings the app was built with."""
    settings: Settings = request.app.state.settings
    return settings


def get_engine(request: Request) -> Engine:
    """The app's database engine."""
    engine: Engine = request.app.state.engine
    return engine


def get_session(request: Request) -> Iterator[Session]:
    """One session per request: committed when the handler succeeds, rolled back when it raises.

    Registered with ``scope="function"`` so the commit happens before the response is sent: a client
    never sees a success whose data was not written.
    """
    # An integer id beyond the database's range is a 422 before any query (fangxun.api.ids).
    check_integer_params(request)
    session: Session = request.app.state.session_factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
EngineDep = Annotated[Engine, Depends(get_engine)]
SessionDep = Annotated[Session, Depends(get_session, scope="function")]
BearerToken = Annotated[str | None, Depends(_bearer)]


def get_current_user(session: SessionDep, token: BearerToken) -> User:
    """The user of the request's bearer token; 401 when missing, unknown, expired or revoked."""
    if not token:
        raise AuthenticationError("not authenticated: send 'Authorization: Bearer <token>'")
    return user_for_token(session=session, token=token, purpose="api")


CurrentUser = Annotated[User, Depends(get_current_user)]


async def get_current_principal(request: Request, token: BearerToken) -> Principal:
    """The principal of the request's bearer token (401 as :func:`get_current_user`), from the
    in-process principal cache when known (:mod:`fangxun.api.principal`): for ``async``
    read endpoints that serve cached documents without touching the database."""
    if not token:
        raise AuthenticationError("not authenticated: send 'Authorization: Bearer <token>'")
    return await resolve_principal(request, token, "api")


CurrentPrincipal = Annotated[Principal, Depends(get_current_principal)]


def require_role(*roles: Role) -> Callable[..., User]:
    """A dependency that lets only users with one of ``roles`` through (403 otherwise)::

    @router.get("/x")
    def x(user: Annotated[User, Depends(require_role(Role.admin, Role.district))]) -> ...
    """
    allowed = frozenset(roles)
    names = ", ".join(sorted(r.value for r in allowed))

    def _dependency(user: CurrentUser) -> User:
        if user.role not in allowed:
            raise PermissionDeniedError(f"this needs one of the roles: {names}")
        return user

    return _dependency
