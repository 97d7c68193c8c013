"""Demo field work: the 贾鲁河/须水河 reach along the demo embankment points (水务局), its daily
patrol plan (巡堤查险) and one patrol walked three days ago, so the plan shows as overdue.

Idempotent (a reach with the code exists → nothing is made); never commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from fangxun.db.types import utcnow
from fangxun.demo.actor import DEMO_ACTOR
from fangxun.field import service
from fangxun.field.models import RiverReach
from fangxun.field.schemas import (
    PatrolCreate,
    PatrolFindingIn,
    PatrolPlanCreate,
    ReachCreate,
    TrackFix,
)
from fangxun.hazards.models import HazardKind, HazardPoint
from fangxun.org.models import Person, Unit

REACH_CODE: Final = "JLH-XLH"
#: Patrol interval of the demo plan, s (daily in the flood season).
PATROL_INTERVAL_S: Final = 86_400


@dataclass
class FieldSeedSummary:
    """What the field seed made."""

    reaches: int = 0
    plans: int = 0
    patrols: int = 0


def seed_field(*, session: Session, now: datetime | None = None) -> FieldSeedSummary:
    """Load the demo reach, its patrol plan and one past patrol."""
    now = now or utcnow()
    summary = FieldSeedSummary()
    if session.scalar(select(RiverReach.id).where(RiverReach.code == REACH_CODE)) is not None:
        return summary
    embankment = list(
        session.scalars(
            select(HazardPoint)
            .where(HazardPoint.kind == HazardKind.river_embankment)
            .order_by(HazardPoint.code)
        )
    )
    unit = session.scalar(select(Unit).where(Unit.code == "SWJ"))
    if len(embankment) < 2 or unit is None:
        return summary
    reach = service.create_reach(
        session=session,
        reach_in=ReachCreate(
            code=REACH_CODE,
            name="贾鲁河西流湖段（须水河沿岸）",
            river="贾鲁河",
            unit_id=unit.id,
            coordinates=[(p.lon, p.lat) for p in embankment],
        ),
        actor=DEMO_ACTOR,
    )
    summary.reaches += 1
    person = session.scalar(select(Person).where(Person.unit_id == unit.id).order_by(Person.id))
    plan = service.create_plan(
        session=session,
        plan_in=PatrolPlanCreate(
            name="贾鲁河巡堤查险",
            unit_id=unit.id,
            reach_id=reach.id,
            assignee_person_id=person.id if person else None,
            interval_s=PATROL_INTERVAL_S,
            starts_at=now - timedelta(days=7),
        ),
        actor=DEMO_ACTOR,
    )
    summary.plans += 1
    walked = embankment[:4]
    service.record_patrol(
        session=session,
        patrol_in=PatrolCreate(
            plan_id=plan.id,
            started_at=now - timedelta(days=3, hours=1),
            ended_at=now - timedelta(days=3),
            track=[TrackFix(lon=p.lon - 0.0002, lat=p.lat, accuracy_m=5.0) for p in walked],
            notes="堤顶路面完好",
            findings=[
                PatrolFindingIn(
                    lon=walked[1].lon - 0.0002,
                    lat=walked[1].lat,
                    note="迎水坡局部冲刷，需观察",
                    hazard_point_id=walked[1].id,
                )
            ],
        ),
        actor=DEMO_ACTOR,
        data_dir=Path("."),  # no photos: nothing is written
    )
    summary.patrols += 1
    return summary
