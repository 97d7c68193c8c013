"""HTTP routes of field work: river reaches, patrol plans, patrols and the overdue list.

A patrol goes in as JSON (``POST /patrols``); the phone's form goes through the web shell's
``/field/patrols`` (multipart, with photos and a client key), which calls the same service.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse

from fangxun.api.deps import CurrentUser, SessionDep, SettingsDep
from fangxun.api.problems import error_responses
from fangxun.field import service
from fangxun.field.schemas import (
    OverduePatrol,
    PatrolCreate,
    PatrolPlanCreate,
    PatrolPlanRead,
    PatrolRead,
    ReachCreate,
    ReachRead,
)

router = APIRouter(tags=["field"])

_ERRORS = error_responses(
    401, 403, 404, s401="Missing, expired or revoked token", s403="Your role may not do this"
)


def patrol_read(patrol: Any) -> PatrolRead:
    """The wire shape of a patrol (a finding says whether it has a photo)."""
    read = PatrolRead.model_validate(patrol)
    for finding, row in zip(read.findings, patrol.findings, strict=True):
        finding.has_photo = row.photo_name is not None
    return read


@router.get("/river-reaches", response_model=list[ReachRead], responses=_ERRORS)
def list_reaches(user: CurrentUser, session: SessionDep) -> Any:
    """River reaches of your jurisdiction."""
    return service.list_reaches(session=session, actor=user)


@router.post("/river-reaches", response_model=ReachRead, status_code=201, responses=_ERRORS)
def create_reach(body: ReachCreate, user: CurrentUser, session: SessionDep) -> Any:
    """Add a river reach (a line people patrol along)."""
    return service.create_reach(session=session, reach_in=body, actor=user)


@router.get("/patrol-plans", response_model=list[PatrolPlanRead], responses=_ERRORS)
def list_plans(user: CurrentUser, session: SessionDep, active_only: bool = True) -> Any:
    """Patrol plans of your jurisdiction."""
    return service.list_plans(session=session, actor=user, active_only=active_only)


@router.post("/patrol-plans", response_model=PatrolPlanRead, status_code=201, responses=_ERRORS)
def create_plan(body: PatrolPlanCreate, user: CurrentUser, session: SessionDep) -> Any:
    """Plan patrols of a reach: how often (s) and by whom."""
    return service.create_plan(session=session, plan_in=body, actor=user)


@router.get("/patrol-plans/{patrol_plan_id}", response_model=PatrolPlanRead, responses=_ERRORS)
def get_plan(patrol_plan_id: int, user: CurrentUser, session: SessionDep) -> Any:
    """One patrol plan."""
    return service.get_plan(session=session, patrol_plan_id=patrol_plan_id, actor=user)


@router.get("/patrols/overdue", response_model=list[OverduePatrol], responses=_ERRORS)
def overdue(user: CurrentUser, session: SessionDep) -> Any:
    """Patrol plans whose next patrol is overdue, most overdue first."""
    return service.overdue_patrols(session=session, actor=user)


@router.get("/patrols", response_model=list[PatrolRead], responses=_ERRORS)
def list_patrols(
    user: CurrentUser, session: SessionDep, limit: Annotated[int, Query(ge=1, le=500)] = 50
) -> Any:
    """The latest patrols of your jurisdiction."""
    return [patrol_read(p) for p in service.list_patrols(session=session, actor=user, limit=limit)]


@router.post("/patrols", response_model=PatrolRead, status_code=201, responses=_ERRORS)
def record_patrol(
    body: PatrolCreate, user: CurrentUser, session: SessionDep, settings: SettingsDep
) -> Any:
    """Record a patrol: its raw GPS fixes (thinned to a line) and its findings."""
    patrol = service.record_patrol(
        session=session, patrol_in=body, actor=user, data_dir=settings.data_dir
    )
    return patrol_read(patrol)


@router.get("/patrols/{patrol_id}", response_model=PatrolRead, responses=_ERRORS)
def get_patrol(patrol_id: int, user: CurrentUser, session: SessionDep) -> Any:
    """One patrol with its track and findings."""
    return patrol_read(service.get_patrol(session=session, patrol_id=patrol_id, actor=user))


@router.get("/patrols/{patrol_id}/findings/{finding_id}/photo", responses=_ERRORS)
def finding_photo(
    patrol_id: int, finding_id: int, user: CurrentUser, session: SessionDep, settings: SettingsDep
) -> FileResponse:
    """The photo of a patrol finding."""
    path, media_type = service.finding_photo(
        session=session,
        patrol_id=patrol_id,
        finding_id=finding_id,
        actor=user,
        data_dir=settings.data_dir,
    )
    return FileResponse(path, media_type=media_type)
