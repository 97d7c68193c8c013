"""Web pages of the hazard ledger (隐患台账): the ledger with filters, export and a map coloured by
open problems; a point's page (map, plan, inspections, rectifications, photos); and the
rectification workflow page whose CSRF-protected forms move a rectification along.

Thin views: they read the request, call :mod:`fangxun.hazards.service` / :mod:`fangxun.hazards.io`
and render ``templates/hazards/*.html``. ``fangxun.api.app.create_app`` includes :data:`router`.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Annotated, Any, Final

from fastapi import APIRouter, Form, HTTPException, Query, Request, Response
from fastapi.responses import FileResponse, RedirectResponse
from pydantic import ValidationError

from fangxun.api.cache import cached_json
from fangxun.api.deps import SessionDep, SettingsDep
from fangxun.api.downloads import GEOJSON, XLSX, download, geojson_download
from fangxun.errors import (
    ConflictError,
    FangxunError,
    NotFoundError,
    PermissionDeniedError,
    ValidationFailed,
)
from fangxun.hazards import attachments as files
from fangxun.hazards import io as hazard_io
from fangxun.hazards import service
from fangxun.hazards.models import (
    HazardKind,
    HazardPoint,
    PointStatus,
    RectificationStatus,
    RiskLevel,
)
from fangxun.hazards.schemas import RectificationCreate
from fangxun.org import service as org_service
from fangxun.times import local, local_zone
from fangxun.web.auth import CsrfProtected, WebPrincipal, WebUser
from fangxun.web.basemap import BasemapError, find_hillshade
from fangxun.web.forms import status_of
from fangxun.web.i18n import N_, gettext_for, negotiate_language
from fangxun.web.render import WebRoute, render_page

router = APIRouter(route_class=WebRoute, include_in_schema=False)


KIND_LABELS: Final[dict[str, str]] = {
    HazardKind.low_lying_road: N_("Low-lying road"),
    HazardKind.underpass: N_("Underpass"),
    HazardKind.residential_compound: N_("Residential compound"),
    HazardKind.river_embankment: N_("River embankment"),
    HazardKind.pump_station: N_("Pump station"),
    HazardKind.construction_site: N_("Construction site"),
    HazardKind.bridge_culvert: N_("Bridge or culvert"),
    HazardKind.channel: N_("Channel"),
    HazardKind.other: N_("Other"),
}
RISK_LABELS: Final[dict[str, str]] = {
    RiskLevel.low: N_("Low"),
    RiskLevel.medium: N_("Medium"),
    RiskLevel.high: N_("High"),
    RiskLevel.very_high: N_("Very high"),
}
POINT_STATUS_LABELS: Final[dict[str, str]] = {
    PointStatus.active: N_("Active"),
    PointStatus.retired: N_("Retired"),
}
RECT_STATUS_LABELS: Final[dict[str, str]] = {
    RectificationStatus.open: N_("Open"),
    RectificationStatus.in_progress: N_("In progress"),
    RectificationStatus.submitted: N_("Submitted"),
    RectificationStatus.verified: N_("Verified"),
    RectificationStatus.rejected: N_("Rejected"),
    RectificationStatus.closed: N_("Closed"),
}
ACTION_LABELS: Final[dict[str, str]] = {
    "open": N_("Opened"),
    "start": N_("Start work"),
    "submit": N_("Submit for verification"),
    "verify": N_("Verify"),
    "reject": N_("Reject"),
    "resume": N_("Resume work"),
    "close": N_("Close out"),
}
#: Marker colours of the map: no open problem, open problems, overdue problems.
COLOURS: Final[dict[str, str]] = {"ok": "#1a9850", "open": "#fc8d59", "overdue": "#d7301f"}


#: States of a point plan version (msgids).
PLAN_STATUS_LABELS: Final[dict[str, str]] = {
    "draft": N_("draft"),
    "approved": N_("approved"),
    "superseded": N_("superseded"),
}


def _local(value: datetime | None) -> str:
    return local(value, empty="—")


def _labels(request: Request, lang: str) -> dict[str, Any]:
    del request
    _ = gettext_for(lang)
    return {
        "kind": {k: _(v) for k, v in KIND_LABELS.items()},
        "risk": {k: _(v) for k, v in RISK_LABELS.items()},
        "point_status": {k: _(v) for k, v in POINT_STATUS_LABELS.items()},
        "rect_status": {k: _(v) for k, v in RECT_STATUS_LABELS.items()},
        "action": {k: _(v) for k, v in ACTION_LABELS.items()},
        "plan_status": {k: _(v) for k, v in PLAN_STATUS_LABELS.items()},
    }


def _hillshade(settings: Any) -> dict[str, Any] | None:
    try:
        found = find_hillshade(settings.data_dir)
    except BasemapError:
        return None
    if found is None:
        return None
    return {"url": "/web/basemap/hillshade.png", "bounds": found.bounds.leaflet()}


def _colour(unclosed: int, overdue: int) -> str:
    if overdue:
        return COLOURS["overdue"]
    return COLOURS["open"] if unclosed else COLOURS["ok"]


def _map_data(
    points: list[HazardPoint], counts: dict[int, tuple[int, int]], settings: Any, lang: str
) -> dict[str, Any]:
    _ = gettext_for(lang)
    features = []
    for p in points:
        unclosed, overdue = counts.get(p.id, (0, 0))
        features.append(
            {
                "lon": p.lon,
                "lat": p.lat,
                "code": p.code,
                "name": p.name,
                "url": f"/hazards/points/{p.id}",
                "colour": _colour(unclosed, overdue),
                "open": unclosed,
                "overdue": overdue,
            }
        )
    return {
        "points": features,
        "hillshade": _hillshade(settings),
        "labels": {
            "open": _("open problems"),
            "overdue": _("overdue"),
            "terrain": _("Synthetic terrain (demo)"),
        },
        "legend": [
            {"colour": COLOURS["ok"], "label": _("No open problem")},
            {"colour": COLOURS["open"], "label": _("Open problems")},
            {"colour": COLOURS["overdue"], "label": _("Overdue problems")},
        ],
    }


def _not_found(exc: NotFoundError) -> HTTPException:
    return HTTPException(404, detail=exc.detail)


@router.get("/hazards")
def ledger_page(
    request: Request,
    user: WebUser,
    db: SessionDep,
    settings: SettingsDep,
    unit_id: Annotated[str | None, Query()] = None,
    kind: Annotated[str | None, Query()] = None,
    status: Annotated[str | None, Query()] = None,
    q: Annotated[str | None, Query(max_length=100)] = None,
) -> Response:
    """The ledger: filters (unit, kind, status, text), counts, export links and the map."""
    lang = negotiate_language(request, settings.language)
    flt = _filter(unit_id, kind, status, q)
    points, total = service.list_points(session=db, actor=user, flt=flt, limit=1000)
    counts = service.rectification_counts(session=db, point_ids=[p.id for p in points])
    units, _total = org_service.list_units(session=db, actor=user, limit=500)
    unit_names = {u.id: u.name_zh for u in units}
    overdue_rects, _n = service.list_rectifications(session=db, actor=user, overdue=True, limit=50)
    overdue_insp = service.overdue_inspections(session=db, actor=user)[:50]
    stats = service.ledger_stats(session=db, actor=user)
    query = {
        k: v for k, v in {"unit_id": unit_id, "kind": kind, "status": status, "q": q}.items() if v
    }
    return render_page(
        request,
        "hazards/ledger.html",
        settings=settings,
        user=user,
        active="hazards",
        context={
            "points": points,
            "total": total,
            "counts": counts,
            "units": units,
            "unit_names": unit_names,
            "filters": {
                "unit_id": unit_id or "",
                "kind": kind or "",
                "status": status or "",
                "q": q or "",
            },
            "export_query": "&".join(f"{k}={v}" for k, v in query.items()),
            "overdue_rects": overdue_rects,
            "overdue_insp": overdue_insp,
            "stats": stats,
            "labels": _labels(request, lang),
            "kinds": list(HazardKind),
            "point_statuses": list(PointStatus),
            "local": _local,
            "map_data": _map_data(points, counts, settings, lang),
            "can_manage": service.can(user, service.HazardAction.manage_points),
        },
    )


def _filter(
    unit_id: str | None, kind: str | None, status: str | None, q: str | None
) -> service.PointFilter:
    # Empty form fields mean "any"; a bad value is a 404-free "no filter" rather than a crash.
    try:
        return service.PointFilter(
            unit_id=int(unit_id) if unit_id else None,
            kind=HazardKind(kind) if kind else None,
            status=PointStatus(status) if status else None,
            q=q or None,
        )
    except ValueError:
        raise HTTPException(400, detail="bad filter value") from None


@router.get("/hazards/export")
def export_ledger(
    user: WebUser,
    db: SessionDep,
    format: str = "xlsx",
    unit_id: str | None = None,
    kind: str | None = None,
    status: str | None = None,
    q: str | None = None,
) -> Response:
    """Download the filtered ledger as Excel or GeoJSON."""
    flt = _filter(unit_id, kind, status, q)
    if format == "geojson":
        body = hazard_io.export_geojson(session=db, actor=user, flt=flt)
        return geojson_download(body, "hazard-points.geojson")
    return download(
        hazard_io.export_xlsx(session=db, actor=user, flt=flt), XLSX, "hazard-points.xlsx"
    )


@router.get("/hazards/points.geojson")
async def points_geojson(request: Request, user: WebPrincipal) -> Response:
    """The points of the user's jurisdiction for map layers (cookie auth): an RFC 7946
    FeatureCollection carrying only what the map shows (``code``, ``name``, the ``open`` and
    ``overdue`` rectification counts, their ``colour`` and the point's ``url``; the detail is on
    the point's page), lon/lat to 1e-6°. Served from the response cache
    (per jurisdiction, rebuilt when points or rectifications change; ``ETag``, gzip), since every
    open map polls it; async, so a cache hit touches neither the database nor the thread pool."""

    def build(session: Any, actor: Any) -> dict[str, Any]:
        features = [
            {
                "type": "Feature",
                "id": p.id,
                "geometry": {"type": "Point", "coordinates": [p.lon, p.lat]},
                "properties": {
                    "code": p.code,
                    "name": p.name,
                    "open": p.unclosed,
                    "overdue": p.overdue,
                    "colour": _colour(p.unclosed, p.overdue),
                    "url": f"/hazards/points/{p.id}",
                },
            }
            for p in service.map_points(session=session, actor=actor)
        ]
        return {"type": "FeatureCollection", "features": features}

    return await cached_json(
        request, user, build, version=service.map_points_version, media_type=GEOJSON
    )


@router.get("/hazards/points/{point_id}")
def point_page(
    request: Request, point_id: int, user: WebUser, db: SessionDep, settings: SettingsDep
) -> Response:
    """One point: map, thresholds, plan and its versions, inspections, rectifications, photos."""
    lang = negotiate_language(request, settings.language)
    try:
        point = service.get_point(session=db, point_id=point_id, actor=user)
    except NotFoundError as exc:
        raise _not_found(exc) from None
    counts = service.rectification_counts(session=db, point_ids=[point.id])
    plans = service.list_plans(session=db, point_id=point.id, actor=user)
    current = next((p for p in plans if p.status.value == "approved"), None)
    inspections, _n = service.list_inspections(session=db, actor=user, point_id=point.id, limit=20)
    rects, _m = service.list_rectifications(session=db, actor=user, point_id=point.id, limit=100)
    attachments = service.list_attachments(session=db, point_id=point.id, actor=user)
    people, _p = org_service.list_people(session=db, actor=user, limit=500)
    names = {p.id: p.name for p in people}
    return render_page(
        request,
        "hazards/point.html",
        settings=settings,
        user=user,
        active="hazards",
        context={
            "point": point,
            "thresholds": service.thresholds_of(point),
            "plan": current,
            "plans": plans,
            "inspections": inspections,
            "rects": rects,
            "attachments": attachments,
            "people": people,
            "names": names,
            "labels": _labels(request, lang),
            "local": _local,
            "is_overdue": service.is_overdue,
            "map_data": _map_data([point], counts, settings, lang),
            "can_open": service.can(user, service.HazardAction.open_rectifications),
            "default_deadline": (
                datetime.now(local_zone()) + timedelta(days=settings.rectification_default_days)
            )
            .date()
            .isoformat(),
            "error": None,
        },
    )


@router.get("/hazards/attachments/{attachment_id}")
def attachment_file(
    attachment_id: int, user: WebUser, db: SessionDep, settings: SettingsDep
) -> FileResponse:
    """The file of a photo or document (same jurisdiction rules as the API)."""
    try:
        attachment = service.get_attachment(session=db, attachment_id=attachment_id, actor=user)
    except NotFoundError as exc:
        raise _not_found(exc) from None
    path = files.path_for(settings.data_dir, attachment.sha256)
    if not path.is_file():
        raise HTTPException(404, detail="file missing from the store")
    return FileResponse(path, media_type=attachment.content_type)


@router.post("/hazards/points/{point_id}/rectifications", dependencies=[CsrfProtected])
def open_rectification(
    request: Request,
    point_id: int,
    user: WebUser,
    db: SessionDep,
    settings: SettingsDep,
    finding: Annotated[str, Form(max_length=5000)] = "",
    measure: Annotated[str, Form(max_length=5000)] = "",
    deadline: Annotated[str, Form(max_length=20)] = "",
    responsible_person_id: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    """Open a rectification from the point page (deadline: end of that day, local time)."""
    _ = gettext_for(negotiate_language(request, settings.language))
    try:
        # The point is in the path: another unit's point is "not found", as on every page.
        service.get_point(session=db, point_id=point_id, actor=user)
    except NotFoundError as exc:
        raise _not_found(exc) from None
    try:
        due = datetime.combine(
            datetime.strptime(deadline, "%Y-%m-%d").date(), time(23, 59), tzinfo=local_zone()
        ).astimezone(UTC)
        body = RectificationCreate(
            point_id=point_id,
            finding=finding,
            measure=measure,
            deadline=due,
            responsible_person_id=int(responsible_person_id),
        )
        rect = service.create_rectification(session=db, rect_in=body, actor=user)
    except (ValueError, ValidationError, FangxunError) as exc:
        if isinstance(exc, NotFoundError):
            raise _not_found(exc) from None
        db.rollback()
        message = exc.detail if isinstance(exc, FangxunError) else _("Fill in every field.")
        # A role that may not open rectifications is told so (403), not asked to fill in fields.
        return _error_page(request, settings, user, message, status_of(exc))
    return RedirectResponse(f"/hazards/rectifications/{rect.id}", status_code=303)


def _error_page(request: Request, settings: Any, user: Any, message: str, status: int) -> Response:
    _ = gettext_for(negotiate_language(request, settings.language))
    return render_page(
        request,
        "error.html",
        settings=settings,
        user=user,
        status_code=status,
        active="hazards",
        context={"title": _("The change was not made"), "message": message, "reason": None},
    )


def _rect_page(
    request: Request,
    rect_id: int,
    user: Any,
    db: Any,
    settings: Any,
    *,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    lang = negotiate_language(request, settings.language)
    try:
        rect = service.get_rectification(session=db, rect_id=rect_id, actor=user)
    except NotFoundError as exc:
        raise _not_found(exc) from None
    people, _p = org_service.list_people(session=db, actor=user, limit=500)
    return render_page(
        request,
        "hazards/rectification.html",
        settings=settings,
        user=user,
        active="hazards",
        status_code=status_code,
        context={
            "rect": rect,
            "point": rect.point,
            "overdue": service.is_overdue(rect),
            "actions": service.allowed_actions(rect, user),
            "steps": [s for s in RectificationStatus if s is not RectificationStatus.rejected],
            "names": {p.id: p.name for p in people},
            "labels": _labels(request, lang),
            "local": _local,
            "error": error,
        },
    )


@router.get("/hazards/rectifications/{rect_id}")
def rectification_page(
    request: Request, rect_id: int, user: WebUser, db: SessionDep, settings: SettingsDep
) -> Response:
    """The workflow page of one rectification: state, history, and the moves you may make."""
    return _rect_page(request, rect_id, user, db, settings)


@router.post("/hazards/rectifications/{rect_id}/transition", dependencies=[CsrfProtected])
def transition(
    request: Request,
    rect_id: int,
    user: WebUser,
    db: SessionDep,
    settings: SettingsDep,
    action: Annotated[str, Form(max_length=16)] = "",
    comment: Annotated[str, Form(max_length=5000)] = "",
    version: Annotated[str, Form(max_length=12)] = "",
) -> Response:
    """Make one move with its comment; a refused move re-renders the page with the reason. The
    form's hidden ``version`` is the one the person saw: changed since → 409 saying what changed
    (the page shows the current state)."""
    _ = gettext_for(negotiate_language(request, settings.language))
    try:
        service.transition_rectification(
            session=db,
            rect_id=rect_id,
            action=action,
            comment=comment,
            actor=user,
            expected_version=int(version) if version.strip().isdigit() else None,
        )
    except NotFoundError as exc:
        raise _not_found(exc) from None
    except (PermissionDeniedError, ConflictError, ValidationFailed) as exc:
        db.rollback()
        status = 403 if isinstance(exc, PermissionDeniedError) else 409
        if isinstance(exc, ValidationFailed):
            status = 422
        message = (
            _("Write a comment: every step is recorded with one.")
            if status == 422
            else (exc.detail)
        )
        return _rect_page(request, rect_id, user, db, settings, error=message, status_code=status)
    return RedirectResponse(f"/hazards/rectifications/{rect_id}", status_code=303)


__all__ = ["router"]
