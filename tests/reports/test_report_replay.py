"""A full replay of the 7·20 reconstruction (hours 14–22, the 201.9 mm hour included) on the demo
district produces an event report: the storm is found, its figures match the scenario, the worst
points are ranked, and the PDF and workbook render."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import Engine
from test_report_export import non_blank, pdf_pages

from fangxun.config import load_settings
from fangxun.db import session_scope
from fangxun.demo import load_demo
from fangxun.reports import export, service

pytestmark = pytest.mark.slow


def test_replay_of_the_720_storm_makes_an_event_report(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    from fangxun.demo.replay import build_plan, scenario_rain
    from fangxun.monitoring.ingest.csv_import import import_rows

    settings = load_settings(
        environment="demo", database_url="sqlite://", data_dir=tmp_path / "data"
    )
    with session_scope(sqlite_engine) as session:
        load_demo(session=session, settings=settings, write_terrain=False)
        # The whole 8-hour window on 200 m cells (the replay command's default is 40 m).
        plan = build_plan(session=session, scenario="720", first_hour=14, hours=8, cell_m=200.0)
    rain, _ = scenario_rain("720", first_hour=14, hours=8)
    # Played entirely in the past: the replay ended an hour ago.
    t0 = datetime.now(UTC) - timedelta(seconds=plan.duration_s + 3600.0)
    rows = [["datastream", "time", "value"]]
    for frame in plan.frames:
        when = (t0 + timedelta(seconds=frame.offset_s)).isoformat()
        rows += [
            [code, when, str(value)] for items in frame.values.values() for code, value in items
        ]
    with session_scope(sqlite_engine) as session:
        result = import_rows(session=session, rows=rows, name="replay")
        assert result.dead_lettered == 0
    with session_scope(sqlite_engine) as session:
        (event,) = service.detect_events(session=session, settings=settings, actor=None)
        expected_total_mm = rain.depth_m(0.0, float(rain.times_s[-1])) * 1000.0
        # Each 5-minute report is rounded to 0.1 mm.
        n_reports = len(plan.frames)
        assert event.total_m * 1000 == pytest.approx(expected_total_mm, abs=0.05 * n_reports)
        assert event.max_1h_m * 1000 == pytest.approx(201.9, abs=0.6)
        assert event.grade == "extreme_rainstorm"
        assert event.return_period_years is not None and event.return_period_years > 100
        report = service.build_report(
            session=session, settings=settings, event_id=event.id, actor=None
        )
        assert report.points, "the demo's ponding sensors must be in the report"
        worst = report.points[0]
        assert worst.max_depth_m == max(p.max_depth_m for p in report.points) > 0.15
        # The worst point's maximum is the replay's own maximum at that sensor.
        assert worst.max_depth_m * 100 == pytest.approx(
            plan.max_depth_cm[worst.station_code], abs=0.2
        )
        assert report.suggestions[worst.point_id], "a ponded point gets at least one suggestion"
        pdf = export.event_pdf(report)
        pages = pdf_pages(pdf, tmp_path)
        assert len(pages) >= 4 and all(non_blank(p) for p in pages)
        wb = load_workbook(io.BytesIO(export.event_xlsx(report)))
        assert tuple(wb.sheetnames) == export.EVENT_SHEETS
        (tmp_path / "720.pdf").write_bytes(pdf)
