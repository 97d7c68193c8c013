"""HTTP routes of the hazard ledger: parse, call :mod:`fangxun.hazards.service`, render.

CRUD under ``/hazard-points``, ``/point-plans``, ``/inspection-plans``, ``/inspections``,
``/rectifications``; statistics at ``/hazard-stats``; import/export; and the OGC API – Features
style collection ``/collections/hazard-points/items?bbox=&limit=`` returning GeoJSON.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import (
    APIRouter,
    BackgroundTasks,
    Depends,
    File,
    Header,
    Query,
    Request,
    Response,
    UploadFile,
)
from fastapi.responses import FileResponse, JSONResponse

from fangxun import versioning
from fangxun.api.deps import CurrentUser, EngineDep, SessionDep, SettingsDep
from fangxun.api.downloads import GEOJSON, XLSX, download, geojson_download
from fangxun.api.pagination import MAX_LIMIT, Page, PageDep
from fangxun.api.problems import error_responses
from fangxun.errors import NotFoundError, ValidationFailed
from fangxun.hazards import attachments as files
from fangxun.hazards import io as hazard_io
from fangxun.hazards import jobs, service
from fangxun.hazards.models import HazardKind, PointStatus, RectificationStatus
from fangxun.hazards.schemas import (
    AttachmentRead,
    HazardPointCreate,
    HazardPointRead,
    HazardPointUpdate,
    ImportJobRead,
    ImportReport,
    InspectionPlanCreate,
    InspectionPlanRead,
    InspectionPlanUpdate,
    InspectionRecordCreate,
    InspectionRecordRead,
    LedgerStats,
    OverdueInspection,
    PointPlanCreate,
    PointPlanRead,
    RectificationCreate,
    RectificationRead,
    RectificationTransition,
)

router = APIRouter()

_ERRORS = error_responses(
    401, 403, 404, s401="Missing, expired or revoked token", s403="Your role may not do this"
)
_STALE: dict[int | str, dict[str, Any]] = {
    412: {"description": "If-Match names an old version: changes lists what changed since"}
}
#: ``If-Match: "<version>"``: the ETag of the record as you read it (lost-update guard).
IfMatch = Annotated[str | None, Header(alias="If-Match")]
#: Largest import file, bytes.
MAX_IMPORT_BYTES = 20 * 1024 * 1024
COLLECTION_ID = "hazard-points"


def _aware(value: datetime | None, name: str) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise ValidationFailed(
            "give a time zone offset, e.g. 2026-07-20T16:00:00+08:00", loc=("query", name)
        )
    return value


def parse_bbox(bbox: str | None) -> tuple[float, float, float, float] | None:
    """``minLon,minLat,maxLon,maxLat`` (degrees) → a tuple, or :class:`ValidationFailed`."""
    if bbox is None or not bbox.strip():
        return None
    try:
        parts = [float(p) for p in bbox.split(",")]
    except ValueError:
        raise ValidationFailed(
            "bbox must be four numbers: minLon,minLat,maxLon,maxLat", loc=("query", "bbox")
        ) from None
    if len(parts) != 4:
        raise ValidationFailed(
            "bbox must be four numbers: minLon,minLat,maxLon,maxLat", loc=("query", "bbox")
        )
    west, south, east, north = parts
    if not (-180 <= west <= 180 and -180 <= east <= 180 and -90 <= south <= north <= 90):
        raise ValidationFailed("bbox is outside WGS 84 or south > north", loc=("query", "bbox"))
    if west > east:
        raise ValidationFailed(
            "bbox crossing the antimeridian is not supported", loc=("query", "bbox")
        )
    return west, south, east, north


def point_filter(
    unit_id: Annotated[int | None, Query(ge=1, description="Unit (with its sub-units)")] = None,
    kind: HazardKind | None = None,
    status: PointStatus | None = None,
    q: Annotated[str | None, Query(max_length=100, description="Part of name or code")] = None,
    bbox: Annotated[str | None, Query(description="minLon,minLat,maxLon,maxLat")] = None,
    has_open: Annotated[bool | None, Query(description="With unclosed rectifications")] = None,
) -> service.PointFilter:
    """The ledger filters as one dependency (shared by the list, export and items routes)."""
    return service.PointFilter(
        unit_id=unit_id, kind=kind, status=status, q=q, bbox=parse_bbox(bbox), has_open=has_open
    )


PointFilterDep = Annotated[service.PointFilter, Depends(point_filter)]


# --- hazard points -----------------------------------------------------------------------------


@router.get(
    "/hazard-points", response_model=Page[HazardPointRead], tags=["hazards"], responses=_ERRORS
)
def list_points(
    user: CurrentUser, session: SessionDep, page: PageDep, flt: PointFilterDep
) -> dict[str, object]:
    """Hazard points in your jurisdiction, by code."""
    items, total = service.list_points(
        session=session, actor=user, flt=flt, limit=page.limit, offset=page.offset
    )
    return page.page(service.points_read(session=session, points=items), total)


@router.get("/hazard-points/export", tags=["hazards"], responses=_ERRORS)
def export_points(
    user: CurrentUser,
    session: SessionDep,
    flt: PointFilterDep,
    format: Literal["geojson", "xlsx"] = "xlsx",
) -> Response:
    """The ledger as Excel (Chinese headers) or GeoJSON; the file imports back unchanged."""
    if format == "geojson":
        body = hazard_io.export_geojson(session=session, actor=user, flt=flt)
        return geojson_download(body, "hazard-points.geojson")
    return download(
        hazard_io.export_xlsx(session=session, actor=user, flt=flt), XLSX, "hazard-points.xlsx"
    )


@router.post(
    "/hazard-points/import",
    response_model=ImportReport,
    tags=["hazards"],
    responses=_ERRORS
    | {422: {"description": "Nothing imported; errors lists ['row', n, column] and the reason"}},
)
def import_points(
    user: CurrentUser,
    settings: SettingsDep,
    db: EngineDep,
    file: Annotated[UploadFile, File(description=".xlsx or .geojson")],
) -> ImportReport:
    """Import points from Excel or GeoJSON: all rows or none, answered when done. The import
    runs as a job in a worker process (this thread only waits); for large files start a job
    (``POST /hazard-points/import-jobs``) and poll its progress instead."""
    return jobs.import_and_wait(
        db,
        actor=user,
        filename=file.filename or "upload",
        content=_read_upload(file),
        settings=settings,
    )


def _read_upload(file: UploadFile) -> bytes:
    # The spooled file, read synchronously in the worker thread.
    file.file.seek(0)
    content = file.file.read(MAX_IMPORT_BYTES + 1)
    if len(content) > MAX_IMPORT_BYTES:
        raise ValidationFailed(
            f"the file is larger than {MAX_IMPORT_BYTES} bytes", loc=("body", "file")
        )
    return content


@router.post(
    "/hazard-points/import-jobs",
    response_model=ImportJobRead,
    status_code=202,
    tags=["hazards"],
    responses=_ERRORS,
)
def start_import_job(
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    db: EngineDep,
    background: BackgroundTasks,
    response: Response,
    file: Annotated[UploadFile, File(description=".xlsx or .geojson")],
) -> ImportJobRead:
    """Start importing points from Excel or GeoJSON in the background (all rows or none); poll
    ``GET /hazard-points/import-jobs/{id}`` (the ``Location``) for progress and the outcome."""
    content = _read_upload(file)
    job_id = jobs.create_job(
        db, actor=user, filename=file.filename or "upload", size_bytes=len(content)
    )
    background.add_task(jobs.run_import_job, db, job_id, content, settings)
    response.headers["Location"] = f"/api/v1/hazard-points/import-jobs/{job_id}"
    # create_job committed the row in a scope of its own: the request's session reads it.
    return ImportJobRead.model_validate(
        jobs.get_import_job(session=session, job_id=job_id, actor=user)
    )


@router.get(
    "/hazard-points/import-jobs/{job_id}",
    response_model=ImportJobRead,
    tags=["hazards"],
    responses=_ERRORS,
)
def get_import_job(job_id: int, user: CurrentUser, session: SessionDep) -> ImportJobRead:
    """One of your import jobs: status, progress (0–1), report or the first problems."""
    return ImportJobRead.model_validate(
        jobs.get_import_job(session=session, job_id=job_id, actor=user)
    )


@router.post(
    "/hazard-points",
    response_model=HazardPointRead,
    status_code=201,
    tags=["hazards"],
    responses=_ERRORS,
)
def create_point(
    body: HazardPointCreate, user: CurrentUser, session: SessionDep, settings: SettingsDep
) -> HazardPointRead:
    """Add a hazard point; thresholds default to the configured values of its kind."""
    point = service.create_point(
        session=session, point_in=body, actor=user, thresholds_table=settings.hazard_thresholds_cm
    )
    return service.point_read(point)


@router.get(
    "/hazard-points/{point_id}", response_model=HazardPointRead, tags=["hazards"], responses=_ERRORS
)
def get_point(
    point_id: int, user: CurrentUser, session: SessionDep, response: Response
) -> HazardPointRead:
    """One hazard point; its ``ETag`` is its version (send it back as ``If-Match``)."""
    point = service.get_point(session=session, point_id=point_id, actor=user)
    response.headers["ETag"] = versioning.etag(point.version)
    return service.points_read(session=session, points=[point])[0]


@router.patch(
    "/hazard-points/{point_id}",
    response_model=HazardPointRead,
    tags=["hazards"],
    responses=_ERRORS | _STALE,
)
def update_point(
    point_id: int,
    body: HazardPointUpdate,
    user: CurrentUser,
    session: SessionDep,
    response: Response,
    if_match: IfMatch = None,
) -> HazardPointRead:
    """Change a hazard point. With ``If-Match`` (the ETag you read), a point changed since is
    refused with 412 listing what changed."""
    point = service.update_point(
        session=session,
        point_id=point_id,
        point_in=body,
        actor=user,
        expected_version=versioning.parse_if_match(if_match),
    )
    response.headers["ETag"] = versioning.etag(point.version)
    return service.points_read(session=session, points=[point])[0]


@router.delete("/hazard-points/{point_id}", status_code=204, tags=["hazards"], responses=_ERRORS)
def delete_point(point_id: int, user: CurrentUser, session: SessionDep) -> Response:
    """Delete a point without history (district); otherwise retire it."""
    service.delete_point(session=session, point_id=point_id, actor=user)
    return Response(status_code=204)


# --- attachments -------------------------------------------------------------------------------


@router.get(
    "/hazard-points/{point_id}/attachments",
    response_model=list[AttachmentRead],
    tags=["hazards"],
    responses=_ERRORS,
)
def list_attachments(point_id: int, user: CurrentUser, session: SessionDep) -> object:
    """Photos and documents of a point."""
    return service.list_attachments(session=session, point_id=point_id, actor=user)


@router.post(
    "/hazard-points/{point_id}/attachments",
    response_model=AttachmentRead,
    status_code=201,
    tags=["hazards"],
    responses=_ERRORS,
)
def upload_attachment(
    point_id: int,
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    file: Annotated[UploadFile, File(description="JPEG, PNG, WebP or PDF")],
    inspection_id: Annotated[int | None, Query(ge=1)] = None,
    rectification_id: Annotated[int | None, Query(ge=1)] = None,
) -> object:
    """Upload a photo or document (type read from the content; size limited). A plain ``def``:
    checking the image and writing the file run in a worker thread, not on the event loop."""
    file.file.seek(0)
    content = file.file.read(files.MAX_ATTACHMENT_BYTES + 1)
    return service.add_attachment(
        session=session,
        data_dir=settings.data_dir,
        point_id=point_id,
        filename=file.filename or "file",
        content=content,
        actor=user,
        inspection_id=inspection_id,
        rectification_id=rectification_id,
    )


@router.get("/hazard-attachments/{attachment_id}", tags=["hazards"], responses=_ERRORS)
def download_attachment(
    attachment_id: int, user: CurrentUser, session: SessionDep, settings: SettingsDep
) -> FileResponse:
    """The file of an attachment."""
    attachment = service.get_attachment(session=session, attachment_id=attachment_id, actor=user)
    path = files.path_for(settings.data_dir, attachment.sha256)
    if not path.is_file():
        raise NotFoundError(f"the file of attachment {attachment_id} is missing from the store")
    return FileResponse(path, media_type=attachment.content_type, filename=attachment.filename)


# --- point plans -------------------------------------------------------------------------------


@router.get(
    "/hazard-points/{point_id}/plans",
    response_model=list[PointPlanRead],
    tags=["hazards"],
    responses=_ERRORS,
)
def list_plans(point_id: int, user: CurrentUser, session: SessionDep) -> object:
    """Every version of a point's plan (一点一策), newest first."""
    return service.list_plans(session=session, point_id=point_id, actor=user)


@router.post(
    "/hazard-points/{point_id}/plans",
    response_model=PointPlanRead,
    status_code=201,
    tags=["hazards"],
    responses=_ERRORS,
)
def create_plan(
    point_id: int, body: PointPlanCreate, user: CurrentUser, session: SessionDep
) -> object:
    """Draft a new version of the point's plan."""
    return service.create_plan(session=session, point_id=point_id, plan_in=body, actor=user)


@router.get(
    "/point-plans/{plan_id}", response_model=PointPlanRead, tags=["hazards"], responses=_ERRORS
)
def get_plan(plan_id: int, user: CurrentUser, session: SessionDep) -> object:
    """One version of a point plan."""
    return service.get_plan(session=session, plan_id=plan_id, actor=user)


@router.post(
    "/point-plans/{plan_id}/approve",
    response_model=PointPlanRead,
    tags=["hazards"],
    responses=_ERRORS | {409: {"description": "Not a draft"}},
)
def approve_plan(plan_id: int, user: CurrentUser, session: SessionDep) -> object:
    """Approve a draft (district); the previous approved version is superseded."""
    return service.approve_plan(session=session, plan_id=plan_id, actor=user)


# --- inspection plans and records --------------------------------------------------------------


@router.get(
    "/inspection-plans",
    response_model=Page[InspectionPlanRead],
    tags=["hazards"],
    responses=_ERRORS,
)
def list_inspection_plans(
    user: CurrentUser, session: SessionDep, page: PageDep
) -> dict[str, object]:
    """Inspection plans of your jurisdiction."""
    items, total = service.list_inspection_plans(
        session=session, actor=user, limit=page.limit, offset=page.offset
    )
    return page.page([service.inspection_plan_read(p) for p in items], total)


@router.post(
    "/inspection-plans",
    response_model=InspectionPlanRead,
    status_code=201,
    tags=["hazards"],
    responses=_ERRORS,
)
def create_inspection_plan(
    body: InspectionPlanCreate, user: CurrentUser, session: SessionDep
) -> InspectionPlanRead:
    """Create an inspection plan: which points, how often (s), by whom."""
    plan = service.create_inspection_plan(session=session, plan_in=body, actor=user)
    return service.inspection_plan_read(plan)


@router.get(
    "/inspection-plans/{plan_id}",
    response_model=InspectionPlanRead,
    tags=["hazards"],
    responses=_ERRORS,
)
def get_inspection_plan(plan_id: int, user: CurrentUser, session: SessionDep) -> InspectionPlanRead:
    """One inspection plan."""
    plan = service.get_inspection_plan(session=session, plan_id=plan_id, actor=user)
    return service.inspection_plan_read(plan)


@router.patch(
    "/inspection-plans/{plan_id}",
    response_model=InspectionPlanRead,
    tags=["hazards"],
    responses=_ERRORS,
)
def update_inspection_plan(
    plan_id: int, body: InspectionPlanUpdate, user: CurrentUser, session: SessionDep
) -> InspectionPlanRead:
    """Change an inspection plan."""
    plan = service.update_inspection_plan(
        session=session, plan_id=plan_id, plan_in=body, actor=user
    )
    return service.inspection_plan_read(plan)


@router.delete("/inspection-plans/{plan_id}", status_code=204, tags=["hazards"], responses=_ERRORS)
def delete_inspection_plan(plan_id: int, user: CurrentUser, session: SessionDep) -> Response:
    """Delete an inspection plan (its records stay)."""
    service.delete_inspection_plan(session=session, plan_id=plan_id, actor=user)
    return Response(status_code=204)


@router.get(
    "/inspections/overdue",
    response_model=list[OverdueInspection],
    tags=["hazards"],
    responses=_ERRORS,
)
def overdue_inspections(user: CurrentUser, session: SessionDep) -> object:
    """Points of active plans whose inspection is past due, most overdue first."""
    return service.overdue_inspections(session=session, actor=user)


@router.get(
    "/inspections",
    response_model=Page[InspectionRecordRead],
    tags=["hazards"],
    responses=_ERRORS,
)
def list_inspections(
    user: CurrentUser,
    session: SessionDep,
    page: PageDep,
    point_id: Annotated[int | None, Query(ge=1)] = None,
    since: Annotated[datetime | None, Query(description="ISO 8601 with offset")] = None,
) -> dict[str, object]:
    """Inspection records of your jurisdiction, newest first."""
    items, total = service.list_inspections(
        session=session,
        actor=user,
        point_id=point_id,
        since=_aware(since, "since"),
        limit=page.limit,
        offset=page.offset,
    )
    return page.page(items, total)


@router.post(
    "/inspections",
    response_model=InspectionRecordRead,
    status_code=201,
    tags=["hazards"],
    responses=_ERRORS,
)
def create_inspection(
    body: InspectionRecordCreate, user: CurrentUser, session: SessionDep
) -> object:
    """Record an inspection or patrol."""
    return service.create_inspection(session=session, record_in=body, actor=user)


@router.get(
    "/inspections/{record_id}",
    response_model=InspectionRecordRead,
    tags=["hazards"],
    responses=_ERRORS,
)
def get_inspection(record_id: int, user: CurrentUser, session: SessionDep) -> object:
    """One inspection record."""
    return service.get_inspection(session=session, record_id=record_id, actor=user)


# --- rectifications ----------------------------------------------------------------------------


@router.get(
    "/rectifications",
    response_model=Page[RectificationRead],
    tags=["hazards"],
    responses=_ERRORS,
)
def list_rectifications(
    user: CurrentUser,
    session: SessionDep,
    page: PageDep,
    point_id: Annotated[int | None, Query(ge=1)] = None,
    unit_id: Annotated[int | None, Query(ge=1)] = None,
    status: RectificationStatus | None = None,
    overdue: bool | None = None,
) -> dict[str, object]:
    """Rectifications of your jurisdiction, earliest deadline first; ``overdue=true`` lists the
    overdue ones."""
    items, total = service.list_rectifications(
        session=session,
        actor=user,
        point_id=point_id,
        unit_id=unit_id,
        status=status,
        overdue=overdue,
        limit=page.limit,
        offset=page.offset,
    )
    return page.page([service.rectification_read(r) for r in items], total)


@router.post(
    "/rectifications",
    response_model=RectificationRead,
    status_code=201,
    tags=["hazards"],
    responses=_ERRORS,
)
def create_rectification(
    body: RectificationCreate, user: CurrentUser, session: SessionDep
) -> RectificationRead:
    """Open a rectification for a finding."""
    rect = service.create_rectification(session=session, rect_in=body, actor=user)
    return service.rectification_read(rect)


@router.get(
    "/rectifications/{rect_id}",
    response_model=RectificationRead,
    tags=["hazards"],
    responses=_ERRORS,
)
def get_rectification(
    rect_id: int, user: CurrentUser, session: SessionDep, response: Response
) -> RectificationRead:
    """One rectification with its history; its ``ETag`` is its version."""
    rect = service.get_rectification(session=session, rect_id=rect_id, actor=user)
    response.headers["ETag"] = versioning.etag(rect.version)
    return service.rectification_read(rect)


@router.post(
    "/rectifications/{rect_id}/transitions",
    response_model=RectificationRead,
    tags=["hazards"],
    responses=_ERRORS | _STALE | {409: {"description": "Not allowed from the current state"}},
)
def transition_rectification(
    rect_id: int,
    body: RectificationTransition,
    user: CurrentUser,
    session: SessionDep,
    response: Response,
    if_match: IfMatch = None,
) -> RectificationRead:
    """Move a rectification (start, submit, verify, reject, resume, close) with a comment; with
    ``If-Match``, one changed since is refused with 412."""
    rect = service.transition_rectification(
        session=session,
        rect_id=rect_id,
        action=body.action,
        comment=body.comment,
        actor=user,
        expected_version=versioning.parse_if_match(if_match),
    )
    response.headers["ETag"] = versioning.etag(rect.version)
    return service.rectification_read(rect)


# --- statistics --------------------------------------------------------------------------------


@router.get("/hazard-stats", response_model=LedgerStats, tags=["hazards"], responses=_ERRORS)
def ledger_stats(
    user: CurrentUser,
    session: SessionDep,
    window_s: Annotated[
        int, Query(ge=3600, le=366 * 86400, description="Coverage window, s")
    ] = service.DEFAULT_COVERAGE_WINDOW_S,
) -> LedgerStats:
    """Per unit and kind: points, open and overdue rectifications, inspection coverage."""
    return service.ledger_stats(session=session, actor=user, window_s=window_s)


# --- OGC API – Features ------------------------------------------------------------------------


def _collection(request: Request) -> dict[str, Any]:
    base = str(request.url_for("collection_hazard_points"))
    return {
        "id": COLLECTION_ID,
        "title": "Hazard points 隐患点",
        "description": "Hazard points of the ledger in your jurisdiction (WGS 84 lon/lat).",
        "itemType": "feature",
        "crs": ["http://www.opengis.net/def/crs/OGC/1.3/CRS84"],
        "links": [
            {"href": base, "rel": "self", "type": "application/json"},
            {"href": f"{base}/items", "rel": "items", "type": GEOJSON},
        ],
    }


@router.get("/collections", tags=["features"], responses=_ERRORS)
def collections(request: Request, user: CurrentUser) -> dict[str, Any]:
    """The feature collections served (OGC API – Features)."""
    return {
        "collections": [_collection(request)],
        "links": [{"href": str(request.url), "rel": "self", "type": "application/json"}],
    }


@router.get(
    f"/collections/{COLLECTION_ID}",
    name="collection_hazard_points",
    tags=["features"],
    responses=_ERRORS,
)
def collection_hazard_points(request: Request, user: CurrentUser) -> dict[str, Any]:
    """The hazard-points collection."""
    return _collection(request)


@router.get(f"/collections/{COLLECTION_ID}/items", tags=["features"], responses=_ERRORS)
def hazard_point_items(
    request: Request,
    user: CurrentUser,
    session: SessionDep,
    flt: PointFilterDep,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> JSONResponse:
    """Hazard points as a GeoJSON FeatureCollection, with ``bbox``, ``limit`` and paging links."""
    items, total = service.list_points(
        session=session, actor=user, flt=flt, limit=limit, offset=offset
    )
    counts = service.rectification_counts(session=session, point_ids=[p.id for p in items])
    links = [{"href": str(request.url), "rel": "self", "type": GEOJSON}]
    if offset + len(items) < total:
        links.append(
            {
                "href": str(request.url.include_query_params(offset=offset + limit, limit=limit)),
                "rel": "next",
                "type": GEOJSON,
            }
        )
    body = {
        "type": "FeatureCollection",
        "features": [service.point_feature(p, counts) for p in items],
        "numberMatched": total,
        "numberReturned": len(items),
        "timeStamp": datetime.now().astimezone().isoformat(timespec="seconds"),
        "links": links,
    }
    return JSONResponse(body, media_type=GEOJSON)


@router.get(
    f"/collections/{COLLECTION_ID}/items/{{point_id}}", tags=["features"], responses=_ERRORS
)
def hazard_point_item(point_id: int, user: CurrentUser, session: SessionDep) -> JSONResponse:
    """One hazard point as a GeoJSON Feature."""
    point = service.get_point(session=session, point_id=point_id, actor=user)
    counts = service.rectification_counts(session=session, point_ids=[point.id])
    return JSONResponse(service.point_feature(point, counts), media_type=GEOJSON)


__all__ = ["parse_bbox", "point_filter", "router"]
