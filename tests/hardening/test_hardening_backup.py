"""`fangxun db backup` / `restore`: a round trip on SQLite and PostgreSQL; bad files refused."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from typer.testing import CliRunner

from fangxun.cli.main import app
from fangxun.config import get_settings
from fangxun.db import backup as db_backup
from fangxun.db import session_scope
from fangxun.org.models import Unit

runner = CliRunner()


@pytest.fixture
def cli_env(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("FANGXUN_DATABASE_URL", database_url)
    monkeypatch.setenv("FANGXUN_ENVIRONMENT", "test")
    get_settings.cache_clear()
    yield database_url
    get_settings.cache_clear()


def _codes(engine: Engine) -> list[str]:
    with session_scope(engine) as session:
        return sorted(session.scalars(select(Unit.code)))


def test_backup_restore_round_trip(
    cli_env: str, engine: Engine, make_unit: object, tmp_path: Path
) -> None:
    make_unit("d1")  # type: ignore[operator]
    make_unit("d2")  # type: ignore[operator]
    target = tmp_path / "backups" / "fangxun.bak"
    result = runner.invoke(app, ["db", "backup", str(target)])
    assert result.exit_code == 0, result.output
    assert target.stat().st_size > 0
    expected = "sqlite" if engine.dialect.name == "sqlite" else "pg_custom"
    assert db_backup.detect_format(target.read_bytes()[:16]) == expected
    assert not list(target.parent.glob("*.part"))

    # Change the data after the backup: a unit added, one deleted.
    make_unit("d3")  # type: ignore[operator]
    with session_scope(engine) as session:
        session.delete(session.scalars(select(Unit).where(Unit.code == "d1")).one())
    assert _codes(engine) == ["d2", "d3"]
    engine.dispose()  # the restore must not race this engine's pooled connections

    refused = runner.invoke(app, ["db", "restore", str(target)], input="n\n")
    assert refused.exit_code == 1 and _codes(engine) == ["d2", "d3"]

    result = runner.invoke(app, ["db", "restore", str(target), "--yes"])
    assert result.exit_code == 0, result.output
    engine.dispose()
    assert _codes(engine) == ["d1", "d2"]
    with session_scope(engine) as session:
        # The database is still fully usable after a restore (sequences, constraints).
        session.add(Unit(code="d4", name_zh="d4", kind="district"))
    assert _codes(engine) == ["d1", "d2", "d4"]
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Unit)).scalar_one() == 3


def test_restore_refuses_wrong_or_broken_files(
    cli_env: str, engine: Engine, tmp_path: Path
) -> None:
    junk = tmp_path / "junk.bak"
    junk.write_bytes(b"this is not a backup at all")
    result = runner.invoke(app, ["db", "restore", str(junk), "--yes"])
    assert result.exit_code == 65, result.output
    assert "neither a SQLite database nor a pg_dump" in result.output

    missing = runner.invoke(app, ["db", "restore", str(tmp_path / "nope.bak"), "--yes"])
    assert missing.exit_code == 65 and "does not exist" in missing.output

    # A backup of the other kind of database is refused by name.
    other = tmp_path / "other.bak"
    other.write_bytes(
        b"PGDMP" + b"\0" * 64
        if engine.dialect.name == "sqlite"
        else b"SQLite format 3\x00" + b"\0" * 64
    )
    result = runner.invoke(app, ["db", "restore", str(other), "--yes"])
    assert result.exit_code == 65 and "needs a" in result.output

    if engine.dialect.name == "sqlite":
        # A SQLite file that is not a Fangxun database.
        import sqlite3

        foreign = tmp_path / "foreign.db"
        conn = sqlite3.connect(foreign)
        conn.execute("CREATE TABLE t (x)")
        conn.commit()
        conn.close()
        result = runner.invoke(app, ["db", "restore", str(foreign), "--yes"])
        assert result.exit_code == 65 and "not a Fangxun backup" in result.output
    else:
        # A truncated archive is refused before anything is dropped.
        good = tmp_path / "good.bak"
        db_backup.backup(cli_env, good)
        cut = tmp_path / "cut.bak"
        cut.write_bytes(good.read_bytes()[: good.stat().st_size // 3])
        result = runner.invoke(app, ["db", "restore", str(cut), "--yes"])
        assert result.exit_code != 0
        with engine.connect() as conn:
            tables = conn.exec_driver_sql(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = current_schema()"
            ).scalars()
            assert "org_unit" in list(tables)


def test_password_is_never_on_the_command_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    seen: dict[str, object] = {}

    def fake_run(cmd: list[str], **kwargs: object) -> object:
        seen["cmd"], seen["env"] = cmd, kwargs["env"]
        Path(cmd[cmd.index("--file") + 1]).write_bytes(b"PGDMP fake")

        class Done:
            returncode, stderr = 0, ""

        return Done()

    monkeypatch.setattr(db_backup.subprocess, "run", fake_run)
    url = "postgresql+psycopg://fx:s3cret-pw@db.example:5433/fangxun?options=-csearch_path%3Dcity"
    db_backup.backup(url, tmp_path / "x.bak")
    cmd = seen["cmd"]
    assert isinstance(cmd, list) and not any("s3cret-pw" in part for part in cmd)
    assert seen["env"]["PGPASSWORD"] == "s3cret-pw"  # type: ignore[index]
    assert cmd[cmd.index("--schema") + 1] == "city" and cmd[cmd.index("--port") + 1] == "5433"
