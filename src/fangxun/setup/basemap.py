"""The district's own offline basemap: a hillshade of its terrain with its roads and boundary.

``fangxun setup terrain`` (and ``setup roads``, ``setup units``) write
``<data_dir>/district/hillshade.png`` and ``hillshade.json``, the same pair the demo writes, so
the web map (:mod:`fangxun.web.basemap`) shows the district's real relief instead of the demo's
synthetic one. The image is warped to Web Mercator (Leaflet's CRS) so it lines up with the map,
nodata cells are transparent, and it is at most :data:`MAX_SIDE_PX` pixels on its longer side
(a 1 m DEM of a whole district would otherwise make a PNG the browser cannot hold).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

#: Leaflet's CRS: the overlay must be in it to line up.
WEB_MERCATOR = "EPSG:3857"
#: Longest side of the hillshade image, pixels.
MAX_SIDE_PX = 4096
_ROAD_RGB = np.array([0.98, 0.93, 0.78])
_BOUNDARY_RGB = np.array([0.45, 0.20, 0.55])


def _burn(
    geoms: list[dict[str, Any]], shape: tuple[int, int], transform: Any, crs: Any, *, line_px: float
) -> np.ndarray:
    """Cells touched by WGS 84 GeoJSON ``geoms`` (lines buffered to ``line_px`` cells wide)."""
    import shapely
    from pyproj import Transformer
    from rasterio.features import rasterize
    from shapely.geometry import mapping
    from shapely.geometry import shape as to_shape

    if not geoms:
        return np.zeros(shape, dtype=bool)
    tr = Transformer.from_crs(4326, crs, always_xy=True)

    def project(xy: np.ndarray) -> np.ndarray:
        x, y = tr.transform(xy[:, 0], xy[:, 1])
        return np.column_stack([x, y])

    width = abs(transform.a) * line_px / 2.0
    shapes = []
    for g in geoms:
        geom = shapely.transform(to_shape(g), project)
        if geom.geom_type in ("Polygon", "MultiPolygon"):
            geom = geom.boundary
        shapes.append((mapping(geom.buffer(width)), 1))
    burnt = rasterize(shapes, out_shape=shape, transform=transform, fill=0, dtype="uint8")
    return np.asarray(burnt, dtype=bool)


def write_hillshade(
    terrain: Path,
    folder: Path,
    *,
    roads: list[dict[str, Any]] | None = None,
    boundaries: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Write ``hillshade.png`` + ``hillshade.json`` of the terrain GeoTIFF into ``folder``, with
    roads and unit boundaries (WGS 84 GeoJSON geometries) drawn in; returns the metadata."""
    import rasterio
    from matplotlib.colors import LightSource
    from matplotlib.image import imsave
    from pyproj import Transformer
    from rasterio.warp import Resampling, calculate_default_transform, reproject

    with rasterio.open(terrain) as src:
        z = src.read(1, masked=True).astype(np.float64)
        crs, transform, bounds = src.crs, src.transform, src.bounds
    valid = ~np.ma.getmaskarray(z)
    filled = z.filled(float(np.median(z.data[valid])) if valid.any() else 0.0)
    cell = abs(transform.a)
    relief = float(np.percentile(filled[valid], 99) - np.percentile(filled[valid], 1)) or 1.0
    # Exaggerate flat districts (tens of metres over kilometres) so the relief shows.
    exag = float(np.clip(200.0 / relief, 1.0, 10.0))
    shade = LightSource(azdeg=315.0, altdeg=45.0).hillshade(
        filled, vert_exag=exag, dx=cell, dy=cell
    )
    grey = np.clip(0.84 + 2.0 * (shade - float(np.median(shade))), 0.35, 1.0)
    rgb = np.repeat(grey[..., None], 3, axis=2) * np.array([0.97, 0.97, 0.94])
    road = _burn(roads or [], z.shape, transform, crs, line_px=max(1.0, 8.0 / cell))
    rgb = np.where(road[..., None], _ROAD_RGB * (0.6 + 0.4 * grey[..., None]), rgb)
    edge = _burn(boundaries or [], z.shape, transform, crs, line_px=max(1.0, 6.0 / cell))
    rgb = np.where(edge[..., None], _BOUNDARY_RGB, rgb)
    rgba = np.empty((*z.shape, 4), dtype=np.uint8)
    rgba[..., :3] = np.round(np.clip(rgb, 0.0, 1.0) * 255.0).astype(np.uint8)
    rgba[..., 3] = np.where(valid, 255, 0).astype(np.uint8)

    rows, cols = z.shape
    dst_transform, dst_w, dst_h = calculate_default_transform(crs, WEB_MERCATOR, cols, rows,
                                                              *bounds)  # fmt: skip
    assert dst_w is not None and dst_h is not None
    if max(dst_w, dst_h) > MAX_SIDE_PX:
        res = abs(dst_transform.a) * max(dst_w, dst_h) / MAX_SIDE_PX
        dst_transform, dst_w, dst_h = calculate_default_transform(
            crs, WEB_MERCATOR, cols, rows, *bounds, resolution=(res, res)
        )
        assert dst_w is not None and dst_h is not None
    out = np.zeros((4, dst_h, dst_w), dtype=np.uint8)
    for band in range(4):
        reproject(
            source=np.ascontiguousarray(rgba[..., band]), destination=out[band],
            src_transform=transform, src_crs=crs, dst_transform=dst_transform,
            dst_crs=WEB_MERCATOR,
            resampling=Resampling.bilinear if band < 3 else Resampling.nearest,
            src_nodata=None, dst_nodata=0,
        )  # fmt: skip
    west, north = dst_transform * (0, 0)
    east, south = dst_transform * (dst_w, dst_h)
    to_wgs84 = Transformer.from_crs(WEB_MERCATOR, "EPSG:4326", always_xy=True)
    lon_w, lat_s = to_wgs84.transform(west, south)
    lon_e, lat_n = to_wgs84.transform(east, north)
    folder.mkdir(parents=True, exist_ok=True)
    png, meta_path = folder / "hillshade.png", folder / "hillshade.json"
    tmp = folder / "hillshade.tmp.png"
    imsave(tmp, np.moveaxis(out, 0, -1), format="png",
           metadata={"Title": "Fangxun district hillshade"})  # fmt: skip
    tmp.replace(png)
    meta: dict[str, Any] = {
        "image": png.name,
        "bounds": [[round(lat_s, 7), round(lon_w, 7)], [round(lat_n, 7), round(lon_e, 7)]],
        "image_crs": WEB_MERCATOR,
        "source_crs": crs.to_string(),
        "width": int(dst_w),
        "height": int(dst_h),
        "synthetic": False,
        "vertical_exaggeration": round(exag, 2),
    }
    tmp_meta = folder / "hillshade.tmp.json"
    tmp_meta.write_text(json.dumps(meta, ensure_ascii=False, indent=1), encoding="utf-8")
    tmp_meta.replace(meta_path)
    return meta
