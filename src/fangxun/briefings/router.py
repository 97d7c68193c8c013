"""HTTP routes of consultation briefings: generate, read, decisions, PDF."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from fangxun.api.deps import CurrentUser, SessionDep
from fangxun.api.downloads import PDF, download
from fangxun.api.problems import error_responses
from fangxun.briefings import service
from fangxun.briefings.models import TaskStatus
from fangxun.briefings.schemas import BriefingCreate, BriefingRead, TaskCreate, TaskRead

router = APIRouter(prefix="/briefings", tags=["briefings"])

_ERRORS = error_responses(401, 403, 404, s404="Not found")


@router.post("", response_model=BriefingRead, status_code=201, responses=_ERRORS)
def generate(body: BriefingCreate, user: CurrentUser, session: SessionDep) -> Any:
    """Generate the consultation briefing for now (or ``as_of``)."""
    briefing = service.generate(session=session, briefing_in=body, actor=user)
    session.flush()
    return briefing


@router.get("", response_model=list[BriefingRead], responses=_ERRORS)
def list_briefings(
    user: CurrentUser, session: SessionDep, limit: Annotated[int, Query(ge=1, le=200)] = 50
) -> Any:
    """Briefings, newest first."""
    return service.list_briefings(session=session, actor=user, limit=limit)


@router.get("/tasks", response_model=list[TaskRead], responses=_ERRORS)
def open_tasks(user: CurrentUser, session: SessionDep) -> Any:
    """Open decision tasks of the briefings you may read, by deadline."""
    return service.open_tasks(session=session, actor=user)


@router.get("/{briefing_id}", response_model=BriefingRead, responses=_ERRORS)
def get_briefing(briefing_id: int, user: CurrentUser, session: SessionDep) -> Any:
    """One briefing (404 outside your jurisdiction)."""
    return service.get_briefing(session=session, briefing_id=briefing_id, actor=user)


@router.get("/{briefing_id}/pdf", responses={**_ERRORS, 200: {"content": {"application/pdf": {}}}})
def briefing_pdf(briefing_id: int, user: CurrentUser, session: SessionDep) -> Response:
    """The briefing as PDF (404 outside your jurisdiction)."""
    briefing = service.get_briefing(session=session, briefing_id=briefing_id, actor=user)
    return download(service.export_pdf(briefing), PDF, f"briefing-{briefing.id}.pdf")


@router.post("/{briefing_id}/tasks", response_model=TaskRead, status_code=201, responses=_ERRORS)
def add_task(briefing_id: int, body: TaskCreate, user: CurrentUser, session: SessionDep) -> Any:
    """Record a decision as a task with an owner and a deadline."""
    return service.add_task(session=session, briefing_id=briefing_id, task_in=body, actor=user)


@router.put("/tasks/{task_id}/status", response_model=TaskRead, responses=_ERRORS)
def set_task_status(
    task_id: int,
    user: CurrentUser,
    session: SessionDep,
    status: Annotated[TaskStatus, Query()],
) -> Any:
    """Mark a task done or dropped."""
    return service.set_task_status(session=session, task_id=task_id, status=status, actor=user)
