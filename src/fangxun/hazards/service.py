"""Hazard ledger services: points, attachments, point plans, inspections, rectifications, stats.

Keyword-only functions that check role and jurisdiction, record every change in the audit log and
never commit (the caller's scope does). Objects of points outside the actor's jurisdiction are
"not found" (404); a point, person or unit named in a request body that the actor cannot see is
an invalid field (422), as in :mod:`fangxun.org.service`.

Who may do what (``admin`` and the system may do everything):

========================  ==========================================================
read                      every role (a ``unit`` user only inside its jurisdiction)
points, plan drafts,      ``district``, ``unit``
inspection plans
approve point plans       ``district``
inspection records        ``district``, ``unit``, ``inspector``
open a rectification      ``district``, ``unit``, ``inspector``
start / submit / resume   ``unit`` (the owning unit moves its rectification forward)
verify / reject / close   ``district``
========================  ==========================================================
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Final, cast

from sqlalchemy import Select, and_, case, exists, func, or_, select
from sqlalchemy.orm import Session

from fangxun import versioning
from fangxun.audit.models import AuditAction, AuditEntry
from fangxun.audit.service import (
    audited_delete,
    audited_update,
    record_change,
    record_create,
    record_delete,
    record_update,
    snapshot,
)
from fangxun.config import DEFAULT_HAZARD_THRESHOLDS_CM
from fangxun.db.queries import flush_or_conflict, paginate
from fangxun.db.types import utcnow
from fangxun.errors import (
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    ValidationFailed,
)
from fangxun.hazards import attachments as files
from fangxun.hazards.models import (
    HazardAttachment,
    HazardKind,
    HazardPoint,
    InspectionPlan,
    InspectionRecord,
    PlanStatus,
    PointPlan,
    PointStatus,
    Rectification,
    RectificationEvent,
    RectificationStatus,
)
from fangxun.hazards.schemas import (
    HazardPointCreate,
    HazardPointRead,
    HazardPointUpdate,
    InspectionPlanCreate,
    InspectionPlanRead,
    InspectionPlanUpdate,
    InspectionRecordCreate,
    LedgerStatRow,
    LedgerStats,
    OverdueInspection,
    PointPlanCreate,
    RectificationCreate,
    RectificationEventRead,
    RectificationRead,
    Thresholds,
)
from fangxun.org.jurisdiction import (
    descendant_unit_ids,
    get_named_in_body,
    is_unit_visible,
    scope_query,
    unit_in_body,
    visible_unit_ids,
)
from fangxun.org.models import Person, Role, Unit, User
from fangxun.org.permissions import Actor, is_system

#: cm per m: depths are cm at the edges and m inside.
CM_PER_M: Final = 100.0
#: Default window of "inspected recently" in the ledger statistics, s (30 days).
DEFAULT_COVERAGE_WINDOW_S: Final = 30 * 86400
#: States in which a rectification still needs work by its unit (these can be overdue).
OPEN_STATES: Final = frozenset(
    {
        RectificationStatus.open,
        RectificationStatus.in_progress,
        RectificationStatus.submitted,
        RectificationStatus.rejected,
    }
)
#: States that count as "open problems" of a point (anything not closed).
UNCLOSED_STATES: Final = frozenset(set(RectificationStatus) - {RectificationStatus.closed})


class HazardAction(enum.StrEnum):
    """Actions on the ledger that need a role (reading needs only the jurisdiction)."""

    manage_points = "manage_points"
    approve_plans = "approve_plans"
    record_inspections = "record_inspections"
    open_rectifications = "open_rectifications"
    advance_rectifications = "advance_rectifications"
    verify_rectifications = "verify_rectifications"


ROLE_ACTIONS: Final[dict[Role, frozenset[HazardAction]]] = {
    Role.admin: frozenset(HazardAction),
    Role.district: frozenset(
        {
            HazardAction.manage_points,
            HazardAction.approve_plans,
            HazardAction.record_inspections,
            HazardAction.open_rectifications,
            HazardAction.verify_rectifications,
        }
    ),
    Role.unit: frozenset(
        {
            HazardAction.manage_points,
            HazardAction.record_inspections,
            HazardAction.open_rectifications,
            HazardAction.advance_rectifications,
        }
    ),
    Role.inspector: frozenset({HazardAction.record_inspections, HazardAction.open_rectifications}),
    Role.duty: frozenset(),
    Role.viewer: frozenset(),
}


def can(actor: Actor, action: HazardAction) -> bool:
    """True when ``actor`` may perform ``action`` (the system may do everything)."""
    if is_system(actor):
        return True
    assert isinstance(actor, User)
    return actor.is_active and action in ROLE_ACTIONS.get(actor.role, frozenset())


def _require(actor: Actor, action: HazardAction, what: str) -> None:
    if not can(actor, action):
        role = actor.role.value if isinstance(actor, User) else "system"
        raise PermissionDeniedError(f"role {role!r} may not {what}")


def _scope_points(stmt: Select[Any], *, session: Session, actor: Actor) -> Select[Any]:
    """Limit a statement that involves :class:`HazardPoint` to the actor's jurisdiction."""
    return scope_query(stmt, HazardPoint.unit_id, session=session, user=actor)


def _body_person(
    session: Session, actor: Actor, person_id: int | None, loc: tuple[Any, ...]
) -> None:
    if person_id is not None:
        get_named_in_body(
            session=session, user=actor, model=Person, obj_id=person_id, loc=loc, label="person"
        )


def _body_point(
    session: Session, actor: Actor, point_id: int, loc: tuple[str | int, ...]
) -> HazardPoint:
    return get_named_in_body(
        session=session,
        user=actor,
        model=HazardPoint,
        obj_id=point_id,
        loc=loc,
        label="hazard point",
    )


# --- hazard points -----------------------------------------------------------------------------


def default_thresholds_cm(
    kind: HazardKind, table: Mapping[str, Sequence[float]] | None = None
) -> Thresholds:
    """The configured thresholds of ``kind``, cm (``table``: ``Settings.hazard_thresholds_cm``)."""
    blue, yellow, orange, red = (table or DEFAULT_HAZARD_THRESHOLDS_CM)[kind.value]
    return Thresholds(blue=blue, yellow=yellow, orange=orange, red=red)


def thresholds_of(point: HazardPoint) -> Thresholds:
    """A point's thresholds in cm (stored in m)."""
    return Thresholds(
        blue=round(point.threshold_blue_m * CM_PER_M, 3),
        yellow=round(point.threshold_yellow_m * CM_PER_M, 3),
        orange=round(point.threshold_orange_m * CM_PER_M, 3),
        red=round(point.threshold_red_m * CM_PER_M, 3),
    )


def _set_thresholds(point: HazardPoint, thresholds: Thresholds) -> None:
    point.threshold_blue_m = thresholds.blue / CM_PER_M
    point.threshold_yellow_m = thresholds.yellow / CM_PER_M
    point.threshold_orange_m = thresholds.orange / CM_PER_M
    point.threshold_red_m = thresholds.red / CM_PER_M


def rectification_counts(
    *, session: Session, point_ids: Iterable[int] | None = None, now: datetime | None = None
) -> dict[int, tuple[int, int]]:
    """``{point_id: (unclosed, overdue)}`` rectification counts (points without any left out)."""
    now = now or utcnow()
    overdue = and_(Rectification.status.in_(OPEN_STATES), Rectification.deadline < now)
    stmt = (
        select(
            Rectification.point_id,
            func.count(),
            func.sum(case((overdue, 1), else_=0)),
        )
        .where(Rectification.status.in_(UNCLOSED_STATES))
        .group_by(Rectification.point_id)
    )
    if point_ids is not None:
        ids = sorted(set(point_ids))
        if not ids:
            return {}
        stmt = stmt.where(Rectification.point_id.in_(ids))
    return {pid: (int(n), int(o or 0)) for pid, n, o in session.execute(stmt)}


def point_read(
    point: HazardPoint, counts: Mapping[int, tuple[int, int]] | None = None
) -> HazardPointRead:
    """The wire shape of a point, with its rectification counts."""
    unclosed, overdue = (counts or {}).get(point.id, (0, 0))
    return HazardPointRead(
        id=point.id,
        code=point.code,
        name=point.name,
        kind=point.kind,
        lon=point.lon,
        lat=point.lat,
        polygon=point.polygon,
        address=point.address,
        description=point.description,
        unit_id=point.unit_id,
        responsible_person_id=point.responsible_person_id,
        deputy_person_id=point.deputy_person_id,
        risk_level=point.risk_level,
        thresholds_cm=thresholds_of(point),
        status=point.status,
        open_rectifications=unclosed,
        overdue_rectifications=overdue,
        created_at=point.created_at,
        updated_at=point.updated_at,
        version=point.version,
    )


def points_read(*, session: Session, points: Sequence[HazardPoint]) -> list[HazardPointRead]:
    """Wire shapes of several points with their counts (one query for all counts)."""
    counts = rectification_counts(session=session, point_ids=[p.id for p in points])
    return [point_read(p, counts) for p in points]


def create_point(
    *,
    session: Session,
    point_in: HazardPointCreate,
    actor: Actor,
    thresholds_table: Mapping[str, Sequence[float]] | None = None,
) -> HazardPoint:
    """Create a hazard point (district; a unit inside its jurisdiction).

    ``thresholds_table`` is ``Settings.hazard_thresholds_cm``; it fills the thresholds when the
    request gives none.
    """
    _require(actor, HazardAction.manage_points, "manage hazard points")
    unit_in_body(session, actor, point_in.unit_id, ("body", "unit_id"))
    _body_person(session, actor, point_in.responsible_person_id, ("body", "responsible_person_id"))
    _body_person(session, actor, point_in.deputy_person_id, ("body", "deputy_person_id"))
    if session.scalar(select(exists().where(HazardPoint.code == point_in.code))):
        raise ConflictError(f"a hazard point with code {point_in.code!r} already exists")
    data = point_in.model_dump(exclude={"thresholds_cm"})
    point = HazardPoint(**data)
    _set_thresholds(
        point, point_in.thresholds_cm or default_thresholds_cm(point_in.kind, thresholds_table)
    )
    session.add(point)
    flush_or_conflict(session, f"hazard point {point_in.code!r}")
    record_create(session=session, actor=actor, obj=point)
    return point


def get_point(*, session: Session, point_id: int, actor: Actor) -> HazardPoint:
    """A point inside the actor's jurisdiction, else :class:`NotFoundError`."""
    point = session.get(HazardPoint, point_id)
    if point is None or not is_unit_visible(session=session, user=actor, unit_id=point.unit_id):
        raise NotFoundError(f"hazard point {point_id} not found")
    return point


@dataclass(frozen=True)
class PointFilter:
    """Filters of the ledger: unit (with its sub-units), kind, status, text, box, open problems.

    ``bbox`` is (min lon, min lat, max lon, max lat), degrees.
    """

    unit_id: int | None = None
    kind: HazardKind | None = None
    status: PointStatus | None = None
    q: str | None = None
    bbox: tuple[float, float, float, float] | None = None
    has_open: bool | None = None


def _point_stmt(session: Session, actor: Actor, flt: PointFilter) -> Select[Any]:
    stmt = _scope_points(select(HazardPoint), session=session, actor=actor)
    if flt.unit_id is not None:
        stmt = stmt.where(
            HazardPoint.unit_id.in_(
                sorted(descendant_unit_ids(session=session, unit_id=flt.unit_id))
            )
        )
    if flt.kind is not None:
        stmt = stmt.where(HazardPoint.kind == flt.kind)
    if flt.status is not None:
        stmt = stmt.where(HazardPoint.status == flt.status)
    if flt.q:
        text = flt.q.strip()
        stmt = stmt.where(
            or_(
                HazardPoint.name.contains(text, autoescape=True),
                HazardPoint.code.contains(text, autoescape=True),
            )
        )
    if flt.bbox is not None:
        west, south, east, north = flt.bbox
        stmt = stmt.where(
            HazardPoint.lon >= west,
            HazardPoint.lon <= east,
            HazardPoint.lat >= south,
            HazardPoint.lat <= north,
        )
    if flt.has_open is not None:
        unclosed = exists().where(
            Rectification.point_id == HazardPoint.id,
            Rectification.status.in_(UNCLOSED_STATES),
        )
        stmt = stmt.where(unclosed if flt.has_open else ~unclosed)
    return stmt


def list_points(
    *,
    session: Session,
    actor: Actor,
    flt: PointFilter | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[HazardPoint], int]:
    """Points in the actor's jurisdiction matching ``flt``, by code, with the total count."""
    stmt = _point_stmt(session, actor, flt or PointFilter())
    return paginate(session, stmt.order_by(HazardPoint.code), limit, offset)


#: Decimal places of lon/lat on map layers: 1e-6° is about 0.1 m, finer than any survey.
MAP_COORD_DIGITS: Final = 6


@dataclass(frozen=True)
class MapPoint:
    """What the map layer shows of a point (lon/lat in degrees, WGS 84; the rest is on its page)."""

    id: int
    code: str
    name: str
    lon: float
    lat: float
    unclosed: int
    overdue: int


def map_points(*, session: Session, actor: Actor) -> list[MapPoint]:
    """Every point of the actor's jurisdiction for a map layer, by code, with its unclosed and
    overdue rectification counts: two queries whatever the number of points, no ORM objects."""
    columns = select(
        HazardPoint.id, HazardPoint.code, HazardPoint.name, HazardPoint.lon, HazardPoint.lat
    )
    stmt = _scope_points(cast(Select[Any], columns), session=session, actor=actor)
    stmt = stmt.order_by(HazardPoint.code)
    counts = rectification_counts(session=session)  # all points: one small GROUP BY, no IN list
    digits = MAP_COORD_DIGITS
    return [
        MapPoint(
            pid,
            code,
            name,
            round(lon, digits),
            round(lat, digits),
            *counts.get(pid, (0, 0)),
        )
        for pid, code, name, lon, lat in session.execute(stmt)
    ]


def map_points_version(*, session: Session) -> tuple[Any, ...]:
    """A cheap value that changes whenever :func:`map_points` may (any jurisdiction): the newest
    audit entry (every edit of a point or rectification is audited), point and rectification
    ids (rows written around the services), and the number of overdue rectifications now (a
    deadline passing as time goes by recolours a point without any write). One query.

    What it cannot see (two transactions committed out of id order) shows when the response
    cache's TTL runs out."""
    overdue = and_(Rectification.status.in_(OPEN_STATES), Rectification.deadline < utcnow())
    stmt = select(
        select(func.max(AuditEntry.id)).scalar_subquery(),
        select(func.max(HazardPoint.id)).scalar_subquery(),
        select(func.max(Rectification.id)).scalar_subquery(),
        select(func.count()).select_from(Rectification).where(overdue).scalar_subquery(),
    )
    return tuple(session.execute(stmt).one())


def update_point(
    *,
    session: Session,
    point_id: int,
    point_in: HazardPointUpdate,
    actor: Actor,
    expected_version: int | None = None,
) -> HazardPoint:
    """Change a point (district; a unit inside its jurisdiction). ``expected_version`` is the
    version the change was made from: :class:`~fangxun.errors.StaleVersion` when it moved on."""
    point = get_point(session=session, point_id=point_id, actor=actor)
    _require(actor, HazardAction.manage_points, "manage hazard points")
    versioning.check_version(session, point, expected_version, f"hazard point {point.code!r}")
    changes = point_in.model_dump(exclude_unset=True, exclude={"thresholds_cm"})
    for field in ("code", "name", "kind", "lon", "lat", "unit_id", "risk_level", "status"):
        if field in changes and changes[field] is None:
            raise ValidationFailed("must not be null", loc=("body", field))
    if "unit_id" in changes:
        unit_in_body(session, actor, changes["unit_id"], ("body", "unit_id"))
    for field in ("responsible_person_id", "deputy_person_id"):
        if field in changes:
            _body_person(session, actor, changes[field], ("body", field))
    if (
        "code" in changes
        and changes["code"] != point.code
        and session.scalar(select(exists().where(HazardPoint.code == changes["code"])))
    ):
        raise ConflictError(f"a hazard point with code {changes['code']!r} already exists")
    before = snapshot(point)
    for key, value in changes.items():
        setattr(point, key, value)
    if "thresholds_cm" in point_in.model_fields_set:
        if point_in.thresholds_cm is None:
            raise ValidationFailed("must not be null", loc=("body", "thresholds_cm"))
        _set_thresholds(point, point_in.thresholds_cm)
    flush_or_conflict(session, f"hazard point {point.code!r}")
    record_update(session=session, actor=actor, obj=point, before=before)
    return point


def delete_point(*, session: Session, point_id: int, actor: Actor) -> None:
    """Delete a point with no history (district); one with inspections or rectifications must be
    retired instead, so the ledger keeps its record."""
    point = get_point(session=session, point_id=point_id, actor=actor)
    _require(actor, HazardAction.approve_plans, "delete hazard points")
    for model, what in ((InspectionRecord, "inspections"), (Rectification, "rectifications")):
        if session.scalar(select(exists().where(model.point_id == point.id))):
            raise ConflictError(
                f"hazard point {point.code!r} has {what}; retire it (status 'retired') instead"
            )
    before = snapshot(point)
    session.delete(point)
    flush_or_conflict(session, f"hazard point {point.code!r}")
    record_delete(session=session, actor=actor, obj=point, before=before)


# --- attachments -------------------------------------------------------------------------------


def add_attachment(
    *,
    session: Session,
    data_dir: Path,
    point_id: int,
    filename: str,
    content: bytes,
    actor: Actor,
    inspection_id: int | None = None,
    rectification_id: int | None = None,
) -> HazardAttachment:
    """Store a photo or document of a point (or of one of its inspections or rectifications).

    The type is read from the content (JPEG, PNG, WebP, PDF) and the size limited to
    :data:`fangxun.hazards.attachments.MAX_ATTACHMENT_BYTES` bytes.
    """
    point = get_point(session=session, point_id=point_id, actor=actor)
    if not (can(actor, HazardAction.manage_points) or can(actor, HazardAction.record_inspections)):
        _require(actor, HazardAction.manage_points, "add attachments")
    record = session.get(InspectionRecord, inspection_id) if inspection_id is not None else None
    rect = session.get(Rectification, rectification_id) if rectification_id is not None else None
    for obj_id, found, name in (
        (inspection_id, record, "inspection_id"),
        (rectification_id, rect, "rectification_id"),
    ):
        if obj_id is not None and (found is None or found.point_id != point.id):
            raise ValidationFailed(
                f"{name.removesuffix('_id')} {obj_id} does not exist on this point",
                loc=("body", name),
            )
    clean_name = Path(filename or "file").name[:255] or "file"
    media_type = files.check_content(content, filename=clean_name)
    digest = files.store(data_dir, content)
    attachment = HazardAttachment(
        point_id=point.id,
        inspection_id=inspection_id,
        rectification_id=rectification_id,
        sha256=digest,
        filename=clean_name,
        content_type=media_type,
        size_bytes=len(content),
        uploaded_by=actor.username if actor is not None else "system",
    )
    session.add(attachment)
    flush_or_conflict(session, "attachment")
    record_create(session=session, actor=actor, obj=attachment)
    return attachment


def list_attachments(*, session: Session, point_id: int, actor: Actor) -> list[HazardAttachment]:
    """The attachments of a point, oldest first."""
    point = get_point(session=session, point_id=point_id, actor=actor)
    stmt = select(HazardAttachment).where(HazardAttachment.point_id == point.id)
    return list(session.scalars(stmt.order_by(HazardAttachment.id)))


def get_attachment(*, session: Session, attachment_id: int, actor: Actor) -> HazardAttachment:
    """An attachment whose point is in the actor's jurisdiction."""
    attachment = session.get(HazardAttachment, attachment_id)
    if attachment is None:
        raise NotFoundError(f"attachment {attachment_id} not found")
    try:
        get_point(session=session, point_id=attachment.point_id, actor=actor)
    except NotFoundError:
        raise NotFoundError(f"attachment {attachment_id} not found") from None
    return attachment


# --- point plans -------------------------------------------------------------------------------


def create_plan(
    *, session: Session, point_id: int, plan_in: PointPlanCreate, actor: Actor
) -> PointPlan:
    """Draft a new version of a point's plan (version = the last one + 1)."""
    point = get_point(session=session, point_id=point_id, actor=actor)
    _require(actor, HazardAction.manage_points, "draft point plans")
    for i, measure in enumerate(plan_in.measures):
        _body_person(
            session,
            actor,
            measure.responsible_person_id,
            ("body", "measures", i, "responsible_person_id"),
        )
    last = session.scalar(select(func.max(PointPlan.version)).where(PointPlan.point_id == point.id))
    plan = PointPlan(
        point_id=point.id,
        version=(last or 0) + 1,
        title=plan_in.title,
        triggers=[t.model_dump(exclude_none=True) for t in plan_in.triggers],
        measures=[m.model_dump(exclude_none=True) for m in plan_in.measures],
        status=PlanStatus.draft,
    )
    session.add(plan)
    flush_or_conflict(session, f"plan of {point.code!r}")
    record_create(session=session, actor=actor, obj=plan)
    return plan


def list_plans(*, session: Session, point_id: int, actor: Actor) -> list[PointPlan]:
    """Every version of a point's plan, newest first."""
    point = get_point(session=session, point_id=point_id, actor=actor)
    stmt = select(PointPlan).where(PointPlan.point_id == point.id)
    return list(session.scalars(stmt.order_by(PointPlan.version.desc())))


def get_plan(*, session: Session, plan_id: int, actor: Actor) -> PointPlan:
    """One plan version whose point is in the actor's jurisdiction."""
    plan = session.get(PointPlan, plan_id)
    if plan is None or not is_unit_visible(session=session, user=actor, unit_id=plan.point.unit_id):
        raise NotFoundError(f"point plan {plan_id} not found")
    return plan


def current_plan(*, session: Session, point_id: int) -> PointPlan | None:
    """The approved plan in force for a point, if any (no permission check: internal use)."""
    stmt = select(PointPlan).where(
        PointPlan.point_id == point_id, PointPlan.status == PlanStatus.approved
    )
    return session.scalar(stmt.order_by(PointPlan.version.desc()).limit(1))


def approve_plan(*, session: Session, plan_id: int, actor: Actor) -> PointPlan:
    """Approve a draft (district): it comes into force and the one before is superseded."""
    plan = get_plan(session=session, plan_id=plan_id, actor=actor)
    _require(actor, HazardAction.approve_plans, "approve point plans")
    if plan.status is not PlanStatus.draft:
        raise ConflictError(f"plan version {plan.version} is {plan.status.value}, not a draft")
    now = utcnow()
    for older in session.scalars(
        select(PointPlan).where(
            PointPlan.point_id == plan.point_id, PointPlan.status == PlanStatus.approved
        )
    ):
        before = snapshot(older)
        older.status = PlanStatus.superseded
        record_update(session=session, actor=actor, obj=older, before=before)
    before = snapshot(plan)
    plan.status = PlanStatus.approved
    plan.approved_at = now
    plan.approved_by_id = actor.id if isinstance(actor, User) else None
    plan.approved_by_name = actor.username if actor is not None else "system"
    flush_or_conflict(session, "plan approval")
    record_update(session=session, actor=actor, obj=plan, before=before)
    return plan


# --- inspection plans --------------------------------------------------------------------------


def inspection_plan_read(plan: InspectionPlan) -> InspectionPlanRead:
    """The wire shape of an inspection plan."""
    return InspectionPlanRead(
        id=plan.id,
        name=plan.name,
        unit_id=plan.unit_id,
        point_ids=[p.id for p in plan.points],
        inspector_person_id=plan.inspector_person_id,
        interval_s=plan.interval_s,
        starts_at=plan.starts_at,
        active=plan.active,
    )


def _plan_snapshot(plan: InspectionPlan) -> dict[str, Any]:
    return snapshot(plan) | {"point_ids": sorted(p.id for p in plan.points)}


def _plan_points(session: Session, actor: Actor, point_ids: Sequence[int]) -> list[HazardPoint]:
    if len(set(point_ids)) != len(point_ids):
        raise ValidationFailed("a point is listed twice", loc=("body", "point_ids"))
    return [
        _body_point(session, actor, pid, ("body", "point_ids", i))
        for i, pid in enumerate(point_ids)
    ]


def create_inspection_plan(
    *, session: Session, plan_in: InspectionPlanCreate, actor: Actor
) -> InspectionPlan:
    """Create an inspection plan (district; a unit for its own points)."""
    _require(actor, HazardAction.manage_points, "manage inspection plans")
    unit_in_body(session, actor, plan_in.unit_id, ("body", "unit_id"))
    _body_person(session, actor, plan_in.inspector_person_id, ("body", "inspector_person_id"))
    points = _plan_points(session, actor, plan_in.point_ids)
    plan = InspectionPlan(**plan_in.model_dump(exclude={"point_ids"}))
    plan.points = points
    session.add(plan)
    flush_or_conflict(session, "inspection plan")
    record_create(session=session, actor=actor, obj=plan, snap=_plan_snapshot)
    return plan


def get_inspection_plan(*, session: Session, plan_id: int, actor: Actor) -> InspectionPlan:
    """An inspection plan of a unit in the actor's jurisdiction."""
    plan = session.get(InspectionPlan, plan_id)
    if plan is None or not is_unit_visible(session=session, user=actor, unit_id=plan.unit_id):
        raise NotFoundError(f"inspection plan {plan_id} not found")
    return plan


def list_inspection_plans(
    *, session: Session, actor: Actor, limit: int = 100, offset: int = 0
) -> tuple[list[InspectionPlan], int]:
    """Inspection plans of units in the actor's jurisdiction, by name."""
    stmt = select(InspectionPlan)
    visible = visible_unit_ids(session=session, user=actor)
    if visible is not None:
        stmt = stmt.where(InspectionPlan.unit_id.in_(sorted(visible)))
    return paginate(session, stmt.order_by(InspectionPlan.name, InspectionPlan.id), limit, offset)


def update_inspection_plan(
    *, session: Session, plan_id: int, plan_in: InspectionPlanUpdate, actor: Actor
) -> InspectionPlan:
    """Change an inspection plan."""
    plan = get_inspection_plan(session=session, plan_id=plan_id, actor=actor)
    _require(actor, HazardAction.manage_points, "manage inspection plans")
    changes = plan_in.model_dump(exclude_unset=True, exclude={"point_ids"})
    for field in ("name", "interval_s", "active"):
        if field in changes and changes[field] is None:
            raise ValidationFailed("must not be null", loc=("body", field))
    if "inspector_person_id" in changes:
        _body_person(
            session, actor, changes["inspector_person_id"], ("body", "inspector_person_id")
        )
    with audited_update(session=session, actor=actor, obj=plan, snap=_plan_snapshot):
        for key, value in changes.items():
            setattr(plan, key, value)
        if plan_in.point_ids is not None:
            plan.points = _plan_points(session, actor, plan_in.point_ids)
        flush_or_conflict(session, "inspection plan")
    return plan


def delete_inspection_plan(*, session: Session, plan_id: int, actor: Actor) -> None:
    """Delete an inspection plan (its records stay, unlinked)."""
    plan = get_inspection_plan(session=session, plan_id=plan_id, actor=actor)
    _require(actor, HazardAction.manage_points, "manage inspection plans")
    audited_delete(
        session=session,
        actor=actor,
        obj=plan,
        snap=_plan_snapshot,
        flush=lambda s: flush_or_conflict(s, "inspection plan"),
    )


def overdue_inspections(
    *, session: Session, actor: Actor, now: datetime | None = None
) -> list[OverdueInspection]:
    """Points of active plans whose next inspection is past due, most overdue first.

    A point is due ``interval_s`` after its last inspection (any record of that point), or at the
    plan's start when it was never inspected.
    """
    now = now or utcnow()
    plans, _ = list_inspection_plans(session=session, actor=actor, limit=10_000)
    last_by_point: dict[int, datetime] = {
        pid: at
        for pid, at in session.execute(
            select(InspectionRecord.point_id, func.max(InspectionRecord.inspected_at)).group_by(
                InspectionRecord.point_id
            )
        )
        if at is not None
    }
    out: list[OverdueInspection] = []
    for plan in plans:
        if not plan.active:
            continue
        for point in plan.points:
            if point.status is not PointStatus.active:
                continue
            last = last_by_point.get(point.id)
            if last is not None and last.tzinfo is None:
                last = last.replace(tzinfo=now.tzinfo)
            due = (last + timedelta(seconds=plan.interval_s)) if last else plan.starts_at
            if due < now:
                out.append(
                    OverdueInspection(
                        plan_id=plan.id,
                        plan_name=plan.name,
                        unit_id=plan.unit_id,
                        point_id=point.id,
                        point_code=point.code,
                        point_name=point.name,
                        last_inspected_at=last,
                        due_at=due,
                        overdue_s=int((now - due).total_seconds()),
                    )
                )
    out.sort(key=lambda o: (-o.overdue_s, o.point_code))
    return out


# --- inspection records ------------------------------------------------------------------------


def create_inspection(
    *, session: Session, record_in: InspectionRecordCreate, actor: Actor
) -> InspectionRecord:
    """Record an inspection (district, unit, inspector). ``has_finding`` defaults to "some
    checklist item is not ok"."""
    _require(actor, HazardAction.record_inspections, "record inspections")
    point = _body_point(session, actor, record_in.point_id, ("body", "point_id"))
    if record_in.plan_id is not None:
        plan = session.get(InspectionPlan, record_in.plan_id)
        if plan is None or point not in plan.points:
            raise ValidationFailed(
                f"inspection plan {record_in.plan_id} does not cover this point",
                loc=("body", "plan_id"),
            )
    _body_person(session, actor, record_in.inspector_person_id, ("body", "inspector_person_id"))
    if record_in.inspected_at > utcnow() + timedelta(minutes=5):
        raise ValidationFailed(
            "an inspection cannot be in the future", loc=("body", "inspected_at")
        )
    checklist = [c.model_dump(exclude_none=True) for c in record_in.checklist]
    has_finding = record_in.has_finding
    if has_finding is None:
        has_finding = any(not c.ok for c in record_in.checklist)
    record = InspectionRecord(
        point_id=point.id,
        plan_id=record_in.plan_id,
        inspected_at=record_in.inspected_at,
        inspector_person_id=record_in.inspector_person_id,
        recorded_by=actor.username if actor is not None else "system",
        gps_lon=record_in.gps_lon,
        gps_lat=record_in.gps_lat,
        checklist=checklist,
        notes=record_in.notes,
        has_finding=has_finding,
    )
    session.add(record)
    flush_or_conflict(session, "inspection")
    record_create(session=session, actor=actor, obj=record)
    return record


def get_inspection(*, session: Session, record_id: int, actor: Actor) -> InspectionRecord:
    """An inspection record of a point in the actor's jurisdiction."""
    record = session.get(InspectionRecord, record_id)
    if record is None or not is_unit_visible(
        session=session, user=actor, unit_id=record.point.unit_id
    ):
        raise NotFoundError(f"inspection {record_id} not found")
    return record


def list_inspections(
    *,
    session: Session,
    actor: Actor,
    point_id: int | None = None,
    since: datetime | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[InspectionRecord], int]:
    """Inspection records in the actor's jurisdiction, newest first."""
    stmt = _scope_points(
        select(InspectionRecord).join(HazardPoint, HazardPoint.id == InspectionRecord.point_id),
        session=session,
        actor=actor,
    )
    if point_id is not None:
        stmt = stmt.where(InspectionRecord.point_id == point_id)
    if since is not None:
        stmt = stmt.where(InspectionRecord.inspected_at >= since)
    stmt = stmt.order_by(InspectionRecord.inspected_at.desc(), InspectionRecord.id.desc())
    return paginate(session, stmt, limit, offset)


# --- rectifications ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Transition:
    """One allowed move: from which states, to which, and who may make it."""

    sources: frozenset[RectificationStatus]
    target: RectificationStatus
    needs: HazardAction


S = RectificationStatus
#: The state machine. "advance" moves belong to the owning unit, the rest to the district.
TRANSITIONS: Final[dict[str, Transition]] = {
    "start": Transition(frozenset({S.open}), S.in_progress, HazardAction.advance_rectifications),
    "submit": Transition(
        frozenset({S.in_progress}), S.submitted, HazardAction.advance_rectifications
    ),
    "resume": Transition(
        frozenset({S.rejected}), S.in_progress, HazardAction.advance_rectifications
    ),
    "verify": Transition(frozenset({S.submitted}), S.verified, HazardAction.verify_rectifications),
    "reject": Transition(frozenset({S.submitted}), S.rejected, HazardAction.verify_rectifications),
    "close": Transition(frozenset({S.verified}), S.closed, HazardAction.verify_rectifications),
}


def is_overdue(rect: Rectification, now: datetime | None = None) -> bool:
    """True when the rectification still needs work by its unit and its deadline has passed."""
    return rect.status in OPEN_STATES and rect.deadline < (now or utcnow())


def rectification_read(rect: Rectification, now: datetime | None = None) -> RectificationRead:
    """The wire shape of a rectification, with the overdue flag and its history."""
    return RectificationRead(
        id=rect.id,
        point_id=rect.point_id,
        unit_id=rect.point.unit_id,
        inspection_id=rect.inspection_id,
        finding=rect.finding,
        measure=rect.measure,
        deadline=rect.deadline,
        responsible_person_id=rect.responsible_person_id,
        status=rect.status,
        overdue=is_overdue(rect, now),
        closed_at=rect.closed_at,
        created_at=rect.created_at,
        updated_at=rect.updated_at,
        events=[RectificationEventRead.model_validate(e) for e in rect.events],
        version=rect.version,
    )


def allowed_actions(rect: Rectification, actor: Actor) -> list[str]:
    """The transitions ``actor`` may make on ``rect`` now (for the workflow page's buttons)."""
    return [
        name for name, t in TRANSITIONS.items() if rect.status in t.sources and can(actor, t.needs)
    ]


def create_rectification(
    *, session: Session, rect_in: RectificationCreate, actor: Actor
) -> Rectification:
    """Open a rectification for a finding (district, unit, inspector)."""
    _require(actor, HazardAction.open_rectifications, "open rectifications")
    point = _body_point(session, actor, rect_in.point_id, ("body", "point_id"))
    if rect_in.inspection_id is not None:
        record = session.get(InspectionRecord, rect_in.inspection_id)
        if record is None or record.point_id != point.id:
            raise ValidationFailed(
                f"inspection {rect_in.inspection_id} is not an inspection of this point",
                loc=("body", "inspection_id"),
            )
    _body_person(session, actor, rect_in.responsible_person_id, ("body", "responsible_person_id"))
    rect = Rectification(**rect_in.model_dump(), status=RectificationStatus.open)
    rect.events = [
        RectificationEvent(
            action="open",
            from_status=None,
            to_status=RectificationStatus.open.value,
            comment=rect_in.finding,
            actor_id=actor.id if actor is not None else None,
            actor_username=actor.username if actor is not None else "system",
        )
    ]
    session.add(rect)
    flush_or_conflict(session, "rectification")
    record_create(session=session, actor=actor, obj=rect)
    return rect


def get_rectification(*, session: Session, rect_id: int, actor: Actor) -> Rectification:
    """A rectification of a point in the actor's jurisdiction."""
    rect = session.get(Rectification, rect_id)
    if rect is None or not is_unit_visible(session=session, user=actor, unit_id=rect.point.unit_id):
        raise NotFoundError(f"rectification {rect_id} not found")
    return rect


def transition_rectification(
    *,
    session: Session,
    rect_id: int,
    action: str,
    comment: str,
    actor: Actor,
    now: datetime | None = None,
    expected_version: int | None = None,
) -> Rectification:
    """Move a rectification along its state machine, with a comment; audited. A stale
    ``expected_version`` (the one the person saw) → :class:`~fangxun.errors.StaleVersion`.

    Outside the jurisdiction → :class:`NotFoundError`; a move the role may not make →
    :class:`PermissionDeniedError`; a move not allowed from the current state →
    :class:`ConflictError`; a blank comment → :class:`ValidationFailed`.
    """
    rect = get_rectification(session=session, rect_id=rect_id, actor=actor)
    versioning.check_version(session, rect, expected_version, f"rectification {rect_id}")
    transition = TRANSITIONS.get(action)
    if transition is None:
        raise ValidationFailed(
            f"unknown action {action!r}; one of {', '.join(TRANSITIONS)}", loc=("body", "action")
        )
    if not can(actor, transition.needs):
        who = (
            "the owning unit"
            if transition.needs is HazardAction.advance_rectifications
            else ("the district flood-control office")
        )
        role = actor.role.value if isinstance(actor, User) else "system"
        raise PermissionDeniedError(f"only {who} may {action} a rectification (role {role!r})")
    if rect.status not in transition.sources:
        raise ConflictError(
            f"cannot {action} a rectification that is {rect.status.value} "
            f"(only from {', '.join(sorted(s.value for s in transition.sources))})"
        )
    comment = (comment or "").strip()
    if not comment:
        raise ValidationFailed(
            "a comment is required for every transition", loc=("body", "comment")
        )
    now = now or utcnow()
    before = snapshot(rect)
    previous = rect.status
    rect.status = transition.target
    rect.closed_at = now if transition.target is RectificationStatus.closed else None
    rect.events.append(
        RectificationEvent(
            action=action,
            from_status=previous.value,
            to_status=transition.target.value,
            comment=comment,
            actor_id=actor.id if actor is not None else None,
            actor_username=actor.username if actor is not None else "system",
            at=now,
        )
    )
    flush_or_conflict(session, "rectification")
    record_change(
        session=session,
        actor=actor,
        action=AuditAction.update,
        obj=rect,
        before=before,
        after=snapshot(rect) | {"transition": action, "comment": comment},
    )
    return rect


def list_rectifications(
    *,
    session: Session,
    actor: Actor,
    point_id: int | None = None,
    unit_id: int | None = None,
    status: RectificationStatus | None = None,
    overdue: bool | None = None,
    now: datetime | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[Rectification], int]:
    """Rectifications in the actor's jurisdiction, by deadline (earliest first)."""
    now = now or utcnow()
    stmt = _scope_points(
        select(Rectification).join(HazardPoint, HazardPoint.id == Rectification.point_id),
        session=session,
        actor=actor,
    )
    if point_id is not None:
        stmt = stmt.where(Rectification.point_id == point_id)
    if unit_id is not None:
        stmt = stmt.where(HazardPoint.unit_id == unit_id)
    if status is not None:
        stmt = stmt.where(Rectification.status == status)
    if overdue is not None:
        cond = and_(Rectification.status.in_(OPEN_STATES), Rectification.deadline < now)
        stmt = stmt.where(cond if overdue else ~cond)
    stmt = stmt.order_by(Rectification.deadline, Rectification.id)
    return paginate(session, stmt, limit, offset)


# --- statistics --------------------------------------------------------------------------------


def ledger_stats(
    *,
    session: Session,
    actor: Actor,
    window_s: int = DEFAULT_COVERAGE_WINDOW_S,
    now: datetime | None = None,
) -> LedgerStats:
    """Per unit and kind: points, open and overdue rectifications, inspection coverage.

    Coverage is the share of active points with an inspection in the last ``window_s`` s.
    """
    if window_s <= 0:
        raise ValidationFailed("must be positive", loc=("query", "window_s"))
    now = now or utcnow()
    since = now - timedelta(seconds=window_s)
    points, _ = list_points(session=session, actor=actor, limit=1_000_000)
    counts = rectification_counts(session=session, point_ids=[p.id for p in points], now=now)
    inspected = set(
        session.scalars(
            select(InspectionRecord.point_id)
            .where(InspectionRecord.inspected_at >= since)
            .distinct()
        )
    )
    units = {u.id: u for u in session.scalars(select(Unit))}
    acc: dict[tuple[int, HazardKind], list[int]] = {}
    for p in points:
        row = acc.setdefault((p.unit_id, p.kind), [0, 0, 0, 0, 0])
        unclosed, overdue = counts.get(p.id, (0, 0))
        row[0] += 1
        row[2] += unclosed
        row[3] += overdue
        if p.status is PointStatus.active:
            row[1] += 1
            if p.id in inspected:
                row[4] += 1
    rows = [
        LedgerStatRow(
            unit_id=unit_id,
            unit_code=units[unit_id].code,
            unit_name=units[unit_id].name_zh,
            kind=kind,
            points=v[0],
            active_points=v[1],
            open_rectifications=v[2],
            overdue_rectifications=v[3],
            inspected_points=v[4],
            inspection_coverage=round(v[4] / v[1], 4) if v[1] else None,
        )
        for (unit_id, kind), v in sorted(
            acc.items(), key=lambda kv: (units[kv[0][0]].code, kv[0][1].value)
        )
    ]
    return LedgerStats(window_s=window_s, rows=rows)


# --- GeoJSON -----------------------------------------------------------------------------------


def point_feature(
    point: HazardPoint, counts: Mapping[int, tuple[int, int]] | None = None
) -> dict[str, Any]:
    """A point as an RFC 7946 Feature (lon, lat) with its ledger properties."""
    read = point_read(point, counts)
    props = read.model_dump(mode="json", exclude={"lon", "lat", "id"})
    return {
        "type": "Feature",
        "id": point.id,
        "geometry": {"type": "Point", "coordinates": [point.lon, point.lat]},
        "properties": props,
    }


__all__ = [
    "DEFAULT_COVERAGE_WINDOW_S",
    "OPEN_STATES",
    "ROLE_ACTIONS",
    "TRANSITIONS",
    "HazardAction",
    "MapPoint",
    "PointFilter",
    "add_attachment",
    "allowed_actions",
    "approve_plan",
    "can",
    "create_inspection",
    "create_inspection_plan",
    "create_plan",
    "create_point",
    "create_rectification",
    "current_plan",
    "default_thresholds_cm",
    "delete_inspection_plan",
    "delete_point",
    "get_attachment",
    "get_inspection",
    "get_inspection_plan",
    "get_plan",
    "get_point",
    "get_rectification",
    "inspection_plan_read",
    "is_overdue",
    "ledger_stats",
    "list_attachments",
    "list_inspection_plans",
    "list_inspections",
    "list_plans",
    "list_points",
    "list_rectifications",
    "map_points",
    "map_points_version",
    "overdue_inspections",
    "point_feature",
    "point_read",
    "points_read",
    "rectification_counts",
    "rectification_read",
    "thresholds_of",
    "transition_rectification",
    "update_inspection_plan",
    "update_point",
]
