"""HTTP routes of emergency response (``/api/v1/response/...``): parse, call the service, render."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, Response, UploadFile

from fangxun.api.deps import CurrentUser, SessionDep
from fangxun.api.problems import error_responses
from fangxun.errors import ValidationFailed
from fangxun.response import service
from fangxun.response.models import TaskStatus
from fangxun.response.schemas import (
    ActivationRead,
    LevelChangeRead,
    LevelDecision,
    PlanCreate,
    PlanRead,
    PlanUpdate,
    ProposalDecision,
    StandDown,
    StatusRead,
    TaskRead,
    TaskUpdate,
)

router = APIRouter(prefix="/response", tags=["response"])

_ERRORS = error_responses(401, 403, 404, 409, s409="Conflicts with the state of the response")
#: Largest plan file accepted, bytes.
MAX_IMPORT_BYTES = 5 * 1024 * 1024
UnitQuery = Annotated[int | None, Query(ge=1, description="District unit; default: the root")]


@router.get("/status", response_model=StatusRead, responses=_ERRORS)
def status(user: CurrentUser, session: SessionDep, unit_id: UnitQuery = None) -> Any:
    """The running response (or none), proposals waiting for a decision and your task counts."""
    activation = service.current_level(session=session, unit_id=unit_id)
    tasks = (
        service.list_tasks(session=session, actor=user, activation_id=activation.id)
        if activation is not None
        else []
    )
    return StatusRead(
        activation=ActivationRead.model_validate(activation) if activation else None,
        proposals=[
            LevelChangeRead.model_validate(p)
            for p in service.open_proposals(session=session, unit_id=unit_id)
        ],
        task_counts=service.task_counts(tasks),
    )


@router.get("/activations", response_model=list[ActivationRead], responses=_ERRORS)
def list_activations(
    user: CurrentUser,
    session: SessionDep,
    unit_id: UnitQuery = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> Any:
    """Responses of the district, newest first."""
    return service.list_activations(session=session, unit_id=unit_id, limit=limit)


@router.get("/changes", response_model=list[LevelChangeRead], responses=_ERRORS)
def list_changes(
    user: CurrentUser,
    session: SessionDep,
    unit_id: UnitQuery = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Any:
    """Level changes and proposals, newest first."""
    return service.list_changes(session=session, unit_id=unit_id, limit=limit)


@router.post("/level", response_model=LevelChangeRead, status_code=201, responses=_ERRORS)
def decide_level(body: LevelDecision, user: CurrentUser, session: SessionDep) -> Any:
    """Start, raise or lower the response by decision (district role), with the reason."""
    return service.decide_level(
        session=session, level=body.level, reason=body.reason, unit_id=body.unit_id, actor=user
    )


@router.post("/stand-down", response_model=LevelChangeRead, status_code=201, responses=_ERRORS)
def stand_down(body: StandDown, user: CurrentUser, session: SessionDep) -> Any:
    """End the running response by decision (district role), with the reason."""
    return service.stand_down(session=session, reason=body.reason, unit_id=body.unit_id, actor=user)


@router.post("/proposals/{change_id}/decision", response_model=LevelChangeRead, responses=_ERRORS)
def decide_proposal(
    change_id: int, body: ProposalDecision, user: CurrentUser, session: SessionDep
) -> Any:
    """Confirm (the level starts now) or reject a rule's proposal (district role)."""
    return service.decide_proposal(
        session=session, change_id=change_id, confirm=body.confirm, reason=body.reason, actor=user
    )


# --- plans -------------------------------------------------------------------------------------


@router.get("/plans", response_model=list[PlanRead], responses=_ERRORS)
def list_plans(user: CurrentUser, session: SessionDep) -> Any:
    """Contingency plans, the active one first."""
    return service.list_plans(session=session, actor=user)


@router.post("/plans", response_model=PlanRead, status_code=201, responses=_ERRORS)
def create_plan(body: PlanCreate, user: CurrentUser, session: SessionDep) -> Any:
    """Create a contingency plan with its actions (district role)."""
    return service.create_plan(session=session, plan_in=body, actor=user)


@router.post(
    "/plans/import",
    response_model=PlanRead,
    status_code=201,
    responses=_ERRORS | {422: {"description": "Nothing imported; the problem names the row"}},
)
async def import_plan(
    user: CurrentUser,
    session: SessionDep,
    file: Annotated[UploadFile, File(description=".json, .yaml or .xlsx")],
    unit_id: Annotated[int, Form(ge=1)],
    activate: Annotated[bool, Form()] = False,
) -> Any:
    """Import a plan from JSON, YAML or Excel (级别, 部门, 措施, 顺序, 需确认): all rows or none."""
    content = await file.read(MAX_IMPORT_BYTES + 1)
    if len(content) > MAX_IMPORT_BYTES:
        raise ValidationFailed(
            f"the file is larger than {MAX_IMPORT_BYTES} bytes", loc=("body", "file")
        )
    return service.import_plan(
        session=session,
        filename=file.filename or "upload",
        data=content,
        unit_id=unit_id,
        activate=activate,
        actor=user,
    )


@router.get("/plans/{plan_id}", response_model=PlanRead, responses=_ERRORS)
def get_plan(plan_id: int, user: CurrentUser, session: SessionDep) -> Any:
    """One plan with its actions."""
    return service.get_plan(session=session, plan_id=plan_id, actor=user)


@router.patch("/plans/{plan_id}", response_model=PlanRead, responses=_ERRORS)
def update_plan(plan_id: int, body: PlanUpdate, user: CurrentUser, session: SessionDep) -> Any:
    """Change a plan; ``actions``, when given, replace all of them (district role)."""
    return service.update_plan(session=session, plan_id=plan_id, plan_in=body, actor=user)


@router.delete("/plans/{plan_id}", status_code=204, responses=_ERRORS)
def delete_plan(plan_id: int, user: CurrentUser, session: SessionDep) -> Response:
    """Delete a plan no response used (district role)."""
    service.delete_plan(session=session, plan_id=plan_id, actor=user)
    return Response(status_code=204)


# --- tasks -------------------------------------------------------------------------------------


@router.get("/tasks", response_model=list[TaskRead], responses=_ERRORS)
def list_tasks(
    user: CurrentUser,
    session: SessionDep,
    activation_id: Annotated[int | None, Query(ge=1)] = None,
    status: TaskStatus | None = None,
    unit_id: Annotated[int | None, Query(ge=1)] = None,
) -> Any:
    """Checklist tasks in your jurisdiction."""
    return service.list_tasks(
        session=session, actor=user, activation_id=activation_id, status=status, unit_id=unit_id
    )


@router.get("/tasks/{task_id}", response_model=TaskRead, responses=_ERRORS)
def get_task(task_id: int, user: CurrentUser, session: SessionDep) -> Any:
    """One task."""
    return service.get_task(session=session, task_id=task_id, actor=user)


@router.patch("/tasks/{task_id}", response_model=TaskRead, responses=_ERRORS)
def update_task(task_id: int, body: TaskUpdate, user: CurrentUser, session: SessionDep) -> Any:
    """Confirm a task, mark it done or not applicable (with a note); your unit's tasks only."""
    return service.update_task(session=session, task_id=task_id, task_in=body, actor=user)
