"""Field pages (外业): phone forms that work offline, for inspectors, street offices and duty.

Every form of these pages is sent by the browser's outbox (``static/field/outbox.js``): it is
queued in IndexedDB with a client key (a UUID) and photos, and POSTed here when the network is
there. Each POST is thin: it parses the form, and :func:`fangxun.field.service.apply_once` runs the
*existing* domain service call (hazards, incidents, supplies, duty, field) once per key. The answer
is JSON (:class:`~fangxun.field.schemas.SubmissionResult`): 201 applied, 200 a key seen before,
409 a conflict kept for the person to read (e.g. the rectification was closed meanwhile), and the
API's status with a message for a refused form (403, 404, 422), which nothing is kept of.

The service worker (``/field/sw.js``, scope ``/field/``) and the web manifest make the pages an
installable app that opens without a network.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Final

from fastapi import APIRouter, File, Form, Request, Response, UploadFile
from fastapi.responses import FileResponse, JSONResponse

from fangxun.api.deps import SessionDep, SettingsDep
from fangxun.db import Session
from fangxun.db.types import utcnow
from fangxun.duty import service as duty_service
from fangxun.field import service as field_service
from fangxun.field.models import SubmissionOutcome
from fangxun.field.schemas import PatrolCreate
from fangxun.hazards import attachments as hazard_files
from fangxun.hazards import service as hazard_service
from fangxun.hazards.models import HazardKind
from fangxun.hazards.schemas import (
    ChecklistItem,
    HazardPointCreate,
    HazardPointUpdate,
    InspectionRecordCreate,
    Measure,
    PointPlanCreate,
    RectificationCreate,
    Trigger,
)
from fangxun.incidents import service as incident_service
from fangxun.incidents.models import IncidentKind, Severity
from fangxun.incidents.schemas import IncidentCreate
from fangxun.org import service as org_service
from fangxun.org.models import User
from fangxun.supplies import service as supplies_service
from fangxun.supplies.schemas import DrillCreate, FindingIn, IssueIn, ReceiveIn
from fangxun.web.auth import CsrfProtected, WebUser
from fangxun.web.forms import FORM_ERRORS, problem_text, status_of
from fangxun.web.hazards_pages import KIND_LABELS as HAZARD_KIND_LABELS
from fangxun.web.i18n import N_, gettext_for, negotiate_language
from fangxun.web.render import WebRoute, render_page

router = APIRouter(route_class=WebRoute, include_in_schema=False)

STATIC_DIR: Final = Path(__file__).resolve().parent / "static"
#: Where the service worker is served: its scope is the folder it is served from.
SERVICE_WORKER_PATH: Final = "/field/sw.js"
#: Photos one form may carry.
MAX_PHOTOS: Final = 6
#: Map colour of embankment hazard points on the reaches layer (the legend's "Warehouse" brown is
#: taken; a dark teal reads as water works).
EMBANKMENT_COLOUR: Final = "#01665e"
#: Default days to fix a finding found on an inspection.
DEFAULT_FIX_DAYS: Final = 14

INCIDENT_KIND_LABELS: Final[dict[str, str]] = {
    IncidentKind.ponding: N_("Road ponding"),
    IncidentKind.underpass_flooding: N_("Underpass flooding"),
    IncidentKind.building_flooding: N_("Water in buildings or basements"),
    IncidentKind.embankment: N_("Embankment danger"),
    IncidentKind.landslide: N_("Landslide or collapse"),
    IncidentKind.trapped_people: N_("People trapped"),
    IncidentKind.vehicle_trapped: N_("Vehicles trapped"),
    IncidentKind.power: N_("Power installations"),
    IncidentKind.other: N_("Other"),
}
SEVERITY_LABELS: Final[dict[str, str]] = {
    Severity.minor: N_("Minor"),
    Severity.moderate: N_("Moderate"),
    Severity.major: N_("Major"),
    Severity.critical: N_("Critical"),
}
#: The tiles of the field home page: (path, msgid, roles that see it or None for every writer).
FIELD_FORMS: Final[tuple[tuple[str, str], ...]] = (
    ("/field/incidents/new", N_("Report an incident")),
    ("/field/inspections/new", N_("Record an inspection")),
    ("/field/patrols/new", N_("Record a patrol")),
    ("/field/points/new", N_("Add a hazard point")),
    ("/field/rectifications", N_("Rectification evidence")),
    ("/field/stocktakes", N_("Stocktake")),
    ("/field/transfers/new", N_("Transfer supplies")),
    ("/field/drills/new", N_("Record a drill")),
    ("/field/duty", N_("Duty check-in and handover")),
)


# --- helpers ------------------------------------------------------------------------------------


def _gettext(request: Request, settings: Any) -> Callable[[str], str]:
    return gettext_for(negotiate_language(request, settings.language))


def _page(
    request: Request,
    settings: Any,
    user: User,
    template: str,
    context: dict[str, Any] | None = None,
) -> Response:
    return render_page(
        request,
        template,
        settings=settings,
        user=user,
        active="field",
        context={"sw_url": SERVICE_WORKER_PATH, **(context or {})},
    )


def _answer(
    db: Session,
    *,
    kind: str,
    client_key: str,
    user: User,
    action: Callable[[], str | None],
) -> JSONResponse:
    """Apply ``action`` once per ``client_key`` and answer the outbox in JSON."""
    try:
        result = field_service.apply_once(
            session=db, client_key=client_key, kind=kind, actor=user, action=action
        )
    except FORM_ERRORS as exc:
        db.rollback()
        return JSONResponse(
            {"outcome": "refused", "message": problem_text(exc), "key": client_key},
            status_code=status_of(exc),
        )
    if result.outcome is SubmissionOutcome.conflict:
        status = 409
    else:
        status = 200 if result.duplicate else 201
    return JSONResponse(result.model_dump(mode="json"), status_code=status)


def _photos(files: list[UploadFile] | None) -> list[tuple[str, bytes]]:
    """The photos of a form (empty file inputs dropped), read up to the attachment limit."""
    out = []
    for upload in files or []:
        if not upload.filename:
            continue
        upload.file.seek(0)
        data = upload.file.read(hazard_files.MAX_ATTACHMENT_BYTES + 1)
        if data:
            out.append((upload.filename, data))
    if len(out) > MAX_PHOTOS:
        raise ValueError(f"at most {MAX_PHOTOS} photos per form, got {len(out)}")
    return out


def _units(db: Session, user: User) -> list[Any]:
    units, _total = org_service.list_units(session=db, actor=user, limit=500)
    return units


def _people(db: Session, user: User) -> list[Any]:
    people, _total = org_service.list_people(session=db, actor=user, limit=500)
    return people


def _points(db: Session, user: User) -> list[Any]:
    points, _total = hazard_service.list_points(session=db, actor=user, limit=500)
    return points


def _float(value: str | None) -> float | None:
    return float(value) if value not in (None, "") else None


def _attach(
    db: Session,
    settings: Any,
    user: User,
    point_id: int,
    photos: list[tuple[str, bytes]],
    **link: int | None,
) -> None:
    for filename, data in photos:
        hazard_service.add_attachment(
            session=db,
            data_dir=settings.data_dir,
            point_id=point_id,
            filename=filename,
            content=data,
            actor=user,
            **link,
        )


ClientKey = Annotated[str, Form(max_length=64)]
Photos = Annotated[list[UploadFile] | None, File()]


# --- app shell: home, manifest, service worker -------------------------------------------------


@router.get("/field")
def field_home(request: Request, user: WebUser, db: SessionDep, settings: SettingsDep) -> Response:
    """The field app's start page: one big button per form and what is waiting to be sent."""
    overdue = field_service.overdue_patrols(session=db, actor=user)
    return _page(
        request, settings, user, "field/home.html", {"forms": FIELD_FORMS, "overdue": overdue}
    )


@router.get("/field/manifest.webmanifest")
def manifest(request: Request, settings: SettingsDep) -> Response:
    """The web app manifest: installable, opening at ``/field`` in its own window."""
    _ = _gettext(request, settings)
    body = {
        "name": _("Fangxun field work"),
        "short_name": _("Field work"),
        "start_url": "/field",
        "scope": "/field/",
        "display": "standalone",
        "background_color": "#f4f6f9",
        "theme_color": "#0b4f8a",
        "icons": [
            {"src": "/static/field/icon.svg", "sizes": "any", "type": "image/svg+xml"},
        ],
    }
    return Response(json.dumps(body, ensure_ascii=False), media_type="application/manifest+json")


@router.get(SERVICE_WORKER_PATH)
def service_worker() -> FileResponse:
    """The service worker, served under ``/field/`` with scope ``/field`` (the field pages);
    never cached by HTTP (a new version must reach the phone)."""
    return FileResponse(
        STATIC_DIR / "js" / "field" / "sw.js",
        media_type="text/javascript",
        # Its scope is "/field", the home page included (the folder alone would be "/field/").
        headers={"Cache-Control": "no-cache", "Service-Worker-Allowed": "/field"},
    )


# --- hazard points ------------------------------------------------------------------------------


@router.get("/field/points/new")
def point_form(request: Request, user: WebUser, db: SessionDep, settings: SettingsDep) -> Response:
    """Add a hazard point: a pin on the map (or the phone's position), what it is, photos."""
    return _page(
        request,
        settings,
        user,
        "field/point.html",
        {"point": None, "units": _units(db, user), "kinds": HAZARD_KIND_LABELS},
    )


@router.post("/field/points", dependencies=[CsrfProtected])
def point_submit(
    user: WebUser,
    db: SessionDep,
    settings: SettingsDep,
    client_key: ClientKey,
    code: Annotated[str, Form(max_length=32)],
    name: Annotated[str, Form(max_length=200)],
    kind: Annotated[str, Form(max_length=32)],
    unit_id: Annotated[int, Form(ge=1)],
    lon: Annotated[str, Form(max_length=40)],
    lat: Annotated[str, Form(max_length=40)],
    address: Annotated[str, Form(max_length=300)] = "",
    description: Annotated[str, Form(max_length=5000)] = "",
    photos: Photos = None,
) -> Response:
    """Create the point with the hazard service, then its photos as attachments."""

    def action() -> str:
        point = hazard_service.create_point(
            session=db,
            point_in=HazardPointCreate(
                code=code,
                name=name,
                kind=HazardKind(kind),
                lon=float(lon),
                lat=float(lat),
                unit_id=unit_id,
                address=address or None,
                description=description or None,
            ),
            actor=user,
            thresholds_table=settings.hazard_thresholds_cm,
        )
        _attach(db, settings, user, point.id, _photos(photos))
        return f"/hazards/points/{point.id}"

    return _answer(db, kind="point", client_key=client_key, user=user, action=action)


@router.get("/field/hazard-points/{point_id}/edit")
def point_edit_form(
    point_id: int, request: Request, user: WebUser, db: SessionDep, settings: SettingsDep
) -> Response:
    """Edit or move a hazard point (drag its pin)."""
    point = hazard_service.get_point(session=db, point_id=point_id, actor=user)
    return _page(
        request,
        settings,
        user,
        "field/point.html",
        {"point": point, "units": _units(db, user), "kinds": HAZARD_KIND_LABELS},
    )


@router.post("/field/hazard-points/{point_id}", dependencies=[CsrfProtected])
def point_edit_submit(
    point_id: int,
    user: WebUser,
    db: SessionDep,
    settings: SettingsDep,
    client_key: ClientKey,
    name: Annotated[str, Form(max_length=200)],
    lon: Annotated[str, Form(max_length=40)],
    lat: Annotated[str, Form(max_length=40)],
    version: Annotated[int, Form(ge=1)],
    address: Annotated[str, Form(max_length=300)] = "",
    description: Annotated[str, Form(max_length=5000)] = "",
    photos: Photos = None,
) -> Response:
    """Change the point (a version changed since the form was loaded is a conflict)."""
    hazard_service.get_point(session=db, point_id=point_id, actor=user)

    def action() -> str:
        hazard_service.update_point(
            session=db,
            point_id=point_id,
            point_in=HazardPointUpdate(
                name=name,
                lon=float(lon),
                lat=float(lat),
                address=address or None,
                description=description or None,
            ),
            actor=user,
            expected_version=version,
        )
        _attach(db, settings, user, point_id, _photos(photos))
        return f"/hazards/points/{point_id}"

    return _answer(db, kind="point-edit", client_key=client_key, user=user, action=action)


@router.get("/field/hazard-points/{point_id}/plan")
def point_plan_form(
    point_id: int, request: Request, user: WebUser, db: SessionDep, settings: SettingsDep
) -> Response:
    """Draft a point plan (一点一策): trigger, measures, people, equipment."""
    point = hazard_service.get_point(session=db, point_id=point_id, actor=user)
    return _page(
        request, settings, user, "field/plan.html", {"point": point, "people": _people(db, user)}
    )


@router.post("/field/hazard-points/{point_id}/plan", dependencies=[CsrfProtected])
def point_plan_submit(
    point_id: int,
    user: WebUser,
    db: SessionDep,
    client_key: ClientKey,
    title: Annotated[str, Form(max_length=200)],
    measure: Annotated[str, Form(max_length=5000)],
    trigger_colour: Annotated[str, Form(max_length=10)] = "",
    trigger_ponding_cm: Annotated[str, Form(max_length=20)] = "",
    responsible_person_id: Annotated[str, Form(max_length=20)] = "",
    team: Annotated[str, Form(max_length=200)] = "",
    equipment: Annotated[str, Form(max_length=2000)] = "",
    close_needs_evidence: Annotated[bool, Form()] = False,
) -> Response:
    """Draft the plan with the hazard service (approval stays with the district)."""
    hazard_service.get_point(session=db, point_id=point_id, actor=user)

    def action() -> str:
        hazard_service.create_plan(
            session=db,
            point_id=point_id,
            plan_in=PointPlanCreate(
                title=title,
                triggers=[
                    Trigger(
                        colour=trigger_colour or None,
                        ponding_cm=_float(trigger_ponding_cm),
                    )
                ],
                measures=[
                    Measure(
                        action=measure,
                        responsible_person_id=int(responsible_person_id)
                        if responsible_person_id
                        else None,
                        team=team or None,
                        equipment=[e.strip() for e in equipment.split(",") if e.strip()],
                    )
                ],
                close_needs_evidence=close_needs_evidence,
            ),
            actor=user,
        )
        return f"/hazards/points/{point_id}"

    return _answer(db, kind="point-plan", client_key=client_key, user=user, action=action)


# --- inspections and rectifications -------------------------------------------------------------


@router.get("/field/inspections/new")
def inspection_form(
    request: Request,
    user: WebUser,
    db: SessionDep,
    settings: SettingsDep,
    point_id: int | None = None,
) -> Response:
    """Record an inspection of a point, with photos; a finding opens a rectification."""
    return _page(
        request,
        settings,
        user,
        "field/inspection.html",
        {
            "points": _points(db, user),
            "people": _people(db, user),
            "point_id": point_id,
            "deadline": (utcnow() + timedelta(days=DEFAULT_FIX_DAYS)).date().isoformat(),
        },
    )


@router.post("/field/inspections", dependencies=[CsrfProtected])
def inspection_submit(
    user: WebUser,
    db: SessionDep,
    settings: SettingsDep,
    client_key: ClientKey,
    point_id: Annotated[int, Form(ge=1)],
    inspected_at: Annotated[str, Form(max_length=40)],
    notes: Annotated[str, Form(max_length=5000)] = "",
    gps_lon: Annotated[str, Form(max_length=40)] = "",
    gps_lat: Annotated[str, Form(max_length=40)] = "",
    finding: Annotated[str, Form(max_length=5000)] = "",
    measure: Annotated[str, Form(max_length=5000)] = "",
    deadline: Annotated[str, Form(max_length=20)] = "",
    responsible_person_id: Annotated[str, Form(max_length=20)] = "",
    photos: Photos = None,
) -> Response:
    """The inspection record, its photos, and for a finding the rectification, as the API makes
    them (``POST /inspections`` then ``POST /rectifications`` with its id), in one transaction."""

    def action() -> str:
        has_finding = bool(finding.strip())
        record = hazard_service.create_inspection(
            session=db,
            record_in=InspectionRecordCreate(
                point_id=point_id,
                inspected_at=datetime.fromisoformat(inspected_at),
                gps_lon=_float(gps_lon),
                gps_lat=_float(gps_lat),
                checklist=[ChecklistItem(item="现场检查", ok=not has_finding)],
                notes=notes or None,
                has_finding=has_finding,
            ),
            actor=user,
        )
        _attach(db, settings, user, point_id, _photos(photos), inspection_id=record.id)
        if has_finding:
            if not responsible_person_id:
                raise ValueError("responsible_person_id: a finding needs the person to fix it")
            day = date.fromisoformat(deadline) if deadline else None
            due = datetime.combine(day, datetime.max.time()) if day else None
            hazard_service.create_rectification(
                session=db,
                rect_in=RectificationCreate(
                    point_id=point_id,
                    inspection_id=record.id,
                    finding=finding,
                    measure=measure or finding,
                    deadline=(due or datetime.now()).astimezone(),
                    responsible_person_id=int(responsible_person_id),
                ),
                actor=user,
            )
        return f"/hazards/points/{point_id}"

    return _answer(db, kind="inspection", client_key=client_key, user=user, action=action)


@router.get("/field/rectifications")
def rectification_list(
    request: Request, user: WebUser, db: SessionDep, settings: SettingsDep
) -> Response:
    """Open rectifications of the jurisdiction, earliest deadline first."""
    items, _total = hazard_service.list_rectifications(session=db, actor=user, limit=100)
    open_items = [r for r in items if r.status.value != "closed"]
    return _page(request, settings, user, "field/rectifications.html", {"items": open_items})


@router.get("/field/rectifications/{rect_id}")
def rectification_form(
    rect_id: int, request: Request, user: WebUser, db: SessionDep, settings: SettingsDep
) -> Response:
    """Evidence of a rectification: before/after photos and the next step of its workflow."""
    rect = hazard_service.get_rectification(session=db, rect_id=rect_id, actor=user)
    return _page(
        request,
        settings,
        user,
        "field/rectification.html",
        {"rect": rect, "actions": hazard_service.allowed_actions(rect, user)},
    )


@router.post("/field/rectifications/{rect_id}", dependencies=[CsrfProtected])
def rectification_submit(
    rect_id: int,
    user: WebUser,
    db: SessionDep,
    settings: SettingsDep,
    client_key: ClientKey,
    comment: Annotated[str, Form(max_length=5000)],
    version: Annotated[int, Form(ge=1)],
    action: Annotated[str, Form(max_length=20)] = "",
    before: Photos = None,
    after: Photos = None,
) -> Response:
    """Photos as attachments of the rectification, then its transition; a rectification changed
    (e.g. closed by someone else) since the form was loaded is a conflict reported back."""
    rect = hazard_service.get_rectification(session=db, rect_id=rect_id, actor=user)
    point_id = rect.point_id

    def run() -> str:
        labelled = [(f"before-{n}", d) for n, d in _photos(before)] + [
            (f"after-{n}", d) for n, d in _photos(after)
        ]
        # The photos first: they are the evidence a plan may ask for before the close.
        _attach(db, settings, user, point_id, labelled, rectification_id=rect_id)
        if action:
            hazard_service.transition_rectification(
                session=db,
                rect_id=rect_id,
                action=action,
                comment=comment,
                actor=user,
                expected_version=version,
            )
        return f"/hazards/rectifications/{rect_id}"

    return _answer(db, kind="rectification", client_key=client_key, user=user, action=run)


# --- incidents ----------------------------------------------------------------------------------


@router.get("/field/incidents/new")
def incident_form(
    request: Request, user: WebUser, db: SessionDep, settings: SettingsDep
) -> Response:
    """Report an incident with the phone's position (or a pin) and camera photos."""
    return _page(
        request,
        settings,
        user,
        "field/incident.html",
        {
            "units": _units(db, user),
            "kinds": INCIDENT_KIND_LABELS,
            "severities": SEVERITY_LABELS,
        },
    )


@router.post("/field/incidents", dependencies=[CsrfProtected])
def incident_submit(
    user: WebUser,
    db: SessionDep,
    settings: SettingsDep,
    client_key: ClientKey,
    unit_id: Annotated[int, Form(ge=1)],
    kind: Annotated[str, Form(max_length=32)],
    title: Annotated[str, Form(max_length=200)],
    reported_at: Annotated[str, Form(max_length=40)],
    severity: Annotated[str, Form(max_length=32)] = "moderate",
    description: Annotated[str, Form(max_length=5000)] = "",
    location_text: Annotated[str, Form(max_length=300)] = "",
    lon: Annotated[str, Form(max_length=40)] = "",
    lat: Annotated[str, Form(max_length=40)] = "",
    photos: Photos = None,
) -> Response:
    """The incident service's report, then its photos (at the time the phone queued it)."""

    def action() -> str:
        incident = incident_service.report(
            session=db,
            incident_in=IncidentCreate(
                unit_id=unit_id,
                kind=IncidentKind(kind),
                severity=Severity(severity),
                title=title,
                description=description or None,
                location_text=location_text or None,
                lon=_float(lon),
                lat=_float(lat),
                reported_at=datetime.fromisoformat(reported_at),
            ),
            actor=user,
        )
        for filename, data in _photos(photos):
            incident_service.add_photo(
                session=db,
                incident_id=incident.id,
                filename=filename,
                content_type="application/octet-stream",
                data=data,
                data_dir=settings.data_dir,
                actor=user,
            )
        return f"/incidents/{incident.id}"

    return _answer(db, kind="incident", client_key=client_key, user=user, action=action)


# --- patrols ------------------------------------------------------------------------------------


@router.get("/field/patrols/new")
def patrol_form(request: Request, user: WebUser, db: SessionDep, settings: SettingsDep) -> Response:
    """Record a patrol: start, walk (the track follows the phone), pin findings, finish."""
    return _page(
        request,
        settings,
        user,
        "field/patrol.html",
        {
            "plans": field_service.list_plans(session=db, actor=user),
            "units": _units(db, user),
        },
    )


@router.post("/field/patrols", dependencies=[CsrfProtected])
def patrol_submit(
    user: WebUser,
    db: SessionDep,
    settings: SettingsDep,
    client_key: ClientKey,
    payload: Annotated[str, Form(max_length=4_000_000)],
    photos: Photos = None,
    photo_finding: Annotated[list[int] | None, Form()] = None,
) -> Response:
    """The patrol recorded by the field service: track and findings as JSON in ``payload``
    (:class:`~fangxun.field.schemas.PatrolCreate`); ``photos[i]`` belongs to the finding
    ``photo_finding[i]``."""

    def action() -> str:
        patrol_in = PatrolCreate.model_validate_json(payload)
        by_finding: list[field_service.FindingPhoto | None] = [None] * len(patrol_in.findings)
        uploads = _photos(photos)
        indexes = photo_finding or []
        if len(indexes) != len(uploads):
            raise ValueError("photo_finding: one finding index per photo")
        for index, (filename, data) in zip(indexes, uploads, strict=True):
            if not 0 <= index < len(by_finding):
                raise ValueError(f"photo_finding: no finding {index}")
            by_finding[index] = field_service.FindingPhoto(filename=filename, data=data)
        patrol = field_service.record_patrol(
            session=db,
            patrol_in=patrol_in,
            actor=user,
            data_dir=settings.data_dir,
            photos=by_finding,
        )
        return f"/field/patrols/{patrol.id}"

    return _answer(db, kind="patrol", client_key=client_key, user=user, action=action)


@router.get("/field/patrols/{patrol_id}")
def patrol_page(
    patrol_id: int, request: Request, user: WebUser, db: SessionDep, settings: SettingsDep
) -> Response:
    """One patrol: its track and findings on the map."""
    patrol = field_service.get_patrol(session=db, patrol_id=patrol_id, actor=user)
    return _page(request, settings, user, "field/patrol_done.html", {"patrol": patrol})


@router.get("/field/patrols.geojson")
def patrols_geojson(user: WebUser, db: SessionDep) -> JSONResponse:
    """The latest patrols' tracks and findings (map layer), each linking to its patrol."""
    collection = field_service.patrols_geojson(session=db, actor=user)
    for feature in collection["features"]:
        feature["properties"]["url"] = f"/field/patrols/{feature['properties']['patrol_id']}"
    return JSONResponse(collection)


@router.get("/field/reaches.geojson")
def reaches_geojson(user: WebUser, db: SessionDep) -> JSONResponse:
    """River reaches and their embankment hazard points (map layer): the reaches as lines, the
    points (河道堤防) with a link to their page."""
    collection = field_service.reaches_geojson(session=db, actor=user)
    for feature in collection["features"]:
        feature["properties"]["url"] = None
    embankments, _total = hazard_service.list_points(
        session=db,
        actor=user,
        flt=hazard_service.PointFilter(kind=HazardKind.river_embankment),
        limit=1000,
    )
    collection["features"].extend(
        {
            "type": "Feature",
            "id": f"point-{p.id}",
            "geometry": {"type": "Point", "coordinates": [p.lon, p.lat]},
            "properties": {
                "code": p.code,
                "name": p.name,
                "colour": EMBANKMENT_COLOUR,
                "url": f"/hazards/points/{p.id}",
            },
        }
        for p in embankments
    )
    return JSONResponse(collection)


# --- supplies: stocktakes, transfers, drills ----------------------------------------------------


@router.get("/field/stocktakes")
def stocktake_start(
    request: Request, user: WebUser, db: SessionDep, settings: SettingsDep
) -> Response:
    """Pick the warehouse to count."""
    warehouses = supplies_service.list_warehouses(session=db, actor=user)
    return _page(request, settings, user, "field/warehouses.html", {"warehouses": warehouses})


@router.get("/field/warehouses/{warehouse_id}/stocktake")
def stocktake_form(
    warehouse_id: int, request: Request, user: WebUser, db: SessionDep, settings: SettingsDep
) -> Response:
    """The count sheet of a warehouse: one number per item."""
    warehouse = supplies_service.get_warehouse(session=db, warehouse_id=warehouse_id, actor=user)
    lines = supplies_service.stock_of(session=db, warehouse_id=warehouse_id, actor=user)
    return _page(
        request, settings, user, "field/stocktake.html", {"warehouse": warehouse, "lines": lines}
    )


@router.post("/field/warehouses/{warehouse_id}/stocktake", dependencies=[CsrfProtected])
def stocktake_submit(
    warehouse_id: int,
    user: WebUser,
    db: SessionDep,
    client_key: ClientKey,
    item_id: Annotated[list[int] | None, Form()] = None,
    count: Annotated[list[str] | None, Form()] = None,
) -> Response:
    """Open the stocktake and record the counts (``count[i]`` of ``item_id[i]``; blank is not
    counted) with the supplies service; the sheet shows the shortfall against the quotas."""
    supplies_service.get_warehouse(session=db, warehouse_id=warehouse_id, actor=user)

    def action() -> str:
        items, numbers = item_id or [], count or []
        if len(items) != len(numbers):
            raise ValueError("count: one count per item")
        counts = {i: int(c) for i, c in zip(items, numbers, strict=True) if c.strip()}
        if not counts:
            raise ValueError("count: count at least one item")
        take = supplies_service.start_stocktake(session=db, warehouse_id=warehouse_id, actor=user)
        db.flush()
        supplies_service.record_counts(session=db, stocktake_id=take.id, counts=counts, actor=user)
        return f"/field/stocktakes/{take.id}"

    return _answer(db, kind="stocktake", client_key=client_key, user=user, action=action)


@router.get("/field/stocktakes/{stocktake_id}")
def stocktake_page(
    stocktake_id: int, request: Request, user: WebUser, db: SessionDep, settings: SettingsDep
) -> Response:
    """A stocktake: book, counted, difference, and the shortfall against the quota."""
    take = supplies_service.get_stocktake(session=db, stocktake_id=stocktake_id, actor=user)
    quotas = {
        line.item_id: line.quota
        for line in supplies_service.stock_of(
            session=db, warehouse_id=take.warehouse_id, actor=user
        )
    }
    rows = [
        {
            "item": line.item.name_zh,
            "book": line.book_quantity,
            "counted": line.counted_quantity,
            "difference": (line.counted_quantity or 0) - line.book_quantity
            if line.counted_quantity is not None
            else None,
            "quota": quotas.get(line.item_id),
            "shortfall": max(0, (quotas.get(line.item_id) or 0) - (line.counted_quantity or 0))
            if line.counted_quantity is not None and quotas.get(line.item_id)
            else 0,
        }
        for line in take.lines
    ]
    return _page(request, settings, user, "field/stocktake_done.html", {"take": take, "rows": rows})


@router.get("/field/transfers/new")
def transfer_form(
    request: Request, user: WebUser, db: SessionDep, settings: SettingsDep
) -> Response:
    """Move supplies from one warehouse to another (调拨)."""
    return _page(
        request,
        settings,
        user,
        "field/transfer.html",
        {
            "warehouses": supplies_service.list_warehouses(session=db, actor=user),
            "items": supplies_service.list_items(session=db),
        },
    )


@router.post("/field/transfers", dependencies=[CsrfProtected])
def transfer_submit(
    user: WebUser,
    db: SessionDep,
    client_key: ClientKey,
    from_warehouse_id: Annotated[int, Form(ge=1)],
    to_warehouse_id: Annotated[int, Form(ge=1)],
    item_id: Annotated[int, Form(ge=1)],
    quantity: Annotated[int, Form(ge=1, le=10_000_000)],
    note: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """A transfer is the supplies service's issue from one warehouse and receipt into the other,
    in one transaction (both movements audited)."""

    def action() -> str:
        if from_warehouse_id == to_warehouse_id:
            raise ValueError("to_warehouse_id: pick another warehouse than the one it leaves")
        text = f"调拨 {from_warehouse_id} → {to_warehouse_id}" + (f": {note}" if note else "")
        supplies_service.issue(
            session=db,
            warehouse_id=from_warehouse_id,
            issue_in=IssueIn(item_id=item_id, quantity=quantity, note=text),
            actor=user,
        )
        supplies_service.receive(
            session=db,
            warehouse_id=to_warehouse_id,
            receive_in=ReceiveIn(item_id=item_id, quantity=quantity, note=text),
            actor=user,
        )
        return "/supplies"

    return _answer(db, kind="transfer", client_key=client_key, user=user, action=action)


@router.get("/field/drills/new")
def drill_form(request: Request, user: WebUser, db: SessionDep, settings: SettingsDep) -> Response:
    """Record a drill with its findings."""
    return _page(
        request,
        settings,
        user,
        "field/drill.html",
        {"units": _units(db, user), "today": utcnow().date().isoformat()},
    )


@router.post("/field/drills", dependencies=[CsrfProtected])
def drill_submit(
    user: WebUser,
    db: SessionDep,
    client_key: ClientKey,
    unit_id: Annotated[int, Form(ge=1)],
    held_on: Annotated[str, Form(max_length=20)],
    scenario: Annotated[str, Form(max_length=5000)],
    participants: Annotated[int, Form(ge=0, le=100_000)] = 0,
    findings: Annotated[str, Form(max_length=20_000)] = "",
) -> Response:
    """The supplies service's drill; one finding per line of ``findings``."""

    def action() -> str:
        supplies_service.create_drill(
            session=db,
            drill_in=DrillCreate(
                unit_id=unit_id,
                held_on=date.fromisoformat(held_on),
                scenario=scenario,
                participants=participants,
                findings=[
                    FindingIn(description=line.strip())
                    for line in findings.splitlines()
                    if line.strip()
                ],
            ),
            actor=user,
        )
        return "/supplies"

    return _answer(db, kind="drill", client_key=client_key, user=user, action=action)


# --- duty ---------------------------------------------------------------------------------------


@router.get("/field/duty")
def duty_form(request: Request, user: WebUser, db: SessionDep, settings: SettingsDep) -> Response:
    """The shifts on now: check in, write the handover note; overdue patrols."""
    now = utcnow()
    shifts = duty_service.list_shifts(
        session=db, actor=user, start=now - timedelta(hours=24), end=now + timedelta(hours=24)
    )
    return _page(
        request,
        settings,
        user,
        "field/duty.html",
        {"shifts": shifts, "overdue": field_service.overdue_patrols(session=db, actor=user)},
    )


@router.post("/field/assignments/{assignment_id}/check-in", dependencies=[CsrfProtected])
def check_in_submit(
    assignment_id: int, user: WebUser, db: SessionDep, client_key: ClientKey
) -> Response:
    """Check in (报到) with the duty service."""
    duty_service.get_assignment(session=db, assignment_id=assignment_id, actor=user)

    def action() -> str:
        duty_service.check_in(session=db, assignment_id=assignment_id, actor=user)
        return "/field/duty"

    return _answer(db, kind="check-in", client_key=client_key, user=user, action=action)


@router.post("/field/shifts/{shift_id}/handover", dependencies=[CsrfProtected])
def handover_submit(
    shift_id: int,
    user: WebUser,
    db: SessionDep,
    client_key: ClientKey,
    note: Annotated[str, Form(max_length=5000)],
) -> Response:
    """The handover note (交接班) with the duty service."""
    duty_service.get_shift(session=db, shift_id=shift_id, actor=user)

    def action() -> str:
        duty_service.hand_over(session=db, shift_id=shift_id, note=note, actor=user)
        return "/field/duty"

    return _answer(db, kind="handover", client_key=client_key, user=user, action=action)


__all__ = ["router"]
