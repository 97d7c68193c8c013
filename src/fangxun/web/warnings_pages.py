"""Web pages of warnings (预警): the warnings in force, their history with links to each CAP alert,
and issuing or lifting a warning by hand behind a confirmation step; a GeoJSON layer of warnings at
hazard points for the one map.

Thin views: they read the form, call :mod:`fangxun.warnings.service` and render; a domain error
becomes a message on the page. ``fangxun.api.app.create_app`` includes :data:`router`.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Final

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import RedirectResponse

from fangxun.api.deps import SessionDep, SettingsDep
from fangxun.api.downloads import GEOJSON
from fangxun.config import Settings
from fangxun.errors import ValidationFailed
from fangxun.hazards import service as hazards
from fangxun.warnings import approval, impact, service
from fangxun.warnings.models import Colour, WarningKind, WarningPurpose
from fangxun.warnings.schemas import WarningIssue, WarningLiftIn
from fangxun.web.auth import CsrfProtected, WebUser
from fangxun.web.forms import FORM_ERRORS, problem_text, status_of, submit_form
from fangxun.web.i18n import N_
from fangxun.web.render import WebRoute, local, render_page

router = APIRouter(route_class=WebRoute, include_in_schema=False)

#: Marker colours of the warning colours on the map and the page (the signal colours).
COLOUR_CSS: Final[dict[str, str]] = {
    "blue": "#1f5fbf",
    "yellow": "#e6b800",
    "orange": "#f07c00",
    "red": "#d7191c",
}
KIND_LABELS: Final[dict[str, str]] = {
    WarningKind.rainstorm: N_("Rainstorm"),
    WarningKind.ponding: N_("Ponding"),
    WarningKind.predicted_ponding: N_("Predicted ponding"),
    WarningKind.river_level: N_("River level"),
    WarningKind.pump_failure: N_("Pump station failure"),
    WarningKind.stale_sensor: N_("Station offline"),
}
COLOUR_LABELS: Final[dict[str, str]] = {
    Colour.blue: N_("Blue"),
    Colour.yellow: N_("Yellow"),
    Colour.orange: N_("Orange"),
    Colour.red: N_("Red"),
}
CHANGE_LABELS: Final[dict[str, str]] = {
    "issue": N_("Issued"),
    "upgrade": N_("Upgraded"),
    "downgrade": N_("Downgraded"),
    "update": N_("Updated"),
    "lift": N_("Lifted"),
}
#: What changed at a point since the last approved run (approval's ``diff``).
DIFF_LABELS: Final[dict[str, str]] = {
    "new": N_("New in this run"),
    "raised": N_("Raised"),
    "lowered": N_("Lowered"),
    "same": N_("Unchanged"),
    "dropped": N_("Not proposed again"),
}
LABELS: Final[dict[str, Any]] = {
    "diff": DIFF_LABELS,
    "kinds": KIND_LABELS,
    "colours": COLOUR_LABELS,
    "changes": CHANGE_LABELS,
    "css": COLOUR_CSS,
}


def _page(
    request: Request,
    db: SessionDep,
    settings: Settings,
    user: WebUser,
    *,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    active = service.active_warnings(session=db, actor=user)
    drills = service.active_warnings(session=db, actor=user, purpose=WarningPurpose.exercise)
    history, total = service.warning_history(session=db, actor=user, limit=50)
    points, _n = hazards.list_points(session=db, actor=user, limit=500)
    pending = approval.pending_proposal(session=db)
    return render_page(
        request,
        "warnings/index.html",
        settings=settings,
        user=user,
        active="warnings",
        status_code=status_code,
        context={
            "active_items": active,
            "exercise_items": drills,
            "history": history,
            "history_total": total,
            "points": points,
            "can_manage": user.role in service.MANAGERS,
            "labels": LABELS,
            "local": local,
            "summary": service.summary_text,
            "impact": _impact_lines(pending),
            "proposal": pending,
            "error": error,
        },
    )


def _impact_lines(proposal: Any) -> dict[str, tuple[str, str]]:
    """The impact text of each item of a pending proposal (as of its latest evaluation)."""
    if proposal is None:
        return {}
    out: dict[str, tuple[str, str]] = {}
    for item in proposal.items:
        colour = item.get("to_colour")
        if colour is None:
            out[item["subject"]] = ("解除", "lift")
            continue
        out[item["subject"]] = impact.impact(
            item.get("place"), colour, item.get("evidence"), at=proposal.updated_at
        )
    return out


@router.get("/warnings")
def warnings_page(
    request: Request, user: WebUser, db: SessionDep, settings: SettingsDep
) -> Response:
    """Warnings in force, their history, and the issue form."""
    return _page(request, db, settings, user)


def _issue_body(kind: str, colour: str, reason: str, point_id: str) -> WarningIssue:
    return WarningIssue.model_validate(
        {
            "kind": kind,
            "colour": colour,
            "reason": reason.strip(),
            "hazard_point_id": int(point_id) if point_id.strip() else None,
        }
    )


@router.post("/warnings/confirm", dependencies=[CsrfProtected])
def confirm(
    request: Request,
    user: WebUser,
    db: SessionDep,
    settings: SettingsDep,
    action: Annotated[str, Form(pattern="^(issue|lift)$")],
    reason: Annotated[str, Form(max_length=2000)] = "",
    kind: Annotated[str, Form(max_length=32)] = "",
    colour: Annotated[str, Form(max_length=16)] = "",
    hazard_point_id: Annotated[str, Form(max_length=12)] = "",
    warning_id: Annotated[int | None, Form()] = None,
) -> Response:
    """The confirmation step: what will happen, with a button that does it."""
    try:
        where: str | None = None
        if action == "issue":
            body = _issue_body(kind, colour, reason, hazard_point_id)
            summary = {"kind": body.kind, "colour": body.colour, "reason": body.reason}
            where = service.preview_issue(session=db, warning_in=body, actor=user)
        else:
            if warning_id is None:
                raise ValidationFailed("name the warning to lift", loc=("form", "warning_id"))
            lift = WarningLiftIn(reason=reason.strip())
            warning = service.get_warning(session=db, warning_id=warning_id, actor=user)
            where = warning.place
            summary = {"kind": warning.kind, "colour": warning.colour, "reason": lift.reason}
    except FORM_ERRORS as exc:
        return _page(
            request, db, settings, user, error=problem_text(exc), status_code=status_of(exc)
        )
    return render_page(
        request,
        "warnings/confirm.html",
        settings=settings,
        user=user,
        active="warnings",
        context={
            "action": action,
            "summary": summary,
            "where": where,
            "form": {
                "kind": kind,
                "colour": colour,
                "reason": reason.strip(),
                "hazard_point_id": hazard_point_id,
                "warning_id": warning_id,
            },
            "labels": LABELS,
        },
    )


@router.post("/warnings/issue", dependencies=[CsrfProtected])
def issue(
    request: Request,
    user: WebUser,
    db: SessionDep,
    settings: SettingsDep,
    kind: Annotated[str, Form(max_length=32)],
    colour: Annotated[str, Form(max_length=16)],
    reason: Annotated[str, Form(max_length=2000)] = "",
    hazard_point_id: Annotated[str, Form(max_length=12)] = "",
) -> Response:
    """Issue a warning (after the confirmation step)."""
    return submit_form(
        db,
        lambda: service.issue_warning(
            session=db,
            actor=user,
            settings=settings,
            warning_in=_issue_body(kind, colour, reason, hazard_point_id),
        ),
        failed=lambda error, status: _page(
            request, db, settings, user, error=error, status_code=status
        ),
        done=lambda _warning: RedirectResponse("/warnings", status_code=303),
    )


@router.post("/warnings/{warning_id}/lift", dependencies=[CsrfProtected])
def lift(
    warning_id: int,
    request: Request,
    user: WebUser,
    db: SessionDep,
    settings: SettingsDep,
    reason: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Lift a warning (after the confirmation step)."""
    return submit_form(
        db,
        lambda: service.lift_warning(
            session=db,
            warning_id=warning_id,
            actor=user,
            settings=settings,
            lift_in=WarningLiftIn(reason=reason.strip()),
        ),
        failed=lambda error, status: _page(
            request, db, settings, user, error=error, status_code=status
        ),
        done=lambda _warning: RedirectResponse("/warnings", status_code=303),
    )


@router.post("/warnings/proposals/{proposal_id}/approve", dependencies=[CsrfProtected])
def approve_proposal(
    proposal_id: int,
    request: Request,
    user: WebUser,
    db: SessionDep,
    settings: SettingsDep,
    note: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Approve the run's proposals in one click: the warnings go out now, under your name."""
    return submit_form(
        db,
        lambda: approval.approve(
            session=db,
            proposal_id=proposal_id,
            actor=user,
            settings=settings,
            note=note.strip() or None,
        ),
        failed=lambda error, status: _page(
            request, db, settings, user, error=error, status_code=status
        ),
        done=lambda _p: RedirectResponse("/warnings", status_code=303),
    )


@router.post("/warnings/proposals/{proposal_id}/reject", dependencies=[CsrfProtected])
def reject_proposal(
    proposal_id: int,
    request: Request,
    user: WebUser,
    db: SessionDep,
    settings: SettingsDep,
    reason: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Reject the run's proposals with a reason: nothing goes out."""

    def _reject() -> Any:
        if not reason.strip():
            raise ValidationFailed("give a reason to reject", loc=("form", "reason"))
        return approval.reject(
            session=db, proposal_id=proposal_id, actor=user, reason=reason.strip()
        )

    return submit_form(
        db,
        _reject,
        failed=lambda error, status: _page(
            request, db, settings, user, error=error, status_code=status
        ),
        done=lambda _p: RedirectResponse("/warnings", status_code=303),
    )


@router.get("/warnings/points.geojson")
def points_geojson(user: WebUser, db: SessionDep) -> Response:
    """Warnings in force at hazard points for the one map's layer (cookie auth)."""
    body = service.point_warnings_geojson(session=db, actor=user)
    for feature in body["features"]:
        props = feature["properties"]
        props["colour"] = COLOUR_CSS.get(props["colour"], "#d7301f")
    return Response(json.dumps(body, ensure_ascii=False), media_type=GEOJSON)
