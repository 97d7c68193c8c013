"""Files of the demo terrain under ``<data_dir>/demo/``.

* ``terrain.tif``: Cloud-Optimised GeoTIFF, float32 elevations in m, EPSG:4547, 10 m cells, nodata
  :data:`~fangxun.demo.terrain.NODATA`, tagged as synthetic;
* ``features.geojson``: underpasses and low-lying blocks (WGS 84 points with row/col and grid x/y);
* ``jurisdictions.geojson``: the street offices' areas (WGS 84 polygons);
* ``landuse.tif``: land-use class codes (uint8, :data:`~fangxun.demo.terrain.LANDUSE_CODES`,
  nodata 0) on the terrain's grid, for Manning's n by land use;
* ``catchments.geojson``: drainage catchments (WGS 84 polygons with the design return period or
  the pipe/pump capacity), for the drainage capacity by catchment;
* ``hillshade.png`` + ``hillshade.json``: a shaded-relief basemap reprojected to Web Mercator, with
  its WGS 84 bounds ``[[south, west], [north, east]]`` for a Leaflet ``imageOverlay``.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import rasterio
from matplotlib import colormaps
from matplotlib.colors import LightSource
from matplotlib.image import imsave
from pyproj import Transformer
from rasterio.warp import Resampling, calculate_default_transform, reproject

from fangxun.demo.terrain import (
    CATCHMENTS,
    LANDUSE_CODES,
    NODATA,
    SYNTHETIC_LABEL,
    SYNTHETIC_LABEL_ZH,
    TERRAIN_CRS,
    DemoTerrain,
    demo_terrain,
    jurisdiction_polygons,
    local_ring,
)

TERRAIN_FILE = "terrain.tif"
FEATURES_FILE = "features.geojson"
JURISDICTIONS_FILE = "jurisdictions.geojson"
LANDUSE_FILE = "landuse.tif"
CATCHMENTS_FILE = "catchments.geojson"
HILLSHADE_FILE = "hillshade.png"
HILLSHADE_META_FILE = "hillshade.json"
#: The CRS the hillshade image is warped to: Leaflet's default, so the overlay lines up exactly.
WEB_MERCATOR = "EPSG:3857"
#: Vertical exaggeration of the hillshade: the district is flat (~30 m of relief over 8 km).
HILLSHADE_VERT_EXAG = 20.0
_RIVER_RGB = np.array([0.23, 0.51, 0.80])
_RAIL_RGB = np.array([0.35, 0.33, 0.33])
_ROAD_RGB = np.array([1.0, 0.99, 0.96])


@dataclass(frozen=True)
class TerrainFiles:
    """Paths of the demo terrain files and which of them this call wrote."""

    directory: Path
    terrain: Path
    features: Path
    jurisdictions: Path
    landuse: Path
    catchments: Path
    hillshade: Path
    hillshade_meta: Path
    written: tuple[str, ...]


def demo_dir(data_dir: Path) -> Path:
    """The folder holding the demo files: ``<data_dir>/demo``."""
    return Path(data_dir) / "demo"


def _atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Write via a temporary file in the same folder, then rename: never a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.stem}-", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        # mkstemp makes the file private; these are shared read-only data files.
        tmp.chmod(0o644)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


def write_terrain_geotiff(terrain: DemoTerrain, path: Path) -> None:
    """Write the elevations (m) as a Cloud-Optimised GeoTIFF (256 px tiles, deflate, overviews)."""

    def write(tmp: Path) -> None:
        rows, cols = terrain.elevation.shape
        with rasterio.open(
            tmp,
            "w",
            driver="COG",
            width=cols,
            height=rows,
            count=1,
            dtype="float32",
            crs=terrain.crs,
            transform=terrain.transform,
            nodata=NODATA,
            BLOCKSIZE=256,
            COMPRESS="DEFLATE",
            PREDICTOR="YES",
            OVERVIEW_RESAMPLING="AVERAGE",
        ) as dst:
            dst.write(terrain.elevation, 1)
            dst.update_tags(
                TIFFTAG_IMAGEDESCRIPTION=SYNTHETIC_LABEL,
                DESCRIPTION=SYNTHETIC_LABEL,
                SYNTHETIC="yes",
                UNITS="m",
                SOURCE="fangxun.demo.terrain (seeded, deterministic)",
            )
            dst.update_tags(1, UNITS="m", DESCRIPTION="elevation (synthetic)")
            dst.set_band_description(1, "elevation_m")

    _atomic_write(path, write)


def write_landuse_geotiff(terrain: DemoTerrain, path: Path) -> None:
    """Write the land-use class codes as a GeoTIFF (uint8, nodata 0, deflate), terrain grid."""

    def write(tmp: Path) -> None:
        rows, cols = terrain.landuse.shape
        with rasterio.open(
            tmp,
            "w",
            driver="GTiff",
            width=cols,
            height=rows,
            count=1,
            dtype="uint8",
            crs=terrain.crs,
            transform=terrain.transform,
            nodata=0,
            TILED="YES",
            COMPRESS="DEFLATE",
        ) as dst:
            dst.write(terrain.landuse, 1)
            dst.update_tags(
                DESCRIPTION=SYNTHETIC_LABEL,
                SYNTHETIC="yes",
                CLASSES=json.dumps(LANDUSE_CODES),
                SOURCE="fangxun.demo.terrain (seeded, deterministic)",
            )
            dst.set_band_description(1, "landuse_class")

    _atomic_write(path, write)


def catchments_geojson() -> dict[str, Any]:
    """The demo drainage catchments as an RFC 7946 FeatureCollection (lon, lat), in the format
    :func:`fangxun.forecast.inputs.parse_catchments` reads."""
    features = []
    for c in CATCHMENTS:
        props: dict[str, Any] = {"code": c.code, "name": c.name_zh, "name_en": c.name_en}
        if c.capacity_mm_h is not None:
            props["capacity_mm_h"] = c.capacity_mm_h
        else:
            props["return_period_years"] = c.return_period_years
            props["concentration_time_min"] = c.concentration_time_min
        ring = local_ring(c.x_min_m, c.x_max_m, c.s_min_m, c.s_max_m)
        features.append(
            {
                "type": "Feature",
                "id": c.code,
                "geometry": {"type": "Polygon", "coordinates": [[list(p) for p in ring]]},
                "properties": props,
            }
        )
    return {
        "type": "FeatureCollection",
        "name": "fangxun_demo_catchments",
        "synthetic": True,
        "description": SYNTHETIC_LABEL,
        "features": features,
    }


def features_geojson(terrain: DemoTerrain) -> dict[str, Any]:
    """The underpasses and low blocks as an RFC 7946 FeatureCollection (lon, lat)."""
    return {
        "type": "FeatureCollection",
        "name": "fangxun_demo_features",
        "synthetic": True,
        "description": SYNTHETIC_LABEL,
        "grid": {"crs": TERRAIN_CRS, "cell_size_m": terrain.cell_size_m},
        "features": [
            {
                "type": "Feature",
                "id": f.code,
                "geometry": {"type": "Point", "coordinates": [f.lon, f.lat]},
                "properties": {
                    "code": f.code,
                    "kind": f.kind,
                    "name_zh": f.name_zh,
                    "name_en": f.name_en,
                    "row": f.row,
                    "col": f.col,
                    "x": f.x,
                    "y": f.y,
                    "ground_m": f.ground_m,
                    "depth_m": f.depth_m,
                    "unit_code": f.unit_code,
                },
            }
            for f in terrain.features
        ],
    }


def jurisdictions_geojson() -> dict[str, Any]:
    """The street offices' areas as an RFC 7946 FeatureCollection of polygons (lon, lat)."""
    return {
        "type": "FeatureCollection",
        "name": "fangxun_demo_jurisdictions",
        "synthetic": True,
        "features": [
            {
                "type": "Feature",
                "id": code,
                "geometry": {"type": "Polygon", "coordinates": [[list(p) for p in ring]]},
                "properties": {"unit_code": code},
            }
            for code, ring in jurisdiction_polygons()
        ],
    }


def _write_json(path: Path, payload: dict[str, Any]) -> None:
    def write(tmp: Path) -> None:
        tmp.write_text(json.dumps(payload, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")

    _atomic_write(path, write)


def hillshade_rgba(terrain: DemoTerrain) -> npt.NDArray[np.uint8]:
    """Greyscale hillshade with a light hypsometric tint, the river in blue and the railway dark.

    Returns an (rows, cols, 4) uint8 image in the terrain grid (EPSG:4547).
    """
    z = terrain.elevation.astype(np.float64)
    light = LightSource(azdeg=315.0, altdeg=45.0)
    shade = light.hillshade(
        z, vert_exag=HILLSHADE_VERT_EXAG, dx=terrain.cell_size_m, dy=terrain.cell_size_m
    )
    # Stretch around the flat-ground value: the relief is gentle and would otherwise look blank.
    grey = np.clip(0.84 + 2.5 * (shade - float(np.median(shade))), 0.3, 1.0)
    lo, hi = float(np.percentile(z, 1.0)), float(np.percentile(z, 99.0))
    tint = colormaps["gist_earth"](np.clip((z - lo) / (hi - lo), 0.0, 1.0) * 0.5 + 0.4)[..., :3]
    # Mostly grey relief, a quarter of colour: readable under markers, still shows high and low.
    rgb = 0.75 * grey[..., None] + 0.25 * tint
    rgb = np.where(terrain.road_mask[..., None], (0.55 + 0.45 * grey[..., None]) * _ROAD_RGB, rgb)
    rgb = np.where(terrain.river_mask[..., None], _RIVER_RGB * (0.7 + 0.3 * grey[..., None]), rgb)
    rgb = np.where(terrain.rail_mask[..., None], _RAIL_RGB, rgb)
    rgba = np.empty((*z.shape, 4), dtype=np.uint8)
    rgba[..., :3] = np.round(np.clip(rgb, 0.0, 1.0) * 255.0).astype(np.uint8)
    rgba[..., 3] = 255
    return rgba


def _warp_to_web_mercator(
    terrain: DemoTerrain, rgba: npt.NDArray[np.uint8]
) -> tuple[npt.NDArray[np.uint8], tuple[float, float, float, float]]:
    """Reproject the image to EPSG:3857; returns it and its (west, south, east, north) in m."""
    rows, cols = terrain.elevation.shape
    dst_transform, dst_w, dst_h = calculate_default_transform(
        terrain.crs, WEB_MERCATOR, cols, rows, *terrain.bounds
    )
    assert dst_w is not None and dst_h is not None
    out = np.zeros((4, dst_h, dst_w), dtype=np.uint8)
    for band in range(4):
        reproject(
            source=np.ascontiguousarray(rgba[..., band]),
            destination=out[band],
            src_transform=terrain.transform,
            src_crs=terrain.crs,
            dst_transform=dst_transform,
            dst_crs=WEB_MERCATOR,
            # Colours blend smoothly; alpha must stay 0/255 so the edge is crisp.
            resampling=Resampling.bilinear if band < 3 else Resampling.nearest,
            src_nodata=None,
            dst_nodata=0,
        )
    west, north = dst_transform @ (0, 0)
    east, south = dst_transform @ (dst_w, dst_h)
    return np.moveaxis(out, 0, -1), (west, south, east, north)


def write_hillshade(terrain: DemoTerrain, png_path: Path, json_path: Path) -> dict[str, Any]:
    """Write the hillshade PNG (Web Mercator) and its Leaflet metadata; returns the metadata."""
    image, (west, south, east, north) = _warp_to_web_mercator(terrain, hillshade_rgba(terrain))
    to_wgs84 = Transformer.from_crs(WEB_MERCATOR, "EPSG:4326", always_xy=True)
    lon_w, lat_s = to_wgs84.transform(west, south)
    lon_e, lat_n = to_wgs84.transform(east, north)

    def write_png(tmp: Path) -> None:
        imsave(
            tmp,
            image,
            format="png",
            metadata={"Title": "Fangxun demo hillshade", "Description": SYNTHETIC_LABEL},
        )

    _atomic_write(png_path, write_png)
    meta: dict[str, Any] = {
        "image": png_path.name,
        "bounds": [[round(lat_s, 7), round(lon_w, 7)], [round(lat_n, 7), round(lon_e, 7)]],
        "image_crs": WEB_MERCATOR,
        "source_crs": terrain.crs,
        "width": int(image.shape[1]),
        "height": int(image.shape[0]),
        "synthetic": True,
        "attribution": f"{SYNTHETIC_LABEL_ZH} · {SYNTHETIC_LABEL}",
    }
    _write_json(json_path, meta)
    return meta


def ensure_terrain_files(
    data_dir: Path, *, force: bool = False, terrain: DemoTerrain | None = None
) -> TerrainFiles:
    """Write whichever demo terrain files are missing (all of them with ``force``).

    The terrain is generated only when something has to be written (~2 s), unless the caller
    passes one it already has.
    """
    folder = demo_dir(data_dir)
    files = {
        "terrain": folder / TERRAIN_FILE,
        "features": folder / FEATURES_FILE,
        "jurisdictions": folder / JURISDICTIONS_FILE,
        "landuse": folder / LANDUSE_FILE,
        "catchments": folder / CATCHMENTS_FILE,
        "hillshade": folder / HILLSHADE_FILE,
        "hillshade_meta": folder / HILLSHADE_META_FILE,
    }
    missing = [key for key, path in files.items() if force or not path.exists()]
    if missing:
        terrain = terrain or demo_terrain()
        if "terrain" in missing:
            write_terrain_geotiff(terrain, files["terrain"])
        if "features" in missing:
            _write_json(files["features"], features_geojson(terrain))
        if "jurisdictions" in missing:
            _write_json(files["jurisdictions"], jurisdictions_geojson())
        if "landuse" in missing:
            write_landuse_geotiff(terrain, files["landuse"])
        if "catchments" in missing:
            _write_json(files["catchments"], catchments_geojson())
        if "hillshade" in missing or "hillshade_meta" in missing:
            write_hillshade(terrain, files["hillshade"], files["hillshade_meta"])
    return TerrainFiles(directory=folder, written=tuple(missing), **files)
