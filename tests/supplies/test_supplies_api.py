"""The supplies API: receive, issue beyond stock (409, nothing changes), shortages, stocktake."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from fangxun.org.models import Role, UnitKind


def test_supplies_over_http(client: TestClient, make_unit: Any, make_user: Any) -> None:
    d = make_unit("D", UnitKind.district)
    a = make_unit("A", UnitKind.street_office, parent=d)
    b = make_unit("B", UnitKind.street_office, parent=d)
    office = make_user(Role.district).headers(client)
    item = client.post(
        "/api/v1/supplies/items",
        json={"code": "PUMP", "name_zh": "潜水泵", "unit_of_measure": "台"},
        headers=office,
    ).json()["id"]
    wh = client.post(
        "/api/v1/supplies/warehouses",
        json={"code": "WA", "name_zh": "梧桐仓库", "unit_id": a},
        headers=office,
    ).json()["id"]
    base = f"/api/v1/supplies/warehouses/{wh}"
    assert (
        client.put(
            f"{base}/quotas", json={"item_id": item, "quantity": 10}, headers=office
        ).status_code
        == 204
    )
    assert (
        client.post(
            f"{base}/receive", json={"item_id": item, "quantity": 4}, headers=office
        ).status_code
        == 201
    )
    over = client.post(f"{base}/issue", json={"item_id": item, "quantity": 5}, headers=office)
    assert over.status_code == 409 and "4 台 left" in over.json()["detail"]
    negative = client.post(f"{base}/issue", json={"item_id": item, "quantity": -1}, headers=office)
    assert negative.status_code == 422
    stock = client.get(f"{base}/stock", headers=office).json()
    assert [(s["quantity"], s["quota"]) for s in stock] == [(4, 10)]
    shortages = client.get("/api/v1/supplies/shortages", headers=office).json()
    assert [(s["item_name"], s["shortfall"]) for s in shortages] == [("潜水泵", 6)]
    take = client.post(f"{base}/stocktakes", headers=office).json()
    counted = client.post(
        f"/api/v1/supplies/stocktakes/{take['id']}/counts",
        json={"counts": {str(item): 3}},
        headers=office,
    ).json()
    assert counted["lines"][0]["difference"] == -1
    chief = make_user(Role.admin).headers(client)
    approved = client.post(f"/api/v1/supplies/stocktakes/{take['id']}/approve", headers=chief)
    assert approved.status_code == 200 and approved.json()["status"] == "approved"
    assert client.get(f"{base}/stock", headers=office).json()[0]["quantity"] == 3
    audit = client.get(
        "/api/v1/audit", params={"object_type": "supplies_stocktake"}, headers=chief
    ).json()
    assert any(e["after"] and e["after"].get("status") == "approved" for e in audit["items"])
    other = make_user(Role.unit, b).headers(client)
    assert client.get(f"{base}/stock", headers=other).status_code == 404
