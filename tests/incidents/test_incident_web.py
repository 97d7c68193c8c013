"""Incident pages without a browser: report and dispatch through the forms (with CSRF), a refused
step shown on the page, the public form and its rate limit, and the other operations pages."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient

from fangxun.audit.service import SystemActor
from fangxun.db import make_engine, session_scope
from fangxun.incidents import service as incidents
from fangxun.incidents.models import IncidentKind
from fangxun.incidents.schemas import IncidentCreate
from web_harness import csrf_of


def test_report_and_dispatch_through_the_forms(
    web_client: TestClient, ops_seed: dict[str, int], login: Any
) -> None:
    ids = ops_seed
    assert login(web_client).status_code == 303
    page = web_client.get("/incidents")
    assert page.status_code == 200 and 'data-testid="report-form"' in page.text
    token = csrf_of(page)
    made = web_client.post(
        "/incidents",
        data={
            "csrf_token": token,
            "unit_id": ids["office"],
            "kind": "underpass_flooding",
            "severity": "major",
            "title": "科学大道下穿积水",
            "location_text": "科学大道与长椿路",
        },
    )
    assert made.status_code == 303
    detail_url = made.headers["location"]
    detail = web_client.get(detail_url)
    assert "科学大道下穿积水" in detail.text and 'data-testid="dispatch-form"' in detail.text
    # A step that is not next is refused and said so on the page.
    refused = web_client.post(
        f"{detail_url}/transition", data={"csrf_token": token, "to_status": "controlled"}
    )
    assert refused.status_code == 409 and "cannot go to controlled" in refused.text  # a conflict
    dispatched = web_client.post(
        f"{detail_url}/transition",
        data={"csrf_token": token, "to_status": "dispatched", "team_id": ids["team"]},
    )
    assert dispatched.status_code == 303
    detail = web_client.get(detail_url)
    assert "梧桐抢险队" in detail.text and 'data-testid="dispatch-form"' not in detail.text
    # Without the CSRF token nothing changes.
    no_token = web_client.post(f"{detail_url}/transition", data={"to_status": "on_site"})
    assert no_token.status_code == 403


def test_public_form_and_its_limit(
    web_client: TestClient, ops_seed: dict[str, int], web_app: Any
) -> None:
    form = web_client.get("/report")
    assert form.status_code == 200
    token = csrf_of(form)
    data = {
        "csrf_token": token,
        "kind": "ponding",
        "title": "小区门口积水",
        "location_text": "枫杨街道",
        "reporter_phone": "13900000000",
    }
    for _ in range(web_app.state.settings.public_report_max):
        sent = web_client.post("/report", data=data)
        assert sent.status_code == 201 and 'data-testid="receipt"' in sent.text
    limited = web_client.post("/report", data=data)
    assert limited.status_code == 429 and 'data-testid="error"' in limited.text


def test_operations_pages_render(
    web_client: TestClient, ops_seed: dict[str, int], login: Any
) -> None:
    login(web_client)
    for path, marker in (
        ("/duty", 'data-testid="duty"'),
        ("/supplies", 'data-testid="supplies"'),
        ("/briefings", 'data-testid="briefings"'),
    ):
        response = web_client.get(path)
        assert response.status_code == 200 and marker in response.text, path
    token = csrf_of(web_client.get("/briefings"))
    made = web_client.post("/briefings", data={"csrf_token": token})
    assert made.status_code == 303
    listing = web_client.get("/briefings")
    assert 'data-testid="latest"' in listing.text
    pdf_link = re.search(r'href="(/briefings/\d+\.pdf)"', listing.text)
    assert pdf_link
    pdf = web_client.get(pdf_link.group(1))
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-")
    assert web_client.get("/duty/roster.ics").headers["content-type"].startswith("text/calendar")


def test_open_incidents_with_a_place_feed_the_one_map(
    web_client: TestClient, web_db: str, ops_seed: dict[str, int], login: Any
) -> None:
    engine = make_engine(web_db)
    try:
        with session_scope(engine) as session:
            for title, lon in (("沟赵路积水", 113.55), ("无坐标险情", None)):
                incidents.report(
                    session=session,
                    incident_in=IncidentCreate(
                        unit_id=ops_seed["office"],
                        kind=IncidentKind.ponding,
                        title=title,
                        lon=lon,
                        lat=34.80 if lon is not None else None,
                    ),
                    actor=SystemActor(username="incident-web-tests"),
                )
    finally:
        engine.dispose()
    assert web_client.get("/incidents.geojson").status_code == 303  # login first
    assert login(web_client).status_code == 303
    body = web_client.get("/incidents.geojson").json()
    assert body["type"] == "FeatureCollection"
    [feature] = body["features"]  # the one without coordinates is not on the map
    assert feature["geometry"]["coordinates"] == [113.55, 34.80]
    assert feature["properties"]["name"] == "沟赵路积水"
    assert feature["properties"]["url"] == f"/incidents/{feature['id']}"
    overlays = web_client.get("/map").text
    assert "/incidents.geojson" in overlays


def test_a_stale_incident_form_gets_409_saying_what_changed(
    web_client: TestClient, ops_seed: dict[str, int], login: Any
) -> None:
    """Issue 20, item 13: two duty officers on one incident page; the second one's form still
    carries the version it was drawn from, and is refused with what changed."""
    assert login(web_client).status_code == 303
    page = web_client.get("/incidents")
    token = csrf_of(page)
    made = web_client.post(
        "/incidents",
        data={
            "csrf_token": token,
            "unit_id": ops_seed["office"],
            "kind": "underpass_flooding",
            "severity": "major",
            "title": "长椿路积水",
        },
    )
    detail_url = made.headers["location"]
    drawn = web_client.get(detail_url)
    assert 'name="version" value="1"' in drawn.text
    first = web_client.post(
        f"{detail_url}/transition",
        data={"csrf_token": token, "to_status": "closed", "note": "误报", "version": "1"},
    )
    assert first.status_code == 303
    stale = web_client.post(
        f"{detail_url}/transition",
        data={"csrf_token": token, "to_status": "closed", "note": "重复", "version": "1"},
    )
    assert stale.status_code == 409
    assert "changed by someone else" in stale.text and "status" in stale.text
