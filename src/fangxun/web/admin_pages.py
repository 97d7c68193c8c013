"""系统管理: the setup walk-through with its readiness checklist, and the administration pages of
units, people, users and roles, stations and datastreams, thresholds and notification channels;
the import column-mapping step (upload, preview, map each column, save the mapping by name, apply).

Thin shells over :mod:`fangxun.setup`, :mod:`fangxun.org.service`, :mod:`fangxun.monitoring.service`
and :mod:`fangxun.notify.service`. Administrators only: for anyone else these pages do not exist
(404, as the hidden navigation entry).
"""

from __future__ import annotations

from typing import Annotated, Any, Final

from fastapi import APIRouter, File, Form, HTTPException, Request, Response, UploadFile
from fastapi.responses import RedirectResponse

from fangxun.api.deps import SessionDep, SettingsDep
from fangxun.config import Settings
from fangxun.datums import Datum
from fangxun.errors import FangxunError
from fangxun.forecast.service import terrain_path
from fangxun.hazards.service import list_points, thresholds_of
from fangxun.monitoring import service as monitoring_service
from fangxun.notify import service as notify_service
from fangxun.notify.models import Channel
from fangxun.notify.schemas import ContactCreate
from fangxun.org import service as org_service
from fangxun.org.models import Role, User
from fangxun.org.schemas import UserCreate
from fangxun.setup import imports
from fangxun.setup import service as setup_service
from fangxun.web.auth import CsrfProtected, WebUser
from fangxun.web.forms import FORM_ERRORS, problem_text, status_of
from fangxun.web.i18n import N_
from fangxun.web.monitoring_pages import KIND_LABELS as STATION_KIND_LABELS
from fangxun.web.notify_pages import CHANNEL_LABELS
from fangxun.web.render import WebRoute, render_page

router = APIRouter(route_class=WebRoute, include_in_schema=False)

#: The imports of the mapping step: kind → (title msgid, page it returns to).
IMPORTS: Final[dict[str, tuple[str, str]]] = {
    "units": (N_("Units and boundaries"), "/admin/units"),
    "people": (N_("People"), "/admin/people"),
    "stations": (N_("Stations"), "/admin/stations"),
    "hazards": (N_("Hazard points"), "/admin/thresholds"),
}
#: The administration pages, in the order the setup walks through them: (path, msgid).
PAGES: Final[tuple[tuple[str, str], ...]] = (
    ("/admin/units", N_("Units and boundaries")),
    ("/admin/district", N_("Model inputs")),
    ("/admin/people", N_("People")),
    ("/admin/users", N_("Users and roles")),
    ("/admin/stations", N_("Stations and datastreams")),
    ("/admin/thresholds", N_("Hazard points and thresholds")),
    ("/admin/channels", N_("Notification channels")),
)
#: The setup steps: (msgid, what it sets up, the CLI command, the page that does it or None).
STEPS: Final[tuple[tuple[str, str, str | None], ...]] = (
    (N_("District and street offices with boundaries"), "fangxun setup units FILE",
     "/admin/import/units"),
    (N_("People and logins"), "fangxun setup people FILE --mapping M", "/admin/import/people"),
    (N_("Terrain (DEM in any CRS)"), "fangxun setup terrain DEM.tif", None),
    (N_("Buildings and land use"), "fangxun setup buildings FILE; fangxun setup landuse FILE",
     "/admin/district"),
    (N_("Roads for the offline basemap"), "fangxun setup roads FILE", "/admin/district"),
    (N_("Catchments and drainage"), "fangxun setup catchments FILE", "/admin/district"),
    (N_("Storm intensity formula and its source"), "fangxun setup storm-formula …",
     "/admin/district"),
    (N_("Stations (rain gauges, ponding, river, pumps)"),
     "fangxun setup stations FILE --mapping M", "/admin/import/stations"),
    (N_("Hazard points (with their datum)"),
     "fangxun hazards import FILE --mapping M --datum gcj02", "/admin/import/hazards"),
)  # fmt: skip
ROLE_LABELS: Final[dict[str, str]] = {
    "admin": N_("Administrator"),
    "district": N_("District flood-control office"),
    "duty": N_("Duty officer"),
    "unit": N_("Street office or department"),
    "inspector": N_("Inspector"),
    "viewer": N_("Viewer"),
}
#: The readiness checks by key (msgids), and what they are needed for.
CHECKS: Final[dict[str, str]] = {
    "district": N_("The district unit"),
    "boundary": N_("The district boundary"),
    "offices": N_("Street offices"),
    "terrain": N_("The district terrain"),
    "gauge": N_("A rain gauge with a rainfall datastream"),
    "points": N_("Hazard points"),
    "people": N_("People in the units"),
    "contact": N_("A notification contact (e-mail or group robot)"),
    "buildings": N_("Building footprints (blocked or rough cells)"),
    "landuse": N_("Land use (Manning's n by class)"),
    "catchments": N_("Drainage catchments (pipe capacity by area)"),
    "formula": N_("The district's storm intensity formula, with its source"),
    "drainage": N_("Drainage network"),
}
AREAS: Final[dict[str, str]] = {
    "forecasts": N_("forecasts"),
    "warnings": N_("warnings"),
    "notifications": N_("notifications"),
    "duty": N_("duty"),
}
UNIT_KIND_LABELS: Final[dict[str, str]] = {
    "district": N_("District"),
    "street_office": N_("Street office"),
    "department": N_("Department"),
}
#: What each field of the imports means (msgids), shown in the mapping step's choices.
FIELD_LABELS: Final[dict[str, str]] = {
    "code": N_("Code"), "name": N_("Name"), "name_en": N_("English name"), "kind": N_("Kind"),
    "parent": N_("Parent unit"), "unit": N_("Unit"), "phone": N_("Phone"),
    "email": N_("E-mail"), "post": N_("Post"), "lon": N_("Longitude"), "lat": N_("Latitude"),
    "elevation_m": N_("Elevation (m)"), "interval_s": N_("Reporting interval (s)"),
    "warning_level_m": N_("Warning level (m)"), "guarantee_level_m": N_("Guarantee level (m)"),
    "responsible": N_("Responsible person"), "deputy": N_("Deputy"),
    "risk_level": N_("Risk level"), "blue": N_("Blue threshold (cm)"),
    "yellow": N_("Yellow threshold (cm)"), "orange": N_("Orange threshold (cm)"),
    "red": N_("Red threshold (cm)"), "status": N_("Status"), "address": N_("Address"),
    "description": N_("Notes"), "polygon": N_("Outline (GeoJSON)"),
}  # fmt: skip
DATUM_LABELS: Final[dict[str, str]] = {
    "wgs84": N_("WGS 84 (GPS)"),
    "cgcs2000": N_("CGCS2000 (as WGS 84)"),
    "gcj02": N_("GCJ-02 (Gaode, Tencent web maps)"),
}


#: What the templates may leave out of their context (Jinja's undefined is strict here).
_DEFAULTS: Final[dict[str, Any]] = {"error": None, "problems": [], "save_as": "",
                                    "mapping_name": "", "form": {}}  # fmt: skip


def _admin(user: User) -> None:
    if user.role is not Role.admin:
        raise HTTPException(404, detail="Not Found")  # a hidden section does not reveal itself


def _page(
    request: Request,
    settings: Settings,
    user: User,
    template: str,
    context: dict[str, Any],
    status_code: int = 200,
) -> Response:
    labels = {"unit_kinds": UNIT_KIND_LABELS, "station_kinds": STATION_KIND_LABELS,
              "channel_labels": {**CHANNEL_LABELS, "sms": N_("SMS")},
              "field_labels": FIELD_LABELS}  # fmt: skip
    return render_page(request, f"admin/{template}", settings=settings, user=user, active="admin",
                       context={**_DEFAULTS, **labels, "pages": PAGES, **context},
                       status_code=status_code)  # fmt: skip


@router.get("/admin")
def admin_home(request: Request, user: WebUser, db: SessionDep, settings: SettingsDep) -> Response:
    """The setup walk-through: its steps and the readiness checklist."""
    _admin(user)
    ready = setup_service.readiness(session=db, settings=settings, terrain=terrain_path(settings))
    context = {"readiness": ready, "steps": STEPS, "checks": CHECKS, "areas": AREAS}
    return _page(request, settings, user, "home.html", context)


@router.get("/admin/units")
def units_page(request: Request, user: WebUser, db: SessionDep, settings: SettingsDep) -> Response:
    """Units: code, name, kind, parent, boundary."""
    _admin(user)
    units, _total = org_service.list_units(session=db, actor=user, limit=1000)
    names = {u.id: u.name_zh for u in units}
    return _page(request, settings, user, "units.html", {"units": units, "names": names})


@router.get("/admin/people")
def people_page(request: Request, user: WebUser, db: SessionDep, settings: SettingsDep) -> Response:
    """People by unit, with their contact channels."""
    _admin(user)
    people, _total = org_service.list_people(session=db, actor=user, limit=1000)
    contacts: dict[int, list[Any]] = {}
    for c in notify_service.list_contacts(session=db, actor=user):
        if c.person_id is not None:
            contacts.setdefault(c.person_id, []).append(c)
    return _page(request, settings, user, "people.html",
                 {"people": people, "contacts": contacts})  # fmt: skip


def _users_page(
    request: Request,
    db: Any,
    settings: Settings,
    user: User,
    *,
    error: str | None = None,
    form: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    users, _total = org_service.list_users(session=db, actor=user, limit=1000)
    units, _n = org_service.list_units(session=db, actor=user, limit=1000)
    people, _m = org_service.list_people(session=db, actor=user, limit=1000)
    return _page(request, settings, user, "users.html", {
        "users": users, "units": units, "people": people, "roles": ROLE_LABELS,
        "error": error, "form": form or {},
    }, status_code)  # fmt: skip


@router.get("/admin/users")
def users_page(request: Request, user: WebUser, db: SessionDep, settings: SettingsDep) -> Response:
    """Logins and their roles, and a form for a new one."""
    _admin(user)
    return _users_page(request, db, settings, user)


@router.post("/admin/users", dependencies=[CsrfProtected])
def create_user(
    request: Request,
    user: WebUser,
    db: SessionDep,
    settings: SettingsDep,
    username: Annotated[str, Form(max_length=200)] = "",
    password: Annotated[str, Form(max_length=1000)] = "",
    role: Annotated[str, Form(max_length=32)] = "",
    unit_id: Annotated[str, Form(max_length=20)] = "",
    person_id: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    """Create a login (the org service checks the role's unit and the password policy)."""
    _admin(user)
    form = {"username": username, "role": role, "unit_id": unit_id, "person_id": person_id}
    try:
        org_service.create_user(
            session=db,
            user_in=UserCreate(
                username=username.strip(), password=password, role=Role(role),
                unit_id=int(unit_id) if unit_id.strip() else None,
                person_id=int(person_id) if person_id.strip() else None,
            ),
            actor=user,
        )  # fmt: skip
        db.flush()
    except FORM_ERRORS as exc:
        db.rollback()
        return _users_page(request, db, settings, user, error=problem_text(exc), form=form,
                           status_code=status_of(exc))  # fmt: skip
    return RedirectResponse("/admin/users", status_code=303)


@router.get("/admin/stations")
def stations_page(
    request: Request, user: WebUser, db: SessionDep, settings: SettingsDep
) -> Response:
    """Stations and their datastreams (property, unit, interval, levels)."""
    _admin(user)
    stations = monitoring_service.list_stations(session=db, actor=user)
    streams: dict[int, list[Any]] = {}
    for ds in monitoring_service.list_datastreams(session=db, actor=user):
        streams.setdefault(ds.station_id, []).append(ds)
    return _page(request, settings, user, "stations.html",
                 {"stations": stations, "streams": streams})  # fmt: skip


@router.get("/admin/thresholds")
def thresholds_page(
    request: Request, user: WebUser, db: SessionDep, settings: SettingsDep
) -> Response:
    """Hazard points and their four colour thresholds (cm), and the warning rules' numbers."""
    _admin(user)
    points, total = list_points(session=db, actor=user, limit=1000)
    rows = [(p, thresholds_of(p)) for p in points]
    return _page(request, settings, user, "thresholds.html",
                 {"rows": rows, "total": total, "rules": settings.warning_rules})  # fmt: skip


def _channels_page(
    request: Request,
    db: Any,
    settings: Settings,
    user: User,
    *,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    contacts = notify_service.list_contacts(session=db, actor=user)
    units, _n = org_service.list_units(session=db, actor=user, limit=1000)
    people, _m = org_service.list_people(session=db, actor=user, limit=1000)
    return _page(request, settings, user, "channels.html", {
        "contacts": contacts, "units": {u.id: u for u in units},
        "people": {p.id: p for p in people}, "channels": [c.value for c in Channel],
        "error": error,
    }, status_code)  # fmt: skip


@router.get("/admin/channels")
def channels_page(
    request: Request, user: WebUser, db: SessionDep, settings: SettingsDep
) -> Response:
    """Contact channels of people and units (e-mail, WeCom/DingTalk robots, webhooks)."""
    _admin(user)
    return _channels_page(request, db, settings, user)


@router.post("/admin/channels", dependencies=[CsrfProtected])
def add_channel(
    request: Request,
    user: WebUser,
    db: SessionDep,
    settings: SettingsDep,
    owner: Annotated[str, Form(max_length=40)] = "",
    channel: Annotated[str, Form(max_length=32)] = "",
    address: Annotated[str, Form(max_length=500)] = "",
    label: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """Add a contact channel to a person (``person:ID``) or a unit (``unit:ID``)."""
    _admin(user)
    try:
        kind, _, number = owner.partition(":")
        if kind not in ("person", "unit") or not number.isdigit():
            raise ValueError("choose a person or a unit")
        contact_in = ContactCreate(
            person_id=int(number) if kind == "person" else None,
            unit_id=int(number) if kind == "unit" else None,
            channel=Channel(channel), address=address.strip(), label=label.strip() or None,
        )  # fmt: skip
        notify_service.add_contact(session=db, contact_in=contact_in, actor=user)
        db.flush()
    except FORM_ERRORS as exc:
        db.rollback()
        return _channels_page(request, db, settings, user, error=problem_text(exc),
                              status_code=status_of(exc))  # fmt: skip
    return RedirectResponse("/admin/channels", status_code=303)


# --- model inputs: buildings, land use, roads, catchments, storm formula ------------------------

#: The district files the page takes: kind → (title msgid, stored name).
DISTRICT_FILES: Final[dict[str, tuple[str, str]]] = {
    "buildings": (N_("Building footprints"), "buildings.geojson"),
    "landuse": (N_("Land use"), "landuse.tif"),
    "roads": (N_("Roads"), "roads.geojson"),
    "catchments": (N_("Drainage catchments"), "catchments.geojson"),
}


def _district_page(
    request: Request,
    settings: Settings,
    user: User,
    *,
    message: str | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    from fangxun.forecast.service import district_dir, stored_storm_formula, storm_formula

    folder = district_dir(settings)
    present = {kind: (folder / name).is_file() for kind, (_t, name) in DISTRICT_FILES.items()}
    return _page(request, settings, user, "district.html", {
        "files": DISTRICT_FILES, "present": present, "message": message, "error": error,
        "formula": storm_formula(settings), "stored": stored_storm_formula(settings),
        "configured": "forecast_storm_formula" in settings.model_fields_set,
        "terrain": terrain_path(settings),
    }, status_code)  # fmt: skip


@router.get("/admin/district")
def district_page(request: Request, user: WebUser, settings: SettingsDep) -> Response:
    """The district's model inputs beside its terrain, and forms to replace them."""
    _admin(user)
    return _district_page(request, settings, user)


@router.post("/admin/district/files", dependencies=[CsrfProtected])
def upload_district_file(
    request: Request,
    user: WebUser,
    db: SessionDep,
    settings: SettingsDep,
    kind: Annotated[str, Form(max_length=32)] = "",
    mode: Annotated[str, Form(max_length=16)] = "blocked",
    class_field: Annotated[str, Form(max_length=64)] = "class",
    file: Annotated[UploadFile | None, File()] = None,
) -> Response:
    """Store a buildings, land-use, roads or catchments file (any vector file and CRS; a
    zipped Shapefile or a GeoTIFF for land use) as ``fangxun setup`` does."""
    import tempfile
    from pathlib import Path

    from fangxun.forecast.service import district_dir, district_terrain_path
    from fangxun.setup import inputs

    _admin(user)
    folder = district_dir(settings)
    try:
        if kind not in DISTRICT_FILES:
            raise ValueError("choose what the file holds")
        if file is None or not file.filename:
            raise ValueError("choose a file")
        name = Path(file.filename).name
        with tempfile.TemporaryDirectory() as tmp:
            source = Path(tmp) / name
            source.write_bytes(file.file.read())
            target = folder / DISTRICT_FILES[kind][1]
            if kind == "buildings":
                inputs.store_buildings(source, target, mode=mode)
            elif kind == "landuse":
                inputs.store_landuse(source, target, terrain=terrain_path(settings),
                                     classes=dict(settings.forecast_landuse_classes),
                                     class_field=class_field)  # fmt: skip
            elif kind == "roads":
                inputs.store_roads(source, target)
            else:
                inputs.store_catchments(source, target)
        if kind == "roads" and district_terrain_path(settings).is_file():
            setup_service.refresh_basemap(session=db, terrain=district_terrain_path(settings),
                                          folder=folder)  # fmt: skip
    except FORM_ERRORS as exc:
        return _district_page(request, settings, user, error=problem_text(exc),
                              status_code=status_of(exc))  # fmt: skip
    return RedirectResponse("/admin/district?stored=" + kind, status_code=303)


@router.post("/admin/district/storm-formula", dependencies=[CsrfProtected])
def record_storm_formula(
    request: Request,
    user: WebUser,
    settings: SettingsDep,
    a: Annotated[str, Form(max_length=32)] = "",
    b: Annotated[str, Form(max_length=32)] = "",
    c: Annotated[str, Form(max_length=32)] = "",
    n: Annotated[str, Form(max_length=32)] = "",
    unit: Annotated[str, Form(max_length=16)] = "mm/min",
    source: Annotated[str, Form(max_length=300)] = "",
) -> Response:
    """Record the storm intensity formula with its unit and source."""
    from fangxun.forecast.service import storm_formula_path
    from fangxun.setup.inputs import store_storm_formula

    _admin(user)
    try:
        store_storm_formula(storm_formula_path(settings), a=float(a), b=float(b), c=float(c),
                            n=float(n), unit=unit, source=source)  # fmt: skip
    except FORM_ERRORS as exc:
        return _district_page(request, settings, user, error=problem_text(exc),
                              status_code=status_of(exc))  # fmt: skip
    return RedirectResponse("/admin/district?stored=formula", status_code=303)


# --- the import column-mapping step ------------------------------------------------------------


def _import_context(kind: str, db: Any) -> dict[str, Any]:
    title, back = IMPORTS[kind]
    return {
        "kind": kind, "title": title, "back": back,
        "fields": imports.IMPORT_FIELDS[kind],
        "saved": imports.list_mappings(session=db, kind=kind),
        "datums": DATUM_LABELS if kind in ("stations", "hazards") else {},
        "suffixes": ", ".join(imports.SUFFIXES[kind]),
    }  # fmt: skip


def _add_import_routes(kind: str) -> None:
    """Upload, preview and apply routes of one import (literal paths: no id in them)."""

    def upload_form(
        request: Request, user: WebUser, db: SessionDep, settings: SettingsDep
    ) -> Response:
        _admin(user)
        return _page(request, settings, user, "import.html", _import_context(kind, db))

    def preview(
        request: Request,
        user: WebUser,
        db: SessionDep,
        settings: SettingsDep,
        file: Annotated[UploadFile | None, File()] = None,
        mapping: Annotated[str, Form(max_length=100)] = "",
        datum: Annotated[str, Form(max_length=16)] = "wgs84",
    ) -> Response:
        _admin(user)
        context = _import_context(kind, db)
        try:
            content = file.file.read() if file is not None else b""
            upload = imports.store_upload(data_dir=settings.data_dir, kind=kind,
                                          filename=file.filename or "" if file else "",
                                          content=content)  # fmt: skip
            saved = (imports.get_mapping(session=db, kind=kind, name=mapping).columns
                     if mapping else None)  # fmt: skip
            shown = imports.preview(kind=kind, upload=upload, saved=saved)
        except FORM_ERRORS as exc:
            return _page(request, settings, user, "import.html",
                         {**context, "error": problem_text(exc)}, status_of(exc))  # fmt: skip
        return _page(request, settings, user, "preview.html", {
            **context, "upload": upload, "preview": shown, "datum": Datum(datum).value,
            "mapping_name": mapping,
        })  # fmt: skip

    async def apply(
        request: Request, user: WebUser, db: SessionDep, settings: SettingsDep
    ) -> Response:
        _admin(user)
        form = await request.form()
        token = str(form.get("token", ""))
        save_as = str(form.get("save_as", "")).strip()
        datum = str(form.get("datum", "wgs84"))
        columns: dict[str, str | None] = {}
        index = 0
        while f"header_{index}" in form:  # one select per source column, in the file's order
            field = str(form.get(f"field_{index}", "")).strip()
            columns[str(form.get(f"header_{index}"))] = field or None
            index += 1
        context = _import_context(kind, db)
        try:
            upload = imports.find_upload(data_dir=settings.data_dir, token=token)
        except FangxunError as exc:
            return _page(request, settings, user, "import.html",
                         {**context, "error": problem_text(exc)}, status_of(exc))  # fmt: skip
        try:
            if save_as:
                imports.save_mapping(session=db, kind=kind, name=save_as, columns=columns,
                                     actor=user)  # fmt: skip
            summary = imports.apply(
                session=db, kind=kind, upload=upload, columns=columns, actor=user,
                datum=datum, thresholds_table=settings.hazard_thresholds_cm,
            )  # fmt: skip
            db.flush()
        except FORM_ERRORS as exc:
            db.rollback()
            problems = getattr(exc, "problems", [])
            shown = imports.preview(kind=kind, upload=upload, saved=columns)
            return _page(request, settings, user, "preview.html", {
                **context, "upload": upload, "preview": shown, "datum": datum,
                "error": problem_text(exc), "problems": problems, "save_as": save_as,
            }, status_of(exc))  # fmt: skip
        imports.discard_upload(upload)
        return _page(request, settings, user, "done.html",
                     {**context, "summary": summary, "saved_as": save_as,
                      "filename": upload.filename})  # fmt: skip

    for func, path, method, deps in (
        (upload_form, f"/admin/import/{kind}", "GET", []),
        (preview, f"/admin/import/{kind}/preview", "POST", [CsrfProtected]),
        (apply, f"/admin/import/{kind}/apply", "POST", [CsrfProtected]),
    ):
        func.__name__ = f"{func.__name__}_{kind}"
        func.__doc__ = f"The {kind} import: {func.__name__.split('_')[0]} step."
        router.add_api_route(path, func, methods=[method], dependencies=deps,
                             response_model=None)  # fmt: skip


for _kind in IMPORTS:
    _add_import_routes(_kind)
