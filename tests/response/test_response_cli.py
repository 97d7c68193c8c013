"""`fangxun response status|raise|stand-down|import-plan`: the level from the command line, the
status as an exit code for monitoring, bad input as a clear error."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from response_helpers import build_org
from typer.testing import CliRunner

from fangxun.cli.main import app
from fangxun.cli.response import ACTIVE_EXIT_CODE
from fangxun.config import get_settings
from fangxun.db import make_engine, session_scope
from fangxun.db.migrate import upgrade_engine

runner = CliRunner()


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
        build_org(session)
    engine.dispose()
    yield url
    get_settings.cache_clear()


def test_raise_status_and_stand_down(db_url: str, tmp_path: Path) -> None:
    quiet = runner.invoke(app, ["response", "status"])
    assert quiet.exit_code == 0, quiet.output
    assert "No emergency response" in quiet.output
    raised = runner.invoke(app, ["response", "raise", "III", "--reason", "会商决定"])
    assert raised.exit_code == 0, raised.output
    assert "4 checklist task(s)" in raised.output  # IV and III actions of the test plan
    status = runner.invoke(app, ["response", "status"])
    assert status.exit_code == ACTIVE_EXIT_CODE
    assert "Level III" in status.output and "CGJ单位" in status.output
    bad = runner.invoke(app, ["response", "raise", "V", "--reason", "x"])
    assert bad.exit_code == 65 and "IV, III, II or I" in bad.output
    down = runner.invoke(app, ["response", "stand-down", "--reason", "雨停"])
    assert down.exit_code == 0 and "Stood down from level III" in down.output
    again = runner.invoke(app, ["response", "stand-down", "--reason", "雨停"])
    assert again.exit_code == 73  # conflict: no response is running

    plan = tmp_path / "plan.json"
    plan.write_text(
        json.dumps(
            {
                "name": "CLI 预案",
                "actions": [{"level": "I", "department": "SWJ", "action": "开泵"}],
            },
            ensure_ascii=False,
        ),
        encoding="utf-8",
    )
    imported = runner.invoke(app, ["response", "import-plan", str(plan), "--unit", "D"])
    assert imported.exit_code == 0, imported.output
    assert "1 action(s)" in imported.output
