"""One validation of every geometry that comes in (API bodies, imports, forms): GeoJSON (RFC 7946)
positions and polygons, checked and brought to WGS 84 lon/lat.

* positions have 2 or 3 finite numbers (lon, lat[, height]); longitude in [-180, 180], latitude
  in [-90, 90] after any transformation;
* a polygon has at most ``max_vertices`` positions in all its rings together (``Settings.
  geometry_max_vertices``), each ring at least 4 positions and closed, and it is valid in the
  OGC sense (no self-intersection, holes inside the shell). An invalid polygon is **refused, not
  repaired**: Shapely's ``make_valid`` would turn a crossed outline into a multi-polygon or drop
  part of it, and nobody would see that the stored area is not the one drawn;
* a ``crs`` member (GeoJSON 2008 style, ``{"type": "name", "properties": {"name":
  "urn:ogc:def:crs:EPSG::3857"}}`` or ``"EPSG:3857"``) is honoured: the coordinates are
  transformed to WGS 84 with pyproj. WGS 84, CRS84 and CGCS2000 (EPSG:4490, the same to
  centimetres) are taken as they are; a CRS pyproj does not know is refused.

Every problem is a :class:`GeometryError` (a ``ValueError``, so Pydantic answers 422) whose
message says where: ``ring 1, position 3: ...``.

>>> check_polygon({"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]})
{'type': 'Polygon', 'coordinates': [[[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 0.0]]]}
>>> bowtie = [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]
>>> try:
...     check_polygon({"type": "Polygon", "coordinates": bowtie})
... except GeometryError as exc:
...     print(str(exc).split(":")[0])
the polygon is not valid (Self-intersection at 0.5, 0.5)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

#: Used when the caller gives no limit and :func:`configure` was not called (the setting's default).
DEFAULT_MAX_VERTICES = 10_000
_limits = {"max_vertices": DEFAULT_MAX_VERTICES}

#: CRS names read as WGS 84 lon/lat without a transformation.
_WGS84_NAMES = frozenset(
    {
        "urn:ogc:def:crs:ogc:1.3:crs84",
        "urn:ogc:def:crs:ogc::crs84",
        "ogc:crs84",
        "crs84",
        "epsg:4326",
        "urn:ogc:def:crs:epsg::4326",
        "urn:ogc:def:crs:epsg:6.6:4326",
        "epsg:4490",
        "urn:ogc:def:crs:epsg::4490",
    }
)

Position = list[float]


class GeometryError(ValueError):
    """A geometry refused; the message says what and where."""


def configure(*, max_vertices: int) -> None:
    """Set the process-wide vertex limit (``Settings.geometry_max_vertices``); the app and the
    CLI call it with their settings, so schema validators need no settings object."""
    if max_vertices < 4:
        raise ValueError("max_vertices must be at least 4")
    _limits["max_vertices"] = max_vertices


def max_vertices() -> int:
    """The vertex limit in force."""
    return _limits["max_vertices"]


# --- CRS ------------------------------------------------------------------------------------------


def crs_name(crs: Any) -> str | None:
    """The name of a GeoJSON ``crs`` member (``None`` when absent), or :class:`GeometryError`."""
    if crs is None:
        return None
    if isinstance(crs, str):
        return crs
    if isinstance(crs, dict):
        props = crs.get("properties")
        if (
            crs.get("type") == "name"
            and isinstance(props, dict)
            and isinstance(props.get("name"), str)
        ):
            return str(props["name"])
    raise GeometryError(
        'crs: expected {"type": "name", "properties": {"name": "EPSG:…"}} '
        "(linked CRS are not supported); or leave it out for WGS 84 lon/lat"
    )


@lru_cache(maxsize=32)
def _transformer(name: str) -> Any:
    from pyproj import CRS, Transformer
    from pyproj.exceptions import CRSError

    try:
        source = CRS.from_user_input(name)
    except CRSError:
        raise GeometryError(
            f"crs: {name!r} is not a coordinate reference system we know; "
            "give an EPSG code (e.g. EPSG:4547) or send WGS 84 lon/lat without a crs"
        ) from None
    return Transformer.from_crs(source, "EPSG:4326", always_xy=True)


def transformer_for(crs: Any) -> Any | None:
    """A pyproj transformer to WGS 84 lon/lat for a GeoJSON ``crs`` member; ``None`` for WGS 84."""
    name = crs_name(crs)
    if name is None or name.strip().lower() in _WGS84_NAMES:
        return None
    return _transformer(name.strip())


# --- positions and polygons ---------------------------------------------------------------------


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def check_position(
    pos: Any, *, where: str = "position", transformer: Any | None = None
) -> Position:
    """``pos`` as ``[lon, lat]`` or ``[lon, lat, height]`` floats in WGS 84, else
    :class:`GeometryError`; ``transformer`` (:func:`transformer_for`) maps it to WGS 84 first."""
    if not isinstance(pos, list | tuple) or not 2 <= len(pos) <= 3:
        raise GeometryError(f"{where}: expected [lon, lat] or [lon, lat, height] (2-D or 3-D)")
    if not all(_number(c) for c in pos):
        raise GeometryError(f"{where}: coordinates must be finite numbers, not {list(pos)!r}")
    out = [float(c) for c in pos]
    if transformer is not None:
        x, y = transformer.transform(out[0], out[1])
        if not (math.isfinite(x) and math.isfinite(y)):
            raise GeometryError(f"{where}: {out[:2]} cannot be transformed to WGS 84")
        out[0], out[1] = float(x), float(y)
    if not (-180.0 <= out[0] <= 180.0 and -90.0 <= out[1] <= 90.0):
        raise GeometryError(f"{where}: {out[:2]} is not a WGS 84 [lon, lat] (lon ±180°, lat ±90°)")
    return out


def check_polygon(
    value: Any, *, limit: int | None = None, crs: Any | None = None
) -> dict[str, Any]:
    """A GeoJSON Polygon checked and in WGS 84 lon/lat; :class:`GeometryError` says what is wrong.

    ``limit`` (vertices, all rings) defaults to :func:`max_vertices`; ``crs`` is the enclosing
    document's ``crs`` member (a ``crs`` member of ``value`` itself wins).
    """
    if not isinstance(value, dict) or value.get("type") != "Polygon":
        raise GeometryError("must be a GeoJSON Polygon geometry")
    rings = value.get("coordinates")
    if not isinstance(rings, list) or not rings:
        raise GeometryError("a Polygon needs a list of rings (at least one)")
    if not all(isinstance(ring, list) for ring in rings):
        raise GeometryError("each ring must be a list of positions")
    limit = max_vertices() if limit is None else limit
    count = sum(len(ring) for ring in rings)
    if count > limit:
        raise GeometryError(
            f"the polygon has {count} vertices; at most {limit} are accepted "
            "(simplify the outline, e.g. to 0.5 m)"
        )
    transformer = transformer_for(value.get("crs", crs))
    out: list[list[Position]] = []
    for i, ring in enumerate(rings, start=1):
        if len(ring) < 4:
            raise GeometryError(f"ring {i}: needs at least 4 positions, has {len(ring)}")
        checked = [
            check_position(pos, where=f"ring {i}, position {j}", transformer=transformer)
            for j, pos in enumerate(ring, start=1)
        ]
        if checked[0][:2] != checked[-1][:2]:
            raise GeometryError(f"ring {i}: not closed (the first and last positions differ)")
        out.append(checked)
    _check_valid(out)
    return {"type": "Polygon", "coordinates": out}


def _check_valid(rings: Sequence[Sequence[Position]]) -> None:
    import shapely
    from shapely.geometry import Polygon

    polygon = Polygon([p[:2] for p in rings[0]], [[p[:2] for p in r] for r in rings[1:]])
    if not shapely.is_valid(polygon):
        reason = shapely.is_valid_reason(polygon)
        text, _, at = reason.partition("[")
        where = f" at {', '.join(f'{float(c):g}' for c in at.rstrip(']').split())}" if at else ""
        raise GeometryError(
            f"the polygon is not valid ({text.strip()}{where}): refused, not repaired; "
            "draw the outline again without crossing edges"
        )
