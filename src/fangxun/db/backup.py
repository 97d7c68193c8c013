"""Backup and restore of the whole database, on SQLite and on PostgreSQL.

* SQLite: the online backup API (:meth:`sqlite3.Connection.backup`) copies a consistent snapshot
  while the server and ingest keep writing; restore copies a backup file back over the live
  database the same way (page by page, under SQLite's own locks), after checking the file is a
  sound SQLite database with a Fangxun schema.
* PostgreSQL: ``pg_dump --format=custom`` and ``pg_restore --clean --if-exists --no-owner``
  (both must be on ``PATH``; Debian's ``postgresql-client``). When the URL selects a schema with
  ``options=-csearch_path=NAME`` (as the tests do) only that schema is dumped and restored; else
  the whole database. The password goes to the tools in ``PGPASSWORD``, never on the command line
  (where ``ps`` would show it), and it never appears in a message.

>>> detect_format(b"SQLite format 3\\x00...")
'sqlite'
>>> detect_format(b"PGDMP\\x01\\x0e")
'pg_custom'
"""

from __future__ import annotations

import logging
import os
import shutil
import sqlite3
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from sqlalchemy.engine import URL, make_url

from fangxun.errors import ConfigError, ValidationFailed

logger = logging.getLogger(__name__)

BackupFormat = Literal["sqlite", "pg_custom"]

_SQLITE_MAGIC = b"SQLite format 3\x00"
_PG_CUSTOM_MAGIC = b"PGDMP"
#: Pages copied per step of the SQLite online backup (the lock is released between steps).
_SQLITE_PAGES_PER_STEP = 1024
#: Longest a pg_dump / pg_restore may run, s.
PG_TOOL_TIMEOUT_S = 3600


@dataclass(frozen=True)
class BackupResult:
    """What a backup or restore did: the file, its size in bytes and its format."""

    path: Path
    size_bytes: int
    format: BackupFormat


def detect_format(head: bytes) -> BackupFormat | None:
    """The format of a backup file from its first bytes; None when it is neither."""
    if head.startswith(_SQLITE_MAGIC):
        return "sqlite"
    if head.startswith(_PG_CUSTOM_MAGIC):
        return "pg_custom"
    return None


def _sqlite_path(url: URL) -> Path:
    database = url.database or ""
    if database in ("", ":memory:") or database.startswith("file::memory:"):
        raise ConfigError("FANGXUN_DATABASE_URL: an in-memory SQLite database cannot be backed up")
    return Path(database).expanduser()


def _pg_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise ConfigError(
            f"{name} is not on PATH: install the PostgreSQL client tools "
            "(Debian: apt-get install postgresql-client) matching the server's major version"
        )
    return path


def _pg_schema(url: URL) -> str | None:
    """The schema named by ``options=-csearch_path=NAME`` in the URL, if any (first entry)."""
    options = url.query.get("options")
    text = options if isinstance(options, str) else " ".join(options or ())
    for part in text.split():
        if part.startswith("-csearch_path="):
            first = part.removeprefix("-csearch_path=").split(",")[0].strip().strip('"')
            return first or None
    return None


def _pg_args_env(url: URL) -> tuple[list[str], dict[str, str]]:
    """libpq connection arguments and environment for the command-line tools."""
    args: list[str] = []
    if url.host:
        args += ["--host", url.host]
    if url.port:
        args += ["--port", str(url.port)]
    if url.username:
        args += ["--username", url.username]
    args += ["--no-password", "--dbname", url.database or "postgres"]
    env = dict(os.environ)
    if url.password is not None:
        env["PGPASSWORD"] = str(url.password)
    return args, env


def _run_pg(cmd: list[str], env: dict[str, str], what: str) -> None:
    try:
        proc = subprocess.run(  # fixed tool path, argument list, no shell
            cmd, env=env, capture_output=True, text=True, timeout=PG_TOOL_TIMEOUT_S, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise ConfigError(f"{what} did not finish within {PG_TOOL_TIMEOUT_S} s") from exc
    if proc.returncode != 0:
        # The tools never print the password; keep the first lines that say what went wrong.
        message = " | ".join(proc.stderr.strip().splitlines()[:5]) or f"exit {proc.returncode}"
        raise ConfigError(f"{what} failed: {message}")
    if proc.stderr.strip():
        logger.info("%s: %s", what, proc.stderr.strip())


def backup(database_url: str, path: Path) -> BackupResult:
    """Write a consistent backup of the database at ``database_url`` to ``path``.

    The file is written next to ``path`` and renamed into place, so a failed backup never leaves a
    truncated file under the final name. Raises :class:`ConfigError` when the tools or the
    database are unusable.
    """
    url = make_url(database_url)
    path = path.expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        fmt: BackupFormat
        if url.get_backend_name() == "sqlite":
            source = _sqlite_path(url)
            if not source.is_file():
                raise ConfigError(f"FANGXUN_DATABASE_URL: the SQLite file {source} does not exist")
            src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
            dst = sqlite3.connect(tmp)
            try:
                src.backup(dst, pages=_SQLITE_PAGES_PER_STEP)
                # A backup is one self-contained file: no WAL beside it.
                dst.execute("PRAGMA journal_mode=DELETE")
            finally:
                dst.close()
                src.close()
            fmt = "sqlite"
        elif url.get_backend_name() == "postgresql":
            args, env = _pg_args_env(url)
            cmd = [_pg_tool("pg_dump"), "--format=custom", "--no-owner", "--file", str(tmp)]
            schema = _pg_schema(url)
            if schema:
                cmd += ["--schema", schema]
            _run_pg(cmd + args, env, "pg_dump")
            fmt = "pg_custom"
        else:
            raise ConfigError(f"cannot back up a {url.get_backend_name()} database")
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    size = path.stat().st_size
    logger.info("database backup written to %s (%d bytes, %s)", path, size, fmt)
    return BackupResult(path=path, size_bytes=size, format=fmt)


def _check_sqlite_backup(path: Path) -> None:
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            (result,) = conn.execute("PRAGMA integrity_check").fetchone()
            has_version = conn.execute(
                "SELECT count(*) FROM sqlite_master WHERE type='table' AND name='alembic_version'"
            ).fetchone()[0]
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise ValidationFailed(f"{path} is not a readable SQLite database: {exc}") from exc
    if result != "ok":
        raise ValidationFailed(f"{path} fails SQLite's integrity check: {result}")
    if not has_version:
        raise ValidationFailed(f"{path} is a SQLite database but not a Fangxun backup")


def restore(database_url: str, path: Path) -> BackupResult:
    """Replace the content of the database at ``database_url`` with the backup at ``path``.

    Destructive: whatever the database holds now is lost. The backup's format must match the
    database (a SQLite backup onto SQLite, a ``pg_dump`` custom archive onto PostgreSQL); a wrong,
    truncated or foreign file is refused with :class:`ValidationFailed` before anything changes.
    """
    url = make_url(database_url)
    path = path.expanduser()
    if not path.is_file():
        raise ValidationFailed(f"backup file {path} does not exist", loc=("path",))
    with path.open("rb") as fh:
        fmt = detect_format(fh.read(16))
    backend = url.get_backend_name()
    expected: BackupFormat | None = {"sqlite": "sqlite", "postgresql": "pg_custom"}.get(backend)  # type: ignore[assignment]
    if expected is None:
        raise ConfigError(f"cannot restore into a {backend} database")
    if fmt != expected:
        found = fmt or "neither a SQLite database nor a pg_dump custom archive"
        raise ValidationFailed(
            f"{path}: a {backend} database needs a {expected} backup, this file is {found}",
            loc=("path",),
        )
    if fmt == "sqlite":
        _check_sqlite_backup(path)
        target = _sqlite_path(url)
        target.parent.mkdir(parents=True, exist_ok=True)
        src = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        dst = sqlite3.connect(target, timeout=10.0)
        try:
            src.backup(dst, pages=_SQLITE_PAGES_PER_STEP)
        finally:
            dst.close()
            src.close()
    else:
        args, env = _pg_args_env(url)
        pg_restore = _pg_tool("pg_restore")
        # Listing the archive first refuses a truncated file before anything is dropped.
        _run_pg([pg_restore, "--list", str(path)], env, "pg_restore --list")
        cmd = [pg_restore, "--clean", "--if-exists", "--no-owner", "--single-transaction"]
        schema = _pg_schema(url)
        if schema:
            cmd += ["--schema", schema]
        _run_pg([*cmd, *args, str(path)], env, "pg_restore")
    size = path.stat().st_size
    logger.info("database restored from %s (%d bytes, %s)", path, size, fmt)
    return BackupResult(path=path, size_bytes=size, format=fmt)


__all__ = ["BackupFormat", "BackupResult", "backup", "detect_format", "restore"]
