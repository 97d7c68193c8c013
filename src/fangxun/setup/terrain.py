"""The district terrain from a DEM in any CRS, and boundary files read with pyogrio.

A DEM in a projected CRS with metre units (GeoTIFF or ESRI ASCII with a ``.prj``) is stored as is
(as a GeoTIFF with its nodata). A DEM in a geographic CRS is never read as metres: it is warped
with rasterio to the projected CRS of the district's location — the UTM zone of its centre for
WGS 84 (EPSG:326xx/327xx), the CGCS2000 3-degree Gauss-Krüger zone (EPSG:4534–4554) for CGCS2000
— or refused, saying how to fix it, when it has no CRS or one in other units.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fangxun.errors import ValidationFailed

#: Nodata written where the source has none (a value no district lies at), m.
NODATA = -9999.0


@dataclass(frozen=True)
class TerrainReport:
    """What was stored: the CRS, grid and elevation range, and whether it was reprojected."""

    path: Path
    crs: str
    width: int
    height: int
    cell_size_m: float
    min_m: float
    max_m: float
    reprojected_from: str | None


def projected_crs_for(lon: float, lat: float, *, cgcs2000: bool = False) -> str:
    """The projected CRS for a district centred at ``lon``/``lat`` (degrees).

    >>> projected_crs_for(117.28, 31.86)
    'EPSG:32650'
    >>> projected_crs_for(117.28, 31.86, cgcs2000=True)
    'EPSG:4548'
    """
    if cgcs2000:
        if not 73.5 <= lon <= 136.5 or lat < 0:
            raise ValueError("CGCS2000 Gauss-Krüger zones cover China only (75°E–135°E)")
        central = 3 * round(lon / 3)
        return f"EPSG:{4534 + (central - 75) // 3}"
    zone = min(60, math.floor((lon + 180.0) / 6.0) + 1)
    return f"EPSG:{(32600 if lat >= 0 else 32700) + zone}"


def _how_to_fix(name: str) -> str:
    return (
        f"{name}: give the DEM its CRS (a .prj beside an .asc, or "
        "'gdal_edit.py -a_srs EPSG:32650 FILE' for a GeoTIFF in UTM 50N), or reproject it to a "
        "projected CRS in metres first ('gdalwarp -t_srs EPSG:32650 -r bilinear IN OUT')"
    )


def store_terrain(source: Path, target: Path) -> TerrainReport:
    """Validate ``source`` and write the district terrain GeoTIFF at ``target`` (atomically).

    Raises :class:`ValidationFailed` saying what is wrong and how to fix it.
    """
    import rasterio
    from rasterio.errors import RasterioIOError
    from rasterio.warp import Resampling, calculate_default_transform, reproject, transform_bounds

    try:
        src = rasterio.open(source)
    except RasterioIOError as exc:
        raise ValidationFailed(f"{source.name}: not a raster GDAL can read ({exc})",
                               loc=(source.name,)) from None  # fmt: skip
    with src:
        crs = src.crs
        if crs is None:
            raise ValidationFailed(f"the DEM has no CRS. {_how_to_fix(source.name)}",
                                   loc=(source.name, "crs"))  # fmt: skip
        if src.transform.b != 0.0 or src.transform.d != 0.0:
            raise ValidationFailed(f"{source.name} is rotated; warp it north-up with gdalwarp",
                                   loc=(source.name, "transform"))  # fmt: skip
        src_nodata = src.nodata if src.nodata is not None else None
        band = src.read(1, masked=True).astype(np.float64)
        values = band.filled(np.nan)
        reprojected_from = None
        if crs.is_geographic:
            west, south, east, north = transform_bounds(crs, "EPSG:4326", *src.bounds)
            lon, lat = (west + east) / 2.0, (south + north) / 2.0
            is_cgcs = crs.to_epsg() == 4490
            try:
                dst_crs = projected_crs_for(lon, lat, cgcs2000=is_cgcs)
            except ValueError as exc:
                raise ValidationFailed(f"{source.name}: {exc}. {_how_to_fix(source.name)}",
                                       loc=(source.name, "crs")) from None  # fmt: skip
            transform, width, height = calculate_default_transform(
                crs, dst_crs, src.width, src.height, *src.bounds
            )
            # Square cells of the finer of the two sizes, rounded to the centimetre.
            cell = round(min(abs(transform.a), abs(transform.e)), 2)
            transform, width, height = calculate_default_transform(
                crs, dst_crs, src.width, src.height, *src.bounds, resolution=(cell, cell)
            )
            out = np.full((height, width), np.nan, dtype=np.float64)
            reproject(
                values, out, src_transform=src.transform, src_crs=crs, dst_transform=transform,
                dst_crs=dst_crs, src_nodata=np.nan, dst_nodata=np.nan,
                resampling=Resampling.bilinear,
            )  # fmt: skip
            values, reprojected_from = out, crs.to_string()
            out_crs: Any = rasterio.crs.CRS.from_string(dst_crs)
        else:
            unit = (crs.linear_units or "").lower()
            if unit not in ("metre", "meter", "m"):
                raise ValidationFailed(
                    f"{source.name}: the CRS's units are {crs.linear_units!r}, not metres. "
                    f"{_how_to_fix(source.name)}",
                    loc=(source.name, "crs"),
                )
            transform, out_crs = src.transform, crs
            if not math.isclose(transform.a, -transform.e, rel_tol=1e-9):
                raise ValidationFailed(
                    f"{source.name}: cells are {transform.a} × {-transform.e} m; the model needs "
                    "square cells ('gdalwarp -tr 2 2 IN OUT')",
                    loc=(source.name, "transform"),
                )
    finite = np.isfinite(values)
    if not finite.any():
        raise ValidationFailed(f"{source.name}: every cell is nodata", loc=(source.name,))
    if src_nodata is not None and not math.isnan(src_nodata):
        finite &= values != src_nodata
    lo, hi = float(np.nanmin(values[finite])), float(np.nanmax(values[finite]))
    if lo < -500.0 or hi > 9000.0:
        raise ValidationFailed(
            f"{source.name}: elevations {lo:.1f}…{hi:.1f} are not metres above sea level "
            "(set the DEM's nodata value, or convert its units)",
            loc=(source.name, "values"),
        )
    data = np.where(finite, values, NODATA).astype(np.float32)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".tmp.tif")
    profile = {
        "driver": "GTiff", "width": data.shape[1], "height": data.shape[0], "count": 1,
        "dtype": "float32", "crs": out_crs, "transform": transform, "nodata": NODATA,
        "compress": "deflate",
    }  # fmt: skip
    with rasterio.open(tmp, "w", **profile) as dst:
        dst.write(data, 1)
    tmp.replace(target)
    return TerrainReport(
        path=target, crs=out_crs.to_string(), width=data.shape[1], height=data.shape[0],
        cell_size_m=float(transform.a), min_m=lo, max_m=hi, reprojected_from=reprojected_from,
    )  # fmt: skip


def terrain_problem(path: Path) -> str | None:
    """Why ``path`` cannot serve as the district terrain, or None when it can."""
    import rasterio
    from rasterio.errors import RasterioIOError

    if not path.exists():
        return "no such file"
    try:
        with rasterio.open(path) as src:
            crs = src.crs
    except RasterioIOError as exc:
        return f"unreadable ({exc})"
    if crs is None or not crs.is_projected:
        return "not in a projected CRS"
    if (crs.linear_units or "").lower() not in ("metre", "meter", "m"):
        return f"CRS units are {crs.linear_units!r}, not metres"
    return None


def read_vector_features(path: Path, columns: dict[str, str | None]) -> list[Any]:
    """Features of a GeoJSON, Shapefile or GeoPackage (first layer) with WGS 84 GeoJSON geometries.

    Returns :class:`fangxun.setup.service.UnitFeature` items; attribute names go through
    ``columns`` (a mapping file's), geometries are reprojected from the file's CRS to WGS 84.
    """
    import pyogrio
    import shapely
    from pyogrio.errors import DataSourceError
    from pyproj import CRS, Transformer

    from fangxun.setup.mapping import rename
    from fangxun.setup.service import UnitFeature

    try:
        meta, _fids, geometry, field_data = pyogrio.raw.read(path)
    except (DataSourceError, OSError, ValueError) as exc:
        raise ValidationFailed(f"{path.name}: not a vector file pyogrio can read ({exc})",
                               loc=(path.name,)) from None  # fmt: skip
    names = [rename(str(n), columns) for n in meta["fields"]]
    geoms = shapely.from_wkb(geometry) if geometry is not None else [None] * len(field_data[0])
    transformer = None
    if meta.get("crs"):
        crs = CRS.from_user_input(meta["crs"])
        if not crs.equals(CRS.from_epsg(4326), ignore_axis_order=True):
            transformer = Transformer.from_crs(crs, 4326, always_xy=True)
    else:
        # No CRS (a Shapefile without its .prj): only plausible as lon/lat degrees.
        valid = [g for g in geoms if g is not None]
        if valid:
            xmin, ymin, xmax, ymax = shapely.total_bounds(valid)
            if xmin < -180 or xmax > 180 or ymin < -90 or ymax > 90:
                raise ValidationFailed(
                    f"{path.name} has no CRS and its coordinates are not degrees: give it its "
                    "CRS (the .prj beside a Shapefile) or reproject it to WGS 84",
                    loc=(path.name, "crs"),
                )
    out: list[Any] = []
    for i, geom in enumerate(geoms):
        values = {n: (col[i].item() if hasattr(col[i], "item") else col[i])
                  for n, col in zip(names, field_data, strict=True) if n is not None}  # fmt: skip
        geo = None
        if geom is not None:
            if transformer is not None:
                geom = shapely.transform(
                    geom, lambda xy, t=transformer: np.column_stack(t.transform(xy[:, 0], xy[:, 1]))
                )
            geo = shapely.geometry.mapping(geom)
            geo = {"type": geo["type"], "coordinates": _lists(geo["coordinates"])}
        out.append(UnitFeature(number=i + 1, values=values, geometry=geo))
    return out


def _lists(value: Any) -> Any:
    """Shapely's nested tuples as JSON lists."""
    if isinstance(value, tuple | list):
        return [_lists(v) for v in value]
    return float(value)


#: The units import reads boundary files as any vector file.
read_unit_features = read_vector_features
