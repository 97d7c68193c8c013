"""A hazard-ledger file as an office has it, made ready for the hazard import.

The import itself is unchanged: it reads the system's headers and WGS 84. This step, before it,
renames the office's headers through a mapping file, turns a CSV into a one-sheet workbook, and
converts coordinates given in GCJ-02 to WGS 84 (points, and the polygon column of Excel rows and
GeoJSON polygons). A cell that is not a number is left as it is, for the import's check to report
by row and column.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import zipfile
from collections.abc import Mapping
from typing import Any

from openpyxl import load_workbook
from openpyxl.utils.exceptions import InvalidFileException

from fangxun.datums import Datum, to_wgs84
from fangxun.hazards import io as hazard_io
from fangxun.setup.mapping import check_targets, remap_geojson, remap_xlsx, rename, to_xlsx

_NOT_A_WORKBOOK = (zipfile.BadZipFile, InvalidFileException, KeyError, OSError, ValueError)

#: Field names a hazard mapping may name (those of the ledger's columns).
HAZARD_FIELDS: frozenset[str] = frozenset(hazard_io.HEADER_OF)


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number == number else None


def _convert_coords(coords: Any, datum: Datum) -> Any:
    """Nested GeoJSON coordinate arrays, each ``[lon, lat, ...]`` converted to WGS 84."""
    if (
        isinstance(coords, list)
        and len(coords) >= 2
        and all(isinstance(c, int | float) for c in coords[:2])
    ):
        lon, lat = to_wgs84(float(coords[0]), float(coords[1]), datum)
        return [lon, lat, *coords[2:]]
    if isinstance(coords, list):
        return [_convert_coords(c, datum) for c in coords]
    return coords


def _convert_polygon_text(text: Any, datum: Datum) -> Any:
    if not isinstance(text, str) or not text.strip():
        return text
    try:
        geom = json.loads(text)
    except json.JSONDecodeError:
        return text
    if isinstance(geom, dict) and "coordinates" in geom:
        geom["coordinates"] = _convert_coords(geom["coordinates"], datum)
        return json.dumps(geom, ensure_ascii=False)
    return text


def _xlsx_to_wgs84(content: bytes, datum: Datum) -> bytes:
    workbook = load_workbook(io.BytesIO(content))
    sheet = workbook.worksheets[0]
    by_header = {h: f for f, h in hazard_io.COLUMNS}
    col: dict[str, int] = {}
    for i, cell in enumerate(sheet[1]):
        name = str(cell.value).strip() if cell.value is not None else ""
        field = by_header.get(name) or (name if name in hazard_io.HEADER_OF else None)
        if field is not None:
            col[field] = i
    if "lon" in col and "lat" in col:
        for row in sheet.iter_rows(min_row=2):
            lon, lat = _number(row[col["lon"]].value), _number(row[col["lat"]].value)
            if lon is not None and lat is not None:
                row[col["lon"]].value, row[col["lat"]].value = to_wgs84(lon, lat, datum)
            if "polygon" in col:
                cell = row[col["polygon"]]
                cell.value = _convert_polygon_text(cell.value, datum)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _geojson_to_wgs84(content: bytes, datum: Datum) -> bytes:
    try:
        data = json.loads(content.decode("utf-8-sig"))
        features = data["features"]
    except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError):
        return content
    for feature in features if isinstance(features, list) else []:
        if not isinstance(feature, dict):
            continue
        geometry = feature.get("geometry")
        if isinstance(geometry, dict) and "coordinates" in geometry:
            geometry["coordinates"] = _convert_coords(geometry["coordinates"], datum)
        props = feature.get("properties")
        if isinstance(props, dict) and isinstance(props.get("polygon"), dict):
            poly = props["polygon"]
            poly["coordinates"] = _convert_coords(poly.get("coordinates"), datum)
    return json.dumps(data, ensure_ascii=False).encode("utf-8")


def prepare_hazard_file(
    content: bytes,
    filename: str,
    *,
    columns: Mapping[str, str | None] | None = None,
    datum: Datum | str = Datum.wgs84,
) -> tuple[bytes, str]:
    """``(content, filename)`` for the hazard import: headers mapped, CSV as .xlsx, WGS 84.

    Raises :class:`~fangxun.errors.ValidationFailed` for a mapping naming an unknown field.
    """
    d = Datum(datum)
    cols = dict(columns or {})
    check_targets(cols, HAZARD_FIELDS, what="the hazard ledger")
    name = filename.lower()
    if name.endswith(".csv"):
        try:
            text = content.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = content.decode("gb18030")
        rows: list[list[Any]] = [list(r) for r in csv.reader(io.StringIO(text))]
        if rows:
            rows[0] = [rename(h, cols) for h in rows[0]]
        content, filename, cols = to_xlsx(rows), filename[: -len(".csv")] + ".xlsx", {}
        name = filename.lower()
    if name.endswith(".xlsx"):
        if cols:
            content = remap_xlsx(content, cols)
        if d is Datum.gcj02:
            # Not a workbook: the import says so, by name.
            with contextlib.suppress(*_NOT_A_WORKBOOK):
                content = _xlsx_to_wgs84(content, d)
    elif name.endswith((".geojson", ".json")):
        if cols:
            content = remap_geojson(content, cols)
        if d is Datum.gcj02:
            content = _geojson_to_wgs84(content, d)
    return content, filename
