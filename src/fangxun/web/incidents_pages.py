"""Web pages of incidents: the list with the report form, dispatch and each step, an incident's
page, the one map's incident layer, and the public report form.

Thin views: they read the form, call the domain services and render; a domain error becomes a
message on the page (never a stack trace). ``fangxun.api.app.create_app`` includes :data:`router`.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Annotated, Any, Final

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import ValidationError

from fangxun.api.deps import SessionDep, SettingsDep
from fangxun.api.downloads import GEOJSON
from fangxun.config import Settings
from fangxun.db import Session
from fangxun.db.types import utcnow
from fangxun.errors import FangxunError, ThrottledError
from fangxun.incidents import service as incidents
from fangxun.incidents.models import IncidentStatus
from fangxun.incidents.schemas import IncidentCreate, PublicReport, TransitionIn
from fangxun.org import service as org_service
from fangxun.org.models import User
from fangxun.supplies import service as supplies
from fangxun.supplies.models import Readiness
from fangxun.web.auth import CsrfProtected, WebUser
from fangxun.web.forms import problem_text, status_of, submit_form
from fangxun.web.i18n import gettext_for, negotiate_language
from fangxun.web.operations_labels import LABELS
from fangxun.web.render import WebRoute, local, render_page

#: Marker colour of incidents on the one map (purple: apart from the hazard points' ramp).
INCIDENT_COLOUR: Final = "#7b3294"

router = APIRouter(route_class=WebRoute, include_in_schema=False)


def _gettext(request: Request, settings: Settings) -> Any:
    return gettext_for(negotiate_language(request, settings.language))


# --- incidents ---------------------------------------------------------------------------------


def _incidents_page(
    request: Request,
    db: SessionDep,
    settings: Settings,
    user: WebUser,
    *,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    items = incidents.list_incidents(session=db, actor=user, limit=100)
    units, _total = org_service.list_units(session=db, actor=user, limit=500)
    teams = supplies.list_teams(session=db, actor=user, readiness=Readiness.standby)
    return render_page(
        request,
        "incidents/list.html",
        settings=settings,
        user=user,
        active="incidents",
        status_code=status_code,
        context={
            "open_items": [i for i in items if i.status is not IncidentStatus.closed],
            "closed_items": [i for i in items if i.status is IncidentStatus.closed][:20],
            "units": units,
            "teams": teams,
            "stats": incidents.response_stats(
                session=db, actor=user, since=utcnow() - timedelta(hours=24)
            ),
            "labels": LABELS,
            "local": local,
            "error": error,
        },
    )


@router.get("/incidents")
def incidents_page(
    request: Request, user: WebUser, db: SessionDep, settings: SettingsDep
) -> Response:
    """Open incidents with their dispatch and next-step buttons, and the report form."""
    return _incidents_page(request, db, settings, user)


@router.post("/incidents", dependencies=[CsrfProtected])
def report_incident(
    request: Request,
    user: WebUser,
    db: SessionDep,
    settings: SettingsDep,
    unit_id: Annotated[int, Form()],
    kind: Annotated[str, Form()],
    severity: Annotated[str, Form()],
    title: Annotated[str, Form(max_length=200)],
    location_text: Annotated[str, Form(max_length=300)] = "",
    description: Annotated[str, Form(max_length=4000)] = "",
) -> Response:
    """Report an incident; back to the list with it on top."""
    return submit_form(
        db,
        lambda: incidents.report(
            session=db,
            incident_in=IncidentCreate(
                unit_id=unit_id,
                kind=kind,
                severity=severity,
                title=title,
                location_text=location_text or None,
                description=description or None,
            ),
            actor=user,
        ),
        failed=lambda error, status: _incidents_page(
            request, db, settings, user, error=error, status_code=status
        ),
        done=lambda incident: RedirectResponse(f"/incidents/{incident.id}", status_code=303),
    )


@router.get("/incidents.geojson")
def incidents_geojson(user: WebUser, db: SessionDep) -> Response:
    """Open incidents of the user's jurisdiction for the one map's layer (cookie auth): each
    feature names its title and the URL of its page."""
    body = incidents.geojson(incidents.list_incidents(session=db, actor=user, open_only=True))
    for feature in body["features"]:
        feature["properties"] |= {
            "name": feature["properties"]["title"],
            "colour": INCIDENT_COLOUR,
            "url": f"/incidents/{feature['id']}",
        }
    return Response(json.dumps(body, ensure_ascii=False), media_type=GEOJSON)


@router.get("/incidents/{incident_id}")
def incident_page(
    incident_id: int, request: Request, user: WebUser, db: SessionDep, settings: SettingsDep
) -> Response:
    """One incident: its state, timeline, response times, supplies used and the next step."""
    return _incident_detail(incident_id, request, user, db, settings)


def _incident_detail(
    incident_id: int,
    request: Request,
    user: User,
    db: Session,
    settings: Settings,
    *,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    # The error comes from a refused form, never from the URL: a page must not show a message
    # that anyone can put in a link.
    try:
        incident = incidents.get_incident(session=db, incident_id=incident_id, actor=user)
    except FangxunError as exc:
        _ = _gettext(request, settings)
        return render_page(
            request,
            "error.html",
            settings=settings,
            user=user,
            status_code=404,
            context={"title": _("Not found"), "message": str(exc), "reason": None},
        )
    return render_page(
        request,
        "incidents/detail.html",
        settings=settings,
        user=user,
        active="incidents",
        status_code=status_code,
        context={
            "incident": incident,
            "teams": supplies.list_teams(session=db, actor=user, readiness=Readiness.standby),
            "used": supplies.movements(session=db, actor=user, incident_id=incident.id),
            "labels": LABELS,
            "local": local,
            "error": error,
        },
    )


@router.post("/incidents/{incident_id}/transition", dependencies=[CsrfProtected])
def incident_transition(
    incident_id: int,
    request: Request,
    user: WebUser,
    db: SessionDep,
    settings: SettingsDep,
    to_status: Annotated[str, Form()],
    team_id: Annotated[int | None, Form()] = None,
    note: Annotated[str, Form(max_length=4000)] = "",
    back: Annotated[str, Form()] = "detail",
    version: Annotated[str, Form(max_length=12)] = "",
) -> Response:
    """Dispatch a team or move an incident to its next state. The form's hidden ``version`` is
    the one the person saw: changed since → 409 saying what changed."""
    try:
        incidents.transition(
            session=db,
            incident_id=incident_id,
            transition_in=TransitionIn(
                to_status=to_status,
                team_id=team_id,
                note=note or None,
            ),
            actor=user,
            expected_version=int(version) if version.strip().isdigit() else None,
        )
    except (FangxunError, ValidationError) as exc:
        db.rollback()
        if back == "list":
            return _incidents_page(
                request, db, settings, user, error=problem_text(exc), status_code=status_of(exc)
            )
        return _incident_detail(
            incident_id,
            request,
            user,
            db,
            settings,
            error=problem_text(exc),
            status_code=status_of(exc),
        )
    target = "/incidents" if back == "list" else f"/incidents/{incident_id}"
    return RedirectResponse(target, status_code=303)


# --- the public form ---------------------------------------------------------------------------


def _public_page(
    request: Request,
    settings: Settings,
    *,
    error: str | None = None,
    reference: int | None = None,
    status_code: int = 200,
) -> Response:
    return render_page(
        request,
        "incidents/public.html",
        settings=settings,
        status_code=status_code,
        context={"labels": LABELS, "local": local, "error": error, "reference": reference},
    )


@router.get("/report")
def public_form(request: Request, settings: SettingsDep) -> Response:
    """The public report form (no login)."""
    return _public_page(request, settings)


@router.post("/report", dependencies=[CsrfProtected])
def public_submit(
    request: Request,
    db: SessionDep,
    settings: SettingsDep,
    kind: Annotated[str, Form()],
    title: Annotated[str, Form(max_length=200)],
    location_text: Annotated[str, Form(max_length=300)],
    reporter_phone: Annotated[str, Form(max_length=32)],
    reporter_name: Annotated[str, Form(max_length=100)] = "",
    description: Annotated[str, Form(max_length=4000)] = "",
) -> Response:
    """Accept a public report (rate limited per address) and show its reference number."""
    _ = _gettext(request, settings)
    try:
        incident = incidents.report_public(
            session=db,
            report_in=PublicReport(
                kind=kind,
                title=title,
                location_text=location_text,
                reporter_phone=reporter_phone,
                reporter_name=reporter_name or None,
                description=description or None,
            ),
            client_ip=request.client.host if request.client else None,
            limit=incidents.RateLimit(settings.public_report_max, settings.public_report_window_s),
        )
        db.flush()
    except ThrottledError as exc:
        minutes = max(1, -(-exc.retry_after_s // 60))
        return _public_page(
            request,
            settings,
            error=_("Too many reports from this address. Try again in %(minutes)d minutes.")
            % {"minutes": minutes},
            status_code=429,
        )
    except (FangxunError, ValidationError) as exc:
        db.rollback()
        return _public_page(request, settings, error=problem_text(exc), status_code=status_of(exc))
    return _public_page(request, settings, reference=incident.id, status_code=201)


__all__ = ["router"]
