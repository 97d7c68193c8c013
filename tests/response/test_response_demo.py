"""The demo district's contingency plan: loaded once, and a yellow rainstorm signal in "start"
mode creates its level IV checklist for the departments and every street office."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from response_helpers import rule_settings
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from fangxun.config import load_settings
from fangxun.demo import load_demo
from fangxun.demo.response_seed import ACTIONS, OFFICES, PLAN_NAME
from fangxun.org.models import Unit, UnitKind
from fangxun.response import service
from fangxun.response.models import ContingencyPlan, ResponseLevel, ResponseTask


def test_demo_plan_is_seeded_once_and_drives_the_checklist(
    db_session: Session, tmp_path: Path
) -> None:
    settings = load_settings(environment="demo", database_url="sqlite://", data_dir=tmp_path)
    first = load_demo(session=db_session, settings=settings, write_terrain=False)
    assert first.response is not None and first.response.plans_created == 1
    again = load_demo(session=db_session, settings=settings, write_terrain=False)
    assert again.response is not None and again.response.plans_created == 0
    plans = db_session.scalars(select(ContingencyPlan).where(ContingencyPlan.name == PLAN_NAME))
    plan = plans.one()
    assert plan.is_active
    offices = db_session.scalar(
        select(func.count()).select_from(Unit).where(Unit.kind == UnitKind.street_office)
    )
    level_iv = [a for a in ACTIONS if a[0] is ResponseLevel.IV]
    expected = sum(offices if who == OFFICES else 1 for _l, who, _t, _c in level_iv)
    assert {a.level for a in plan.actions} == set(ResponseLevel)

    change = service.apply_warning_signal(
        session=db_session,
        warning_kind="rainstorm",
        colour="yellow",
        unit_id=None,
        source_ref="warning-change:1",
        at=datetime(2026, 7, 20, 10, 20, tzinfo=UTC),
        settings=rule_settings("start"),
    )
    assert change is not None
    tasks = db_session.scalars(select(ResponseTask)).all()
    assert len(tasks) == expected
    assert {t.level for t in tasks} == {ResponseLevel.IV}
