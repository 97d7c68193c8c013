"""`fangxun setup ...`: set a district up from its own files, then check it is ready.

``terrain FILE`` (a DEM in any CRS), ``buildings FILE`` and ``landuse FILE`` (footprints and land
use burnt onto the terrain's grid), ``roads FILE`` (for the offline basemap), ``catchments FILE``
(drainage), ``storm-formula`` (in mm/min or L/(s·ha), with its source), ``units FILE``
(district and street offices with boundaries: GeoJSON, Shapefile or GeoPackage), ``people FILE
[--mapping M]`` and ``stations FILE [--mapping M]`` (CSV or Excel with the office's own headers),
``check`` (exit 0 only when ready).
Imports are atomic: a bad row is reported by row and field and nothing is written.
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape

from fangxun.audit.service import cli_actor
from fangxun.cli.db import database_session
from fangxun.config import get_settings
from fangxun.datums import Datum

app = typer.Typer(help="District setup from its own files, and readiness.", no_args_is_help=True)
console = Console(soft_wrap=True)

_FILE = typer.Argument(..., exists=True, dir_okay=False, readable=True)
_MAPPING = typer.Option(
    None, "--mapping", exists=True, dir_okay=False, help='JSON {"columns": {"header": "field"}}.'
)


@app.command()
def terrain(path: Path = _FILE) -> None:
    """Store a DEM (GeoTIFF/ASCII, projected in metres, or geographic: reprojected) as the
    district terrain the forecast uses."""
    from fangxun.forecast.service import district_terrain_path
    from fangxun.setup.terrain import store_terrain

    settings = get_settings()
    report = store_terrain(path, district_terrain_path(settings))
    via = f" (reprojected from {report.reprojected_from})" if report.reprojected_from else ""
    console.print(
        f"Terrain {escape(str(report.path))}: {report.crs}{via}, {report.width}×{report.height} "
        f"cells of {report.cell_size_m:g} m, {report.min_m:.1f}…{report.max_m:.1f} m."
    )
    _refresh_basemap()
    if settings.forecast_terrain_path:
        console.print(
            f"[yellow]Note:[/] FANGXUN_FORECAST_TERRAIN_PATH={settings.forecast_terrain_path} "
            "still takes precedence; unset it to forecast on this terrain."
        )


def _refresh_basemap() -> None:
    """Redraw the district's offline hillshade (terrain, roads, boundaries) when it has a
    terrain of its own."""
    from fangxun.forecast.service import district_dir, district_terrain_path
    from fangxun.setup import service

    settings = get_settings()
    terrain_file = district_terrain_path(settings)
    if not terrain_file.is_file():
        return
    with database_session(settings.database_url) as session:
        meta = service.refresh_basemap(
            session=session, terrain=terrain_file, folder=district_dir(settings)
        )
    if meta is not None:
        console.print(f"Offline basemap: hillshade {meta['width']}×{meta['height']} px.")


@app.command()
def roads(path: Path = _FILE) -> None:
    """Store road lines (any vector file and CRS) for the district's offline basemap."""
    from fangxun.forecast.service import district_dir
    from fangxun.setup.inputs import store_roads

    count = store_roads(path, district_dir(get_settings()) / "roads.geojson")
    console.print(f"Roads from {escape(path.name)}: {count} line(s).")
    _refresh_basemap()


@app.command()
def buildings(
    path: Path = _FILE,
    mode: str = typer.Option(
        "blocked", "--mode", help="blocked (walls) or roughness (Manning's n of 'building')."
    ),
) -> None:
    """Store building footprints (any vector file and CRS) that the forecast burns into the
    model grid."""
    from fangxun.forecast.service import district_dir
    from fangxun.setup.inputs import store_buildings

    report = store_buildings(path, district_dir(get_settings()) / "buildings.geojson", mode=mode)
    skipped = f", {report.skipped} without a geometry skipped" if report.skipped else ""
    console.print(
        f"Buildings from {escape(path.name)}: {report.footprints} footprint(s), "
        f"{report.mode}{skipped}."
    )


@app.command()
def catchments(path: Path = _FILE) -> None:
    """Store drainage catchments (polygons with code and capacity_mm_h or return_period_years)
    for the forecast's drainage capacity."""
    from fangxun.forecast.service import district_dir
    from fangxun.setup.inputs import store_catchments

    count = store_catchments(path, district_dir(get_settings()) / "catchments.geojson")
    console.print(f"Catchments from {escape(path.name)}: {count} stored.")


@app.command()
def landuse(
    path: Path = _FILE,
    class_field: str = typer.Option(
        "class", "--class-field", help="Attribute holding the class (vector files)."
    ),
) -> None:
    """Store land use (an integer-class raster, or polygons with a class attribute) on the
    terrain's grid, for Manning's n."""
    from fangxun.forecast.service import district_dir, terrain_path
    from fangxun.setup.inputs import store_landuse

    settings = get_settings()
    report = store_landuse(
        path, district_dir(settings) / "landuse.tif", terrain=terrain_path(settings),
        classes=dict(settings.forecast_landuse_classes), class_field=class_field,
    )  # fmt: skip
    cells = ", ".join(f"{k} {v}" for k, v in sorted(report.cells.items())) or "no class"
    console.print(f"Land use from {escape(path.name)}: cells {cells}.")


@app.command("storm-formula")
def storm_formula(
    a: float = typer.Option(..., "--a", help="a: mm/min·min^n, or L/(s·ha) with --unit."),
    b: float = typer.Option(..., "--b", help="b, min."),
    c: float = typer.Option(..., "--c", help="C (of A = a(1 + C lg P))."),
    n: float = typer.Option(..., "--n", help="n."),
    unit: str = typer.Option("mm/min", "--unit", help="Unit of a: mm/min or L/(s·ha)."),
    source: str = typer.Option(..., "--source", help="Where it comes from (document, year)."),
) -> None:
    """Record the storm intensity formula i = a(1 + C lg P)/(t + b)^n and its source."""
    from fangxun.forecast.service import storm_formula_path
    from fangxun.setup.inputs import store_storm_formula

    settings = get_settings()
    f = store_storm_formula(storm_formula_path(settings), a=a, b=b, c=c, n=n, unit=unit,
                            source=source)  # fmt: skip
    console.print(
        f"Storm formula ({escape(f.name)}): a = {f.a:.4g} mm/min·min^n, b = {f.b:g} min, "
        f"C = {f.c:g}, n = {f.n:g}; P = 1 a, 60 min: {f.intensity_mm_h(3600, 1):.1f} mm/h."
    )
    if "forecast_storm_formula" in settings.model_fields_set:
        console.print("[yellow]Note:[/] FANGXUN_FORECAST_STORM_FORMULA still takes precedence.")


@app.command()
def units(path: Path = _FILE, mapping: Path | None = _MAPPING) -> None:
    """Create or update the district and its street offices (by code) with their boundaries."""
    from fangxun.setup import service
    from fangxun.setup.mapping import check_targets, load_mapping
    from fangxun.setup.terrain import read_unit_features

    columns = load_mapping(mapping)
    check_targets(columns, service.UNIT_FIELDS, what="the units import")
    features = read_unit_features(path, columns)
    with database_session(get_settings().database_url) as session:
        s = service.import_units(session=session, features=features, actor=cli_actor())
    console.print(f"Units from {escape(path.name)}: {s.created} created, {s.updated} updated.")
    _refresh_basemap()


def _table(path: Path, mapping: Path | None, fields: tuple[str, ...], what: str) -> list:  # type: ignore[type-arg]
    from fangxun.setup.mapping import check_targets, load_mapping, read_table

    columns = load_mapping(mapping)
    check_targets(columns, fields, what=what)
    return read_table(path.read_bytes(), path.name, columns)


@app.command()
def people(path: Path = _FILE, mapping: Path | None = _MAPPING) -> None:
    """Create or update people (by name within their unit) from CSV or Excel."""
    from fangxun.setup import service

    rows = _table(path, mapping, service.PEOPLE_FIELDS, "the people import")
    with database_session(get_settings().database_url) as session:
        s = service.import_people(session=session, rows=rows, actor=cli_actor())
    console.print(f"People from {escape(path.name)}: {s.created} created, {s.updated} updated.")


@app.command()
def stations(
    path: Path = _FILE,
    mapping: Path | None = _MAPPING,
    datum: Datum = typer.Option(Datum.wgs84, "--datum", help="Datum of the coordinates."),
) -> None:
    """Create or update stations (by code) with their standard datastreams, from CSV or Excel."""
    from fangxun.setup import service

    rows = _table(path, mapping, service.STATION_FIELDS, "the stations import")
    with database_session(get_settings().database_url) as session:
        s = service.import_stations(session=session, rows=rows, actor=cli_actor(), datum=datum)
    console.print(f"Stations from {escape(path.name)}: {s.created} created, {s.updated} updated.")


@app.command()
def check() -> None:
    """The readiness checklist: exit 0 only when forecasts, warnings, notifications and duty can
    work; otherwise print what is missing and exit 1."""
    from fangxun.forecast.service import terrain_path
    from fangxun.setup import service

    settings = get_settings()
    with database_session(settings.database_url) as session:
        result = service.readiness(
            session=session, settings=settings, terrain=terrain_path(settings)
        )
    for item in result.items:
        mark = "[green]✓[/]" if item.ok else ("[red]✗[/]" if item.required else "[yellow]○[/]")
        areas = ", ".join(a.value for a in item.areas)
        optional = "" if item.required else ", optional"
        line = f"{mark} {escape(item.what)} [dim]({areas}{optional})[/]"
        if not item.ok:
            line += f"\n    {'missing' if item.required else 'advised'}: {escape(item.fix)}"
        console.print(line)
    if not result.ready:
        missing = sorted(
            {a.value for i in result.items if i.required and not i.ok for a in i.areas}
        )
        console.print(f"[bold red]Not ready[/]: missing for {', '.join(missing)}.")
        raise typer.Exit(1)
    console.print("[bold green]Ready[/]: forecasts, warnings, notifications and duty.")
