"""CLI: db upgrade, user create (prompted password), serve wiring, errors → exit codes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import inspect, select
from typer.testing import CliRunner

from fangxun import __version__
from fangxun.cli.main import app
from fangxun.config import get_settings
from fangxun.db import make_engine, session_scope
from fangxun.db.migrate import current_revision, head_revision
from fangxun.org.models import Unit, UnitKind, User
from fangxun.org.security import verify_password

runner = CliRunner()


@pytest.fixture
def db_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("FANGXUN_DATABASE_URL", url)
    monkeypatch.setenv("FANGXUN_ENVIRONMENT", "test")
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    yield url
    get_settings.cache_clear()


def _invoke(*args: str, input: str | None = None) -> Any:
    return runner.invoke(app, list(args), input=input)


def test_version_and_help() -> None:
    result = _invoke("--version")
    assert result.exit_code == 0 and __version__ in result.output
    for command in (["db", "upgrade"], ["user", "create"], ["serve"], ["demo"]):
        assert _invoke(*command, "--help").exit_code == 0, command


def test_db_upgrade_from_empty(db_url: str) -> None:
    result = _invoke("db", "upgrade")
    assert result.exit_code == 0, result.output
    assert "empty" in result.output and "→" in result.output
    engine = make_engine(db_url)
    try:
        assert current_revision(engine) == head_revision()
        assert "org_user" in inspect(engine).get_table_names()
    finally:
        engine.dispose()
    again = _invoke("db", "upgrade")
    assert again.exit_code == 0 and "up to date" in again.output


def _add_unit(url: str, code: str) -> None:
    engine = make_engine(url)
    with session_scope(engine) as session:
        session.add(Unit(code=code, name_zh="梧桐街道", kind=UnitKind.district))
    engine.dispose()


def test_user_create_with_prompted_password(db_url: str) -> None:
    assert _invoke("db", "upgrade").exit_code == 0
    _add_unit(db_url, "wutong")
    result = _invoke(
        "user",
        "create",
        "Wutong.Duty",
        "--role",
        "unit",
        "--unit",
        "wutong",
        input="s3cret-password\ns3cret-password\n",
    )
    assert result.exit_code == 0, result.output
    assert "s3cret-password" not in result.output  # hidden input is not echoed
    engine = make_engine(db_url)
    with session_scope(engine) as session:
        user = session.scalars(select(User)).one()
        assert user.username == "wutong.duty"
        assert user.role.value == "unit"
        assert verify_password(user.password_hash, "s3cret-password")
        from fangxun.audit.models import AuditEntry

        entry = session.scalars(select(AuditEntry)).one()
        assert entry.actor_username.startswith("cli:")
    engine.dispose()


def test_user_create_prompt_must_match(db_url: str) -> None:
    assert _invoke("db", "upgrade").exit_code == 0
    result = _invoke(
        "user",
        "create",
        "bob",
        "--role",
        "viewer",
        input="first-password\nother-password\nfirst-password\nfirst-password\n",
    )
    assert result.exit_code == 0, result.output
    assert "do not match" in result.output.lower()


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        (
            ["user", "create", "nobody", "--role", "unit", "--password", "long-password"],
            65,
            "needs a unit",
        ),
        (
            [
                "user",
                "create",
                "nobody",
                "--role",
                "viewer",
                "--unit",
                "nope",
                "--password",
                "long-password",
            ],
            65,
            "no unit with code 'nope'",
        ),
        (["user", "create", "x", "--role", "viewer", "--password", "short"], 65, "USERNAME"),
    ],
)
def test_user_create_errors(db_url: str, args: list[str], code: int, words: str) -> None:
    assert _invoke("db", "upgrade").exit_code == 0
    result = _invoke(*args)
    assert result.exit_code == code, result.output
    assert words in result.output
    assert "Traceback" not in result.output


def test_duplicate_user_is_a_conflict(db_url: str) -> None:
    assert _invoke("db", "upgrade").exit_code == 0
    args = ["user", "create", "dup", "--role", "viewer", "--password", "long-password"]
    assert _invoke(*args).exit_code == 0
    result = _invoke(*args)
    assert result.exit_code == 73 and "taken" in result.output


def test_user_create_before_migrations_says_what_to_do(db_url: str) -> None:
    result = _invoke("user", "create", "early", "--role", "viewer", "--password", "long-password")
    assert result.exit_code == 1
    assert "fangxun db upgrade" in result.output


def test_bad_configuration_exit_code(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FANGXUN_ENVIRONMENT", "production")
    monkeypatch.delenv("FANGXUN_SECRET_KEY", raising=False)
    get_settings.cache_clear()
    result = _invoke("db", "upgrade")
    assert result.exit_code == 78
    assert "FANGXUN_SECRET_KEY" in result.output


def test_set_password(db_url: str) -> None:
    assert _invoke("db", "upgrade").exit_code == 0
    assert (
        _invoke(
            "user", "create", "carol", "--role", "viewer", "--password", "first-password"
        ).exit_code
        == 0
    )
    result = _invoke("user", "set-password", "carol", "--password", "second-password")
    assert result.exit_code == 0, result.output
    assert _invoke("user", "set-password", "ghost", "--password", "x" * 10).exit_code == 66


def test_serve_migrates_then_runs_uvicorn(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: dict[str, Any] = {}

    def fake_run(app_: Any, **kwargs: Any) -> None:
        calls["app"] = app_
        calls.update(kwargs)

    monkeypatch.setattr("fangxun.cli.serve.uvicorn.run", fake_run)
    result = _invoke("serve", "--host", "127.0.0.1", "--port", "8765")
    assert result.exit_code == 0, result.output
    assert calls["host"] == "127.0.0.1" and calls["port"] == 8765
    assert "http://127.0.0.1:8765" in result.output
    engine = make_engine(db_url)
    try:
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()
