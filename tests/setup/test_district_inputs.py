"""Buildings, land use and the storm formula of a district: stored by `fangxun setup`, read by the
forecast (footprints burnt on the terrain's grid as blocked or rough cells)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyogrio.raw
import pytest
import rasterio
import shapely
from rasterio.transform import from_origin
from sqlalchemy import Engine
from typer.testing import CliRunner

from fangxun.cli.main import app as cli_app
from fangxun.config import Settings, get_settings
from fangxun.errors import ValidationFailed
from fangxun.forecast import engine, inputs
from fangxun.forecast.service import building_inputs, district_dir, storm_formula
from fangxun.setup.inputs import store_buildings, store_landuse, store_storm_formula

X0, Y0, CELL = 526_000.0, 3_525_000.0, 10.0
runner = CliRunner()


def _dem(path: Path) -> None:
    z = np.full((50, 80), 30.0, dtype=np.float32)
    with rasterio.open(
        path, "w", driver="GTiff", width=80, height=50, count=1, dtype="float32",
        crs="EPSG:32650", transform=from_origin(X0, Y0 + 50 * CELL, CELL, CELL), nodata=-9999.0,
    ) as dst:  # fmt: skip
        dst.write(z, 1)


def _column(values: list[object]) -> np.ndarray:
    """Numbers as a numeric column (as a GIS writes them), anything else as text."""
    if all(isinstance(v, int | float) for v in values):
        return np.array(values, dtype=np.float64)
    return np.array(values, dtype=object)


def _vector(path: Path, geoms: list[shapely.Geometry], crs: str, **fields: list[object]) -> None:
    kinds = {g.geom_type for g in geoms}
    pyogrio.raw.write(
        path, geometry=shapely.to_wkb(geoms), driver="GPKG" if path.suffix == ".gpkg" else
        "GeoJSON", geometry_type=kinds.pop() if len(kinds) == 1 else "Unknown", crs=crs,
        fields=list(fields), field_data=[_column(v) for v in fields.values()],
    )  # fmt: skip


@pytest.fixture
def district(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sqlite_engine: Engine
) -> Iterator[Settings]:
    monkeypatch.setenv("FANGXUN_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("FANGXUN_ENVIRONMENT", "test")
    monkeypatch.setenv("FANGXUN_DATABASE_URL", sqlite_engine.url.render_as_string(False))
    for name in ("FORECAST_TERRAIN_PATH", "FORECAST_STORM_FORMULA", "FORECAST_LANDUSE_PATH"):
        monkeypatch.delenv(f"FANGXUN_{name}", raising=False)
    get_settings.cache_clear()
    dem = tmp_path / "dem.tif"
    _dem(dem)
    result = runner.invoke(cli_app, ["setup", "terrain", str(dem)])
    assert result.exit_code == 0, result.output
    settings = get_settings()
    yield settings
    get_settings.cache_clear()


def test_buildings_blocked_cells_are_the_footprints(district: Settings, tmp_path: Path) -> None:
    # A 60 m × 40 m block (6 × 4 cells) and a 25 m × 25 m house, in CGCS2000 / GK CM 117E:
    # any projected CRS, stored in WGS 84 and burnt back on the UTM grid.
    from pyproj import Transformer

    to_gk = Transformer.from_crs(32650, 4548, always_xy=True)
    block = shapely.box(X0 + 100, Y0 + 200, X0 + 160, Y0 + 240)
    house = shapely.box(X0 + 402, Y0 + 102, X0 + 427, Y0 + 127)
    src = [shapely.transform(g, lambda xy: np.column_stack(to_gk.transform(xy[:, 0], xy[:, 1])))
           for g in (block, house)]  # fmt: skip
    _vector(tmp_path / "楼.gpkg", src, "EPSG:4548", 楼号=["1#", "2#"])
    result = runner.invoke(cli_app, ["setup", "buildings", str(tmp_path / "楼.gpkg")])
    assert result.exit_code == 0, result.output
    assert "2 footprint(s), blocked" in result.output
    stored = inputs.read_buildings(district_dir(district) / "buildings.geojson")
    assert stored.mode == "blocked" and len(stored.geometries) == 2
    notes: list[str] = []
    details: dict[str, object] = {}
    manning, blocked = building_inputs(district, 0.03, notes, details)
    assert manning == 0.03 and blocked is not None and "2 building(s) blocked" in notes[0]
    terrain = str(district_dir(district) / "terrain.tif")
    d = engine.build_district(terrain, resolution_m=0, manning=manning, drainage_mm_h=0.0,
                              blocked=blocked)  # fmt: skip
    # Cell centres inside: the block covers 6 × 4 cells, the 25 m house 3 × 3 centres.
    assert int(d.nodata_mask.sum()) == 24 + 9
    row, col = int((Y0 + 500 - (Y0 + 220)) // CELL), int(100 // CELL) + 1
    assert d.nodata_mask[row, col] and not d.nodata_mask[row, col + 10]
    # A model twice as coarse: blocks fully covered by the block leave the grid (3 × 2), the
    # subgrid keeps the fine footprint.
    coarse = engine.build_district(terrain, resolution_m=20, manning=0.03, drainage_mm_h=0.0,
                                   blocked=blocked)  # fmt: skip
    assert int(coarse.nodata_mask.sum()) >= 6
    assert coarse.fine_nodata_mask is not None
    assert int(coarse.fine_nodata_mask.sum()) == int(d.nodata_mask.sum())


def test_buildings_as_roughness(district: Settings, tmp_path: Path) -> None:
    gj = tmp_path / "b.geojson"
    _vector(gj, [shapely.box(X0 + 100, Y0 + 200, X0 + 160, Y0 + 240)], "EPSG:32650")
    store_buildings(gj, district_dir(district) / "buildings.geojson", mode="roughness")
    notes: list[str] = []
    manning, blocked = building_inputs(district, 0.03, notes, {})
    assert blocked is None and "n = 0.2" in notes[0]
    terrain = str(district_dir(district) / "terrain.tif")
    d = engine.build_district(terrain, resolution_m=0, manning=manning, drainage_mm_h=0.0)
    n = np.asarray(d.manning)
    assert int((n == 0.2).sum()) == 24 and int((n == 0.03).sum()) == 80 * 50 - 24
    assert not d.nodata_mask.any()


def test_buildings_refusals(district: Settings, tmp_path: Path) -> None:
    gj = tmp_path / "b.geojson"
    _vector(gj, [shapely.box(X0, Y0, X0 + 10, Y0 + 10), shapely.Point(X0, Y0)], "EPSG:32650")
    with pytest.raises(ValidationFailed) as err:
        store_buildings(gj, tmp_path / "out.geojson")
    assert err.value.problems[0].loc == ("row", 2, "geometry")
    assert not (tmp_path / "out.geojson").exists()
    with pytest.raises(ValidationFailed, match="roughness"):
        store_buildings(gj, tmp_path / "out.geojson", mode="walls")


def test_landuse_from_polygons_and_from_a_raster(district: Settings, tmp_path: Path) -> None:
    classes = dict(district.forecast_landuse_classes)
    terrain = district_dir(district) / "terrain.tif"
    target = district_dir(district) / "landuse.tif"
    gj = tmp_path / "landuse.geojson"
    _vector(gj, [shapely.box(X0, Y0, X0 + 200, Y0 + 500), shapely.box(X0 + 200, Y0, X0 + 800,
            Y0 + 100)], "EPSG:32650", 类别=["green", "1"])  # fmt: skip
    report = store_landuse(gj, target, terrain=terrain, classes=classes, class_field="类别")
    assert report.cells == {"green": 20 * 50, "road": 60 * 10}
    with rasterio.open(target) as src:
        codes, t = src.read(1), src.transform
    assert codes.shape == (50, 80) and codes[0, 0] == 3 and codes[-1, -1] == 1
    # The forecast reads it as the terrain's land use.
    valid = inputs.read_landuse(target, shape=(50, 80), transform=tuple(t)[:6])[1]
    assert int(valid.sum()) == 1600
    _vector(gj, [shapely.box(X0, Y0, X0 + 200, Y0 + 500)], "EPSG:32650", 类别=["forest"])
    with pytest.raises(ValidationFailed) as err:
        store_landuse(gj, target, terrain=terrain, classes=classes, class_field="类别")
    assert "forest" in err.value.problems[0].msg
    # A raster on another grid (20 m cells, EPSG:4548) is warped onto the terrain's grid.
    with rasterio.open(tmp_path / "src.tif", "w", driver="GTiff", width=40, height=25, count=1,
                       dtype="uint8", crs="EPSG:32650",
                       transform=from_origin(X0, Y0 + 500, 20, 20)) as dst:  # fmt: skip
        dst.write(np.full((25, 40), 4, dtype=np.uint8), 1)
    tif = tmp_path / "src.tif"
    report = store_landuse(tif, target, terrain=terrain, classes=classes)
    assert report.cells == {"water": 4000}


def test_storm_formula_units_source_and_precedence(
    district: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = district_dir(district) / "storm_formula.json"
    q = store_storm_formula(path, a=3073, b=15.1, c=0.892, n=0.824, unit="L/(s·ha)",
                            source="某市暴雨强度公式 2014")  # fmt: skip
    mm = store_storm_formula(path, a=3073 * 60 / 10_000, b=15.1, c=0.892, n=0.824,
                             unit="mm/min", source="某市暴雨强度公式 2014")  # fmt: skip
    assert q.a == pytest.approx(mm.a)
    assert json.loads(path.read_text(encoding="utf-8"))["unit"] == "mm/min"
    formula = storm_formula(district)
    assert formula.name == "某市暴雨强度公式 2014" and formula.a == pytest.approx(18.438)
    with pytest.raises(ValidationFailed, match="n must lie"):
        store_storm_formula(path, a=10, b=10, c=0.5, n=1.2, unit="mm/min", source="x")
    with pytest.raises(ValidationFailed, match="comes from"):
        store_storm_formula(path, a=10, b=10, c=0.5, n=0.7, unit="mm/min", source=" ")
    # A formula set in the configuration still wins over the recorded one.
    monkeypatch.setenv("FANGXUN_FORECAST_STORM_FORMULA", "[10, 10, 0.5, 0.7]")
    get_settings.cache_clear()
    assert storm_formula(get_settings()).name == "configured"


def test_catchments_any_crs_checked_as_the_forecast_reads_them(
    district: Settings, tmp_path: Path
) -> None:
    from fangxun.forecast.service import district_inputs

    gpkg = tmp_path / "排水分区.gpkg"
    _vector(gpkg, [shapely.box(X0, Y0, X0 + 400, Y0 + 500)], "EPSG:32650",
            code=["C1"], capacity_mm_h=[25.0])  # fmt: skip
    result = runner.invoke(cli_app, ["setup", "catchments", str(gpkg)])
    assert result.exit_code == 0 and "1 stored" in result.output, result.output
    _manning, drainage, notes, _details = district_inputs(district)
    assert callable(drainage) and any("1 catchment(s)" in n for n in notes)
    _vector(gpkg, [shapely.box(X0, Y0, X0 + 400, Y0 + 500)], "EPSG:32650", name=["无编码"])
    result = runner.invoke(cli_app, ["setup", "catchments", str(gpkg)])
    assert result.exit_code == 65 and "code" in result.output
