"""District inputs of a forecast beyond the terrain: Manning's n by land use, drainage capacity by
catchment, and the warm start from observed ponding. Plain data in and out (no database).

**Land use → Manning's n.** A GeoTIFF of integer class codes on the terrain's grid (same shape
and transform; nodata cells take ``default``). ``Settings.forecast_landuse_classes`` maps a code to
a class name and ``Settings.forecast_manning`` a class name to n (s/m^(1/3)). A code without a
class, or a class without an n, is an error naming the code, the first cell holding it and the
file: a silent default would hide a mislabelled raster.

**Catchments → drainage capacity.** A GeoJSON FeatureCollection (RFC 7946: WGS 84 lon/lat) of
Polygon/MultiPolygon features. Each feature's ``properties`` hold ``code`` (required, unique),
``name`` (optional) and either ``capacity_mm_h`` (the pipes' capacity, mm/h of rain over the
catchment) or ``return_period_years`` (the design return period P of its pipes), optionally with
``concentration_time_min`` (its time of concentration t, min; default
``Settings.forecast_drainage_duration_s``). From P the capacity is the design storm's mean
intensity at t: ``i = A/(t + b)^n``, ``A = a(1 + C lg P)`` (mm/min, × 60 → mm/h), the configured
storm intensity formula. Polygons are burnt into the grid in file order (a cell whose centre lies
inside; a later feature overrides an earlier one where they overlap); cells outside every
catchment keep the district default capacity.

**Warm start from ponding sensors.** Each sensor reading a depth ``d > 0`` at cell (r, c) sets a
water level ``WL = z[r, c] + d``. The water fills the *connected low area* around the sensor:
the 4-connected cells with ``z < WL`` that contain (r, c) and lie within ``radius_m`` of it (the
radius keeps a reading on a long flat road from flooding the whole district). Depth there is
``WL − z``; the sensor's cell gets exactly ``d``. Where two sensors' areas overlap the deeper
water wins (``max``), so their volumes then do not add. The implied volume ``Σ(WL − z)·Δx²`` of
each sensor is reported.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from fangxun.inundation.rain import StormFormula

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]
Transform = tuple[float, float, float, float, float, float]


# --- land use ----------------------------------------------------------------------------------


def manning_from_classes(
    codes: npt.ArrayLike,
    *,
    classes: Mapping[int, str],
    table: Mapping[str, float],
    valid: BoolArray | None = None,
    source: str = "land-use raster",
) -> FloatArray:
    """Manning's n (s/m^(1/3)) of every cell from its land-use class code.

    ``valid`` marks the cells that carry a code (others, e.g. nodata, take ``table["default"]``).
    Raises ``ValueError`` naming the code, its first cell and ``source`` when a code has no class
    in ``classes`` or its class no n in ``table``.
    """
    arr = np.asarray(codes)
    if arr.ndim != 2:
        raise ValueError(f"{source}: land use must be a 2-D raster, got shape {arr.shape}")
    ok = np.ones(arr.shape, dtype=bool) if valid is None else np.asarray(valid, dtype=bool)
    default = float(table.get("default", 0.03))
    n = np.full(arr.shape, default, dtype=np.float64)
    for raw in np.unique(arr[ok]):
        code = int(raw)
        where = ok & (arr == raw)
        r, c = (int(v) for v in np.argwhere(where)[0])
        if code not in classes:
            known = ", ".join(f"{k}={v}" for k, v in sorted(classes.items()))
            raise ValueError(
                f"{source}: class code {code} at (row={r}, col={c}) is not a known land-use "
                f"class (FANGXUN_FORECAST_LANDUSE_CLASSES: {known})"
            )
        name = classes[code]
        if name not in table:
            raise ValueError(
                f"{source}: land-use class {name!r} (code {code}, first at row={r}, col={c}) "
                f"has no Manning's n in FANGXUN_FORECAST_MANNING ({', '.join(sorted(table))})"
            )
        value = float(table[name])
        if not (math.isfinite(value) and value > 0.0):
            raise ValueError(f"Manning's n of {name!r} must be finite and > 0, got {value!r}")
        n[where] = value
    return n


def read_landuse(
    path: str | Path, *, shape: tuple[int, int], transform: Transform
) -> tuple[IntArray, BoolArray]:
    """Read a land-use GeoTIFF (band 1, integer codes) that must share the terrain's grid.

    Returns the codes and the mask of cells that carry one (not nodata). ``ValueError`` says what
    is wrong (unreadable, not integer, another grid) and names the file.
    """
    import rasterio
    from rasterio.errors import RasterioError

    p = Path(path)
    try:
        with rasterio.open(p) as src:
            if not np.issubdtype(np.dtype(src.dtypes[0]), np.integer):
                raise ValueError(
                    f"land-use raster {p}: band 1 must hold integer class codes, "
                    f"got {src.dtypes[0]}"
                )
            codes = src.read(1)
            nodata = src.nodata
            t = src.transform
    except RasterioError as exc:
        raise ValueError(f"land-use raster {p} cannot be read: {exc}") from exc
    if codes.shape != shape:
        raise ValueError(
            f"land-use raster {p} is {codes.shape[0]}×{codes.shape[1]} cells, the terrain "
            f"{shape[0]}×{shape[1]}: it must share the terrain's grid"
        )
    mine = (t.a, t.b, t.c, t.d, t.e, t.f)
    # Same grid to a millimetre: a shift of a fraction of a cell would misplace every class.
    if not all(math.isclose(u, v, abs_tol=1e-3) for u, v in zip(mine, transform, strict=True)):
        raise ValueError(
            f"land-use raster {p} has the transform {mine}, the terrain {transform}: "
            "it must share the terrain's grid"
        )
    valid = np.ones(shape, dtype=bool) if nodata is None else codes != nodata
    return codes.astype(np.int64), valid


# --- buildings ----------------------------------------------------------------------------------

#: How building footprints enter the model: cells that block the flow (walls, taken out of the
#: grid like nodata) or cells of high roughness (``Settings.forecast_manning["building"]``).
BUILDING_MODES = ("blocked", "roughness")


@dataclass(frozen=True)
class Buildings:
    """Building footprints (WGS 84 GeoJSON polygons) and how they enter the model."""

    geometries: tuple[dict[str, Any], ...]
    mode: str
    source: str


def read_buildings(path: str | Path) -> Buildings:
    """Read the footprints ``fangxun setup buildings`` stores: a GeoJSON FeatureCollection of
    WGS 84 polygons with a top-level ``"building_mode"`` (``blocked`` or ``roughness``).

    ``ValueError`` names the file and what is wrong.
    """
    import json

    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
        features = data["features"]
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as exc:
        raise ValueError(f"buildings file {p}: not a GeoJSON FeatureCollection ({exc})") from exc
    mode = data.get("building_mode", "roughness")
    if mode not in BUILDING_MODES:
        raise ValueError(f"buildings file {p}: building_mode {mode!r} is not one of "
                         f"{', '.join(BUILDING_MODES)}")  # fmt: skip
    geoms = []
    for k, feature in enumerate(features, start=1):
        geom = feature.get("geometry") if isinstance(feature, dict) else None
        if not isinstance(geom, dict) or geom.get("type") not in ("Polygon", "MultiPolygon"):
            raise ValueError(f"buildings file {p}: feature {k} is not a polygon")
        geoms.append(geom)
    return Buildings(tuple(geoms), mode, str(data.get("source", p.name)))


def burn_buildings(
    buildings: Buildings, *, shape: tuple[int, int], transform: Transform, crs_wkt: str
) -> BoolArray:
    """The cells of the grid (``shape``, ``transform``, ``crs_wkt``) whose centre lies inside a
    footprint: projected from WGS 84 with pyproj, burnt with ``rasterio.features.rasterize``.

    Burnt on the terrain's grid: a model coarser than its terrain takes block means of n, and in
    ``blocked`` mode keeps a block open unless all its pixels are buildings (the subgrid model
    then routes water around the blocked pixels inside the block).
    """
    import shapely
    from pyproj import CRS, Transformer
    from rasterio import Affine
    from rasterio.features import rasterize
    from shapely.geometry import mapping
    from shapely.geometry import shape as to_shape

    if not buildings.geometries:
        return np.zeros(shape, dtype=bool)
    tr = Transformer.from_crs(CRS.from_epsg(4326), CRS.from_wkt(crs_wkt), always_xy=True)

    def project(xy: FloatArray) -> FloatArray:
        x, y = tr.transform(xy[:, 0], xy[:, 1])
        return np.column_stack([x, y])

    shapes = [(mapping(shapely.transform(to_shape(g), project)), 1) for g in buildings.geometries]
    burnt = rasterize(shapes, out_shape=shape, transform=Affine(*transform), fill=0, dtype="uint8")
    return np.asarray(burnt, dtype=bool)


# --- catchments ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Catchment:
    """A drainage catchment: its polygon (GeoJSON geometry, WGS 84) and design data.

    Exactly one of ``capacity_mm_h`` (mm/h) and ``return_period_years`` (P, years) is set;
    ``concentration_time_s`` (s) is the time of concentration used with P (None: the default).
    """

    code: str
    name: str
    geometry: dict[str, Any]
    return_period_years: float | None = None
    capacity_mm_h: float | None = None
    concentration_time_s: float | None = None

    def capacity(self, formula: StormFormula, default_concentration_s: float) -> float:
        """Drainage capacity, mm/h: the given one, else the design storm's mean intensity
        ``60 · a(1 + C lg P)/(t + b)^n`` at the time of concentration t."""
        if self.capacity_mm_h is not None:
            return self.capacity_mm_h
        assert self.return_period_years is not None
        t = self.concentration_time_s or default_concentration_s
        return formula.intensity_mm_h(t, self.return_period_years)


def _number(props: Mapping[str, Any], key: str, where: str, *, positive: bool) -> float | None:
    if props.get(key) is None:
        return None
    value = props[key]
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{where}: {key} must be a number, got {value!r}")
    if value < 0.0 or (positive and value == 0.0):
        raise ValueError(f"{where}: {key} must be {'> 0' if positive else '>= 0'}, got {value!r}")
    return float(value)


def parse_catchments(payload: Any, *, source: str = "catchments") -> list[Catchment]:
    """Validate a catchments FeatureCollection (see the module docstring).

    ``ValueError`` names ``source``, the feature (index and code) and what is wrong.
    """
    from shapely.geometry import shape
    from shapely.validation import explain_validity

    if not isinstance(payload, dict) or payload.get("type") != "FeatureCollection":
        raise ValueError(f"{source}: must be a GeoJSON FeatureCollection")
    feats = payload.get("features")
    if not isinstance(feats, list) or not feats:
        raise ValueError(f"{source}: has no features")
    out: list[Catchment] = []
    seen: set[str] = set()
    for i, feat in enumerate(feats):
        props = feat.get("properties") if isinstance(feat, dict) else None
        if not isinstance(props, dict):
            raise ValueError(f"{source} feature {i}: has no properties")
        code = props.get("code")
        if not isinstance(code, str) or not code.strip():
            raise ValueError(f"{source} feature {i}: needs a 'code' (text)")
        where = f"{source} feature {i} ({code})"
        if code in seen:
            raise ValueError(f"{where}: the code is used twice")
        seen.add(code)
        geom = feat.get("geometry")
        if not isinstance(geom, dict) or geom.get("type") not in {"Polygon", "MultiPolygon"}:
            kind = geom.get("type") if isinstance(geom, dict) else None
            raise ValueError(f"{where}: geometry must be a Polygon or MultiPolygon, got {kind}")
        try:
            shp = shape(geom)
        except (ValueError, TypeError, AttributeError, IndexError) as exc:
            raise ValueError(f"{where}: geometry cannot be read ({exc})") from exc
        if shp.is_empty or not shp.is_valid:
            raise ValueError(f"{where}: invalid polygon ({explain_validity(shp)})")
        minx, miny, maxx, maxy = shp.bounds
        if not (-180.0 <= minx <= maxx <= 180.0 and -90.0 <= miny <= maxy <= 90.0):
            raise ValueError(f"{where}: coordinates must be WGS 84 lon/lat degrees (RFC 7946)")
        p = _number(props, "return_period_years", where, positive=True)
        cap = _number(props, "capacity_mm_h", where, positive=False)
        tc = _number(props, "concentration_time_min", where, positive=False)
        if (p is None) == (cap is None):
            raise ValueError(f"{where}: give exactly one of return_period_years and capacity_mm_h")
        out.append(
            Catchment(
                code=code,
                name=str(props.get("name") or code),
                geometry=geom,
                return_period_years=p,
                capacity_mm_h=cap,
                concentration_time_s=None if tc is None else tc * 60.0,
            )
        )
    return out


def read_catchments(path: str | Path) -> list[Catchment]:
    """Read and validate a catchments GeoJSON file (errors name the file)."""
    import json

    p = Path(path)
    try:
        payload = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"catchments file {p} cannot be read: {exc}") from exc
    return parse_catchments(payload, source=f"catchments file {p}")


def capacity_raster(
    catchments: Sequence[Catchment],
    *,
    formula: StormFormula,
    default_concentration_s: float,
    default_mm_h: float,
    shape: tuple[int, int],
    transform: Transform,
    crs_wkt: str,
) -> tuple[FloatArray, list[dict[str, Any]]]:
    """Drainage capacity (mm/h) of every cell, and per catchment its capacity and cell count.

    Polygons are projected to the grid's CRS with pyproj and burnt in file order (cell centre
    inside; later features win); cells outside every catchment get ``default_mm_h``.
    """
    import shapely
    from pyproj import CRS, Transformer
    from rasterio import Affine
    from rasterio.features import rasterize
    from shapely.geometry import mapping
    from shapely.geometry import shape as to_shape

    tr = Transformer.from_crs(CRS.from_epsg(4326), CRS.from_wkt(crs_wkt), always_xy=True)

    def project(xy: FloatArray) -> FloatArray:
        x, y = tr.transform(xy[:, 0], xy[:, 1])
        return np.column_stack([x, y])

    caps = [c.capacity(formula, default_concentration_s) for c in catchments]
    shapes = [
        (mapping(shapely.transform(to_shape(c.geometry), project)), k + 1)
        for k, c in enumerate(catchments)
    ]
    index = rasterize(shapes, out_shape=shape, transform=Affine(*transform), fill=0, dtype="int32")
    table = np.array([default_mm_h, *caps], dtype=np.float64)
    raster = table[index]
    info = [
        {
            "code": c.code,
            "capacity_mm_h": round(cap, 3),
            "return_period_years": c.return_period_years,
            "cells": int(np.count_nonzero(index == k + 1)),
        }
        for k, (c, cap) in enumerate(zip(catchments, caps, strict=True))
    ]
    return raster, info


# --- warm start from observations --------------------------------------------------------------


@dataclass(frozen=True)
class PondingReading:
    """A ponding sensor's depth (m) at a model cell (row, col)."""

    name: str
    row: int
    col: int
    depth_m: float


def observed_ponding(
    elevation: FloatArray,
    nodata_mask: BoolArray,
    cell_size_m: float,
    readings: Sequence[PondingReading],
    *,
    radius_m: float,
) -> tuple[FloatArray, list[dict[str, Any]]]:
    """Initial depth field (m) from ponding readings: each spread over its connected low area
    below the water level (module docstring). Returns the field and, per reading used, its water
    level (m), wetted cells and implied volume (m³). Readings of 0 (dry) add nothing."""
    from scipy import ndimage

    ny, nx = elevation.shape
    depth = np.zeros((ny, nx), dtype=np.float64)
    info: list[dict[str, Any]] = []
    rows, cols = np.ogrid[:ny, :nx]
    for rd in readings:
        if not (math.isfinite(rd.depth_m) and rd.depth_m >= 0.0):
            raise ValueError(f"ponding reading {rd.name}: depth must be >= 0 m, got {rd.depth_m}")
        if not (0 <= rd.row < ny and 0 <= rd.col < nx) or nodata_mask[rd.row, rd.col]:
            raise ValueError(
                f"ponding reading {rd.name}: cell ({rd.row}, {rd.col}) is off the grid"
            )
        if rd.depth_m <= 0.0:
            continue
        level = float(elevation[rd.row, rd.col]) + rd.depth_m
        near = np.hypot((rows - rd.row) * cell_size_m, (cols - rd.col) * cell_size_m) <= radius_m
        below = near & ~nodata_mask & np.isfinite(elevation) & (elevation < level)
        labels, _count = ndimage.label(below)  # 4-connectivity: water does not pass corners
        area = labels == labels[rd.row, rd.col]
        h = np.where(area, level - elevation, 0.0)
        h[rd.row, rd.col] = rd.depth_m  # exactly the reading (no round-off through the level)
        depth = np.maximum(depth, h)
        info.append(
            {
                "name": rd.name,
                "depth_m": rd.depth_m,
                "level_m": round(level, 4),
                "cells": int(area.sum()),
                "volume_m3": round(float(h.sum()) * cell_size_m**2, 3),
            }
        )
    return depth, info
