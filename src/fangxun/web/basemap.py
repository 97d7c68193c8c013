"""The offline basemap: the district's hillshade PNG and its WGS 84 bounds, and MBTiles tiles.

``fangxun setup terrain`` writes ``<data_dir>/district/hillshade.png`` and ``hillshade.json`` from
the district's own terrain, roads and boundaries; without them the demo's (``<data_dir>/demo/``,
synthetic) is used. The JSON gives the bounds of the image in WGS 84 degrees, in Leaflet's
``LatLngBounds`` order (the image itself is warped to Web Mercator, Leaflet's default CRS, so the
overlay lines up)::

    {"bounds": [[south, west], [north, east]], ...}

>>> parse_bounds({"bounds": [[34.78, 113.5], [34.85, 113.6]]})
Bounds(south=34.78, west=113.5, north=34.85, east=113.6)
"""

from __future__ import annotations

import contextlib
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
    """An available hillshade: the PNG on disk, its bounds, and whether it is the demo's
    synthetic terrain (labelled as such wherever shown)."""

    png: Path
    bounds: Bounds
    synthetic: bool = True


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


def district_dir(data_dir: Path) -> Path:
    """The folder of the district's own set-up files (``fangxun setup``)."""
    return data_dir / "district"


def find_hillshade(data_dir: Path) -> Hillshade | None:
    """The district's hillshade under ``data_dir``, else the demo's; None when neither exists.

    Raises :class:`BasemapError` (naming the file) when the metadata exists but is invalid.
    """
    for folder in (district_dir(data_dir), demo_dir(data_dir)):
        png, meta_path = folder / HILLSHADE_PNG, folder / HILLSHADE_JSON
        if not (png.is_file() and meta_path.is_file()):
            continue
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            bounds = parse_bounds(meta)
        except (OSError, json.JSONDecodeError, BasemapError) as exc:
            raise BasemapError(f"{meta_path}: {exc}") from exc
        return Hillshade(png=png, bounds=bounds, synthetic=bool(meta.get("synthetic", True)))
    return None


# --- MBTiles -----------------------------------------------------------------------------------

#: The office's own tile package, served as an offline base layer when present.
MBTILES: Final = "basemap.mbtiles"
_TILE_TYPES: Final = {"png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg",
                      "webp": "image/webp"}  # fmt: skip


@dataclass(frozen=True)
class TileSet:
    """An MBTiles file: its path, tile media type, zoom range, name and bounds (if it says)."""

    path: Path
    media_type: str
    min_zoom: int
    max_zoom: int
    name: str
    attribution: str | None
    bounds: Bounds | None


def find_mbtiles(data_dir: Path) -> TileSet | None:
    """The district's ``basemap.mbtiles`` (raster tiles: png, jpg or webp); None when absent.

    Raises :class:`BasemapError` naming the file when it is not an MBTiles database of raster
    tiles (vector ``pbf`` tiles need a renderer Leaflet does not have).
    """
    import sqlite3

    path = district_dir(data_dir) / MBTILES
    if not path.is_file():
        return None
    try:
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
            meta = dict(db.execute("SELECT name, value FROM metadata").fetchall())
            zooms = db.execute("SELECT MIN(zoom_level), MAX(zoom_level) FROM tiles").fetchone()
    except sqlite3.Error as exc:
        raise BasemapError(f"{path}: not an MBTiles file ({exc})") from exc
    fmt = str(meta.get("format", "png")).lower()
    if fmt not in _TILE_TYPES:
        raise BasemapError(f"{path}: tiles in {fmt!r}; only raster png, jpg or webp are served")
    bounds = None
    if meta.get("bounds"):
        try:
            west, south, east, north = (float(v) for v in str(meta["bounds"]).split(","))
            bounds = Bounds(south=south, west=west, north=north, east=east)
        except ValueError:
            bounds = None
    lo, hi = zooms if zooms and zooms[0] is not None else (0, 0)
    return TileSet(path=path, media_type=_TILE_TYPES[fmt], min_zoom=int(lo), max_zoom=int(hi),
                   name=str(meta.get("name") or path.name),
                   attribution=meta.get("attribution"), bounds=bounds)  # fmt: skip


def read_tile(tiles: TileSet, z: int, x: int, y: int) -> bytes | None:
    """The tile at XYZ ``z/x/y`` (MBTiles store rows bottom-up, TMS), or None."""
    import sqlite3

    if not (0 <= z <= 30 and 0 <= x < 2**z and 0 <= y < 2**z):
        return None
    with contextlib.closing(sqlite3.connect(f"file:{tiles.path}?mode=ro", uri=True)) as db:
        row = db.execute(
            "SELECT tile_data FROM tiles WHERE zoom_level=? AND tile_column=? AND tile_row=?",
            (z, x, 2**z - 1 - y),
        ).fetchone()
    return bytes(row[0]) if row else None


__all__ = [
    "BasemapError", "Bounds", "Hillshade", "TileSet", "demo_dir", "district_dir",
    "find_hillshade", "find_mbtiles", "parse_bounds", "read_tile",
]  # fmt: skip
