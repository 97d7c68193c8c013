"""`fangxun db ...`: database schema migrations, backup and restore."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import overload

import typer
from rich.console import Console
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlalchemy.orm import Session

from fangxun.config import get_settings
from fangxun.db.engine import make_engine, session_scope

app = typer.Typer(
    help="Database schema (Alembic migrations), backup and restore.", no_args_is_help=True
)
console = Console(soft_wrap=True)

#: What the driver raises when the database is missing or not migrated yet, for the commands that
#: answer "run `fangxun db upgrade` first" (the other shells take no SQLAlchemy import).
DATABASE_NOT_READY: tuple[type[Exception], ...] = (OperationalError, ProgrammingError)


@contextmanager
def database_session(url: str) -> Iterator[Session]:
    """One session scope (commit on success, rollback on error) on an engine of its own, disposed
    afterwards: the unit of work of a CLI command."""
    engine = make_engine(url)
    try:
        with session_scope(engine) as session:
            yield session
    finally:
        engine.dispose()


@overload
def unit_id_option(session: Session, code: str, *, invalid: bool = False) -> int: ...
@overload
def unit_id_option(session: Session, code: None, *, invalid: bool = False) -> None: ...
@overload
def unit_id_option(session: Session, code: str | None, *, invalid: bool = False) -> int | None: ...
def unit_id_option(session: Session, code: str | None, *, invalid: bool = False) -> int | None:
    """The id of the unit whose code ``--unit`` names; None when the option is not given.

    No unit with that code: :class:`~fangxun.errors.NotFoundError` (exit 66), or with ``invalid``
    a :class:`~fangxun.errors.ValidationFailed` on ``--unit`` (exit 65), for the commands that
    have always called it a bad value.
    """
    from fangxun.errors import NotFoundError, ValidationFailed
    from fangxun.org import service as org_service

    if code is None:
        return None
    unit_id = org_service.unit_id_by_code(session=session, code=code)
    if unit_id is not None:
        return unit_id
    if invalid:
        raise ValidationFailed(f"no unit with code {code!r}", loc=("--unit",))
    raise NotFoundError(f"unit {code!r} not found (--unit)")


def redacted(url: str) -> str:
    """``url`` with any password hidden, for printing."""
    return make_url(url).render_as_string(hide_password=True)


@app.command()
def upgrade(
    revision: str = typer.Option("head", help="Target revision (default: the newest)."),
) -> None:
    """Create or upgrade the database schema (FANGXUN_DATABASE_URL) to the newest revision."""
    from fangxun.db import migrate  # Alembic: imported by the commands that migrate

    settings = get_settings()
    engine = make_engine(settings.database_url)
    try:
        before = migrate.current_revision(engine)
        migrate.upgrade_engine(engine, revision)
        after = migrate.current_revision(engine)
    finally:
        engine.dispose()
    where = redacted(settings.database_url)
    if before == after:
        console.print(f"Database {where} is up to date (revision {after}).")
    else:
        console.print(f"Database {where} upgraded: {before or 'empty'} → {after}.")


@app.command()
def current() -> None:
    """Show the database's revision and the newest one available."""
    from fangxun.db import migrate

    settings = get_settings()
    engine = make_engine(settings.database_url)
    try:
        rev = migrate.current_revision(engine)
    finally:
        engine.dispose()
    head = migrate.head_revision()
    state = "up to date" if rev == head else "needs `fangxun db upgrade`"
    console.print(
        f"Database {redacted(settings.database_url)}: {rev or 'empty'} (newest {head}, {state})."
    )


@app.command("backup")
def backup_cmd(
    path: Path = typer.Argument(..., help="File to write (SQLite copy or pg_dump custom archive)."),
) -> None:
    """Write a consistent backup of the database (online: the server may keep running)."""
    from fangxun.db import backup as db_backup

    settings = get_settings()
    result = db_backup.backup(settings.database_url, path)
    console.print(
        f"Backed up {redacted(settings.database_url)} to {result.path} "
        f"({result.size_bytes} bytes, {result.format})."
    )


@app.command("restore")
def restore_cmd(
    path: Path = typer.Argument(..., help="A file written by `fangxun db backup`."),
    yes: bool = typer.Option(False, "--yes", help="Do not ask: replace the database's content."),
) -> None:
    """Replace the database's content with a backup (everything written since is lost)."""
    from fangxun.db import backup as db_backup

    settings = get_settings()
    where = redacted(settings.database_url)
    if not yes and not typer.confirm(f"Replace everything in {where} with {path}?"):
        raise typer.Exit(1)
    result = db_backup.restore(settings.database_url, path)
    console.print(f"Restored {where} from {result.path} ({result.format}).")
