"""The demo terrain files: GeoTIFF, feature GeoJSON, jurisdictions and the hillshade overlay."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import rasterio
from matplotlib.image import imread
from pyproj import Transformer

from fangxun.demo.files import TerrainFiles, ensure_terrain_files
from fangxun.demo.terrain import CENTRE_LON_LAT, NODATA, SYNTHETIC_LABEL, DemoTerrain


def test_geotiff_holds_the_terrain(terrain_files: TerrainFiles, terrain: DemoTerrain) -> None:
    with rasterio.open(terrain_files.terrain) as src:
        assert src.crs.to_epsg() == 4547
        assert src.res == (10.0, 10.0)
        assert (src.height, src.width) == (800, 800)
        assert src.dtypes == ("float32",)
        assert src.nodata == NODATA
        assert src.transform == terrain.transform
        assert tuple(src.bounds) == terrain.bounds
        assert src.profile["tiled"] and src.block_shapes[0] == (256, 256)
        assert src.overviews(1), "COG needs internal overviews"
        assert src.tags()["DESCRIPTION"] == SYNTHETIC_LABEL
        assert "SYNTHETIC" in src.tags()["TIFFTAG_IMAGEDESCRIPTION"]
        assert np.array_equal(src.read(1), terrain.elevation)


def test_features_geojson(terrain_files: TerrainFiles, terrain: DemoTerrain) -> None:
    doc = json.loads(terrain_files.features.read_text(encoding="utf-8"))
    assert doc["type"] == "FeatureCollection"
    kinds = [f["properties"]["kind"] for f in doc["features"]]
    assert kinds.count("underpass") >= 4 and kinds.count("low_block") >= 4
    for feat, spec in zip(doc["features"], terrain.features, strict=True):
        lon, lat = feat["geometry"]["coordinates"]
        # RFC 7946 order is lon, lat: a swap would put the point in Antarctica or off the district.
        assert 113.4 < lon < 113.7 and 34.7 < lat < 34.9
        assert (feat["properties"]["row"], feat["properties"]["col"]) == (spec.row, spec.col)


def test_jurisdictions_cover_the_features(terrain_files: TerrainFiles) -> None:
    from shapely.geometry import Point, shape

    areas = json.loads(terrain_files.jurisdictions.read_text(encoding="utf-8"))
    polygons = {f["properties"]["unit_code"]: shape(f["geometry"]) for f in areas["features"]}
    assert len(polygons) == 5
    feats = json.loads(terrain_files.features.read_text(encoding="utf-8"))["features"]
    for feat in feats:
        point = Point(feat["geometry"]["coordinates"])
        holders = [code for code, poly in polygons.items() if poly.contains(point)]
        assert holders == [feat["properties"]["unit_code"]]


def test_hillshade_bounds_contain_the_centre(terrain_files: TerrainFiles) -> None:
    meta = json.loads(terrain_files.hillshade_meta.read_text(encoding="utf-8"))
    (south, west), (north, east) = meta["bounds"]
    lon, lat = CENTRE_LON_LAT
    assert west < lon < east and south < lat < north
    # About 8 km across: 0.07-0.1 degrees at this latitude.
    assert 0.07 < east - west < 0.1 and 0.065 < north - south < 0.08
    assert meta["synthetic"] is True and "SYNTHETIC" in meta["attribution"]


def test_hillshade_image_matches_its_bounds(terrain_files: TerrainFiles) -> None:
    meta = json.loads(terrain_files.hillshade_meta.read_text(encoding="utf-8"))
    image = imread(terrain_files.hillshade)
    assert image.shape == (meta["height"], meta["width"], 4)
    # The middle of the image (in Web Mercator) is inside the terrain, so opaque.
    assert image[image.shape[0] // 2, image.shape[1] // 2, 3] == pytest.approx(1.0)
    # Web Mercator pixels are square in metres: the bounds' aspect equals the image's.
    (south, west), (north, east) = meta["bounds"]
    to_merc = Transformer.from_crs("EPSG:4326", "EPSG:3857", always_xy=True)
    x0, y0 = to_merc.transform(west, south)
    x1, y1 = to_merc.transform(east, north)
    assert (x1 - x0) / (y1 - y0) == pytest.approx(meta["width"] / meta["height"], rel=1e-3)


def test_river_is_blue_in_the_hillshade(terrain_files: TerrainFiles) -> None:
    image = imread(terrain_files.hillshade)[..., :3]
    blue = (image[..., 2] > image[..., 0] + 0.3) & (image[..., 2] > 0.5)
    # The channel covers ~0.7 % of the grid; leave room for resampling at its edges.
    assert 0.003 < blue.mean() < 0.02


def test_ensure_writes_only_missing_files(
    terrain_files: TerrainFiles, terrain: DemoTerrain, tmp_path: Path
) -> None:
    first = ensure_terrain_files(tmp_path, terrain=terrain)
    assert set(first.written) == {
        "terrain",
        "features",
        "jurisdictions",
        "landuse",
        "catchments",
        "hillshade",
        "hillshade_meta",
    }
    stamp = first.terrain.stat().st_mtime_ns
    first.features.unlink()
    second = ensure_terrain_files(tmp_path, terrain=terrain)
    assert second.written == ("features",)
    assert second.terrain.stat().st_mtime_ns == stamp
    assert second.features.read_bytes() == terrain_files.features.read_bytes()
    # Same recipe, same bytes: the GeoTIFF written into another folder is identical.
    assert second.terrain.read_bytes() == terrain_files.terrain.read_bytes()


def test_landuse_and_catchments_files(terrain_files: TerrainFiles, terrain: DemoTerrain) -> None:
    from fangxun.config import Settings
    from fangxun.demo.terrain import CATCHMENTS, LANDUSE_CODES
    from fangxun.forecast import inputs
    from fangxun.inundation.rain import StormFormula

    with rasterio.open(terrain_files.landuse) as src:
        assert src.transform == terrain.transform and src.crs.to_epsg() == 4547
        assert src.nodata == 0 and src.dtypes == ("uint8",)
        assert np.array_equal(src.read(1), terrain.landuse)
    # The default class table of the settings maps every demo code.
    assert dict(Settings().forecast_landuse_classes) == LANDUSE_CODES
    t = terrain.transform
    codes, valid = inputs.read_landuse(
        terrain_files.landuse, shape=(800, 800), transform=(t.a, t.b, t.c, t.d, t.e, t.f)
    )
    n = inputs.manning_from_classes(
        codes, classes=LANDUSE_CODES, table=Settings().forecast_manning, valid=valid
    )
    assert np.isfinite(n).all() and (n > 0).all()

    catchments = inputs.read_catchments(terrain_files.catchments)
    assert [c.code for c in catchments] == [c.code for c in CATCHMENTS]
    from pyproj import CRS

    raster, info = inputs.capacity_raster(
        catchments,
        formula=StormFormula(a=18.4, b=15.1, c=0.892, n=0.824),
        default_concentration_s=1800.0,
        default_mm_h=-1.0,
        shape=(800, 800),
        transform=(t.a, t.b, t.c, t.d, t.e, t.f),
        crs_wkt=CRS.from_epsg(4547).to_wkt(),
    )
    assert (raster > 0).all(), "the catchments cover the whole district"
    assert sum(d["cells"] for d in info) == 800 * 800
    pumps = [d for d in info if d["code"].endswith("-PUMP")]
    assert len(pumps) == 5 and all(d["cells"] > 50 and d["capacity_mm_h"] == 80.0 for d in pumps)
