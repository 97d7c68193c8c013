"""Briefings: generated from what exists (live figures of duty, incidents, shortages, teams),
sections of missing domains marked not available, decisions as tasks, PDF export."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session
from weasyprint import HTML
from weasyprint.formatting_structure.boxes import TextBox

from factories import make_unit
from fangxun.audit.service import SystemActor
from fangxun.briefings import service
from fangxun.briefings.models import TaskStatus
from fangxun.briefings.schemas import BriefingCreate, TaskCreate
from fangxun.duty import service as duty
from fangxun.duty.models import DutyRole
from fangxun.duty.schemas import AssignmentIn, ShiftCreate
from fangxun.errors import PermissionDeniedError, ValidationFailed
from fangxun.incidents import service as incidents
from fangxun.incidents.models import IncidentKind, IncidentStatus
from fangxun.incidents.schemas import IncidentCreate, TransitionIn
from fangxun.org import service as org_service
from fangxun.org.models import Role, UnitKind, User
from fangxun.org.schemas import PersonCreate
from fangxun.supplies import service as supplies
from fangxun.supplies.schemas import ItemCreate, QuotaIn, ReceiveIn, TeamCreate, WarehouseCreate

SYSTEM = SystemActor(username="briefing-tests")
NOW = datetime(2026, 7, 20, 9, 0, tzinfo=UTC)


@pytest.fixture
def situation(db_session: Session) -> dict[str, int]:
    """A small live situation: a shift on duty, two open incidents, a shortage, two teams."""
    s = db_session
    d = make_unit(s, "D", name_zh="高新区", actor=SYSTEM).id
    a = make_unit(s, "A", UnitKind.street_office, d, name_zh="梧桐办事处", actor=SYSTEM).id
    leader = org_service.create_person(
        session=s,
        person_in=PersonCreate(name="王带班", unit_id=d, phone="13700000001"),
        actor=SYSTEM,
    ).id
    member = org_service.create_person(
        session=s, person_in=PersonCreate(name="李值班", unit_id=d), actor=SYSTEM
    ).id
    duty.create_shift(
        session=s,
        shift_in=ShiftCreate(
            unit_id=d,
            starts_at=NOW - timedelta(hours=1),
            ends_at=NOW + timedelta(hours=23),
            assignments=[
                AssignmentIn(person_id=leader, role=DutyRole.leader),
                AssignmentIn(person_id=member),
            ],
        ),
        actor=SYSTEM,
    )
    team = supplies.create_team(
        session=s, team_in=TeamCreate(unit_id=a, name="梧桐抢险队"), actor=SYSTEM
    ).id
    supplies.create_team(session=s, team_in=TeamCreate(unit_id=a, name="沟赵抢险队"), actor=SYSTEM)
    for k, title in enumerate(("科学大道下穿积水", "西四环小区进水")):
        iid = incidents.report(
            session=s,
            incident_in=IncidentCreate(
                unit_id=a,
                kind=IncidentKind.ponding,
                title=title,
                reported_at=NOW - timedelta(minutes=30 - k),
            ),
            actor=SYSTEM,
        ).id
        if k == 0:
            incidents.transition(
                session=s,
                incident_id=iid,
                transition_in=TransitionIn(
                    to_status=IncidentStatus.dispatched,
                    team_id=team,
                    at=NOW - timedelta(minutes=24),
                ),
                actor=SYSTEM,
            )
    wh = supplies.create_warehouse(
        session=s,
        warehouse_in=WarehouseCreate(code="W1", name_zh="梧桐仓库", unit_id=a),
        actor=SYSTEM,
    ).id
    bag = supplies.create_item(
        session=s,
        item_in=ItemCreate(code="BAG", name_zh="编织袋", unit_of_measure="条"),
        actor=SYSTEM,
    ).id
    supplies.set_quota(
        session=s, warehouse_id=wh, quota_in=QuotaIn(item_id=bag, quantity=2000), actor=SYSTEM
    )
    supplies.receive(
        session=s, warehouse_id=wh, receive_in=ReceiveIn(item_id=bag, quantity=1500), actor=SYSTEM
    )
    return {"leader": leader}


def test_briefing_contains_the_live_figures(db_session: Session, situation: dict[str, int]) -> None:
    briefing = service.generate(
        session=db_session, briefing_in=BriefingCreate(as_of=NOW), actor=SYSTEM
    )
    sections = briefing.content["sections"]
    assert list(sections) == list(service.SECTION_KEYS)
    inc = sections["incidents"]["data"]
    assert inc["open"] == 2 and inc["by_status"] == {"reported": 1, "dispatched": 1}
    assert inc["last_24h"]["dispatch_mean_s"] == pytest.approx(360.0)
    duty_team = sections["duty"]["data"]["teams"][0]
    assert duty_team["leader"] == "王带班" and duty_team["members"] == ["李值班"]
    short = sections["shortages"]["data"]["items"]
    assert [(r["item"], r["shortfall"]) for r in short] == [("编织袋", 500)]
    teams = sections["teams"]["data"]
    assert teams["by_readiness"]["standby"] == 1 and teams["by_readiness"]["deployed"] == 1
    # Every section is there and available: forecast and warnings are called explicitly.
    for key, section in sections.items():
        assert section["available"], (key, section["reason"])
    assert sections["forecast"]["data"] == {"in_force": None, "points_at_risk": [], "scenarios": []}
    assert sections["warnings"]["data"]["signal"] is None
    assert sections["warnings"]["data"]["count"] == 0


def test_decisions_become_tasks_and_the_pdf_has_them(
    db_session: Session, situation: dict[str, int]
) -> None:
    briefing = service.generate(
        session=db_session, briefing_in=BriefingCreate(as_of=NOW), actor=SYSTEM
    )
    with pytest.raises(ValidationFailed, match="before the meeting"):
        service.add_task(
            session=db_session,
            briefing_id=briefing.id,
            task_in=TaskCreate(
                decision="x", owner_person_id=situation["leader"], deadline=NOW - timedelta(hours=1)
            ),
            actor=SYSTEM,
        )
    task = service.add_task(
        session=db_session,
        briefing_id=briefing.id,
        task_in=TaskCreate(
            decision="调派泵车两台支援科学大道下穿",
            owner_person_id=situation["leader"],
            deadline=NOW + timedelta(hours=2),
        ),
        actor=SYSTEM,
    )
    assert [t.id for t in service.open_tasks(session=db_session, actor=SYSTEM)] == [task.id]
    html = service.render_html(briefing)
    assert "调派泵车两台支援科学大道下穿" in html and "王带班" in html and "500" in html
    assert service.export_pdf(briefing).startswith(b"%PDF-")
    # What the PDF is made of: the laid-out text, set in an embedded CJK font (not tofu boxes).
    document = HTML(string=html).render()
    document.write_pdf()
    text = "".join(
        box.text
        for page in document.pages
        for box in page._page_box.descendants()
        if isinstance(box, TextBox)
    )
    assert "科学大道下穿积水" in text and "调派泵车两台支援科学大道下穿" in text
    assert any(b"CJK" in getattr(font, "name", b"") for font in document.fonts.values())
    service.set_task_status(
        session=db_session, task_id=task.id, status=TaskStatus.done, actor=SYSTEM
    )
    assert service.open_tasks(session=db_session, actor=SYSTEM) == []


def test_only_conveners_generate(db_session: Session, situation: dict[str, int]) -> None:
    viewer = User(username="v", password_hash="x", role=Role.viewer)
    db_session.add(viewer)
    db_session.flush()
    with pytest.raises(PermissionDeniedError):
        service.generate(session=db_session, briefing_in=BriefingCreate(), actor=viewer)
