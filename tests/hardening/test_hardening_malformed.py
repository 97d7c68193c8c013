"""Malformed input answers 422 naming the place, never 500 (issue 20 item 10): a deeply nested
GeoJSON import (RecursionError before), and a contingency-plan file whose ``actions`` hold a
non-mapping (AttributeError before) or nested values."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st

from fangxun import jsonsafe

DEEP = "[" * 100_000 + "]" * 100_000


def test_deep_geojson_import_is_refused_with_its_depth(
    client: TestClient, make_unit: object, make_user: object
) -> None:
    district = make_unit("D")  # type: ignore[operator]
    admin = make_user("admin", district)  # type: ignore[operator]
    fc = (
        '{"type":"FeatureCollection","features":[{"type":"Feature","geometry":'
        '{"type":"Point","coordinates":' + DEEP + '},"properties":{}}]}'
    )
    r = client.post(
        "/api/v1/hazard-points/import",
        files={"file": ("deep.geojson", fc.encode(), "application/geo+json")},
        headers=admin.headers(client),
    )
    assert r.status_code == 422, r.text[:300]
    problem = r.json()
    assert any("levels deep" in e["msg"] and "file" in e["loc"] for e in problem["errors"])


@pytest.mark.parametrize(
    ("name", "body", "place", "why"),
    [
        (
            "plan.json",
            json.dumps({"name": "x", "actions": ["开泵"]}).encode(),
            ["plan.json", "actions", 0],
            "valid dictionary",
        ),
        (
            "plan.yaml",
            b"name: x\nactions:\n  - level: IV\n    department: [1, 2]\n    action: a\n",
            ["plan.yaml", "actions", 0, "department"],
            "",
        ),
        (
            "plan.json",
            json.dumps({"name": "x", "actions": [{"level": "IV", "actoin": "a"}]}).encode(),
            ["plan.json", "actions", 0, "actoin"],
            "Extra inputs",
        ),
        ("plan.json", ('{"name": "x", "actions": ' + DEEP + "}").encode(), ["plan.json"], "deep"),
        ("plan.yaml", b"actions: " + b"[" * 5000 + b"]" * 5000, ["plan.yaml"], ""),
    ],
)
def test_bad_plan_files_are_422_naming_the_place(
    client: TestClient,
    make_unit: object,
    make_user: object,
    name: str,
    body: bytes,
    place: list[object],
    why: str,
) -> None:
    district = make_unit("D")  # type: ignore[operator]
    user = make_user("district", district)  # type: ignore[operator]
    r = client.post(
        "/api/v1/response/plans/import",
        data={"unit_id": str(district)},
        files={"file": (name, body, "application/octet-stream")},
        headers=user.headers(client),
    )
    assert r.status_code == 422, r.text[:400]
    errors = r.json()["errors"]
    assert errors[0]["loc"][: len(place)] == place, errors
    assert why in errors[0]["msg"] or why in r.json()["detail"]


@settings(max_examples=60, deadline=None)
@given(
    st.recursive(st.none() | st.integers(), lambda c: st.lists(c) | st.dictionaries(st.text(), c))
)
def test_jsonsafe_loads_agrees_with_json_within_the_limit(value: object) -> None:
    text = json.dumps(value)
    depth = jsonsafe.json_depth(text.encode())
    if depth <= jsonsafe.MAX_FILE_DEPTH:
        assert jsonsafe.loads(text) == value
    else:
        with pytest.raises(jsonsafe.JsonTooDeep):
            jsonsafe.loads(text)
