"""`fangxun serve`: apply migrations, then run the web server (uvicorn)."""

from __future__ import annotations

import typer
import uvicorn
from rich.console import Console

from fangxun.config import get_settings
from fangxun.db import migrate

app = typer.Typer()
console = Console(soft_wrap=True)


@app.command()
def serve(
    host: str | None = typer.Option(None, help="Address to listen on [default: FANGXUN_HOST]."),
    port: int | None = typer.Option(
        None, min=0, max=65535, help="TCP port [default: FANGXUN_PORT, 8000]."
    ),
    migrate_first: bool = typer.Option(
        True, "--migrate/--no-migrate", help="Upgrade the database schema before serving."
    ),
    log_level: str = typer.Option("info", help="uvicorn log level."),
) -> None:
    """Serve the API (/api/v1, docs at /api/docs) and the web pages."""
    from fangxun.api.app import create_app

    settings = get_settings()
    if migrate_first:
        migrate.upgrade(settings.database_url)
    app_ = create_app(settings)
    bind_host = host or settings.host
    bind_port = settings.port if port is None else port
    console.print(f"Fangxun serving on [bold]http://{bind_host}:{bind_port}[/] (Ctrl+C stops it)")
    uvicorn.run(app_, host=bind_host, port=bind_port, log_level=log_level)
