"""Web pages of command operations: incidents (report, dispatch, each step), the public report
form, the duty roster, supplies and teams, and consultation briefings.

Thin views: they read the form, call the domain services and render; a domain error becomes a
message on the page (never a stack trace). ``fangxun.api.app.create_app`` includes :data:`router`.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Annotated, Any, Final

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import ValidationError

from fangxun.api.deps import SessionDep, SettingsDep
from fangxun.api.downloads import GEOJSON, ICALENDAR, PDF, XLSX, download
from fangxun.briefings import service as briefings
from fangxun.briefings.schemas import BriefingCreate
from fangxun.config import Settings
from fangxun.db import Session
from fangxun.db.types import utcnow
from fangxun.duty import service as duty
from fangxun.errors import FangxunError, ThrottledError
from fangxun.incidents import service as incidents
from fangxun.incidents.models import IncidentKind, IncidentStatus, Severity
from fangxun.incidents.schemas import IncidentCreate, PublicReport, TransitionIn
from fangxun.org import service as org_service
from fangxun.org.models import User
from fangxun.supplies import service as supplies
from fangxun.supplies.models import Readiness
from fangxun.times import SHORT, SHORT_SECONDS
from fangxun.times import local as local_time
from fangxun.web.auth import CsrfProtected, WebUser
from fangxun.web.forms import problem_text, status_of, submit_form
from fangxun.web.i18n import N_, gettext_for, negotiate_language
from fangxun.web.render import WebRoute, render_page

#: Marker colour of incidents on the one map (purple: apart from the hazard points' ramp).
INCIDENT_COLOUR: Final = "#7b3294"

router = APIRouter(route_class=WebRoute, include_in_schema=False)


#: Labels of incident kinds, severities and states (msgids).
KIND_LABELS: Final[dict[str, str]] = {
    IncidentKind.ponding: N_("Ponding on a road"),
    IncidentKind.underpass_flooding: N_("Flooded underpass"),
    IncidentKind.building_flooding: N_("Water entering buildings"),
    IncidentKind.embankment: N_("Embankment danger"),
    IncidentKind.landslide: N_("Landslide or collapse"),
    IncidentKind.trapped_people: N_("People trapped"),
    IncidentKind.vehicle_trapped: N_("Vehicle trapped"),
    IncidentKind.power: N_("Power installation"),
    IncidentKind.other: N_("Other"),
}
SEVERITY_LABELS: Final[dict[str, str]] = {
    Severity.minor: N_("Minor"),
    Severity.moderate: N_("Moderate"),
    Severity.major: N_("Major"),
    Severity.critical: N_("Critical"),
}
STATUS_LABELS: Final[dict[str, str]] = {
    IncidentStatus.reported: N_("Reported"),
    IncidentStatus.dispatched: N_("Dispatched"),
    IncidentStatus.on_site: N_("On site"),
    IncidentStatus.controlled: N_("Controlled"),
    IncidentStatus.closed: N_("Closed"),
}
READINESS_LABELS: Final[dict[str, str]] = {
    Readiness.standby: N_("On standby"),
    Readiness.deployed: N_("Deployed"),
    Readiness.resting: N_("Resting"),
    Readiness.unavailable: N_("Unavailable"),
}
GAP_LABELS: Final[dict[str, str]] = {
    "uncovered": N_("No shift"),
    "no_leader": N_("No leader on duty"),
    "no_check_in": N_("Nobody checked in"),
}
#: The button that moves an incident on from each state (next state, msgid).
NEXT_STEP: Final[dict[str, tuple[str, str]]] = {
    IncidentStatus.dispatched: (IncidentStatus.on_site, N_("Team on site")),
    IncidentStatus.on_site: (IncidentStatus.controlled, N_("Under control")),
    IncidentStatus.controlled: (IncidentStatus.closed, N_("Close")),
}
LABELS: Final[dict[str, Any]] = {
    "kinds": KIND_LABELS,
    "severities": SEVERITY_LABELS,
    "statuses": STATUS_LABELS,
    "readiness": READINESS_LABELS,
    "gaps": GAP_LABELS,
    "next_step": NEXT_STEP,
}


def local(value: datetime | None, *, seconds: bool = False) -> str:
    """A UTC time as shown on the pages: the district's zone, month-day hour:minute."""
    return local_time(value, SHORT_SECONDS if seconds else SHORT)


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


# --- duty --------------------------------------------------------------------------------------


@router.get("/duty")
def duty_page(request: Request, user: WebUser, db: SessionDep, settings: SettingsDep) -> Response:
    """Who is on duty now, the gaps of the coming week, and the week's shifts."""
    now = utcnow()
    week = now + timedelta(days=settings.duty_page_days)
    shifts = duty.list_shifts(session=db, actor=user, start=now, end=week)
    gaps: list[duty.DutyGap] = []
    for unit_id in sorted({s.unit_id for s in shifts}):
        gaps += duty.find_gaps(
            session=db,
            actor=user,
            unit_id=unit_id,
            start=now,
            end=week,
            now=now,
            check_in_grace_s=settings.duty_check_in_grace_s,
        )
    return render_page(
        request,
        "duty/roster.html",
        settings=settings,
        user=user,
        active="duty",
        context={
            "teams": duty.current_team(session=db, actor=user, at=now),
            "shifts": shifts,
            "gaps": gaps,
            "labels": LABELS,
            "local": local,
        },
    )


@router.get("/duty/roster.xlsx")
def duty_xlsx(user: WebUser, db: SessionDep, settings: SettingsDep) -> Response:
    """The next ``roster_export_days`` (31) days of the roster as Excel."""
    now = utcnow()
    end = now + timedelta(days=settings.roster_export_days)
    shifts = duty.list_shifts(session=db, actor=user, start=now, end=end)
    return download(duty.export_xlsx(shifts), XLSX, "duty-roster.xlsx")


@router.get("/duty/roster.ics")
def duty_ics(user: WebUser, db: SessionDep, settings: SettingsDep) -> Response:
    """The next ``roster_export_days`` (31) days of the roster as iCalendar."""
    now = utcnow()
    end = now + timedelta(days=settings.roster_export_days)
    shifts = duty.list_shifts(session=db, actor=user, start=now, end=end)
    return download(duty.export_ical(shifts), ICALENDAR, "duty-roster.ics")


# --- supplies ----------------------------------------------------------------------------------


@router.get("/supplies")
def supplies_page(
    request: Request, user: WebUser, db: SessionDep, settings: SettingsDep
) -> Response:
    """Shortages against quota, stock per warehouse, expiring items and teams."""
    warehouses = supplies.list_warehouses(session=db, actor=user)
    return render_page(
        request,
        "supplies/overview.html",
        settings=settings,
        user=user,
        active="supplies",
        context={
            "shortages": supplies.shortages(session=db, actor=user),
            "stock": [
                (w, supplies.stock_of(session=db, warehouse_id=w.id, actor=user))
                for w in warehouses
            ],
            "expiring": supplies.expiring(
                session=db, actor=user, within_days=settings.supplies_expiring_days
            ),
            "teams": supplies.list_teams(session=db, actor=user),
            "drills": supplies.list_drills(session=db, actor=user)[:10],
            "labels": LABELS,
            "local": local,
        },
    )


# --- briefings ---------------------------------------------------------------------------------


@router.get("/briefings")
def briefings_page(
    request: Request, user: WebUser, db: SessionDep, settings: SettingsDep
) -> Response:
    """Past briefings and the button that makes one for now."""
    return _briefings_list(request, user, db, settings)


def _briefings_list(
    request: Request,
    user: User,
    db: Session,
    settings: Settings,
    *,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    # The error comes from a refused form, never from the URL (no message anyone can link to).
    items = briefings.list_briefings(session=db, actor=user, limit=20)
    return render_page(
        request,
        "briefings/list.html",
        settings=settings,
        user=user,
        active="briefings",
        status_code=status_code,
        context={"items": items, "latest": items[0] if items else None, "error": error},
    )


@router.post("/briefings", dependencies=[CsrfProtected])
def briefings_generate(
    request: Request, user: WebUser, db: SessionDep, settings: SettingsDep
) -> Response:
    """Generate the briefing for now."""
    return submit_form(
        db,
        lambda: briefings.generate(session=db, briefing_in=BriefingCreate(), actor=user),
        failed=lambda error, status: _briefings_list(
            request, user, db, settings, error=error, status_code=status
        ),
        done=lambda _briefing: RedirectResponse("/briefings", status_code=303),
    )


@router.get("/briefings/{briefing_id}.pdf")
def briefing_pdf(briefing_id: int, user: WebUser, db: SessionDep) -> Response:
    """A briefing as PDF."""
    briefing = briefings.get_briefing(session=db, briefing_id=briefing_id, actor=user)
    return download(briefings.export_pdf(briefing), PDF, f"briefing-{briefing.id}.pdf", inline=True)


__all__ = ["router"]
