"""`fangxun rain ...`: radar and QPF grids — nowcast, import into the frame store, watch, replay."""

from __future__ import annotations

import os
from pathlib import Path

import typer
from rich.console import Console

from fangxun.errors import ValidationFailed

app = typer.Typer(help="Rain grids (雷达/数值预报降水): nowcast, import, watch.", no_args_is_help=True)
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
    inputs: list[Path] = typer.Option(..., "--input", help="Radar files: --input A B C or --input A --input B."),
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
