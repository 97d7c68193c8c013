"""Response levels IV → I: started, raised, lowered and stood down by decision, or proposed /
started by rule from warning signals; the checklist each level creates."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from fangxun.audit.service import record_create, record_update, snapshot
from fangxun.config import Settings
from fangxun.db.queries import flush_or_conflict
from fangxun.db.types import utcnow
from fangxun.errors import ConflictError, NotFoundError, ValidationFailed
from fangxun.org.permissions import Actor, require_role
from fangxun.response.models import (
    LEVEL_ORDER,
    ActivationStatus,
    ChangeStatus,
    ChangeType,
    LevelChange,
    ResponseActivation,
    ResponseLevel,
    ResponseTask,
    TaskStatus,
)
from fangxun.response.service.common import DECIDERS, RULE_ACTOR, _aware, _name, district_scope
from fangxun.response.service.plans import active_plan

log = logging.getLogger(__name__)


def current_level(*, session: Session, unit_id: int | None = None) -> ResponseActivation | None:
    """The running activation of a district (``None``: the district; a street office or department
    resolves to its district), or None when no response runs."""
    scope = district_scope(session=session, unit_id=unit_id)
    stmt = select(ResponseActivation).where(ResponseActivation.status == ActivationStatus.active)
    stmt = stmt.where(
        ResponseActivation.unit_id.is_(None)
        if scope is None
        else ResponseActivation.unit_id == scope
    )
    return session.scalar(stmt.order_by(ResponseActivation.id.desc()).limit(1))


def open_proposals(*, session: Session, unit_id: int | None = None) -> list[LevelChange]:
    """Rule proposals waiting for a person, strongest first."""
    scope = district_scope(session=session, unit_id=unit_id)
    stmt = select(LevelChange).where(LevelChange.status == ChangeStatus.proposed)
    stmt = stmt.where(
        LevelChange.unit_id.is_(None) if scope is None else LevelChange.unit_id == scope
    )
    items = list(session.scalars(stmt.order_by(LevelChange.id)))
    return sorted(items, key=lambda c: -(c.to_level.rank if c.to_level else 0))


def list_changes(
    *, session: Session, unit_id: int | None = None, limit: int = 100
) -> list[LevelChange]:
    """Level changes and proposals of a district, newest first."""
    scope = district_scope(session=session, unit_id=unit_id)
    stmt = select(LevelChange).where(
        LevelChange.unit_id.is_(None) if scope is None else LevelChange.unit_id == scope
    )
    return list(session.scalars(stmt.order_by(LevelChange.id.desc()).limit(limit)))


def list_activations(
    *, session: Session, unit_id: int | None = None, limit: int = 50
) -> list[ResponseActivation]:
    """Activations of a district, newest first."""
    scope = district_scope(session=session, unit_id=unit_id)
    stmt = select(ResponseActivation).where(
        ResponseActivation.unit_id.is_(None)
        if scope is None
        else ResponseActivation.unit_id == scope
    )
    return list(session.scalars(stmt.order_by(ResponseActivation.id.desc()).limit(limit)))


def _create_checklists(
    session: Session, activation: ResponseActivation, level: ResponseLevel, source_ref: str | None
) -> list[ResponseTask]:
    """Tasks of the plan's actions for ``level`` and every lower level not yet created in this
    activation (raising IV → II creates III and II; going back up creates nothing)."""
    plan = activation.plan
    if plan is None:
        return []
    done = set(activation.checklist_levels or [])
    todo = [lvl for lvl in LEVEL_ORDER if lvl.rank <= level.rank and lvl.value not in done]
    created: list[ResponseTask] = []
    for lvl in todo:
        for action in plan.actions:
            if action.level is not lvl:
                continue
            key = f"act:{activation.id}:action:{action.id}"
            if session.scalar(select(ResponseTask.id).where(ResponseTask.dedupe_key == key)):
                continue
            task = ResponseTask(
                dedupe_key=key,
                activation_id=activation.id,
                level=lvl,
                plan_action_id=action.id,
                unit_id=action.department_id,
                sort_order=action.sort_order,
                action=action.action,
                details={},
                requires_confirmation=action.requires_confirmation,
                status=TaskStatus.pending,
                source_ref=source_ref,
            )
            session.add(task)
            created.append(task)
    # A new list, so the JSON column sees the change.
    activation.checklist_levels = sorted(
        done | {lvl.value for lvl in todo}, key=lambda v: ResponseLevel(v).rank
    )
    session.flush()
    return created


def _supersede_proposals(
    session: Session, scope: int | None, level: ResponseLevel | None, at: datetime
) -> None:
    """Proposals overtaken by a level now in force (all of them on a stand-down)."""
    stmt = select(LevelChange).where(LevelChange.status == ChangeStatus.proposed)
    stmt = stmt.where(
        LevelChange.unit_id.is_(None) if scope is None else LevelChange.unit_id == scope
    )
    for proposal in session.scalars(stmt):
        if level is None or (
            proposal.to_level is not None and proposal.to_level.rank <= level.rank
        ):
            proposal.status = ChangeStatus.superseded
            proposal.decided_at = at
            proposal.decided_by = proposal.decided_by or "superseded"


def _apply_level(
    session: Session,
    *,
    scope: int | None,
    level: ResponseLevel,
    actor_name: str,
    at: datetime,
    rule: str | None,
    reason: str | None,
    source_ref: str | None,
    change: LevelChange | None = None,
) -> LevelChange:
    """Start, raise or lower the response of ``scope`` to ``level``; creates the checklists."""
    current = current_level(session=session, unit_id=scope)
    if current is None:
        plan = active_plan(session=session, unit_id=scope)
        activation = ResponseActivation(
            unit_id=scope,
            plan=plan,
            level=level,
            status=ActivationStatus.active,
            started_at=at,
            started_by=actor_name,
            rule=rule,
            reason=reason,
            source_ref=source_ref,
            checklist_levels=[],
        )
        session.add(activation)
        # A concurrent start hits the one-running-response index: a clear conflict, not a 500.
        flush_or_conflict(session, "a new response of the district")
        change_type, from_level = ChangeType.start, None
    else:
        if current.level is level:
            raise ConflictError(f"the response is already at level {level.value}")
        activation = current
        from_level = current.level
        change_type = ChangeType.raise_ if level.rank > current.level.rank else ChangeType.lower_
        activation.level = level
    if change is None:
        change = LevelChange(unit_id=scope, actor=actor_name, rule=rule, source_ref=source_ref)
        session.add(change)
    change.activation_id = activation.id
    change.change_type = change_type
    change.from_level = from_level
    change.to_level = level
    change.status = ChangeStatus.applied
    change.at = at
    change.reason = reason
    session.flush()
    _supersede_proposals(session, scope, level, at)
    if change_type is not ChangeType.lower_:
        _create_checklists(session, activation, level, source_ref)
    session.flush()
    log.info(
        "response %s → level %s (%s by %s)",
        change_type.value,
        level.value,
        rule or "decision",
        actor_name,
    )
    return change


def apply_warning_signal(
    *,
    session: Session,
    warning_kind: str,
    colour: str | None,
    unit_id: int | None,
    source_ref: str,
    at: datetime,
    settings: Settings,
) -> LevelChange | None:
    """Apply the configured rule to a warning signal (``settings.response_level_rules``, default
    yellow → IV, orange → III, red → II; level I only by decision), in ``propose`` or ``start``
    mode (``settings.response_rule_mode``).

    Returns the applied change or the new proposal, or None when the rule asks for nothing new:
    not a rainstorm signal, a colour without a rule, a lifted signal (rules never lower a level),
    a level already at or above the rule's, or a proposal already waiting at or above it.
    """
    at = _aware(at, "at")
    if warning_kind != "rainstorm" or colour is None:
        return None
    target_name = settings.response_level_rules.get(colour)
    if target_name is None:
        return None
    target = ResponseLevel(target_name)
    if target is ResponseLevel.I:  # also refused by Settings; a rule never starts level I
        return None
    scope = district_scope(session=session, unit_id=unit_id)
    current = current_level(session=session, unit_id=scope)
    if current is not None and current.level.rank >= target.rank:
        return None
    rule = f"rainstorm:{colour}→{target.value}"
    if settings.response_rule_mode == "start":
        return _apply_level(
            session,
            scope=scope,
            level=target,
            actor_name=RULE_ACTOR.username,
            at=at,
            rule=rule,
            reason=None,
            source_ref=source_ref,
        )
    waiting = open_proposals(session=session, unit_id=scope)
    if any(p.to_level is not None and p.to_level.rank >= target.rank for p in waiting):
        return None
    for proposal in waiting:  # a weaker proposal is overtaken by this one
        proposal.status = ChangeStatus.superseded
        proposal.decided_at = at
        proposal.decided_by = "superseded"
    proposal = LevelChange(
        unit_id=scope,
        activation_id=current.id if current else None,
        change_type=ChangeType.start if current is None else ChangeType.raise_,
        from_level=current.level if current else None,
        to_level=target,
        status=ChangeStatus.proposed,
        at=at,
        actor=RULE_ACTOR.username,
        rule=rule,
        source_ref=source_ref,
    )
    session.add(proposal)
    session.flush()
    log.info("response proposal: level %s (%s)", target.value, rule)
    return proposal


#: ``source_ref`` prefix of the changes an official CAP signal drove (``apply_official_signal``).
OFFICIAL_REF = "official-signal:"


def _driven_by_official(session: Session, activation: ResponseActivation) -> bool:
    """Whether the last applied change of ``activation`` came from an official signal (a person's
    decision since then takes the response over: a Cancel no longer ends it)."""
    stmt = (
        select(LevelChange)
        .where(
            LevelChange.activation_id == activation.id,
            LevelChange.status == ChangeStatus.applied,
        )
        .order_by(LevelChange.at.desc(), LevelChange.id.desc())
        .limit(1)
    )
    last = session.scalars(stmt).first()
    return last is not None and (last.source_ref or "").startswith(OFFICIAL_REF)


def _end_response(
    session: Session,
    activation: ResponseActivation,
    scope: int | None,
    *,
    actor_name: str,
    reason: str,
    at: datetime,
    rule: str | None = None,
    source_ref: str | None = None,
) -> LevelChange:
    """Stand ``activation`` down at ``at``: the applied change, the ended activation, and the
    open proposals lapse (a decision's and an official Cancel's common end)."""
    change = LevelChange(
        unit_id=scope,
        activation_id=activation.id,
        change_type=ChangeType.stand_down,
        from_level=activation.level,
        to_level=None,
        status=ChangeStatus.applied,
        at=at,
        actor=actor_name,
        rule=rule,
        source_ref=source_ref,
        reason=reason,
    )
    session.add(change)
    activation.status = ActivationStatus.ended
    activation.ended_at = at
    activation.ended_by = actor_name
    activation.end_reason = reason
    _supersede_proposals(session, scope, None, at)
    session.flush()
    return change


def apply_official_signal(
    *,
    session: Session,
    colour: str | None,
    source_ref: str,
    at: datetime,
    settings: Settings,
) -> LevelChange | None:
    """Apply an official (meteorological service) rainstorm signal to the district response.

    ``colour`` None means the signal was cancelled. ``source_ref`` must start with
    :data:`OFFICIAL_REF`. Raising goes through :func:`apply_warning_signal` (propose or start).
    Unlike the district's own rules, an official Update may *lower* the level and a Cancel *ends*
    the response — but only a response whose last change the official signal itself drove, and
    only in ``start`` mode; in ``propose`` mode the open official proposals above the new level
    are withdrawn and lowering / stand-down stay a decision.
    """
    if not source_ref.startswith(OFFICIAL_REF):
        raise ValueError(f"source_ref must start with {OFFICIAL_REF!r}: {source_ref!r}")
    at = _aware(at, "at")
    target_name = settings.response_level_rules.get(colour) if colour is not None else None
    target = ResponseLevel(target_name) if target_name is not None else None
    if target is ResponseLevel.I:
        target = None
    scope = district_scope(session=session, unit_id=None)
    for proposal in open_proposals(session=session, unit_id=scope):
        if (proposal.source_ref or "").startswith(OFFICIAL_REF) and (
            target is None
            or (proposal.to_level is not None and proposal.to_level.rank > target.rank)
        ):
            proposal.status = ChangeStatus.superseded
            proposal.decided_at = at
            proposal.decided_by = "superseded"
    current = current_level(session=session, unit_id=scope)
    if (
        current is not None
        and settings.response_rule_mode == "start"
        and _driven_by_official(session, current)
    ):
        if target is None:
            log.info("response stood down (official:cancel)")
            return _end_response(
                session,
                current,
                scope,
                actor_name=RULE_ACTOR.username,
                reason="official signal cancelled",
                at=at,
                rule="official:cancel",
                source_ref=source_ref,
            )
        if target.rank < current.level.rank:
            return _apply_level(
                session,
                scope=scope,
                level=target,
                actor_name=RULE_ACTOR.username,
                at=at,
                rule=f"official:{colour}→{target.value}",
                reason="official signal updated",
                source_ref=source_ref,
            )
    if target is None:
        session.flush()
        return None
    return apply_warning_signal(
        session=session,
        warning_kind="rainstorm",
        colour=colour,
        unit_id=None,
        source_ref=source_ref,
        at=at,
        settings=settings,
    )


def decide_level(
    *,
    session: Session,
    level: ResponseLevel,
    reason: str,
    actor: Actor,
    unit_id: int | None = None,
    at: datetime | None = None,
) -> LevelChange:
    """Start, raise or lower the response to ``level`` by decision (``district`` role)."""
    require_role(actor, DECIDERS, "decide the response level")
    if not reason.strip():
        raise ValidationFailed("give the reason of the decision", loc=("body", "reason"))
    scope = district_scope(session=session, unit_id=unit_id)
    before_act = current_level(session=session, unit_id=scope)
    before = snapshot(before_act) if before_act is not None else None
    change = _apply_level(
        session,
        scope=scope,
        level=level,
        actor_name=_name(actor),
        at=_aware(at, "at") if at else utcnow(),
        rule=None,
        reason=reason.strip(),
        source_ref=None,
    )
    activation = change.activation
    assert activation is not None
    if before is None:
        record_create(session=session, actor=actor, obj=activation)
    else:
        record_update(session=session, actor=actor, obj=activation, before=before)
    return change


def stand_down(
    *,
    session: Session,
    reason: str,
    actor: Actor,
    unit_id: int | None = None,
    at: datetime | None = None,
) -> LevelChange:
    """End the running response by decision (``district`` role); open proposals lapse."""
    require_role(actor, DECIDERS, "stand the response down")
    if not reason.strip():
        raise ValidationFailed("give the reason of the stand-down", loc=("body", "reason"))
    scope = district_scope(session=session, unit_id=unit_id)
    activation = current_level(session=session, unit_id=scope)
    if activation is None:
        raise ConflictError("no response is running")
    moment = _aware(at, "at") if at else utcnow()
    before = snapshot(activation)
    change = _end_response(
        session, activation, scope, actor_name=_name(actor), reason=reason.strip(), at=moment
    )
    record_update(session=session, actor=actor, obj=activation, before=before)
    return change


def decide_proposal(
    *,
    session: Session,
    change_id: int,
    confirm: bool,
    actor: Actor,
    reason: str | None = None,
) -> LevelChange:
    """Confirm (the level starts or rises now) or reject a rule's proposal (``district`` role)."""
    require_role(actor, DECIDERS, "decide on response proposals")
    proposal = session.get(LevelChange, change_id)
    if proposal is None or proposal.status is not ChangeStatus.proposed:
        raise NotFoundError(f"proposal {change_id} not found or already decided")
    assert proposal.to_level is not None
    now = utcnow()
    before = snapshot(proposal)
    if not confirm:
        proposal.status = ChangeStatus.rejected
        proposal.decided_by = _name(actor)
        proposal.decided_at = now
        proposal.reason = reason or proposal.reason
        session.flush()
        record_update(session=session, actor=actor, obj=proposal, before=before)
        return proposal
    current = current_level(session=session, unit_id=proposal.unit_id)
    if current is not None and current.level.rank >= proposal.to_level.rank:
        raise ConflictError(
            f"the response is already at level {current.level.value}; reject the proposal"
        )
    proposal.decided_by = _name(actor)
    proposal.decided_at = now
    change = _apply_level(
        session,
        scope=proposal.unit_id,
        level=proposal.to_level,
        actor_name=_name(actor),
        at=now,
        rule=proposal.rule,
        reason=reason or f"confirmed proposal of {proposal.rule}",
        source_ref=proposal.source_ref,
        change=proposal,
    )
    record_update(session=session, actor=actor, obj=change, before=before)
    return change
