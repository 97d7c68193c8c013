"""The field pages' server side: each form goes through the existing domain service, once per
client key; conflicts are kept and reported, refused forms leave nothing behind."""

from __future__ import annotations

import io
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import func, select

from fangxun.db import make_engine, session_scope
from fangxun.field.models import ClientSubmission, Patrol
from fangxun.hazards.models import HazardPoint, InspectionRecord, Rectification
from fangxun.incidents.models import Incident, IncidentPhoto
from fangxun.org.models import Person, Unit
from fangxun.supplies.models import Drill, Stocktake, Warehouse
from web_harness import csrf_of


def _jpeg() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (32, 24), (200, 60, 40)).save(buf, format="JPEG")
    return buf.getvalue()


def _count(url: str, model: Any, *where: Any) -> int:
    engine = make_engine(url)
    try:
        with session_scope(engine) as session:
            return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)
    finally:
        engine.dispose()


def _one(url: str, stmt: Any) -> Any:
    engine = make_engine(url)
    try:
        with session_scope(engine) as session:
            return session.scalar(stmt)
    finally:
        engine.dispose()


@pytest.fixture
def as_user(web_client: TestClient, login: Any) -> Any:
    """``as_user(name)``: log the client in as a demo login; returns the page's CSRF token."""

    def do(username: str) -> str:
        response = login(web_client, username, f"{username}-demo")
        assert response.status_code == 303, response.text
        return csrf_of(web_client.get("/field"))

    return do


def _post(client: TestClient, csrf: str, url: str, data: dict[str, Any], files: Any = None) -> Any:
    return client.post(
        url, data=data, files=files, headers={"X-CSRF-Token": csrf, "Accept": "application/json"}
    )


def test_an_incident_sent_twice_with_one_key_is_one_incident(
    web_client: TestClient, web_db: str, as_user: Any
) -> None:
    csrf = as_user("inspector")
    unit_id = _one(web_db, select(Unit.id).where(Unit.code == "WUTONG"))
    before = _count(web_db, Incident)
    key = str(uuid.uuid4())
    form = {
        "client_key": key,
        "unit_id": str(unit_id),
        "kind": "ponding",
        "title": "雪松路积水",
        "reported_at": datetime.now(UTC).isoformat(),
        "lon": "113.561",
        "lat": "34.802",
    }
    photo = [("photos", ("p.jpg", _jpeg(), "image/jpeg"))]
    first = _post(web_client, csrf, "/field/incidents", form, photo)
    assert first.status_code == 201, first.text
    assert first.json()["outcome"] == "applied"
    assert first.json()["result_url"].startswith("/incidents/")
    again = _post(web_client, csrf, "/field/incidents", form, photo)
    assert again.status_code == 200
    assert again.json()["duplicate"] is True
    assert again.json()["result_url"] == first.json()["result_url"]
    assert _count(web_db, Incident) == before + 1
    incident_id = int(first.json()["result_url"].rsplit("/", 1)[1])
    assert _count(web_db, IncidentPhoto, IncidentPhoto.incident_id == incident_id) == 1
    lon = _one(web_db, select(Incident.lon).where(Incident.id == incident_id))
    assert lon == pytest.approx(113.561)


def test_a_refused_form_keeps_nothing_and_may_come_again(
    web_client: TestClient, web_db: str, as_user: Any
) -> None:
    csrf = as_user("inspector")
    other = _one(web_db, select(Unit.id).where(Unit.code == "GOUZHAO"))
    key = str(uuid.uuid4())
    form = {
        "client_key": key,
        "unit_id": str(other),  # outside the inspector's street office
        "kind": "ponding",
        "title": "x",
        "reported_at": datetime.now(UTC).isoformat(),
    }
    refused = _post(web_client, csrf, "/field/incidents", form)
    assert refused.status_code == 422
    assert refused.json()["outcome"] == "refused"
    assert "unit" in refused.json()["message"]
    assert _count(web_db, ClientSubmission, ClientSubmission.key == key) == 0
    own = _one(web_db, select(Unit.id).where(Unit.code == "WUTONG"))
    accepted = _post(web_client, csrf, "/field/incidents", form | {"unit_id": str(own)})
    assert accepted.status_code == 201


def test_a_key_that_is_not_a_uuid_is_refused(web_client: TestClient, as_user: Any) -> None:
    csrf = as_user("inspector")
    response = _post(
        web_client,
        csrf,
        "/field/drills",
        {"client_key": "twice", "unit_id": "1", "held_on": "2026-06-01", "scenario": "s"},
    )
    assert response.status_code == 422
    assert "not a UUID" in response.json()["message"]


def test_an_inspection_finding_opens_a_rectification(
    web_client: TestClient, web_db: str, as_user: Any
) -> None:
    csrf = as_user("inspector")
    point_id = _one(
        web_db,
        select(HazardPoint.id)
        .join(Unit, Unit.id == HazardPoint.unit_id)
        .where(Unit.code == "WUTONG")
        .order_by(HazardPoint.id),
    )
    person = _one(
        web_db,
        select(Person.id).join(Unit, Unit.id == Person.unit_id).where(Unit.code == "WUTONG"),
    )
    rects = _count(web_db, Rectification, Rectification.point_id == point_id)
    response = _post(
        web_client,
        csrf,
        "/field/inspections",
        {
            "client_key": str(uuid.uuid4()),
            "point_id": str(point_id),
            "inspected_at": datetime.now(UTC).isoformat(),
            "finding": "篦子堵塞",
            "deadline": (datetime.now(UTC) + timedelta(days=7)).date().isoformat(),
            "responsible_person_id": str(person),
        },
        [("photos", ("a.jpg", _jpeg(), "image/jpeg"))],
    )
    assert response.status_code == 201, response.text
    record = _one(
        web_db,
        select(InspectionRecord)
        .where(InspectionRecord.point_id == point_id)
        .order_by(InspectionRecord.id.desc()),
    )
    assert record.has_finding
    assert _count(web_db, Rectification, Rectification.point_id == point_id) == rects + 1
    assert _count(web_db, Rectification, Rectification.inspection_id == record.id) == 1


def test_a_rectification_closed_meanwhile_is_a_conflict_kept_for_the_person(
    web_client: TestClient, web_db: str, as_user: Any
) -> None:
    rect = _one(
        web_db,
        select(Rectification)
        .join(HazardPoint, HazardPoint.id == Rectification.point_id)
        .join(Unit, Unit.id == HazardPoint.unit_id)
        .where(Unit.code == "WUTONG", Rectification.status == "open"),
    )
    if rect is None:
        pytest.skip("the demo has no open rectification of 梧桐")
    csrf = as_user("wutong")
    page = web_client.get(f"/field/rectifications/{rect.id}")
    assert page.status_code == 200
    form = {
        "client_key": str(uuid.uuid4()),
        "action": "start",
        "comment": "开工",
        "version": str(rect.version),
    }
    # Someone else moves it first (the form still carries the version it was loaded with).
    first = _post(
        web_client,
        csrf,
        f"/field/rectifications/{rect.id}",
        form | {"client_key": str(uuid.uuid4())},
    )
    assert first.status_code == 201, first.text
    late = _post(web_client, csrf, f"/field/rectifications/{rect.id}", form)
    assert late.status_code == 409
    assert late.json()["outcome"] == "conflict"
    assert late.json()["message"]
    again = _post(web_client, csrf, f"/field/rectifications/{rect.id}", form)
    assert again.status_code == 409
    assert again.json()["duplicate"] is True


def test_a_stocktake_from_the_phone_computes_the_shortfall(
    web_client: TestClient, web_db: str, as_user: Any
) -> None:
    csrf = as_user("wutong")
    warehouse = _one(
        web_db,
        select(Warehouse.id).join(Unit, Unit.id == Warehouse.unit_id).where(Unit.code == "WUTONG"),
    )
    page = web_client.get(f"/field/warehouses/{warehouse}/stocktake")
    assert page.status_code == 200
    import re

    items = [int(x) for x in re.findall(r'name="item_id" value="(\d+)"', page.text)]
    assert items
    response = _post(
        web_client,
        csrf,
        f"/field/warehouses/{warehouse}/stocktake",
        {
            "client_key": str(uuid.uuid4()),
            "item_id": [str(i) for i in items],
            "count": ["0"] + [""] * (len(items) - 1),
        },
    )
    assert response.status_code == 201, response.text
    sheet = web_client.get(response.json()["result_url"])
    assert sheet.status_code == 200
    assert _count(web_db, Stocktake, Stocktake.warehouse_id == warehouse) == 1


def test_a_drill_and_a_patrol_from_the_phone(
    web_client: TestClient, web_db: str, as_user: Any
) -> None:
    csrf = as_user("wutong")
    unit_id = _one(web_db, select(Unit.id).where(Unit.code == "WUTONG"))
    drills = _count(web_db, Drill)
    drill = _post(
        web_client,
        csrf,
        "/field/drills",
        {
            "client_key": str(uuid.uuid4()),
            "unit_id": str(unit_id),
            "held_on": "2026-06-01",
            "scenario": "下穿通道积水抢排",
            "participants": "12",
            "findings": "水泵启动慢\n\n照明不足",
        },
    )
    assert drill.status_code == 201, drill.text
    assert _count(web_db, Drill) == drills + 1
    now = datetime.now(UTC)
    payload = {
        "unit_id": unit_id,
        "started_at": (now - timedelta(minutes=30)).isoformat(),
        "ended_at": now.isoformat(),
        "track": [{"lon": 113.55 + i * 0.0001, "lat": 34.81} for i in range(20)]
        + [{"lon": 113.5519, "lat": 34.81 + i * 0.0001} for i in range(1, 10)],
        "findings": [
            {"lon": 113.551, "lat": 34.81, "note": "岸坡裂缝"},
            {"lon": 113.552, "lat": 34.8105, "note": "漂浮物"},
        ],
    }
    import json

    response = _post(
        web_client,
        csrf,
        "/field/patrols",
        {"client_key": str(uuid.uuid4()), "payload": json.dumps(payload), "photo_finding": "1"},
        [("photos", ("f.jpg", _jpeg(), "image/jpeg"))],
    )
    assert response.status_code == 201, response.text
    patrol = _one(web_db, select(Patrol).order_by(Patrol.id.desc()))
    # Two straight legs: the thinned line keeps the ends and the corner.
    assert patrol.raw_points == 29
    assert len(patrol.track["coordinates"]) == 3
    assert web_client.get(response.json()["result_url"]).status_code == 200


def test_the_service_worker_and_the_manifest(web_client: TestClient, as_user: Any) -> None:
    as_user("inspector")
    sw = web_client.get("/field/sw.js")
    assert sw.status_code == 200
    assert sw.headers["content-type"].startswith("text/javascript")
    assert sw.headers["service-worker-allowed"] == "/field"
    manifest = web_client.get("/field/manifest.webmanifest").json()
    assert manifest["start_url"] == "/field" and manifest["display"] == "standalone"
    for path in (
        "/field",
        "/field/incidents/new",
        "/field/inspections/new",
        "/field/patrols/new",
        "/field/drills/new",
        "/field/duty",
        "/field/stocktakes",
        "/field/rectifications",
        "/field/points/new",
        "/field/transfers/new",
    ):
        page = web_client.get(path)
        assert page.status_code == 200, (path, page.text[:500])
        assert 'rel="manifest"' in page.text


def test_the_duty_page_flags_the_overdue_patrol_and_the_map_has_the_reaches(
    web_client: TestClient, as_user: Any
) -> None:
    as_user("district")
    duty = web_client.get("/duty")
    assert duty.status_code == 200
    # The demo's daily 贾鲁河 patrol was last walked three days ago.
    assert 'data-testid="overdue-patrols"' in duty.text
    assert "贾鲁河巡堤查险" in duty.text
    reaches = web_client.get("/field/reaches.geojson").json()
    kinds = {f["geometry"]["type"] for f in reaches["features"]}
    assert kinds == {"LineString", "Point"}
    assert all(
        f["properties"]["url"].startswith("/hazards/points/")
        for f in reaches["features"]
        if f["geometry"]["type"] == "Point"
    )
    patrols = web_client.get("/field/patrols.geojson").json()
    assert any(f["properties"]["name"] == "迎水坡局部冲刷，需观察" for f in patrols["features"])
    page = web_client.get("/map")
    assert "/field/reaches.geojson" in page.text and "/field/patrols.geojson" in page.text


def test_a_point_plan_from_the_phone_asks_for_evidence(
    web_client: TestClient, web_db: str, as_user: Any
) -> None:
    from fangxun.hazards.models import PointPlan

    csrf = as_user("wutong")
    point_id = _one(
        web_db,
        select(HazardPoint.id)
        .join(Unit, Unit.id == HazardPoint.unit_id)
        .where(Unit.code == "WUTONG")
        .order_by(HazardPoint.id),
    )
    assert web_client.get(f"/field/hazard-points/{point_id}/plan").status_code == 200
    response = _post(
        web_client,
        csrf,
        f"/field/hazard-points/{point_id}/plan",
        {
            "client_key": str(uuid.uuid4()),
            "title": "雪松路一点一策",
            "trigger_colour": "yellow",
            "trigger_ponding_cm": "15",
            "measure": "封闭道路，启动移动泵车",
            "equipment": "移动泵车, 警示牌",
            "close_needs_evidence": "true",
        },
    )
    assert response.status_code == 201, response.text
    plan = _one(
        web_db,
        select(PointPlan).where(PointPlan.point_id == point_id).order_by(PointPlan.id.desc()),
    )
    assert plan.close_needs_evidence is True
    assert plan.measures[0]["equipment"] == ["移动泵车", "警示牌"]
