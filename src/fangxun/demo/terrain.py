"""Deterministic synthetic terrain of the demo district (loosely after Zhengzhou High-tech Zone).

The terrain is **synthetic**: seeded shapes and noise, not survey data. It is a 10 m grid of
800 × 800 cells in CGCS2000 / 3-degree Gauss-Krüger CM 114E (EPSG:4547), centred near 113.55° E,
34.80° N. It has

* a general slope from the west (higher) down to a meandering river channel (2.8–3.6 m deep, 36–56 m
  wide) that flows north through the east of the district; the ground rises gently again east of it;
* a street grid: main roads 36–40 m wide and secondary roads 24 m wide, 0.15 m below the kerbs;
* a railway on a 3 m embankment running west–east, under which the main north–south roads pass
  through underpasses 3–5 m deep (the classic ponding traps of a flat city);
* several low-lying blocks (bowl-shaped depressions 0.5–2 m deep);
* seeded value noise (a few decimetres) so that nothing is perfectly flat.

With it comes a **land-use raster** on the same grid (:data:`LANDUSE_CODES`: road, building, green,
water, other), from the same masks plus seeded building footprints on 80 m plots (its own random
stream, so the elevations do not depend on it), and **drainage catchments**
(:data:`CATCHMENTS`): the old west on a 0.5-year network, the centre on 1 year, the newer east
on 2 years, and pumped underpasses with a given capacity.

Elevations are metres above a notional datum, rounded to 1 mm so that the same bytes come out
on every run.

>>> t = generate_terrain()
>>> t.elevation.shape, t.elevation.dtype.name, t.cell_size_m
((800, 800), 'float32', 10.0)
>>> len([f for f in t.features if f.kind == "underpass"]) >= 4
True
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal

import numpy as np
import numpy.typing as npt
from affine import Affine
from pyproj import Transformer

#: The seed of all noise (a nod to "7·20", 20 July 2021).
DEMO_SEED = 20210720
#: Projected CRS of the terrain: CGCS2000 / 3-degree Gauss-Kruger CM 114E.
TERRAIN_CRS = "EPSG:4547"
#: Grid spacing, m.
CELL_SIZE_M = 10.0
#: Rows and columns.
N_ROWS = 800
N_COLS = 800
#: Geographic centre the grid is placed around (lon, lat in degrees, WGS 84 / CGCS2000).
CENTRE_LON_LAT = (113.55, 34.80)
#: Value written where there is no data (there is none inside the demo grid, but readers need one).
NODATA = -9999.0
#: Depth of the road surface below the kerb / block level, m.
KERB_HEIGHT_M = 0.15
#: Label written into every file so that the terrain is never mistaken for a survey.
SYNTHETIC_LABEL = "SYNTHETIC terrain for the Fangxun demo, not survey data"
SYNTHETIC_LABEL_ZH = "合成地形(演示用,非实测数据)"

# --- shape parameters (m and m/m); "s" is the distance north of the southern edge, "x" east of the
# --- western edge, both from cell centres.
_BANK_SOUTH_M = 111.5  # river bank elevation at the southern edge
_BANK_SLOPE = 0.0004  # the river falls northwards
_WEST_SLOPE = 0.0035  # ground rises westwards from the river
_EAST_SLOPE = 0.0015  # and gently eastwards
_RIVER_X_M = 6000.0  # mean position of the river centreline
_RAIL_S_M = 2400.0  # railway centreline
_RAIL_HEIGHT_M = 3.0
_RAIL_TOP_HALF_M = 6.0
_RAIL_BASE_HALF_M = 18.0
_UNDERPASS_HALF_LENGTH_M = 110.0  # half length of the lowered road section
_UNDERPASS_RAMP_M = 80.0  # ramp length (4 m over 80 m is a 5 % grade)


@dataclass(frozen=True)
class Road:
    """A straight road of the street grid.

    ``axis`` "ns" runs north–south at ``position_m`` east of the western edge; "ew" runs
    west–east at ``position_m`` north of the southern edge. ``width_m`` is the carriageway width, m.
    """

    name_zh: str
    name_en: str
    axis: Literal["ns", "ew"]
    position_m: float
    width_m: float


@dataclass(frozen=True)
class TerrainFeature:
    """A place later issues put a hazard point on: an underpass or a low-lying block.

    ``row``/``col`` index the grid cell of the lowest point; ``x``/``y`` are its EPSG:4547
    easting and northing (m); ``lon``/``lat`` WGS 84 degrees; ``ground_m`` the elevation there
    (m); ``depth_m`` the designed depth below the surroundings (m); ``unit_code`` the street
    office whose jurisdiction holds it.
    """

    code: str
    kind: Literal["underpass", "low_block"]
    name_zh: str
    name_en: str
    row: int
    col: int
    x: float
    y: float
    lon: float
    lat: float
    ground_m: float
    depth_m: float
    unit_code: str


@dataclass(frozen=True)
class Jurisdiction:
    """A street office's area: a rectangle in grid-local metres (x east, s north of south edge)."""

    unit_code: str
    x_min_m: float
    x_max_m: float
    s_min_m: float
    s_max_m: float


@dataclass(frozen=True)
class DemoTerrain:
    """The generated terrain and the masks that describe it.

    ``elevation`` is float32, m, row 0 at the north; ``transform`` maps (col, row) to EPSG:4547
    (x, y).
    """

    elevation: npt.NDArray[np.float32]
    transform: Affine
    crs: str
    cell_size_m: float
    river_mask: npt.NDArray[np.bool_]
    road_mask: npt.NDArray[np.bool_]
    rail_mask: npt.NDArray[np.bool_]
    features: tuple[TerrainFeature, ...]
    roads: tuple[Road, ...] = field(default=())
    #: Land-use class codes (:data:`LANDUSE_CODES`), uint8, same grid.
    landuse: npt.NDArray[np.uint8] = field(default_factory=lambda: np.zeros((0, 0), np.uint8))

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(west, south, east, north) in EPSG:4547 metres."""
        rows, cols = self.elevation.shape
        west, north = self.transform @ (0, 0)
        east, south = self.transform @ (cols, rows)
        return (west, south, east, north)


# Road names follow the High-tech Zone's (路 north–south, 街/大道 west–east); the layout is made up.
ROADS: tuple[Road, ...] = (
    Road("西四环", "West 4th Ring Road", "ns", 500.0, 40.0),
    Road("红松路", "Hongsong Road", "ns", 1000.0, 24.0),
    Road("长椿路", "Changchun Road", "ns", 1500.0, 40.0),
    Road("银杏路", "Yinxing Road", "ns", 2000.0, 24.0),
    Road("雪松路", "Xuesong Road", "ns", 2500.0, 36.0),
    Road("石楠路", "Shinan Road", "ns", 3000.0, 24.0),
    Road("瑞达路", "Ruida Road", "ns", 3500.0, 36.0),
    Road("金梭路", "Jinsuo Road", "ns", 4000.0, 24.0),
    Road("丰乐路", "Fengle Road", "ns", 4500.0, 36.0),
    Road("檀香路", "Tanxiang Road", "ns", 5000.0, 24.0),
    Road("须水东路", "Xushui East Road", "ns", 7000.0, 36.0),
    Road("科学大道", "Kexue Avenue", "ew", 1000.0, 40.0),
    Road("冬青街", "Dongqing Street", "ew", 1700.0, 24.0),
    Road("梧桐街", "Wutong Street", "ew", 3000.0, 36.0),
    Road("合欢街", "Hehuan Street", "ew", 3700.0, 24.0),
    Road("莲花街", "Lianhua Street", "ew", 4400.0, 36.0),
    Road("翠竹街", "Cuizhu Street", "ew", 5100.0, 24.0),
    Road("枫杨街", "Fengyang Street", "ew", 5800.0, 36.0),
    Road("杜英街", "Duying Street", "ew", 6500.0, 24.0),
    Road("化工路", "Huagong Road", "ew", 7200.0, 40.0),
)

#: Underpasses where a main north–south road passes under the railway: (road, depth, m).
#: All lie well west of the river, so even the deepest stays above the river bed.
UNDERPASSES: tuple[tuple[str, float], ...] = (
    ("西四环", 4.5),
    ("长椿路", 3.5),
    ("雪松路", 5.0),
    ("瑞达路", 4.0),
    ("丰乐路", 3.0),
)

#: Low-lying blocks: (code, name_zh, name_en, x_m, s_m, radius_m, depth_m). Centres sit inside
#: blocks, clear of the roads.
LOW_BLOCKS: tuple[tuple[str, str, str, float, float, float, float], ...] = (
    ("LB01", "合欢街北侧低洼片区", "Hehuan Street north low block", 1250.0, 4050.0, 140.0, 1.5),
    ("LB02", "翠竹街南侧低洼片区", "Cuizhu Street south low block", 2250.0, 4750.0, 150.0, 1.0),
    ("LB03", "科学大道北侧低洼片区", "Kexue Avenue north low block", 3250.0, 1350.0, 140.0, 2.0),
    ("LB04", "杜英街南侧低洼片区", "Duying Street south low block", 3750.0, 6150.0, 150.0, 0.9),
    ("LB05", "莲花街北侧低洼片区", "Lianhua Street north low block", 750.0, 4750.0, 130.0, 1.2),
    ("LB06", "梧桐街南侧低洼片区", "Wutong Street south low block", 4250.0, 2700.0, 120.0, 0.6),
)

#: Street-office jurisdictions (grid-local metres). Every cell belongs to exactly one.
JURISDICTIONS: tuple[Jurisdiction, ...] = (
    Jurisdiction("GOUZHAO", 0.0, 2750.0, 0.0, 4000.0),
    Jurisdiction("SHUANGQIAO", 0.0, 2750.0, 4000.0, 8000.0),
    Jurisdiction("WUTONG", 2750.0, 5250.0, 0.0, 4000.0),
    Jurisdiction("SHIFO", 2750.0, 5250.0, 4000.0, 8000.0),
    Jurisdiction("FENGYANG", 5250.0, 8000.0, 0.0, 8000.0),
)


#: Land-use class codes of the demo raster → class names (keys of ``Settings.forecast_manning``;
#: the defaults of ``Settings.forecast_landuse_classes``). 0 is nodata.
LANDUSE_CODES: dict[int, str] = {1: "road", 2: "building", 3: "green", 4: "water", 5: "default"}
LANDUSE_ROAD, LANDUSE_BUILDING, LANDUSE_GREEN, LANDUSE_WATER, LANDUSE_OTHER = 1, 2, 3, 4, 5
#: Side of the square plots buildings are placed on, m.
_PLOT_M = 80.0
#: Riverside green strip beyond the channel's top width, m.
_RIVER_PARK_M = 60.0


@dataclass(frozen=True)
class Catchment:
    """A demo drainage catchment: a rectangle in grid-local metres (x east, s north of the south
    edge) with its design return period (years) and time of concentration (min), or a given
    capacity (mm/h, pumped underpasses)."""

    code: str
    name_zh: str
    name_en: str
    x_min_m: float
    x_max_m: float
    s_min_m: float
    s_max_m: float
    return_period_years: float | None = None
    concentration_time_min: float | None = None
    capacity_mm_h: float | None = None


def _underpass_catchments() -> tuple[Catchment, ...]:
    roads = {r.name_zh: r for r in ROADS}
    out = []
    for i, (name, _depth) in enumerate(UNDERPASSES, start=1):
        road = roads[name]
        half = road.width_m / 2.0 + 20.0
        out.append(
            Catchment(
                f"UP{i:02d}-PUMP",
                f"{name}下穿通道泵站",
                f"{road.name_en} underpass pumps",
                road.position_m - half,
                road.position_m + half,
                _RAIL_S_M - 130.0,
                _RAIL_S_M + 130.0,
                capacity_mm_h=80.0,
            )
        )
    return tuple(out)


#: Drainage catchments, in file order (later ones override earlier ones where they overlap).
CATCHMENTS: tuple[Catchment, ...] = (
    Catchment(
        "DW-WEST",
        "西部老城排水分区",
        "Old west drainage area",
        0.0,
        2750.0,
        0.0,
        8000.0,
        return_period_years=0.5,
        concentration_time_min=30.0,
    ),
    Catchment(
        "DW-CENTRE",
        "中部排水分区",
        "Central drainage area",
        2750.0,
        5250.0,
        0.0,
        8000.0,
        return_period_years=1.0,
        concentration_time_min=30.0,
    ),
    Catchment(
        "DW-EAST",
        "东部滨河排水分区",
        "East riverside drainage area",
        5250.0,
        8000.0,
        0.0,
        8000.0,
        return_period_years=2.0,
        concentration_time_min=30.0,
    ),
    *_underpass_catchments(),
)


@lru_cache(maxsize=8)
def transformer(src: str, dst: str) -> Transformer:
    """A cached lon/lat-ordered pyproj transformer (building one costs ~0.2 s)."""
    return Transformer.from_crs(src, dst, always_xy=True)


def grid_origin() -> tuple[float, float]:
    """EPSG:4547 (x west edge, y north edge) in m of the grid, centred on :data:`CENTRE_LON_LAT`.

    The centre is projected with pyproj and the corner rounded to whole 10 m cells.
    """
    to_grid = transformer("EPSG:4326", TERRAIN_CRS)
    cx, cy = to_grid.transform(*CENTRE_LON_LAT)
    half_w = N_COLS * CELL_SIZE_M / 2.0
    half_h = N_ROWS * CELL_SIZE_M / 2.0
    west = CELL_SIZE_M * round((cx - half_w) / CELL_SIZE_M)
    north = CELL_SIZE_M * round((cy + half_h) / CELL_SIZE_M)
    return float(west), float(north)


def grid_transform() -> Affine:
    """Affine transform (col, row) → EPSG:4547 (x, y) of the demo grid."""
    west, north = grid_origin()
    return Affine(CELL_SIZE_M, 0.0, west, 0.0, -CELL_SIZE_M, north)


def river_centre_x(s: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """River centreline, m east of the western edge, at ``s`` m north of the southern edge."""
    return np.asarray(
        _RIVER_X_M
        + 240.0 * np.sin(2.0 * math.pi * s / 2900.0 + 0.7)
        + 110.0 * np.sin(2.0 * math.pi * s / 1300.0 + 1.9)
        + 45.0 * np.sin(2.0 * math.pi * s / 610.0 + 0.4),
        dtype=np.float64,
    )


def river_width(s: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Top width of the river channel, m (36–56 m)."""
    return np.asarray(46.0 + 10.0 * np.sin(2.0 * math.pi * s / 3100.0 + 0.3), dtype=np.float64)


def river_depth(s: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Depth of the channel below its banks, m (2.8–3.6 m)."""
    return np.asarray(3.2 + 0.4 * np.sin(2.0 * math.pi * s / 2300.0 + 2.2), dtype=np.float64)


def bank_elevation(s: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Elevation of the river banks, m; the river flows north."""
    return np.asarray(_BANK_SOUTH_M - _BANK_SLOPE * s, dtype=np.float64)


def _value_noise(
    rng: np.random.Generator,
    x: npt.NDArray[np.float64],
    s: npt.NDArray[np.float64],
    spacing_m: float,
) -> npt.NDArray[np.float64]:
    """Smooth value noise in [-1, 1]: random lattice values every ``spacing_m`` m, blended.

    Only arithmetic on the lattice values (no FFT, no transcendental functions), so the result is
    identical on every machine.
    """
    extent = max(float(x.max()), float(s.max())) + spacing_m
    n = math.ceil(extent / spacing_m) + 2
    lattice = rng.uniform(-1.0, 1.0, size=(n, n))
    fx, fs = x / spacing_m, s / spacing_m
    ix, js = np.floor(fx).astype(np.intp), np.floor(fs).astype(np.intp)
    tx, ts = fx - ix, fs - js
    wx = tx * tx * (3.0 - 2.0 * tx)
    ws = ts * ts * (3.0 - 2.0 * ts)
    v00 = lattice[js, ix]
    v01 = lattice[js, ix + 1]
    v10 = lattice[js + 1, ix]
    v11 = lattice[js + 1, ix + 1]
    return np.asarray(
        (v00 * (1 - wx) + v01 * wx) * (1 - ws) + (v10 * (1 - wx) + v11 * wx) * ws, dtype=np.float64
    )


def _window(x_m: float, s_m: float, radius_m: float) -> tuple[slice, slice]:
    """Row and column slices of the grid covering a disc of ``radius_m`` m around (x, s)."""
    pad = radius_m + CELL_SIZE_M
    top = N_ROWS * CELL_SIZE_M - s_m
    rows = slice(max(0, int((top - pad) // CELL_SIZE_M)), int((top + pad) // CELL_SIZE_M) + 1)
    cols = slice(max(0, int((x_m - pad) // CELL_SIZE_M)), int((x_m + pad) // CELL_SIZE_M) + 1)
    return rows, cols


def _unit_at(x_m: float, s_m: float) -> str:
    """Code of the street office whose jurisdiction holds the grid-local point (x, s)."""
    for j in JURISDICTIONS:
        if j.x_min_m <= x_m < j.x_max_m and j.s_min_m <= s_m < j.s_max_m:
            return j.unit_code
    raise ValueError(f"point x={x_m} m, s={s_m} m lies outside every demo jurisdiction")


@lru_cache(maxsize=1)
def demo_terrain() -> DemoTerrain:
    """The demo terrain (:data:`DEMO_SEED`), generated once per process and shared read-only:
    the loader, every seed and the replay all place things on it, and generating costs seconds."""
    terrain = generate_terrain()
    for array in (
        terrain.elevation,
        terrain.river_mask,
        terrain.road_mask,
        terrain.rail_mask,
        terrain.landuse,
    ):
        array.setflags(write=False)
    return terrain


def generate_terrain(seed: int = DEMO_SEED) -> DemoTerrain:
    """Build the synthetic demo terrain; same ``seed`` → the same bytes.

    Returns a :class:`DemoTerrain` with float32 elevations in m (10 m cells, EPSG:4547).
    """
    rng = np.random.default_rng(seed)
    transform = grid_transform()
    height_m = N_ROWS * CELL_SIZE_M
    # Cell centres in grid-local metres: x east of the west edge, s north of the south edge.
    xs = (np.arange(N_COLS, dtype=np.float64) + 0.5) * CELL_SIZE_M
    ss = height_m - (np.arange(N_ROWS, dtype=np.float64) + 0.5) * CELL_SIZE_M
    x, s = np.meshgrid(xs, ss)

    # 1. Valley: banks fall northwards; ground rises away from the river on both sides.
    xc_row = river_centre_x(ss)[:, None]
    bank = bank_elevation(s)
    dx = x - xc_row
    ground = bank + np.where(dx < 0.0, -dx * _WEST_SLOPE, dx * _EAST_SLOPE)
    # Broad undulations (±0.6 m) and finer relief (±0.15 m, blocks only: yards, buildings' plinths).
    ground += 0.45 * _value_noise(rng, x, s, 1000.0) + 0.15 * _value_noise(rng, x, s, 250.0)
    fine = 0.06 * _value_noise(rng, x, s, 40.0)

    # 2. Street grid: the carriageway sits a kerb height below the smooth ground.
    road_mask = np.zeros((N_ROWS, N_COLS), dtype=bool)
    for road in ROADS:
        coord = x if road.axis == "ns" else s
        road_mask |= np.abs(coord - road.position_m) <= road.width_m / 2.0
    z = np.where(road_mask, ground - KERB_HEIGHT_M, ground + fine)

    # 3. Low-lying blocks: the block is levelled and sunk into a cosine bowl whose floor lies
    #    ``depth`` below the ground at its centre; a plain bowl on a 0.35 % slope would spill.
    #    Applied to block cells only, so the roads around them stay put.
    for _code, _zh, _en, bx, bs, radius, depth in LOW_BLOCKS:
        win = _window(bx, bs, radius)
        r = np.hypot(x[win] - bx, s[win] - bs)
        centre = np.unravel_index(int(np.argmin(r)), r.shape)
        floor = float(ground[win][centre]) - depth
        w = np.where(r < radius, 0.5 * (1.0 + np.cos(np.pi * np.minimum(r / radius, 1.0))), 0.0)
        z[win] = np.where(road_mask[win], z[win], z[win] - w * (z[win] - floor))

    # 4. Railway embankment (trapezoid), cut where a main road passes under it.
    ds_rail = np.abs(s - _RAIL_S_M)
    emb = _RAIL_HEIGHT_M * np.clip(
        (_RAIL_BASE_HALF_M - ds_rail) / (_RAIL_BASE_HALF_M - _RAIL_TOP_HALF_M), 0.0, 1.0
    )
    rail_mask = ds_rail <= _RAIL_TOP_HALF_M
    passage = np.zeros_like(road_mask)
    roads_by_name = {r.name_zh: r for r in ROADS}
    for road in ROADS:
        if road.axis == "ns" and road.width_m >= 36.0:
            passage |= (np.abs(x - road.position_m) <= road.width_m / 2.0) & (emb > 0.0)
    z = np.where(passage | (emb <= 0.0), z, np.maximum(z, ground + emb))
    rail_mask &= ~passage

    # 5. Underpasses: the road dips with 5 % ramps to a flat bottom under the railway.
    ramp = np.clip((_UNDERPASS_HALF_LENGTH_M - ds_rail) / _UNDERPASS_RAMP_M, 0.0, 1.0)
    unit_dip = 0.5 * (1.0 - np.cos(np.pi * ramp))  # 0 → 1 along the ramp, per metre of depth
    for name, depth in UNDERPASSES:
        road = roads_by_name[name]
        on_road = np.abs(x - road.position_m) <= road.width_m / 2.0
        z = np.where(on_road, z - depth * unit_dip, z)

    # 6. River channel, carved last (a bare-earth model has no bridges): flat bed, sloping banks.
    half_w = river_width(ss)[:, None] / 2.0
    # Distance across the channel, corrected for the centreline's angle so the width is true.
    slope_xc = np.gradient(river_centre_x(ss), ss)[:, None]
    d_perp = np.abs(dx) / np.sqrt(1.0 + slope_xc**2)
    profile = np.clip((half_w - d_perp) / (0.35 * half_w), 0.0, 1.0)
    channel = bank - river_depth(s) * profile
    river_mask = profile > 0.0
    z = np.where(river_mask, np.minimum(z, channel), z)
    rail_mask &= ~river_mask

    # Round to 1 mm: hides last-bit differences between maths libraries so the bytes are stable.
    elevation = np.round(z, 3).astype(np.float32)

    features = _features(elevation, transform, x, s)
    landuse = _landuse(seed, x, s, road_mask, river_mask, rail_mask, ds_rail, d_perp, half_w)
    return DemoTerrain(
        elevation=elevation,
        transform=transform,
        crs=TERRAIN_CRS,
        cell_size_m=CELL_SIZE_M,
        river_mask=river_mask,
        road_mask=road_mask,
        rail_mask=rail_mask,
        features=features,
        roads=ROADS,
        landuse=landuse,
    )


def _landuse(
    seed: int,
    x: npt.NDArray[np.float64],
    s: npt.NDArray[np.float64],
    road_mask: npt.NDArray[np.bool_],
    river_mask: npt.NDArray[np.bool_],
    rail_mask: npt.NDArray[np.bool_],
    ds_rail: npt.NDArray[np.float64],
    d_perp: npt.NDArray[np.float64],
    half_w: npt.NDArray[np.float64],
) -> npt.NDArray[np.uint8]:
    """Land-use codes: water in the channel, roads, the railway (other), green on the embankment
    slopes and a riverside strip, and in the blocks seeded building footprints (80 % of the 80 m
    plots, 36–64 m by 30–60 m) among paved yards (other) and park plots (green).

    Uses its own random stream (``seed + 1``) so that the elevations never depend on it.
    """
    rng = np.random.default_rng(seed + 1)
    nps = math.ceil(float(s.max()) / _PLOT_M) + 1
    npx = math.ceil(float(x.max()) / _PLOT_M) + 1
    has = rng.random((nps, npx)) < 0.8
    park = ~has & (rng.random((nps, npx)) < 0.5)
    width = rng.uniform(36.0, 64.0, (nps, npx))
    depth = rng.uniform(30.0, 60.0, (nps, npx))
    off_x = rng.uniform(-6.0, 6.0, (nps, npx))
    off_s = rng.uniform(-6.0, 6.0, (nps, npx))
    ix = np.floor(x / _PLOT_M).astype(np.intp)
    js = np.floor(s / _PLOT_M).astype(np.intp)
    lx = x - (ix + 0.5) * _PLOT_M - off_x[js, ix]
    ls = s - (js + 0.5) * _PLOT_M - off_s[js, ix]
    building = (
        has[js, ix] & (np.abs(lx) <= width[js, ix] / 2.0) & (np.abs(ls) <= depth[js, ix] / 2.0)
    )
    out = np.full(x.shape, LANDUSE_OTHER, dtype=np.uint8)
    out[park[js, ix]] = LANDUSE_GREEN
    out[building] = LANDUSE_BUILDING
    out[d_perp <= half_w + _RIVER_PARK_M] = LANDUSE_GREEN
    out[(ds_rail <= _RAIL_BASE_HALF_M) & ~rail_mask] = LANDUSE_GREEN
    out[rail_mask] = LANDUSE_OTHER
    out[road_mask] = LANDUSE_ROAD
    out[river_mask] = LANDUSE_WATER
    return out


def _lowest_cell(
    elevation: npt.NDArray[np.float32], window: npt.NDArray[np.bool_]
) -> tuple[int, int]:
    """(row, col) of the lowest cell inside ``window`` (first one on ties, so deterministic)."""
    masked = np.where(window, elevation, np.inf)
    flat = int(np.argmin(masked))
    row, col = divmod(flat, elevation.shape[1])
    return row, col


def _features(
    elevation: npt.NDArray[np.float32],
    transform: Affine,
    x: npt.NDArray[np.float64],
    s: npt.NDArray[np.float64],
) -> tuple[TerrainFeature, ...]:
    """Locate the underpasses and low blocks on the finished grid."""
    to_wgs84 = transformer(TERRAIN_CRS, "EPSG:4326")
    roads_by_name = {r.name_zh: r for r in ROADS}
    out: list[TerrainFeature] = []

    def make(
        code: str,
        kind: Literal["underpass", "low_block"],
        zh: str,
        en: str,
        window: npt.NDArray[np.bool_],
        depth: float,
    ) -> TerrainFeature:
        row, col = _lowest_cell(elevation, window)
        px, py = transform @ (col + 0.5, row + 0.5)
        lon, lat = to_wgs84.transform(px, py)
        return TerrainFeature(
            code=code,
            kind=kind,
            name_zh=zh,
            name_en=en,
            row=row,
            col=col,
            x=round(float(px), 2),
            y=round(float(py), 2),
            lon=round(float(lon), 7),
            lat=round(float(lat), 7),
            ground_m=round(float(elevation[row, col]), 3),
            depth_m=depth,
            unit_code=_unit_at(float(x[row, col]), float(s[row, col])),
        )

    for i, (name, depth) in enumerate(UNDERPASSES, start=1):
        road = roads_by_name[name]
        window = (np.abs(x - road.position_m) <= road.width_m / 2.0) & (
            np.abs(s - _RAIL_S_M) <= _UNDERPASS_HALF_LENGTH_M
        )
        out.append(
            make(
                f"UP{i:02d}",
                "underpass",
                f"{name}铁路下穿通道",
                f"{road.name_en} rail underpass",
                window,
                depth,
            )
        )
    for code, zh, en, bx, bs, radius, depth in LOW_BLOCKS:
        window = np.hypot(x - bx, s - bs) < radius
        out.append(make(code, "low_block", zh, en, window, depth))
    return tuple(out)


def cells_within(
    terrain: DemoTerrain, row: int, col: int, radius_m: float
) -> npt.NDArray[np.bool_]:
    """Mask of the cells whose centres lie within ``radius_m`` m of cell (row, col)."""
    rows, cols = np.ogrid[: terrain.elevation.shape[0], : terrain.elevation.shape[1]]
    dist = np.hypot((rows - row) * terrain.cell_size_m, (cols - col) * terrain.cell_size_m)
    return np.asarray(dist <= radius_m, dtype=bool)


def local_ring(
    x_min_m: float,
    x_max_m: float,
    s_min_m: float,
    s_max_m: float,
    transform: Affine | None = None,
    *,
    points_per_edge: int = 8,
) -> list[tuple[float, float]]:
    """A grid-local rectangle (m) as a closed WGS 84 (lon, lat) ring, edges densified."""
    transform = transform or grid_transform()
    west, north = transform.c, transform.f
    height_m = N_ROWS * CELL_SIZE_M
    to_wgs84 = transformer(TERRAIN_CRS, "EPSG:4326")
    corners = [(x_min_m, s_min_m), (x_max_m, s_min_m), (x_max_m, s_max_m), (x_min_m, s_max_m)]
    ring_local: list[tuple[float, float]] = []
    for (x0, s0), (x1, s1) in zip(corners, corners[1:] + corners[:1], strict=True):
        for k in range(points_per_edge):
            t = k / points_per_edge
            ring_local.append((x0 + (x1 - x0) * t, s0 + (s1 - s0) * t))
    ring_local.append(ring_local[0])
    ring: list[tuple[float, float]] = []
    for lx, ls in ring_local:
        lon, lat = to_wgs84.transform(west + lx, north - height_m + ls)
        ring.append((round(float(lon), 7), round(float(lat), 7)))
    return ring


def jurisdiction_polygons(
    transform: Affine | None = None, *, points_per_edge: int = 8
) -> list[tuple[str, list[tuple[float, float]]]]:
    """Each street office's area as a closed WGS 84 (lon, lat) ring, edges densified with pyproj."""
    transform = transform or grid_transform()
    west, north = transform.c, transform.f
    height_m = N_ROWS * CELL_SIZE_M
    to_wgs84 = transformer(TERRAIN_CRS, "EPSG:4326")
    out: list[tuple[str, list[tuple[float, float]]]] = []
    for j in JURISDICTIONS:
        corners = [
            (j.x_min_m, j.s_min_m),
            (j.x_max_m, j.s_min_m),
            (j.x_max_m, j.s_max_m),
            (j.x_min_m, j.s_max_m),
        ]
        ring_local: list[tuple[float, float]] = []
        for (x0, s0), (x1, s1) in zip(corners, corners[1:] + corners[:1], strict=True):
            for k in range(points_per_edge):
                t = k / points_per_edge
                ring_local.append((x0 + (x1 - x0) * t, s0 + (s1 - s0) * t))
        ring_local.append(ring_local[0])
        ring: list[tuple[float, float]] = []
        for lx, ls in ring_local:
            lon, lat = to_wgs84.transform(west + lx, north - height_m + ls)
            ring.append((round(float(lon), 7), round(float(lat), 7)))
        out.append((j.unit_code, ring))
    return out
