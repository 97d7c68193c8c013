"""Point plans (一点一策): the tasks a hazard point's approved plan creates when its trigger is
met."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from fangxun.errors import NotFoundError
from fangxun.hazards.models import HazardPoint, PlanStatus, PointPlan
from fangxun.org.models import Person
from fangxun.response.models import ResponseTask, TaskStatus
from fangxun.response.service.common import COLOURS, _aware, rank_of_colour
from fangxun.response.service.levels import current_level

log = logging.getLogger(__name__)


def _number(value: Any) -> float | None:
    if value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def trigger_met(trigger: Mapping[str, Any], *, colour: str | None, depth_m: float | None) -> bool:
    """True when a point plan's trigger is met by a warning colour or a ponding depth, m.

    A trigger names a colour (met at that colour or stronger) and/or a ponding depth (stored as
    ``ponding_cm`` by the hazard ledger, or ``ponding_m``; met at that depth or deeper). Rain
    triggers are not judged here (they need a gauge series; the rainstorm rules cover them).

    >>> trigger_met({"colour": "yellow"}, colour="orange", depth_m=None)
    True
    >>> trigger_met({"ponding_cm": 27.0}, colour=None, depth_m=0.2)
    False
    """
    wanted = trigger.get("colour")
    if wanted in COLOURS and colour in COLOURS and rank_of_colour(colour) >= rank_of_colour(wanted):
        return True
    limit_m = _number(trigger.get("ponding_m"))
    if limit_m is None and (cm := _number(trigger.get("ponding_cm"))) is not None:
        limit_m = cm / 100.0
    return limit_m is not None and depth_m is not None and depth_m >= limit_m


def apply_point_trigger(
    *,
    session: Session,
    hazard_point_id: int,
    colour: str,
    depth_m: float | None,
    source_ref: str,
    at: datetime,
) -> list[ResponseTask]:
    """Turn the approved point plan of a hazard point into tasks for its people when one of its
    triggers is met by the warning ``colour`` or the ponding depth ``depth_m`` (m).

    Once per activation: a second call while the same response runs creates nothing. Without a
    running response, a measure gets a new task only when its previous one is finished (done or
    not applicable). Returns the tasks created (empty when none).
    """
    at = _aware(at, "at")
    point = session.get(HazardPoint, hazard_point_id)
    if point is None:
        raise NotFoundError(f"hazard point {hazard_point_id} not found")
    plan = session.scalar(
        select(PointPlan)
        .where(PointPlan.point_id == point.id, PointPlan.status == PlanStatus.approved)
        .order_by(PointPlan.version.desc())
        .limit(1)
    )
    if plan is None:
        return []
    triggers = plan.triggers if isinstance(plan.triggers, list) else []
    if not any(
        isinstance(t, dict) and trigger_met(t, colour=colour, depth_m=depth_m) for t in triggers
    ):
        return []
    activation = current_level(session=session, unit_id=point.unit_id)
    created: list[ResponseTask] = []
    measures = plan.measures if isinstance(plan.measures, list) else []
    for i, measure in enumerate(measures):
        if not isinstance(measure, dict) or not str(measure.get("action") or "").strip():
            log.warning("point plan %s: measure %d has no action; skipped", plan.id, i)
            continue
        if activation is not None:
            key: str | None = f"act:{activation.id}:point-plan:{plan.id}:{i}"
            if session.scalar(select(ResponseTask.id).where(ResponseTask.dedupe_key == key)):
                continue
        else:
            key = None
            open_task = session.scalar(
                select(ResponseTask.id).where(
                    ResponseTask.activation_id.is_(None),
                    ResponseTask.point_plan_id == plan.id,
                    ResponseTask.measure_index == i,
                    ResponseTask.status.in_([TaskStatus.pending, TaskStatus.confirmed]),
                )
            )
            if open_task is not None:
                continue
        person_id = measure.get("responsible_person_id") or point.responsible_person_id
        person = session.get(Person, person_id) if isinstance(person_id, int) else None
        task = ResponseTask(
            dedupe_key=key,
            activation_id=activation.id if activation else None,
            level=activation.level if activation else None,
            hazard_point_id=point.id,
            point_plan_id=plan.id,
            measure_index=i,
            # The unit of the person who acts (their unit's users confirm it), else the point's.
            unit_id=person.unit_id if person is not None else point.unit_id,
            person_id=person.id if person is not None else None,
            sort_order=i + 1,
            action=f"{point.name}: {str(measure['action']).strip()}",
            details={k: measure[k] for k in ("team", "equipment", "supplies") if measure.get(k)}
            | {"point_code": point.code, "colour": colour, "depth_m": depth_m},
            requires_confirmation=True,
            status=TaskStatus.pending,
            source_ref=source_ref,
        )
        session.add(task)
        created.append(task)
    session.flush()
    if created:
        log.info(
            "point plan %s of %s: %d task(s) from %s", plan.id, point.code, len(created), source_ref
        )
    return created
