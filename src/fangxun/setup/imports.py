"""The import column-mapping step of the setup pages: preview an office's file, suggest a field for
each of its columns, save the mapping by name, apply it.

The same mapping (``{"source header": "field" or None}``) drives the CLI's ``--mapping FILE`` and
the pages; saved mappings live in ``setup_column_mapping`` by import kind and name. Uploaded files
wait between preview and apply in ``<data_dir>/setup_uploads`` under a random token (removed once
applied, or after a day). Keyword-only functions; the caller's scope commits.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from fangxun.audit.service import actor_username
from fangxun.datums import Datum
from fangxun.errors import NotFoundError, ValidationFailed
from fangxun.org.permissions import Actor
from fangxun.setup import service
from fangxun.setup.hazard_input import HAZARD_FIELDS
from fangxun.setup.mapping import Columns, check_targets, read_table
from fangxun.setup.models import ColumnMapping

#: The imports the pages offer, with their fields (what a mapping may name).
IMPORT_FIELDS: Final[dict[str, tuple[str, ...]]] = {
    "units": service.UNIT_FIELDS,
    "people": service.PEOPLE_FIELDS,
    "stations": service.STATION_FIELDS,
    "hazards": tuple(sorted(HAZARD_FIELDS)),
}
#: Files each import takes.
SUFFIXES: Final[dict[str, tuple[str, ...]]] = {
    "units": (".geojson", ".json", ".gpkg", ".zip"),
    "people": (".csv", ".xlsx"),
    "stations": (".csv", ".xlsx"),
    "hazards": (".csv", ".xlsx"),
}
#: Words in office headers → the field they usually mean (checked in order; the first that the
#: header contains wins). ``None``: a running number, ignored.
SYNONYMS: Final[tuple[tuple[str, str | None], ...]] = (
    ("序号", None), ("编号", "code"), ("编码", "code"), ("代码", "code"), ("站码", "code"),
    ("姓名", "name"), ("站名", "name"), ("名称", "name"), ("位置", "name"), ("点位", "name"),
    ("上级", "parent"), ("类型", "kind"), ("类别", "kind"), ("经度", "lon"), ("纬度", "lat"),
    ("高程", "elevation_m"), ("单位", "unit"), ("办事处", "unit"), ("街道", "unit"),
    ("职务", "post"), ("岗位", "post"), ("手机", "phone"), ("电话", "phone"),
    ("邮箱", "email"), ("mail", "email"), ("副责任人", "deputy"), ("责任人", "responsible"),
    ("风险", "risk_level"), ("地址", "address"), ("备注", "description"), ("状态", "status"),
    ("时段", "interval_s"), ("警戒", "warning_level_m"), ("保证", "guarantee_level_m"),
)  # fmt: skip
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
_UPLOAD_TTL_S = 24 * 3600
PREVIEW_ROWS = 5


def _kind(kind: str) -> tuple[str, ...]:
    if kind not in IMPORT_FIELDS:
        raise NotFoundError(f"no import {kind!r}")
    return IMPORT_FIELDS[kind]


# --- saved mappings ----------------------------------------------------------------------------


def list_mappings(*, session: Session, kind: str) -> list[ColumnMapping]:
    """The saved mappings of an import, by name."""
    _kind(kind)
    stmt = select(ColumnMapping).where(ColumnMapping.kind == kind).order_by(ColumnMapping.name)
    return list(session.scalars(stmt))


def get_mapping(*, session: Session, kind: str, name: str) -> ColumnMapping:
    """The saved mapping ``name`` of an import; :class:`NotFoundError` when there is none."""
    found = session.scalar(
        select(ColumnMapping).where(ColumnMapping.kind == kind, ColumnMapping.name == name)
    )
    if found is None:
        raise NotFoundError(f"no saved mapping {name!r} for the {kind} import")
    return found


def save_mapping(
    *, session: Session, kind: str, name: str, columns: Columns, actor: Actor
) -> ColumnMapping:
    """Create or replace the mapping ``name`` of an import (its fields checked)."""
    fields = _kind(kind)
    name = name.strip()
    if not name or len(name) > 100:
        raise ValidationFailed("a mapping needs a name of 1 to 100 characters", loc=("name",))
    check_targets(columns, fields, what=f"the {kind} import")
    found = session.scalar(
        select(ColumnMapping).where(ColumnMapping.kind == kind, ColumnMapping.name == name)
    )
    if found is None:
        found = ColumnMapping(kind=kind, name=name, columns=dict(columns),
                              created_by=actor_username(actor))  # fmt: skip
        session.add(found)
    else:
        found.columns = dict(columns)
    session.flush()
    return found


def suggest(headers: Sequence[str], fields: Sequence[str]) -> dict[str, str | None]:
    """A field for each header: itself when it is a field name, else the first synonym it
    contains that names one of ``fields``; None (ignore) otherwise.

    >>> suggest(["序号", "积水点位置", "所属办事处", "经度(高德)"], ["name", "unit", "lon"])
    {'序号': None, '积水点位置': 'name', '所属办事处': 'unit', '经度(高德)': 'lon'}
    """
    out: dict[str, str | None] = {}
    taken: set[str] = set()
    for header in headers:
        h = header.strip()
        choice: str | None = h if h in fields else None
        if choice is None:
            for word, field in SYNONYMS:
                if word in h.lower():
                    choice = field if field in fields and field not in taken else None
                    break
        if choice is not None:
            taken.add(choice)
        out[header] = choice
    return out


# --- uploads -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Upload:
    """A file waiting between preview and apply."""

    token: str
    path: Path
    filename: str


def _upload_dir(data_dir: Path) -> Path:
    return data_dir / "setup_uploads"


def store_upload(*, data_dir: Path, kind: str, filename: str, content: bytes) -> Upload:
    """Keep an uploaded file for the apply step; refuses a file the import does not take."""
    _kind(kind)
    name = Path(filename or "").name
    suffix = Path(name).suffix.lower()
    if suffix not in SUFFIXES[kind]:
        raise ValidationFailed(f"{name or 'the file'}: the {kind} import takes "
                               f"{', '.join(SUFFIXES[kind])}", loc=("file",))  # fmt: skip
    if not content:
        raise ValidationFailed(f"{name}: the file is empty", loc=("file",))
    folder = _upload_dir(data_dir)
    folder.mkdir(parents=True, exist_ok=True)
    now = time.time()
    for old in folder.iterdir():  # uploads never applied
        if now - old.stat().st_mtime > _UPLOAD_TTL_S:
            old.unlink(missing_ok=True)
    token = secrets.token_urlsafe(18)
    path = folder / f"{token}{suffix}"
    path.write_bytes(content)
    (folder / f"{token}.name").write_text(name, encoding="utf-8")
    return Upload(token, path, name)


def find_upload(*, data_dir: Path, token: str) -> Upload:
    """The upload of ``token``; :class:`NotFoundError` when it is gone (applied or expired)."""
    folder = _upload_dir(data_dir)
    if _TOKEN.match(token or ""):
        name_file = folder / f"{token}.name"
        for path in folder.glob(f"{token}.*"):
            if path != name_file and name_file.is_file():
                return Upload(token, path, name_file.read_text(encoding="utf-8"))
    raise NotFoundError("the uploaded file is gone: upload it again")


def discard_upload(upload: Upload) -> None:
    """Remove an applied upload."""
    upload.path.unlink(missing_ok=True)
    upload.path.with_suffix(".name").unlink(missing_ok=True)


@dataclass(frozen=True)
class Preview:
    """The file's headers (source columns), its first rows, and a field for each header."""

    headers: list[str]
    rows: list[list[Any]]
    total: int
    columns: dict[str, str | None]


def preview(*, kind: str, upload: Upload, saved: Columns | None = None) -> Preview:
    """Headers and the first :data:`PREVIEW_ROWS` rows of the upload, with the saved mapping's
    fields (headers it does not name: suggested)."""
    fields = _kind(kind)
    if kind == "units":
        from fangxun.setup.terrain import read_vector_features

        features = read_vector_features(upload.path, {})
        headers = list(features[0].values) if features else []
        rows = [[f.values.get(h) for h in headers] for f in features]
    else:
        table = read_table(upload.path.read_bytes(), upload.filename, {})
        headers = list(dict.fromkeys(h for r in table for h in r.values))
        rows = [[r.values.get(h) for h in headers] for r in table]
    columns = suggest(headers, fields)
    for header, field in (saved or {}).items():
        if header in columns:
            columns[header] = field
    return Preview(headers, rows[:PREVIEW_ROWS], len(rows), columns)


def apply(
    *,
    session: Session,
    kind: str,
    upload: Upload,
    columns: Mapping[str, str | None],
    actor: Actor,
    datum: Datum | str = Datum.wgs84,
    thresholds_table: Mapping[str, Sequence[float]] | None = None,
) -> service.ImportSummary:
    """Run the import of ``kind`` on the upload through ``columns`` (all rows or none)."""
    fields = _kind(kind)
    cols = dict(columns)
    check_targets(cols, fields, what=f"the {kind} import")
    if kind == "units":
        from fangxun.setup.terrain import read_vector_features

        features = read_vector_features(upload.path, cols)
        return service.import_units(session=session, features=features, actor=actor)
    content = upload.path.read_bytes()
    if kind == "hazards":
        from fangxun.hazards import io as hazard_io
        from fangxun.setup.hazard_input import prepare_hazard_file

        data, filename = prepare_hazard_file(content, upload.filename, columns=cols, datum=datum)
        report = hazard_io.import_points(
            session=session, content=data, filename=filename, actor=actor,
            thresholds_table=thresholds_table,
        )  # fmt: skip
        return service.ImportSummary(created=report.created, updated=report.updated)
    rows = read_table(content, upload.filename, cols)
    if kind == "people":
        return service.import_people(session=session, rows=rows, actor=actor)
    return service.import_stations(session=session, rows=rows, actor=actor, datum=datum)
