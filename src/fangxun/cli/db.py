"""`fangxun db ...`: database schema migrations."""

from __future__ import annotations

import typer
from rich.console import Console
from sqlalchemy.engine import make_url

from fangxun.config import get_settings
from fangxun.db import migrate
from fangxun.db.engine import make_engine

app = typer.Typer(help="Database schema (Alembic migrations).", no_args_is_help=True)
console = Console(soft_wrap=True)


def redacted(url: str) -> str:
    """``url`` with any password hidden, for printing."""
    return make_url(url).render_as_string(hide_password=True)


@app.command()
def upgrade(
    revision: str = typer.Option("head", help="Target revision (default: the newest)."),
) -> None:
    """Create or upgrade the database schema (FANGXUN_DATABASE_URL) to the newest revision."""
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
