"""Hazard points: thresholds, wire shapes, create / read / list / change / delete, the map
layer and the GeoJSON feature."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, cast

from sqlalchemy import Select, and_, case, exists, func, or_, select
from sqlalchemy.orm import Session

from fangxun import versioning
from fangxun.audit.models import AuditEntry
from fangxun.audit.service import (
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
from fangxun.hazards.models import (
    HazardKind,
    HazardPoint,
    InspectionRecord,
    PointStatus,
    Rectification,
)
from fangxun.hazards.schemas import (
    HazardPointCreate,
    HazardPointRead,
    HazardPointUpdate,
    Thresholds,
)
from fangxun.hazards.service.common import (
    CM_PER_M,
    OPEN_STATES,
    UNCLOSED_STATES,
    HazardAction,
    _body_person,
    _require,
    _require_point_writer,
    _scope_points,
    can,
)
from fangxun.org.jurisdiction import (
    descendant_unit_ids,
    is_unit_visible,
    unit_in_body,
)
from fangxun.org.models import User
from fangxun.org.permissions import Actor


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
    """Create a hazard point (district; a unit or an inspector inside its jurisdiction).

    ``thresholds_table`` is ``Settings.hazard_thresholds_cm``; it fills the thresholds when the
    request gives none.
    """
    _require_point_writer(actor)
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


#: What a ``report_points`` role (an inspector) may change on a point.
FIELD_EDITABLE: Final = frozenset(
    {"name", "kind", "lon", "lat", "polygon", "address", "description"}
)


def update_point(
    *,
    session: Session,
    point_id: int,
    point_in: HazardPointUpdate,
    actor: Actor,
    expected_version: int | None = None,
) -> HazardPoint:
    """Change a point (district; a unit inside its jurisdiction; an inspector its name, kind,
    position and description). ``expected_version`` is the
    version the change was made from: :class:`~fangxun.errors.StaleVersion` when it moved on."""
    point = get_point(session=session, point_id=point_id, actor=actor)
    _require_point_writer(actor)
    versioning.check_version(session, point, expected_version, f"hazard point {point.code!r}")
    changes = point_in.model_dump(exclude_unset=True, exclude={"thresholds_cm"})
    if not can(actor, HazardAction.manage_points):
        # An inspector corrects what a point is and where it lies; its owner, risk, thresholds
        # and status stay with the unit and the district.
        kept = sorted(set(point_in.model_dump(exclude_unset=True)) - FIELD_EDITABLE)
        if kept:
            raise PermissionDeniedError(
                f"role {actor.role.value if isinstance(actor, User) else 'system'!r} may not "
                f"change {', '.join(kept)} of a hazard point"
            )
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
