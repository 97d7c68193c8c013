"""The review: rectifications opened from confirmed causes, and each unit's progress on them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from fangxun.audit.service import actor_username, record_create, record_update, snapshot
from fangxun.config import Settings
from fangxun.db.types import utcnow
from fangxun.hazards import service as hazards_service
from fangxun.hazards.models import Rectification, RectificationStatus
from fangxun.hazards.schemas import RectificationCreate
from fangxun.org.models import Unit
from fangxun.org.permissions import Actor
from fangxun.reports.models import EventStatus, ReviewItem, StormEvent
from fangxun.reports.service.causes import causes_of, review_items_of
from fangxun.reports.service.common import CAUSE_MEASURES_ZH, cause_label
from fangxun.reports.service.events import get_event
from fangxun.reports.service.points import point_statistics


@dataclass
class ReviewOutcome:
    """What :func:`create_rectifications` did: items created and points skipped, with why."""

    created: list[ReviewItem] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)


def create_rectifications(
    *,
    session: Session,
    settings: Settings,
    event_id: int,
    actor: Actor,
    now: datetime | None = None,
) -> ReviewOutcome:
    """The review: every point with a confirmed cause and no review item yet gets a
    rectification in the hazard ledger (finding, the cause's measure, deadline, the point's
    responsible person, else its deputy). Points without a named person are skipped, saying so."""
    event = get_event(session=session, event_id=event_id)
    now = now or utcnow()
    deadline = now + timedelta(seconds=settings.report_rectification_deadline_s)
    done = {r.point_id for r in review_items_of(session=session, event=event)}
    by_point = {
        p.point_id: p
        for p in point_statistics(session=session, settings=settings, event=event, actor=actor)
    }
    out = ReviewOutcome()
    for cause in sorted(causes_of(session=session, event=event).values(), key=lambda c: c.point_id):
        if cause.point_id in done:
            continue
        point = hazards_service.get_point(session=session, point_id=cause.point_id, actor=actor)
        owner = point.responsible_person_id or point.deputy_person_id
        if owner is None:
            out.skipped.append((point.code, "no responsible person on the point"))
            continue
        ps = by_point.get(point.id)
        depth = f"最大积水 {ps.max_depth_m * 100:.0f} cm，" if ps is not None else ""
        problem = f"{event.name}：{point.name}{depth}原因：{cause_label(cause.cause)}" + (
            f"（{cause.evidence}）" if cause.evidence else ""
        )
        rect = hazards_service.create_rectification(
            session=session,
            rect_in=RectificationCreate(
                point_id=point.id,
                finding=problem,
                measure=CAUSE_MEASURES_ZH.get(cause.cause, CAUSE_MEASURES_ZH["other"]),
                deadline=deadline,
                responsible_person_id=owner,
            ),
            actor=actor,
        )
        item = ReviewItem(
            event_id=event.id,
            point_id=point.id,
            unit_id=point.unit_id,
            cause=cause.cause,
            problem=problem,
            rectification_id=rect.id,
            created_by=actor_username(actor),
            created_at=now,
            deadline=deadline,
            responsible_person_id=owner,
        )
        event.review_items.append(item)
        session.flush()
        record_create(session=session, actor=actor, obj=item)
        out.created.append(item)
    if out.created and event.status is not EventStatus.open:
        before = snapshot(event)
        event.status = EventStatus.reviewed
        session.flush()
        record_update(session=session, actor=actor, obj=event, before=before)
    return out


@dataclass
class UnitProgress:
    """Rectifications the reviews opened for one unit, by state."""

    unit_id: int
    unit_name: str
    total: int = 0
    closed: int = 0
    overdue: int = 0

    @property
    def open(self) -> int:
        """Not closed yet."""
        return self.total - self.closed


def review_progress(
    *, session: Session, events: Sequence[StormEvent], now: datetime | None = None
) -> list[UnitProgress]:
    """Per unit: the reviews' rectifications, closed and overdue."""
    now = now or utcnow()
    ids = [e.id for e in events]
    if not ids:
        return []
    rows = session.execute(
        select(ReviewItem, Rectification, Unit)
        .join(Unit, Unit.id == ReviewItem.unit_id)
        .outerjoin(Rectification, Rectification.id == ReviewItem.rectification_id)
        .where(ReviewItem.event_id.in_(ids))
    ).all()
    acc: dict[int, UnitProgress] = {}
    for item, rect, unit in rows:
        row = acc.setdefault(unit.id, UnitProgress(unit.id, unit.name_zh))
        row.total += 1
        if rect is not None and rect.status is RectificationStatus.closed:
            row.closed += 1
        elif item.deadline < now:
            row.overdue += 1
    return sorted(acc.values(), key=lambda r: r.unit_name)
