"""`fangxun drainage ...`: the drainage network (SWMM) coupled with the surface model."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import typer
from rich.console import Console

from fangxun.errors import ValidationFailed

app = typer.Typer(
    help="Drainage network (SWMM) coupled with the surface model.", no_args_is_help=True
)
console = Console(soft_wrap=True)
log = logging.getLogger(__name__)


@app.command("run")
def run(
    inp: Path = typer.Option(..., "--inp", help="The network as an EPA SWMM 5 .inp file."),
    terrain: Path = typer.Option(..., "--terrain", help="Terrain raster (projected CRS, m)."),
    duration_min: float = typer.Option(..., "--duration-min", help="Run length (min)."),
    json_out: Path = typer.Option(..., "--json", help="Where to write the results (JSON)."),
    rain_mm_h: float = typer.Option(0.0, "--rain-mm-h", help="Uniform rain (mm/h)."),
    rain_min: float = typer.Option(0.0, "--rain-min", help="Rain for the first N minutes."),
    exchange_s: float = typer.Option(10.0, "--exchange-s", help="Exchange interval (s)."),
    backend: str = typer.Option("numba", "--backend", help="Surface model backend."),
) -> None:
    """Run the network coupled both ways with the 2-D surface model on TERRAIN.

    Writes JSON with ``outfalls`` (time_s, flow_m3_s per outfall), ``nodes`` (max_depth_m,
    flooded_m3 per node) and ``volume_balance`` (m³; SWMM's routing continuity %).
    """
    from fangxun.drainage import NetworkError
    from fangxun.drainage.run import run_files

    try:
        result = run_files(
            inp,
            terrain,
            duration_min=duration_min,
            rain_mm_h=rain_mm_h,
            rain_min=rain_min,
            exchange_interval_s=exchange_s,
            backend=backend,
        )
    except (NetworkError, ValueError) as exc:
        log.warning("drainage run refused: %s", exc)
        raise ValidationFailed(str(exc)) from None
    json_out.parent.mkdir(parents=True, exist_ok=True)
    json_out.write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")
    vb = result["volume_balance"]
    console.print(
        f"{inp.name}: {result['time_s'] / 60:.1f} min; rain {vb['rain_m3']:.1f} m³, "
        f"outfalls {vb['outfall_m3']:.1f} m³, flooded {vb['flooded_to_surface_m3']:.1f} m³, "
        f"error {vb['error_m3']:.3g} m³ (SWMM continuity {vb['swmm_routing_continuity_pct']:.2f} %)"
        f" → {json_out}"
    )


@app.command("import")
def import_network(
    inp: Path = typer.Argument(..., exists=True, dir_okay=False, help="SWMM 5 .inp file."),
    name: str = typer.Option(..., "--name", help="A name for the network (e.g. 高新区管网)."),
) -> None:
    """Import the district's network (it becomes the one forecasts couple to); prints the
    check against the district terrain."""
    from fangxun.audit.service import cli_actor
    from fangxun.cli.db import database_session
    from fangxun.config import get_settings
    from fangxun.drainage import service

    settings = get_settings()
    grid = service.district_terrain(settings)
    with database_session(settings.database_url) as session:
        row = service.import_network(
            session=session,
            settings=settings,
            inp_path=inp,
            name=name,
            actor=cli_actor(),
            terrain=grid,
        )
        report = row.check_report
        console.print(
            f"Imported {inp.name} as network {row.id} ({row.node_count} nodes, "
            f"{row.link_count} links, {row.pump_count} pumps, {row.outfall_count} outfalls)."
        )
    if report is not None:
        console.print_json(json.dumps(report, ensure_ascii=False))
