"""The offline basemap: the demo terrain's hillshade PNG and its WGS 84 bounds.

``fangxun.demo`` writes ``<data_dir>/demo/hillshade.png`` and ``<data_dir>/demo/hillshade.json``;
the JSON gives the bounds of the image in WGS 84 degrees, in Leaflet's ``LatLngBounds`` order (the
image itself is warped to Web Mercator, Leaflet's default CRS, so the overlay lines up)::

    {"bounds": [[south, west], [north, east]], ...}

>>> parse_bounds({"bounds": [[34.78, 113.5], [34.85, 113.6]]})
Bounds(south=34.78, west=113.5, north=34.85, east=113.6)
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

HILLSHADE_PNG: Final = "hillshade.png"
HILLSHADE_JSON: Final = "hillshade.json"


class BasemapError(ValueError):
    """The hillshade metadata is unreadable or its bounds are not valid WGS 84 degrees."""


@dataclass(frozen=True)
class Bounds:
    """A WGS 84 box in degrees (latitude south/north, longitude west/east)."""

    south: float
    west: float
    north: float
    east: float

    def leaflet(self) -> list[list[float]]:
        """``[[south, west], [north, east]]``, as ``L.imageOverlay`` wants it."""
        return [[self.south, self.west], [self.north, self.east]]


@dataclass(frozen=True)
class Hillshade:
    """An available hillshade: the PNG on disk and its bounds."""

    png: Path
    bounds: Bounds


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise BasemapError(f"{where}: expected a finite number of degrees, got {value!r}")
    return float(value)


def parse_bounds(meta: Any) -> Bounds:
    """Read the bounds from the hillshade metadata ``meta`` (parsed JSON); :class:`BasemapError`
    says which key is missing or which value is out of range."""
    if not isinstance(meta, dict):
        raise BasemapError(f"expected a JSON object, got {type(meta).__name__}")
    if "bounds" not in meta:
        raise BasemapError("no 'bounds' key: expected [[south, west], [north, east]]")
    b = meta["bounds"]
    if not (isinstance(b, list) and len(b) == 2 and all(isinstance(p, list) for p in b)):
        raise BasemapError("bounds: expected [[south, west], [north, east]]")
    if not all(len(p) == 2 for p in b):
        raise BasemapError("bounds: each corner must be [latitude, longitude]")
    south, west = (_number(v, f"bounds[0][{i}]") for i, v in enumerate(b[0]))
    north, east = (_number(v, f"bounds[1][{i}]") for i, v in enumerate(b[1]))
    if not (-90.0 <= south < north <= 90.0):
        raise BasemapError(f"latitudes must satisfy -90 <= south < north <= 90: {south}, {north}")
    if not (-180.0 <= west < east <= 180.0):
        raise BasemapError(f"longitudes must satisfy -180 <= west < east <= 180: {west}, {east}")
    return Bounds(south=south, west=west, north=north, east=east)


def demo_dir(data_dir: Path) -> Path:
    """The folder where the demo writes its terrain products."""
    return data_dir / "demo"


def find_hillshade(data_dir: Path) -> Hillshade | None:
    """The demo hillshade under ``data_dir``; None when the PNG or its metadata is missing.

    Raises :class:`BasemapError` (naming the file) when the metadata exists but is invalid.
    """
    folder = demo_dir(data_dir)
    png, meta_path = folder / HILLSHADE_PNG, folder / HILLSHADE_JSON
    if not (png.is_file() and meta_path.is_file()):
        return None
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        return Hillshade(png=png, bounds=parse_bounds(meta))
    except (OSError, json.JSONDecodeError, BasemapError) as exc:
        raise BasemapError(f"{meta_path}: {exc}") from exc


__all__ = ["BasemapError", "Bounds", "Hillshade", "demo_dir", "find_hillshade", "parse_bounds"]
