"""Warnings over HTTP (roles, jurisdiction, problems), the public CAP feed and alerts, the CLI."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from lxml import etree
from typer.testing import CliRunner

from fangxun.cli.main import app as cli_app
from fangxun.config import get_settings
from fangxun.db import session_scope
from fangxun.db.migrate import upgrade
from fangxun.hazards.models import HazardKind, HazardPoint, RiskLevel
from fangxun.org.models import Role, UnitKind
from fangxun.warnings import cap

XSD = etree.XMLSchema(etree.parse("/work/shared/reference/cap/CAP-v1.2.xsd"))


def _point(engine: object, unit_id: int, code: str) -> int:
    with session_scope(engine) as s:  # type: ignore[arg-type]
        pt = HazardPoint(
            code=code,
            name=f"{code}点",
            kind=HazardKind.low_lying_road,
            lon=113.5,
            lat=34.8,
            unit_id=unit_id,
            risk_level=RiskLevel.low,
            threshold_blue_m=0.15,
            threshold_yellow_m=0.27,
            threshold_orange_m=0.4,
            threshold_red_m=0.5,
        )
        s.add(pt)
        s.flush()
        return pt.id


def test_issue_change_lift_over_http_with_cap(
    client: TestClient,
    engine: object,
    make_unit,
    make_user,  # type: ignore[no-untyped-def]
) -> None:
    d = make_unit("D")
    a = make_unit("A", UnitKind.street_office, d)
    b = make_unit("B", UnitKind.street_office, d)
    pa, pb = _point(engine, a, "PA"), _point(engine, b, "PB")
    duty = make_user(Role.duty).headers(client)
    viewer = make_user(Role.viewer).headers(client)
    unit_b = make_user(Role.unit, b).headers(client)

    body = {"kind": "ponding", "colour": "yellow", "hazard_point_id": pa, "reason": "巡查发现"}
    assert client.post("/api/v1/warnings", json=body, headers=viewer).status_code == 403
    r = client.post("/api/v1/warnings", json=body, headers=duty)
    assert r.status_code == 201, r.text
    wid = r.json()["id"]
    assert r.json()["changes"][0]["change_type"] == "issue"
    assert client.post("/api/v1/warnings", json=body, headers=duty).status_code == 409
    bad = client.post("/api/v1/warnings", json={**body, "reason": ""}, headers=duty)
    assert bad.status_code == 422 and bad.headers["content-type"].startswith("application/problem")
    r = client.post(
        f"/api/v1/warnings/{wid}/change", json={"colour": "red", "reason": "涨水"}, headers=duty
    )
    assert r.status_code == 200 and r.json()["colour"] == "red"
    client.post(
        "/api/v1/warnings",
        headers=duty,
        json={"kind": "ponding", "colour": "blue", "hazard_point_id": pb, "reason": "r"},
    )

    # Jurisdiction: B's unit user sees B's warning only; A's is "not found".
    seen = client.get("/api/v1/warnings", headers=unit_b).json()
    assert [w["hazard_point_id"] for w in seen] == [pb]
    assert client.get(f"/api/v1/warnings/{wid}", headers=unit_b).status_code == 404
    geo = client.get("/api/v1/warnings/geojson", headers=duty).json()
    assert {f["properties"]["colour"] for f in geo["features"]} == {"red", "blue"}

    r = client.post(f"/api/v1/warnings/{wid}/lift", json={"reason": "已退水"}, headers=duty)
    assert r.status_code == 200 and r.json()["status"] == "lifted"
    hist = client.get("/api/v1/warnings/history", headers=duty)
    assert hist.headers["X-Total-Count"] == "4"

    # CAP: public feed, each alert valid and linked from the feed.
    feed = client.get("/api/v1/cap/feed.atom")
    assert feed.status_code == 200 and feed.headers["content-type"].startswith("application/atom")
    doc = etree.fromstring(feed.content)
    links = doc.findall("{http://www.w3.org/2005/Atom}entry/{http://www.w3.org/2005/Atom}link")
    assert len(links) == 4
    msg_types = []
    for link in links:
        path = link.get("href").split("testserver", 1)[1]
        alert = client.get(path)
        assert alert.status_code == 200 and alert.headers["content-type"] == "application/cap+xml"
        xml = etree.fromstring(alert.content)
        XSD.assertValid(xml)
        msg_types.append(xml.findtext(f"{{{cap.CAP_NS}}}msgType"))
    assert sorted(msg_types) == ["Alert", "Alert", "Cancel", "Update"]
    assert client.get("/api/v1/cap/nope.xml").status_code == 404


def test_evaluate_now_needs_a_manager(client: TestClient, make_user) -> None:  # type: ignore[no-untyped-def]
    assert (
        client.post(
            "/api/v1/warnings/evaluate", headers=make_user(Role.viewer).headers(client)
        ).status_code
        == 403
    )
    r = client.post("/api/v1/warnings/evaluate", headers=make_user(Role.duty).headers(client))
    assert r.status_code == 200 and r.json()["changes"] == []


def test_cli_issue_list_lift_evaluate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("FANGXUN_DATABASE_URL", url)
    monkeypatch.setenv("FANGXUN_ENVIRONMENT", "test")
    get_settings.cache_clear()
    try:
        upgrade(url)
        runner = CliRunner()
        r = runner.invoke(cli_app, ["warnings", "issue", "rainstorm", "orange", "-r", "气象台发布"])
        assert r.exit_code == 0, r.output
        r = runner.invoke(cli_app, ["warnings", "list"])
        assert "orange" in r.output and "rainstorm" in r.output
        r = runner.invoke(cli_app, ["warnings", "issue", "ponding", "red", "-r", "x"])
        assert r.exit_code == 65 and "hazard_point_id" in r.output
        when = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
        r = runner.invoke(cli_app, ["warnings", "evaluate", "--at", when])
        assert r.exit_code == 0 and "no change" in r.output  # a person's warning stays
        r = runner.invoke(cli_app, ["warnings", "lift", "1", "-r", "解除"])
        assert r.exit_code == 0, r.output
        r = runner.invoke(cli_app, ["warnings", "list", "--history"])
        assert "lift" in r.output and "2 of 2" in r.output
        assert runner.invoke(cli_app, ["warnings", "lift", "1", "-r", "again"]).exit_code == 73
    finally:
        get_settings.cache_clear()
