"""The monitoring API: GeoJSON, POST /observations with per-item results, ranges, dead letters,
latest values, rain totals, stale stations, roles and jurisdiction."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from mon_helpers import Network, build_network
from sqlalchemy import Engine

from fangxun.org.models import Role, UnitKind

MakeUser = Callable[..., Any]
MakeUnit = Callable[..., int]
NOW = datetime.now(UTC).replace(microsecond=0)


def iso(t: datetime) -> str:
    return t.astimezone(UTC).isoformat()


def test_post_observations_per_item_and_idempotent(
    client: TestClient, network: Network, make_user: MakeUser
) -> None:
    duty = make_user(Role.duty)
    body = [
        {"datastream": network.rain, "time": iso(NOW - timedelta(minutes=5)), "value": 2.5},
        {"datastream": network.rain, "time": iso(NOW), "value": "wet"},
        {"datastream": "GHOST", "time": iso(NOW), "value": 1},
        {"datastream": network.river, "time": iso(NOW), "value": 88.5},
    ]
    r = client.post("/api/v1/observations", json=body, headers=duty.headers(client))
    assert r.status_code == 200, r.text
    out = r.json()
    assert (out["stored"], out["duplicates"], out["rejected"]) == (2, 0, 2)
    assert [i["status"] for i in out["items"]] == ["stored", "rejected", "rejected", "stored"]
    assert "number" in out["items"][1]["reason"]
    assert "GHOST" in out["items"][2]["reason"]
    again = client.post("/api/v1/observations", json=body, headers=duty.headers(client)).json()
    assert (again["stored"], again["duplicates"]) == (0, 2)

    bad = client.post("/api/v1/observations", content=b"{oops", headers=duty.headers(client))
    assert bad.status_code == 400 and "malformed JSON" in bad.json()["detail"]

    letters = client.get("/api/v1/monitoring/dead-letters", headers=duty.headers(client)).json()
    assert letters["total"] == 5  # 2 + 2 again + 1 malformed
    assert letters["items"][0]["raw"] == "{oops"

    latest = {
        d["code"]: d
        for d in client.get("/api/v1/monitoring/latest", headers=duty.headers(client)).json()
    }
    assert latest[network.rain]["last_value"] == pytest.approx(2.5)  # back in mm
    assert latest[network.river]["level_status"] == "warning"  # 88.5 ≥ 88 警戒, < 90 保证

    obs = client.get(
        f"/api/v1/monitoring/datastreams/{network.rain}/observations",
        params={"start": iso(NOW - timedelta(hours=1)), "end": iso(NOW)},
        headers=duty.headers(client),
    ).json()
    assert [o["value"] for o in obs] == pytest.approx([2.5])

    totals = client.get(
        f"/api/v1/monitoring/datastreams/{network.rain}/rain-totals",
        params={"end": iso(NOW)},
        headers=duty.headers(client),
    ).json()
    assert totals["totals_mm"]["10m"] == pytest.approx(2.5)


def test_geojson_and_stale(client: TestClient, network: Network, make_user: MakeUser) -> None:
    viewer = make_user(Role.viewer)
    fc = client.get("/api/v1/monitoring/stations", headers=viewer.headers(client)).json()
    assert fc["type"] == "FeatureCollection"
    codes = {f["id"] for f in fc["features"]}
    assert codes == {"RG01", "RG02", "PD01", "RV01"}
    rg01 = next(f for f in fc["features"] if f["id"] == "RG01")
    assert rg01["geometry"]["coordinates"] == [113.55, 34.80]
    ds = client.get("/api/v1/monitoring/datastreams", headers=viewer.headers(client)).json()
    assert len(ds["features"]) == 4
    stale = client.get("/api/v1/monitoring/stale-stations", headers=viewer.headers(client)).json()
    assert {s["code"] for s in stale} == codes  # nothing reported yet
    # viewers may not post or read dead letters
    r = client.post("/api/v1/observations", json=[], headers=viewer.headers(client))
    assert r.status_code == 403
    assert (
        client.get("/api/v1/monitoring/dead-letters", headers=viewer.headers(client)).status_code
        == 403
    )
    assert client.get("/api/v1/monitoring/stations").status_code == 401


def test_create_station_and_jurisdiction(
    client: TestClient, engine: Engine, make_unit: MakeUnit, make_user: MakeUser
) -> None:
    district = make_unit("D", UnitKind.district)
    office_a = make_unit("A", UnitKind.street_office, parent=district)
    office_b = make_unit("B", UnitKind.street_office, parent=district)
    build_network(engine, unit_id=office_a)  # PD01 belongs to office A
    admin = make_user(Role.admin)
    r = client.post(
        "/api/v1/monitoring/stations",
        json={"code": "PS01", "name_zh": "泵站", "kind": "pump_station", "lon": 113.6,
              "lat": 34.8, "unit_id": office_b},
        headers=admin.headers(client),
    )  # fmt: skip
    assert r.status_code == 201, r.text
    dup = client.post(
        "/api/v1/monitoring/stations",
        json={"code": "PS01", "name_zh": "x", "kind": "pump_station", "lon": 0, "lat": 0},
        headers=admin.headers(client),
    )
    assert dup.status_code == 409
    bad = client.post(
        "/api/v1/monitoring/datastreams",
        json={"code": "PS01-q", "name": "q", "station_code": "PS01",
              "observed_property": "discharge", "unit": "furlong"},
        headers=admin.headers(client),
    )  # fmt: skip
    assert bad.status_code == 422 and "furlong" in bad.text
    user_a = make_user(Role.unit, office_a)
    seen = client.get("/api/v1/monitoring/stations", headers=user_a.headers(client)).json()
    # A unit sees its own stations and the district-wide ones, not office B's pump station.
    assert {f["id"] for f in seen["features"]} == {"RG01", "RG02", "PD01", "RV01"}
    assert (
        client.get("/api/v1/monitoring/stations/PS01", headers=user_a.headers(client)).status_code
        == 404
    )
    duty = make_user(Role.duty)
    assert (
        client.post(
            "/api/v1/monitoring/stations",
            json={"code": "X", "name_zh": "x", "kind": "rain_gauge", "lon": 0, "lat": 0},
            headers=duty.headers(client),
        ).status_code
        == 403
    )
