"""The duty API: a month from a rotation, gaps after removing a leader, the current team,
exports, and jurisdiction (another unit's shift is 404)."""

from __future__ import annotations

import io
from typing import Any

from fastapi.testclient import TestClient
from icalendar import Calendar
from openpyxl import load_workbook

from fangxun.org.models import Role, UnitKind

JULY = {"start": "2026-07-01T08:00:00+08:00", "end": "2026-08-01T08:00:00+08:00"}


def test_rota_over_http(client: TestClient, make_unit: Any, make_user: Any) -> None:
    d = make_unit("D", UnitKind.district)
    a = make_unit("A", UnitKind.street_office, parent=d)
    b = make_unit("B", UnitKind.street_office, parent=d)
    office = make_user(Role.district).headers(client)
    people = []
    for k in range(5):
        made = client.post(
            "/api/v1/people",
            json={"name": f"值班{k}", "unit_id": a, "phone": f"1380000000{k}"},
            headers=office,
        )
        assert made.status_code == 201, made.text
        people.append(made.json()["id"])
    rotation = client.post(
        "/api/v1/duty/rotations",
        json={
            "unit_id": a,
            "name": "七月",
            "shift_hours": 12,
            "members_per_shift": 1,
            "leader_ids": people[:2],
            "member_ids": people[2:],
        },
        headers=office,
    )
    assert rotation.status_code == 201, rotation.text
    filled = client.post(
        f"/api/v1/duty/rotations/{rotation.json()['id']}/fill",
        json={"year": 2026, "month": 7},
        headers=office,
    )
    assert filled.status_code == 201 and len(filled.json()) == 62
    params = {"unit_id": a, **JULY}
    gaps = client.get("/api/v1/duty/gaps", params=params, headers=office).json()
    # July 2026 is in the past for the check-in rule only after it ends; allow no_check_in gaps.
    assert [g for g in gaps if g["kind"] != "no_check_in"] == []
    shift = filled.json()[5]
    leader = next(x for x in shift["assignments"] if x["role"] == "leader")
    removed = client.delete(f"/api/v1/duty/assignments/{leader['id']}", headers=office)
    assert removed.status_code == 200 and all(
        x["role"] != "leader" for x in removed.json()["assignments"]
    )
    gaps = client.get("/api/v1/duty/gaps", params=params, headers=office).json()
    assert [(g["kind"], g["shift_id"]) for g in gaps if g["kind"] != "no_check_in"] == [
        ("no_leader", shift["id"])
    ]
    current = client.get(
        "/api/v1/duty/current", params={"at": "2026-07-02T09:00:00+08:00"}, headers=office
    ).json()
    assert len(current) == 1 and current[0]["leader"]["phone"].startswith("138")
    xlsx = client.get("/api/v1/duty/export.xlsx", params=params, headers=office)
    assert xlsx.status_code == 200
    assert len(list(load_workbook(io.BytesIO(xlsx.content)).active.iter_rows())) == 63  # type: ignore[union-attr]
    ics = client.get("/api/v1/duty/export.ics", params=params, headers=office)
    assert ics.headers["content-type"].startswith("text/calendar")
    assert len(Calendar.from_ical(ics.content).walk("VEVENT")) == 62
    # A user of street office B sees none of A's roster.
    other = make_user(Role.unit, b).headers(client)
    assert client.get(f"/api/v1/duty/shifts/{shift['id']}", headers=other).status_code == 404
    assert client.get("/api/v1/duty/shifts", params=JULY, headers=other).json() == []
    assert client.get("/api/v1/duty/gaps", params=params, headers=other).status_code == 422
    viewer = make_user(Role.viewer).headers(client)
    refused = client.post(
        f"/api/v1/duty/shifts/{shift['id']}/handover", json={"note": "平稳"}, headers=viewer
    )
    assert refused.status_code == 403
