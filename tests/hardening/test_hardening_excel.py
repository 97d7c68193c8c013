"""Formula injection (issue 20, item 7): a name such as ``=HYPERLINK(...)`` is written to every
Excel export as a text cell, never as a formula; the value itself comes back unchanged."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st
from openpyxl import Workbook

from excel_checks import EVIL, assert_no_formula
from fangxun.duty import service as duty_service
from fangxun.duty.models import DutyAssignment, DutyRole, DutyShift
from fangxun.excel import append_row, clean, risky
from fangxun.org.models import Person, Unit
from fangxun.reports import export
from fangxun.reports.service import SeasonPoint, SeasonSummary, UnitProgress


@given(st.text(max_size=30))
def test_append_row_keeps_every_text_as_text(text: str) -> None:
    sheet = Workbook().active
    append_row(sheet, [text, 1.5, None])
    cell = sheet["A1"]
    assert cell.data_type == "s" and cell.value == clean(text)
    assert bool(cell.quotePrefix) == risky(clean(text))
    assert sheet["B1"].value == 1.5 and sheet["B1"].data_type == "n"


def test_duty_export_writes_names_as_text() -> None:
    start = datetime(2026, 7, 1, tzinfo=UTC)
    shift = DutyShift(
        unit=Unit(name_zh=EVIL),
        starts_at=start,
        ends_at=start + timedelta(hours=24),
        handover_note="@SUM(A1)",
        assignments=[
            DutyAssignment(role=DutyRole.leader, person=Person(name="+1+1", phone="-2+3")),
        ],
    )
    assert_no_formula(duty_service.export_xlsx([shift]), EVIL, "@SUM(A1)", "+1+1", "-2+3")


def test_report_export_writes_names_as_text() -> None:
    start = datetime(2026, 7, 1, tzinfo=UTC)
    summary = SeasonSummary(
        start=start,
        end=start + timedelta(days=90),
        events=[],
        points=[SeasonPoint(code="\t=1", name=EVIL, unit_name="\r=1")],
        progress=[UnitProgress(unit_id=1, unit_name="+1+1")],
    )
    assert_no_formula(export.season_xlsx(summary), EVIL, "\t=1", "\r=1", "+1+1")
