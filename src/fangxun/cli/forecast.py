"""`fangxun forecast ...`: start a run (design storm, series file or nowcast), show status, and
the scheduling loop."""

from __future__ import annotations

import time
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from fangxun.audit.service import cli_actor
from fangxun.cli.loop import run_every
from fangxun.config import get_settings
from fangxun.db import make_engine, session_scope
from fangxun.errors import ValidationFailed
from fangxun.forecast import flows, rainsource, schedule, service
from fangxun.forecast.models import RunPurpose, RunStatus
from fangxun.forecast.schemas import DesignRain, ForecastRunCreate, NowcastRain, SeriesRain

app = typer.Typer(help="Forecasts (积水预报): runs, status, schedule.", no_args_is_help=True)
console = Console(soft_wrap=True)


def _execute(db: object, run_id: int, settings: object, members: int) -> RunStatus:
    with Progress(
        TextColumn(f"forecast #{run_id}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("members"),
        TimeElapsedColumn(),
        console=console,
    ) as bar:
        task = bar.add_task("members", total=members)

        def on_progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        return flows.execute_run(db, run_id, settings, on_progress=on_progress)  # type: ignore[arg-type]


@app.command("run")
def run(
    storm: str | None = typer.Option(None, "--storm", help="Design storm: chicago."),
    return_period: float = typer.Option(5.0, "--return-period", help="Return period, years."),
    hours: float = typer.Option(3.0, "--hours", help="Storm duration, h (design storm)."),
    series: Path | None = typer.Option(
        None, "--series", exists=True, dir_okay=False, help="CSV time_s,intensity_mm_h."
    ),
    horizon_h: float | None = typer.Option(None, "--horizon", help="Forecast horizon, h."),
    members: int | None = typer.Option(None, "--members", min=1, help="Ensemble members."),
    seed: int | None = typer.Option(None, "--seed", help="Seed of the perturbations."),
    dry: bool = typer.Option(False, "--dry-start", help="Ignore the last run's state."),
    purpose: RunPurpose | None = typer.Option(
        None,
        "--purpose",
        help="operational | scenario | exercise. Default: a nowcast is operational, a design "
        "storm or series a scenario (what-if: never in force, never warns).",
    ),
    drill: int | None = typer.Option(None, "--drill", help="The drill of an exercise run (id)."),
) -> None:
    """Run a forecast now (no rain given: a nowcast from the gauges) and wait for it."""
    settings = get_settings()
    if storm is not None and series is not None:
        raise ValidationFailed("give either --storm or --series, not both", loc=("--series",))
    rain: DesignRain | SeriesRain | NowcastRain
    if storm is not None:
        if storm != "chicago":
            raise ValidationFailed(f"unknown storm {storm!r}: use chicago", loc=("--storm",))
        rain = DesignRain(return_period_years=return_period, duration_s=hours * 3600.0)
    elif series is not None:
        try:
            step, values = rainsource.read_series_csv(series)
        except ValueError as exc:
            raise ValidationFailed(str(exc), loc=("--series",)) from exc
        rain = SeriesRain(step_s=step, intensity_mm_h=values)
    else:
        rain = NowcastRain()
    run_in = ForecastRunCreate(
        rain=rain,
        horizon_s=None if horizon_h is None else horizon_h * 3600.0,
        members=members,
        seed=seed,
        warm_start=not dry,
        purpose=purpose,
        drill_id=drill,
    )
    db = make_engine(settings.database_url)
    try:
        with session_scope(db) as session:
            r = service.create_run(
                session=session, run_in=run_in, actor=cli_actor(), settings=settings
            )
            run_id, k = r.id, r.members
        t0 = time.perf_counter()
        status = _execute(db, run_id, settings, k)
        with session_scope(db) as session:
            r = service.get_run(session=session, run_id=run_id)
            console.print(f"forecast #{run_id}: {status.value} in {time.perf_counter() - t0:.1f} s")
            console.print(f"purpose: {r.purpose.value}" + _purpose_note(r.purpose))
            console.print(r.message or "")
            if status == RunStatus.done:
                _points_table(session, run_id)
    finally:
        db.dispose()
    if status != RunStatus.done:
        raise typer.Exit(1)


def _purpose_note(purpose: RunPurpose) -> str:
    if purpose is RunPurpose.scenario:
        return " (情景推演 what-if: never the forecast in force, never warns)"
    if purpose is RunPurpose.exercise:
        return " (演练 exercise: warnings reach only the drill's people)"
    return ""


def _points_table(session: object, run_id: int) -> None:
    rows = service.point_results(session=session, run_id=run_id, actor=cli_actor())  # type: ignore[arg-type]
    table = Table("point", "name", "peak cm", "peak at", "to yellow", "P(yellow)", "P(red)")
    for p in rows[:20]:
        ty = p.time_to_threshold_s.get("yellow")
        table.add_row(
            p.code,
            p.name,
            f"{p.peak_depth_cm:.1f}",
            f"{p.peak_time_s / 60:.0f} min",
            "—" if ty is None else f"{ty / 60:.0f} min",
            f"{p.probability.get('yellow', 0):.0%}",
            f"{p.probability.get('red', 0):.0%}",
        )
    console.print(table)


@app.command("status")
def status(limit: int = typer.Option(10, "--limit", min=1)) -> None:
    """The latest runs and the forecast in force."""
    settings = get_settings()
    db = make_engine(settings.database_url)
    try:
        with session_scope(db) as session:
            cur = service.current_run(session=session)
            table = Table(
                "id", "purpose", "status", "progress", "rain", "members", "issued (UTC)", "message"
            )
            for r in service.list_runs(session=session, limit=limit):
                table.add_row(
                    str(r.id) + (" *" if cur is not None and cur.id == r.id else ""),
                    r.purpose.value,
                    r.status.value,
                    f"{r.progress:.0%}",
                    r.rain_source.value,
                    str(r.members),
                    r.issued_at.strftime("%Y-%m-%d %H:%M"),
                    (r.message or "")[:80],
                )
            console.print(table)
            console.print(
                "in force: " + (f"#{cur.id}" if cur is not None else "none") + "  (* = current)"
            )
    finally:
        db.dispose()


@app.command("schedule")
def schedule_loop(
    poll_s: float = typer.Option(60.0, "--poll", help="Seconds between checks."),
    once: bool = typer.Option(False, "--once", help="Check once and exit."),
) -> None:
    """Run a nowcast every forecast interval while it rains or a warning is in force."""
    settings = get_settings()
    db = make_engine(settings.database_url)

    def tick() -> None:
        run_id = schedule.tick(db, settings)
        if run_id is not None:
            st = flows.execute_run(db, run_id, settings)
            console.print(f"forecast #{run_id}: {st.value}")
        elif once:
            console.print("no forecast due")

    try:
        if once:
            tick()
            return
        # A service: a failing check (the database restarting) is logged and retried with
        # backoff, never the end of the scheduler; SIGINT/SIGTERM stop it between checks.
        failed = run_every(tick, poll_s, name="forecast schedule")
        console.print(f"stopped ({failed} failed checks)")
    finally:
        db.dispose()
