"""Geometry at the ledger's doors (issue 20, item 6): the API, the Excel and GeoJSON imports all
check outlines with fangxun.geo — a vertex limit from the settings, valid rings, a ``crs`` member
honoured (EPSG:3857 is no longer stored as if it were WGS 84)."""

from __future__ import annotations

import io
import json
import math
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hazard_helpers import Ledger
from openpyxl import Workbook
from pyproj import Transformer

from fangxun.config import Settings
from fangxun.hazards import io as hazard_io

API = "/api/v1"
MAX_VERTICES = 40
SQUARE = [[113.55, 34.79], [113.57, 34.79], [113.57, 34.81], [113.55, 34.81], [113.55, 34.79]]
BOWTIE = [[113.55, 34.79], [113.57, 34.81], [113.57, 34.79], [113.55, 34.81], [113.55, 34.79]]
TO_MERC = Transformer.from_crs("EPSG:4326", "EPSG:3857", always_xy=True)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The shared test settings with a small vertex limit."""
    return settings.model_copy(update={"geometry_max_vertices": MAX_VERTICES})


def _body(ledger: Ledger, code: str, polygon: Any) -> dict[str, Any]:
    return {
        "code": code,
        "name": "测试点",
        "kind": "underpass",
        "lon": 113.56,
        "lat": 34.80,
        "unit_id": ledger.wutong,
        "polygon": polygon,
    }


def _circle(n: int) -> list[list[float]]:
    ring = [
        [
            113.56 + 0.01 * math.cos(2 * math.pi * k / n),
            34.80 + 0.01 * math.sin(2 * math.pi * k / n),
        ]
        for k in range(n)
    ]
    return [*ring, ring[0]]


def test_api_refuses_bad_outlines_saying_why(client: TestClient, ledger: Ledger) -> None:
    h = ledger.h(client, "district")
    cases = [
        ({"type": "Polygon", "coordinates": [BOWTIE]}, "Self-intersection"),
        ({"type": "Polygon", "coordinates": [_circle(MAX_VERTICES)]}, f"at most {MAX_VERTICES}"),
        ({"type": "Polygon", "coordinates": [[[*p, 1.0, 2.0] for p in SQUARE]]}, "2-D or 3-D"),
        ({"type": "Polygon", "coordinates": [SQUARE], "crs": "EPSG:999999"}, "EPSG:999999"),
    ]
    for i, (polygon, message) in enumerate(cases):
        r = client.post(f"{API}/hazard-points", json=_body(ledger, f"G-{i}", polygon), headers=h)
        assert r.status_code == 422, (message, r.text)
        assert message in r.text
        assert "polygon" in json.dumps(r.json())
    ok = {"type": "Polygon", "coordinates": [_circle(MAX_VERTICES - 1)]}
    r = client.post(f"{API}/hazard-points", json=_body(ledger, "G-ok", ok), headers=h)
    assert r.status_code == 201, r.text


def test_api_honours_a_crs_member(client: TestClient, ledger: Ledger) -> None:
    h = ledger.h(client, "district")
    merc = [list(TO_MERC.transform(*p)) for p in SQUARE]
    polygon = {"type": "Polygon", "coordinates": [merc], "crs": "EPSG:3857"}
    r = client.post(f"{API}/hazard-points", json=_body(ledger, "G-3857", polygon), headers=h)
    assert r.status_code == 201, r.text
    stored = r.json()["polygon"]
    assert "crs" not in stored
    for got, want in zip(stored["coordinates"][0], SQUARE, strict=True):
        assert got == pytest.approx(want, abs=1e-9)


def _feature(code: str, lon: float, lat: float, polygon: Any = None) -> dict[str, Any]:
    props: dict[str, Any] = {"code": code, "name": code, "kind": "低洼路段", "unit": "WUTONG"}
    if polygon is not None:
        props["polygon"] = polygon
    return {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [lon, lat]},
        "properties": props,
    }


def test_geojson_import_honours_the_collection_crs(client: TestClient, ledger: Ledger) -> None:
    h = ledger.h(client, "district")
    x, y = TO_MERC.transform(113.56, 34.80)
    merc = [list(TO_MERC.transform(*p)) for p in SQUARE]
    fc = {
        "type": "FeatureCollection",
        "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::3857"}},
        "features": [_feature("M-1", x, y, {"type": "Polygon", "coordinates": [merc]})],
    }
    r = client.post(
        f"{API}/hazard-points/import",
        files={"file": ("m.geojson", io.BytesIO(json.dumps(fc).encode()), "x")},
        headers=h,
    )
    assert r.status_code == 200, r.text
    points = client.get(f"{API}/hazard-points", params={"q": "M-1"}, headers=h).json()["items"]
    assert len(points) == 1
    assert (points[0]["lon"], points[0]["lat"]) == pytest.approx((113.56, 34.80), abs=1e-9)
    for got, want in zip(points[0]["polygon"]["coordinates"][0], SQUARE, strict=True):
        assert got == pytest.approx(want, abs=1e-9)


def test_geojson_import_refuses_an_unknown_crs(client: TestClient, ledger: Ledger) -> None:
    fc = {"type": "FeatureCollection", "crs": "EPSG:999999", "features": [_feature("M-2", 0, 0)]}
    r = client.post(
        f"{API}/hazard-points/import",
        files={"file": ("m.geojson", io.BytesIO(json.dumps(fc).encode()), "x")},
        headers=ledger.h(client, "district"),
    )
    assert r.status_code == 422 and "EPSG:999999" in r.text


def test_excel_import_names_the_bad_outline(client: TestClient, ledger: Ledger) -> None:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append([header for _, header in hazard_io.COLUMNS])
    row = {k: None for k, _ in hazard_io.COLUMNS}
    row.update(
        code="X-1", name="X-1", kind="低洼路段", lon=113.56, lat=34.80, unit="WUTONG",
        polygon=json.dumps({"type": "Polygon", "coordinates": [BOWTIE]}),
    )  # fmt: skip
    ws.append([row[k] for k, _ in hazard_io.COLUMNS])
    buf = io.BytesIO()
    wb.save(buf)
    r = client.post(
        f"{API}/hazard-points/import",
        files={"file": ("x.xlsx", io.BytesIO(buf.getvalue()), "x")},
        headers=ledger.h(client, "district"),
    )
    assert r.status_code == 422, r.text
    assert "Self-intersection" in r.text
