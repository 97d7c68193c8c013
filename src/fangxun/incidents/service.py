"""Incident services (险情): report (by users, or by the public at a limited rate), dispatch to a
team, the state machine with its timeline, photos, response-time figures, and a GeoJSON layer.

States move only forward, one step at a time::

    reported → dispatched → on_site → controlled → closed
    reported → closed            (a false or duplicate report; a note is required)

Dispatching sends a team (its readiness becomes ``deployed``); closing stands it down again.
Keyword-only functions, audited, never committing; an incident belongs to its unit's jurisdiction.

>>> sorted(s.value for s in NEXT_STATES[IncidentStatus.reported])
['closed', 'dispatched']
"""

from __future__ import annotations

import io
import math
import re
import statistics
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, selectinload

from fangxun import versioning
from fangxun.audit.service import (
    SystemActor,
    actor_username,
    record_create,
    record_update,
    snapshot,
)
from fangxun.db.types import utcnow
from fangxun.errors import (
    ConflictError,
    ThrottledError,
    ValidationFailed,
)
from fangxun.hazards.attachments import detect_type
from fangxun.incidents.models import (
    Incident,
    IncidentEvent,
    IncidentPhoto,
    IncidentStatus,
    PublicSubmission,
    ReportSource,
    Severity,
)
from fangxun.incidents.schemas import IncidentCreate, PublicReport, TransitionIn
from fangxun.org.jurisdiction import (
    get_in_jurisdiction,
    get_named_in_body,
    scope_query,
    unit_in_body,
)
from fangxun.org.models import Role, Unit, UnitKind, User
from fangxun.org.permissions import Actor, require_role
from fangxun.supplies.models import Readiness, Team

S = IncidentStatus

#: The allowed next states of each state.
NEXT_STATES: dict[IncidentStatus, frozenset[IncidentStatus]] = {
    S.reported: frozenset({S.dispatched, S.closed}),
    S.dispatched: frozenset({S.on_site}),
    S.on_site: frozenset({S.controlled}),
    S.controlled: frozenset({S.closed}),
    S.closed: frozenset(),
}
#: The incident column that records when each state was reached.
STATE_TIME: dict[IncidentStatus, str] = {
    S.dispatched: "dispatched_at",
    S.on_site: "on_site_at",
    S.controlled: "controlled_at",
    S.closed: "closed_at",
}
#: Roles that may report and handle incidents (a ``unit`` user inside its jurisdiction).
HANDLERS = frozenset({Role.admin, Role.district, Role.duty, Role.unit, Role.inspector})
#: Roles that may dispatch teams.
DISPATCHERS = frozenset({Role.admin, Role.district, Role.duty, Role.unit})
#: Who the public form acts as in the timeline and the audit log.
PUBLIC_ACTOR = SystemActor(username="public")
#: Photo types accepted, and the largest photo, bytes.
PHOTO_TYPES = {"image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp"}
MAX_PHOTO_BYTES = 10 * 1024 * 1024


def _aware(value: datetime, loc: tuple[str, ...]) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValidationFailed("give a time zone offset", loc=loc)
    return value.astimezone(UTC)


def _event(
    incident: Incident,
    actor: Actor,
    *,
    at: datetime,
    from_status: IncidentStatus | None,
    to_status: IncidentStatus | None,
    note: str | None,
    data: dict[str, Any] | None = None,
) -> IncidentEvent:
    event = IncidentEvent(
        at=at,
        actor_username=actor_username(actor),
        from_status=from_status.value if from_status else None,
        to_status=to_status.value if to_status else None,
        note=note,
        data=data,
    )
    incident.events.append(event)
    return event


def _check_hazard_point(session: Session, hazard_point_id: int | None) -> None:
    """A named hazard point must exist when the hazard ledger is installed (no FK on purpose)."""
    if hazard_point_id is None:
        return
    try:
        from fangxun.hazards.models import HazardPoint
    except ImportError:  # the ledger is not part of this build: keep the id as given
        return
    if session.get(HazardPoint, hazard_point_id) is None:
        raise ValidationFailed(
            f"hazard point {hazard_point_id} does not exist", loc=("body", "hazard_point_id")
        )


def report(*, session: Session, incident_in: IncidentCreate, actor: Actor) -> Incident:
    """Record an incident reported by a user (or the system); it starts as ``reported``."""
    require_role(actor, HANDLERS, "report incidents")
    unit_in_body(session, actor, incident_in.unit_id, ("body", "unit_id"))
    _check_hazard_point(session, incident_in.hazard_point_id)
    now = utcnow()
    reported_at = (
        _aware(incident_in.reported_at, ("body", "reported_at")) if incident_in.reported_at else now
    )
    if reported_at > now + timedelta(minutes=5):
        raise ValidationFailed("reported_at is in the future", loc=("body", "reported_at"))
    data = incident_in.model_dump(exclude={"reported_at"})
    incident = Incident(
        **data,
        source=ReportSource.user,
        reporter_user_id=actor.id if isinstance(actor, User) else None,
        reported_at=reported_at,
        status=S.reported,
    )
    incident.events = []
    incident.photos = []
    _event(incident, actor, at=reported_at, from_status=None, to_status=S.reported, note=None)
    session.add(incident)
    record_create(session=session, actor=actor, obj=incident)
    return incident


@dataclass(frozen=True)
class RateLimit:
    """At most ``max_reports`` public reports per client address per ``window_s`` seconds."""

    max_reports: int = 5
    window_s: int = 3600


def report_public(
    *,
    session: Session,
    report_in: PublicReport,
    client_ip: str | None,
    limit: RateLimit,
    now: datetime | None = None,
) -> Incident:
    """Record a report from the public form, filed under the district (the command room triages).

    Raises :class:`ThrottledError` when the address sent ``limit.max_reports`` in the window.
    """
    now = now or utcnow()
    ip = client_ip or "unknown"
    since = now - timedelta(seconds=limit.window_s)
    recent = list(
        session.scalars(
            select(PublicSubmission.at)
            .where(PublicSubmission.client_ip == ip, PublicSubmission.at > since)
            .order_by(PublicSubmission.at)
        )
    )
    if len(recent) >= limit.max_reports:
        retry = (recent[0] + timedelta(seconds=limit.window_s) - now).total_seconds()
        raise ThrottledError(
            f"too many reports from this address; try again in {math.ceil(retry / 60)} min "
            "or call the flood-control hotline",
            retry_after_s=math.ceil(retry),
        )
    district = session.scalar(
        select(Unit).where(Unit.kind == UnitKind.district).order_by(Unit.id).limit(1)
    )
    if district is None:
        raise ConflictError("no district unit is set up to receive public reports")
    session.add(PublicSubmission(client_ip=ip, at=now))
    incident = Incident(
        unit_id=district.id,
        kind=report_in.kind,
        severity=Severity.moderate,
        title=report_in.title,
        description=report_in.description,
        location_text=report_in.location_text,
        lon=report_in.lon,
        lat=report_in.lat,
        source=ReportSource.public,
        reporter_name=report_in.reporter_name,
        reporter_phone=report_in.reporter_phone,
        reported_at=now,
        status=S.reported,
    )
    incident.events = []
    incident.photos = []
    _event(incident, PUBLIC_ACTOR, at=now, from_status=None, to_status=S.reported, note=None)
    session.add(incident)
    record_create(session=session, actor=PUBLIC_ACTOR, obj=incident)
    return incident


def get_incident(*, session: Session, incident_id: int, actor: Actor) -> Incident:
    """An incident in the actor's jurisdiction, else :class:`NotFoundError`."""
    return get_in_jurisdiction(
        session=session, user=actor, model=Incident, obj_id=incident_id, label="incident"
    )


def list_incidents(
    *,
    session: Session,
    actor: Actor,
    status: IncidentStatus | None = None,
    open_only: bool = False,
    since: datetime | None = None,
    limit: int = 200,
) -> list[Incident]:
    """Incidents in the actor's jurisdiction, newest first."""
    stmt = scope_query(select(Incident), Incident.unit_id, session=session, user=actor)
    if status is not None:
        stmt = stmt.where(Incident.status == status)
    if open_only:
        stmt = stmt.where(Incident.status != S.closed)
    if since is not None:
        stmt = stmt.where(Incident.reported_at >= _aware(since, ("query", "since")))
    stmt = stmt.options(selectinload(Incident.events), selectinload(Incident.photos))
    return list(
        session.scalars(stmt.order_by(Incident.reported_at.desc(), Incident.id.desc()).limit(limit))
    )


def transition(
    *,
    session: Session,
    incident_id: int,
    transition_in: TransitionIn,
    actor: Actor,
    expected_version: int | None = None,
) -> Incident:
    """Move an incident to its next state, recording the step on the timeline.

    Refused (:class:`ConflictError`) unless ``to_status`` is an allowed next state; dispatching
    needs a team of the actor's jurisdiction that is on standby; closing a report straight from
    ``reported`` needs a note saying why. ``at`` may not be before the previous step. A stale
    ``expected_version`` (the one the person saw) → :class:`~fangxun.errors.StaleVersion`.
    """
    incident = get_incident(session=session, incident_id=incident_id, actor=actor)
    versioning.check_version(session, incident, expected_version, f"incident {incident_id}")
    target = transition_in.to_status
    require_role(
        actor,
        DISPATCHERS if target is S.dispatched else HANDLERS,
        f"move incidents to {target.value}",
    )
    current = incident.status
    if target not in NEXT_STATES[current]:
        allowed = ", ".join(sorted(s.value for s in NEXT_STATES[current])) or "none (closed)"
        raise ConflictError(
            f"incident {incident.id} is {current.value}: it cannot go to {target.value} "
            f"(next: {allowed})"
        )
    at = _aware(transition_in.at, ("body", "at")) if transition_in.at else utcnow()
    previous = max(e.at for e in incident.events) if incident.events else incident.reported_at
    if at < previous:
        raise ValidationFailed(
            f"{at.isoformat()} is before the previous step ({previous.isoformat()})",
            loc=("body", "at"),
        )
    before = snapshot(incident)
    data: dict[str, Any] | None = None
    if target is S.dispatched:
        if transition_in.team_id is None:
            raise ValidationFailed("name the team to dispatch", loc=("body", "team_id"))
        team = get_named_in_body(
            session=session,
            user=actor,
            model=Team,
            obj_id=transition_in.team_id,
            loc=("body", "team_id"),
            label="team",
        )
        if team.readiness is not Readiness.standby:
            raise ConflictError(f"team {team.name} is {team.readiness.value}, not on standby")
        team_before = snapshot(team)
        team.readiness = Readiness.deployed
        record_update(session=session, actor=actor, obj=team, before=team_before)
        incident.team_id = team.id
        data = {"team_id": team.id, "team": team.name}
    elif transition_in.team_id is not None:
        raise ValidationFailed("a team is named only when dispatching", loc=("body", "team_id"))
    if target is S.closed and current is S.reported and not transition_in.note:
        raise ValidationFailed("say why a report is closed without dispatch", loc=("body", "note"))
    if target is S.closed and incident.team_id is not None:
        released = session.get(Team, incident.team_id)
        if released is not None and released.readiness is Readiness.deployed:
            team_before = snapshot(released)
            released.readiness = Readiness.standby
            record_update(session=session, actor=actor, obj=released, before=team_before)
    incident.status = target
    setattr(incident, STATE_TIME[target], at)
    _event(
        incident,
        actor,
        at=at,
        from_status=current,
        to_status=target,
        note=transition_in.note,
        data=data,
    )
    record_update(session=session, actor=actor, obj=incident, before=before)
    return incident


def add_note(*, session: Session, incident_id: int, note: str, actor: Actor) -> IncidentEvent:
    """Add a note to the timeline without changing the state."""
    incident = get_incident(session=session, incident_id=incident_id, actor=actor)
    require_role(actor, HANDLERS, "write on incidents")
    event = _event(incident, actor, at=utcnow(), from_status=None, to_status=None, note=note)
    session.flush()
    return event


_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def add_photo(
    *,
    session: Session,
    incident_id: int,
    filename: str,
    content_type: str,
    data: bytes,
    data_dir: Path,
    actor: Actor,
) -> IncidentPhoto:
    """Store a photo of an incident under ``<data_dir>/incidents/<id>/`` (JPEG, PNG or WebP)."""
    incident = get_incident(session=session, incident_id=incident_id, actor=actor)
    require_role(actor, HANDLERS, "add photos")
    if not data:
        raise ValidationFailed("the photo is empty", loc=("body", "file"))
    if len(data) > MAX_PHOTO_BYTES:
        raise ValidationFailed(
            f"the photo is {len(data)} bytes; at most {MAX_PHOTO_BYTES} are accepted",
            loc=("body", "file"),
        )
    # The declared type (``content_type``) is only the client's word: the bytes decide what is
    # stored and what media type the photo is served back with.
    content_type = photo_type(data, filename=filename)
    stored = f"{uuid.uuid4().hex}{PHOTO_TYPES[content_type]}"
    folder = data_dir / "incidents" / str(incident.id)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / stored).write_bytes(data)
    photo = IncidentPhoto(
        filename=_SAFE_NAME.sub("_", filename)[:200] or "photo",
        content_type=content_type,
        size_bytes=len(data),
        stored_name=stored,
    )
    incident.photos.append(photo)
    session.flush()
    record_create(session=session, actor=actor, obj=photo)
    return photo


def photo_type(data: bytes, *, filename: str) -> str:
    """The media type of a photo read from its bytes (magic number, then a decode check).

    Raises :class:`ValidationFailed` on ``body.file`` when the bytes are not a JPEG, PNG or WebP
    image, whatever the declared type or the name say. Pillow, when importable, also decodes the
    header, so a file that only starts like an image is refused too.
    """
    detected = detect_type(data)
    if detected not in PHOTO_TYPES:
        raise ValidationFailed(
            f"{_SAFE_NAME.sub('_', filename)[:200]}: not accepted, not a JPEG, PNG or WebP image "
            "(the type is read from the content, not the declared type or the name)",
            loc=("body", "file"),
        )
    try:
        from PIL import Image, UnidentifiedImageError
    except ImportError:  # pragma: no cover - Pillow comes with matplotlib
        return detected
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.verify()
            decoded = Image.MIME.get(image.format or "")
    # A header that claims gigapixels is refused before anything is decoded (a bomb, not a photo).
    except (
        UnidentifiedImageError,
        Image.DecompressionBombError,
        OSError,
        SyntaxError,
        ValueError,
    ) as exc:
        raise ValidationFailed(
            f"{_SAFE_NAME.sub('_', filename)[:200]}: the image cannot be read ({exc})",
            loc=("body", "file"),
        ) from exc
    if decoded != detected:
        raise ValidationFailed(
            f"{_SAFE_NAME.sub('_', filename)[:200]}: the image's content ({decoded}) does not "
            f"match its signature ({detected})",
            loc=("body", "file"),
        )
    return detected


def photo_path(*, photo: IncidentPhoto, data_dir: Path) -> Path:
    """Where a photo's file lies."""
    return data_dir / "incidents" / str(photo.incident_id) / photo.stored_name


# --- figures -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ResponseStats:
    """Response-time figures, s (report → dispatch; report → on site)."""

    incidents: int
    dispatched: int
    on_site: int
    dispatch_mean_s: float | None
    dispatch_median_s: float | None
    dispatch_p90_s: float | None
    arrival_mean_s: float | None
    arrival_median_s: float | None
    arrival_p90_s: float | None


def _p90(values: list[float]) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=10, method="inclusive")[-1]


def response_stats(
    *,
    session: Session,
    actor: Actor,
    since: datetime | None = None,
    until: datetime | None = None,
) -> ResponseStats:
    """Mean, median and 90th percentile of the dispatch and arrival times of incidents reported
    in ``[since, until)`` in the actor's jurisdiction (public and user reports alike)."""
    stmt = scope_query(select(Incident), Incident.unit_id, session=session, user=actor)
    if since is not None:
        stmt = stmt.where(Incident.reported_at >= _aware(since, ("query", "since")))
    if until is not None:
        stmt = stmt.where(Incident.reported_at < _aware(until, ("query", "until")))
    incidents = list(session.scalars(stmt))
    dispatch = [i.dispatch_s for i in incidents if i.dispatch_s is not None]
    arrival = [i.arrival_s for i in incidents if i.arrival_s is not None]
    return ResponseStats(
        incidents=len(incidents),
        dispatched=len(dispatch),
        on_site=len(arrival),
        dispatch_mean_s=statistics.fmean(dispatch) if dispatch else None,
        dispatch_median_s=statistics.median(dispatch) if dispatch else None,
        dispatch_p90_s=_p90(dispatch),
        arrival_mean_s=statistics.fmean(arrival) if arrival else None,
        arrival_median_s=statistics.median(arrival) if arrival else None,
        arrival_p90_s=_p90(arrival),
    )


def count_open(*, session: Session, actor: Actor) -> dict[str, int]:
    """Open incidents by state in the actor's jurisdiction."""
    # scope_query is typed for one-entity selects; this one has two columns.
    counts = cast("Select[Any]", select(Incident.status, func.count()).group_by(Incident.status))
    stmt = scope_query(
        counts,
        Incident.unit_id,
        session=session,
        user=actor,
    ).where(Incident.status != S.closed)
    return {status.value: n for status, n in session.execute(stmt)}


def geojson(incidents: list[Incident]) -> dict[str, Any]:
    """Incidents with coordinates as a GeoJSON FeatureCollection (RFC 7946, lon/lat)."""
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "id": i.id,
                "geometry": {"type": "Point", "coordinates": [i.lon, i.lat]},
                "properties": {
                    "title": i.title,
                    "kind": i.kind.value,
                    "severity": i.severity.value,
                    "status": i.status.value,
                    "reported_at": i.reported_at.isoformat(),
                },
            }
            for i in incidents
            if i.lon is not None and i.lat is not None
        ],
    }


__all__ = [
    "NEXT_STATES",
    "RateLimit",
    "ResponseStats",
    "add_note",
    "add_photo",
    "count_open",
    "geojson",
    "get_incident",
    "list_incidents",
    "photo_path",
    "report",
    "report_public",
    "response_stats",
    "transition",
]
