"""Import and export of the hazard ledger: GeoJSON (RFC 7946) and Excel (.xlsx, Chinese headers).

An import is atomic: every row is checked first, and if any is bad nothing is written and a
:class:`ImportFailed` lists every problem by row, column and reason. Points are matched by code:
a new code creates a point, a known one updates it, an identical row leaves it unchanged. A file
written by :func:`export_geojson` or :func:`export_xlsx` imports back unchanged.

Excel rows are numbered as the spreadsheet shows them (the header is row 1); GeoJSON features from
1 in file order.
"""

from __future__ import annotations

import io
import json
import math
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from openpyxl import Workbook, load_workbook
from openpyxl.styles import Font
from openpyxl.utils.exceptions import InvalidFileException
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from fangxun import geo, jsonsafe
from fangxun.errors import FieldProblem, NotFoundError, ValidationFailed
from fangxun.excel import append_row
from fangxun.hazards import service
from fangxun.hazards.models import HazardKind, HazardPoint, PointStatus, RiskLevel
from fangxun.hazards.schemas import HazardPointCreate, HazardPointUpdate, ImportReport, Thresholds
from fangxun.org.jurisdiction import visible_unit_ids
from fangxun.org.models import Person, Unit
from fangxun.org.permissions import Actor

#: (field, Excel header) in column order. Headers are what offices write in their 台账.
COLUMNS: Final[tuple[tuple[str, str], ...]] = (
    ("code", "编号"),
    ("name", "名称"),
    ("kind", "类型"),
    ("lon", "经度"),
    ("lat", "纬度"),
    ("unit", "责任单位"),
    ("responsible", "责任人"),
    ("deputy", "副责任人"),
    ("risk_level", "风险等级"),
    ("blue", "蓝色阈值(cm)"),
    ("yellow", "黄色阈值(cm)"),
    ("orange", "橙色阈值(cm)"),
    ("red", "红色阈值(cm)"),
    ("status", "状态"),
    ("address", "地址"),
    ("description", "备注"),
    ("polygon", "范围(GeoJSON)"),
)
HEADER_OF: Final = dict(COLUMNS)
REQUIRED: Final = ("code", "name", "kind", "lon", "lat", "unit")
SHEET_TITLE: Final = "隐患台账"
NOTES_TITLE: Final = "说明"
#: What the export says of its coordinates (the ledger stores WGS 84).
DATUM_NOTE: Final = (
    ("坐标系", "WGS 84（EPSG:4326），经度、纬度为十进制度；CGCS2000 与之相差厘米级"),
    ("Datum", "WGS 84 (EPSG:4326), decimal degrees; not GCJ-02 (高德/腾讯 maps are ~500 m off)"),
)

KIND_LABELS: Final[dict[HazardKind, str]] = {
    HazardKind.low_lying_road: "低洼路段",
    HazardKind.underpass: "下穿通道",
    HazardKind.residential_compound: "居民小区",
    HazardKind.river_embankment: "河道堤防",
    HazardKind.pump_station: "泵站",
    HazardKind.construction_site: "在建工地",
    HazardKind.bridge_culvert: "桥涵",
    HazardKind.channel: "沟渠",
    HazardKind.other: "其他",
}
RISK_LABELS: Final[dict[RiskLevel, str]] = {
    RiskLevel.low: "低",
    RiskLevel.medium: "中",
    RiskLevel.high: "高",
    RiskLevel.very_high: "极高",
}
STATUS_LABELS: Final[dict[PointStatus, str]] = {
    PointStatus.active: "在册",
    PointStatus.retired: "已撤销",
}


class ImportFailed(ValidationFailed):
    """An import refused as a whole; ``problems`` has one entry per bad cell.

    Each problem's ``loc`` is ``("row", row, column)``. ``problem_count`` is how many there were
    in all, also when only the first ones are listed (:meth:`capped`).
    """

    def __init__(
        self,
        detail: str,
        *,
        problems: Sequence[FieldProblem] | None = None,
        problem_count: int | None = None,
    ) -> None:
        super().__init__(detail, problems=problems)
        self.problem_count = len(self.problems) if problem_count is None else problem_count

    def capped(self, limit: int) -> ImportFailed:
        """The same refusal listing at most ``limit`` problems (a 150 k-row sheet once answered
        2.4 million of them, 67 MB); the detail says how many there were."""
        if len(self.problems) <= limit:
            return self
        return ImportFailed(
            f"{self.problem_count} problem(s) in the file, the first {limit} listed; "
            "nothing was imported",
            problems=self.problems[:limit],
            problem_count=self.problem_count,
        )


@dataclass(frozen=True)
class ImportLimits:
    """``Settings.import_max_rows`` and ``Settings.import_max_problems``."""

    max_rows: int = 20_000
    max_problems: int = 100

    @classmethod
    def from_settings(cls, settings: Any) -> ImportLimits:
        """Build from :class:`fangxun.config.Settings`."""
        return cls(max_rows=settings.import_max_rows, max_problems=settings.import_max_problems)


def _too_many_rows(max_rows: int) -> ImportFailed:
    return ImportFailed(
        f"the file has more than {max_rows} rows; split it (FANGXUN_IMPORT_MAX_ROWS)",
        problems=[_problem(0, "file", f"more than {max_rows} rows")],
    )


#: Progress callbacks take the share done, 0–1.
Progress = Callable[[float], None]


@dataclass(frozen=True)
class Row:
    """One record read from a file: its row number and raw values by field."""

    number: int
    values: dict[str, Any]


def _problem(row: int, column: str, reason: str) -> FieldProblem:
    return FieldProblem(("row", row, column), reason)


# --- reading -----------------------------------------------------------------------------------


def read_xlsx(content: bytes, *, max_rows: int | None = None) -> tuple[list[Row], str]:
    """Rows of the first sheet of an .xlsx workbook, keyed by field; returns (rows, "xlsx").

    Raises :class:`ImportFailed` when the bytes are not a workbook or a required column is missing.
    """
    try:
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError, ValueError) as exc:
        raise ImportFailed(
            "the file is not an Excel .xlsx workbook",
            problems=[_problem(0, "file", f"not an .xlsx workbook ({type(exc).__name__})")],
        ) from None
    try:
        sheet = workbook.worksheets[0]
        rows_iter = sheet.iter_rows(values_only=True)
        header = next(rows_iter, None)
        if header is None:
            raise ImportFailed(
                "the workbook is empty", problems=[_problem(1, "file", "no header row")]
            )
        by_header = {h: f for f, h in COLUMNS}
        index: dict[int, str] = {}
        for i, cell in enumerate(header):
            name = str(cell).strip() if cell is not None else ""
            field = by_header.get(name) or (name if name in HEADER_OF else None)
            if field is not None:
                index[i] = field
        missing = [HEADER_OF[f] for f in REQUIRED if f not in index.values()]
        if missing:
            raise ImportFailed(
                f"missing column(s): {', '.join(missing)}",
                problems=[_problem(1, m, "required column is missing") for m in missing],
            )
        rows: list[Row] = []
        for number, values in enumerate(rows_iter, start=2):
            record = {index[i]: v for i, v in enumerate(values) if i in index}
            if all(v is None or (isinstance(v, str) and not v.strip()) for v in record.values()):
                continue  # blank lines are common at the end of office sheets
            if max_rows is not None and len(rows) >= max_rows:
                raise _too_many_rows(max_rows)
            rows.append(Row(number, record))
        return rows, "xlsx"
    finally:
        workbook.close()


def _feature_row(number: int, feature: Any, transformer: Any, crs: Any) -> Row | list[FieldProblem]:
    """One GeoJSON feature as an import row, or its problems."""
    if not isinstance(feature, dict) or feature.get("type") != "Feature":
        return [_problem(number, "type", "expected a Feature")]
    geometry = feature.get("geometry")
    props = feature.get("properties") or {}
    if not isinstance(props, dict):
        return [_problem(number, "properties", "must be an object")]
    problems: list[FieldProblem] = []
    values: dict[str, Any] = {k: props.get(k) for k, _ in COLUMNS if k in props}
    thresholds = props.get("thresholds_cm")
    if isinstance(thresholds, dict):
        for colour in ("blue", "yellow", "orange", "red"):
            values[colour] = thresholds.get(colour)
    elif thresholds is not None:
        problems.append(_problem(number, "thresholds_cm", "must be an object"))
    if "unit_code" in props and "unit" not in values:
        values["unit"] = props["unit_code"]
    if not isinstance(geometry, dict) or geometry.get("type") != "Point":
        return [*problems, _problem(number, "geometry", "expected a Point with [lon, lat]")]
    coords = geometry.get("coordinates")
    if not isinstance(coords, list) or not 2 <= len(coords) <= 3:
        return [*problems, _problem(number, "geometry", "expected a Point with [lon, lat]")]
    if transformer is not None:
        try:
            coords = geo.check_position(coords, where="Point", transformer=transformer)
        except geo.GeometryError as exc:
            return [*problems, _problem(number, "geometry", str(exc))]
    # Without a crs the values are checked with the other fields, per column (经度, 纬度).
    values["lon"], values["lat"] = coords[0], coords[1]
    if crs is not None and isinstance(values.get("polygon"), dict):
        # The outline is checked with the point's fields (fangxun.geo), in the file's CRS.
        values["polygon"] = {**values["polygon"], "crs": values["polygon"].get("crs", crs)}
    return problems or Row(number, values)


def read_geojson(content: bytes, *, max_rows: int | None = None) -> tuple[list[Row], str]:
    """Rows of an RFC 7946 FeatureCollection of Point features; returns (rows, "geojson")."""
    try:
        data = jsonsafe.loads(content)
    except jsonsafe.JsonTooDeep as exc:
        raise ImportFailed(
            "the file is not usable GeoJSON", problems=[_problem(0, "file", f"JSON {exc}")]
        ) from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ImportFailed(
            "the file is not GeoJSON", problems=[_problem(0, "file", f"not JSON: {exc}")]
        ) from None
    if not isinstance(data, dict) or data.get("type") != "FeatureCollection":
        raise ImportFailed(
            "the file is not a GeoJSON FeatureCollection",
            problems=[_problem(0, "type", "expected a FeatureCollection")],
        )
    features = data.get("features")
    if not isinstance(features, list):
        raise ImportFailed(
            "'features' must be a list", problems=[_problem(0, "features", "must be a list")]
        )
    # A ``crs`` member (GeoJSON 2008) is honoured: positions are transformed to WGS 84.
    crs = data.get("crs")
    try:
        transformer = geo.transformer_for(crs)
    except geo.GeometryError as exc:
        raise ImportFailed(str(exc), problems=[_problem(0, "crs", str(exc))]) from None
    if max_rows is not None and len(features) > max_rows:
        raise _too_many_rows(max_rows)
    rows: list[Row] = []
    problems: list[FieldProblem] = []
    for number, feature in enumerate(features, start=1):
        row = _feature_row(number, feature, transformer, crs)
        if isinstance(row, Row):
            rows.append(row)
        else:
            problems.extend(row)
    if problems:
        raise ImportFailed(f"{len(problems)} problem(s) in the GeoJSON file", problems=problems)
    return rows, "geojson"


def read_any(
    content: bytes, filename: str, *, max_rows: int | None = None
) -> tuple[list[Row], str]:
    """Read by extension: ``.xlsx`` as Excel, ``.geojson``/``.json`` as GeoJSON."""
    name = filename.lower()
    if name.endswith(".xlsx"):
        return read_xlsx(content, max_rows=max_rows)
    if name.endswith((".geojson", ".json")):
        return read_geojson(content, max_rows=max_rows)
    raise ImportFailed(
        f"{filename}: unknown file type",
        problems=[_problem(0, "file", "name it .xlsx (Excel) or .geojson (GeoJSON)")],
    )


# --- checking ----------------------------------------------------------------------------------


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _text(value: Any) -> str | None:
    if _blank(value):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # Excel stores "1001" typed as a number as 1001.0
    return str(value).strip()


def _number(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError("expected a number, got a true/false value")
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            raise ValueError(f"expected a number, got {value!r}") from None
    else:
        raise ValueError(f"expected a number, got {type(value).__name__}")
    if not math.isfinite(number):
        raise ValueError("expected a finite number")
    return number


def _choice(value: Any, labels: Mapping[Any, str], what: str) -> Any:
    text = _text(value)
    for member, label in labels.items():
        if text in (member.value, label):
            return member
    options = "、".join(labels.values())
    raise ValueError(f"unknown {what} {text!r} (one of {options}, or the English code)")


class _Lookup:
    """Units and people visible to the actor, by code and by name."""

    def __init__(self, session: Session, actor: Actor) -> None:
        visible = visible_unit_ids(session=session, user=actor)
        units = list(session.scalars(select(Unit)))
        self.units = [u for u in units if visible is None or u.id in visible]
        self.people = [
            p for p in session.scalars(select(Person)) if visible is None or p.unit_id in visible
        ]

    def unit(self, value: Any) -> Unit:
        text = _text(value)
        for unit in self.units:
            if text in (unit.code, unit.name_zh):
                return unit
        raise ValueError(f"unknown unit {text!r}")

    def person(self, value: Any, unit: Unit | None) -> int | None:
        text = _text(value)
        if text is None:
            return None
        matches = [p for p in self.people if p.name == text]
        if unit is not None and len(matches) > 1:
            matches = [p for p in matches if p.unit_id == unit.id] or matches
        if not matches:
            raise ValueError(f"unknown person {text!r}")
        if len(matches) > 1:
            raise ValueError(f"{len(matches)} people are called {text!r}; the name is ambiguous")
        return matches[0].id


#: Threshold columns: all four or none (then the kind's defaults apply).
_COLOURS: Final = ("blue", "yellow", "orange", "red")


class _RowCheck:
    """The checks of one row, column by column, in the order its problems are listed: ``data``
    gathers the fields of :class:`HazardPointCreate`, ``bad`` the row's problems."""

    def __init__(
        self,
        row: Row,
        lookup: _Lookup,
        seen: dict[str, int],
        thresholds_table: Mapping[str, Sequence[float]] | None = None,
    ) -> None:
        self.row = row
        self.thresholds_table = thresholds_table
        self.v = row.values
        self.lookup = lookup
        self.seen = seen
        self.data: dict[str, Any] = {}
        self.bad: list[FieldProblem] = []

    def fail(self, field: str, reason: str) -> None:
        self.bad.append(_problem(self.row.number, HEADER_OF.get(field, field), reason))

    def given(self, field: str) -> bool:
        return not _blank(self.v.get(field))

    def required(self) -> None:
        for field in REQUIRED:
            if not self.given(field):
                self.fail(field, "required")

    def code_and_name(self) -> None:
        """The code, unique in the file (``seen``: code → its first row), and the name."""
        code = _text(self.v.get("code"))
        if code is not None:
            if code in self.seen:
                self.fail("code", f"duplicate code {code!r} (first on row {self.seen[code]})")
            else:
                self.seen[code] = self.row.number
            self.data["code"] = code
        if self.given("name"):
            self.data["name"] = _text(self.v.get("name"))

    def choices(self) -> None:
        for field, labels, what in (
            ("kind", KIND_LABELS, "kind"),
            ("risk_level", RISK_LABELS, "risk level"),
            ("status", STATUS_LABELS, "status"),
        ):
            if self.given(field):
                try:
                    self.data[field] = _choice(self.v.get(field), labels, what)
                except ValueError as exc:
                    self.fail(field, str(exc))

    def coordinates(self) -> None:
        """Longitude and latitude, WGS 84 degrees."""
        for field, low, high in (("lon", -180.0, 180.0), ("lat", -90.0, 90.0)):
            if not self.given(field):
                continue
            try:
                number = _number(self.v.get(field))
            except ValueError as exc:
                self.fail(field, str(exc))
                continue
            if not low <= number <= high:
                self.fail(field, f"{number} is out of range [{low:g}, {high:g}] (WGS 84 degrees)")
            else:
                self.data[field] = number

    def unit_and_people(self) -> None:
        """The unit by code or name; the people by name, within the unit when a name is shared."""
        unit: Unit | None = None
        if self.given("unit"):
            try:
                unit = self.lookup.unit(self.v.get("unit"))
                self.data["unit_id"] = unit.id
            except ValueError as exc:
                self.fail("unit", str(exc))
        for field, target in (
            ("responsible", "responsible_person_id"),
            ("deputy", "deputy_person_id"),
        ):
            try:
                self.data[target] = self.lookup.person(self.v.get(field), unit)
            except ValueError as exc:
                self.fail(field, str(exc))

    def thresholds(self) -> None:
        """All four thresholds (cm, in order), one (the kind's defaults scaled to it) or none."""
        given = [c for c in _COLOURS if self.given(c)]
        if not given:
            return
        if len(given) == 1 and isinstance(self.data.get("kind"), HazardKind):
            self.one_threshold(given[0])
            return
        if len(given) < len(_COLOURS):
            for c in _COLOURS:
                if c not in given:
                    self.fail(c, "give all four thresholds, one, or none for the kind's defaults")
            return
        levels: dict[str, float] = {}
        for c in _COLOURS:
            try:
                levels[c] = _number(self.v.get(c))
            except ValueError as exc:
                self.fail(c, str(exc))
        if len(levels) == len(_COLOURS):
            try:
                self.data["thresholds_cm"] = Thresholds(**levels)
            except ValidationError as exc:
                self.fail("blue", _first_msg(exc))

    def one_threshold(self, colour: str) -> None:
        """One colour's threshold (cm): the four from the kind's defaults scaled to it."""
        try:
            one = _number(self.v.get(colour))
            if one <= 0:
                raise ValueError("must be > 0 cm")
            self.data["thresholds_cm"] = Thresholds(
                **_one_colour(colour, one, self.data["kind"], self.thresholds_table)
            )
        except ValidationError as exc:
            self.fail(colour, _first_msg(exc))
        except ValueError as exc:
            self.fail(colour, str(exc))

    def texts_and_polygon(self) -> None:
        """Address and description as text; the polygon as GeoJSON (a string is parsed)."""
        for field in ("address", "description"):
            if self.given(field):
                self.data[field] = _text(self.v.get(field))
        polygon = self.v.get("polygon")
        if _blank(polygon):
            return
        if isinstance(polygon, str):
            try:
                polygon = jsonsafe.loads(polygon)
            except jsonsafe.JsonTooDeep as exc:
                self.fail("polygon", f"JSON {exc}")
                polygon = None
            except json.JSONDecodeError:
                self.fail("polygon", "not valid JSON")
                polygon = None
        self.data["polygon"] = polygon

    def point(self) -> HazardPointCreate | None:
        """The row's point, when every column passed and the schema takes it (else None, with
        the schema's problems on the columns they name)."""
        if self.bad:
            return None
        try:
            return HazardPointCreate(**self.data)
        except ValidationError as exc:
            for err in exc.errors():
                loc = err.get("loc", ())
                field = str(loc[0]) if loc else "row"
                field = {"unit_id": "unit", "thresholds_cm": "blue"}.get(field, field)
                self.fail(field, str(err.get("msg", "invalid")).removeprefix("Value error, "))
            return None

    def run(self) -> HazardPointCreate | None:
        """Every check in turn, then the schema."""
        self.required()
        self.code_and_name()
        self.choices()
        self.coordinates()
        self.unit_and_people()
        self.thresholds()
        self.texts_and_polygon()
        return self.point()


def _one_colour(
    colour: str, value: float, kind: HazardKind, table: Mapping[str, Sequence[float]] | None
) -> dict[str, float]:
    """Four thresholds (cm) from one colour's: the kind's default thresholds scaled so that
    ``colour`` has ``value`` (an office that keeps one warning depth per point keeps the kind's
    proportions between the colours)."""
    default = service.default_thresholds_cm(kind, table)
    factor = value / getattr(default, colour)
    return {c: round(getattr(default, c) * factor, 1) for c in _COLOURS}


def check_rows(
    *,
    session: Session,
    rows: Sequence[Row],
    actor: Actor,
    progress: Progress | None = None,
    thresholds_table: Mapping[str, Sequence[float]] | None = None,
) -> list[tuple[Row, HazardPointCreate]]:
    """Turn rows into validated points, or raise :class:`ImportFailed` listing every problem.
    ``progress`` hears the share of rows checked every few hundred rows.

    Thresholds: all four colours, none (the kind's defaults), or one colour (the kind's defaults
    scaled to it, see :func:`_one_colour`)."""
    lookup = _Lookup(session, actor)
    problems: list[FieldProblem] = []
    seen: dict[str, int] = {}
    out: list[tuple[Row, HazardPointCreate]] = []
    for i, row in enumerate(rows):
        if progress is not None and i % 500 == 0:
            progress(i / len(rows))
        check = _RowCheck(row, lookup, seen, thresholds_table)
        point = check.run()
        if point is not None:
            out.append((row, point))
        problems.extend(check.bad)
    if problems:
        raise ImportFailed(
            f"{len(problems)} problem(s) in the file; nothing was imported", problems=problems
        )
    return out


def _first_msg(exc: ValidationError) -> str:
    errors = exc.errors()
    return str(errors[0].get("msg", "invalid")).removeprefix("Value error, ") if errors else ""


# --- applying ----------------------------------------------------------------------------------


def _as_create(point: HazardPoint) -> HazardPointCreate:
    return HazardPointCreate(
        code=point.code,
        name=point.name,
        kind=point.kind,
        lon=point.lon,
        lat=point.lat,
        polygon=point.polygon,
        address=point.address,
        description=point.description,
        unit_id=point.unit_id,
        responsible_person_id=point.responsible_person_id,
        deputy_person_id=point.deputy_person_id,
        risk_level=point.risk_level,
        thresholds_cm=service.thresholds_of(point),
        status=point.status,
    )


def import_points(
    *,
    session: Session,
    content: bytes,
    filename: str,
    actor: Actor,
    thresholds_table: Mapping[str, Sequence[float]] | None = None,
    limits: ImportLimits | None = None,
    progress: Progress | None = None,
) -> ImportReport:
    """Import a GeoJSON or Excel file atomically (by code: create, update or leave unchanged).

    Raises :class:`ImportFailed` (nothing written) listing the first ``limits.max_problems`` bad
    cells and counting the rest; a file of more than ``limits.max_rows`` rows is refused whole.
    ``progress`` hears the share done while the file is read and checked (the writes at the end
    are one transaction). Never commits. Synchronous: web shells run it off the event loop
    (:mod:`fangxun.hazards.jobs`).
    """
    limits = limits or ImportLimits()
    try:
        return _import_points(
            session=session,
            content=content,
            filename=filename,
            actor=actor,
            thresholds_table=thresholds_table,
            limits=limits,
            progress=progress or (lambda _share: None),
        )
    except ImportFailed as exc:
        raise exc.capped(limits.max_problems) from None


def _import_points(
    *,
    session: Session,
    content: bytes,
    filename: str,
    actor: Actor,
    thresholds_table: Mapping[str, Sequence[float]] | None,
    limits: ImportLimits,
    progress: Progress,
) -> ImportReport:
    service._require(actor, service.HazardAction.manage_points, "import hazard points")
    progress(0.0)
    rows, _ = read_any(content, filename, max_rows=limits.max_rows)
    progress(0.2)
    checked = check_rows(
        session=session,
        rows=rows,
        actor=actor,
        progress=lambda share: progress(0.2 + 0.6 * share),
        thresholds_table=thresholds_table,
    )
    progress(0.8)
    existing = {
        p.code: p
        for p in session.scalars(
            select(HazardPoint).where(HazardPoint.code.in_([c.code for _, c in checked]))
        )
    }
    problems = []
    for row, point_in in checked:
        point = existing.get(point_in.code)
        if point is not None:
            try:
                service.get_point(session=session, point_id=point.id, actor=actor)
            except NotFoundError:
                problems.append(
                    _problem(row.number, HEADER_OF["code"], f"code {point_in.code!r} is taken")
                )
    if problems:
        raise ImportFailed("codes used by points outside your jurisdiction", problems=problems)
    report = ImportReport(created=0, updated=0, unchanged=0)
    # A savepoint: if a write still fails half-way (a race on a code), none of the rows stay.
    with session.begin_nested():
        for _row, point_in in checked:
            point = existing.get(point_in.code)
            if point is None:
                if point_in.thresholds_cm is None:
                    point_in = point_in.model_copy(
                        update={
                            "thresholds_cm": service.default_thresholds_cm(
                                point_in.kind, thresholds_table
                            )
                        }
                    )
                service.create_point(
                    session=session,
                    point_in=point_in,
                    actor=actor,
                    thresholds_table=thresholds_table,
                )
                report.created += 1
                continue
            current = _as_create(point)
            wanted = point_in
            if wanted.thresholds_cm is None:
                wanted = wanted.model_copy(update={"thresholds_cm": current.thresholds_cm})
            if wanted == current:
                report.unchanged += 1
                continue
            changes = {
                k: getattr(wanted, k)
                for k in HazardPointCreate.model_fields
                if getattr(wanted, k) != getattr(current, k)
            }
            service.update_point(
                session=session,
                point_id=point.id,
                point_in=HazardPointUpdate(**changes),
                actor=actor,
            )
            report.updated += 1
    return report


# --- writing -----------------------------------------------------------------------------------


def _records(session: Session, points: Sequence[HazardPoint]) -> list[dict[str, Any]]:
    units = {u.id: u for u in session.scalars(select(Unit))}
    person_ids = {p.responsible_person_id for p in points} | {p.deputy_person_id for p in points}
    people = {
        p.id: p.name
        for p in session.scalars(select(Person).where(Person.id.in_([i for i in person_ids if i])))
    }
    out = []
    for p in points:
        t = service.thresholds_of(p)
        out.append(
            {
                "code": p.code,
                "name": p.name,
                "kind": p.kind,
                "lon": p.lon,
                "lat": p.lat,
                "unit": units[p.unit_id],
                "responsible": people.get(p.responsible_person_id or 0),
                "deputy": people.get(p.deputy_person_id or 0),
                "risk_level": p.risk_level,
                "blue": t.blue,
                "yellow": t.yellow,
                "orange": t.orange,
                "red": t.red,
                "status": p.status,
                "address": p.address,
                "description": p.description,
                "polygon": p.polygon,
            }
        )
    return out


def _export_points(
    session: Session, actor: Actor, flt: service.PointFilter | None
) -> list[HazardPoint]:
    points, _ = service.list_points(session=session, actor=actor, flt=flt, limit=1_000_000)
    return points


def export_geojson(
    *, session: Session, actor: Actor, flt: service.PointFilter | None = None
) -> dict[str, Any]:
    """The points in the actor's jurisdiction as an RFC 7946 FeatureCollection (importable)."""
    points = _export_points(session, actor, flt)
    features = []
    for rec in _records(session, points):
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [rec["lon"], rec["lat"]]},
                "properties": {
                    "code": rec["code"],
                    "name": rec["name"],
                    "kind": rec["kind"].value,
                    "unit": rec["unit"].code,
                    "unit_name": rec["unit"].name_zh,
                    "responsible": rec["responsible"],
                    "deputy": rec["deputy"],
                    "risk_level": rec["risk_level"].value,
                    "thresholds_cm": {c: rec[c] for c in ("blue", "yellow", "orange", "red")},
                    "status": rec["status"].value,
                    "address": rec["address"],
                    "description": rec["description"],
                    "polygon": rec["polygon"],
                },
            }
        )
    return {"type": "FeatureCollection", "name": "fangxun_hazard_points", "features": features}


def export_xlsx(*, session: Session, actor: Actor, flt: service.PointFilter | None = None) -> bytes:
    """The points in the actor's jurisdiction as an .xlsx workbook with Chinese headers."""
    points = _export_points(session, actor, flt)
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = SHEET_TITLE
    append_row(sheet, [header for _, header in COLUMNS])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    sheet.freeze_panes = "A2"
    for rec in _records(session, points):
        append_row(
            sheet,
            [
                rec["code"],
                rec["name"],
                KIND_LABELS[rec["kind"]],
                rec["lon"],
                rec["lat"],
                rec["unit"].name_zh,
                rec["responsible"],
                rec["deputy"],
                RISK_LABELS[rec["risk_level"]],
                rec["blue"],
                rec["yellow"],
                rec["orange"],
                rec["red"],
                STATUS_LABELS[rec["status"]],
                rec["address"],
                rec["description"],
                json.dumps(rec["polygon"], separators=(",", ":")) if rec["polygon"] else None,
            ],
        )
    widths = (12, 28, 10, 13, 12, 22, 10, 10, 8, 12, 12, 12, 12, 8, 30, 30, 30)
    for column, width in zip("ABCDEFGHIJKLMNOPQ", widths, strict=True):
        sheet.column_dimensions[column].width = width
    # The datum of the coordinates, stated beside them (a second sheet: the ledger's own columns
    # stay as the import reads them).
    notes = workbook.create_sheet(NOTES_TITLE)
    for line in DATUM_NOTE:
        append_row(notes, list(line))
    notes.column_dimensions["A"].width = 12
    notes.column_dimensions["B"].width = 70
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


__all__ = [
    "COLUMNS",
    "KIND_LABELS",
    "RISK_LABELS",
    "STATUS_LABELS",
    "ImportFailed",
    "Row",
    "check_rows",
    "export_geojson",
    "export_xlsx",
    "import_points",
    "read_any",
    "read_geojson",
    "read_xlsx",
]
