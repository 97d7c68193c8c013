"""The daily report (防汛日报) and the duty express report (值班快报) from live data, as Word and
PDF: the figures come from the crafted district (84 mm at the gauge, one incident), python-docx
reads the Word file back, the PDF has pages and pdftoppm renders it, and the CLI keeps its
contract."""

from __future__ import annotations

import io
import shutil
import subprocess
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from report_helpers import SYSTEM, T0, Crafted, build
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from fangxun.cli.main import app as cli_app
from fangxun.config import get_settings
from fangxun.db import make_engine, session_scope
from fangxun.reports import duty_reports

pytestmark = pytest.mark.skipif(
    shutil.which("pdftoppm") is None, reason="poppler-utils (make system) is needed"
)


def _docx_text(data: bytes) -> str:
    from docx import Document

    doc = Document(io.BytesIO(data))
    parts = [p.text for p in doc.paragraphs]
    for table in doc.tables:
        for row in table.rows:
            parts.extend(c.text for c in row.cells)
    return "\n".join(parts)


def _table(report: duty_reports.DutyReport, title: str) -> duty_reports.Table:
    [table] = [t for t in report.tables if t.title.startswith(title)]
    return table


def test_daily_report_figures_from_live_data(db_session: Session, crafted: Crafted) -> None:
    report = duty_reports.build_daily(
        session=db_session, actor=SYSTEM, day=date(2026, 7, 10), now=T0 + timedelta(hours=8)
    )
    assert report.title == "防汛日报（2026年7月10日）"
    rain = _table(report, "雨情")
    assert rain.rows, "the crafted gauge must appear"
    # 12 × 5 mm + 12 × 2 mm = 84 mm fell on that day (Beijing time 08:00–11:00).
    assert rain.rows[0][1] == "84.0"
    if crafted.warnings_table:  # the warning at the underpass, by its point, not its key
        places = [r[2] for r in _table(report, "生效中的预警").rows]
        assert places and all(":" not in p for p in places), places
        assert any(p.startswith("HP-PD1") for p in places), places
    incidents = _table(report, "险情")
    assert [r[1] for r in incidents.rows] == ["下穿积水"]
    assert dict(report.summary)["应急响应"] in {"未启动", duty_reports.NOT_AVAILABLE} or dict(
        report.summary
    )["应急响应"].endswith("启动）")
    # The day before had nothing: no rain, no incident.
    before = duty_reports.build_daily(
        session=db_session, actor=SYSTEM, day=date(2026, 7, 8), now=T0 + timedelta(hours=8)
    )
    assert all(r[1] == "0.0" for r in _table(before, "雨情").rows)
    assert _table(before, "险情").rows == []


def test_both_reports_open_in_both_formats(
    db_session: Session, crafted: Crafted, tmp_path: Path, artifacts_dir: Path
) -> None:
    daily = duty_reports.build_daily(
        session=db_session, actor=SYSTEM, day=date(2026, 7, 10), now=T0 + timedelta(hours=8)
    )
    express = duty_reports.build_express(
        session=db_session, actor=SYSTEM, at=T0 + timedelta(hours=3)
    )
    for report in (daily, express):
        text = _docx_text(duty_reports.render(report, "docx"))
        assert report.title in text
        assert "雨情" in text and "值班人员" in text
        pdf = duty_reports.render(report, "pdf")
        assert pdf.startswith(b"%PDF")
        path = tmp_path / f"{report.kind}.pdf"
        path.write_bytes(pdf)
        info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True)
        pages = int(
            next(ln for ln in info.stdout.splitlines() if ln.startswith("Pages:")).split()[1]
        )
        assert pages >= 1
        text = subprocess.run(
            ["pdftotext", "-l", "1", str(path), "-"], capture_output=True, text=True, check=True
        ).stdout
        assert report.title[:4] in text  # the Chinese is real text in an embedded CJK font
        fonts = subprocess.run(
            ["pdffonts", str(path)], capture_output=True, text=True, check=True
        ).stdout
        embedded = [ln.split()[0].split("+")[-1] for ln in fonts.splitlines()[2:] if ln.strip()]
        assert embedded and all(f.startswith("Noto-Sans-CJK-SC") for f in embedded), embedded
        # Rendered for a person to look at (tests/artifacts/duty-report-*.png).
        prefix = artifacts_dir / f"duty-report-{report.kind}"
        subprocess.run(
            [
                "pdftoppm",
                "-png",
                "-r",
                "70",
                "-f",
                "1",
                "-l",
                "1",
                "-singlefile",
                str(path),
                str(prefix),
            ],
            check=True,
        )
        assert prefix.with_suffix(".png").stat().st_size > 10_000
    assert "84.0" in _docx_text(duty_reports.render(express, "docx"))


def test_unknown_format_is_a_clear_error(db_session: Session, crafted: Crafted) -> None:
    report = duty_reports.build_express(session=db_session, actor=SYSTEM, at=T0)
    with pytest.raises(ValueError, match="docx, pdf"):
        duty_reports.render(report, "odt")


def test_reports_page_downloads(web_client: TestClient, web_db: str, login: Any) -> None:
    engine = make_engine(web_db)
    try:
        with session_scope(engine) as session:
            build(session)
    finally:
        engine.dispose()
    assert login(web_client).status_code == 303
    page = web_client.get("/reports")
    assert 'action="/reports/daily"' in page.text and "防汛日报" in page.text
    assert 'action="/reports/express"' in page.text and "值班快报" in page.text
    word = web_client.get("/reports/daily", params={"date": "2026-07-10", "format": "docx"})
    assert word.status_code == 200
    assert word.headers["content-type"] == duty_reports.MEDIA_TYPES["docx"]
    assert "84.0" in _docx_text(word.content)
    pdf = web_client.get("/reports/express", params={"format": "pdf"})
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert web_client.get("/reports/daily", params={"date": "July 10"}).status_code == 422
    assert web_client.get("/reports/express", params={"format": "odt"}).status_code == 422


def test_cli_daily_and_express(
    sqlite_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with session_scope(sqlite_engine) as session:
        build(session)
    monkeypatch.setenv("FANGXUN_DATABASE_URL", str(sqlite_engine.url))
    monkeypatch.setenv("FANGXUN_ENVIRONMENT", "test")
    monkeypatch.setenv("FANGXUN_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    runner = CliRunner()
    try:
        out = tmp_path / "daily.docx"
        args = ["report", "daily", "--date", "2026-07-10", "--format", "docx", "--out", str(out)]
        result = runner.invoke(cli_app, args)
        assert result.exit_code == 0, result.output
        assert "84.0" in _docx_text(out.read_bytes())
        out = tmp_path / "express.pdf"
        args = ["report", "express", "--at", "2026-07-10T11:00+08:00", "--format", "pdf"]
        result = runner.invoke(cli_app, [*args, "--out", str(out)])
        assert result.exit_code == 0, result.output
        assert out.read_bytes().startswith(b"%PDF")
        bad = ["report", "daily", "--date", "2026-07-10", "--format", "odt", "--out", str(out)]
        result = runner.invoke(cli_app, bad)
        assert result.exit_code != 0 and "odt" in result.output
    finally:
        get_settings.cache_clear()
