"""The district's model inputs beyond the terrain: buildings, land use and the storm formula.

All three are stored beside the district terrain (``<data_dir>/district/``), where the forecast
reads them (:func:`fangxun.forecast.service.district_inputs` and ``building_inputs``):

* ``buildings.geojson`` — footprints from any vector file pyogrio reads (GeoJSON, Shapefile,
  GeoPackage; any CRS), stored in WGS 84 with the mode they enter the model in: ``blocked``
  (walls: cells whose centre lies in a footprint leave the grid) or ``roughness`` (those cells
  take Manning's n of the ``building`` class). Burnt at run time on the terrain's grid with
  ``rasterio.features.rasterize``.
* ``landuse.tif`` — integer class codes on the terrain's grid: a raster is warped onto it
  (nearest neighbour), a vector file is burnt into it from a class attribute holding a class name
  (``road``, ``green``, ``building``, ``water``, ``default``) or its code.
* ``catchments.geojson`` — drainage catchments with their pipes' capacity or design return period.
* ``storm_formula.json`` — ``i = A/(t + b)^n``, ``A = a(1 + C lg P)`` as published, in mm/min or
  in the q form L/(s·ha), with its source (the document and year the office took it from).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fangxun.errors import FieldProblem, ValidationFailed
from fangxun.forecast.inputs import BUILDING_MODES
from rainkit import L_S_HA_PER_MM_MIN, StormFormula

#: Units a storm formula's ``a`` may be given in.
FORMULA_UNITS = ("mm/min", "L/(s·ha)")
#: Land-use code meaning "no class" in the stored raster.
LANDUSE_NODATA = 0


def _write_json(target: Path, data: dict[str, Any]) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
    tmp.replace(target)


# --- buildings ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class BuildingsReport:
    """What was stored: the number of footprints, the mode and the file."""

    path: Path
    footprints: int
    mode: str
    skipped: int


def store_buildings(source: Path, target: Path, *, mode: str = "blocked") -> BuildingsReport:
    """Read building footprints from ``source`` (any CRS) and store them at ``target`` in WGS 84.

    Features without a geometry are skipped and counted; a feature that is not a polygon is an
    error naming it (nothing is stored).
    """
    from fangxun.setup.terrain import read_vector_features

    if mode not in BUILDING_MODES:
        raise ValidationFailed(f"building mode {mode!r}: use {' or '.join(BUILDING_MODES)}",
                               loc=("--mode",))  # fmt: skip
    features = read_vector_features(source, {})
    problems: list[FieldProblem] = []
    kept: list[dict[str, Any]] = []
    skipped = 0
    for f in features:
        if f.geometry is None:
            skipped += 1
            continue
        if f.geometry.get("type") not in ("Polygon", "MultiPolygon"):
            problems.append(FieldProblem(("row", f.number, "geometry"),
                                         f"a footprint must be a polygon, not "
                                         f"{f.geometry.get('type')}"))  # fmt: skip
            continue
        kept.append({"type": "Feature", "properties": {}, "geometry": f.geometry})
    if problems:
        raise ValidationFailed(f"{len(problems)} problem(s) in {source.name}; nothing stored",
                               problems=problems)  # fmt: skip
    if not kept:
        raise ValidationFailed(f"{source.name}: no building footprint in the file",
                               loc=(source.name,))  # fmt: skip
    _write_json(target, {"type": "FeatureCollection", "building_mode": mode,
                         "source": source.name, "features": kept})  # fmt: skip
    return BuildingsReport(target, len(kept), mode, skipped)


def store_roads(source: Path, target: Path) -> int:
    """Read road centre lines (any vector file and CRS) and store them at ``target`` in WGS 84
    for the offline basemap; returns the number of roads. Polygons (road surfaces) are kept too."""
    from fangxun.setup.terrain import read_vector_features

    kept = [
        {"type": "Feature", "properties": {}, "geometry": f.geometry}
        for f in read_vector_features(source, {})
        if f.geometry is not None
        and f.geometry.get("type") in ("LineString", "MultiLineString", "Polygon", "MultiPolygon")
    ]
    if not kept:
        raise ValidationFailed(f"{source.name}: no road line in the file", loc=(source.name,))
    _write_json(target, {"type": "FeatureCollection", "source": source.name, "features": kept})
    return len(kept)


def store_catchments(source: Path, target: Path) -> int:
    """Read drainage catchments (polygons of any vector file and CRS, with ``code`` and
    ``capacity_mm_h`` or ``return_period_years``, see :mod:`fangxun.forecast.inputs`), check them
    as the forecast will, and store them at ``target`` in WGS 84; returns their number."""
    from fangxun.forecast.inputs import parse_catchments
    from fangxun.setup.terrain import read_vector_features

    payload = {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "properties": f.values, "geometry": f.geometry}
            for f in read_vector_features(source, {})
        ],
    }
    try:
        catchments = parse_catchments(payload, source=source.name)
    except ValueError as exc:
        raise ValidationFailed(str(exc), loc=(source.name,)) from None
    _write_json(target, payload)
    return len(catchments)


# --- land use ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class LanduseReport:
    """What was stored: cells by class name, and the file."""

    path: Path
    cells: dict[str, int]


def _class_code(value: Any, codes: Mapping[str, int], classes: Mapping[int, str]) -> int | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    text = str(value).strip()
    if text in codes:
        return codes[text]
    try:
        number = int(float(text))
    except ValueError:
        return None
    return number if number in classes else None


def store_landuse(
    source: Path,
    target: Path,
    *,
    terrain: Path,
    classes: Mapping[int, str],
    class_field: str = "class",
) -> LanduseReport:
    """Land use from a raster (warped onto the terrain's grid) or a vector file (burnt from
    ``class_field``) as ``landuse.tif`` on the terrain's grid.

    ``classes`` maps a code to a class name (``Settings.forecast_landuse_classes``). An unknown
    class is an error naming the feature; nothing is stored.
    """
    import rasterio
    from rasterio.errors import RasterioIOError
    from rasterio.features import rasterize
    from rasterio.warp import Resampling, reproject

    if not terrain.is_file():
        raise ValidationFailed("set the terrain up first: fangxun setup terrain DEM.tif",
                               loc=("terrain",))  # fmt: skip
    with rasterio.open(terrain) as t:
        shape, transform, crs = (t.height, t.width), t.transform, t.crs
    codes = {name: code for code, name in classes.items()}
    out = np.full(shape, LANDUSE_NODATA, dtype=np.int16)
    suffix = source.suffix.lower()
    if suffix in (".tif", ".tiff", ".asc", ".img"):
        try:
            src = rasterio.open(source)
        except RasterioIOError as exc:
            raise ValidationFailed(f"{source.name}: not a raster GDAL can read ({exc})",
                                   loc=(source.name,)) from None  # fmt: skip
        with src:
            if src.crs is None:
                raise ValidationFailed(f"{source.name} has no CRS: give it its CRS first",
                                       loc=(source.name, "crs"))  # fmt: skip
            if not np.issubdtype(np.dtype(src.dtypes[0]), np.integer):
                raise ValidationFailed(
                    f"{source.name}: band 1 must hold integer class codes, not {src.dtypes[0]}",
                    loc=(source.name, "band 1"),
                )
            reproject(
                rasterio.band(src, 1), out, dst_transform=transform, dst_crs=crs,
                dst_nodata=LANDUSE_NODATA, resampling=Resampling.nearest,
            )  # fmt: skip
        unknown = sorted(set(np.unique(out).tolist()) - set(classes) - {LANDUSE_NODATA})
        if unknown:
            raise ValidationFailed(
                f"{source.name}: class code(s) {unknown} are not known land-use classes "
                f"({', '.join(f'{k}={v}' for k, v in sorted(classes.items()))})",
                loc=(source.name, "band 1"),
            )
    else:
        import shapely
        from pyproj import CRS, Transformer
        from shapely.geometry import mapping
        from shapely.geometry import shape as to_shape

        from fangxun.setup.terrain import read_vector_features

        tr = Transformer.from_crs(CRS.from_epsg(4326), crs, always_xy=True)

        def project(xy: np.ndarray) -> np.ndarray:
            x, y = tr.transform(xy[:, 0], xy[:, 1])
            return np.column_stack([x, y])

        problems: list[FieldProblem] = []
        shapes: list[tuple[dict[str, Any], int]] = []
        for f in read_vector_features(source, {}):
            if f.geometry is None:
                continue
            code = _class_code(f.values.get(class_field), codes, classes)
            if code is None:
                problems.append(FieldProblem(
                    ("row", f.number, class_field),
                    f"{f.values.get(class_field)!r} is not a land-use class; use "
                    f"{', '.join(sorted(codes))} or their codes",
                ))  # fmt: skip
                continue
            shapes.append((mapping(shapely.transform(to_shape(f.geometry), project)), code))
        if problems:
            raise ValidationFailed(f"{len(problems)} problem(s) in {source.name}; nothing stored",
                                   problems=problems)  # fmt: skip
        if shapes:
            out = rasterize(shapes, out_shape=shape, transform=transform, fill=LANDUSE_NODATA,
                            dtype="int16")  # fmt: skip
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".tmp.tif")
    profile = {"driver": "GTiff", "width": shape[1], "height": shape[0], "count": 1,
               "dtype": "int16", "crs": crs, "transform": transform, "nodata": LANDUSE_NODATA,
               "compress": "deflate"}  # fmt: skip
    with rasterio.open(tmp, "w", **profile) as dst:
        dst.write(out, 1)
    tmp.replace(target)
    counts = {classes[int(c)]: int((out == c).sum()) for c in np.unique(out) if c in classes}
    return LanduseReport(target, counts)


# --- storm formula -----------------------------------------------------------------------------


def store_storm_formula(
    target: Path, *, a: float, b: float, c: float, n: float, unit: str, source: str
) -> StormFormula:
    """Record ``i = a(1 + C lg P)/(t + b)^n`` with ``a`` in ``unit`` (mm/min, or L/(s·ha) as the
    q form is published) and its ``source``; returns the formula in mm/min."""
    if unit not in FORMULA_UNITS:
        raise ValidationFailed(f"unit {unit!r}: use {' or '.join(FORMULA_UNITS)}",
                               loc=("--unit",))  # fmt: skip
    if not source.strip():
        raise ValidationFailed("say where the formula comes from (document, year)",
                               loc=("--source",))  # fmt: skip
    try:
        formula = (StormFormula.from_q_form(a, b, c, n, name=source.strip())
                   if unit == "L/(s·ha)"
                   else StormFormula(a=a, b=b, c=c, n=n, name=source.strip()))  # fmt: skip
    except ValueError as exc:
        raise ValidationFailed(str(exc), loc=("formula",)) from None
    _write_json(target, {"a_mm_min": formula.a, "b": b, "c": c, "n": n, "a_given": a,
                         "unit": unit, "source": source.strip(),
                         "q_a_l_s_ha": formula.a * L_S_HA_PER_MM_MIN})  # fmt: skip
    return formula
