"""`fangxun duty|incidents|supplies|briefing`: gaps as an exit status, exports, reports, PDF."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from icalendar import Calendar
from typer.testing import CliRunner

from factories import make_unit
from fangxun.audit.service import SystemActor
from fangxun.cli.main import app
from fangxun.cli.operations import GAPS_EXIT_CODE
from fangxun.config import get_settings
from fangxun.db import make_engine, session_scope
from fangxun.db.migrate import upgrade_engine
from fangxun.duty import service as duty
from fangxun.duty.models import DutyRole
from fangxun.duty.schemas import RotationCreate
from fangxun.org import service as org_service
from fangxun.org.models import UnitKind
from fangxun.org.schemas import PersonCreate

runner = CliRunner()
SYSTEM = SystemActor(username="cli-tests")
JULY = ["--from", "2026-07-01T08:00+08:00", "--to", "2026-08-01T08:00+08:00"]


@pytest.fixture
def db_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("FANGXUN_DATABASE_URL", url)
    monkeypatch.setenv("FANGXUN_ENVIRONMENT", "test")
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    engine = make_engine(url)
    upgrade_engine(engine)
    with session_scope(engine) as session:
        d = make_unit(session, "GXQ", UnitKind.district, name_zh="高新区", actor=SYSTEM).id
        people = [
            org_service.create_person(
                session=session, person_in=PersonCreate(name=f"值班{k}", unit_id=d), actor=SYSTEM
            ).id
            for k in range(4)
        ]
        rotation = duty.create_rotation(
            session=session,
            rotation_in=RotationCreate(
                unit_id=d,
                name="七月",
                members_per_shift=1,
                leader_ids=people[:2],
                member_ids=people[2:],
            ),
            actor=SYSTEM,
        )
        session.flush()
        shifts = duty.fill_month(
            session=session, rotation_id=rotation.id, year=2026, month=7, actor=SYSTEM
        )
        # Every shift checked in, so the only alarm later is the one made on purpose.
        for shift in shifts:
            duty.check_in(
                session=session,
                assignment_id=shift.assignments[0].id,
                actor=SYSTEM,
                at=shift.starts_at,
            )
    engine.dispose()
    yield url
    get_settings.cache_clear()


def test_gaps_exit_status_is_the_alarm(db_url: str) -> None:
    clean = runner.invoke(app, ["duty", "gaps", "--unit", "GXQ", *JULY])
    assert clean.exit_code == 0, clean.output
    assert "No gaps" in clean.output
    engine = make_engine(db_url)
    with session_scope(engine) as session:
        shift = duty.list_shifts(session=session, actor=SYSTEM)[3]
        leader = next(a for a in shift.assignments if a.role is DutyRole.leader)
        duty.remove_assignment(session=session, assignment_id=leader.id, actor=SYSTEM)
    engine.dispose()
    alarm = runner.invoke(app, ["duty", "gaps", "--unit", "GXQ", *JULY])
    assert alarm.exit_code == GAPS_EXIT_CODE and "no_leader" in alarm.output
    unknown = runner.invoke(app, ["duty", "gaps", "--unit", "NOPE", *JULY])
    assert unknown.exit_code == 66 and "NOPE" in unknown.output
    naive = runner.invoke(app, ["duty", "gaps", "--unit", "GXQ", "--from", "2026-07-01T08:00"])
    assert naive.exit_code == 65 and "time zone" in naive.output


def test_export_reports_and_briefing(db_url: str, tmp_path: Path) -> None:
    ics = tmp_path / "roster.ics"
    done = runner.invoke(app, ["duty", "export", str(ics), *JULY])
    assert done.exit_code == 0, done.output
    assert len(Calendar.from_ical(ics.read_bytes()).walk("VEVENT")) == 31
    bad = runner.invoke(app, ["duty", "export", str(tmp_path / "roster.txt")])
    assert bad.exit_code == 65
    assert runner.invoke(app, ["supplies", "shortages"]).exit_code == 0
    assert runner.invoke(app, ["incidents", "stats"]).exit_code == 0
    pdf = tmp_path / "briefing.pdf"
    made = runner.invoke(app, ["briefing", "generate", "--pdf", str(pdf)])
    assert made.exit_code == 0, made.output
    assert pdf.read_bytes().startswith(b"%PDF-") and "incidents: ok" in made.output
    for command in (["duty"], ["incidents"], ["supplies"], ["briefing"]):
        assert runner.invoke(app, [*command, "--help"]).exit_code == 0
