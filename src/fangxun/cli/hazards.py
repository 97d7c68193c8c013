"""`fangxun hazards ...`: import and export the hazard ledger (Excel or GeoJSON).

``fangxun hazards import FILE`` is atomic: a bad row leaves the database untouched and every
problem is printed as row, column and reason (exit code 65). ``fangxun hazards export FILE``
writes ``.xlsx`` (Chinese headers) or ``.geojson`` by the file's extension.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape

from fangxun import geo
from fangxun.audit.service import cli_actor
from fangxun.cli.db import database_session, unit_id_option
from fangxun.config import get_settings
from fangxun.datums import Datum
from fangxun.errors import ValidationFailed
from fangxun.hazards import io as hazard_io
from fangxun.hazards.models import HazardKind, PointStatus
from fangxun.hazards.service import PointFilter
from fangxun.setup.hazard_input import prepare_hazard_file
from fangxun.setup.mapping import load_mapping

app = typer.Typer(help="Hazard ledger (隐患台账): import and export.", no_args_is_help=True)
console = Console(soft_wrap=True)
_stderr = Console(stderr=True, soft_wrap=True)


@app.command("import")
def import_(
    path: Path = typer.Argument(
        ..., exists=True, dir_okay=False, readable=True, help=".xlsx, .csv or .geojson file."
    ),
    mapping: Path | None = typer.Option(
        None,
        "--mapping",
        exists=True,
        dir_okay=False,
        help="Column mapping (JSON).",
    ),
    datum: Datum = typer.Option(Datum.wgs84, "--datum", help="Datum of the coordinates."),
) -> None:
    """Import hazard points (all rows or none); points are matched by code."""
    settings = get_settings()
    geo.configure(max_vertices=settings.geometry_max_vertices)
    try:
        content, filename = prepare_hazard_file(
            path.read_bytes(), path.name, columns=load_mapping(mapping), datum=datum
        )
        with database_session(settings.database_url) as session:
            report = hazard_io.import_points(
                session=session,
                content=content,
                filename=filename,
                actor=cli_actor(),
                thresholds_table=settings.hazard_thresholds_cm,
            )
    except ValidationFailed as exc:
        # Print every problem here (the generic handler prints them as loc paths).
        _stderr.print(f"[bold red]Error:[/] {escape(exc.detail)}")
        for problem in exc.problems:
            loc = list(problem.loc)
            where = (
                f"row {loc[1]}, column {loc[2]}" if len(loc) == 3 and loc[0] == "row" else str(loc)
            )
            _stderr.print(f"  [red]{escape(where)}[/]: {escape(problem.msg)}")
        raise typer.Exit(65) from None
    console.print(
        f"Imported {path.name}: {report.created} created, {report.updated} updated, "
        f"{report.unchanged} unchanged."
    )


@app.command()
def export(
    path: Path = typer.Argument(..., dir_okay=False, help="Output: .xlsx or .geojson."),
    unit: str | None = typer.Option(None, "--unit", help="Only this unit (code) and below."),
    kind: HazardKind | None = typer.Option(None, "--kind", help="Only this kind."),
    status: PointStatus | None = typer.Option(None, "--status", help="Only this status."),
) -> None:
    """Export hazard points to Excel (Chinese headers) or GeoJSON."""
    suffix = path.suffix.lower()
    if suffix not in (".xlsx", ".geojson", ".json"):
        raise ValidationFailed(f"{path.name}: name the output .xlsx or .geojson", loc=("PATH",))
    settings = get_settings()
    with database_session(settings.database_url) as session:
        unit_id = unit_id_option(session, unit, invalid=True)
        flt = PointFilter(unit_id=unit_id, kind=kind, status=status)
        actor = cli_actor()
        if suffix == ".xlsx":
            data = hazard_io.export_xlsx(session=session, actor=actor, flt=flt)
        else:
            body = hazard_io.export_geojson(session=session, actor=actor, flt=flt)
            data = (json.dumps(body, ensure_ascii=False, indent=1) + "\n").encode("utf-8")
            count = len(body["features"])
    path.write_bytes(data)
    if suffix == ".xlsx":
        console.print(f"Wrote {path} ({len(data)} bytes; coordinates in WGS 84).")
    else:
        console.print(f"Wrote {path}: {count} points (RFC 7946: WGS 84).")
