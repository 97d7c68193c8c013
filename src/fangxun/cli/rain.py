"""`fangxun rain ...`: radar and QPF grids — nowcast, import into the frame store, watch, replay."""

from __future__ import annotations

import os
from pathlib import Path

import typer
from rich.console import Console

from fangxun.errors import ValidationFailed

app = typer.Typer(
    help="Rain grids (雷达/数值预报降水): nowcast, import, watch.", no_args_is_help=True
)
console = Console(soft_wrap=True, stderr=True)


def _options(items: list[str] | None) -> dict[str, object]:
    from fangxun.rain.importers import parse_option

    return dict(parse_option(i) for i in items or [])


@app.command(
    "nowcast", context_settings={"allow_extra_args": True, "ignore_unknown_options": False}
)
def nowcast_cmd(
    ctx: typer.Context,
    importer: str = typer.Option(..., "--importer", help="Importer name, e.g. mch_gif, odim_hdf5."),
    inputs: list[Path] = typer.Option(
        ..., "--input", help="Radar files: --input A B C or --input A --input B."
    ),
    members: int = typer.Option(1, "--members", min=1, help="Ensemble members K (STEPS if > 1)."),
    lead_min: float = typer.Option(..., "--lead-min", help="Lead time, minutes."),
    out: Path = typer.Option(..., "--out", help="Output CF NetCDF file."),
    qpf: list[Path] | None = typer.Option(None, "--qpf", help="QPF file(s) to blend into."),
    qpf_importer: str = typer.Option("netcdf", "--qpf-importer", help="Importer of the QPF."),
    importer_option: list[str] | None = typer.Option(
        None, "--importer-option", help="KEY=VALUE for the importer (repeatable)."
    ),
    seed: int = typer.Option(0, "--seed", help="Seed of the ensemble noise."),
) -> None:
    """Nowcast from the last input frame; writes rain_rate (mm/h) on the input grid."""
    from fangxun.rain import importers
    from fangxun.rain.ncio import write_netcdf
    from fangxun.rain.nowcast import nowcast

    extra = [a for a in ctx.args if not a.startswith("-")]
    if len(extra) != len(ctx.args):
        raise ValidationFailed(f"unknown option(s): {' '.join(ctx.args)}", loc=("options",))
    # `--input A B C` (the contract): click gives A to --input and B C as extra arguments.
    paths = [*inputs, *(Path(a) for a in extra)]
    opts = _options(importer_option)
    frames = importers.read_sequence(paths, importer, opts)
    qpf_frames = []
    for q in qpf or []:
        qpf_frames.extend(importers.read_frames(q, qpf_importer, kind="QPF"))
    if qpf and not qpf_frames:
        raise ValidationFailed("the QPF files hold no frame", loc=("--qpf",))
    nc = nowcast(frames, lead_min, members, qpf=qpf_frames or None, seed=seed)
    write_netcdf(nc, out)
    console.print(
        f"{nc.method}: {nc.members} member(s), {len(nc.times)} lead(s) from "
        f"{nc.issue_time.isoformat()} → {os.fspath(out)}"
    )


def _print_results(results: list[object]) -> int:
    from fangxun.rain.service import IngestResult

    bad = 0
    for r in results:
        assert isinstance(r, IngestResult)
        if r.error:
            bad += 1
            console.print(f"[red]refused[/] {r.error}")
        else:
            console.print(f"{Path(r.path).name}: {r.stored} stored, {r.repeated} already held")
    return bad


@app.command("import")
def import_cmd(
    paths: list[Path] = typer.Argument(..., help="Files, or a folder to replay in name order."),
    importer: str = typer.Option(..., "--importer", help="Importer name."),
    feed: str = typer.Option(..., "--feed", help="Feed name (e.g. mch, city-radar, ecmwf)."),
    kind: str = typer.Option("QPE", "--kind", help="QPE, QPF or nowcast."),
    importer_option: list[str] | None = typer.Option(None, "--importer-option"),
    adjust: bool = typer.Option(False, "--adjust", help="Also store frames adjusted to gauges."),
) -> None:
    """Store rain files in the frame store (bad files refused by name, the rest kept)."""
    from fangxun.config import get_settings
    from fangxun.db import make_engine, session_scope
    from fangxun.rain import service

    if kind not in ("QPE", "QPF", "nowcast"):
        raise ValidationFailed(f"kind must be QPE, QPF or nowcast, not {kind!r}", loc=("--kind",))
    files: list[Path] = []
    for p in paths:
        files.extend(sorted(q for q in p.iterdir() if q.is_file()) if p.is_dir() else [p])
    settings = get_settings()
    with session_scope(make_engine(settings.database_url)) as session:
        results = service.ingest_files(
            session=session,
            data_dir=Path(settings.data_dir),
            paths=files,
            importer=importer,
            feed=feed,
            kind=kind,  # type: ignore[arg-type]
            options=_options(importer_option),
            adjust=adjust,
        )
    if _print_results(list(results)):
        raise typer.Exit(65)


@app.command("watch")
def watch_cmd(
    folder: Path = typer.Argument(..., exists=True, file_okay=False),
    importer: str = typer.Option(..., "--importer"),
    feed: str = typer.Option(..., "--feed"),
    pattern: str = typer.Option("*", "--pattern", help="File name pattern, e.g. '*.hdf'."),
    poll_s: float = typer.Option(30.0, "--poll", help="Seconds between scans (< one interval)."),
    importer_option: list[str] | None = typer.Option(None, "--importer-option"),
    adjust: bool = typer.Option(False, "--adjust", help="Also store frames adjusted to gauges."),
) -> None:
    """Watch a folder and store each new file once it has stopped growing."""
    from fangxun.cli.loop import run_every
    from fangxun.config import get_settings
    from fangxun.db import make_engine, session_scope
    from fangxun.rain import service
    from fangxun.rain.watch import FolderWatcher

    settings = get_settings()
    db = make_engine(settings.database_url)
    watcher = FolderWatcher(folder, pattern)
    opts = _options(importer_option)

    def tick() -> None:
        ready = watcher.scan()
        if not ready:
            return
        with session_scope(db) as session:
            results = service.ingest_files(
                session=session,
                data_dir=Path(settings.data_dir),
                paths=ready,
                importer=importer,
                feed=feed,
                options=opts,
                adjust=adjust,
            )
        _print_results(list(results))

    run_every(tick, poll_s, name="rain watch")
