"""fangxun.geo, the one geometry check of every input (issue 20, item 6): vertex limit, closed and
valid rings, positions 2-D/3-D in range, a GeoJSON ``crs`` member honoured or refused."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pyproj import Transformer

from fangxun import geo

SQUARE = [[113.5, 34.8], [113.6, 34.8], [113.6, 34.9], [113.5, 34.9], [113.5, 34.8]]


def poly(*rings: list[list[float]], **extra: object) -> dict[str, object]:
    return {"type": "Polygon", "coordinates": list(rings), **extra}


def test_a_valid_polygon_passes_unchanged() -> None:
    assert geo.check_polygon(poly(SQUARE)) == poly(SQUARE)


def test_vertex_limit() -> None:
    ring = [[113.5 + 0.1 * math.cos(t / 50), 34.8 + 0.1 * math.sin(t / 50)] for t in range(300)]
    ring.append(ring[0])
    assert geo.check_polygon(poly(ring), limit=301)
    with pytest.raises(geo.GeometryError, match="301 vertices; at most 300"):
        geo.check_polygon(poly(ring), limit=300)


def test_configured_limit_is_the_default() -> None:
    try:
        geo.configure(max_vertices=4)
        with pytest.raises(geo.GeometryError, match="at most 4"):
            geo.check_polygon(poly(SQUARE))
    finally:
        geo.configure(max_vertices=geo.DEFAULT_MAX_VERTICES)


@pytest.mark.parametrize(
    ("rings", "message"),
    [
        ([[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]], "Self-intersection at 0.5, 0.5"),
        ([SQUARE[:-1]], "ring 1: not closed"),
        ([SQUARE[:3]], "ring 1: needs at least 4 positions"),
        ([SQUARE, [[0, 0], [1, 0], [1, 1], [0, 0]]], "Hole lies outside shell"),
        ([[*SQUARE[:2], [113.6, 34.9, 1.0, 2.0], *SQUARE[3:]]], "ring 1, position 3: .*2-D or 3-D"),
        ([[*SQUARE[:2], [200.0, 34.9], *SQUARE[3:]]], "ring 1, position 3: .*not a WGS 84"),
        ([[*SQUARE[:2], [math.nan, 34.9], *SQUARE[3:]]], "finite numbers"),
        ([[*SQUARE[:2], [True, 34.9], *SQUARE[3:]]], "finite numbers"),
    ],
)
def test_bad_polygons_are_refused_saying_where(rings: list[object], message: str) -> None:
    with pytest.raises(geo.GeometryError, match=message):
        geo.check_polygon(poly(*rings))  # type: ignore[arg-type]


def test_a_3d_polygon_keeps_its_heights() -> None:
    ring = [[*p, 87.5] for p in SQUARE]
    assert geo.check_polygon(poly(ring))["coordinates"] == [ring]


@pytest.mark.parametrize(
    "crs",
    [
        "EPSG:3857",
        {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::3857"}},
    ],
)
def test_a_crs_member_is_honoured(crs: object) -> None:
    to_merc = Transformer.from_crs("EPSG:4326", "EPSG:3857", always_xy=True)
    ring = [list(to_merc.transform(*p)) for p in SQUARE]
    out = geo.check_polygon(poly(ring, crs=crs))
    assert "crs" not in out
    for got, want in zip(out["coordinates"][0], SQUARE, strict=True):  # type: ignore[index]
        assert got == pytest.approx(want, abs=1e-9)


def test_wgs84_names_are_not_transformed() -> None:
    for name in ("urn:ogc:def:crs:OGC:1.3:CRS84", "EPSG:4326", "EPSG:4490"):
        assert geo.check_polygon(poly(SQUARE, crs=name)) == poly(SQUARE)


@pytest.mark.parametrize(
    ("crs", "message"),
    [
        ("EPSG:999999", "not a coordinate reference system we know"),
        ({"type": "link", "properties": {"href": "http://x"}}, "linked CRS are not supported"),
    ],
)
def test_an_unknown_crs_is_refused(crs: object, message: str) -> None:
    with pytest.raises(geo.GeometryError, match=message):
        geo.check_polygon(poly(SQUARE, crs=crs))


@given(
    st.lists(
        st.one_of(st.floats(allow_nan=True), st.integers(), st.booleans(), st.none(), st.text()),
        max_size=5,
    )
)
def test_check_position_accepts_only_wgs84_2d_3d(pos: list[object]) -> None:
    try:
        out = geo.check_position(pos)
    except geo.GeometryError:
        return
    assert 2 <= len(out) <= 3 and all(math.isfinite(c) for c in out)
    assert -180 <= out[0] <= 180 and -90 <= out[1] <= 90
