"""`fangxun demo`: the built-in demo district.

``fangxun demo`` migrates the database, loads the demo district, serves it and plays the storm
story (:mod:`fangxun.demo.story`); ``fangxun demo load`` only migrates and loads. Both default
to ``FANGXUN_ENVIRONMENT=demo`` when the variable is not set.
"""

from __future__ import annotations

import os
import threading
from typing import Literal

import typer
import uvicorn
from rich.console import Console
from rich.table import Table

from fangxun.cli import monitoring as monitoring_cli
from fangxun.cli.db import database_session, redacted
from fangxun.config import ENV_PREFIX, Settings, load_settings
from fangxun.db import migrate
from fangxun.demo import story
from fangxun.demo.org_seed import (
    DISTRICT_CODE,
    PRIMARY_LOGIN,
    UNITS,
    DemoSummary,
    load_demo,
    refuse_production,
)
from fangxun.demo.terrain import SYNTHETIC_LABEL, SYNTHETIC_LABEL_ZH

app = typer.Typer(help="Demo district: the storm story (load, serve, replay), or only load it.")
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
        return load_demo(session=session, settings=settings, drainage=True)


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


#: Pages to look at while the story runs (path, what), printed at the start.
WHERE_TO_LOOK = (
    ("/map", "一张图 the map: signal, response level, rain, points at risk, live"),
    ("/wall", "大屏 the command-room wall (full screen, cycling panels)"),
    ("/warnings", "预警 warnings and their CAP alerts"),
    ("/notifications", "通知 the outbox: what was sent to whom, acknowledged or not"),
    ("/response", "应急响应 response level and tasks"),
    ("/incidents", "险情 incidents"),
    ("/forecast", "积水预报 the forecast runs"),
)


@app.callback(invoke_without_command=True)
def demo(
    ctx: typer.Context,
    host: str | None = typer.Option(None, help="Address to listen on [default: FANGXUN_HOST]."),
    port: int | None = typer.Option(
        None, min=0, max=65535, help="TCP port [default: FANGXUN_PORT, 8000]."
    ),
    log_level: str = typer.Option("warning", help="uvicorn log level."),
    replay: bool = typer.Option(
        True, "--replay/--no-replay", help="Run the storm story (else only serve the district)."
    ),
    serve: bool = typer.Option(True, "--serve/--no-serve", help="Start the web server."),
    until_done: bool = typer.Option(
        False, "--until-done", help="Exit when the replay is done (default: serve until Ctrl+C)."
    ),
    speed: float = typer.Option(story.SPEED, min=1.0, help="Times real time."),
    first_hour: int = typer.Option(
        story.FIRST_HOUR, min=0, max=23, help="First hour of the 24 h 7·20 window."
    ),
    hours: int = typer.Option(story.HOURS, min=1, max=24, help="Hours to replay."),
    cell_m: float = typer.Option(
        story.CELL_M, min=10.0, help="Cell size of the replay and the forecasts, m."
    ),
) -> None:
    """Load the demo district, start the server, ingest, forecasts, warnings and notifications,
    and replay the 7·20 storm at an accelerated clock (``fangxun demo load`` only loads).

    Serves until Ctrl+C (``--until-done``: until the replay ends; ``--no-serve``: no server).
    """
    if ctx.invoked_subcommand is not None:
        return
    from fangxun.api.app import create_app

    settings = demo_settings()
    summary = migrate_and_load(settings)
    print_summary(summary, settings)
    bind_host = host or settings.host
    bind_port = settings.port if port is None else port
    url = f"http://{bind_host}:{bind_port}"
    login = f"[bold]{PRIMARY_LOGIN.username}[/] / [bold]{PRIMARY_LOGIN.password}[/]"

    running: story.Story | None = None
    if replay:
        options = story.StoryOptions(speed=speed, first_hour=first_hour, hours=hours, cell_m=cell_m)
        running = story.Story(settings, options, say=console.print)
        console.print("Computing the replay (inundation core on the demo terrain)…")
        plan = running.prepare()
        console.print(
            f"[bold]{plan.label}[/]: {plan.duration_s / 3600:.0f} h of storm in "
            f"{plan.duration_s / speed / 60:.1f} min"
        )
    server: uvicorn.Server | None = None
    if serve:
        # The pages judge staleness as the story does: replayed readings run behind the wall
        # clock by design, which must not light the "data is stale" banner.
        web_settings = (
            settings.model_copy(update={"monitoring_stale_s": running.settings.monitoring_stale_s})
            if running is not None
            else settings
        )
        server = uvicorn.Server(
            uvicorn.Config(
                create_app(web_settings), host=bind_host, port=bind_port, log_level=log_level
            )
        )
    looks = Table(title=f"Where to look — log in as {PRIMARY_LOGIN.username}")
    looks.add_column("page")
    looks.add_column("what")
    for path, what in WHERE_TO_LOOK:
        looks.add_row(f"{url}{path}", what)
    if serve:
        console.print(looks)
        console.print(f"Log in as {login} ({PRIMARY_LOGIN.purpose_zh}).")
    try:
        if running is not None:
            running.start()
        if server is not None and not until_done:
            console.print("[bold]Ctrl+C stops everything.[/]")
            server.run()  # returns on Ctrl+C / SIGTERM
        elif server is not None:
            thread = threading.Thread(target=server.run, name="demo-server", daemon=True)
            thread.start()
            if running is not None:
                running.wait()
            server.should_exit = True
            thread.join(timeout=15.0)
        elif running is not None:
            running.wait()
    except KeyboardInterrupt:
        console.print("stopping…")
    finally:
        if running is not None:
            running.stop()
            _print_story(running)


def _print_story(running: story.Story) -> None:
    log = running.log
    console.print(
        f"Story: {log.observations} observations published, {len(log.forecasts)} forecast(s), "
        f"{len([e for e in log.events if e[1].startswith('warning')])} warning change(s), "
        f"incident: {'#' + str(log.incident_id) if log.incident_id else 'none'}"
    )


app.command("replay")(monitoring_cli.replay)


@app.command()
def load() -> None:
    """Migrate the database and load the demo district (units, people, logins, terrain)."""
    settings = demo_settings()
    summary = migrate_and_load(settings)
    print_summary(summary, settings)


@app.command("rtu")
def rtu(
    port: int = typer.Option(5651, min=1, max=65535, help="The SL 651 ingest server's port."),
    host: str = typer.Option("127.0.0.1", help="The SL 651 ingest server's host."),
    stations: int = typer.Option(1, min=1, help="How many RTUs to simulate."),
    first_address: int = typer.Option(1, min=0, help="Address of the first RTU (10 digits)."),
    reports: int = typer.Option(12, min=1, help="Reports per RTU."),
    interval: float = typer.Option(5.0, min=0.0, help="Real seconds between reports."),
    step: int = typer.Option(300, min=60, help="Simulated seconds between reports."),
    encoding: str = typer.Option("hex", help="hex, ascii, or both (alternating)."),
    max_body: int | None = typer.Option(
        None, min=8, help="Split bodies longer than this into multi-packet messages."
    ),
) -> None:
    """Simulate SL 651 RTUs reporting to `fangxun ingest sl651` (the project's own encoder).

    Each RTU reports PN05, PT, Z and VT every step (hourly: DRP, P1, DRZ1) starting
    reports × step before now, and resends whatever the centre has not acknowledged.
    """
    import asyncio
    from datetime import UTC, datetime, timedelta

    from fangxun.monitoring.ingest.sl651_rtu import make_rtus, run_rtus

    if encoding not in ("hex", "ascii", "both"):
        raise typer.BadParameter("use hex, ascii or both", param_hint="--encoding")
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    start = now - timedelta(seconds=step * reports)
    start -= timedelta(minutes=start.minute % 5)
    encodings: tuple[Literal["hex", "ascii"], ...] = (
        ("hex", "ascii") if encoding == "both" else ((encoding,))  # type: ignore[assignment]
    )
    sims = make_rtus(
        stations,
        start=start,
        reports=reports,
        first_address=first_address,
        encodings=encodings,
        max_body=max_body,
        step_s=step,
    )
    asyncio.run(run_rtus(sims, host, port, interval_s=interval))
    acked = sum(s.acked for s in sims)
    console.print(f"{stations} RTU(s): {reports * stations} reports sent, {acked} acknowledged")
