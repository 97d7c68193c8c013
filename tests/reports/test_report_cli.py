"""`fangxun report detect|events|event|season` on the crafted district (SQLite file)."""

from __future__ import annotations

from pathlib import Path

import pytest
from openpyxl import load_workbook
from report_helpers import build
from sqlalchemy import Engine
from typer.testing import CliRunner

from fangxun.cli import reports as reports_cli
from fangxun.cli.main import app as cli_app
from fangxun.config import get_settings
from fangxun.db import session_scope


def test_report_cli(sqlite_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with session_scope(sqlite_engine) as session:
        build(session)
    monkeypatch.setenv("FANGXUN_DATABASE_URL", str(sqlite_engine.url))
    monkeypatch.setenv("FANGXUN_ENVIRONMENT", "test")
    monkeypatch.setenv("FANGXUN_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setattr(reports_cli.console, "width", 250)  # tables unwrapped for the asserts
    get_settings.cache_clear()
    runner = CliRunner()
    try:
        result = runner.invoke(cli_app, ["report", "detect", "--since", "2026-07-09T00:00+08:00"])
        assert result.exit_code == 0, result.output
        assert "1 storm event(s)" in result.output and "大暴雨" in result.output
        result = runner.invoke(cli_app, ["report", "events"])
        assert result.exit_code == 0 and "2026-07-10 降雨过程" in result.output
        xlsx = tmp_path / "out.xlsx"
        pdf = tmp_path / "out.pdf"
        result = runner.invoke(
            cli_app, ["report", "event", "1", "--xlsx", str(xlsx), "--pdf", str(pdf)]
        )
        assert result.exit_code == 0, result.output
        assert "HP-PD1" in result.output and "pump_failure" in result.output
        assert "报表街道" in load_workbook(xlsx)["点位统计"]["D2"].value
        assert pdf.read_bytes().startswith(b"%PDF-")
        result = runner.invoke(cli_app, ["report", "event", "99"])
        assert result.exit_code == 66 and "storm event 99 not found" in result.output
        result = runner.invoke(cli_app, ["report", "detect", "--since", "2026-07-09"])
        assert result.exit_code == 65 and "no time zone offset" in result.output
        season = tmp_path / "season.xlsx"
        result = runner.invoke(
            cli_app, ["report", "season", "--year", "2026", "--xlsx", str(season)]
        )
        assert result.exit_code == 0, result.output
        assert load_workbook(season).sheetnames == ["降雨过程", "积水点位", "整改进度"]
    finally:
        get_settings.cache_clear()
