"""`fangxun inundation ...`: run the grid model from a TOML run file."""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from fangxun.errors import FieldProblem, ValidationFailed
from fangxun.inundation.io import RunFileError, build_model, load_run_file, write_outputs

app = typer.Typer(help="Inundation model (2D surface flow).", no_args_is_help=True)
console = Console(soft_wrap=True)


def _clock(seconds: float) -> str:
    """Simulated time as H:MM:SS."""
    s = max(0, round(seconds))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


class _SimTimeColumn(ProgressColumn):
    """Simulated time done / total."""

    def render(self, task: Task) -> Text:
        total = task.total or 0.0
        return Text(f"{_clock(task.completed)} / {_clock(total)} sim", style="cyan")


class _SpeedColumn(ProgressColumn):
    """Simulated seconds per wall-clock second."""

    def render(self, task: Task) -> Text:
        speed = task.fields.get("speed", math.nan)
        return Text("×—" if not math.isfinite(speed) else f"×{speed:,.0f} real time")


def _run_file_error(exc: RunFileError) -> ValidationFailed:
    problems = [FieldProblem((key,) if key else (), msg) for key, msg in exc.problems]
    detail = str(exc).splitlines()[0] if problems else str(exc)
    return ValidationFailed(detail, problems=problems)


@app.command("run")
def run(
    run_file: Path = typer.Argument(..., help="TOML run file (see docs/examples/run.toml)."),
    out: Path = typer.Option(..., "--out", "-o", help="Folder for the outputs (created)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar or summary."),
) -> None:
    """Run the model a run file describes and write its outputs to OUT.

    Writes max_depth.tif, arrival_time.tif and time_of_max_depth.tif (Cloud-Optimised GeoTIFF),
    one gauge_<name>.csv per gauge, mass_balance.csv and max_depth.png.
    """
    try:
        cfg = load_run_file(run_file)
        model = build_model(cfg)
    except RunFileError as exc:
        raise _run_file_error(exc) from None
    t_end = cfg.run.duration_s
    start = time.perf_counter()
    progress = Progress(
        TextColumn("[bold]模拟 / simulating"),
        BarColumn(),
        _SimTimeColumn(),
        _SpeedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        TimeElapsedColumn(),
        console=console,
        disable=quiet,
        transient=False,
    )
    with progress:
        task = progress.add_task("run", total=t_end, speed=math.nan)

        def on_progress(t_s: float, _t_end_s: float) -> None:
            wall = time.perf_counter() - start
            progress.update(task, completed=t_s, speed=t_s / wall if wall > 0 else math.nan)

        model.run_until(t_end, progress=on_progress)
    wall = time.perf_counter() - start
    outputs = write_outputs(model, cfg, out)
    if quiet:
        return
    mb = model.mass_balance()
    max_depth = model.max_depth
    table = Table(title="结果 / Result", show_header=False)
    table.add_row("simulated", f"{_clock(model.time_s)} in {wall:.1f} s wall")
    table.add_row("steps / cell updates", f"{model.steps:,} / {model.cell_updates:,}")
    table.add_row("max depth", f"{float(np.nanmax(max_depth)):.3f} m")
    thr = cfg.run.arrival_threshold_m
    wet_area = float(np.nansum(max_depth >= thr)) * model.grid.cell_area_m2
    table.add_row(f"area ever ≥ {thr:g} m", f"{wet_area / 1e6:.4f} km²")
    table.add_row("rain / outflow", f"{mb['rain']:,.1f} / {mb['outflow']:,.1f} m³")
    scale = max(mb["rain"] + abs(mb["inflow"]) + mb["initial_storage"], 1e-30)
    table.add_row("mass error", f"{mb['error']:.3e} m³ ({abs(mb['error']) / scale:.1e} of input)")
    table.add_row("outputs", str(out))
    for path in (outputs.max_depth, outputs.arrival_time, outputs.mass_balance, outputs.map_png):
        table.add_row("", path.name)
    for path in outputs.gauges.values():
        table.add_row("", path.name)
    console.print(table)
