"""Field work: apply a queued submission once, record patrols (thinned track, findings), keep
river reaches and patrol plans, and list the overdue patrols.

Client keys: a phone queues each form with a UUID it makes itself and may send it more than once
(a lost answer, a double tap, a retry after the network came back). :func:`apply_once` claims the
key before the domain service runs, so the second request finds the first one's outcome and makes
nothing new. A :class:`~fangxun.errors.ConflictError` of the domain service (the rectification was
closed meanwhile, a record changed since it was read) is kept as the key's outcome and reported to
the person; any other error is not kept, so a corrected form may be sent again with the same key.

>>> line, length = thin_track([(113.55, 34.81), (113.5501, 34.81), (113.5502, 34.81)])
>>> line["coordinates"]
[[113.55, 34.81], [113.5502, 34.81]]
>>> round(length)
18
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Final

from pyproj import CRS, Geod, Transformer
from shapely.geometry import LineString
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from fangxun.audit.service import record_create
from fangxun.db.types import utcnow
from fangxun.errors import ConflictError, NotFoundError, ValidationFailed
from fangxun.field.models import (
    ClientSubmission,
    Patrol,
    PatrolFinding,
    PatrolPlan,
    RiverReach,
    SubmissionOutcome,
)
from fangxun.field.schemas import (
    OverduePatrol,
    PatrolCreate,
    PatrolPlanCreate,
    ReachCreate,
    SubmissionResult,
)
from fangxun.hazards.models import HazardPoint
from fangxun.incidents.service import PHOTO_TYPES, photo_type
from fangxun.org.jurisdiction import (
    get_in_jurisdiction,
    is_unit_visible,
    unit_in_body,
    visible_unit_ids,
)
from fangxun.org.models import Person, Role
from fangxun.org.permissions import Actor, require_role

#: Who records patrols and sends field forms (every role that works in the field or on duty).
PATROLLERS: Final = frozenset({Role.admin, Role.district, Role.duty, Role.unit, Role.inspector})
#: Who keeps reaches and patrol plans.
PLANNERS: Final = frozenset({Role.admin, Role.district, Role.unit})
#: Largest distance a thinned track may stray from the walked one, m: a phone's GPS is good to a
#: few metres, so finer detail is noise.
TRACK_TOLERANCE_M: Final = 5.0
#: Largest photo of a patrol finding, bytes (as an incident photo).
MAX_PHOTO_BYTES: Final = 10 * 1024 * 1024
_GEOD: Final = Geod(ellps="WGS84")


# --- client keys --------------------------------------------------------------------------------


def _parse_key(client_key: str) -> str:
    try:
        return str(uuid.UUID(client_key))
    except (ValueError, AttributeError, TypeError):
        raise ValidationFailed(
            f"client key {client_key[:60]!r} is not a UUID", loc=("body", "client_key")
        ) from None


def _result(row: ClientSubmission, *, duplicate: bool) -> SubmissionResult:
    return SubmissionResult(
        key=row.key,
        outcome=row.outcome,
        duplicate=duplicate,
        message=row.message,
        result_url=row.result_url,
    )


def apply_once(
    *,
    session: Session,
    client_key: str,
    kind: str,
    actor: Actor,
    action: Callable[[], str | None],
) -> SubmissionResult:
    """Run ``action`` (a domain service call returning the URL of what it made) once per
    ``client_key``.

    A key seen before answers its first outcome with ``duplicate=True`` and runs nothing. A
    :class:`ConflictError` of ``action`` is rolled back and kept as the key's outcome
    (``conflict``); other errors roll back the action and the claim, and propagate.

    The claim must be the first write of the transaction (a race on the key rolls the session
    back): call it before anything else writes.
    """
    # A read-only login is refused before anything else (its key is not even looked at).
    require_role(actor, PATROLLERS, "send field forms")
    key = _parse_key(client_key)
    user_id = getattr(actor, "id", None)
    seen = session.get(ClientSubmission, key)
    if seen is None:
        # The claim is the transaction's first write, outside any savepoint: SQLite's driver
        # begins its transaction there, so the savepoint below is released into it rather than
        # committing on its own.
        claim = ClientSubmission(
            key=key, user_id=user_id, kind=kind, outcome=SubmissionOutcome.applied, message=""
        )
        session.add(claim)
        try:
            session.flush()
        except IntegrityError:
            # Another request with the same key claimed it first (a double tap on two
            # connections): its outcome is the answer.
            session.rollback()
            seen = session.get(ClientSubmission, key)
            if seen is None:  # pragma: no cover - the other request rolled back meanwhile
                raise ConflictError(f"client key {key} is being applied; send it again") from None
    if seen is not None:
        if seen.user_id != user_id or seen.kind != kind:
            raise ConflictError(f"client key {key} was used for another submission")
        return _result(seen, duplicate=True)
    try:
        with session.begin_nested():
            url = action()
            session.flush()
    except ConflictError as exc:
        claim.outcome = SubmissionOutcome.conflict
        claim.message = str(exc)
        session.flush()
        return _result(claim, duplicate=False)
    except BaseException:
        # Nothing of a refused form is kept, its key neither: corrected, it may come again.
        session.delete(claim)
        session.flush()
        raise
    claim.result_url = url
    session.flush()
    return _result(claim, duplicate=False)


def submission_count(*, session: Session, kind: str | None = None) -> int:
    """How many client keys have been applied (all, or of one ``kind``)."""
    stmt = select(func.count()).select_from(ClientSubmission)
    if kind is not None:
        stmt = stmt.where(ClientSubmission.kind == kind)
    return int(session.scalar(stmt) or 0)


# --- tracks -------------------------------------------------------------------------------------


def thin_track(
    fixes: Sequence[tuple[float, float]], *, tolerance_m: float = TRACK_TOLERANCE_M
) -> tuple[dict[str, Any], float]:
    """Thin a walked track (lon/lat, degrees, WGS 84) with Douglas–Peucker at ``tolerance_m``
    (m, in a local azimuthal equidistant projection), and its geodesic length, m.

    Consecutive repeated fixes (a phone standing still) are dropped first; fewer than two distinct
    positions → :class:`ValidationFailed`.
    """
    points: list[tuple[float, float]] = []
    for lon, lat in fixes:
        if not points or (lon, lat) != points[-1]:
            points.append((float(lon), float(lat)))
    if len(points) < 2:
        raise ValidationFailed("a track needs two different positions", loc=("body", "track"))
    lon0, lat0 = points[0]
    local = CRS.from_proj4(f"+proj=aeqd +lat_0={lat0} +lon_0={lon0} +datum=WGS84 +units=m")
    forward = Transformer.from_crs("EPSG:4326", local, always_xy=True)
    back = Transformer.from_crs(local, "EPSG:4326", always_xy=True)
    xs, ys = forward.transform([p[0] for p in points], [p[1] for p in points])
    thinned = LineString(list(zip(xs, ys, strict=True))).simplify(
        tolerance_m, preserve_topology=False
    )
    tx, ty = thinned.xy
    lons, lats = back.transform(list(tx), list(ty))
    coords = [[round(lon, 7), round(lat, 7)] for lon, lat in zip(lons, lats, strict=True)]
    length = float(_GEOD.line_length(lons, lats))
    return {"type": "LineString", "coordinates": coords}, length


# --- reaches and plans --------------------------------------------------------------------------


def create_reach(*, session: Session, reach_in: ReachCreate, actor: Actor) -> RiverReach:
    """Add a river reach of a unit."""
    require_role(actor, PLANNERS, "add river reaches")
    unit_in_body(session, actor, reach_in.unit_id, ("body", "unit_id"))
    coords = [[lon, lat] for lon, lat in reach_in.coordinates]
    reach = RiverReach(
        code=reach_in.code,
        name=reach_in.name,
        river=reach_in.river,
        unit_id=reach_in.unit_id,
        line={"type": "LineString", "coordinates": coords},
        length_m=float(_GEOD.line_length([c[0] for c in coords], [c[1] for c in coords])),
    )
    session.add(reach)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError as exc:
        raise ConflictError(f"river reach {reach_in.code!r} exists already") from exc
    record_create(session=session, actor=actor, obj=reach)
    return reach


def list_reaches(*, session: Session, actor: Actor) -> list[RiverReach]:
    """River reaches of the actor's jurisdiction, by river and name."""
    stmt = select(RiverReach).order_by(RiverReach.river, RiverReach.name)
    visible = visible_unit_ids(session=session, user=actor)
    if visible is not None:
        stmt = stmt.where(RiverReach.unit_id.in_(sorted(visible)))
    return list(session.scalars(stmt))


def reaches_geojson(*, session: Session, actor: Actor) -> dict[str, Any]:
    """River reaches as a GeoJSON FeatureCollection (the map layer)."""
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "id": r.id,
                "geometry": r.line,
                "properties": {
                    "code": r.code,
                    "name": r.name,
                    "river": r.river,
                    "length_m": round(r.length_m, 1),
                },
            }
            for r in list_reaches(session=session, actor=actor)
        ],
    }


def create_plan(*, session: Session, plan_in: PatrolPlanCreate, actor: Actor) -> PatrolPlan:
    """Add a patrol plan: a reach of the unit, an interval (s) and an assignee."""
    require_role(actor, PLANNERS, "plan patrols")
    unit_in_body(session, actor, plan_in.unit_id, ("body", "unit_id"))
    if plan_in.reach_id is not None:
        reach = session.get(RiverReach, plan_in.reach_id)
        if reach is None or not is_unit_visible(session=session, user=actor, unit_id=reach.unit_id):
            raise ValidationFailed(
                f"river reach {plan_in.reach_id} not found", loc=("body", "reach_id")
            )
    if plan_in.assignee_person_id is not None and (
        session.get(Person, plan_in.assignee_person_id) is None
    ):
        raise ValidationFailed(
            f"person {plan_in.assignee_person_id} not found", loc=("body", "assignee_person_id")
        )
    plan = PatrolPlan(**plan_in.model_dump())
    session.add(plan)
    session.flush()
    record_create(session=session, actor=actor, obj=plan)
    return plan


def get_plan(*, session: Session, patrol_plan_id: int, actor: Actor) -> PatrolPlan:
    """A patrol plan in the actor's jurisdiction, else :class:`NotFoundError`."""
    return get_in_jurisdiction(
        session=session, user=actor, model=PatrolPlan, obj_id=patrol_plan_id, label="patrol plan"
    )


def list_plans(*, session: Session, actor: Actor, active_only: bool = True) -> list[PatrolPlan]:
    """Patrol plans of the actor's jurisdiction, by name."""
    stmt = select(PatrolPlan).order_by(PatrolPlan.name, PatrolPlan.id)
    if active_only:
        stmt = stmt.where(PatrolPlan.active.is_(True))
    visible = visible_unit_ids(session=session, user=actor)
    if visible is not None:
        stmt = stmt.where(PatrolPlan.unit_id.in_(sorted(visible)))
    return list(session.scalars(stmt))


def overdue_patrols(
    *, session: Session, actor: Actor, now: datetime | None = None
) -> list[OverduePatrol]:
    """Active patrol plans whose next patrol (last one + interval, or the plan's start) has
    passed, most overdue first."""
    now = now or utcnow()
    last = dict(
        session.execute(
            select(Patrol.plan_id, func.max(Patrol.ended_at))
            .where(Patrol.plan_id.is_not(None))
            .group_by(Patrol.plan_id)
        ).all()
    )
    rows = []
    for plan in list_plans(session=session, actor=actor):
        done = last.get(plan.id)
        due = done + timedelta(seconds=plan.interval_s) if done else plan.starts_at
        if due <= now:
            rows.append(
                OverduePatrol(
                    plan_id=plan.id,
                    plan_name=plan.name,
                    unit_id=plan.unit_id,
                    reach_name=plan.reach.name if plan.reach else None,
                    last_patrolled_at=done,
                    due_at=due,
                    overdue_s=int((now - due).total_seconds()),
                )
            )
    return sorted(rows, key=lambda r: -r.overdue_s)


# --- patrols ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FindingPhoto:
    """A photo sent with the finding of the same index: file name and bytes."""

    filename: str
    data: bytes


def record_patrol(
    *,
    session: Session,
    patrol_in: PatrolCreate,
    actor: Actor,
    data_dir: Path,
    photos: Sequence[FindingPhoto | None] = (),
) -> Patrol:
    """Record a patrol: the track thinned to :data:`TRACK_TOLERANCE_M`, the findings pinned where
    they were seen, each with the photo of the same index in ``photos`` (optional)."""
    require_role(actor, PATROLLERS, "record patrols")
    plan = None
    if patrol_in.plan_id is not None:
        plan = session.get(PatrolPlan, patrol_in.plan_id)
        if plan is None or not is_unit_visible(session=session, user=actor, unit_id=plan.unit_id):
            raise ValidationFailed(
                f"patrol plan {patrol_in.plan_id} not found", loc=("body", "plan_id")
            )
        unit_id = plan.unit_id
    elif patrol_in.unit_id is not None:
        unit_in_body(session, actor, patrol_in.unit_id, ("body", "unit_id"))
        unit_id = patrol_in.unit_id
    else:
        raise ValidationFailed("give the patrol plan or the unit", loc=("body", "unit_id"))
    if patrol_in.ended_at < patrol_in.started_at:
        raise ValidationFailed("the patrol ends before it starts", loc=("body", "ended_at"))
    if patrol_in.ended_at > utcnow() + timedelta(minutes=5):
        raise ValidationFailed("a patrol cannot end in the future", loc=("body", "ended_at"))
    if len(photos) > len(patrol_in.findings):
        raise ValidationFailed("more photos than findings", loc=("body", "photos"))
    track, length = thin_track([(f.lon, f.lat) for f in patrol_in.track])
    patrol = Patrol(
        unit_id=unit_id,
        plan_id=plan.id if plan else None,
        started_at=patrol_in.started_at,
        ended_at=patrol_in.ended_at,
        track=track,
        raw_points=len(patrol_in.track),
        length_m=length,
        notes=patrol_in.notes,
        recorded_by=getattr(actor, "username", "system"),
    )
    session.add(patrol)
    session.flush()
    for index, finding_in in enumerate(patrol_in.findings):
        if finding_in.hazard_point_id is not None:
            point = session.get(HazardPoint, finding_in.hazard_point_id)
            if point is None or not is_unit_visible(
                session=session, user=actor, unit_id=point.unit_id
            ):
                raise ValidationFailed(
                    f"hazard point {finding_in.hazard_point_id} not found",
                    loc=("body", "findings", index, "hazard_point_id"),
                )
        finding = PatrolFinding(**finding_in.model_dump())
        photo = photos[index] if index < len(photos) else None
        if photo is not None:
            finding.photo_name, finding.photo_type = _store_photo(
                data_dir=data_dir, patrol_id=patrol.id, photo=photo, index=index
            )
        patrol.findings.append(finding)
    session.flush()
    record_create(session=session, actor=actor, obj=patrol)
    return patrol


def _store_photo(
    *, data_dir: Path, patrol_id: int, photo: FindingPhoto, index: int
) -> tuple[str, str]:
    if not photo.data:
        raise ValidationFailed("the photo is empty", loc=("body", "photos", index))
    if len(photo.data) > MAX_PHOTO_BYTES:
        raise ValidationFailed(
            f"the photo is {len(photo.data)} bytes; at most {MAX_PHOTO_BYTES} are accepted",
            loc=("body", "photos", index),
        )
    content_type = photo_type(photo.data, filename=photo.filename)
    name = hashlib.sha256(photo.data).hexdigest()[:32] + PHOTO_TYPES[content_type]
    folder = data_dir / "patrols" / str(patrol_id)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(photo.data)
    return name, content_type


def get_patrol(*, session: Session, patrol_id: int, actor: Actor) -> Patrol:
    """A patrol in the actor's jurisdiction, else :class:`NotFoundError`."""
    return get_in_jurisdiction(
        session=session, user=actor, model=Patrol, obj_id=patrol_id, label="patrol"
    )


def list_patrols(*, session: Session, actor: Actor, limit: int = 50) -> list[Patrol]:
    """The latest patrols of the actor's jurisdiction, newest first."""
    stmt = select(Patrol).order_by(Patrol.ended_at.desc(), Patrol.id.desc()).limit(limit)
    visible = visible_unit_ids(session=session, user=actor)
    if visible is not None:
        stmt = stmt.where(Patrol.unit_id.in_(sorted(visible)))
    return list(session.scalars(stmt))


def finding_photo(
    *, session: Session, patrol_id: int, finding_id: int, actor: Actor, data_dir: Path
) -> tuple[Path, str]:
    """The file and media type of a finding's photo."""
    patrol = get_patrol(session=session, patrol_id=patrol_id, actor=actor)
    finding = next((f for f in patrol.findings if f.id == finding_id), None)
    if finding is None or finding.photo_name is None or finding.photo_type is None:
        raise NotFoundError(f"photo of finding {finding_id} not found")
    return data_dir / "patrols" / str(patrol.id) / finding.photo_name, finding.photo_type


def patrols_geojson(*, session: Session, actor: Actor, limit: int = 50) -> dict[str, Any]:
    """The latest patrols' tracks and findings as a GeoJSON FeatureCollection."""
    features: list[dict[str, Any]] = []
    for patrol in list_patrols(session=session, actor=actor, limit=limit):
        features.append(
            {
                "type": "Feature",
                "id": f"patrol-{patrol.id}",
                "geometry": patrol.track,
                "properties": {
                    "kind": "track",
                    "patrol_id": patrol.id,
                    "name": patrol.recorded_by,
                    "length_m": round(patrol.length_m, 1),
                },
            }
        )
        features.extend(
            {
                "type": "Feature",
                "id": f"finding-{f.id}",
                "geometry": {"type": "Point", "coordinates": [f.lon, f.lat]},
                "properties": {
                    "kind": "finding",
                    "patrol_id": patrol.id,
                    "name": f.note,
                    "colour": "#ff7f00",
                },
            }
            for f in patrol.findings
        )
    return {"type": "FeatureCollection", "features": features}
