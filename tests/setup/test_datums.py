"""GCJ-02 ↔ WGS 84 against the published control points, and the inverse round trip."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fangxun.datums import Datum, gcj02_to_wgs84, to_wgs84, wgs84_to_gcj02

#: (WGS 84 lat, lon, GCJ-02 lat, lon): the control points of the eviltransform reference tests
#: (Shanghai, Shenzhen, Beijing), shared by its ports in Go, PHP, JS, Kotlin.
CONTROL = [
    (31.1774276, 121.5272106, 31.17530398364597, 121.531541859215),
    (22.543847, 113.912316, 22.540796131694766, 113.9171764808363),
    (39.911954, 116.377817, 39.91334545536069, 116.38404722455657),
]


def _metres(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Haversine distance, m (short distances)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371008.8 * math.asin(math.sqrt(h))


@pytest.mark.parametrize(("w_lat", "w_lon", "g_lat", "g_lon"), CONTROL)
def test_forward_matches_published_values(
    w_lat: float, w_lon: float, g_lat: float, g_lon: float
) -> None:
    lon, lat = wgs84_to_gcj02(w_lon, w_lat)
    assert lon == pytest.approx(g_lon, abs=1e-9)
    assert lat == pytest.approx(g_lat, abs=1e-9)
    # GCJ-02 really is hundreds of metres off: reading it as WGS 84 would misplace a point.
    assert 100 < _metres(w_lon, w_lat, g_lon, g_lat) < 1000


@pytest.mark.parametrize(("w_lat", "w_lon", "g_lat", "g_lon"), CONTROL)
def test_inverse_recovers_control_points(
    w_lat: float, w_lon: float, g_lat: float, g_lon: float
) -> None:
    lon, lat = gcj02_to_wgs84(g_lon, g_lat)
    assert _metres(lon, lat, w_lon, w_lat) < 0.01


@settings(max_examples=300, deadline=None)
@given(st.floats(73.7, 134.9), st.floats(18.2, 53.5))
def test_inverse_round_trip_under_a_metre(lon: float, lat: float) -> None:
    back = gcj02_to_wgs84(*wgs84_to_gcj02(lon, lat))
    assert _metres(back[0], back[1], lon, lat) < 1.0


def test_outside_china_and_other_datums_unchanged() -> None:
    assert wgs84_to_gcj02(139.6917, 35.6895) == (139.6917, 35.6895)  # Tokyo
    assert gcj02_to_wgs84(-0.1276, 51.5072) == (-0.1276, 51.5072)
    assert to_wgs84(117.3, 31.8, Datum.cgcs2000) == (117.3, 31.8)
    assert to_wgs84(117.3, 31.8, "wgs84") == (117.3, 31.8)
    assert to_wgs84(117.3, 31.8, "gcj02") != (117.3, 31.8)
    with pytest.raises(ValueError):
        to_wgs84(117.3, 31.8, "bd09")
