"""District setup from the district's own files, and the readiness checklist.

Each import checks every row first and writes nothing when one is bad (a
:class:`~fangxun.errors.ValidationFailed` lists each problem by row and field); rows are matched by
code (units, stations) or by name within a unit (people), so running an import again updates
rather than duplicates. Keyword-only service functions; the caller's scope commits.
"""

from __future__ import annotations

import dataclasses
import enum
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from fangxun.config import Settings
from fangxun.datums import Datum, to_wgs84
from fangxun.errors import FieldProblem, ValidationFailed, did_you_mean
from fangxun.hazards.models import HazardPoint
from fangxun.monitoring import service as monitoring_service
from fangxun.monitoring.models import Datastream, ObservedProperty, Station, StationKind
from fangxun.monitoring.schemas import DatastreamCreate, StationCreate
from fangxun.notify.models import Channel, ContactChannel
from fangxun.org import service as org_service
from fangxun.org.models import Person, Unit, UnitKind
from fangxun.org.permissions import Actor
from fangxun.org.schemas import PersonCreate, PersonUpdate, UnitCreate, UnitUpdate
from fangxun.setup.mapping import TableRow

#: Fields of each import (the names a mapping file maps source headers to).
UNIT_FIELDS = ("code", "name", "name_en", "kind", "parent")
PEOPLE_FIELDS = ("name", "unit", "phone", "email", "post")
STATION_FIELDS = ("code", "name", "name_en", "kind", "lon", "lat", "elevation_m", "unit",
                  "interval_s", "warning_level_m", "guarantee_level_m")  # fmt: skip

UNIT_KIND_LABELS: dict[str, UnitKind] = {
    "区": UnitKind.district, "区防汛办": UnitKind.district, "district": UnitKind.district,
    "办事处": UnitKind.street_office, "街道": UnitKind.street_office,
    "街道办事处": UnitKind.street_office, "镇": UnitKind.street_office,
    "street_office": UnitKind.street_office,
    "部门": UnitKind.department, "department": UnitKind.department,
}  # fmt: skip
STATION_KIND_LABELS: dict[str, StationKind] = {
    "雨量站": StationKind.rain_gauge, "rain_gauge": StationKind.rain_gauge,
    "积水监测点": StationKind.ponding, "积水站": StationKind.ponding,
    "ponding": StationKind.ponding,
    "河道水位站": StationKind.river_gauge, "水位站": StationKind.river_gauge,
    "river_gauge": StationKind.river_gauge,
    "泵站": StationKind.pump_station, "pump_station": StationKind.pump_station,
}  # fmt: skip

#: The datastreams each kind of station gets: (suffix, property, unit the sensor sends).
STATION_STREAMS: dict[StationKind, tuple[tuple[str, str, str], ...]] = {
    StationKind.rain_gauge: (("rain", "rainfall", "mm"),),
    StationKind.ponding: (("depth", "ponding_depth", "cm"),),
    StationKind.river_gauge: (("level", "river_level", "m"),),
    StationKind.pump_station: (
        ("pumps", "pumps_running", "1"), ("flow", "discharge", "m3/s"),
        ("sump", "sump_level", "m"), ("power", "power", "1"),
    ),
}  # fmt: skip
DEFAULT_RAIN_INTERVAL_S = 300


@dataclass
class ImportSummary:
    """What an import did."""

    created: int = 0
    updated: int = 0


def _blank(value: Any) -> bool:
    return (
        value is None
        or (isinstance(value, str) and not value.strip())
        or (isinstance(value, float) and math.isnan(value))
    )


def _text(value: Any) -> str | None:
    if _blank(value):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # Excel turns codes and phone numbers into floats
    return str(value).strip()


def _float(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError("expected a number")
    try:
        number = float(str(value).strip()) if isinstance(value, str) else float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{value!r} is not a number") from None
    if not math.isfinite(number):
        raise ValueError(f"{value!r} is not a finite number")
    return number


def _refuse(problems: Sequence[FieldProblem], what: str) -> None:
    if problems:
        raise ValidationFailed(f"{len(problems)} problem(s) in the {what} file; nothing imported",
                               problems=problems)  # fmt: skip


def _pydantic_problems(row: int, exc: ValidationError) -> list[FieldProblem]:
    return [FieldProblem(("row", row, ".".join(str(p) for p in e["loc"]) or "row"), e["msg"])
            for e in exc.errors()]  # fmt: skip


def _units_by_key(session: Session) -> dict[str, Unit]:
    units: dict[str, Unit] = {}
    for unit in session.scalars(select(Unit)):
        units.setdefault(unit.name_zh, unit)
        units[unit.code] = unit  # a code wins over a name that happens to equal it
    return units


def unknown_unit(text: str | None, known: Sequence[str]) -> str:
    """The message for a unit name or code that matches none, with the nearest ones offered.

    >>> unknown_unit("东湖街道", ["东湖街道办事处", "西湖街道办事处", "HX-DH"])
    "unknown unit '东湖街道'; did you mean '东湖街道办事处'?"
    """
    return f"unknown unit {text!r}{did_you_mean(text, known)}"


# --- units -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class UnitFeature:
    """One feature of a boundary file: its attributes by field and its WGS 84 GeoJSON geometry."""

    number: int
    values: dict[str, Any]
    geometry: dict[str, Any] | None


def import_units(
    *, session: Session, features: Sequence[UnitFeature], actor: Actor
) -> ImportSummary:
    """Create or update the district and its street offices/departments (by code) with boundaries.

    ``kind`` may be omitted: a unit without a parent is the district, one with a parent a street
    office. ``parent`` is a code or name, in the file or already stored.
    """
    problems: list[FieldProblem] = []
    existing = {u.code: u for u in session.scalars(select(Unit))}
    names = {u.name_zh: u.code for u in existing.values()}
    parsed: list[tuple[int, str, dict[str, Any], str | None]] = []
    for f in features:
        v = f.values
        code, name, parent = _text(v.get("code")), _text(v.get("name")), _text(v.get("parent"))
        if code is None:
            problems.append(FieldProblem(("row", f.number, "code"), "required"))
        if name is None:
            problems.append(FieldProblem(("row", f.number, "name"), "required"))
        kind_text = _text(v.get("kind"))
        if kind_text is None:
            kind = UnitKind.street_office if parent else UnitKind.district
        elif kind_text in UNIT_KIND_LABELS:
            kind = UNIT_KIND_LABELS[kind_text]
        else:
            problems.append(FieldProblem(("row", f.number, "kind"),
                            f"unknown kind {kind_text!r}; use 区, 办事处 or 部门"))  # fmt: skip
            continue
        if f.geometry is not None and f.geometry.get("type") not in ("Polygon", "MultiPolygon"):
            msg = f"a boundary must be a polygon, not {f.geometry.get('type')}"
            problems.append(FieldProblem(("row", f.number, "geometry"), msg))
            continue
        if code is None or name is None:
            continue
        names[name] = code
        data = {"code": code, "name_zh": name, "name_en": _text(v.get("name_en")),
                "kind": kind, "geometry": f.geometry}  # fmt: skip
        parsed.append((f.number, code, data, parent))
    file_codes = {code for _, code, _, _ in parsed}
    for number, _code, _data, parent in parsed:
        if parent is not None and parent not in file_codes | set(existing) and parent not in names:
            known = sorted(file_codes | set(existing) | set(names))
            problems.append(FieldProblem(("row", number, "parent"), unknown_unit(parent, known)))
    _refuse(problems, "units")
    summary = ImportSummary()
    # Parents before children: districts first, then the rest in file order.
    parsed.sort(key=lambda item: item[2]["kind"] is not UnitKind.district)
    for number, code, data, parent in parsed:
        parent_code = names.get(parent, parent) if parent is not None else None
        parent_id = existing[parent_code].id if parent_code in existing else None
        if parent is not None and parent_id is None:
            raise ValidationFailed(f"unit {parent!r} must come before {code!r}",
                                   loc=("row", number, "parent"))  # fmt: skip
        try:
            if code in existing:
                org_service.update_unit(
                    session=session, unit_id=existing[code].id,
                    unit_in=UnitUpdate(**data, parent_id=parent_id), actor=actor,
                )  # fmt: skip
                summary.updated += 1
            else:
                existing[code] = org_service.create_unit(
                    session=session, unit_in=UnitCreate(**data, parent_id=parent_id), actor=actor
                )
                summary.created += 1
        except ValidationError as exc:
            raise ValidationFailed(
                f"row {number}: invalid unit", problems=_pydantic_problems(number, exc)
            ) from None
    return summary


# --- people ------------------------------------------------------------------------------------


def import_people(*, session: Session, rows: Sequence[TableRow], actor: Actor) -> ImportSummary:
    """Create or update people (matched by name within their unit); an email becomes their
    notification contact."""
    units = _units_by_key(session)
    problems: list[FieldProblem] = []
    checked: list[tuple[int, PersonCreate]] = []
    for row in rows:
        v = row.values
        unit = units.get(_text(v.get("unit")) or "")
        if _blank(v.get("unit")):
            problems.append(FieldProblem(("row", row.number, "unit"), "required"))
        elif unit is None:
            msg = unknown_unit(_text(v.get("unit")), list(units))
            problems.append(FieldProblem(("row", row.number, "unit"), msg))
        if unit is None:
            continue
        try:
            checked.append((row.number, PersonCreate(
                name=_text(v.get("name")) or "", unit_id=unit.id, phone=_text(v.get("phone")),
                email=_text(v.get("email")), post=_text(v.get("post")),
            )))  # fmt: skip
        except ValidationError as exc:
            problems.extend(_pydantic_problems(row.number, exc))
    _refuse(problems, "people")
    summary = ImportSummary()
    people = {(p.name, p.unit_id): p for p in session.scalars(select(Person))}
    for _number, person_in in checked:
        person = people.get((person_in.name, person_in.unit_id))
        if person is None:
            person = org_service.create_person(session=session, person_in=person_in, actor=actor)
            people[(person.name, person.unit_id)] = person
            summary.created += 1
        else:
            changes = person_in.model_dump(exclude={"name", "unit_id"}, exclude_none=True)
            org_service.update_person(session=session, person_id=person.id,
                                      person_in=PersonUpdate(**changes), actor=actor)  # fmt: skip
            summary.updated += 1
        if person_in.email:
            _ensure_contact(session, person.id, Channel.EMAIL, str(person_in.email))
    session.flush()
    return summary


def _ensure_contact(session: Session, person_id: int, channel: Channel, address: str) -> None:
    have = session.scalar(
        select(ContactChannel.id).where(
            ContactChannel.person_id == person_id, ContactChannel.channel == channel,
            ContactChannel.address == address,
        )
    )  # fmt: skip
    if have is None:
        session.add(ContactChannel(person_id=person_id, channel=channel, address=address))


# --- stations ----------------------------------------------------------------------------------


def _check_station_row(
    row: TableRow, units: dict[str, Unit], datum: Datum | str
) -> tuple[StationCreate, dict[str, Any]] | list[FieldProblem]:
    """A station row as a checked ``StationCreate`` and its stream settings, or its problems."""
    v, n = row.values, row.number
    problems: list[FieldProblem] = []
    kind_text = _text(v.get("kind"))
    kind = STATION_KIND_LABELS.get(kind_text or "")
    if kind is None:
        labels = ", ".join(sorted(STATION_KIND_LABELS))
        problems.append(
            FieldProblem(("row", n, "kind"), f"unknown kind {kind_text!r}; use one of {labels}")
        )
    numbers: dict[str, float] = {}
    for key in ("lon", "lat", "elevation_m", "interval_s", "warning_level_m", "guarantee_level_m"):
        if key in ("lon", "lat") or not _blank(v.get(key)):
            try:
                numbers[key] = _float(v.get(key))
            except ValueError as exc:
                problems.append(FieldProblem(("row", n, key), str(exc)))
    unit_id = None
    if not _blank(v.get("unit")):
        unit = units.get(_text(v.get("unit")) or "")
        if unit is None:
            msg = unknown_unit(_text(v.get("unit")), list(units))
            problems.append(FieldProblem(("row", n, "unit"), msg))
        else:
            unit_id = unit.id
    if problems or kind is None:
        return problems
    lon, lat = to_wgs84(numbers.pop("lon"), numbers.pop("lat"), datum)
    try:
        station_in = StationCreate(
            code=_text(v.get("code")) or "", name_zh=_text(v.get("name")) or "",
            name_en=_text(v.get("name_en")), kind=kind, lon=lon, lat=lat,
            elevation_m=numbers.pop("elevation_m", None), unit_id=unit_id,
        )  # fmt: skip
    except ValidationError as exc:
        return _pydantic_problems(n, exc)
    return station_in, numbers


def import_stations(
    *, session: Session, rows: Sequence[TableRow], actor: Actor, datum: Datum | str = Datum.wgs84
) -> ImportSummary:
    """Create or update stations (by code) with the standard datastreams of their kind
    (``<code>-rain`` rainfall in mm every ``interval_s``, ``<code>-depth`` ponding in cm, …)."""
    units = _units_by_key(session)
    problems: list[FieldProblem] = []
    checked: list[tuple[int, StationCreate, dict[str, Any]]] = []
    seen: set[str] = set()
    for row in rows:
        code = _text(row.values.get("code"))
        if code in seen:
            problems.append(FieldProblem(("row", row.number, "code"), f"duplicate code {code!r}"))
        seen.add(code or "")
        result = _check_station_row(row, units, datum)
        if isinstance(result, list):
            problems.extend(result)
        else:
            checked.append((row.number, *result))
    _refuse(problems, "stations")
    monitoring_service.ensure_observed_properties(session=session)
    existing = {s.code: s for s in session.scalars(select(Station))}
    summary = ImportSummary()
    for _n, station_in, extra in checked:
        station = existing.get(station_in.code)
        if station is None:
            station = monitoring_service.create_station(
                session=session, station_in=station_in, actor=actor
            )
            summary.created += 1
        else:
            for key, value in station_in.model_dump(exclude={"code"}).items():
                setattr(station, key, value)
            summary.updated += 1
        _ensure_streams(session, station, extra, actor)
    session.flush()
    return summary


def _ensure_streams(
    session: Session, station: Station, extra: dict[str, Any], actor: Actor
) -> None:
    have = set(session.scalars(select(Datastream.code).where(Datastream.station_id == station.id)))
    for suffix, prop, unit in STATION_STREAMS[station.kind]:
        code = f"{station.code}-{suffix}"
        if code in have:
            continue
        interval = extra.get("interval_s", DEFAULT_RAIN_INTERVAL_S) if prop == "rainfall" else None
        monitoring_service.create_datastream(
            session=session,
            datastream_in=DatastreamCreate(
                code=code, name=f"{station.name_zh} {suffix}", station_code=station.code,
                observed_property=prop, unit=unit,
                interval_s=int(interval) if interval else None,
                warning_level_m=extra.get("warning_level_m") if prop == "river_level" else None,
                guarantee_level_m=extra.get("guarantee_level_m") if prop == "river_level" else None,
            ),
            actor=actor,
        )  # fmt: skip


# --- the district's basemap --------------------------------------------------------------------


def refresh_basemap(*, session: Session, terrain: Path, folder: Path) -> dict[str, Any] | None:
    """(Re)write the district's offline hillshade in ``folder`` from the terrain, the roads
    stored there (``roads.geojson``) and the units' boundaries; None while there is no usable
    terrain. Returns the hillshade's metadata."""
    import json

    from fangxun.setup.basemap import write_hillshade
    from fangxun.setup.terrain import terrain_problem

    if terrain_problem(terrain) is not None:
        return None
    roads: list[dict[str, Any]] = []
    roads_file = folder / "roads.geojson"
    if roads_file.is_file():
        data = json.loads(roads_file.read_text(encoding="utf-8"))
        roads = [f["geometry"] for f in data.get("features", []) if f.get("geometry")]
    boundaries = [u.geometry for u in session.scalars(select(Unit).order_by(Unit.id))
                  if u.geometry]  # fmt: skip
    return write_hillshade(terrain, folder, roads=roads, boundaries=boundaries)


# --- readiness ---------------------------------------------------------------------------------


class Area(enum.StrEnum):
    """What a readiness item is needed for."""

    forecasts = "forecasts"
    warnings = "warnings"
    notifications = "notifications"
    duty = "duty"


@dataclass(frozen=True)
class ReadinessItem:
    """One check: what it is for, whether it passes, and what to do when it does not."""

    areas: tuple[Area, ...]
    ok: bool
    what: str
    fix: str
    #: An advisory item (the district works without it, less well) does not hold readiness up.
    required: bool = True
    #: What the item checks, for the pages to name it in their language (``terrain``, ``gauge``…).
    key: str = ""
    #: Particulars beside the name (the terrain's file, or why it cannot serve).
    detail: str = ""


@dataclass
class Readiness:
    """The checklist; ``ready`` when every item passes."""

    items: list[ReadinessItem] = field(default_factory=list)

    @property
    def ready(self) -> bool:
        return all(item.ok for item in self.items if item.required)


def readiness(*, session: Session, settings: Settings, terrain: Path) -> Readiness:
    """Whether the district can forecast, warn, notify and keep duty, and what is missing."""
    from fangxun.setup.terrain import terrain_problem

    out = Readiness()

    def add(
        key: str,
        areas: tuple[Area, ...],
        ok: bool,
        what: str,
        fix: str,
        *,
        required: bool = True,
        detail: str = "",
    ) -> None:
        out.items.append(ReadinessItem(areas, ok, what, fix, required, key, detail))

    def count(stmt: Any) -> int:
        return int(session.scalar(stmt) or 0)

    districts = count(select(func.count()).select_from(Unit).where(Unit.kind == UnitKind.district))
    add(
        "district",
        (Area.warnings, Area.duty, Area.notifications),
        districts == 1,
        "the district unit",
        "fangxun setup units FILE (a boundary file with the district and its offices)",
    )
    bounded = count(
        select(func.count())
        .select_from(Unit)
        .where(Unit.kind == UnitKind.district, Unit.geometry.is_not(None))
    )
    add(
        "boundary",
        (Area.forecasts,),
        bounded >= 1,
        "the district boundary",
        "give the district's feature a polygon in the units file",
    )
    offices = count(
        select(func.count()).select_from(Unit).where(Unit.kind == UnitKind.street_office)
    )
    add(
        "offices",
        (Area.warnings, Area.duty),
        offices >= 1,
        "street offices (办事处)",
        "add the street offices to the units file (parent = the district)",
    )
    problem = terrain_problem(terrain)
    terrain_ok, terrain_what = problem is None, f"the district terrain ({terrain})"
    if problem is not None:
        terrain_what += f": {problem}"
    add("terrain", (Area.forecasts,), terrain_ok, terrain_what, "fangxun setup terrain DEM.tif",
        detail=problem or str(terrain))  # fmt: skip
    gauges = count(
        select(func.count(func.distinct(Station.id)))
        .select_from(Station)
        .join(Datastream, Datastream.station_id == Station.id)
        .join(ObservedProperty, ObservedProperty.id == Datastream.observed_property_id)
        .where(ObservedProperty.code == "rainfall", Station.is_active.is_(True))
    )
    add(
        "gauge",
        (Area.forecasts, Area.warnings),
        gauges >= 1,
        "a rain gauge with a rainfall datastream",
        "fangxun setup stations FILE --mapping M (kind 雨量站)",
    )
    points = count(select(func.count()).select_from(HazardPoint))
    add(
        "points",
        (Area.forecasts, Area.warnings),
        points >= 1,
        "hazard points (积水点)",
        "fangxun hazards import FILE --mapping M --datum gcj02|wgs84",
    )
    people = count(select(func.count()).select_from(Person))
    add(
        "people",
        (Area.duty, Area.notifications),
        people >= 1,
        "people in the units",
        "fangxun setup people FILE --mapping M",
    )
    contacts = count(
        select(func.count()).select_from(ContactChannel).where(ContactChannel.active.is_(True))
    )
    add(
        "contact",
        (Area.notifications,),
        contacts >= 1,
        "a notification contact (email or group robot)",
        "give people an email column, or add a unit's WeCom/DingTalk robot",
    )
    district_dir = terrain.parent
    add(
        "buildings",
        (Area.forecasts,),
        (district_dir / "buildings.geojson").is_file(),
        "building footprints (blocked or rough cells)",
        "fangxun setup buildings FILE",
        required=False,
    )
    catchments_ok = (district_dir / "catchments.geojson").is_file() or bool(
        settings.forecast_catchments_path
    )
    add(
        "catchments",
        (Area.forecasts,),
        catchments_ok,
        "drainage catchments (pipe capacity by area)",
        "fangxun setup catchments FILE (else one capacity everywhere)",
        required=False,
    )
    landuse_ok = (district_dir / "landuse.tif").is_file() or settings.forecast_landuse_path
    add(
        "landuse",
        (Area.forecasts,),
        bool(landuse_ok),
        "land use (Manning's n by class)",
        "fangxun setup landuse FILE",
        required=False,
    )
    from fangxun.forecast.service import stored_storm_formula

    formula_ok = (
        "forecast_storm_formula" in settings.model_fields_set
        or stored_storm_formula(settings) is not None
    )
    add(
        "formula",
        (Area.forecasts,),
        formula_ok,
        "the district's storm intensity formula, with its source",
        "fangxun setup storm-formula --a A --b B --c C --n N --unit mm/min --source DOC "
        "(else the unverified example is used)",
        required=False,
    )
    drainage = _drainage_network_item(session)
    out.items.append(dataclasses.replace(drainage, key="drainage", detail=drainage.what))
    return out


def _drainage_network_item(session: Session) -> ReadinessItem:
    """The drainage network: optional (without one the forecasts use the catchment drainage
    capacity), so it passes when none is held; a held one passes when its terrain check found
    nothing that stops a coupled run, and says what the check found."""
    from fangxun.drainage.service import active_network

    fix = "fangxun drainage import NET.inp --name NAME (a SWMM 5 file in the terrain's CRS)"
    row = active_network(session=session)
    if row is None:
        what = "drainage network: none held, forecasts use the catchment drainage capacity"
        return ReadinessItem((Area.forecasts,), True, what, fix)
    what = (
        f"drainage network {row.name}: {row.node_count} nodes, {row.link_count} links, "
        f"{row.pump_count} pumps, {row.outfall_count} outfalls"
    )
    report = row.check_report
    if report is None:
        return ReadinessItem(
            (Area.forecasts,), False, what + "; not checked against the terrain", fix
        )
    found = [
        f"{len(report[key])} {label}"
        for key, label in (
            ("no_coordinates", "without coordinates"),
            ("off_grid", "off the terrain"),
            ("on_nodata", "on nodata"),
            ("rim_mismatch", "rims off the ground"),
            ("parts_without_outfall", "parts reaching no outfall"),
        )
        if report.get(key)
    ]
    what += "; terrain check: " + (", ".join(found) if found else "nothing found")
    return ReadinessItem((Area.forecasts,), bool(report.get("ok")), what, fix)


__all__ = [
    "PEOPLE_FIELDS", "STATION_FIELDS", "UNIT_FIELDS", "Area", "ImportSummary", "Readiness",
    "ReadinessItem", "UnitFeature", "import_people", "import_stations", "import_units",
    "readiness", "refresh_basemap",
]  # fmt: skip
