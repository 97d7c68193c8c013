"""`fangxun demo load` and `fangxun demo` (load + serve, with the server stubbed out)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from fangxun.cli.main import app
from fangxun.db import make_engine, session_scope
from fangxun.demo.files import TerrainFiles
from fangxun.demo.org_seed import DEMO_LOGINS, PRIMARY_LOGIN
from fangxun.org.models import User

runner = CliRunner()


@pytest.fixture
def demo_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, terrain_files: TerrainFiles) -> str:
    """Environment for the demo commands: a fresh SQLite file, the pre-built terrain folder."""
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    monkeypatch.delenv("FANGXUN_ENVIRONMENT", raising=False)
    monkeypatch.delenv("FANGXUN_SECRET_KEY", raising=False)
    monkeypatch.setenv("FANGXUN_DATABASE_URL", url)
    monkeypatch.setenv("FANGXUN_DATA_DIR", str(terrain_files.directory.parent))
    monkeypatch.chdir(tmp_path)  # no stray .env file from the checkout
    return url


def _user_count(url: str) -> int:
    engine = make_engine(url)
    try:
        with session_scope(engine) as session:
            return session.scalar(select(func.count()).select_from(User)) or 0
    finally:
        engine.dispose()


def test_demo_load_migrates_loads_and_prints_the_logins(demo_env: str) -> None:
    result = runner.invoke(app, ["demo", "load"])
    assert result.exit_code == 0, result.output
    assert _user_count(demo_env) == len(DEMO_LOGINS)
    for login in DEMO_LOGINS:
        assert login.username in result.output and login.password in result.output
    assert "SYNTHETIC" in result.output

    again = runner.invoke(app, ["demo", "load"])
    assert again.exit_code == 0, again.output
    assert _user_count(demo_env) == len(DEMO_LOGINS)


def test_demo_alone_loads_then_serves(demo_env: str, monkeypatch: pytest.MonkeyPatch) -> None:
    served: dict[str, Any] = {}

    def fake_create_app(settings: Any) -> str:
        served["settings"] = settings
        return "the-app"

    class FakeServer:
        def __init__(self, config: Any) -> None:
            served.update(app=config.app, host=config.host, port=config.port)

        def run(self) -> None:
            served["ran"] = True

    monkeypatch.setattr("fangxun.api.app.create_app", fake_create_app)
    monkeypatch.setattr("fangxun.cli.demo.uvicorn.Server", FakeServer)
    result = runner.invoke(app, ["demo", "--no-replay", "--port", "8123"])
    assert result.exit_code == 0, result.output
    assert served["ran"] is True
    assert served["app"] == "the-app"
    assert (served["host"], served["port"]) == ("127.0.0.1", 8123)
    # FANGXUN_ENVIRONMENT unset → the demo environment.
    assert served["settings"].environment == "demo"
    assert "http://127.0.0.1:8123" in result.output
    assert f"{PRIMARY_LOGIN.username} / {PRIMARY_LOGIN.password}" in result.output
    assert _user_count(demo_env) == len(DEMO_LOGINS)


def test_demo_refuses_production(demo_env: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FANGXUN_ENVIRONMENT", "production")
    monkeypatch.setenv("FANGXUN_SECRET_KEY", "x" * 40)
    result = runner.invoke(app, ["demo", "load"])
    assert result.exit_code == 78, result.output  # EX_CONFIG
    assert "production" in result.output
    assert not Path(demo_env.removeprefix("sqlite:///")).exists()
