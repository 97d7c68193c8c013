"""Report pages without a browser: the events list and detection, the event page with its
charts and tables, cause confirmation and "create rectifications" through the forms (CSRF), and
the downloads."""

from __future__ import annotations

import io
from typing import Any

from fastapi.testclient import TestClient
from openpyxl import load_workbook
from report_helpers import build

from fangxun.db import make_engine, session_scope
from web_harness import csrf_of


def test_events_event_page_causes_and_review(
    web_client: TestClient, web_db: str, login: Any
) -> None:
    engine = make_engine(web_db)
    try:
        with session_scope(engine) as session:
            crafted = build(session)
    finally:
        engine.dispose()
    assert login(web_client).status_code == 303
    page = web_client.get("/reports")
    assert page.status_code == 200 and 'data-testid="events"' in page.text
    token = csrf_of(page)
    assert web_client.post("/reports/detect", data={}).status_code == 403  # no CSRF token
    done = web_client.post("/reports/detect", data={"csrf_token": token})
    assert done.status_code == 303
    page = web_client.get("/reports")
    assert "2026-07-10 降雨过程" in page.text and "大暴雨" in page.text
    event = web_client.get("/reports/events/1")
    assert event.status_code == 200
    assert "HP-PD1" in event.text and "泵站" in event.text and 'data-testid="causes"' in event.text
    for chart in ("hyetograph", "depth_curves", "map"):
        png = web_client.get(f"/reports/events/1/{chart}.png")
        assert png.status_code == 200 and png.content.startswith(b"\x89PNG")
    assert web_client.get("/reports/events/1/nope.png").status_code == 404
    assert web_client.get("/reports/events/9/hyetograph.png").status_code == 404
    # An unknown cause is refused on the page; a known one is recorded.
    bad = web_client.post(
        "/reports/events/1/causes",
        data={"csrf_token": token, "point_id": crafted.points["PD1"], "cause": "aliens"},
    )
    assert bad.status_code == 422 and "unknown cause" in bad.text  # as the API answers
    ok = web_client.post(
        "/reports/events/1/causes",
        data={"csrf_token": token, "point_id": crafted.points["PD1"], "cause": "pump_failure",
              "evidence": "配电柜进水"},
    )  # fmt: skip
    assert ok.status_code == 303
    made = web_client.post("/reports/events/1/rectifications", data={"csrf_token": token})
    assert made.status_code == 303
    event = web_client.get("/reports/events/1")
    assert "配电柜进水" in event.text and "/hazards/rectifications/" in event.text
    xlsx = web_client.get("/reports/events/1/report.xlsx")
    assert xlsx.status_code == 200
    wb = load_workbook(io.BytesIO(xlsx.content))
    assert wb["复盘整改"].max_row == 2
    season = web_client.get("/reports/season.xlsx?year=2026")
    assert season.status_code == 200 and load_workbook(io.BytesIO(season.content)).sheetnames
    pdf = web_client.get("/reports/events/1/report.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-")
