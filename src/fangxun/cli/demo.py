"""`fangxun demo`: the built-in demo district.

``fangxun demo`` migrates the database, loads the demo district and serves it;
``fangxun demo load`` only migrates and loads. Both default to ``FANGXUN_ENVIRONMENT=demo`` when
the variable is not set.
"""

from __future__ import annotations

import os

import typer
import uvicorn
from rich.console import Console
from rich.table import Table

from fangxun.cli import monitoring as monitoring_cli
from fangxun.cli.db import database_session, redacted
from fangxun.config import ENV_PREFIX, Settings, load_settings
from fangxun.db import migrate
from fangxun.demo.org_seed import (
    DISTRICT_CODE,
    PRIMARY_LOGIN,
    UNITS,
    DemoSummary,
    load_demo,
    refuse_production,
)
from fangxun.demo.terrain import SYNTHETIC_LABEL, SYNTHETIC_LABEL_ZH

app = typer.Typer(help="Demo district: load it, or load and serve it.")
console = Console()


def demo_settings() -> Settings:
    """Settings for the demo commands: environment "demo" unless FANGXUN_ENVIRONMENT is set."""
    if f"{ENV_PREFIX}ENVIRONMENT" in os.environ:
        return load_settings()
    return load_settings(environment="demo")


def migrate_and_load(settings: Settings) -> DemoSummary:
    """Upgrade the schema, load the demo district (idempotent) and commit."""
    refuse_production(settings)  # before migrating: leave a production database untouched
    migrate.upgrade(settings.database_url)
    with database_session(settings.database_url) as session:
        return load_demo(session=session, settings=settings)


def print_summary(summary: DemoSummary, settings: Settings) -> None:
    """The rows loaded, the terrain files and the demo logins, as Rich tables."""
    rows = Table(title="演示辖区 Demo district: 郑州高新区 (Zhengzhou High-tech Zone)")
    rows.add_column("")
    rows.add_column("created", justify="right")
    rows.add_column("already there", justify="right")
    rows.add_row("units 单位", str(summary.units_created), str(summary.units_existing))
    rows.add_row("people 人员", str(summary.people_created), str(summary.people_existing))
    rows.add_row("logins 账号", str(summary.users_created), str(summary.users_existing))
    console.print(rows)

    files = summary.terrain_files
    if files is not None:
        written = ", ".join(files.written) if files.written else "none (all present)"
        console.print(f"Terrain files in [bold]{files.directory}[/] — written: {written}")
    console.print(f"[yellow]{SYNTHETIC_LABEL_ZH} — {SYNTHETIC_LABEL}[/]")

    # The district's full name would squeeze the table; its short name is what people say.
    unit_names = {u.code: u.name_zh for u in UNITS} | {DISTRICT_CODE: "高新区"}
    logins = Table(title="Demo logins (demo environment only)")
    for col in ("username", "password", "role", "unit 单位", "person 人员"):
        logins.add_column(col, no_wrap=True)
    for login in summary.logins:
        logins.add_row(
            login.username, login.password, login.role.value, unit_names[login.unit], login.person
        )
    console.print(logins)
    console.print(f"Database: {redacted(settings.database_url)}")


@app.callback(invoke_without_command=True)
def demo(
    ctx: typer.Context,
    host: str | None = typer.Option(None, help="Address to listen on [default: FANGXUN_HOST]."),
    port: int | None = typer.Option(
        None, min=0, max=65535, help="TCP port [default: FANGXUN_PORT, 8000]."
    ),
    log_level: str = typer.Option("info", help="uvicorn log level."),
) -> None:
    """Load the demo district and serve it (``fangxun demo load`` only loads)."""
    if ctx.invoked_subcommand is not None:
        return
    from fangxun.api.app import create_app

    settings = demo_settings()
    summary = migrate_and_load(settings)
    print_summary(summary, settings)
    bind_host = host or settings.host
    bind_port = settings.port if port is None else port
    console.print(
        f"\nFangxun demo: open [bold]http://{bind_host}:{bind_port}[/] and log in as "
        f"[bold]{PRIMARY_LOGIN.username}[/] / [bold]{PRIMARY_LOGIN.password}[/] "
        f"({PRIMARY_LOGIN.purpose_zh}). Ctrl+C stops the server."
    )
    uvicorn.run(create_app(settings), host=bind_host, port=bind_port, log_level=log_level)


app.command("replay")(monitoring_cli.replay)


@app.command()
def load() -> None:
    """Migrate the database and load the demo district (units, people, logins, terrain)."""
    settings = demo_settings()
    summary = migrate_and_load(settings)
    print_summary(summary, settings)
