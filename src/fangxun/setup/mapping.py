"""Office tables (CSV or Excel with their own headers) read through a column-mapping file.

A mapping file is JSON ``{"columns": {"source header": "field", ...}}``: each source header is
renamed to a field the import knows (``null`` or ``""`` ignores the column); headers not named keep
their own name, so a file already in the system's headers needs no mapping. The field names of
each import are documented in ``docs/operator-guide.md`` ("Column-mapping files").
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from openpyxl import Workbook, load_workbook
from openpyxl.utils.exceptions import InvalidFileException

from fangxun.errors import FieldProblem, ValidationFailed

#: Source header → field name, or None to ignore the column.
Columns = dict[str, str | None]


@dataclass(frozen=True)
class TableRow:
    """One data row: its number as the office sees it (header = row 1) and values by field."""

    number: int
    values: dict[str, Any]


def parse_mapping(data: Any, *, source: str = "mapping") -> Columns:
    """Validate a decoded mapping document; raise :class:`ValidationFailed` saying what is wrong."""
    if not isinstance(data, dict) or not isinstance(data.get("columns"), dict):
        raise ValidationFailed(
            f'{source}: expected a JSON object {{"columns": {{"source header": "field"}}}}',
            loc=(source, "columns"),
        )
    columns: Columns = {}
    for header, field in data["columns"].items():
        if field is not None and not isinstance(field, str):
            raise ValidationFailed(
                f"{source}: the field for {header!r} must be a string or null",
                loc=(source, "columns", header),
            )
        columns[str(header).strip()] = field.strip() if field and field.strip() else None
    return columns


def load_mapping(path: Path | None) -> Columns:
    """Read a mapping file (``None``: no renaming)."""
    if path is None:
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        msg = f"{path.name}: not a JSON mapping file ({exc})"
        raise ValidationFailed(msg, loc=(path.name,)) from None
    return parse_mapping(data, source=path.name)


def check_targets(columns: Columns, fields: Collection[str], *, what: str) -> None:
    """Refuse a mapping that names a field the import does not have, listing the valid ones."""
    bad = [FieldProblem(("mapping", "columns", h), f"unknown field {f!r}")
           for h, f in columns.items() if f is not None and f not in fields]  # fmt: skip
    if bad:
        raise ValidationFailed(
            f"the mapping names field(s) {what} does not have; use: {', '.join(sorted(fields))}",
            problems=bad,
        )


def rename(header: str, columns: Mapping[str, str | None]) -> str | None:
    """The field a source header maps to (itself when unmapped; None when ignored)."""
    name = header.strip()
    if name in columns:
        return columns[name]
    return name or None


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _rows(header: list[Any], body: Any, columns: Mapping[str, str | None]) -> list[TableRow]:
    index: dict[int, str] = {}
    for i, cell in enumerate(header):
        field = rename("" if cell is None else str(cell), columns)
        if field is not None:
            index[i] = field
    out: list[TableRow] = []
    for number, values in enumerate(body, start=2):
        record = {index[i]: v for i, v in enumerate(values) if i in index}
        if all(_blank(v) for v in record.values()):
            continue  # blank lines at the end of office sheets
        out.append(TableRow(number, record))
    return out


def read_table(content: bytes, filename: str, columns: Mapping[str, str | None]) -> list[TableRow]:
    """Rows of a ``.csv`` (UTF-8 or GB18030) or ``.xlsx`` (first sheet), keyed by mapped field."""
    name = filename.lower()
    if name.endswith(".csv"):
        try:
            text = content.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = content.decode("gb18030")  # Excel on Chinese Windows saves CSV in GBK
        reader = list(csv.reader(io.StringIO(text)))
        if not reader:
            raise ValidationFailed(f"{filename}: the file is empty", loc=(filename, "row", 1))
        return _rows(list(reader[0]), reader[1:], columns)
    if name.endswith(".xlsx"):
        try:
            workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
        except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError, ValueError):
            raise ValidationFailed(
                f"{filename}: not an Excel .xlsx workbook", loc=(filename,)
            ) from None
        try:
            it = workbook.worksheets[0].iter_rows(values_only=True)
            header = next(it, None)
            if header is None:
                raise ValidationFailed(
                    f"{filename}: the workbook is empty", loc=(filename, "row", 1)
                )
            return _rows(list(header), list(it), columns)
        finally:
            workbook.close()
    raise ValidationFailed(f"{filename}: name it .csv or .xlsx", loc=(filename,))


def remap_xlsx(content: bytes, columns: Mapping[str, str | None]) -> bytes:
    """The workbook with its first sheet's header row renamed by ``columns`` (ignored columns
    get an empty header, which the hazard import skips). Other sheets and cells are untouched."""
    try:
        workbook = load_workbook(io.BytesIO(content))
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError, ValueError):
        return content  # let the import say what is wrong with the file
    sheet = workbook.worksheets[0]
    for cell in sheet[1]:
        if cell.value is None:
            continue
        field = rename(str(cell.value), columns)
        cell.value = field if field is not None else None
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def remap_geojson(content: bytes, columns: Mapping[str, str | None]) -> bytes:
    """A FeatureCollection with each feature's property keys renamed by ``columns``."""
    try:
        data = json.loads(content.decode("utf-8-sig"))
        features = data["features"]
    except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError):
        return content
    for feature in features if isinstance(features, list) else []:
        props = feature.get("properties") if isinstance(feature, dict) else None
        if isinstance(props, dict):
            feature["properties"] = {
                f: v for k, v in props.items() if (f := rename(k, columns)) is not None
            }
    return json.dumps(data, ensure_ascii=False).encode("utf-8")


def to_xlsx(rows: list[list[Any]]) -> bytes:
    """A one-sheet workbook from rows (header first): for tests and CSV-to-Excel conversion."""
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()
