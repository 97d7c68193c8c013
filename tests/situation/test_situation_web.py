"""Situation room pages without a browser: the live panel's JSON, its server-sent events, the
teams-and-warehouses layer, the wall mode; all behind the login."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from fangxun.web import situation_pages


def test_pages_need_a_login(web_client: TestClient) -> None:
    for path in ("/situation.json", "/situation/events", "/situation/resources.geojson", "/wall"):
        response = web_client.get(path)
        assert response.status_code == 303, path
        assert response.headers["location"].startswith("/login"), path


def test_snapshot_json_and_resources(web_client: TestClient, login: Any) -> None:
    assert login(web_client).status_code == 303
    response = web_client.get("/situation.json")
    assert response.status_code == 200
    data = response.json()
    assert set(data["sections"]) == {
        "signal", "response", "rain", "points", "incidents", "notifications", "duty", "offices",
    }  # fmt: skip
    assert data["sections"]["rain"]["data"]["max_mm"] == {
        "1h": 0.0, "3h": 0.0, "24h": 0.0, "event": 0.0,
    }  # fmt: skip
    assert data["forecast"] is None
    geo = web_client.get("/situation/resources.geojson")
    assert geo.status_code == 200 and geo.headers["content-type"] == "application/geo+json"
    assert geo.json() == {"type": "FeatureCollection", "features": []}


def test_events_stream_the_snapshot(
    web_client: TestClient, login: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A short stream: the first event, then the stream ends and the browser would reconnect.
    monkeypatch.setattr(situation_pages, "STREAM_S", 0.5)
    monkeypatch.setattr(situation_pages, "POLL_S", 0.1)
    assert login(web_client).status_code == 303
    with web_client.stream("GET", "/situation/events") as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        body = "".join(response.iter_text())
    events = [block for block in body.replace("\r\n", "\n").split("\n\n") if "data:" in block]
    assert len(events) == 1, "an unchanged situation is sent once"
    fields = dict(line.split(": ", 1) for line in events[0].splitlines() if ": " in line)
    assert fields["event"] == "situation"
    assert fields["retry"] == str(situation_pages.RETRY_MS)
    payload = json.loads(fields["data"])
    assert "sections" in payload and "as_of" in payload
    # Sent again with the id the browser saw: nothing new.
    with web_client.stream(
        "GET", "/situation/events", headers={"Last-Event-ID": fields["id"]}
    ) as response:
        again = "".join(response.iter_text())
    assert "event: situation" not in again


def test_map_and_wall(web_client: TestClient, login: Any) -> None:
    assert login(web_client).status_code == 303
    page = web_client.get("/map")
    assert page.status_code == 200
    assert 'data-testid="situation"' in page.text and "js/situation.js" in page.text
    assert 'class="map-body"' in page.text
    # The former wall address goes to the wall: a page of its own, dark and without controls.
    assert web_client.get("/map?screen=wall").headers["location"] == "/wall"
    wall = web_client.get("/wall")
    assert 'class="wall-body"' in wall.text and 'data-testid="wall"' in wall.text
    config = wall.text.split('id="wall-config">', 1)[1].split("</script>", 1)[0]
    assert json.loads(config)["replay"] is None, "no replay: the wall shows the wall clock"
    assert json.loads(config)["labels"]["levels"]["II"] == "Ⅱ级应急响应"
