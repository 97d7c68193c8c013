"""Jurisdiction isolation on every hazard endpoint: a ``unit`` user never sees or changes another
unit's objects (404, indistinguishable from missing), never names them in a body (422), and never
finds them in a list, export or feature collection.

The matrix is generated from the router: a new endpoint without an entry here fails the test.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from hazard_helpers import SYSTEM, Ledger
from sqlalchemy import Engine

from fangxun.db import session_scope, utcnow
from fangxun.hazards import service
from fangxun.hazards.models import HazardImportJob
from fangxun.hazards.router import router as hazards_router
from fangxun.hazards.schemas import (
    InspectionPlanCreate,
    InspectionRecordCreate,
    Measure,
    PointPlanCreate,
    RectificationCreate,
    Trigger,
)

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
API = "/api/v1"


@dataclass
class Objects:
    """One object of each kind per office."""

    point: int
    plan: int
    inspection_plan: int
    inspection: int
    rectification: int
    attachment: int
    #: An import job of the office's user (jobs belong to the user who started them).
    import_job: int = 0


def _objects(
    engine: Engine, ledger: Ledger, tmp_data: Any, *, point: int, person: int, user: str
) -> Objects:
    with session_scope(engine) as session:
        job = HazardImportJob(
            filename="p.geojson",
            size_bytes=1,
            status="done",
            progress=1.0,
            problem_count=0,
            user_id=ledger.users[user].id,
            created_by=ledger.users[user].username,
        )
        session.add(job)
        session.flush()
        plan = service.create_plan(
            session=session,
            point_id=point,
            plan_in=PointPlanCreate(
                title="一点一策",
                triggers=[Trigger(colour="yellow")],
                measures=[Measure(action="封闭下穿通道", responsible_person_id=person)],
            ),
            actor=SYSTEM,
        )
        unit_id = service.get_point(session=session, point_id=point, actor=SYSTEM).unit_id
        iplan = service.create_inspection_plan(
            session=session,
            plan_in=InspectionPlanCreate(
                name="汛前排查",
                unit_id=unit_id,
                point_ids=[point],
                interval_s=7 * 86400,
                starts_at=utcnow() - timedelta(days=30),
            ),
            actor=SYSTEM,
        )
        record = service.create_inspection(
            session=session,
            record_in=InspectionRecordCreate(point_id=point, inspected_at=utcnow()),
            actor=SYSTEM,
        )
        rect = service.create_rectification(
            session=session,
            rect_in=RectificationCreate(
                point_id=point,
                finding="f",
                measure="m",
                deadline=utcnow() - timedelta(days=1),
                responsible_person_id=person,
            ),
            actor=SYSTEM,
        )
        att = service.add_attachment(
            session=session,
            data_dir=tmp_data,
            point_id=point,
            filename="a.png",
            content=PNG,
            actor=SYSTEM,
        )
        return Objects(point, plan.id, iplan.id, record.id, rect.id, att.id, job.id)


Call = Callable[[TestClient, dict[str, str]], Any]


def _object_calls(o: Objects) -> dict[tuple[str, str], Call]:
    """One call per object-level route, on the objects ``o``."""
    files = {"file": ("a.png", io.BytesIO(PNG), "image/png")}
    return {
        ("GET", "/hazard-points/{point_id}"): lambda c, h: c.get(
            f"{API}/hazard-points/{o.point}", headers=h
        ),
        ("GET", "/hazard-points/import-jobs/{job_id}"): lambda c, h: c.get(
            f"{API}/hazard-points/import-jobs/{o.import_job}", headers=h
        ),
        ("PATCH", "/hazard-points/{point_id}"): lambda c, h: c.patch(
            f"{API}/hazard-points/{o.point}", json={"name": "x"}, headers=h
        ),
        ("DELETE", "/hazard-points/{point_id}"): lambda c, h: c.delete(
            f"{API}/hazard-points/{o.point}", headers=h
        ),
        ("GET", "/hazard-points/{point_id}/attachments"): lambda c, h: c.get(
            f"{API}/hazard-points/{o.point}/attachments", headers=h
        ),
        ("POST", "/hazard-points/{point_id}/attachments"): lambda c, h: c.post(
            f"{API}/hazard-points/{o.point}/attachments", files=files, headers=h
        ),
        ("GET", "/hazard-attachments/{attachment_id}"): lambda c, h: c.get(
            f"{API}/hazard-attachments/{o.attachment}", headers=h
        ),
        ("GET", "/hazard-points/{point_id}/plans"): lambda c, h: c.get(
            f"{API}/hazard-points/{o.point}/plans", headers=h
        ),
        ("POST", "/hazard-points/{point_id}/plans"): lambda c, h: c.post(
            f"{API}/hazard-points/{o.point}/plans",
            json={"title": "t", "triggers": [{"colour": "red"}], "measures": [{"action": "a"}]},
            headers=h,
        ),
        ("GET", "/point-plans/{plan_id}"): lambda c, h: c.get(
            f"{API}/point-plans/{o.plan}", headers=h
        ),
        ("POST", "/point-plans/{plan_id}/approve"): lambda c, h: c.post(
            f"{API}/point-plans/{o.plan}/approve", headers=h
        ),
        ("GET", "/inspection-plans/{plan_id}"): lambda c, h: c.get(
            f"{API}/inspection-plans/{o.inspection_plan}", headers=h
        ),
        ("PATCH", "/inspection-plans/{plan_id}"): lambda c, h: c.patch(
            f"{API}/inspection-plans/{o.inspection_plan}", json={"name": "x"}, headers=h
        ),
        ("DELETE", "/inspection-plans/{plan_id}"): lambda c, h: c.delete(
            f"{API}/inspection-plans/{o.inspection_plan}", headers=h
        ),
        ("GET", "/inspections/{record_id}"): lambda c, h: c.get(
            f"{API}/inspections/{o.inspection}", headers=h
        ),
        ("GET", "/rectifications/{rect_id}"): lambda c, h: c.get(
            f"{API}/rectifications/{o.rectification}", headers=h
        ),
        ("POST", "/rectifications/{rect_id}/transitions"): lambda c, h: c.post(
            f"{API}/rectifications/{o.rectification}/transitions",
            json={"action": "start", "comment": "c"},
            headers=h,
        ),
        ("GET", "/collections/hazard-points/items/{point_id}"): lambda c, h: c.get(
            f"{API}/collections/hazard-points/items/{o.point}", headers=h
        ),
    }


def _body_calls(ledger: Ledger, o: Objects) -> dict[tuple[str, str], tuple[Call, str]]:
    """Creating routes that name another unit's object in the body: 422 on that field."""
    due = (utcnow() + timedelta(days=1)).isoformat()
    now = utcnow().isoformat()
    xlsx_row = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [113.5, 34.8]},
                "properties": {"code": "NEW-1", "name": "n", "kind": "other", "unit": "GOUZHAO"},
            }
        ],
    }
    return {
        ("POST", "/hazard-points"): (
            lambda c, h: c.post(
                f"{API}/hazard-points",
                json={
                    "code": "NEW-1",
                    "name": "n",
                    "kind": "other",
                    "lon": 113.5,
                    "lat": 34.8,
                    "unit_id": ledger.gouzhao,
                },
                headers=h,
            ),
            "unit_id",
        ),
        ("POST", "/inspection-plans"): (
            lambda c, h: c.post(
                f"{API}/inspection-plans",
                json={
                    "name": "n",
                    "unit_id": ledger.wutong,
                    "point_ids": [o.point],
                    "interval_s": 86400,
                    "starts_at": now,
                },
                headers=h,
            ),
            "point_ids",
        ),
        ("POST", "/inspections"): (
            lambda c, h: c.post(
                f"{API}/inspections", json={"point_id": o.point, "inspected_at": now}, headers=h
            ),
            "point_id",
        ),
        ("POST", "/rectifications"): (
            lambda c, h: c.post(
                f"{API}/rectifications",
                json={
                    "point_id": o.point,
                    "finding": "f",
                    "measure": "m",
                    "deadline": due,
                    "responsible_person_id": ledger.wutong_person,
                },
                headers=h,
            ),
            "point_id",
        ),
        ("POST", "/hazard-points/import"): (
            lambda c, h: c.post(
                f"{API}/hazard-points/import",
                files={
                    "file": (
                        "p.geojson",
                        io.BytesIO(json.dumps(xlsx_row).encode()),
                        "application/geo+json",
                    )
                },
                headers=h,
            ),
            "责任单位",
        ),
    }


#: List-like routes and how to find object ids in their answer.
LIST_CALLS: dict[tuple[str, str], Callable[[TestClient, dict[str, str]], set[str]]] = {
    ("GET", "/hazard-points"): lambda c, h: {
        f"point:{i['id']}" for i in c.get(f"{API}/hazard-points", headers=h).json()["items"]
    },
    ("GET", "/collections/hazard-points/items"): lambda c, h: {
        f"point:{f['id']}"
        for f in c.get(f"{API}/collections/hazard-points/items", headers=h).json()["features"]
    },
    ("GET", "/hazard-points/export"): lambda c, h: {
        f"code:{f['properties']['code']}"
        for f in c.get(
            f"{API}/hazard-points/export", params={"format": "geojson"}, headers=h
        ).json()["features"]
    },
    ("GET", "/inspection-plans"): lambda c, h: {
        f"inspection_plan:{i['id']}"
        for i in c.get(f"{API}/inspection-plans", headers=h).json()["items"]
    },
    ("GET", "/inspections"): lambda c, h: {
        f"inspection:{i['id']}" for i in c.get(f"{API}/inspections", headers=h).json()["items"]
    },
    ("GET", "/inspections/overdue"): lambda c, h: {
        f"point:{i['point_id']}" for i in c.get(f"{API}/inspections/overdue", headers=h).json()
    },
    ("GET", "/rectifications"): lambda c, h: {
        f"rectification:{i['id']}"
        for i in c.get(f"{API}/rectifications", headers=h).json()["items"]
    },
    ("GET", "/hazard-stats"): lambda c, h: {
        f"unit:{r['unit_id']}" for r in c.get(f"{API}/hazard-stats", headers=h).json()["rows"]
    },
    ("GET", "/collections"): lambda c, h: {
        "ok" if c.get(f"{API}/collections", headers=h).status_code == 200 else "bad"
    },
    ("GET", "/collections/hazard-points"): lambda c, h: {
        "ok" if c.get(f"{API}/collections/hazard-points", headers=h).status_code == 200 else "bad"
    },
}


def _ids(o: Objects, ledger: Ledger, unit: int, code: str) -> set[str]:
    return {
        f"point:{o.point}",
        f"code:{code}",
        f"inspection_plan:{o.inspection_plan}",
        f"inspection:{o.inspection}",
        f"rectification:{o.rectification}",
        f"unit:{unit}",
    }


def _routes() -> set[tuple[str, str]]:
    out = set()
    for route in hazards_router.routes:
        assert isinstance(route, APIRoute)
        for method in route.methods:
            out.add((method, route.path))
    return out


@pytest.fixture
def objects(engine: Engine, ledger: Ledger, settings: Any) -> tuple[Objects, Objects]:
    mine = _objects(
        engine,
        ledger,
        settings.data_dir,
        point=ledger.wutong_point,
        person=ledger.wutong_person,
        user="wutong",
    )
    theirs = _objects(
        engine,
        ledger,
        settings.data_dir,
        point=ledger.gouzhao_point,
        person=ledger.gouzhao_person,
        user="gouzhao",
    )
    return mine, theirs


def test_the_matrix_covers_every_hazard_route(ledger: Ledger) -> None:
    dummy = Objects(1, 1, 1, 1, 1, 1)
    covered = set(_object_calls(dummy)) | set(_body_calls(ledger, dummy)) | set(LIST_CALLS)
    covered |= {("POST", "/hazard-points/import-jobs")}  # test_import_job_into_another_office
    assert _routes() - covered == set(), "add the new routes to the jurisdiction matrix"


def test_unit_user_is_isolated_on_every_endpoint(
    client: TestClient, ledger: Ledger, objects: tuple[Objects, Objects]
) -> None:
    mine, theirs = objects
    h = ledger.h(client, "wutong")
    missing = client.get(f"{API}/hazard-points/999999", headers=h).json()
    for key, call in _object_calls(theirs).items():
        response = call(client, h)
        assert response.status_code == 404, (key, response.status_code, response.text)
        assert response.json()["title"] == missing["title"], key
    for key, (call, field) in _body_calls(ledger, theirs).items():
        response = call(client, h)
        assert response.status_code == 422, (key, response.text)
        assert field in [str(part) for part in response.json()["errors"][0]["loc"]], key
    theirs_ids = _ids(theirs, ledger, ledger.gouzhao, "GZ-001")
    mine_ids = _ids(mine, ledger, ledger.wutong, "WT-001")
    for key, listing in LIST_CALLS.items():
        seen = listing(client, h)
        assert not (seen & theirs_ids), (key, seen & theirs_ids)
    # Positive control: the same reads on its own objects work, and its lists show them.
    for key, call in _object_calls(mine).items():
        if key[0] == "GET":
            assert call(client, h).status_code == 200, key
    seen_all: set[str] = set()
    for listing in LIST_CALLS.values():
        seen_all |= listing(client, h)
    assert mine_ids <= seen_all
    # The district sees both offices.
    dh = ledger.h(client, "district")
    assert LIST_CALLS[("GET", "/hazard-points")](client, dh) == {
        f"point:{mine.point}",
        f"point:{theirs.point}",
    }
    # Nothing of the other office was changed by the attempts.
    point = client.get(f"{API}/hazard-points/{theirs.point}", headers=dh).json()
    assert point["name"] == "雅梅苑"
    rect = client.get(f"{API}/rectifications/{theirs.rectification}", headers=dh).json()
    assert rect["status"] == "open"


def test_import_job_into_another_office(client: TestClient, ledger: Ledger) -> None:
    """An import job of a unit user names the other office's rows, and writes nothing."""
    h = ledger.h(client, "wutong")
    fc = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [113.5, 34.8]},
                "properties": {"code": "NEW-1", "name": "n", "kind": "other", "unit": "GOUZHAO"},
            }
        ],
    }
    started = client.post(
        f"{API}/hazard-points/import-jobs",
        files={"file": ("p.geojson", io.BytesIO(json.dumps(fc).encode()), "application/json")},
        headers=h,
    )
    assert started.status_code == 202, started.text
    job = client.get(started.headers["location"], headers=h).json()
    assert job["status"] == "failed"
    assert "责任单位" in job["problems"][0]["loc"]
    dh = ledger.h(client, "district")
    assert (
        client.get(f"{API}/hazard-points", params={"q": "NEW-1"}, headers=dh).json()["items"] == []
    )
