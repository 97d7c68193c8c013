"""Forecaster approval of predicted-ponding warnings: the gate, automatic colours, one-click
approval with its audit and what changed since the last approved run, rejection, superseding
runs, and the escalation of an unapproved proposal to the leader on duty (injected clock)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from warn_helpers import World, run

from fangxun.audit.models import AuditEntry
from fangxun.config import Settings
from fangxun.duty.models import DutyAssignment, DutyRole, DutyShift
from fangxun.errors import ConflictError, PermissionDeniedError
from fangxun.forecast.models import ForecastPointResult, ForecastRun, RainSource, RunStatus
from fangxun.notify.models import Notification
from fangxun.org.models import Person, Role, User
from fangxun.warnings import approval, service
from fangxun.warnings.config import WarningRules
from fangxun.warnings.models import (
    ChangeType,
    Colour,
    ProposalStatus,
    Warning,
    WarningKind,
    WarningProposal,
)

T0 = datetime(2026, 7, 20, 8, 0, tzinfo=UTC)
THR = {"blue": 0.15, "yellow": 0.27, "orange": 0.40, "red": 0.50}


def _settings(settings: Settings, **kw: object) -> Settings:
    rules = WarningRules(enabled=["predicted_ponding"], **kw)  # type: ignore[arg-type]
    return settings.model_copy(update={"warning_rules": rules})


def _user(session: Session, role: Role, name: str = "officer") -> User:
    user = User(username=f"{name}-{role.value}", password_hash="x", role=role)
    session.add(user)
    session.flush()
    return user


def _forecast(
    session: Session, world: World, *, issued: datetime, peaks: dict[int, float]
) -> ForecastRun:
    """A done single-member run whose depth at each point rises linearly to its peak in 1 h."""
    fr = ForecastRun(
        status=RunStatus.done,
        rain_source=RainSource.design,
        params={},
        members=1,
        horizon_s=3 * 3600,
        created_by="t",
        issued_at=issued,
        finished_at=issued,
    )
    session.add(fr)
    session.flush()
    for point_id, peak in peaks.items():
        ttt = {c: (3600.0 * thr / peak if peak >= thr else None) for c, thr in THR.items()}
        session.add(
            ForecastPointResult(
                run_id=fr.id,
                point_id=point_id,
                row=0,
                col=0,
                times_s=[0, 3600],
                depth_m=[0, peak],
                peak_depth_m=peak,
                peak_time_s=3600,
                time_to_threshold_s=ttt,
                probability={c: 1.0 if t is not None else 0.0 for c, t in ttt.items()},
                member_peaks_m=[peak],
                thresholds_m=THR,
            )
        )
    session.flush()
    return fr


def _warnings(session: Session) -> dict[str, Colour]:
    return {
        w.subject: w.colour
        for w in session.scalars(select(Warning).where(Warning.status == "active"))
    }


def _audit(session: Session, proposal: WarningProposal) -> list[AuditEntry]:
    return list(
        session.scalars(
            select(AuditEntry).where(
                AuditEntry.object_type == "warning_proposal",
                AuditEntry.object_id == str(proposal.id),
            )
        )
    )


def test_predicted_warnings_wait_for_one_click_approval_which_is_audited(
    db_session: Session, settings: Settings, world: World
) -> None:
    s = _settings(settings)  # defaults: red automatic, the others on approval
    a, b = world.point_a.id, world.point_b.id
    run_1 = _forecast(db_session, world, issued=T0, peaks={a: 0.30, b: 0.20})
    assert run(db_session, s, T0) == []  # nothing goes out before approval
    assert _warnings(db_session) == {}
    assert db_session.scalars(select(Notification)).all() == []
    pending = approval.pending_proposal(session=db_session)
    assert pending is not None and pending.forecast_run_id == run_1.id
    assert {(i["subject"], i["to_colour"]) for i in pending.items} == {
        (f"predicted_ponding:{a}", "yellow"),
        (f"predicted_ponding:{b}", "blue"),
    }
    assert {d["change"] for d in pending.diff or []} == {"new"}
    # The next evaluation of the same run refreshes, never duplicates.
    assert run(db_session, s, T0 + timedelta(minutes=5)) == []
    assert approval.pending_proposal(session=db_session).id == pending.id  # type: ignore[union-attr]

    with pytest.raises(PermissionDeniedError):
        approval.approve(
            session=db_session,
            proposal_id=pending.id,
            actor=_user(db_session, Role.viewer),
            settings=s,
        )
    officer = _user(db_session, Role.duty)
    at = T0 + timedelta(minutes=7)
    done = approval.approve(
        session=db_session, proposal_id=pending.id, actor=officer, settings=s, at=at
    )
    assert done.status is ProposalStatus.approved and done.decided_by == officer.username
    assert _warnings(db_session) == {
        f"predicted_ponding:{a}": Colour.yellow,
        f"predicted_ponding:{b}": Colour.blue,
    }
    made = [c for w in db_session.scalars(select(Warning)) for c in w.changes]
    assert {c.actor for c in made} == {officer.username} and {c.at for c in made} == {at}
    assert sorted(done.applied_change_ids or []) == sorted(c.id for c in made)
    assert all(c.cap_xml for c in made)
    entries = _audit(db_session, done)
    assert [e.actor_username for e in entries] == [officer.username]
    assert entries[0].before["status"] == "pending" and entries[0].after["status"] == "approved"
    # Notifications went out with the approval.
    assert db_session.scalars(select(Notification)).all()
    with pytest.raises(ConflictError):
        approval.approve(session=db_session, proposal_id=done.id, actor=officer, settings=s)
    # Nothing left to approve for this run.
    assert run(db_session, s, T0 + timedelta(minutes=10)) == []
    assert approval.pending_proposal(session=db_session) is None

    # A newer run raises one point: the proposal says what changed since the approved run.
    _forecast(db_session, world, issued=T0 + timedelta(minutes=15), peaks={a: 0.45, b: 0.20})
    run(db_session, s, T0 + timedelta(minutes=15))
    nxt = approval.pending_proposal(session=db_session)
    assert nxt is not None
    assert [
        (i["subject"], i["change_type"], i["from_colour"], i["to_colour"]) for i in nxt.items
    ] == [(f"predicted_ponding:{a}", "upgrade", "yellow", "orange")]
    diff = {d["subject"]: d for d in nxt.diff or []}
    assert diff[f"predicted_ponding:{a}"]["change"] == "raised"
    assert diff[f"predicted_ponding:{a}"]["previous_colour"] == "yellow"
    assert diff[f"predicted_ponding:{b}"]["change"] == "dropped"


def test_colours_configured_automatic_go_out_at_once_and_are_audited_as_automatic(
    db_session: Session, settings: Settings, world: World
) -> None:
    a, b = world.point_a.id, world.point_b.id
    _forecast(db_session, world, issued=T0, peaks={a: 0.60, b: 0.30})
    changes = run(db_session, _settings(settings, approval_auto_colours=["red"]), T0)
    # Red at A goes out automatically; yellow at B waits.
    assert [(c.warning.subject, c.to_colour, c.actor) for c in changes] == [
        (f"predicted_ponding:{a}", Colour.red, service.RULES_ACTOR)
    ]
    auto = db_session.scalars(
        select(WarningProposal).where(WarningProposal.status == ProposalStatus.approved)
    ).one()
    assert auto.decided_by == approval.AUTO_ACTOR.username
    assert auto.applied_change_ids == [changes[0].id]
    assert [e.actor_username for e in _audit(db_session, auto)] == [approval.AUTO_ACTOR.username]
    pending = approval.pending_proposal(session=db_session)
    assert pending is not None
    assert [i["subject"] for i in pending.items] == [f"predicted_ponding:{b}"]


def test_with_no_automatic_colour_even_red_waits_and_all_four_is_fully_automatic(
    db_session: Session, settings: Settings, world: World
) -> None:
    a = world.point_a.id
    _forecast(db_session, world, issued=T0, peaks={a: 0.60})
    assert run(db_session, _settings(settings, approval_auto_colours=[]), T0) == []
    full = _settings(settings, approval_auto_colours=["blue", "yellow", "orange", "red"])
    changes = run(db_session, full, T0 + timedelta(minutes=1))
    assert [(c.change_type, c.to_colour) for c in changes] == [(ChangeType.issue, Colour.red)]
    # The pending proposal is withdrawn: nothing waits any more.
    assert approval.pending_proposal(session=db_session) is None


def test_rejected_run_is_not_proposed_again_and_a_newer_run_keeps_the_deadline(
    db_session: Session, settings: Settings, world: World
) -> None:
    s = _settings(settings, approval_deadline_s=900)
    a = world.point_a.id
    _forecast(db_session, world, issued=T0, peaks={a: 0.30})
    run(db_session, s, T0)
    first = approval.pending_proposal(session=db_session)
    assert first is not None and first.deadline_at == T0 + timedelta(minutes=15)
    officer = _user(db_session, Role.district)
    approval.reject(
        session=db_session, proposal_id=first.id, actor=officer, reason="雷达回波已减弱"
    )
    assert [e.after["status"] for e in _audit(db_session, first)] == ["rejected"]
    run(db_session, s, T0 + timedelta(minutes=5))
    assert approval.pending_proposal(session=db_session) is None
    # A newer run proposes again; a third one supersedes it and keeps its deadline.
    _forecast(db_session, world, issued=T0 + timedelta(minutes=10), peaks={a: 0.30})
    run(db_session, s, T0 + timedelta(minutes=10))
    second = approval.pending_proposal(session=db_session)
    assert second is not None and second.deadline_at == T0 + timedelta(minutes=25)
    _forecast(db_session, world, issued=T0 + timedelta(minutes=20), peaks={a: 0.42})
    run(db_session, s, T0 + timedelta(minutes=20))
    third = approval.pending_proposal(session=db_session)
    assert third is not None and third.id != second.id
    assert second.status is ProposalStatus.superseded and third.supersedes_id == second.id
    assert third.deadline_at == second.deadline_at
    assert _warnings(db_session) == {}


def _leader_on_duty(session: Session, world: World, email: str) -> Person:
    leader = Person(name="带班领导", unit_id=world.district, email=email, phone="13800000000")
    session.add(leader)
    session.flush()
    shift = DutyShift(
        unit_id=world.district,
        starts_at=T0 - timedelta(hours=2),
        ends_at=T0 + timedelta(hours=22),
    )
    shift.assignments = [DutyAssignment(person_id=leader.id, role=DutyRole.leader)]
    session.add(shift)
    session.flush()
    return leader


def test_an_unapproved_proposal_escalates_to_the_leader_on_duty_once_at_its_deadline(
    db_session: Session, settings: Settings, world: World
) -> None:
    s = _settings(settings, approval_deadline_s=900)
    _leader_on_duty(db_session, world, "leader@example.cn")
    a = world.point_a.id
    _forecast(db_session, world, issued=T0, peaks={a: 0.30})
    run(db_session, s, T0)
    proposal = approval.pending_proposal(session=db_session)
    assert proposal is not None

    def leader_messages() -> list[Notification]:
        return list(
            db_session.scalars(
                select(Notification).where(Notification.address == "leader@example.cn")
            )
        )

    run(db_session, s, T0 + timedelta(minutes=14))  # the clock is injected: no sleeping
    assert leader_messages() == [] and proposal.escalated_at is None
    run(db_session, s, T0 + timedelta(minutes=15))
    sent = leader_messages()
    assert [(n.event_key, n.requires_ack) for n in sent] == [
        (f"{approval.ESCALATION_KEY}:{proposal.id}", True)
    ]
    assert "待审批超时" in sent[0].subject and "PA 下穿" in sent[0].markdown
    assert proposal.escalated_at == T0 + timedelta(minutes=15)
    assert proposal.escalation_note == "escalated to 带班领导"
    run(db_session, s, T0 + timedelta(minutes=30))
    assert len(leader_messages()) == 1  # once
    # Approving late still works, and the warning goes out then.
    approval.approve(
        session=db_session,
        proposal_id=proposal.id,
        actor=_user(db_session, Role.duty),
        settings=s,
        at=T0 + timedelta(minutes=31),
    )
    assert _warnings(db_session) == {f"predicted_ponding:{a}": Colour.yellow}


def test_an_approved_proposal_already_met_changes_nothing(
    db_session: Session, settings: Settings, world: World
) -> None:
    """An item whose colour is in force by the time of approval (e.g. raised by hand) is
    skipped; the others still go out."""
    s = _settings(settings)
    a = world.point_a.id
    _forecast(db_session, world, issued=T0, peaks={a: 0.30})
    run(db_session, s, T0)
    proposal = approval.pending_proposal(session=db_session)
    assert proposal is not None
    officer = _user(db_session, Role.admin)
    from fangxun.warnings.schemas import WarningIssue

    service.issue_warning(
        session=db_session,
        warning_in=WarningIssue(
            kind=WarningKind.predicted_ponding,
            colour=Colour.yellow,
            reason="值班员判断",
            hazard_point_id=a,
        ),
        actor=officer,
        settings=s,
        at=T0 + timedelta(minutes=1),
    )
    done = approval.approve(session=db_session, proposal_id=proposal.id, actor=officer, settings=s)
    assert done.applied_change_ids == []


def test_proposals_over_http(
    client: Any, db_session: Session, settings: Settings, world: World, make_user: Any
) -> None:
    """Every login reads proposals; only admin/district/duty approve; a second approval is a
    conflict; reject needs a reason."""
    _forecast(db_session, world, issued=T0, peaks={world.point_a.id: 0.30})
    run(db_session, _settings(settings), T0)
    pid = approval.pending_proposal(session=db_session).id  # type: ignore[union-attr]
    db_session.commit()
    viewer = make_user(Role.viewer).headers(client)
    duty = make_user(Role.duty).headers(client)
    listed = client.get("/api/v1/warnings/proposals", headers=viewer)
    assert listed.status_code == 200 and [p["id"] for p in listed.json()] == [pid]
    assert listed.json()[0]["items"][0]["to_colour"] == "yellow"
    url = f"/api/v1/warnings/proposals/{pid}"
    assert client.post(f"{url}/approve", json={}, headers=viewer).status_code == 403
    assert client.post(f"{url}/reject", json={"reason": ""}, headers=duty).status_code == 422
    done = client.post(f"{url}/approve", json={"note": "会商同意"}, headers=duty)
    assert done.status_code == 200 and done.json()["status"] == "approved"
    assert done.json()["applied_change_ids"]
    assert client.post(f"{url}/approve", json={}, headers=duty).status_code == 409
    assert client.get("/api/v1/warnings/proposals/999999", headers=viewer).status_code == 404
