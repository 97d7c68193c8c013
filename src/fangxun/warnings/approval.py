"""Forecaster approval of predicted-ponding warnings (as Delft-FEWS's forecaster promotes a run).

The rules of :data:`~fangxun.warning_rules.WarningRules.approval_kinds` (predicted ponding by
default) do not change warnings by themselves. :func:`fangxun.warnings.service.evaluate` hands
their decisions here, per evaluation:

* a decision whose colour is in ``approval_auto_colours`` (a raise or issue), or a lowering or
  lift with ``approval_auto_lower``, goes out at once, and is kept as an *approved* proposal
  decided by ``auto`` (every approval is audited, the automatic ones too);
* the others become **one pending proposal per forecast run** (:class:`WarningProposal`): a
  later evaluation of the same run refreshes its items, a newer run's proposal supersedes it but
  keeps its deadline, a run whose proposal was rejected is not proposed again;
* a duty officer (``admin``, ``district``, ``duty``) approves the whole proposal in one click
  (:func:`approve`): its changes go out then, recorded under the officer's name, audited; or
  rejects it with a reason (:func:`reject`), audited;
* a pending proposal still unapproved at ``deadline_at`` is escalated once to the leader on duty
  (:func:`escalate_overdue`, run by every evaluation with the evaluation's clock).

Each proposal says what changed since the last approved run (``diff``). Drills never wait.
Keyword-only functions that never commit.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from fangxun.audit.service import (
    SystemActor,
    actor_username,
    record_create,
    record_update,
    snapshot,
)
from fangxun.config import Settings
from fangxun.db.types import utcnow
from fangxun.errors import ConflictError, NotFoundError
from fangxun.org.permissions import Actor, require_role
from fangxun.warnings.models import (
    ChangeType,
    Colour,
    Origin,
    ProposalStatus,
    WarningChange,
    WarningKind,
    WarningProposal,
    rank,
)

logger = logging.getLogger(__name__)

#: Who automatic approvals are recorded under (audit and ``decided_by``).
AUTO_ACTOR: Final = SystemActor(username="auto-approval")
#: Event key prefix of an escalated proposal's notification.
ESCALATION_KEY: Final = "approval-overdue"


@dataclass(frozen=True)
class Gate:
    """What the approval configuration says about one decision."""

    needs_approval: bool
    automatic: bool


def gate(
    *,
    kind: WarningKind,
    purpose: str,
    change_type: ChangeType,
    to_colour: Colour | None,
    settings: Settings,
) -> Gate:
    """Whether a rule decision waits for approval, goes out automatically by the configuration,
    or is not subject to approval at all (other kinds, drills)."""
    r = settings.warning_rules
    if kind.value not in r.approval_kinds or purpose != "operational":
        return Gate(needs_approval=False, automatic=False)
    if change_type in (ChangeType.issue, ChangeType.upgrade):
        auto = to_colour is not None and to_colour.value in r.approval_auto_colours
    else:
        auto = r.approval_auto_lower
    return Gate(needs_approval=not auto, automatic=auto)


def item_of(
    *,
    subject: str,
    kind: WarningKind,
    change_type: ChangeType,
    from_colour: Colour | None,
    to_colour: Colour | None,
    scope: dict[str, Any],
    evidence: dict[str, Any],
) -> dict[str, Any]:
    """One proposed change as JSON (the scope is the warning's unit, point, place …)."""
    return {
        "subject": subject,
        "kind": kind.value,
        "change_type": change_type.value,
        "from_colour": from_colour.value if from_colour else None,
        "to_colour": to_colour.value if to_colour else None,
        **{k: scope.get(k) for k in ("unit_id", "hazard_point_id", "place")},
        "evidence": evidence,
    }


def _run_id(items: list[dict[str, Any]]) -> int | None:
    for item in items:
        run = (item.get("evidence") or {}).get("forecast_run_id")
        if run is not None:
            return int(run)
    return None


def _pending(session: Session) -> list[WarningProposal]:
    stmt = (
        select(WarningProposal)
        .where(WarningProposal.status == ProposalStatus.pending)
        .order_by(WarningProposal.id.desc())
    )
    return list(session.scalars(stmt))


def last_approved(*, session: Session) -> WarningProposal | None:
    """The latest approved proposal (by a person or automatically)."""
    stmt = (
        select(WarningProposal)
        .where(WarningProposal.status == ProposalStatus.approved)
        .order_by(WarningProposal.decided_at.desc(), WarningProposal.id.desc())
        .limit(1)
    )
    return session.scalars(stmt).first()


def _peak(item: dict[str, Any]) -> float | None:
    value = (item.get("evidence") or {}).get("peak_depth_m")
    return float(value) if value is not None else None


def diff_since(
    items: list[dict[str, Any]], approved: WarningProposal | None
) -> list[dict[str, Any]]:
    """What changed since the last approved run, per subject: ``new`` (that run proposed nothing
    here), ``raised``/``lowered``/``same`` (its colour against this one's) or ``dropped`` (that
    run proposed a change here, this one none), with both peaks, m."""
    before = {i["subject"]: i for i in (approved.items if approved else [])}
    out: list[dict[str, Any]] = []
    for item in items:
        old = before.get(item["subject"])
        entry = {
            "subject": item["subject"],
            "place": item.get("place"),
            "previous_colour": old.get("to_colour") if old else None,
            "colour": item.get("to_colour"),
            "previous_peak_m": _peak(old) if old else None,
            "peak_m": _peak(item),
        }
        if old is None:
            entry["change"] = "new"
        else:
            a, b = rank(old.get("to_colour")), rank(item.get("to_colour"))
            entry["change"] = "raised" if b > a else "lowered" if b < a else "same"
        out.append(entry)
    seen = {i["subject"] for i in items}
    for subject, old in before.items():
        if subject not in seen:
            out.append(
                {
                    "subject": subject,
                    "place": old.get("place"),
                    "previous_colour": old.get("to_colour"),
                    "colour": None,
                    "previous_peak_m": _peak(old),
                    "peak_m": None,
                    "change": "dropped",
                }
            )
    return out


def record_automatic(
    *,
    session: Session,
    items: list[dict[str, Any]],
    change_ids: list[int],
    now: datetime,
) -> WarningProposal:
    """Keep changes that went out automatically (by colour) as an approved proposal, audited."""
    proposal = WarningProposal(
        forecast_run_id=_run_id(items),
        status=ProposalStatus.approved,
        created_at=now,
        updated_at=now,
        deadline_at=now,
        items=items,
        diff=diff_since(items, last_approved(session=session)),
        decided_at=now,
        decided_by=AUTO_ACTOR.username,
        decision_note="automatic by colour (approval_auto_colours / approval_auto_lower)",
        applied_change_ids=change_ids,
    )
    session.add(proposal)
    session.flush()
    record_create(session=session, actor=AUTO_ACTOR, obj=proposal)
    return proposal


def sync_pending(
    *, session: Session, items: list[dict[str, Any]], now: datetime, settings: Settings
) -> WarningProposal | None:
    """Make the pending proposal say ``items`` (this evaluation's decisions that wait).

    Same run as the pending proposal: its items are refreshed. A newer run: the pending one is
    superseded and a new one keeps the earlier deadline (and escalation). Nothing waits any
    more: the pending one is withdrawn. A run whose proposal was rejected is not proposed again.
    """
    pending = _pending(session)
    if not items:
        for p in pending:
            p.status = ProposalStatus.withdrawn
            p.updated_at = now
        session.flush()
        return None
    run_id = _run_id(items)
    rejected = session.scalars(
        select(WarningProposal.id).where(
            WarningProposal.status == ProposalStatus.rejected,
            WarningProposal.forecast_run_id == run_id,
        )
    ).first()
    if run_id is not None and rejected is not None:
        return None
    same = [p for p in pending if p.forecast_run_id == run_id]
    if same:
        current = same[0]
        if current.items != items:
            current.items = items
            current.diff = diff_since(items, last_approved(session=session))
            current.updated_at = now
        for p in pending:
            if p is not current:
                p.status = ProposalStatus.superseded
        session.flush()
        return current
    deadline = now + timedelta(seconds=settings.warning_rules.approval_deadline_s)
    escalated = None
    for p in pending:
        deadline = min(deadline, p.deadline_at)
        escalated = escalated or p.escalated_at
        p.status = ProposalStatus.superseded
        p.updated_at = now
    proposal = WarningProposal(
        forecast_run_id=run_id,
        status=ProposalStatus.pending,
        created_at=now,
        updated_at=now,
        deadline_at=deadline,
        items=items,
        diff=diff_since(items, last_approved(session=session)),
        supersedes_id=pending[0].id if pending else None,
        escalated_at=escalated,
        escalation_note="escalated with the proposal it supersedes" if escalated else None,
    )
    session.add(proposal)
    session.flush()
    logger.info(
        "warning proposal %s: %d change(s) of forecast run %s wait for approval until %s",
        proposal.id,
        len(items),
        run_id,
        deadline.isoformat(),
    )
    return proposal


# --- reading -----------------------------------------------------------------------------------


def list_proposals(
    *, session: Session, actor: Actor, limit: int = 20, status: ProposalStatus | None = None
) -> list[WarningProposal]:
    """Proposals, pending first, then newest (every role reads them: district-wide, like the
    forecast runs they come from; deciding is for ``admin``, ``district``, ``duty``)."""
    del actor  # every login reads them
    stmt = select(WarningProposal)
    if status is not None:
        stmt = stmt.where(WarningProposal.status == status)
    rows = list(session.scalars(stmt.order_by(WarningProposal.id.desc()).limit(limit)))
    return sorted(rows, key=lambda p: (p.status is not ProposalStatus.pending, -p.id))


def pending_proposal(*, session: Session) -> WarningProposal | None:
    """The proposal waiting for approval, if any (there is at most one)."""
    found = _pending(session)
    return found[0] if found else None


def get_proposal(*, session: Session, proposal_id: int, actor: Actor) -> WarningProposal:
    """One proposal (every role); :class:`NotFoundError` otherwise."""
    del actor  # every login reads them
    found = session.get(WarningProposal, proposal_id)
    if found is None:
        raise NotFoundError(f"warning proposal {proposal_id} not found")
    return found


# --- deciding ----------------------------------------------------------------------------------


def _pending_or_conflict(session: Session, proposal_id: int, actor: Actor) -> WarningProposal:
    proposal = get_proposal(session=session, proposal_id=proposal_id, actor=actor)
    if proposal.status is not ProposalStatus.pending:
        raise ConflictError(
            f"warning proposal {proposal_id} is {proposal.status.value}, not pending"
        )
    return proposal


def apply_items(
    *,
    session: Session,
    items: list[dict[str, Any]],
    actor: str,
    reason: str | None,
    at: datetime,
    settings: Settings,
) -> list[WarningChange]:
    """Bring each item's subject to its proposed colour from what is in force *now* (an item
    already met, e.g. by an automatic red meanwhile, changes nothing)."""
    from fangxun.warnings import service

    active = service._active_by_subject(session)
    changes: list[WarningChange] = []
    for item in items:
        subject = item["subject"]
        current = active.get(subject)
        target = Colour(item["to_colour"]) if item.get("to_colour") else None
        if current is None:
            if target is None:
                continue
            change_type = ChangeType.issue
            current = service._new_warning(
                None,
                subject=subject,
                kind=WarningKind(item["kind"]),
                colour=target,
                origin=Origin.rule,
                at=at,
                unit_id=item.get("unit_id"),
                hazard_point_id=item.get("hazard_point_id"),
                place=item.get("place"),
            )
            session.add(current)
        elif target is None:
            change_type = ChangeType.lift
        elif rank(target) > rank(current.colour):
            change_type = ChangeType.upgrade
        elif rank(target) < rank(current.colour):
            change_type = ChangeType.downgrade
        else:
            continue
        changes.append(
            service._record(
                session=session,
                warning=current,
                change_type=change_type,
                to_colour=target,
                at=at,
                actor=actor,
                reason=reason,
                evidence=item.get("evidence"),
                settings=settings,
                notify=False,
            )
        )
    from fangxun.warnings import flows, verification

    verification.record_warnings(session=session, changes=changes)
    flows.notify_changes(session=session, changes=changes, settings=settings)
    return changes


def approve(
    *,
    session: Session,
    proposal_id: int,
    actor: Actor,
    settings: Settings,
    note: str | None = None,
    at: datetime | None = None,
) -> WarningProposal:
    """Approve a pending proposal (``admin``, ``district``, ``duty``): its changes go out now,
    recorded under the officer's name; audited. A proposal no longer pending is a conflict."""
    from fangxun.warnings.service import MANAGERS

    require_role(actor, MANAGERS, "approve warnings")
    at = at or utcnow()
    proposal = _pending_or_conflict(session, proposal_id, actor)
    before = snapshot(proposal)
    who = actor_username(actor)
    run = proposal.forecast_run_id
    changes = apply_items(
        session=session,
        items=list(proposal.items),
        actor=who,
        reason=f"批准预报 #{run} / forecast #{run} approved" + (f": {note}" if note else ""),
        at=at,
        settings=settings,
    )
    proposal.status = ProposalStatus.approved
    proposal.decided_at = at
    proposal.decided_by = who[:64]
    proposal.decision_note = note
    proposal.applied_change_ids = [c.id for c in changes]
    proposal.updated_at = at
    session.flush()
    record_update(session=session, actor=actor, obj=proposal, before=before)
    return proposal


def reject(
    *,
    session: Session,
    proposal_id: int,
    actor: Actor,
    reason: str,
    at: datetime | None = None,
) -> WarningProposal:
    """Reject a pending proposal with a reason (``admin``, ``district``, ``duty``); audited.
    Nothing goes out, and the same run is not proposed again."""
    from fangxun.warnings.service import MANAGERS

    require_role(actor, MANAGERS, "reject warnings")
    at = at or utcnow()
    proposal = _pending_or_conflict(session, proposal_id, actor)
    before = snapshot(proposal)
    proposal.status = ProposalStatus.rejected
    proposal.decided_at = at
    proposal.decided_by = actor_username(actor)[:64]
    proposal.decision_note = reason
    proposal.updated_at = at
    session.flush()
    record_update(session=session, actor=actor, obj=proposal, before=before)
    return proposal


# --- escalation --------------------------------------------------------------------------------


def _escalation_text(proposal: WarningProposal, waited_s: float) -> tuple[str, str]:
    from fangxun.notify.markdown import escape as md
    from fangxun.warnings.service import COLOUR_NAMES

    n = len(proposal.items)
    subject = f"【待审批超时】积水预报预警 {n} 项未批准 / {n} predicted warning(s) unapproved"
    lines = [
        f"### {md(subject)}",
        f"- 预报 Forecast run: #{proposal.forecast_run_id}",
        f"- 等待 Waited: {waited_s / 60:.0f} min",
    ]
    for item in proposal.items:
        colour = item.get("to_colour")
        name = COLOUR_NAMES[colour][0] if colour else "解除 lift"
        lines.append(f"- {md(item.get('place') or item['subject'])}: {name}")
    lines.append(f"- 审批 Approve: /warnings#proposal-{proposal.id}")
    return subject, "\n".join(lines)


def escalate_overdue(*, session: Session, now: datetime) -> list[WarningProposal]:
    """Tell the leader on duty of each pending proposal past its deadline, once; returns the
    proposals escalated. Nobody to tell is noted on the proposal and logged."""
    from fangxun.notify import service as notify

    stmt = select(WarningProposal).where(
        WarningProposal.status == ProposalStatus.pending,
        WarningProposal.escalated_at.is_(None),
        WarningProposal.deadline_at <= now,
    )
    escalated: list[WarningProposal] = []
    for proposal in session.scalars(stmt.order_by(WarningProposal.id)):
        leader = notify.leader_on_duty(session=session, unit_id=None, at=now)
        targets = notify.person_recipients(session=session, person=leader) if leader else []
        if leader is None:
            note = "no leader on duty to escalate to"
        elif not targets:
            note = f"leader on duty {leader.name} has no contact channel"
        else:
            subject, markdown = _escalation_text(
                proposal, (now - proposal.created_at).total_seconds()
            )
            notify.enqueue(
                session=session,
                event_key=f"{ESCALATION_KEY}:{proposal.id}",
                subject=subject,
                markdown=markdown,
                recipients=targets,
                unit_id=None,
                requires_ack=True,
                refs=[f"warning-proposal:{proposal.id}"],
            )
            note = f"escalated to {leader.name}"
        if not targets:
            logger.warning("warning proposal %s overdue: %s", proposal.id, note)
        proposal.escalated_at = now
        proposal.escalation_note = note[:300]
        escalated.append(proposal)
    session.flush()
    return escalated
