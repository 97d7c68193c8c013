"""Hazard points, attachments, point plans, inspections, statistics and the OGC items route."""

from __future__ import annotations

import hashlib
import io
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hazard_helpers import SYSTEM, Ledger
from sqlalchemy import Engine, select

from fangxun.audit.models import AuditEntry
from fangxun.config import DEFAULT_HAZARD_THRESHOLDS_CM, Settings
from fangxun.db import session_scope, utcnow
from fangxun.hazards import attachments, service
from fangxun.hazards.models import HazardKind, HazardPoint
from fangxun.hazards.schemas import InspectionRecordCreate

API = "/api/v1"
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 100


def _new_point(ledger: Ledger, **extra: object) -> dict[str, object]:
    return {
        "code": "WT-900",
        "name": "莲花街裕华满园",
        "kind": "residential_compound",
        "lon": 113.551,
        "lat": 34.805,
        "unit_id": ledger.wutong,
        **extra,
    }


def test_kinds_match_the_configured_threshold_table() -> None:
    assert {k.value for k in HazardKind} == set(DEFAULT_HAZARD_THRESHOLDS_CM)
    assert DEFAULT_HAZARD_THRESHOLDS_CM["low_lying_road"] == (15.0, 27.0, 40.0, 50.0)


def test_create_point_defaults_thresholds_from_settings_and_audits(
    client: TestClient, ledger: Ledger, engine: Engine, settings: Settings
) -> None:
    settings.hazard_thresholds_cm["residential_compound"] = (12.0, 22.0, 33.0, 44.0)
    h = ledger.h(client, "wutong")
    created = client.post(f"{API}/hazard-points", json=_new_point(ledger), headers=h)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["thresholds_cm"] == {"blue": 12.0, "yellow": 22.0, "orange": 33.0, "red": 44.0}
    assert body["status"] == "active" and body["risk_level"] == "medium"
    with session_scope(engine) as session:
        point = session.get(HazardPoint, body["id"])
        assert point is not None
        # Stored in metres (SI inside), served in cm.
        assert point.threshold_blue_m == pytest.approx(0.12)
        entry = session.scalar(
            select(AuditEntry).where(
                AuditEntry.object_type == "hazard_point", AuditEntry.object_id == str(point.id)
            )
        )
        assert entry is not None and entry.actor_username == ledger.users["wutong"].username
    dup = client.post(f"{API}/hazard-points", json=_new_point(ledger), headers=h)
    assert dup.status_code == 409


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"lon": 190.0}, "lon"),
        ({"lat": "north"}, "lat"),
        ({"kind": "volcano"}, "kind"),
        ({"thresholds_cm": {"blue": 30, "yellow": 20, "orange": 40, "red": 50}}, "thresholds_cm"),
        ({"code": "has space"}, "code"),
        (
            {"polygon": {"type": "Polygon", "coordinates": [[[113, 34], [114, 34], [113, 35]]]}},
            "polygon",
        ),
        ({"responsible_person_id": 999999}, "responsible_person_id"),
    ],
)
def test_bad_point_bodies_name_the_field(
    client: TestClient, ledger: Ledger, extra: dict[str, object], field: str
) -> None:
    response = client.post(
        f"{API}/hazard-points",
        json=_new_point(ledger, **extra),
        headers=ledger.h(client, "district"),
    )
    assert response.status_code == 422, response.text
    assert field in [str(p) for e in response.json()["errors"] for p in e["loc"]]


def test_update_retire_delete_and_role_checks(client: TestClient, ledger: Ledger) -> None:
    url = f"{API}/hazard-points/{ledger.wutong_point}"
    assert (
        client.patch(url, json={"name": "x"}, headers=ledger.h(client, "viewer")).status_code == 403
    )
    changed = client.patch(
        url,
        json={
            "thresholds_cm": {"blue": 10, "yellow": 20, "orange": 30, "red": 40},
            "status": "retired",
        },
        headers=ledger.h(client, "wutong"),
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["thresholds_cm"]["red"] == 40 and changed.json()["status"] == "retired"
    assert (
        client.patch(url, json={"name": None}, headers=ledger.h(client, "wutong")).status_code
        == 422
    )
    # A unit may not delete; the district may, while the point has no history.
    assert client.delete(url, headers=ledger.h(client, "wutong")).status_code == 403
    assert client.delete(url, headers=ledger.h(client, "district")).status_code == 204
    assert client.get(url, headers=ledger.h(client, "district")).status_code == 404


def test_point_with_history_must_be_retired_not_deleted(
    client: TestClient, ledger: Ledger, open_rectification: int
) -> None:
    response = client.delete(
        f"{API}/hazard-points/{ledger.wutong_point}", headers=ledger.h(client, "district")
    )
    assert response.status_code == 409
    assert "retire" in response.json()["detail"]


def test_attachments_stored_by_hash_type_and_size_checked(
    client: TestClient, ledger: Ledger, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"{API}/hazard-points/{ledger.wutong_point}/attachments"
    h = ledger.h(client, "wutong")
    up = client.post(url, files={"file": ("现场.jpg", io.BytesIO(JPEG), "image/jpeg")}, headers=h)
    assert up.status_code == 201, up.text
    digest = hashlib.sha256(JPEG).hexdigest()
    assert up.json()["sha256"] == digest and up.json()["content_type"] == "image/jpeg"
    stored = attachments.path_for(settings.data_dir, digest)
    assert stored.read_bytes() == JPEG
    again = client.post(
        url, files={"file": ("copy.jpg", io.BytesIO(JPEG), "image/jpeg")}, headers=h
    )
    assert again.status_code == 201
    assert len(list(Path(settings.data_dir, "attachments").rglob("*"))) == 2  # one folder, one file
    got = client.get(f"{API}/hazard-attachments/{up.json()['id']}", headers=h)
    assert got.status_code == 200 and got.content == JPEG
    # A program renamed .jpg is refused on its content.
    exe = client.post(
        url, files={"file": ("photo.jpg", io.BytesIO(b"MZ\x90\x00" * 10), "image/jpeg")}, headers=h
    )
    assert exe.status_code == 422 and "not an accepted file type" in exe.json()["detail"]
    empty = client.post(url, files={"file": ("e.png", io.BytesIO(b""), "image/png")}, headers=h)
    assert empty.status_code == 422
    monkeypatch.setattr(attachments, "MAX_ATTACHMENT_BYTES", 50)
    big = client.post(url, files={"file": ("b.jpg", io.BytesIO(JPEG), "image/jpeg")}, headers=h)
    assert big.status_code == 422 and "limit" in big.json()["detail"]
    assert (
        client.post(
            url,
            files={"file": ("v.jpg", io.BytesIO(JPEG), "image/jpeg")},
            headers=ledger.h(client, "viewer"),
        ).status_code
        == 403
    )
    listed = client.get(url, headers=h).json()
    assert [a["filename"] for a in listed] == ["现场.jpg", "copy.jpg"]


def test_point_plans_are_versioned_and_approved_by_the_district(
    client: TestClient, ledger: Ledger
) -> None:
    url = f"{API}/hazard-points/{ledger.wutong_point}/plans"
    h = ledger.h(client, "wutong")
    plan = {
        "title": "梧桐街雪松路下穿一点一策",
        "triggers": [{"colour": "yellow"}, {"ponding_cm": 27}, {"rain_mm": 50, "rain_window_h": 3}],
        "measures": [
            {
                "action": "封闭下穿通道",
                "responsible_person_id": ledger.wutong_person,
                "team": "梧桐街道抢险队",
                "equipment": ["移动泵车"],
                "supplies": ["沙袋 200 袋"],
            }
        ],
    }
    v1 = client.post(url, json=plan, headers=h)
    assert v1.status_code == 201, v1.text
    assert v1.json()["version"] == 1 and v1.json()["status"] == "draft"
    assert (
        client.post(url, json=dict(plan, triggers=[{"rain_mm": 50}]), headers=h).status_code == 422
    )
    assert client.post(url, json=dict(plan, triggers=[{}]), headers=h).status_code == 422
    approve = f"{API}/point-plans/{v1.json()['id']}/approve"
    assert client.post(approve, headers=h).status_code == 403
    ok = client.post(approve, headers=ledger.h(client, "district"))
    assert ok.status_code == 200
    assert ok.json()["approved_by_name"] == ledger.users["district"].username
    assert ok.json()["approved_at"] is not None
    assert client.post(approve, headers=ledger.h(client, "district")).status_code == 409
    v2 = client.post(url, json=dict(plan, title="第二版"), headers=h).json()
    assert v2["version"] == 2
    client.post(f"{API}/point-plans/{v2['id']}/approve", headers=ledger.h(client, "district"))
    versions = client.get(url, headers=h).json()
    assert [(p["version"], p["status"]) for p in versions] == [(2, "approved"), (1, "superseded")]


def test_inspection_plans_records_and_overdue(
    client: TestClient, ledger: Ledger, engine: Engine
) -> None:
    h = ledger.h(client, "wutong")
    start = utcnow() - timedelta(days=20)
    plan = client.post(
        f"{API}/inspection-plans",
        json={
            "name": "汛期周巡查",
            "unit_id": ledger.wutong,
            "point_ids": [ledger.wutong_point],
            "inspector_person_id": ledger.wutong_person,
            "interval_s": 7 * 86400,
            "starts_at": start.isoformat(),
        },
        headers=h,
    )
    assert plan.status_code == 201, plan.text
    overdue = client.get(f"{API}/inspections/overdue", headers=h).json()
    assert [(o["point_id"], o["last_inspected_at"]) for o in overdue] == [
        (ledger.wutong_point, None)
    ]
    assert overdue[0]["overdue_s"] >= 20 * 86400 - 60
    record = client.post(
        f"{API}/inspections",
        json={
            "point_id": ledger.wutong_point,
            "plan_id": plan.json()["id"],
            "inspected_at": (utcnow() - timedelta(days=10)).isoformat(),
            "gps_lon": 113.56,
            "gps_lat": 34.80,
            "checklist": [
                {"item": "篦子畅通", "ok": False, "note": "堵塞"},
                {"item": "警示牌", "ok": True},
            ],
            "notes": "需清掏",
        },
        headers=ledger.h(client, "inspector"),
    )
    assert record.status_code == 201, record.text
    assert record.json()["has_finding"] is True
    assert record.json()["recorded_by"] == ledger.users["inspector"].username
    # Ten days ago with a 7-day interval: three days overdue.
    overdue = client.get(f"{API}/inspections/overdue", headers=h).json()
    assert len(overdue) == 1
    assert abs(overdue[0]["overdue_s"] - 3 * 86400) < 120
    with session_scope(engine) as session:
        service.create_inspection(
            session=session,
            record_in=InspectionRecordCreate(point_id=ledger.wutong_point, inspected_at=utcnow()),
            actor=SYSTEM,
        )
    assert client.get(f"{API}/inspections/overdue", headers=h).json() == []
    bad = client.post(
        f"{API}/inspections",
        json={
            "point_id": ledger.wutong_point,
            "inspected_at": utcnow().isoformat(),
            "gps_lon": 113.5,
        },
        headers=h,
    )
    assert bad.status_code == 422
    future = client.post(
        f"{API}/inspections",
        json={
            "point_id": ledger.wutong_point,
            "inspected_at": (utcnow() + timedelta(days=1)).isoformat(),
        },
        headers=h,
    )
    assert future.status_code == 422
    assert (
        client.post(
            f"{API}/inspections",
            json={"point_id": ledger.wutong_point, "inspected_at": utcnow().isoformat()},
            headers=ledger.h(client, "viewer"),
        ).status_code
        == 403
    )
    listed = client.get(f"{API}/inspections", params={"point_id": ledger.wutong_point}, headers=h)
    assert listed.json()["total"] == 2


def test_ledger_statistics(
    client: TestClient, ledger: Ledger, engine: Engine, open_rectification: int
) -> None:
    with session_scope(engine) as session:
        service.create_inspection(
            session=session,
            record_in=InspectionRecordCreate(point_id=ledger.wutong_point, inspected_at=utcnow()),
            actor=SYSTEM,
        )
    stats = client.get(f"{API}/hazard-stats", headers=ledger.h(client, "district")).json()
    rows = {(r["unit_code"], r["kind"]): r for r in stats["rows"]}
    assert set(rows) == {("WUTONG", "underpass"), ("GOUZHAO", "residential_compound")}
    wt = rows[("WUTONG", "underpass")]
    assert (wt["points"], wt["open_rectifications"], wt["overdue_rectifications"]) == (1, 1, 0)
    assert wt["inspection_coverage"] == 1.0
    assert rows[("GOUZHAO", "residential_compound")]["inspection_coverage"] == 0.0
    assert stats["window_s"] == service.DEFAULT_COVERAGE_WINDOW_S


def test_ogc_items_bbox_limit_and_paging(client: TestClient, ledger: Ledger) -> None:
    h = ledger.h(client, "district")
    url = f"{API}/collections/hazard-points/items"
    everything = client.get(url, headers=h)
    assert everything.status_code == 200
    assert everything.headers["content-type"].startswith("application/geo+json")
    body = everything.json()
    assert body["type"] == "FeatureCollection" and body["numberMatched"] == 2
    feature = body["features"][0]
    assert feature["geometry"]["type"] == "Point"
    lon, lat = feature["geometry"]["coordinates"]
    assert 113 < lon < 114 and 34 < lat < 35  # lon, lat order (RFC 7946)
    assert "open_rectifications" in feature["properties"]
    box = client.get(url, params={"bbox": "113.55,34.7,113.6,34.9"}, headers=h).json()
    assert [f["properties"]["code"] for f in box["features"]] == ["WT-001"]
    page = client.get(url, params={"limit": 1}, headers=h).json()
    assert page["numberReturned"] == 1 and page["numberMatched"] == 2
    assert any(link["rel"] == "next" for link in page["links"])
    for bad in ("1,2,3", "a,b,c,d", "113,35,114,34", "0,0,200,10"):
        response = client.get(url, params={"bbox": bad}, headers=h)
        assert response.status_code == 422, bad
        assert response.json()["errors"][0]["loc"] == ["query", "bbox"]
    one = client.get(f"{url}/{ledger.gouzhao_point}", headers=h).json()
    assert one["type"] == "Feature" and one["properties"]["code"] == "GZ-001"
    coll = client.get(f"{API}/collections", headers=h).json()
    assert coll["collections"][0]["id"] == "hazard-points"
    assert client.get(url).status_code == 401


def test_list_filters(client: TestClient, ledger: Ledger, open_rectification: int) -> None:
    h = ledger.h(client, "district")

    def codes(**params: object) -> list[str]:
        return [
            p["code"]
            for p in client.get(f"{API}/hazard-points", params=params, headers=h).json()["items"]
        ]

    assert codes() == ["GZ-001", "WT-001"]
    assert codes(unit_id=ledger.wutong) == ["WT-001"]
    assert codes(unit_id=ledger.district) == ["GZ-001", "WT-001"]
    assert codes(kind="residential_compound") == ["GZ-001"]
    assert codes(q="雅梅") == ["GZ-001"]
    assert codes(has_open="true") == ["WT-001"]
    assert codes(status="retired") == []
