"""HTTP routes of incidents, and the public report form's endpoint: parse, call, render."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response, UploadFile
from fastapi.responses import FileResponse

from fangxun import versioning
from fangxun.api.deps import CurrentUser, SessionDep, SettingsDep
from fangxun.api.problems import error_responses
from fangxun.errors import NotFoundError
from fangxun.incidents import service
from fangxun.incidents.models import IncidentStatus
from fangxun.incidents.schemas import (
    EventRead,
    IncidentCreate,
    IncidentRead,
    NoteIn,
    PhotoRead,
    PublicReceipt,
    PublicReport,
    ResponseStats,
    TransitionIn,
)
from fangxun.supplies import service as supplies
from fangxun.supplies.schemas import MovementRead

router = APIRouter(tags=["incidents"])

_ERRORS = error_responses(401, 403, 404, 409, s409="Not an allowed next state")


@router.post("/incidents", response_model=IncidentRead, status_code=201, responses=_ERRORS)
def report(body: IncidentCreate, user: CurrentUser, session: SessionDep) -> Any:
    """Report an incident (险情上报)."""
    return service.report(session=session, incident_in=body, actor=user)


@router.get("/incidents", response_model=list[IncidentRead], responses=_ERRORS)
def list_incidents(
    user: CurrentUser,
    session: SessionDep,
    status: IncidentStatus | None = None,
    open_only: bool = False,
    since: Annotated[datetime | None, Query(description="ISO 8601 with offset")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 200,
) -> Any:
    """Incidents in your jurisdiction, newest first."""
    return service.list_incidents(
        session=session, actor=user, status=status, open_only=open_only, since=since, limit=limit
    )


@router.get("/incidents/stats", response_model=ResponseStats, responses=_ERRORS)
def stats(
    user: CurrentUser,
    session: SessionDep,
    since: Annotated[datetime | None, Query(description="ISO 8601 with offset")] = None,
    until: Annotated[datetime | None, Query(description="ISO 8601 with offset")] = None,
) -> Any:
    """Response-time figures (s): report → dispatch, report → on site."""
    return ResponseStats.model_validate(
        service.response_stats(session=session, actor=user, since=since, until=until)
    )


@router.get("/incidents/geojson", responses=_ERRORS)
def incidents_geojson(user: CurrentUser, session: SessionDep, open_only: bool = True) -> Any:
    """Incidents on the map: a GeoJSON FeatureCollection (lon/lat)."""
    return service.geojson(service.list_incidents(session=session, actor=user, open_only=open_only))


@router.get("/incidents/{incident_id}", response_model=IncidentRead, responses=_ERRORS)
def get_incident(
    incident_id: int, user: CurrentUser, session: SessionDep, response: Response
) -> Any:
    """One incident with its timeline; its ``ETag`` is its version."""
    incident = service.get_incident(session=session, incident_id=incident_id, actor=user)
    response.headers["ETag"] = versioning.etag(incident.version)
    return incident


@router.post(
    "/incidents/{incident_id}/transitions",
    response_model=IncidentRead,
    responses=_ERRORS
    | {412: {"description": "If-Match names an old version: changes lists what changed since"}},
)
def transition(
    incident_id: int,
    body: TransitionIn,
    user: CurrentUser,
    session: SessionDep,
    response: Response,
    if_match: Annotated[str | None, Header(alias="If-Match")] = None,
) -> Any:
    """Move an incident to its next state (dispatch names the team); with ``If-Match``, an
    incident changed since is refused with 412 listing what changed."""
    incident = service.transition(
        session=session,
        incident_id=incident_id,
        transition_in=body,
        actor=user,
        expected_version=versioning.parse_if_match(if_match),
    )
    response.headers["ETag"] = versioning.etag(incident.version)
    return incident


@router.post(
    "/incidents/{incident_id}/notes", response_model=EventRead, status_code=201, responses=_ERRORS
)
def add_note(incident_id: int, body: NoteIn, user: CurrentUser, session: SessionDep) -> Any:
    """Add a note to the timeline."""
    return service.add_note(session=session, incident_id=incident_id, note=body.note, actor=user)


@router.post(
    "/incidents/{incident_id}/photos", response_model=PhotoRead, status_code=201, responses=_ERRORS
)
def add_photo(
    incident_id: int,
    file: UploadFile,
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
) -> Any:
    """Upload a photo (JPEG, PNG or WebP, at most 10 MiB). A plain ``def``: decoding the image
    and writing the file run in a worker thread, not on the event loop (issue 20, item 5)."""
    file.file.seek(0)
    data = file.file.read(service.MAX_PHOTO_BYTES + 1)
    return service.add_photo(
        session=session,
        incident_id=incident_id,
        filename=file.filename or "photo",
        content_type=file.content_type or "application/octet-stream",
        data=data,
        data_dir=settings.data_dir,
        actor=user,
    )


@router.get("/incidents/{incident_id}/photos/{photo_id}", responses=_ERRORS)
def get_photo(
    incident_id: int, photo_id: int, user: CurrentUser, session: SessionDep, settings: SettingsDep
) -> FileResponse:
    """A photo's file."""
    incident = service.get_incident(session=session, incident_id=incident_id, actor=user)
    photo = next((p for p in incident.photos if p.id == photo_id), None)
    if photo is None:
        raise NotFoundError(f"photo {photo_id} not found")
    return FileResponse(
        service.photo_path(photo=photo, data_dir=settings.data_dir), media_type=photo.content_type
    )


@router.get(
    "/incidents/{incident_id}/supplies", response_model=list[MovementRead], responses=_ERRORS
)
def supplies_used(incident_id: int, user: CurrentUser, session: SessionDep) -> Any:
    """Supplies issued to and returned from the incident."""
    service.get_incident(session=session, incident_id=incident_id, actor=user)
    return supplies.movements(session=session, actor=user, incident_id=incident_id)


@router.post(
    "/public/incidents",
    response_model=PublicReceipt,
    status_code=201,
    responses={429: {"description": "Too many reports from this address; see Retry-After"}},
)
def report_public(
    body: PublicReport, request: Request, session: SessionDep, settings: SettingsDep
) -> PublicReceipt:
    """Report danger without logging in (rate limited per address)."""
    incident = service.report_public(
        session=session,
        report_in=body,
        client_ip=request.client.host if request.client else None,
        limit=service.RateLimit(settings.public_report_max, settings.public_report_window_s),
    )
    session.flush()
    return PublicReceipt(reference=incident.id, status=incident.status)
