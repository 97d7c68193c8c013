"""Skill on a crafted event: hits, misses, false alarms and lead time, stored on the run."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine

from conftest import SYSTEM, Points
from fangxun.config import Settings
from fangxun.db import session_scope
from fangxun.forecast import flows, service, skill
from fangxun.forecast.schemas import DesignRain, ForecastRunCreate


def test_outcome_table() -> None:
    assert skill.outcome(True, True) == "hit"
    assert skill.outcome(True, False) == "false_alarm"
    assert skill.outcome(False, True) == "miss"
    assert skill.outcome(False, False) == "correct_negative"


def test_skill_on_a_crafted_event(engine: Engine, fsettings: Settings, points: Points) -> None:
    with session_scope(engine) as session:
        run_id = service.create_run(
            session=session,
            run_in=ForecastRunCreate(
                rain=DesignRain(return_period_years=5, duration_s=3600.0), horizon_s=3600.0
            ),
            actor=SYSTEM,
            settings=fsettings,
        ).id
    flows.execute_run(engine, run_id, fsettings, executor="serial")
    with session_scope(engine) as session:
        run = service.get_run(session=session, run_id=run_id)
        res = {
            r.point_id: r
            for r in service.point_results(session=session, run_id=run_id, actor=SYSTEM)
        }
        centre, rim = res[points.centre], res[points.rim]
        assert centre.time_to_threshold_s["blue"] is not None  # forecast: blue at the centre
        assert rim.time_to_threshold_s["blue"] is None  # forecast: rim stays dry
        t0 = run.issued_at
        observed = {
            # Centre: observed 3 cm at 20 min (blue hit, yellow … red forecast?).
            points.centre: [(t0 + timedelta(minutes=10), 0.0), (t0 + timedelta(minutes=20), 0.03)],
            # Rim: observed 2 cm at 30 min although the forecast said dry: a miss.
            points.rim: [(t0 + timedelta(minutes=30), 0.02)],
            # Flank: no sensor → not scored.
        }
        out = skill.score_run(session=session, run_id=run_id, observed=observed)
        assert set(out["points"]) == {str(points.centre), str(points.rim)}
        c_blue = out["points"][str(points.centre)]["blue"]
        assert c_blue["outcome"] == "hit"
        assert c_blue["lead_time_s"] == pytest.approx(20 * 60)
        assert out["points"][str(points.rim)]["blue"]["outcome"] == "miss"
        # Centre's yellow (5 cm) was not observed: a false alarm if forecast, else correct.
        yellow_fc = centre.time_to_threshold_s["yellow"] is not None
        expect = "false_alarm" if yellow_fc else "correct_negative"
        assert out["points"][str(points.centre)]["yellow"]["outcome"] == expect
        blue = out["totals"]["blue"]
        assert (blue["hit"], blue["miss"], blue["false_alarm"]) == (1, 1, 0)
        assert blue["pod"] == 0.5 and blue["far"] == 0.0
        assert blue["mean_lead_time_s"] == pytest.approx(1200.0)
    with session_scope(engine) as session:
        stored = service.get_run(session=session, run_id=run_id).skill
        assert stored is not None and stored["totals"]["blue"]["hit"] == 1


def test_only_done_runs_are_scored(engine: Engine, fsettings: Settings) -> None:
    with session_scope(engine) as session:
        run = service.create_run(
            session=session, run_in=ForecastRunCreate(), actor=SYSTEM, settings=fsettings
        )
        with pytest.raises(ValueError, match="only done runs"):
            skill.score_run(session=session, run_id=run.id, observed={})
