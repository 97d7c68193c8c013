"""HTTP routes for auth (OAuth2 password flow), units, people and users: parse, call, render."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status
from fastapi.security import OAuth2PasswordRequestForm

from fangxun.api.deps import BearerToken, CurrentUser, SessionDep, SettingsDep
from fangxun.api.pagination import Page, PageDep
from fangxun.api.problems import error_responses
from fangxun.errors import AuthenticationError, ThrottledError
from fangxun.org import service
from fangxun.org.jurisdiction import visible_unit_ids
from fangxun.org.models import Role, UnitKind
from fangxun.org.permissions import ROLE_PERMISSIONS
from fangxun.org.schemas import (
    PersonCreate,
    PersonRead,
    PersonUpdate,
    TokenRead,
    UnitCreate,
    UnitRead,
    UnitUpdate,
    UserCreate,
    UserRead,
    UserUpdate,
)

router = APIRouter()

_ERRORS = error_responses(401, 404, s401="Missing, expired or revoked token")


# --- auth --------------------------------------------------------------------------------------


class MeRead(UserRead):
    """The logged-in user with what the role allows."""

    permissions: list[str]
    #: Units the user may see; None means all.
    visible_unit_ids: list[int] | None


@router.post(
    "/auth/token",
    response_model=TokenRead,
    tags=["auth"],
    summary="Log in (OAuth2 password flow)",
    responses={
        401: {"description": "Wrong username or password"},
        429: {"description": "Too many failed attempts; see Retry-After"},
    },
)
def login(
    request: Request,
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    session: SessionDep,
    settings: SettingsDep,
) -> TokenRead:
    """Exchange a username and password for an opaque bearer token."""
    client_ip = request.client.host if request.client else None
    try:
        user = service.authenticate(
            session=session,
            username=form.username,
            password=form.password,
            client_ip=client_ip,
            policy=service.LoginPolicy.from_settings(settings),
        )
    except (AuthenticationError, ThrottledError):
        # Keep the failed attempt: throttling counts what is in the database.
        session.commit()
        raise
    token = service.issue_token(
        session=session, user=user, ttl_s=settings.token_ttl_s, purpose="api"
    )
    return TokenRead(access_token=token, expires_in=settings.token_ttl_s)


@router.post(
    "/auth/logout",
    status_code=status.HTTP_204_NO_CONTENT,
    tags=["auth"],
    summary="Revoke the token of this request",
    responses=_ERRORS,
)
def logout(user: CurrentUser, session: SessionDep, token: BearerToken) -> Response:
    """Revoke the bearer token used for this request."""
    del user  # authenticated above; the token is what gets revoked
    if token:
        service.revoke_token(session=session, token=token)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/auth/me", response_model=MeRead, tags=["auth"], responses=_ERRORS)
def me(user: CurrentUser, session: SessionDep) -> MeRead:
    """Who the token belongs to, its permissions and jurisdiction."""
    visible = visible_unit_ids(session=session, user=user)
    return MeRead(
        **UserRead.model_validate(user).model_dump(),
        permissions=sorted(p.value for p in ROLE_PERMISSIONS.get(user.role, frozenset())),
        visible_unit_ids=sorted(visible) if visible is not None else None,
    )


# --- units -------------------------------------------------------------------------------------


@router.get("/units", response_model=Page[UnitRead], tags=["org"], responses=_ERRORS)
def list_units(
    user: CurrentUser,
    session: SessionDep,
    page: PageDep,
    kind: UnitKind | None = None,
    parent_id: Annotated[int | None, Query(ge=1)] = None,
) -> dict[str, object]:
    """Units in your jurisdiction, by code."""
    items, total = service.list_units(
        session=session,
        actor=user,
        kind=kind,
        parent_id=parent_id,
        limit=page.limit,
        offset=page.offset,
    )
    return page.page(items, total)


@router.post("/units", response_model=UnitRead, status_code=201, tags=["org"], responses=_ERRORS)
def create_unit(body: UnitCreate, user: CurrentUser, session: SessionDep) -> object:
    """Create a unit (admin, district)."""
    return service.create_unit(session=session, unit_in=body, actor=user)


@router.get("/units/{unit_id}", response_model=UnitRead, tags=["org"], responses=_ERRORS)
def get_unit(unit_id: int, user: CurrentUser, session: SessionDep) -> object:
    """One unit."""
    return service.get_unit(session=session, unit_id=unit_id, actor=user)


@router.patch("/units/{unit_id}", response_model=UnitRead, tags=["org"], responses=_ERRORS)
def update_unit(unit_id: int, body: UnitUpdate, user: CurrentUser, session: SessionDep) -> object:
    """Change a unit (admin, district)."""
    return service.update_unit(session=session, unit_id=unit_id, unit_in=body, actor=user)


@router.delete("/units/{unit_id}", status_code=204, tags=["org"], responses=_ERRORS)
def delete_unit(unit_id: int, user: CurrentUser, session: SessionDep) -> Response:
    """Delete an empty unit (admin, district)."""
    service.delete_unit(session=session, unit_id=unit_id, actor=user)
    return Response(status_code=204)


# --- people ------------------------------------------------------------------------------------


@router.get("/people", response_model=Page[PersonRead], tags=["org"], responses=_ERRORS)
def list_people(
    user: CurrentUser,
    session: SessionDep,
    page: PageDep,
    unit_id: Annotated[int | None, Query(ge=1)] = None,
    q: Annotated[str | None, Query(max_length=100, description="Part of the name")] = None,
) -> dict[str, object]:
    """People in your jurisdiction, by name."""
    items, total = service.list_people(
        session=session, actor=user, unit_id=unit_id, q=q, limit=page.limit, offset=page.offset
    )
    return page.page(items, total)


@router.post("/people", response_model=PersonRead, status_code=201, tags=["org"], responses=_ERRORS)
def create_person(body: PersonCreate, user: CurrentUser, session: SessionDep) -> object:
    """Add a person (admin, district; a unit user in its own jurisdiction)."""
    return service.create_person(session=session, person_in=body, actor=user)


@router.get("/people/{person_id}", response_model=PersonRead, tags=["org"], responses=_ERRORS)
def get_person(person_id: int, user: CurrentUser, session: SessionDep) -> object:
    """One person."""
    return service.get_person(session=session, person_id=person_id, actor=user)


@router.patch("/people/{person_id}", response_model=PersonRead, tags=["org"], responses=_ERRORS)
def update_person(
    person_id: int, body: PersonUpdate, user: CurrentUser, session: SessionDep
) -> object:
    """Change a person."""
    return service.update_person(session=session, person_id=person_id, person_in=body, actor=user)


@router.delete("/people/{person_id}", status_code=204, tags=["org"], responses=_ERRORS)
def delete_person(person_id: int, user: CurrentUser, session: SessionDep) -> Response:
    """Remove a person."""
    service.delete_person(session=session, person_id=person_id, actor=user)
    return Response(status_code=204)


# --- users -------------------------------------------------------------------------------------


@router.get("/users", response_model=Page[UserRead], tags=["org"], responses=_ERRORS)
def list_users(
    user: CurrentUser,
    session: SessionDep,
    page: PageDep,
    role: Role | None = None,
    unit_id: Annotated[int | None, Query(ge=1)] = None,
) -> dict[str, object]:
    """Users in your jurisdiction, by username."""
    items, total = service.list_users(
        session=session,
        actor=user,
        role=role,
        unit_id=unit_id,
        limit=page.limit,
        offset=page.offset,
    )
    return page.page(items, total)


@router.post("/users", response_model=UserRead, status_code=201, tags=["org"], responses=_ERRORS)
def create_user(body: UserCreate, user: CurrentUser, session: SessionDep) -> object:
    """Create a login (admin, district)."""
    return service.create_user(session=session, user_in=body, actor=user)


@router.get("/users/{user_id}", response_model=UserRead, tags=["org"], responses=_ERRORS)
def get_user(user_id: int, user: CurrentUser, session: SessionDep) -> object:
    """One user."""
    return service.get_user(session=session, user_id=user_id, actor=user)


@router.patch("/users/{user_id}", response_model=UserRead, tags=["org"], responses=_ERRORS)
def update_user(user_id: int, body: UserUpdate, user: CurrentUser, session: SessionDep) -> object:
    """Change a user; a new password or deactivation revokes their tokens."""
    return service.update_user(session=session, user_id=user_id, user_in=body, actor=user)


@router.delete("/users/{user_id}", status_code=204, tags=["org"], responses=_ERRORS)
def delete_user(user_id: int, user: CurrentUser, session: SessionDep) -> Response:
    """Delete a login."""
    service.delete_user(session=session, user_id=user_id, actor=user)
    return Response(status_code=204)


__all__ = ["MeRead", "router"]
