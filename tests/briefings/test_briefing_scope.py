"""Briefings are scoped like every other record (issue 20 item 2), and carry the forecast and
warnings sections (item 3).

Before: a unit login read every briefing over ``/api/v1/briefings``, ``/briefings/{id}`` and its
PDF, with other units' points, incidents, duty phones and shortages; the forecast and warnings
sections always said "not installed".
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from fangxun.db import session_scope
from fangxun.hazards.models import HazardKind, HazardPoint, RiskLevel
from fangxun.org.models import Role, UnitKind
from fangxun.warnings.models import (
    Colour,
    Origin,
    Warning,
    WarningKind,
    WarningStatus,
)


def _warning(session: Any, point: HazardPoint, colour: Colour) -> None:
    now = datetime.now(UTC)
    session.add(
        Warning(
            subject=f"ponding:{point.id}",
            kind=WarningKind.ponding,
            colour=colour,
            status=WarningStatus.active,
            origin=Origin.rule,
            unit_id=point.unit_id,
            hazard_point_id=point.id,
            place=point.name,
            issued_at=now,
            changed_at=now,
        )
    )


def test_unit_logins_read_only_their_units_briefings(
    client: TestClient, engine: Engine, make_unit: Any, make_user: Any
) -> None:
    d = make_unit("D", UnitKind.district)
    a = make_unit("A", UnitKind.street_office, d)
    b = make_unit("B", UnitKind.street_office, d)
    with session_scope(engine) as session:
        for code, unit, colour in (("PA", a, Colour.yellow), ("PB", b, Colour.red)):
            point = HazardPoint(
                code=code, name=f"{code}下穿", kind=HazardKind.underpass, lon=113.5, lat=34.8,
                unit_id=unit, risk_level=RiskLevel.high, threshold_blue_m=0.15,
                threshold_yellow_m=0.27, threshold_orange_m=0.4, threshold_red_m=0.5,
            )  # fmt: skip
            session.add(point)
            session.flush()
            _warning(session, point, colour)
    office = make_user(Role.district).headers(client)
    unit_a = make_user(Role.unit, a).headers(client)
    unit_b = make_user(Role.unit, b).headers(client)

    district_wide = client.post("/api/v1/briefings", json={}, headers=office)
    assert district_wide.status_code == 201, district_wide.text
    whole = district_wide.json()
    places = {w["place"] for w in whole["content"]["sections"]["warnings"]["data"]["items"]}
    assert places == {"PA下穿", "PB下穿"} and whole["unit_id"] is None
    # A unit login does not see the district's briefing: not listed, 404 by id and as PDF.
    assert client.get("/api/v1/briefings", headers=unit_a).json() == []
    for path in (f"/api/v1/briefings/{whole['id']}", f"/api/v1/briefings/{whole['id']}/pdf"):
        assert client.get(path, headers=unit_a).status_code == 404, path

    # A briefing for office A holds A's data only; A reads it, B does not.
    made = client.post("/api/v1/briefings", json={"unit_id": a}, headers=office)
    assert made.status_code == 201, made.text
    for_a = made.json()
    assert for_a["unit_id"] == a
    items = for_a["content"]["sections"]["warnings"]["data"]["items"]
    assert [w["place"] for w in items] == ["PA下穿"]
    assert [x["id"] for x in client.get("/api/v1/briefings", headers=unit_a).json()] == [
        for_a["id"]
    ]
    assert client.get(f"/api/v1/briefings/{for_a['id']}", headers=unit_a).status_code == 200
    assert client.get(f"/api/v1/briefings/{for_a['id']}", headers=unit_b).status_code == 404
    assert client.get("/api/v1/briefings", headers=unit_b).json() == []
    assert client.get("/api/v1/briefings/tasks", headers=unit_b).json() == []
    # The district office still reads both.
    listed = client.get("/api/v1/briefings", headers=office).json()
    assert {x["id"] for x in listed} == {whole["id"], for_a["id"]}
