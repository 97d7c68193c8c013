"""Jurisdiction isolation, generated from the OpenAPI schema: role × unit × endpoint.

On the demo district, every ``GET`` route under ``/api/v1`` whose last segment is one path id
(``/x/{x_id}``) and whose collection (``/x``) lists objects with a ``unit_id`` is exercised:

* for each ``unit`` login of a street office, every object of *another* street office (or a unit
  below one) must answer 404 (403 is accepted: the role may not read that kind at all), and the
  collection must not list it;
* objects of the user's own office answer 200 or 403 (never 404), so the matrix can fail both ways;
* a ``district`` login sees everything (positive control).
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from fangxun.api.app import create_app
from fangxun.config import Settings
from fangxun.db import session_scope
from fangxun.demo.org_seed import load_demo

#: Street-office logins of the demo district (username, unit code); password "<username>-demo".
UNIT_LOGINS = [("wutong", "WUTONG"), ("gouzhao", "GOUZHAO"), ("fengyang", "FENGYANG")]
DETAIL = re.compile(r"^(/api/v1/.+)/\{[a-z_]+\}$")
#: Objects sampled per (endpoint, unit) cell, inside and outside the jurisdiction.
SAMPLES = 4


def _token(client: TestClient, username: str) -> dict[str, str]:
    response = client.post(
        "/api/v1/auth/token", data={"username": username, "password": f"{username}-demo"}
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def _items(body: Any) -> list[dict[str, Any]]:
    if isinstance(body, dict):
        for key in ("items", "features", "results", "data"):
            if isinstance(body.get(key), list):
                return [i for i in body[key] if isinstance(i, dict)]
        return []
    return [i for i in body if isinstance(i, dict)] if isinstance(body, list) else []


def _unit_of(item: dict[str, Any]) -> int | None:
    if "unit_id" in item:
        return item["unit_id"]
    props = item.get("properties")
    if isinstance(props, dict) and "unit_id" in props:
        return props["unit_id"]
    return None


def _id_of(item: dict[str, Any]) -> Any:
    if "id" in item:
        return item["id"]
    props = item.get("properties")
    return props.get("id") if isinstance(props, dict) else None


def _list(
    client: TestClient, path: str, headers: dict[str, str]
) -> tuple[int, list[dict[str, Any]]]:
    for query in ("?limit=500", "?limit=100", ""):
        response = client.get(path + query, headers=headers)
        if response.status_code != 422:
            break
    if response.status_code != 200 or "json" not in response.headers.get("content-type", ""):
        return response.status_code, []
    return 200, _items(response.json())


@pytest.mark.slow
def test_unit_users_never_see_another_street_offices_objects(
    settings: Settings, engine: Engine
) -> None:
    with session_scope(engine) as session:
        load_demo(session=session, settings=settings, write_terrain=False)
    with TestClient(create_app(settings, engine=engine)) as client:
        district = _token(client, "district")
        units = _items(client.get("/api/v1/units?limit=500", headers=district).json())
        parent = {u["id"]: u.get("parent_id") for u in units}
        code_of = {u["id"]: u["code"] for u in units}
        kind_of = {u["id"]: u.get("kind") for u in units}

        def office_of(unit_id: int | None) -> int | None:
            """The street office a unit belongs to (itself or an ancestor), None for others."""
            seen = 0
            while unit_id is not None and seen < 50:
                if kind_of.get(unit_id) == "street_office":
                    return unit_id
                unit_id, seen = parent.get(unit_id), seen + 1
            return None

        paths = client.get("/api/openapi.json").json()["paths"]
        endpoints: list[tuple[str, str, dict[int, list[Any]]]] = []
        for path, ops in sorted(paths.items()):
            match = DETAIL.match(path)
            if "get" not in ops or match is None or "{" in match.group(1):
                continue
            collection = match.group(1)
            if "get" not in paths.get(collection, {}):
                continue
            status, items = _list(client, collection, district)
            by_office: dict[int, list[Any]] = defaultdict(list)
            for item in items:
                office = office_of(_unit_of(item))
                if office is not None and _id_of(item) is not None:
                    by_office[office].append(_id_of(item))
            if by_office:
                endpoints.append((path, collection, by_office))
        assert len(endpoints) >= 3, f"too few endpoints with per-office objects: {endpoints}"

        violations: list[str] = []
        cells = 0
        for username, office_code in UNIT_LOGINS:
            headers = _token(client, username)
            office = next(uid for uid, code in code_of.items() if code == office_code)
            for path, collection, by_office in endpoints:
                _status, visible = _list(client, collection, headers)
                for item in visible:
                    other = office_of(_unit_of(item))
                    if other is not None and other != office:
                        violations.append(
                            f"{username}: {collection} lists {_id_of(item)} of {code_of[other]}"
                        )
                for owner, ids in by_office.items():
                    for object_id in ids[:SAMPLES]:
                        url = re.sub(r"\{[a-z_]+\}$", str(object_id), path)
                        status = client.get(url, headers=headers).status_code
                        cells += 1
                        if owner != office and status not in (403, 404):
                            violations.append(
                                f"{username}: GET {url} ({code_of[owner]}) -> {status}"
                            )
                        if owner == office and status not in (200, 403):
                            violations.append(f"{username}: GET {url} (own office) -> {status}")
        # Positive control: the district office reads every sampled object.
        for path, _collection, by_office in endpoints:
            for ids in by_office.values():
                url = re.sub(r"\{[a-z_]+\}$", str(ids[0]), path)
                assert client.get(url, headers=district).status_code == 200, url
    print(f"jurisdiction matrix: {[e[0] for e in endpoints]}, {cells} cells")
    assert cells > 20, f"only {cells} matrix cells exercised"
    assert not violations, "\n".join(violations)
