"""Run purpose (issue 20 item 1): only operational runs are in force and raise live warnings.

The reproduction: a Chicago P = 50 a design-storm run made during a consultation, after an
operational run, became the forecast in force and ``warnings evaluate`` issued predicted-ponding
warnings as CAP ``Actual``. Now a design storm is a scenario unless named operational; an exercise
run raises CAP ``Exercise`` warnings that reach only its drill's people.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from lxml import etree
from sqlalchemy import Engine, select

from conftest import SYSTEM, Points
from fangxun.config import Settings
from fangxun.db import session_scope
from fangxun.db.types import utcnow
from fangxun.errors import ValidationFailed
from fangxun.forecast import flows, schedule, service
from fangxun.forecast.models import RunPurpose, RunStatus
from fangxun.forecast.schemas import DesignRain, ForecastRunCreate, NowcastRain
from fangxun.notify.models import Channel, ContactChannel, Notification
from fangxun.org.models import Person, Role
from fangxun.response.models import LevelChange
from fangxun.supplies.models import Drill, Team, TeamMember
from fangxun.warnings import cap
from fangxun.warnings import service as warnings
from fangxun.warnings.config import WarningRules
from fangxun.warnings.models import Warning, WarningPurpose

NS = {"cap": cap.CAP_NS}


def _wsettings(fsettings: Settings) -> Settings:
    rules = WarningRules(enabled=["predicted_ponding"], predicted_lead_s=3 * 3600.0)
    return fsettings.model_copy(update={"warning_rules": rules})


def _run(engine: Engine, settings: Settings, run_in: ForecastRunCreate) -> int:
    with session_scope(engine) as session:
        run_id = service.create_run(
            session=session, run_in=run_in, actor=SYSTEM, settings=settings
        ).id
    assert flows.execute_run(engine, run_id, settings, executor="serial") == RunStatus.done
    return run_id


def _chicago(**kw: object) -> ForecastRunCreate:
    return ForecastRunCreate(
        rain=DesignRain(return_period_years=50, duration_s=3600.0),
        horizon_s=5400.0,
        members=1,
        **kw,  # type: ignore[arg-type]
    )


def test_a_design_storm_run_after_an_operational_one_is_a_scenario_and_never_warns(
    engine: Engine, fsettings: Settings, points: Points
) -> None:
    s = _wsettings(fsettings)
    operational = _run(engine, s, ForecastRunCreate(rain=NowcastRain(), horizon_s=5400.0))
    what_if = _run(engine, s, _chicago())
    with session_scope(engine) as session:
        assert service.get_run(session=session, run_id=operational).purpose is (
            RunPurpose.operational
        )
        run = service.get_run(session=session, run_id=what_if)
        assert run.purpose is RunPurpose.scenario
        # The what-if floods the bowl, yet the forecast in force stays the operational run.
        assert run.summary is not None and run.summary["points_reaching"]["red"] > 0
        assert service.current_run(session=session).id == operational  # type: ignore[union-attr]
        assert service.run_read(session=session, run=run).is_current is False
        changes = warnings.evaluate(session=session, now=utcnow(), settings=s)
        assert changes == []
        assert session.scalars(select(Warning)).all() == []


def test_a_duty_officer_may_name_a_design_storm_operational_and_it_warns_as_actual(
    engine: Engine, fsettings: Settings, points: Points
) -> None:
    s = _wsettings(fsettings)
    run_id = _run(engine, s, _chicago(purpose=RunPurpose.operational))
    with session_scope(engine) as session:
        assert service.current_run(session=session).id == run_id  # type: ignore[union-attr]
        changes = warnings.evaluate(session=session, now=utcnow(), settings=s)
        assert changes and all(c.warning.purpose is WarningPurpose.operational for c in changes)
        doc = etree.fromstring(changes[0].cap_xml.encode())  # type: ignore[union-attr]
        assert doc.findtext("cap:status", namespaces=NS) == "Actual"
        assert warnings.recent_alerts(session=session)


def _drill(engine: Engine, unit_id: int) -> tuple[int, str]:
    """A drill of one team whose member has an e-mail; the unit's robot is not in the drill."""
    with session_scope(engine) as session:
        member = Person(name="演练队员", email="drill@example.cn", unit_id=unit_id)
        outsider = Person(name="值班长", email="leader@example.cn", unit_id=unit_id)
        session.add_all([member, outsider])
        session.flush()
        team = Team(unit_id=unit_id, name="抢险一队", leader_person_id=member.id)
        team.members = [TeamMember(person_id=member.id)]
        session.add(team)
        session.add(
            ContactChannel(unit_id=unit_id, channel=Channel.WECOM, address="https://robot/u")
        )
        session.add(ContactChannel(person_id=outsider.id, channel=Channel.EMAIL, address="x@y.cn"))
        session.flush()
        drill = Drill(
            unit_id=unit_id, held_on=date(2026, 7, 1), scenario="内涝", team_ids=[team.id]
        )
        session.add(drill)
        session.flush()
        return drill.id, "drill@example.cn"


def test_an_exercise_run_warns_as_exercise_to_the_drills_people_only(
    engine: Engine, fsettings: Settings, points: Points, app: FastAPI, make_user: Any
) -> None:
    s = _wsettings(fsettings)
    drill_id, address = _drill(engine, points.unit)
    run_id = _run(engine, s, _chicago(purpose=RunPurpose.exercise, drill_id=drill_id))
    with session_scope(engine) as session:
        assert service.current_run(session=session) is None  # a drill is never in force
        changes = warnings.evaluate(session=session, now=utcnow(), settings=s)
        assert changes
        for change in changes:
            w = change.warning
            assert w.purpose is WarningPurpose.exercise and w.drill_id == drill_id
            assert w.subject.startswith(f"exercise:{run_id}:predicted_ponding:")
            doc = etree.fromstring(change.cap_xml.encode())  # type: ignore[union-attr]
            assert doc.findtext("cap:status", namespaces=NS) == "Exercise"
            assert doc.findtext("cap:scope", namespaces=NS) == "Restricted"
        notes = session.scalars(select(Notification)).all()
        assert notes and {n.address for n in notes} == {address}
        assert all(n.subject.startswith("【演练") and not n.requires_ack for n in notes)
        # Never the public feed, the live lists or the response.
        assert warnings.recent_alerts(session=session) == []
        assert warnings.active_warnings(session=session, actor=SYSTEM) == []
        assert warnings.active_warnings(
            session=session, actor=SYSTEM, purpose=WarningPurpose.exercise
        )
        assert session.scalars(select(LevelChange)).all() == []
        with pytest.raises(Exception, match="not found"):
            warnings.get_alert(session=session, identifier=str(changes[0].cap_identifier))
    # The warnings page shows the drill's warnings apart, labelled, not among those in force.
    duty = make_user(Role.duty, points.unit)
    client = TestClient(app)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
    assert csrf
    data = {"username": duty.username, "password": duty.password, "csrf_token": csrf.group(1)}
    client.post("/login", data=data, follow_redirects=False)
    page = client.get("/warnings?lang=zh").text
    assert 'data-testid="exercise-warnings"' in page and "【演练】" in page
    assert 'data-testid="no-warnings"' in page
    with session_scope(engine) as session:
        # The drill ends with its run's horizon: its warnings are lifted.
        later = utcnow() + timedelta(hours=3)
        lifts = warnings.evaluate(session=session, now=later, settings=s)
        assert {c.change_type.value for c in lifts} == {"lift"}


def test_purpose_and_drill_are_checked(engine: Engine, fsettings: Settings, points: Points) -> None:
    drill_id, _ = _drill(engine, points.unit)
    with session_scope(engine) as session:
        with pytest.raises(ValidationFailed, match="drill") as e:
            service.create_run(
                session=session,
                run_in=_chicago(purpose=RunPurpose.exercise),
                actor=SYSTEM,
                settings=fsettings,
            )
        assert e.value.problems[0].loc == ("body", "drill_id")
        with pytest.raises(ValidationFailed, match="only an exercise"):
            service.create_run(
                session=session,
                run_in=_chicago(drill_id=drill_id),
                actor=SYSTEM,
                settings=fsettings,
            )
        with pytest.raises(ValidationFailed, match="drill 999999"):
            service.create_run(
                session=session,
                run_in=_chicago(purpose=RunPurpose.exercise, drill_id=999999),
                actor=SYSTEM,
                settings=fsettings,
            )


def test_a_what_if_run_never_delays_the_scheduled_operational_run(
    engine: Engine, fsettings: Settings, points: Points
) -> None:
    from fangxun.forecast.schedule import register_trigger, unregister_trigger

    register_trigger("test", lambda _s, _n: "a warning is in force")
    try:
        with session_scope(engine) as session:
            service.create_run(session=session, run_in=_chicago(), actor=SYSTEM, settings=fsettings)
        run_id = schedule.tick(engine, fsettings)
    finally:
        unregister_trigger("test")
    assert run_id is not None
    with session_scope(engine) as session:
        assert service.get_run(session=session, run_id=run_id).purpose is RunPurpose.operational


def test_a_consultation_briefing_carries_forecast_signal_warnings_and_response_level(
    engine: Engine, fsettings: Settings, points: Points
) -> None:
    """Issue 20 item 3: the forecast and warnings sections are there, from the operational run
    in force (the what-if is listed apart, labelled a scenario)."""
    from fangxun.briefings import service as briefings
    from fangxun.briefings.schemas import BriefingCreate
    from fangxun.response import service as response
    from fangxun.response.models import ResponseLevel
    from fangxun.warnings.models import Colour, WarningKind
    from fangxun.warnings.schemas import WarningIssue

    s = _wsettings(fsettings)
    operational = _run(engine, s, _chicago(purpose=RunPurpose.operational))
    what_if = _run(engine, s, _chicago())
    with session_scope(engine) as session:
        warnings.evaluate(session=session, now=utcnow(), settings=s)
        warnings.issue_warning(
            session=session,
            warning_in=WarningIssue(
                kind=WarningKind.rainstorm, colour=Colour.orange, reason="气象台发布暴雨橙色预警"
            ),
            actor=SYSTEM,
            settings=s,
        )
        response.decide_level(
            session=session, level=ResponseLevel.III, reason="会商决定", actor=SYSTEM
        )
        briefing = briefings.generate(session=session, briefing_in=BriefingCreate(), actor=SYSTEM)
        html = briefings.render_html(briefing)
    sections = briefing.content["sections"]
    forecast = sections["forecast"]
    assert forecast["available"], forecast["reason"]
    assert forecast["data"]["in_force"]["run_id"] == operational
    assert forecast["data"]["points_at_risk"][0]["id"] == points.centre
    assert [r["run_id"] for r in forecast["data"]["scenarios"]] == [what_if]
    assert forecast["data"]["scenarios"][0]["purpose"] == "scenario"
    w = sections["warnings"]
    assert w["available"], w["reason"]
    assert w["data"]["signal"]["colour"] == "orange" and w["data"]["signal"]["basis"] == "official"
    assert w["data"]["response"]["level"] == "III"
    kinds = {i["kind"] for i in w["data"]["items"]}
    assert kinds == {"rainstorm", "predicted_ponding"}
    assert sections["rain"]["available"] and sections["points_at_risk"]["available"]
    # The PDF's source names them in Chinese, the what-if as a scenario.
    assert "情景推演" in html and "III 级" in html and "橙色" in html
