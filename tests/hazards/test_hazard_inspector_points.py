"""Inspectors add the points they find and correct or move them (issue 22); the rest of a point
(owner, risk, thresholds, status), deleting and importing stay with the unit and the district."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from hazard_helpers import Ledger

API = "/api/v1"


def test_an_inspector_adds_and_moves_a_point_of_their_office(
    client: TestClient, ledger: Ledger
) -> None:
    h = ledger.h(client, "inspector")
    body: dict[str, Any] = {
        "code": "WT-NEW1",
        "name": "新发现的积水点",
        "kind": "low_lying_road",
        "lon": 113.561,
        "lat": 34.801,
        "unit_id": ledger.wutong,
    }
    created = client.post(f"{API}/hazard-points", json=body, headers=h)
    assert created.status_code == 201, created.text
    point_id = created.json()["id"]
    moved = client.patch(
        f"{API}/hazard-points/{point_id}", json={"lon": 113.562, "name": "雪松路积水点"}, headers=h
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["lon"] == 113.562
    # Another office's jurisdiction stays closed to them.
    other = client.post(
        f"{API}/hazard-points",
        json=body | {"code": "GZ-NEW1", "unit_id": ledger.gouzhao},
        headers=h,
    )
    assert other.status_code == 422


def test_an_inspector_may_not_retire_reassign_or_delete_a_point(
    client: TestClient, ledger: Ledger
) -> None:
    h = ledger.h(client, "inspector")
    url = f"{API}/hazard-points/{ledger.wutong_point}"
    for change in ({"status": "retired"}, {"risk_level": "high"}, {"unit_id": ledger.gouzhao}):
        refused = client.patch(url, json=change, headers=h)
        assert refused.status_code == 403, (change, refused.text)
        assert next(iter(change)) in refused.json()["detail"]
    assert client.delete(url, headers=h).status_code == 403
    # The viewer may not even add one.
    viewer = client.post(
        f"{API}/hazard-points",
        json={
            "code": "WT-V1",
            "name": "x",
            "kind": "other",
            "lon": 113.5,
            "lat": 34.8,
            "unit_id": ledger.wutong,
        },
        headers=ledger.h(client, "viewer"),
    )
    assert viewer.status_code == 403
