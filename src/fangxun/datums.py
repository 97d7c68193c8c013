"""Geodetic datums of coordinate inputs, and their conversion to WGS 84 (what Fangxun stores).

* ``wgs84`` — as stored.
* ``cgcs2000`` — China Geodetic Coordinate System 2000. Its ellipsoid and frame differ from WGS 84
  by centimetres (flattening 1/298.257222101 vs 1/298.257223563; ITRF97 epoch 2000.0), far below
  the metre accuracy of a hazard point or a station, so it is taken as WGS 84 unchanged.
* ``gcj02`` — the obfuscated datum Chinese web maps (高德, 腾讯, 天地图 tiles in some styles) show,
  100–700 m from WGS 84. Its forward transform (WGS 84 → GCJ-02) is the published reconstruction
  (Krasovsky 1940 ellipsoid, the polynomial-plus-sine offsets); the inverse has no closed form, so
  :func:`gcj02_to_wgs84` solves it by fixed-point iteration on the forward transform, to 1e-9 degree
  (about 0.1 mm). Outside mainland China GCJ-02 equals WGS 84.

No PyPI package fits: the candidates (eviltransform 2018, prcoords 2019, coord-convert 2019) are
unmaintained and untyped, and prcoords stops its inverse at 1e-5 degree (about 1 m). The transform
is fifty lines; the tests check it against the control points the implementations share.

>>> lon, lat = wgs84_to_gcj02(121.5272106, 31.1774276)  # Shanghai
>>> round(lon, 9), round(lat, 9)
(121.531541859, 31.175303984)
"""

from __future__ import annotations

import enum
import math

#: Krasovsky 1940 semi-major axis, m, and first eccentricity squared (the GCJ-02 ellipsoid).
_KRASOVSKY_A = 6378245.0
_KRASOVSKY_EE = 0.00669342162296594323

#: Inverse iteration stops when the forward transform of the estimate is this close, degrees.
_INVERSE_TOL_DEG = 1e-9
_INVERSE_MAX_ITER = 30


class Datum(enum.StrEnum):
    """The datum a coordinate input states."""

    wgs84 = "wgs84"
    cgcs2000 = "cgcs2000"
    gcj02 = "gcj02"


def outside_china(lon: float, lat: float) -> bool:
    """Whether GCJ-02 leaves the point as WGS 84 (the rectangle the published transform uses)."""
    return not (72.004 <= lon <= 137.8347 and 0.8293 <= lat <= 55.8271)


def _offset_lat(x: float, y: float) -> float:
    ret = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x))
    ret += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    ret += (20.0 * math.sin(y * math.pi) + 40.0 * math.sin(y / 3.0 * math.pi)) * 2.0 / 3.0
    ret += (160.0 * math.sin(y / 12.0 * math.pi) + 320.0 * math.sin(y * math.pi / 30.0)) * 2.0 / 3.0
    return ret


def _offset_lon(x: float, y: float) -> float:
    ret = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
    ret += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    ret += (20.0 * math.sin(x * math.pi) + 40.0 * math.sin(x / 3.0 * math.pi)) * 2.0 / 3.0
    ret += (150.0 * math.sin(x / 12.0 * math.pi) + 300.0 * math.sin(x / 30.0 * math.pi)) * 2.0 / 3.0
    return ret


def wgs84_to_gcj02(lon: float, lat: float) -> tuple[float, float]:
    """WGS 84 ``(lon, lat)`` degrees → GCJ-02 ``(lon, lat)`` degrees (the forward transform)."""
    if outside_china(lon, lat):
        return lon, lat
    x, y = lon - 105.0, lat - 35.0
    d_lat_m, d_lon_m = _offset_lat(x, y), _offset_lon(x, y)
    rad_lat = math.radians(lat)
    magic = 1.0 - _KRASOVSKY_EE * math.sin(rad_lat) ** 2
    sqrt_magic = math.sqrt(magic)
    d_lat = (d_lat_m * 180.0) / (
        (_KRASOVSKY_A * (1 - _KRASOVSKY_EE)) / (magic * sqrt_magic) * math.pi
    )
    d_lon = (d_lon_m * 180.0) / (_KRASOVSKY_A / sqrt_magic * math.cos(rad_lat) * math.pi)
    return lon + d_lon, lat + d_lat


def gcj02_to_wgs84(lon: float, lat: float) -> tuple[float, float]:
    """GCJ-02 ``(lon, lat)`` degrees → WGS 84 ``(lon, lat)``, by iterating the forward transform.

    The offset varies slowly (metres per kilometre), so ``w ← w − (fwd(w) − g)`` converges in a few
    steps to well under a millimetre.
    """
    if outside_china(lon, lat):
        return lon, lat
    w_lon, w_lat = lon, lat
    for _ in range(_INVERSE_MAX_ITER):
        g_lon, g_lat = wgs84_to_gcj02(w_lon, w_lat)
        e_lon, e_lat = g_lon - lon, g_lat - lat
        w_lon, w_lat = w_lon - e_lon, w_lat - e_lat
        if abs(e_lon) < _INVERSE_TOL_DEG and abs(e_lat) < _INVERSE_TOL_DEG:
            break
    return w_lon, w_lat


def to_wgs84(lon: float, lat: float, datum: Datum | str) -> tuple[float, float]:
    """``(lon, lat)`` in ``datum`` as WGS 84 degrees. CGCS2000 is taken as WGS 84 (centimetres)."""
    d = Datum(datum)
    if d is Datum.gcj02:
        return gcj02_to_wgs84(lon, lat)
    return lon, lat
