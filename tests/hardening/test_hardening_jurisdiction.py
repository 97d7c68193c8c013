"""Jurisdiction isolation, generated from the app's routes: role × unit × endpoint, on SQLite and
PostgreSQL.

Every route of the app (API and web pages, every method) is classified by its path parameters:

* **owned**: the ids name an object that belongs to a unit (:data:`KINDS`: one SQL query per kind
  gives each object's ids and owning unit). Then, on the demo district plus a few objects made for
  the test (warnings, a response activation, photos, attachments, stocktakes, a briefing):

  - a scoped login (``unit`` logins of two street offices and a department, and an ``inspector``
    of a street office, who is scoped to it unless marked ``district_wide``) gets 403 or 404 for
    an object of another unit, with *every* method; a write (POST/PUT/PATCH/DELETE, with a
    schema-valid body built from the OpenAPI schema, CSRF token included for web forms) leaves the
    database as it was (row counts of every table, audit log included);
  - the same login reads its own objects (never 404), so the matrix fails both ways;
  - the roles that are not limited to a jurisdiction (admin, district, duty, a district-wide
    inspector, viewer) read every sampled object (never 404), and the viewer's writes are refused
    and change nothing;
* **briefings** belong to the unit they were gathered for; a district-wide one to the district,
  so no street office or department reads it;
* **district-wide** (:data:`DISTRICT_WIDE`: objects with no unit, such as forecast runs): read by
  every role, writes by the viewer refused;
* **public** (:data:`PUBLIC`): their own token or no login at all, with the reason;
* no path parameter: collections. For a ``unit`` login every listed object with a ``unit_id``
  lies in its jurisdiction, also when the list is filtered by another office's ``unit_id``.

A route whose path parameters match none of these fails the test, so a new route is never silently
left out. Every HTML answer also carries the security headers.
"""

from __future__ import annotations

import copy
import io
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import Engine, text

from fangxun.api.app import create_app
from fangxun.config import Settings
from fangxun.db import session_scope
from fangxun.db.base import Base
from fangxun.demo.org_seed import load_demo
from web_harness import csrf_of

WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
#: Scoped logins of the demo district: ``unit`` logins of two street offices and a department,
#: and the demo's inspector, who works in the 梧桐 street office (scoped to it).
UNIT_LOGINS = ("wutong", "gouzhao", "shuiwu", "inspector")
#: An inspector marked ``district_wide``, made by the test (see :func:`_populate`).
WIDE_INSPECTOR = "inspectorall"
#: Logins whose role is not limited to a jurisdiction.
OPEN_LOGINS = ("admin", "district", "duty", WIDE_INSPECTOR, "viewer")
#: Objects of other units tried per (route, login): from different units where there are some.
OTHER_SAMPLES = 2

#: Objects that belong to a unit. Key: the (segment before the id, id name) pairs of a path;
#: value: a query giving ``owner`` (the unit) and one column per path parameter.
KINDS: dict[tuple[tuple[str, str], ...], str] = {
    (("units", "unit_id"),): "SELECT id AS owner, id AS unit_id FROM org_unit",
    (("people", "person_id"),): "SELECT unit_id AS owner, id AS person_id FROM org_person",
    (("users", "user_id"),): "SELECT unit_id AS owner, id AS user_id FROM org_user",
    (("hazard-points", "point_id"),): "SELECT unit_id AS owner, id AS point_id FROM hazard_point",
    (("items", "point_id"),): "SELECT unit_id AS owner, id AS point_id FROM hazard_point",
    (("points", "point_id"),): "SELECT unit_id AS owner, id AS point_id FROM hazard_point",
    (("hazard-attachments", "attachment_id"),): (
        "SELECT p.unit_id AS owner, a.id AS attachment_id FROM hazard_attachment a"
        " JOIN hazard_point p ON p.id = a.point_id"
    ),
    (("attachments", "attachment_id"),): (
        "SELECT p.unit_id AS owner, a.id AS attachment_id FROM hazard_attachment a"
        " JOIN hazard_point p ON p.id = a.point_id"
    ),
    (("point-plans", "plan_id"),): (
        "SELECT p.unit_id AS owner, x.id AS plan_id FROM hazard_point_plan x"
        " JOIN hazard_point p ON p.id = x.point_id"
    ),
    (("inspection-plans", "plan_id"),): (
        "SELECT unit_id AS owner, id AS plan_id FROM hazard_inspection_plan"
    ),
    (("inspections", "record_id"),): (
        "SELECT p.unit_id AS owner, x.id AS record_id FROM hazard_inspection_record x"
        " JOIN hazard_point p ON p.id = x.point_id"
    ),
    (("rectifications", "rect_id"),): (
        "SELECT p.unit_id AS owner, x.id AS rect_id FROM hazard_rectification x"
        " JOIN hazard_point p ON p.id = x.point_id"
    ),
    (("stations", "code"),): "SELECT unit_id AS owner, code FROM mon_station",
    (("datastreams", "code"),): (
        "SELECT s.unit_id AS owner, d.code FROM mon_datastream d"
        " JOIN mon_station s ON s.id = d.station_id"
    ),
    (("series", "code"),): (
        "SELECT s.unit_id AS owner, d.code FROM mon_datastream d"
        " JOIN mon_station s ON s.id = d.station_id"
    ),
    (("shifts", "shift_id"),): "SELECT unit_id AS owner, id AS shift_id FROM duty_shift",
    (("assignments", "assignment_id"),): (
        "SELECT s.unit_id AS owner, a.id AS assignment_id FROM duty_assignment a"
        " JOIN duty_shift s ON s.id = a.shift_id"
    ),
    (
        ("rotations", "rotation_id"),
    ): "SELECT unit_id AS owner, id AS rotation_id FROM duty_rotation",
    (("swaps", "swap_id"),): (
        "SELECT s.unit_id AS owner, w.id AS swap_id FROM duty_swap w"
        " JOIN duty_assignment a ON a.id = w.assignment_id JOIN duty_shift s ON s.id = a.shift_id"
    ),
    (("incidents", "incident_id"),): "SELECT unit_id AS owner, id AS incident_id FROM incident",
    (("incidents", "incident_id"), ("photos", "photo_id")): (
        "SELECT i.unit_id AS owner, i.id AS incident_id, p.id AS photo_id FROM incident_photo p"
        " JOIN incident i ON i.id = p.incident_id"
    ),
    (("warehouses", "warehouse_id"),): (
        "SELECT unit_id AS owner, id AS warehouse_id FROM supplies_warehouse"
    ),
    (("stocktakes", "stocktake_id"),): (
        "SELECT w.unit_id AS owner, s.id AS stocktake_id FROM supplies_stocktake s"
        " JOIN supplies_warehouse w ON w.id = s.warehouse_id"
    ),
    (("teams", "team_id"),): "SELECT unit_id AS owner, id AS team_id FROM supplies_team",
    (("findings", "finding_id"),): (
        "SELECT d.unit_id AS owner, f.id AS finding_id FROM supplies_drill_finding f"
        " JOIN supplies_drill d ON d.id = f.drill_id"
    ),
    (("proposals", "change_id"),): (
        "SELECT unit_id AS owner, id AS change_id FROM response_level_change"
    ),
    (("plans", "plan_id"),): "SELECT unit_id AS owner, id AS plan_id FROM response_plan",
    (("tasks", "task_id"),): "SELECT unit_id AS owner, id AS task_id FROM response_task",
    (("notifications", "notification_id"),): (
        "SELECT unit_id AS owner, id AS notification_id FROM notify_notification"
    ),
    (("contacts", "contact_id"),): (
        "SELECT unit_id AS owner, id AS contact_id FROM notify_contact"
    ),
    (("warnings", "warning_id"),): "SELECT unit_id AS owner, id AS warning_id FROM warning",
    # Field work (issue 22): patrol plans and patrols belong to their unit.
    (("patrol-plans", "patrol_plan_id"),): (
        "SELECT unit_id AS owner, id AS patrol_plan_id FROM field_patrol_plan"
    ),
    (("patrols", "patrol_id"),): "SELECT unit_id AS owner, id AS patrol_id FROM field_patrol",
    (("patrols", "patrol_id"), ("findings", "finding_id")): (
        "SELECT p.unit_id AS owner, p.id AS patrol_id, f.id AS finding_id"
        " FROM field_patrol_finding f JOIN field_patrol p ON p.id = f.patrol_id"
        " WHERE f.photo_name IS NOT NULL"
    ),
    # An import job is its starter's alone (stricter than the unit: tests/hazards/
    # test_hazard_import_jobs.py); here it belongs to the starter's unit.
    (("import-jobs", "job_id"),): (
        "SELECT u.unit_id AS owner, j.id AS job_id FROM hazard_import_job j"
        " JOIN org_user u ON u.id = j.user_id"
    ),
}
#: The district unit: the owner of a district-wide briefing (no street office reads it).
_DISTRICT = "(SELECT MIN(id) FROM org_unit WHERE parent_id IS NULL)"
#: Briefings and their tasks belong to the unit they were gathered for (None: the district).
BRIEFINGS: dict[tuple[tuple[str, str], ...], str] = {
    (("briefings", "briefing_id"),): (
        f"SELECT COALESCE(unit_id, {_DISTRICT}) AS owner, id AS briefing_id FROM briefing"
    ),
    (("tasks", "task_id"),): (
        f"SELECT COALESCE(b.unit_id, {_DISTRICT}) AS owner, t.id AS task_id"
        " FROM briefing_task t JOIN briefing b ON b.id = t.briefing_id"
    ),
}
#: Objects that belong to no unit: the whole district's, read by every role.
DISTRICT_WIDE: dict[tuple[tuple[str, str], ...], str] = {
    (("runs", "run_id"),): "SELECT NULL AS owner, id AS run_id FROM forecast_run",
    (("runs", "run_id"), ("files", "name")): (
        "SELECT NULL AS owner, id AS run_id, 'depth_max.tif' AS name FROM forecast_run"
    ),
    (("runs", "run_id"), ("*", "name")): (
        "SELECT NULL AS owner, id AS run_id, 'depth_max.tif' AS name FROM forecast_run"
    ),
    (("events", "event_id"),): "SELECT NULL AS owner, id AS event_id FROM report_storm_event",
    (("proposals", "proposal_id"),): (
        "SELECT NULL AS owner, id AS proposal_id FROM warning_proposal"
    ),
    (("events", "event_id"), ("*", "chart")): (
        "SELECT NULL AS owner, id AS event_id, 'rain' AS chart FROM report_storm_event"
    ),
}
#: Paths where the same pair means something else than in :data:`KINDS` (path prefix → table).
OVERRIDES: dict[str, dict[tuple[tuple[str, str], ...], str]] = {
    "/api/v1/briefings/tasks/": BRIEFINGS,
    "/api/v1/forecast/": DISTRICT_WIDE,
    "/forecast/": DISTRICT_WIDE,
    "/api/v1/reports/": DISTRICT_WIDE,
    "/reports/": DISTRICT_WIDE,
    "/api/v1/briefings/": BRIEFINGS,
    "/briefings/": BRIEFINGS,
}
#: Path parameters that are not object ids: the route is public or proves itself, by design.
PUBLIC: dict[tuple[tuple[str, str], ...], str] = {
    (("cap", "identifier"),): "CAP 1.2 messages are published to the public feed",
    (("ack", "token"),): "a signed acknowledgement link sent to one contact is its own proof",
    (("tiles", "z"), ("*", "x"), ("*", "y")): (
        "tiles of the district's own MBTiles basemap: imagery, no unit's object (login required)"
    ),
}


@dataclass
class Matrix:
    """What the matrix did and what it found."""

    cells: int = 0
    seconds: dict[str, float] = field(default_factory=dict)
    routes: set[str] = field(default_factory=set)
    html_pages: int = 0
    violations: list[str] = field(default_factory=list)
    unclassified: list[str] = field(default_factory=list)

    def fail(self, message: str) -> None:
        self.violations.append(message)


# --- routes and bodies -------------------------------------------------------------------------


def _pairs(path: str) -> tuple[tuple[str, str], ...]:
    """The (segment before it, name) of each path parameter; a parameter right after another
    ("{event_id}/{chart}.png") has "*" as its segment."""
    out: list[tuple[str, str]] = []
    segments = path.strip("/").split("/")
    for i, segment in enumerate(segments):
        for name in re.findall(r"\{(\w+)\}", segment):
            before = segments[i - 1] if i else ""
            out.append(("*" if before.startswith("{") else before, name))
    return tuple(out)


def _classify(path: str) -> tuple[str, str | None]:
    """("owned" | "district" | "public" | "collection" | "unclassified", SQL or reason)."""
    pairs = _pairs(path)
    if not pairs:
        return "collection", None
    for prefix, table in OVERRIDES.items():
        if path.startswith(prefix) and pairs in table:
            return "district", table[pairs]
    if pairs in PUBLIC:
        return "public", PUBLIC[pairs]
    if pairs in KINDS:
        return "owned", KINDS[pairs]
    if pairs in DISTRICT_WIDE:
        return "district", DISTRICT_WIDE[pairs]
    return "unclassified", None


@dataclass(frozen=True)
class Op:
    """One method of one route."""

    method: str
    path: str
    web: bool
    body: Any
    media_type: str | None
    query: dict[str, Any]
    query_names: frozenset[str]


def _operations(app: FastAPI) -> list[Op]:
    """Every (method, route) of the app, with the request body's schema (the web forms' too)."""
    routes: list[APIRoute] = []
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if isinstance(route, APIRoute):
            # A copy with the context's full path, listed in a schema of our own: the web forms'
            # bodies are described the same way as the API's. The app's routes stay untouched.
            clone = copy.copy(route)
            clone.path = context.path or route.path
            clone.path_format = context.path_format or route.path_format
            clone.include_in_schema = True
            routes.append(clone)
    schema = get_openapi(title="matrix", version="0", routes=routes)
    components = schema.get("components", {}).get("schemas", {})
    api_paths = set(app.openapi()["paths"])
    ops: list[Op] = []
    for path, methods in schema["paths"].items():
        for method, spec in methods.items():
            body, media_type = None, None
            content = spec.get("requestBody", {}).get("content", {})
            if content:
                media_type, media = next(iter(content.items()))
                body = _minimal(media.get("schema", {}), components)
            query = {
                p["name"]: _minimal(_resolve(p.get("schema", {}), components), components)
                for p in spec.get("parameters", [])
                if p.get("in") == "query" and p.get("required")
            }
            ops.append(
                Op(
                    method.upper(),
                    path,
                    path not in api_paths,
                    body,
                    media_type,
                    {k: v for k, v in query.items() if v is not None},
                    frozenset(
                        p["name"] for p in spec.get("parameters", []) if p.get("in") == "query"
                    ),
                )
            )
    return ops


def _resolve(schema: dict[str, Any], components: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = components[schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _minimal(schema: dict[str, Any], components: dict[str, Any]) -> Any:  # noqa: C901  one case per JSON-schema keyword
    """The smallest value that ``schema`` accepts (required fields only), or None."""
    schema = _resolve(schema, components)
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            options = [s for s in schema[key] if _resolve(s, components).get("type") != "null"]
            return _minimal(options[0], components) if options else None
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    if "default" in schema and schema["default"] is not None:
        return schema["default"]
    kind = schema.get("type")
    if kind == "object" and "properties" not in schema and schema.get("minProperties"):
        return {"1": _minimal(schema.get("additionalProperties", {}), components)}
    if kind == "object" or "properties" in schema:
        props = schema.get("properties", {})
        return {
            name: _minimal(props[name], components)
            for name in schema.get("required", [])
            if name in props
        }
    if kind == "array":
        return [_minimal(schema.get("items", {}), components)] * int(schema.get("minItems", 0))
    if kind == "integer":
        return max(int(schema.get("minimum", 1)), int(schema.get("exclusiveMinimum", 0)) + 1)
    if kind == "number":
        low = schema.get("minimum", schema.get("exclusiveMinimum", 0))
        return float(low) + 1.0 if low < 1 else float(low)
    if kind == "boolean":
        return False
    if kind == "string":
        fmt = schema.get("format")
        if fmt == "date-time":
            return "2026-07-20T16:00:00+08:00"
        if fmt == "date":
            return "2026-07-20"
        if fmt == "binary" or "contentMediaType" in schema:
            return ("photo.png", _png(), "image/png")
        return "x" * max(1, int(schema.get("minLength", 1)))
    return None


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), (10, 120, 200)).save(buffer, format="PNG")
    return buffer.getvalue()


# --- the world ---------------------------------------------------------------------------------


def _bearer(client: TestClient, username: str) -> dict[str, str]:
    response = client.post(
        "/api/v1/auth/token", data={"username": username, "password": f"{username}-demo"}
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def _web_client(app: FastAPI, username: str) -> TestClient:
    client = TestClient(app)
    page = client.get("/login")
    response = client.post(
        "/login",
        data={
            "username": username,
            "password": f"{username}-demo",
            "csrf_token": csrf_of(page),
        },
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    return client


def _ok(response: Any) -> Any:
    assert response.status_code < 300, f"{response.request.url}: {response.text[:300]}"
    return response.json()


def _populate(client: TestClient, admin: dict[str, str], engine: Engine) -> None:
    """Objects the demo does not hold: warnings, a response activation with tasks, photos,
    attachments, stocktakes and a briefing with a task, in more than one office."""
    with engine.connect() as conn:
        points = conn.execute(
            text(
                "SELECT MIN(p.id) FROM hazard_point p JOIN org_unit u ON u.id = p.unit_id"
                " WHERE u.code IN ('WUTONG', 'GOUZHAO', 'FENGYANG') GROUP BY u.code"
            )
        ).scalars()
        point_ids = list(points)
        incidents = list(conn.execute(text("SELECT id FROM incident")).scalars())
        warehouses = list(conn.execute(text("SELECT id FROM supplies_warehouse")).scalars())
        person = conn.execute(text("SELECT MIN(id) FROM org_person")).scalar_one()
    png = _png()
    for point_id in point_ids:
        _ok(
            client.post(
                "/api/v1/warnings",
                json={
                    "kind": "ponding",
                    "colour": "yellow",
                    "reason": "matrix",
                    "hazard_point_id": point_id,
                },
                headers=admin,
            )
        )
        _ok(
            client.post(
                f"/api/v1/hazard-points/{point_id}/attachments",
                files={"file": ("a.png", png, "image/png")},
                headers=admin,
            )
        )
    _ok(
        client.post(
            "/api/v1/response/level", json={"level": "IV", "reason": "matrix"}, headers=admin
        )
    )
    for incident_id in incidents:
        _ok(
            client.post(
                f"/api/v1/incidents/{incident_id}/photos",
                files={"file": ("p.png", png, "image/png")},
                headers=admin,
            )
        )
    for warehouse_id in warehouses:
        _ok(client.post(f"/api/v1/supplies/warehouses/{warehouse_id}/stocktakes", headers=admin))
    with engine.connect() as conn:
        wutong = conn.execute(text("SELECT id FROM org_unit WHERE code = 'WUTONG'")).scalar_one()
    # A district-wide briefing (no street office reads it) and one of 梧桐's, each with a task.
    for body in ({}, {"unit_id": wutong}):
        briefing = _ok(client.post("/api/v1/briefings", json=body, headers=admin))
        _ok(
            client.post(
                f"/api/v1/briefings/{briefing['id']}/tasks",
                json={
                    "decision": "matrix",
                    "owner_person_id": person,
                    "deadline": "2099-07-21T16:00:00+08:00",
                },
                headers=admin,
            )
        )
    # Patrols with a photographed finding in two street offices (the demo's is the 水务局's).
    from fangxun.audit.service import SystemActor
    from fangxun.field import service as field_service
    from fangxun.field.schemas import PatrolCreate

    with session_scope(engine) as session:
        for code in ("WUTONG", "GOUZHAO"):
            unit_id = session.execute(
                text("SELECT id FROM org_unit WHERE code = :c"), {"c": code}
            ).scalar_one()
            field_service.record_patrol(
                session=session,
                patrol_in=PatrolCreate.model_validate(
                    {
                        "unit_id": unit_id,
                        "started_at": "2026-07-20T08:00:00+08:00",
                        "ended_at": "2026-07-20T09:00:00+08:00",
                        "track": [{"lon": 113.55, "lat": 34.81}, {"lon": 113.56, "lat": 34.81}],
                        "findings": [{"lon": 113.555, "lat": 34.81, "note": "matrix"}],
                    }
                ),
                actor=SystemActor(username="matrix"),
                data_dir=client.app.state.settings.data_dir,
                photos=[field_service.FindingPhoto(filename="f.png", data=png)],
            )
    # An inspector of every unit's points (the demo's inspector is scoped to 梧桐).
    _ok(
        client.post(
            "/api/v1/users",
            json={
                "username": WIDE_INSPECTOR,
                "password": f"{WIDE_INSPECTOR}-demo",
                "role": "inspector",
                "unit_id": wutong,
                "district_wide": True,
            },
            headers=admin,
        )
    )


def _fingerprint(engine: Engine) -> tuple[int, ...]:
    """Row counts of every table (the audit log included): a write that went through shows."""
    counts = ", ".join(f'(SELECT COUNT(*) FROM "{t}")' for t in sorted(Base.metadata.tables))
    with engine.connect() as conn:
        return tuple(conn.execute(text(f"SELECT {counts}")).one())


def _url(path: str, values: dict[str, Any]) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: str(values[m.group(1)]), path)


@dataclass
class Login:
    """A demo login with its bearer token, its web client and the units it may see."""

    username: str
    bearer: dict[str, str]
    web: TestClient
    visible: set[int] | None
    csrf: str = ""


def _send(op: Op, login: Login, api: TestClient, url: str, body_override: Any = None) -> Any:
    """Send ``op`` as ``login`` with a minimal valid body (web forms: with the CSRF token)."""
    client = login.web if op.web else api
    headers = {} if op.web else dict(login.bearer)
    body = copy.deepcopy(op.body) if body_override is None else body_override
    if isinstance(body, dict) or (op.web and body is None):
        body = {**(body or {}), **BODY_HINTS.get((op.method, op.path), {})}
    kwargs: dict[str, Any] = {"params": op.query, "headers": headers, "follow_redirects": False}
    if op.media_type == "application/json":
        kwargs["json"] = body
    elif op.media_type in ("multipart/form-data", "application/x-www-form-urlencoded"):
        body = dict(body or {})
        files = {k: v for k, v in body.items() if isinstance(v, tuple)}
        data = {k: v for k, v in body.items() if not isinstance(v, tuple)}
        if op.web:
            data["csrf_token"] = _csrf(login)
        kwargs["data"] = data
        if files:
            kwargs["files"] = files
    elif op.web and op.method in WRITE_METHODS:
        kwargs["data"] = {"csrf_token": _csrf(login)}
    return client.request(op.method, url, **kwargs)


#: The title of the page that refuses a form without its CSRF token (Chinese and English).
CSRF_TITLES = ("表单安全校验失败", "Form security check failed")


def _csrf_refused(response: Any) -> bool:
    return response.status_code == 403 and any(t in response.text for t in CSRF_TITLES)


def _csrf(login: Login) -> str:
    if not login.csrf:
        login.csrf = csrf_of(login.web.get("/incidents"))
    return login.csrf


# --- the matrix --------------------------------------------------------------------------------


def _items(body: Any) -> list[dict[str, Any]]:
    if isinstance(body, dict):
        for key in ("items", "features", "results", "data"):
            if isinstance(body.get(key), list):
                return [i for i in body[key] if isinstance(i, dict)]
        return []
    return [i for i in body if isinstance(i, dict)] if isinstance(body, list) else []


def _unit_of(item: dict[str, Any]) -> int | None:
    if isinstance(item.get("unit_id"), int):
        return int(item["unit_id"])
    props = item.get("properties")
    if isinstance(props, dict) and isinstance(props.get("unit_id"), int):
        return int(props["unit_id"])
    return None


def _check_headers(response: Any, matrix: Matrix, label: str) -> None:
    if not response.headers.get("content-type", "").startswith("text/html"):
        return
    matrix.html_pages += 1
    csp = response.headers.get("content-security-policy", "")
    script = csp.split("script-src")[1].split(";")[0] if "script-src" in csp else ""
    if (
        not script
        or "unsafe-inline" in script
        or "frame-ancestors 'none'" not in csp
        or response.headers.get("x-content-type-options") != "nosniff"
        or response.headers.get("x-frame-options") != "DENY"
    ):
        matrix.fail(f"{label}: HTML answer without the security headers")


def _run_matrix(app: FastAPI, engine: Engine) -> Matrix:  # noqa: C901  one branch per route shape
    matrix = Matrix()
    with TestClient(app) as api:
        admin = _bearer(api, "admin")
        _populate(api, admin, engine)
        with engine.connect() as conn:
            parent = dict(conn.execute(text("SELECT id, parent_id FROM org_unit")).all())
            users = {
                name: (role, unit, bool(wide))
                for name, role, unit, wide in conn.execute(
                    text("SELECT username, role, unit_id, district_wide FROM org_user")
                )
            }

        def below(unit: int) -> set[int]:
            out, frontier = {unit}, [unit]
            while frontier:
                frontier = [u for u, p in parent.items() if p in frontier and u not in out]
                out.update(frontier)
            return out

        logins: list[Login] = []
        for username in (*UNIT_LOGINS, *OPEN_LOGINS):
            role, unit, wide = users[username]
            scoped = role == "unit" or (role == "inspector" and not wide)
            visible = below(unit) if scoped else None
            assert scoped == (username in UNIT_LOGINS), (username, role, wide)
            logins.append(
                Login(username, _bearer(api, username), _web_client(app, username), visible)
            )

        ops = _operations(app)
        objects: dict[str, list[dict[str, Any]]] = {}
        with engine.connect() as conn:
            for sql in {*KINDS.values(), *DISTRICT_WIDE.values(), *BRIEFINGS.values()}:
                objects[sql] = [dict(r) for r in conn.execute(text(sql)).mappings()]

        for op in ops:
            label = f"{op.method} {op.path}"
            kind, sql = _classify(op.path)
            if kind == "unclassified":
                matrix.unclassified.append(label)
                continue
            if kind == "public":
                continue
            matrix.routes.add(label)
            t0 = time.perf_counter()
            if kind == "collection":
                if op.method == "GET" and op.path not in STREAMS:
                    _collection_cells(op, logins, api, matrix, parent)
                elif op.method in WRITE_METHODS and op.path not in VIEWER_MAY:
                    _collection_write_cells(op, logins, api, engine, matrix, parent)
                continue
            assert sql is not None
            rows = objects[sql]
            for login in logins:
                for values, owner, own in _samples(rows, login):
                    url = _url(op.path, values)
                    is_write = op.method in WRITE_METHODS
                    viewer = login.username == "viewer"
                    if "pdf" in op.path and login.visible is None and login.username != "admin":
                        continue  # rendering a PDF takes a second: one open role is enough
                    if is_write and (
                        (login.visible is None and not viewer) or (own and not viewer)
                    ):
                        continue  # a write that may succeed would change the world of later cells
                    before = _fingerprint(engine) if is_write else None
                    response = _send(op, login, api, url)
                    matrix.cells += 1
                    status = response.status_code
                    who = f"{login.username}: {op.method} {url} (unit {owner})"
                    if status >= 500:
                        matrix.fail(f"{who} -> {status}")
                    _check_headers(response, matrix, who)
                    if is_write and op.web and _csrf_refused(response):
                        matrix.fail(f"{who}: refused by the CSRF check, the cell proves nothing")
                    if is_write:
                        if status not in (403, 404):
                            matrix.fail(f"{who} -> {status}, not refused: {response.text[:200]}")
                        if _fingerprint(engine) != before:
                            matrix.fail(f"{who} changed the database")
                    elif own and status == 404:
                        matrix.fail(f"{who} -> 404 for an object it may see")
                    elif not own and status not in (403, 404):
                        matrix.fail(f"{who} -> {status} for another unit's object")
            matrix.seconds[label] = time.perf_counter() - t0
    for login in logins:
        login.web.close()
    return matrix


def _samples(
    rows: list[dict[str, Any]], login: Login
) -> Iterator[tuple[dict[str, Any], int | None, bool]]:
    """(path values, owner, own?) to try: for an open role one object (a unit's where there is
    one); for a unit login one of its own and up to :data:`OTHER_SAMPLES` of other units."""
    if login.visible is None:
        owned = [r for r in rows if r["owner"] is not None] or rows
        for row in owned[:1]:
            yield row, row["owner"], True
        return
    mine = [r for r in rows if r["owner"] in login.visible]
    for row in mine[:1]:
        yield row, row["owner"], True
    seen: set[int] = set()
    for row in rows:
        owner = row["owner"]
        if owner is None or owner in login.visible or owner in seen:
            continue
        seen.add(owner)
        yield row, owner, False
        if len(seen) >= OTHER_SAMPLES:
            break


def _other_unit(login: Login, parent: dict[int, int | None]) -> int:
    """A unit outside ``login``'s jurisdiction (a street office or department, not the district)."""
    assert login.visible is not None
    return min(u for u, p in parent.items() if p is not None and u not in login.visible)


def _collection_cells(
    op: Op, logins: list[Login], api: TestClient, matrix: Matrix, parent: dict[int, int | None]
) -> None:
    """A unit login's lists hold only its jurisdiction's objects, also when filtered by another
    unit; no list answers 5xx to anyone."""
    district = next(u for u, p in parent.items() if p is None)
    for login in logins:
        if login.visible is None and login.username != "viewer":
            continue
        queries = [dict(op.query)]
        if login.visible is not None and "unit_id" in op.query_names:
            queries.append({**op.query, "unit_id": _other_unit(login, parent)})
        for query in queries:
            client = login.web if op.web else api
            headers = {} if op.web else login.bearer
            response = client.get(op.path, params=query, headers=headers, follow_redirects=False)
            matrix.cells += 1
            who = f"{login.username}: GET {op.path} {query}"
            if response.status_code >= 500:
                matrix.fail(f"{who} -> {response.status_code}")
            _check_headers(response, matrix, who)
            if login.visible is None or "json" not in response.headers.get("content-type", ""):
                continue
            for item in _items(response.json()):
                unit = _unit_of(item)
                if unit == district and op.path in DISTRICT_ROWS:
                    continue
                if unit is not None and unit not in login.visible:
                    matrix.fail(f"{who} lists an object of unit {unit}: {str(item)[:120]}")


def _collection_write_cells(
    op: Op,
    logins: list[Login],
    api: TestClient,
    engine: Engine,
    matrix: Matrix,
    parent: dict[int, int | None],
) -> None:
    """The viewer (read only) is refused on every write; a unit login cannot create an object in
    another unit. Neither changes anything."""
    for login in logins:
        body = None
        if login.visible is not None:
            if not (isinstance(op.body, dict) and "unit_id" in op.body):
                continue
            body = {**op.body, "unit_id": _other_unit(login, parent)}
        elif login.username != "viewer":
            continue
        before = _fingerprint(engine)
        response = _send(op, login, api, op.path, body)
        matrix.cells += 1
        who = f"{login.username}: {op.method} {op.path} {body or ''}"
        if op.web and _csrf_refused(response):
            matrix.fail(f"{who}: refused by the CSRF check, the cell proves nothing")
        # 422 counts as refused here: the body's other ids (persons, points) may be refused first.
        if response.status_code not in (401, 403, 404, 422):
            matrix.fail(f"{who} -> {response.status_code}, not refused: {response.text[:200]}")
        if _fingerprint(engine) != before:
            matrix.fail(f"{who} changed the database")


#: Fields the schema alone cannot make valid (cross-field rules, enums of web forms): without them
#: the handler refuses the body before it looks up the object, and the cell would prove nothing.
BODY_HINTS: dict[tuple[str, str], dict[str, Any]] = {
    ("POST", "/api/v1/hazard-points/{point_id}/plans"): {
        "title": "matrix",
        "triggers": [{"colour": "yellow"}],
        "measures": [{"action": "matrix"}],
    },
    ("POST", "/response/tasks/{task_id}/status"): {"status": "done"},
    ("POST", "/warnings/{warning_id}/lift"): {"reason": "matrix"},
    ("POST", "/incidents/{incident_id}/transition"): {"to_status": "dispatched"},
    ("POST", "/hazards/points/{point_id}/rectifications"): {
        "finding": "matrix",
        "measure": "matrix",
        "deadline": "2099-07-20",
        "responsible_person_id": "1",
    },
    ("POST", "/hazards/rectifications/{rect_id}/transition"): {
        "action": "start",
        "comment": "matrix",
    },
}
#: Lists that show district-level rows to every login, by design (with the reason).
DISTRICT_ROWS: dict[str, str] = {
    "/api/v1/response/activations": "the district's response level applies to every unit",
    "/api/v1/response/changes": "the district's level changes are announced to every unit",
}

#: Event streams never end: they get no collection cells.
STREAMS = {"/situation/events", "/monitoring/events"}
#: Writes every login may make, the viewer too: its own session, and the public form.
VIEWER_MAY = {
    "/api/v1/auth/token": "logging in",
    "/api/v1/auth/logout": "logging out (ends the viewer's own token)",
    "/login": "logging in",
    "/logout": "logging out",
    "/api/v1/public/incidents": "the public incident form: anyone may report",
    "/report": "the public incident form: anyone may report",
}


@pytest.mark.slow
def test_jurisdiction_matrix_every_route_role_and_unit(settings: Settings, engine: Engine) -> None:
    started = time.perf_counter()
    with session_scope(engine) as session:
        load_demo(session=session, settings=settings, write_terrain=False)
    roomy = settings.model_copy(
        update={"login_max_attempts": 1000, "login_max_attempts_per_ip": 1000}
    )
    matrix = _run_matrix(create_app(roomy, engine=engine), engine)
    took = time.perf_counter() - started
    print(
        f"jurisdiction matrix ({engine.dialect.name}): {len(matrix.routes)} routes, "
        f"{len(UNIT_LOGINS) + len(OPEN_LOGINS)} logins, {matrix.cells} cells, "
        f"{matrix.html_pages} HTML answers, {took:.1f} s"
    )
    slowest = sorted(matrix.seconds.items(), key=lambda kv: -kv[1])[:3]
    print("slowest routes:", ", ".join(f"{route} {s:.1f} s" for route, s in slowest))
    assert not matrix.unclassified, (
        "routes the matrix cannot classify (add them to KINDS, DISTRICT_WIDE or PUBLIC):\n"
        + "\n".join(matrix.unclassified)
    )
    assert len(matrix.routes) > 150 and matrix.cells > 500, (len(matrix.routes), matrix.cells)
    assert not matrix.violations, f"{len(matrix.violations)} violation(s):\n" + "\n".join(
        matrix.violations
    )
