"""Web pages of emergency response: the level now, proposals to confirm, decisions (raise, lower,
stand down), the contingency plan in force and the checklist board (department × status) whose
tasks are confirmed with HTMX.

Thin views: they read the form, call :mod:`fangxun.response.service` and render; a domain error
becomes a message on the page (never a stack trace). ``fangxun.api.app.create_app`` includes
:data:`router`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Final

from fastapi import APIRouter, File, Form, Request, Response, UploadFile
from fastapi.responses import RedirectResponse

from fangxun.api.deps import SessionDep, SettingsDep
from fangxun.config import Settings
from fangxun.errors import ValidationFailed
from fangxun.org.models import User
from fangxun.response import service
from fangxun.response.models import LEVEL_ORDER, ResponseLevel, TaskStatus
from fangxun.response.schemas import TaskUpdate
from fangxun.web.auth import CsrfProtected, WebUser
from fangxun.web.forms import FORM_ERRORS, problem_text, status_of, submit_form
from fangxun.web.i18n import N_, gettext_for, negotiate_language
from fangxun.web.render import WebRoute, local, render_page

router = APIRouter(route_class=WebRoute, include_in_schema=False)


LEVEL_LABELS: Final[dict[str, str]] = {
    ResponseLevel.IV: N_("Level IV response"),
    ResponseLevel.III: N_("Level III response"),
    ResponseLevel.II: N_("Level II response"),
    ResponseLevel.I: N_("Level I response"),
}
TASK_STATUS_LABELS: Final[dict[str, str]] = {
    TaskStatus.pending: N_("To do"),
    TaskStatus.confirmed: N_("Confirmed"),
    TaskStatus.done: N_("Done"),
    TaskStatus.not_applicable: N_("Not applicable"),
}
CHANGE_LABELS: Final[dict[str, str]] = {
    "start": N_("Started"),
    "raise": N_("Raised"),
    "lower": N_("Lowered"),
    "stand_down": N_("Stood down"),
}
#: The buttons a task shows in each state: (next status, msgid).
TASK_BUTTONS: Final[dict[str, tuple[tuple[str, str], ...]]] = {
    TaskStatus.pending: (
        (TaskStatus.confirmed, N_("Confirm")),
        (TaskStatus.done, N_("Done")),
        (TaskStatus.not_applicable, N_("Not applicable")),
    ),
    TaskStatus.confirmed: (
        (TaskStatus.done, N_("Done")),
        (TaskStatus.not_applicable, N_("Not applicable")),
    ),
    TaskStatus.done: (),
    TaskStatus.not_applicable: ((TaskStatus.pending, N_("Reopen")),),
}
#: Change states other than "applied" (msgids).
CHANGE_STATUS_LABELS: Final[dict[str, str]] = {
    "proposed": N_("Proposed"),
    "rejected": N_("Rejected"),
    "superseded": N_("Superseded"),
}
#: The rules that set a level, as ``<source>:<colour>→<level>`` in a change (msgids).
RULE_TEXTS: Final[dict[str, str]] = {
    "rainstorm": N_("%(colour)s rainstorm warning → level %(level)s"),
    "official": N_("Official %(colour)s rainstorm signal → level %(level)s"),
}
COLOUR_LABELS: Final[dict[str, str]] = {
    "blue": N_("Blue"),
    "yellow": N_("Yellow"),
    "orange": N_("Orange"),
    "red": N_("Red"),
}
LABELS: Final[dict[str, Any]] = {
    "change_statuses": CHANGE_STATUS_LABELS,
    "levels": LEVEL_LABELS,
    "task_statuses": TASK_STATUS_LABELS,
    "changes": CHANGE_LABELS,
    "buttons": TASK_BUTTONS,
}


def rule_text(rule: str | None, gettext: Callable[[str], str]) -> str:
    """A rule's trigger as people read it: ``rainstorm:yellow→IV`` → 黄色暴雨预警 → IV 级响应;
    a rule this page does not know is shown as it is."""
    if not rule:
        return ""
    source, _sep, rest = rule.partition(":")
    colour, _arrow, level = rest.partition("→")
    if source not in RULE_TEXTS or colour not in COLOUR_LABELS or not level:
        return rule
    return gettext(RULE_TEXTS[source]) % {"colour": gettext(COLOUR_LABELS[colour]), "level": level}


def _failed(
    request: Request, db: SessionDep, settings: Settings, user: User
) -> Callable[[str, int], Response]:
    """The response page again with a form's error message (for :func:`submit_form`)."""
    return lambda error, status: _page(request, db, settings, user, error=error, status_code=status)


def _to_response_page(_result: object) -> Response:
    return RedirectResponse("/response", status_code=303)


def _board_context(db: SessionDep, user: User, error: str | None = None) -> dict[str, Any]:
    return {
        "rows": service.board(session=db, actor=user),
        "statuses": [s.value for s in TaskStatus],
        "labels": LABELS,
        "local": local,
        "board_error": error,
    }


def _page(
    request: Request,
    db: SessionDep,
    settings: Settings,
    user: User,
    *,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    activation = service.current_level(session=db)
    # The plan in force is the district's document: every department reads all of it.
    plan = service.active_plan(session=db, unit_id=service.district_scope(session=db, unit_id=None))
    gettext = gettext_for(negotiate_language(request, settings.language))
    context = _board_context(db, user) | {
        "rule_text": lambda rule: rule_text(rule, gettext),
        "activation": activation,
        "proposals": service.open_proposals(session=db),
        "changes": service.list_changes(session=db, limit=20),
        "plan": plan,
        "plan_levels": [
            (lvl.value, [a for a in plan.actions if a.level is lvl]) for lvl in LEVEL_ORDER
        ]
        if plan
        else [],
        "levels": [lvl.value for lvl in LEVEL_ORDER],
        "can_decide": user.role.value in {r.value for r in service.DECIDERS},
        "error": error,
    }
    return render_page(
        request,
        "response/board.html",
        settings=settings,
        user=user,
        active="response",
        status_code=status_code,
        context=context,
    )


@router.get("/response")
def response_page(
    request: Request, user: WebUser, db: SessionDep, settings: SettingsDep
) -> Response:
    """The response now, proposals, decisions, the plan in force and the checklist board."""
    return _page(request, db, settings, user)


@router.get("/response/board")
def board_fragment(
    request: Request, user: WebUser, db: SessionDep, settings: SettingsDep
) -> Response:
    """The checklist board alone (HTMX refresh)."""
    return render_page(
        request,
        "response/_board.html",
        settings=settings,
        user=user,
        context=_board_context(db, user),
    )


@router.post("/response/tasks/{task_id}/status", dependencies=[CsrfProtected])
def task_status(
    task_id: int,
    request: Request,
    user: WebUser,
    db: SessionDep,
    settings: SettingsDep,
    status: Annotated[str, Form()],
    note: Annotated[str, Form(max_length=4000)] = "",
) -> Response:
    """Move a task on; HTMX gets the board back, a plain form the page."""
    htmx = bool(request.headers.get("HX-Request"))
    try:
        service.update_task(
            session=db,
            task_id=task_id,
            task_in=TaskUpdate(status=TaskStatus(status), note=note.strip() or None),
            actor=user,
        )
        db.flush()
    except FORM_ERRORS as exc:
        db.rollback()
        if htmx:
            # HTMX swaps only 2xx answers: the board comes back with the message on top.
            return render_page(
                request,
                "response/_board.html",
                settings=settings,
                user=user,
                context=_board_context(db, user, problem_text(exc)),
            )
        return _failed(request, db, settings, user)(problem_text(exc), status_of(exc))
    if htmx:
        return render_page(
            request,
            "response/_board.html",
            settings=settings,
            user=user,
            context=_board_context(db, user),
        )
    return RedirectResponse("/response", status_code=303)


@router.post("/response/level", dependencies=[CsrfProtected])
def decide_level(
    request: Request,
    user: WebUser,
    db: SessionDep,
    settings: SettingsDep,
    level: Annotated[str, Form()],
    reason: Annotated[str, Form(max_length=4000)] = "",
) -> Response:
    """Start, raise or lower the response by decision."""
    return submit_form(
        db,
        lambda: service.decide_level(
            session=db, level=ResponseLevel(level), reason=reason, actor=user
        ),
        failed=_failed(request, db, settings, user),
        done=_to_response_page,
    )


@router.post("/response/stand-down", dependencies=[CsrfProtected])
def stand_down(
    request: Request,
    user: WebUser,
    db: SessionDep,
    settings: SettingsDep,
    reason: Annotated[str, Form(max_length=4000)] = "",
) -> Response:
    """End the running response by decision."""
    return submit_form(
        db,
        lambda: service.stand_down(session=db, reason=reason, actor=user),
        failed=_failed(request, db, settings, user),
        done=_to_response_page,
    )


@router.post("/response/proposals/{change_id}", dependencies=[CsrfProtected])
def decide_proposal(
    change_id: int,
    request: Request,
    user: WebUser,
    db: SessionDep,
    settings: SettingsDep,
    decision: Annotated[str, Form()],
    reason: Annotated[str, Form(max_length=4000)] = "",
) -> Response:
    """Confirm or reject a rule's proposal."""
    return submit_form(
        db,
        lambda: service.decide_proposal(
            session=db,
            change_id=change_id,
            confirm=decision == "confirm",
            reason=reason.strip() or None,
            actor=user,
        ),
        failed=_failed(request, db, settings, user),
        done=_to_response_page,
    )


#: Largest plan file accepted from the page, bytes.
MAX_PLAN_BYTES: Final = 5 * 1024 * 1024


@router.post("/response/plans/import", dependencies=[CsrfProtected])
async def import_plan(
    request: Request,
    user: WebUser,
    db: SessionDep,
    settings: SettingsDep,
    file: Annotated[UploadFile, File()],
    activate: Annotated[bool, Form()] = False,
) -> Response:
    """Import a contingency plan for the district (JSON, YAML or Excel); all rows or none."""
    content = await file.read(MAX_PLAN_BYTES + 1)

    def run() -> object:
        if len(content) > MAX_PLAN_BYTES:
            raise ValidationFailed(f"the file is larger than {MAX_PLAN_BYTES} bytes")
        district = service.district_scope(session=db, unit_id=None)
        if district is None:
            raise ValidationFailed("the organisation has no single district unit to own the plan")
        return service.import_plan(
            session=db,
            filename=file.filename or "upload",
            data=content,
            unit_id=district,
            activate=activate,
            actor=user,
        )

    return submit_form(db, run, failed=_failed(request, db, settings, user), done=_to_response_page)
