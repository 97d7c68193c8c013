"""The monitoring web page, its JSON feeds and its server-sent event stream (no browser)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from mon_helpers import Network
from sqlalchemy import Engine

from fangxun.db import session_scope
from fangxun.monitoring.ingest.parser import ObservationMessage
from fangxun.monitoring.ingest.writer import Pending, write_observations
from fangxun.monitoring.models import Source
from fangxun.org.models import Role

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def web_login(client: TestClient, username: str, password: str) -> None:
    form = client.get("/login")
    match = CSRF_RE.search(form.text)
    assert match, form.text[:500]
    r = client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": match.group(1)},
        follow_redirects=False,
    )
    assert r.status_code in (302, 303), r.text[:500]


def test_page_feeds_and_events(
    client: TestClient,
    engine: Engine,
    network: Network,
    make_user: Callable[..., Any],
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    with session_scope(engine) as session:
        write_observations(
            session=session,
            items=[
                Pending(ObservationMessage(datastream=network.river, time=now, value=89.1)),
                Pending(
                    ObservationMessage(
                        datastream=network.rain, time=now - timedelta(minutes=5), value=4.2
                    )
                ),
            ],
            source=Source.http,
        )
    assert client.get("/monitoring", follow_redirects=False).status_code in (302, 303, 401)
    user = make_user(Role.viewer)
    web_login(client, user.username, user.password)

    page = client.get("/monitoring")
    assert page.status_code == 200
    assert 'data-testid="monitoring"' in page.text
    for code in ("RG01", "PD01", "RV01"):
        assert f'data-code="{code}"' in page.text
    assert "89.10 m" in page.text

    latest = {s["code"]: s for s in client.get("/monitoring/latest.json").json()}
    (river,) = latest["RV01"]["datastreams"]
    assert river["value"] == 89.1 and river["level_status"] == "warning"

    series = client.get(f"/monitoring/series/{network.rain}.json", params={"hours": 1}).json()
    assert series["unit"] == "mm"
    assert [p[1] for p in series["points"]] == [4.2]
    assert client.get("/monitoring/series/NOPE.json").status_code == 404

    first = client.get("/monitoring/events")
    assert first.headers["content-type"].startswith("text/event-stream")
    body = first.text
    assert body.startswith("retry: 3000\nid: ")
    event_id = body.split("id: ", 1)[1].split("\n", 1)[0]
    assert "\nevent: latest\ndata: " in body
    stations = json.loads(body.split("data: ", 1)[1])
    assert {s["code"] for s in stations} == {"RG01", "RG02", "PD01", "RV01"}
    # Nothing new since that event: only a comment, no data.
    same = client.get("/monitoring/events", headers={"Last-Event-ID": event_id}).text
    assert same == "retry: 3000\n: unchanged\n\n"
    with session_scope(engine) as session:
        write_observations(
            session=session,
            items=[Pending(ObservationMessage(datastream=network.ponding, time=now, value=5.0))],
            source=Source.http,
        )
    changed = client.get("/monitoring/events", headers={"Last-Event-ID": event_id}).text
    assert "event: latest" in changed and "PD01-depth" in changed
