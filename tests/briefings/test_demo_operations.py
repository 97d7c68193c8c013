"""The demo district's operations seed, and a briefing generated on it with live figures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from fangxun.briefings import service as briefings
from fangxun.briefings.schemas import BriefingCreate
from fangxun.config import load_settings
from fangxun.db import session_scope
from fangxun.demo import load_demo
from fangxun.demo.operations_seed import seed_operations
from fangxun.duty import service as duty
from fangxun.incidents import service as incidents
from fangxun.incidents.models import IncidentKind
from fangxun.incidents.schemas import IncidentCreate
from fangxun.org import service as org_service

pytestmark = pytest.mark.slow


def test_demo_operations_and_a_live_briefing(sqlite_engine: Engine, tmp_path: Path) -> None:
    settings = load_settings(
        environment="demo", database_url="sqlite://", data_dir=tmp_path / "data"
    )
    with session_scope(sqlite_engine) as session:
        summary = load_demo(session=session, settings=settings, write_terrain=False)
    ops = summary.operations
    assert ops is not None
    assert (ops.items, ops.warehouses, ops.teams, ops.drills, ops.incidents) == (8, 5, 7, 1, 2)
    assert ops.shifts >= 6 * 28 * 2
    with session_scope(sqlite_engine) as session:
        again = seed_operations(session=session)
    assert (again.items, again.shifts, again.incidents) == (0, 0, 0)

    now = datetime.now(UTC)
    with session_scope(sqlite_engine) as session:
        # Every unit's roster has a leader on every shift of the coming week.
        for unit in org_service.list_units(session=session, actor=None, limit=50)[0]:
            if unit.code not in ("GXQ", "WUTONG", "GOUZHAO", "FENGYANG", "SHIFO", "SHUANGQIAO"):
                continue
            gaps = duty.find_gaps(
                session=session,
                actor=None,
                unit_id=unit.id,
                start=now,
                end=now + timedelta(days=7),
                now=now - timedelta(days=1),  # check-ins are not the point here
            )
            assert [g for g in gaps if g.kind == "no_leader"] == []
        district = org_service.list_units(session=session, actor=None, limit=1)[0][0]
        incidents.report(
            session=session,
            incident_in=IncidentCreate(
                unit_id=district.id, kind=IncidentKind.vehicle_trapped, title="长椿路下穿车辆被困"
            ),
            actor=None,
        )
        # A replay under way: the Wutong gauge reports 5 mm every 5 min for the last hour.
        from fangxun.monitoring.ingest.csv_import import import_rows

        rows = [["datastream", "time", "value"]] + [
            ["RG03-rain", (now - timedelta(minutes=5 * k)).isoformat(), "5.0"] for k in range(12)
        ]
        import_rows(session=session, rows=rows, name="replay")
    with session_scope(sqlite_engine) as session:
        briefing = briefings.generate(session=session, briefing_in=BriefingCreate(), actor=None)
        sections = briefing.content["sections"]
        rain = sections["rain"]
        assert rain["available"], rain["reason"]
        gauges = {g["datastream"]: g for g in rain["data"]["gauges"]}
        assert gauges["RG03-rain"]["totals_mm"]["1h"] == pytest.approx(60.0)
        assert rain["data"]["max_1h_mm"] == pytest.approx(60.0)
        assert sections["incidents"]["data"]["open"] == 1
        assert sections["incidents"]["data"]["items"][0]["title"] == "长椿路下穿车辆被困"
        on_duty = {t["unit"]: t for t in sections["duty"]["data"]["teams"]}
        assert len(on_duty) == 6 and all(t["leader"] for t in on_duty.values())
        short = {
            (r["warehouse"], r["item"]): r["shortfall"]
            for r in sections["shortages"]["data"]["items"]
        }
        assert short[("高新区防汛物资中心库", "编织袋")] == 2500
        assert short[("沟赵办事处物资仓库", "潜水泵")] == 3
        assert sections["teams"]["data"]["by_readiness"]["standby"] == 7
        assert briefings.export_pdf(briefing).startswith(b"%PDF-")


def test_briefing_during_a_replay_of_the_720_storm(sqlite_engine: Engine, tmp_path: Path) -> None:
    """The 7·20 replay's observations (rain, ponding from the inundation core, rivers, pumps) go
    through the same parser and writer as MQTT ingest, up to the end of the 201.9 mm hour; a
    briefing made at that moment carries those live figures."""
    from fangxun.demo.replay import build_plan
    from fangxun.monitoring.ingest.csv_import import import_rows

    settings = load_settings(
        environment="demo", database_url="sqlite://", data_dir=tmp_path / "data"
    )
    with session_scope(sqlite_engine) as session:
        load_demo(session=session, settings=settings, write_terrain=False)
        # Hours 19 and 20 of the reconstruction (hour 20 is 16:00–17:00, 201.9 mm), on 200 m
        # cells so the test stays fast.
        plan = build_plan(session=session, scenario="720", first_hour=19, hours=2, cell_m=200.0)
    peak_end = next(f for f in plan.frames if f.offset_s == 7200.0)
    now = datetime.now(UTC)
    t0 = now - timedelta(seconds=peak_end.offset_s)
    rows = [["datastream", "time", "value"]]
    for frame in plan.frames:
        if frame.offset_s > peak_end.offset_s:
            break  # the replay is under way: nothing after "now" yet
        when = (t0 + timedelta(seconds=frame.offset_s)).isoformat()
        rows += [
            [code, when, str(value)] for items in frame.values.values() for code, value in items
        ]
    with session_scope(sqlite_engine) as session:
        result = import_rows(session=session, rows=rows, name="replay")
        assert result.stored == len(rows) - 1 and result.dead_lettered == 0
    with session_scope(sqlite_engine) as session:
        briefing = briefings.generate(session=session, briefing_in=BriefingCreate(), actor=None)
        rain = briefing.content["sections"]["rain"]
        assert rain["available"], rain["reason"]
        # Every gauge saw the record hour; values were rounded to 0.1 mm per 5-minute report.
        assert rain["data"]["max_1h_mm"] == pytest.approx(201.9, abs=0.6)
        for gauge in rain["data"]["gauges"]:
            assert gauge["totals_mm"]["1h"] == pytest.approx(201.9, abs=0.6)
        # Ponding sensors at hazard points report the core's depths; those over a threshold are
        # the observed points at risk, at exactly the replay's last values.
        points = briefing.content["sections"]["points_at_risk"]
        assert points["available"], points["reason"]
        last = {code: value for items in peak_end.values.values() for code, value in items}
        observed = points["data"]["observed"]
        assert observed, "the record hour must flood some sensor site over a threshold"
        for p in observed:
            assert p["depth_cm"] == pytest.approx(last[p["datastream"]])
            assert p["colour"] in ("blue", "yellow", "orange", "red")
        html = briefings.render_html(briefing)
        assert observed[0]["name"] in html and "监测积水达到预警阈值的点位" in html
        assert briefings.export_pdf(briefing).startswith(b"%PDF-")
