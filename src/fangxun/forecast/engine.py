"""The numerical side of a forecast: district model, rain perturbations, members, per-point stats.

Plain data in, plain data out (NumPy arrays, floats, dicts), so that members can be pickled to
worker processes or a Dask cluster. Only this module (and :mod:`.rainsource`) calls
:mod:`fangxun.inundation`; nothing here touches the database.

District model (documented choices):

* **Terrain**: the district GeoTIFF (m, projected CRS). With ``resolution_m`` larger than the
  terrain's cell size, the terrain is aggregated by block means over ``k × k`` cells,
  ``k = resolution_m / cell_size`` (must be a whole number); a block is nodata only when all its
  cells are, and rows/columns that do not fill a block are dropped at the south/east edges. A 20 m
  model of the 10 m demo terrain has 4× fewer cells and ~2× longer steps: ~8× faster, at the cost
  of smoothing kerbs and narrow underpasses (peak depths at small depressions drop). Hence, by
  default (``subgrid=True``), such a district runs the **subgrid** model
  (:mod:`fangxun.inundation.subgrid`): the model cells are the blocks, but each keeps its fine
  pixels in volume and conveyance tables, so the kerbs and dips still store and pass the right
  water. A subgrid member's rasters stay on the model grid, with the depth of a cell taken at
  its lowest pixel (level − lowest fine elevation: what the deepest spot in the cell sees), and
  a hazard point given its own fine pixel (``MemberSpec.fine_gauges``) reads level − its own
  elevation.
* **Manning's n**: a scalar (``Settings.forecast_manning["default"]``) or, with a land-use
  raster, n of each cell's class (:mod:`.inputs`); a coarser model takes block means of n.
* **Drainage capacity**: the pipes are taken to carry the design storm's mean intensity for the
  design return period P and duration t (time of concentration):
  ``capacity (mm/h) = 60 · A / (t + b)^n`` with ``A = a(1 + C lg P)`` (the configured storm
  intensity formula). Rain above that ponds. With catchment polygons each catchment has its own
  P and t (or a given pipe capacity), rasterised to a capacity per cell (:mod:`.inputs`); a
  coarser model takes block means.
* **Boundary**: open edges (water leaves the district at critical depth).

Ensemble perturbations (documented, seeded): member 0 is the unperturbed control; member k > 0
scales every rain amount by ``s = exp(ε)``, ``ε ~ N(0, σ²)`` (lognormal, median 1) and shifts the
whole series in time by ``δ ~ N(0, sd²)`` seconds (positive: later). Rain that a negative shift
moves before the forecast start is lost; a positive shift starts the forecast with a dry spell.
Gridded rain (a field per block, :class:`~fangxun.inundation.GriddedRain`) is perturbed the
same way (:func:`perturb_gridded`) unless the rain source gives its own ensemble members (the
STEPS nowcast): member k then runs on the source's member field k − 1, unperturbed.
"""

from __future__ import annotations

import contextlib
import math
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from fangxun.inundation import Grid, GriddedRain, Hyetograph, Model
from fangxun.inundation.rain import StormFormula

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
Transform6 = tuple[float, float, float, float, float, float]

#: Colours of the warning thresholds, lowest first (keys of per-point results).
COLOURS: tuple[str, ...] = ("blue", "yellow", "orange", "red")


@dataclass(frozen=True)
class NetworkSpec:
    """A drainage network for the members, as plain data (pickles to workers).

    ``inp_text``: the SWMM ``.inp`` (the stored file, read once); ``cells``: coupled node →
    (row, col) on the model grid; ``pumps_off``: SWMM pumps held off (telemetry: no pumps
    running or no power; or a what-if); ``inlet_factor``: node → capacity factor (a blocked
    inlet); ``tailwater``: outfall → river level (m) held as its stage.
    """

    inp_text: str
    cells: dict[str, tuple[int, int]] | dict[str, list[tuple[int, int]]]
    pumps_off: tuple[str, ...] = ()
    inlet_factor: dict[str, float] = field(default_factory=dict)
    tailwater: dict[str, float] = field(default_factory=dict)
    exchange_interval_s: float = 10.0
    #: Inlet plan area (m²) per inlet cell (a manhole cover or a gully grate, ~1 m²).
    inlet_area_m2: float = 1.0


@dataclass(frozen=True)
class District:
    """The district model: terrain (m), cell size (m), Manning's n, drainage capacity (mm/h).

    ``transform`` is the 6 affine coefficients ``(a, b, c, d, e, f)`` of the raster (rasterio
    order), ``crs_wkt`` its CRS as WKT (plain types so that the object pickles cheaply).
    """

    elevation: FloatArray
    nodata_mask: BoolArray
    cell_size: float
    transform: tuple[float, float, float, float, float, float]
    crs_wkt: str | None
    manning: float | FloatArray
    drainage_mm_h: float | FloatArray
    #: The district's drainage network, coupled both ways (then ``drainage_mm_h`` is 0).
    network: NetworkSpec | None = None
    #: The terrain's own pixels (m) behind a subgrid district (None: the plain model).
    fine_elevation: FloatArray | None = None
    fine_nodata_mask: BoolArray | None = None
    #: Fine pixels per model cell side (1: the plain model).
    subgrid_ratio: int = 1

    def fine_grid(self) -> Grid:
        """The fine terrain of a subgrid district (ValueError for a plain one)."""
        if self.fine_elevation is None or self.fine_nodata_mask is None:
            raise ValueError("this district has no fine terrain (subgrid_ratio = 1)")
        return Grid(
            elevation=self.fine_elevation,
            cell_size=self.cell_size / self.subgrid_ratio,
            nodata_mask=self.fine_nodata_mask,
        )

    def grid(self) -> Grid:
        """The inundation grid (with an Affine transform and a rasterio CRS when known)."""
        from rasterio import Affine
        from rasterio.crs import CRS

        return Grid(
            elevation=self.elevation,
            cell_size=self.cell_size,
            nodata_mask=self.nodata_mask,
            transform=Affine(*self.transform),
            crs=CRS.from_wkt(self.crs_wkt) if self.crs_wkt else None,
        )

    @property
    def shape(self) -> tuple[int, int]:
        """(rows, cols)."""
        return (int(self.elevation.shape[0]), int(self.elevation.shape[1]))


def simulate_gauges(
    *,
    elevation: FloatArray,
    cell_size_m: float,
    rain: Hyetograph | GriddedRain,
    drainage_mm_h: float,
    gauges: Mapping[str, tuple[int, int]],
    duration_s: float,
    output_interval_s: float,
    boundary: str = "open",
) -> dict[str, tuple[FloatArray, FloatArray]]:
    """One run of the inundation core on a plain terrain (m), returning each named cell's
    (times in s, depth in m) series: what a storm replay or a what-if study needs without a
    forecast run's bookkeeping. Only this domain calls the core (DESIGN.md)."""
    model = Model(
        Grid(elevation=elevation, cell_size=cell_size_m),
        rain=rain,
        drainage_mm_h=drainage_mm_h,
        boundary=boundary,
        gauges=dict(gauges),
        output_interval_s=output_interval_s,
    )
    model.run_until(duration_s)
    series = {}
    for code in gauges:
        times, depth, _speed = model.gauge_series(code)
        series[code] = (np.asarray(times, dtype=np.float64), np.asarray(depth, dtype=np.float64))
    return series


def aggregate(elevation: FloatArray, mask: BoolArray, factor: int) -> tuple[FloatArray, BoolArray]:
    """Block means of ``elevation`` (m) over ``factor × factor`` cells, ignoring nodata cells.

    Returns the coarse elevation (NaN where a whole block is nodata) and its nodata mask.
    """
    if factor < 1:
        raise ValueError(f"aggregation factor must be >= 1, got {factor}")
    if factor == 1:
        return elevation.copy(), mask.copy()
    ny, nx = elevation.shape
    cy, cx = ny // factor, nx // factor
    if cy < 1 or cx < 1:
        raise ValueError(f"a {ny}×{nx} terrain is smaller than one {factor}×{factor} block")
    z = elevation[: cy * factor, : cx * factor].reshape(cy, factor, cx, factor)
    m = mask[: cy * factor, : cx * factor].reshape(cy, factor, cx, factor)
    valid = ~m & np.isfinite(z)
    count = valid.sum(axis=(1, 3))
    total = np.where(valid, z, 0.0).sum(axis=(1, 3))
    coarse_mask = count == 0
    coarse = np.where(coarse_mask, np.nan, total / np.maximum(count, 1))
    return coarse.astype(np.float64), coarse_mask


def drainage_capacity_mm_h(
    formula: StormFormula, return_period_years: float, duration_s: float
) -> float:
    """Drainage capacity (mm/h): the design storm's mean intensity over ``duration_s`` (s)."""
    return formula.intensity_mm_h(duration_s, return_period_years)


def build_district(
    terrain_path: str,
    *,
    resolution_m: float,
    manning: float | FloatArray | Callable[[tuple[int, int], Transform6, str | None], FloatArray],
    drainage_mm_h: float
    | FloatArray
    | Callable[[tuple[int, int], Transform6, str | None], FloatArray],
    subgrid: bool = True,
    blocked: Callable[[tuple[int, int], Transform6, str | None], BoolArray] | None = None,
) -> District:
    """Read the terrain GeoTIFF and build the :class:`District` at ``resolution_m`` (0 = native).

    ``manning`` (s/m^(1/3)) and ``drainage_mm_h`` (mm/h) are scalars, rasters on the terrain's
    native grid, or callables ``(shape, transform, crs_wkt) -> raster`` given the native grid;
    rasters are aggregated by block means like the terrain (nodata blocks take their mean n or
    capacity of 0.03 and 0).

    With ``subgrid`` (the default) a district coarser than its terrain keeps the terrain's
    pixels and runs the subgrid model (see the module docstring).

    ``blocked`` (a callable like the rasters') marks terrain cells that water cannot enter
    (building footprints): they join the nodata mask before aggregation.

    Raises ``ValueError`` when the terrain cannot be read, ``resolution_m`` is not a whole
    multiple of the terrain's cell size, or a raster does not match the terrain's shape.
    """
    from fangxun.inundation.io import read_raster

    r = read_raster(terrain_path)
    factor = 1
    if resolution_m > 0.0:
        ratio = resolution_m / r.cell_size
        factor = round(ratio)
        if factor < 1 or abs(factor - ratio) > 1e-6:
            raise ValueError(
                f"forecast resolution {resolution_m} m must be a whole multiple of the terrain's "
                f"cell size {r.cell_size} m ({terrain_path})"
            )
    t = r.transform
    native: Transform6 = (t.a, t.b, t.c, t.d, t.e, t.f)
    crs_wkt = r.crs.to_wkt() if r.crs is not None else None
    nodata = np.asarray(r.nodata_mask, dtype=bool)
    if blocked is not None:
        walls = np.asarray(blocked(r.values.shape, native, crs_wkt), dtype=bool)
        if walls.shape != nodata.shape:
            raise ValueError(f"blocked cells are {walls.shape}, the terrain {nodata.shape}")
        nodata = nodata | walls
    z, mask = aggregate(r.values, nodata, factor)

    def field_of(value: Any, what: str, fill: float) -> float | FloatArray:
        if callable(value):
            value = value(r.values.shape, native, crs_wkt)
        if isinstance(value, int | float):
            return float(value)
        arr = np.asarray(value, dtype=np.float64)
        if arr.shape != r.values.shape:
            raise ValueError(
                f"{what} raster is {arr.shape}, the terrain {r.values.shape} ({terrain_path})"
            )
        coarse, empty = aggregate(arr, nodata, factor)
        return np.where(empty, fill, coarse)

    transform = (t.a * factor, t.b, t.c, t.d, t.e * factor, t.f)
    fine: dict[str, Any] = {}
    if subgrid and factor > 1:
        cy, cx = z.shape
        fine = {
            "fine_elevation": np.asarray(r.values[: cy * factor, : cx * factor], dtype=np.float64),
            "fine_nodata_mask": nodata[: cy * factor, : cx * factor],
            "subgrid_ratio": factor,
        }
    return District(
        elevation=z,
        nodata_mask=mask,
        cell_size=r.cell_size * factor,
        transform=(float(transform[0]), 0.0, float(t.c), 0.0, float(transform[4]), float(t.f)),
        crs_wkt=crs_wkt,
        manning=field_of(manning, "Manning's n", 0.03),
        drainage_mm_h=field_of(drainage_mm_h, "drainage capacity", 0.0),
        **fine,
    )


def points_to_cells(
    district: District, lonlat: Mapping[str, tuple[float, float]], *, fine: bool = False
) -> dict[str, tuple[int, int] | None]:
    """Map WGS 84 (lon, lat) degrees to (row, col) of the district grid with pyproj.

    A point outside the grid or on a nodata cell maps to None. With ``fine`` on a subgrid
    district: (row, col) of the point's own fine pixel (None on a nodata pixel).
    """
    from pyproj import CRS, Transformer

    if district.crs_wkt is None:
        raise ValueError("the terrain has no CRS: hazard points cannot be placed on it")
    tr = Transformer.from_crs(CRS.from_epsg(4326), CRS.from_wkt(district.crs_wkt), always_xy=True)
    a, _, c, _, e, f = district.transform
    ny, nx = district.shape
    mask = district.nodata_mask
    if fine and district.fine_nodata_mask is not None:
        k = district.subgrid_ratio
        a, e, mask = a / k, e / k, district.fine_nodata_mask
        ny, nx = mask.shape
    out: dict[str, tuple[int, int] | None] = {}
    for name, (lon, lat) in lonlat.items():
        x, y = tr.transform(lon, lat)
        col = math.floor((x - c) / a)
        row = math.floor((y - f) / e)
        if 0 <= row < ny and 0 <= col < nx and not mask[row, col]:
            out[name] = (row, col)
        else:
            out[name] = None
    return out


def wgs84_bounds(district: District) -> tuple[float, float, float, float]:
    """(south, west, north, east) in degrees of the grid's extent (corners through pyproj).

    Leaflet lays the overlay on this box; at district scale the projected grid is so close to
    lon/lat-aligned (a fraction of a degree of rotation) that the shift is below one cell.
    """
    from pyproj import CRS, Transformer

    if district.crs_wkt is None:
        raise ValueError("the terrain has no CRS: no map bounds")
    tr = Transformer.from_crs(CRS.from_wkt(district.crs_wkt), CRS.from_epsg(4326), always_xy=True)
    a, _, c, _, e, f = district.transform
    ny, nx = district.shape
    xs = [c, c + nx * a, c, c + nx * a]
    ys = [f, f, f + ny * e, f + ny * e]
    lons, lats = tr.transform(xs, ys)
    return (float(min(lats)), float(min(lons)), float(max(lats)), float(max(lons)))


def resample(rain: Hyetograph, horizon_s: float, step_s: float) -> FloatArray:
    """Block depths (mm) of ``rain`` on ``[0, horizon_s)`` in blocks of ``step_s`` (s)."""
    n = max(1, math.ceil(horizon_s / step_s - 1e-9))
    return np.array(
        [rain.depth_m(k * step_s, (k + 1) * step_s) * 1000.0 for k in range(n)], dtype=np.float64
    )


def perturb(
    rain: Hyetograph,
    *,
    horizon_s: float,
    step_s: float,
    scale: float,
    shift_s: float,
) -> Hyetograph:
    """``rain`` with every amount times ``scale`` and shifted ``shift_s`` seconds later.

    Evaluated exactly on blocks of ``step_s`` (s) over ``[0, horizon_s)``: block k of the result
    holds ``scale`` times the rain that fell over ``[k·step − shift, (k+1)·step − shift)``.
    """
    if not (math.isfinite(scale) and scale >= 0.0):
        raise ValueError(f"rain scale must be finite and >= 0, got {scale!r}")
    n = max(1, math.ceil(horizon_s / step_s - 1e-9))
    blocks = []
    for k in range(n):
        t0 = k * step_s - shift_s
        t1 = (k + 1) * step_s - shift_s
        t0c, t1c = max(t0, 0.0), max(t1, 0.0)
        blocks.append(rain.depth_m(t0c, t1c) * 1000.0 * scale if t1c > t0c else 0.0)
    return Hyetograph.from_blocks(step_s, blocks)


def perturb_gridded(rain: GriddedRain, *, scale: float, shift_s: float) -> GriddedRain:
    """Gridded ``rain`` with every field times ``scale`` and every block ``shift_s`` seconds later
    (exact: block boundaries move; rain a negative shift moves before 0 is lost, a positive
    shift starts with a dry block)."""
    if not (math.isfinite(scale) and scale >= 0.0):
        raise ValueError(f"rain scale must be finite and >= 0, got {scale!r}")
    t = np.asarray(rain.times_s, np.float64) + shift_s
    f = np.asarray(rain.intensity_mm_h, np.float64) * scale
    if t[0] > 0.0:
        t = np.concatenate([[0.0], t])
        f = np.concatenate([np.zeros((1, *rain.shape)), f])
    else:
        # keep the block that holds time 0 (the last one starting at or before 0), from 0
        k = int(np.searchsorted(t, 0.0, side="right")) - 1
        t, f = t[k:].copy(), f[k:]
        t[0] = 0.0
    return GriddedRain(t.tolist(), f)


def member_perturbations(
    members: int, *, sigma: float, shift_sd_s: float, seed: int
) -> list[tuple[float, float]]:
    """(scale, shift s) of each member; member 0 is the control (1, 0). Seeded, reproducible."""
    if members < 1:
        raise ValueError(f"an ensemble needs at least one member, got {members}")
    rng = np.random.default_rng(seed)
    out = [(1.0, 0.0)]
    for _ in range(members - 1):
        eps = float(rng.normal(0.0, sigma)) if sigma > 0 else 0.0
        shift = float(rng.normal(0.0, shift_sd_s)) if shift_sd_s > 0 else 0.0
        out.append((math.exp(eps), float(round(shift))))
    return out


@dataclass(frozen=True)
class MemberSpec:
    """One member run: its rain (uniform, or a field per block on the district grid), horizon
    (s), output interval (s), gauges, warm start depth (m)."""

    rain: Hyetograph | GriddedRain
    horizon_s: float
    output_interval_s: float
    gauges: dict[str, tuple[int, int]]
    initial_depth: FloatArray | None = None
    arrival_depth_m: float = 0.15
    backend: str = "numba"
    #: Times (s) at which to keep a copy of the depth field (map frames, warm-start states).
    snapshot_s: tuple[float, ...] = ()
    #: Subgrid districts: each gauge's own fine pixel (row, col), so it reads level − its own
    #: elevation; gauges missing here read the depth at their cell's lowest pixel.
    fine_gauges: dict[str, tuple[int, int]] | None = None


@dataclass
class MemberResult:
    """Outputs of one member: gauge series (s, m), max depth (m), arrival time (s), final depth."""

    times_s: FloatArray
    series: dict[str, FloatArray]
    max_depth: FloatArray
    arrival_s: FloatArray
    final_depth: FloatArray
    mass_error_m3: float
    snapshots: dict[float, FloatArray] = field(default_factory=dict)


@contextlib.contextmanager
def _network(
    district: District, model: Model, horizon_s: float
) -> Iterator[Callable[[float], None]]:
    """``advance(t)`` for the member: the surface alone, or coupled with the network."""
    net = district.network
    if net is None:
        yield model.run_until
        return
    from fangxun.drainage.coupler import Coupler, ExchangeParams

    with tempfile.TemporaryDirectory(prefix="fangxun-net-") as tmp:
        inp = Path(tmp) / "network.inp"
        inp.write_text(net.inp_text, encoding="utf-8")
        coupler = Coupler(
            model,
            inp,
            net.cells,
            duration_s=horizon_s,
            exchange_interval_s=net.exchange_interval_s,
            params=ExchangeParams(inlet_area_m2=net.inlet_area_m2),
            inlet_factor=net.inlet_factor,
            pumps_off=net.pumps_off,
            tailwater=dict(net.tailwater),
            work_dir=tmp,
        )
        try:
            yield coupler.advance
        finally:
            coupler.close()


def run_member(district: District, spec: MemberSpec) -> MemberResult:
    """Run the inundation core for one member (pure function: safe in a worker process).

    With a drainage network the surface is coupled to it (:mod:`fangxun.drainage.coupler`) and
    the catchment sink is off; without one the sink stands for the pipes.
    """
    if district.subgrid_ratio > 1 and district.network is None:
        # The subgrid model has no exchange with a network yet: a coupled district runs the
        # plain model on its model cells.
        return _run_member_subgrid(district, spec)
    model = Model(
        district.grid(),
        manning=district.manning,
        rain=spec.rain,
        drainage_mm_h=None if district.network is not None else district.drainage_mm_h,
        boundary="open",
        initial_depth=spec.initial_depth,
        backend=spec.backend,
        gauges=spec.gauges,
        depth_thresholds_m=(spec.arrival_depth_m,),
        output_interval_s=spec.output_interval_s,
    )
    snapshots: dict[float, FloatArray] = {}
    with _network(district, model, spec.horizon_s) as advance:
        for t in sorted({t for t in spec.snapshot_s if 0.0 < t < spec.horizon_s}):
            advance(t)
            snapshots[t] = model.depth.astype(np.float32)
        advance(spec.horizon_s)
    snapshots[float(spec.horizon_s)] = model.depth.astype(np.float32)
    series: dict[str, FloatArray] = {}
    times = np.zeros(0)
    keep = np.zeros(0, dtype=bool)
    for name in spec.gauges:
        t_all, depth, _ = model.gauge_series(name)
        # Snapshot stops add samples off the regular output grid: keep the grid (and the end).
        k = np.round(t_all / spec.output_interval_s)
        keep = np.isclose(t_all, k * spec.output_interval_s) | (t_all == spec.horizon_s)
        times = np.asarray(t_all[keep], dtype=np.float64)
        series[name] = np.asarray(depth[keep], dtype=np.float64)
    return MemberResult(
        times_s=np.asarray(times, dtype=np.float64),
        series=series,
        max_depth=model.max_depth,
        arrival_s=model.arrival_time(spec.arrival_depth_m),
        final_depth=model.depth,
        mass_error_m3=float(model.mass_balance()["error"]),
        snapshots=snapshots if spec.snapshot_s else {},
    )


def _run_member_subgrid(district: District, spec: MemberSpec) -> MemberResult:
    """:func:`run_member` on the subgrid model (tables built once per process and terrain)."""
    from fangxun.inundation import SubgridModel, build_tables

    tables = build_tables(district.fine_grid(), district.subgrid_ratio)
    if tables.shape != district.shape:
        raise ValueError(
            f"subgrid tables {tables.shape} do not match the district {district.shape}"
        )
    zmin = tables.coarse_elevation()  # m, NaN where inactive
    k = district.subgrid_ratio
    points: dict[str, tuple[int, int]] = {}
    assert district.fine_elevation is not None and district.fine_nodata_mask is not None
    ny, nx = district.shape
    fz = np.where(district.fine_nodata_mask, np.inf, district.fine_elevation)
    lowest = fz.reshape(ny, k, nx, k).transpose(0, 2, 1, 3).reshape(ny, nx, k * k)
    for name, (row, col) in spec.gauges.items():
        if spec.fine_gauges and name in spec.fine_gauges:
            points[name] = spec.fine_gauges[name]
        else:  # the cell's lowest pixel: its depth is the cell's (level − zmin)
            a, b = divmod(int(np.argmin(lowest[row, col])), k)
            points[name] = (row * k + a, col * k + b)
    level0 = None
    if spec.initial_depth is not None:
        level0 = np.where(np.isfinite(zmin), zmin + np.nan_to_num(spec.initial_depth), 0.0)
    model = SubgridModel(
        tables,
        manning=district.manning,
        rain=spec.rain,
        drainage_mm_h=district.drainage_mm_h,
        boundary="open",
        initial_level_m=level0,
        backend=spec.backend,
        points=points,
        depth_thresholds_m=(spec.arrival_depth_m,),
        output_interval_s=spec.output_interval_s,
    )

    def depth_now() -> FloatArray:
        return np.maximum(model.water_level - zmin, 0.0)

    snapshots: dict[float, FloatArray] = {}
    for t in sorted({t for t in spec.snapshot_s if 0.0 < t < spec.horizon_s}):
        model.run_until(t)
        snapshots[t] = depth_now().astype(np.float32)
    model.run_until(spec.horizon_s)
    snapshots[float(spec.horizon_s)] = depth_now().astype(np.float32)
    series: dict[str, FloatArray] = {}
    times = np.zeros(0)
    for name in spec.gauges:
        t_all, depth = model.point_series(name)
        kk = np.round(t_all / spec.output_interval_s)
        keep = np.isclose(t_all, kk * spec.output_interval_s) | (t_all == spec.horizon_s)
        times = np.asarray(t_all[keep], dtype=np.float64)
        series[name] = np.asarray(depth[keep], dtype=np.float64)
    # a cell's arrival: the first of its pixels (the lowest one) reaching the threshold
    fine_arr = np.nan_to_num(model.fine_arrival_time(spec.arrival_depth_m), nan=np.inf)
    arrival = fine_arr.reshape(ny, k, nx, k).min(axis=(1, 3))
    arrival = np.where(np.isfinite(arrival) & np.isfinite(zmin), arrival, np.nan)
    return MemberResult(
        times_s=np.asarray(times, dtype=np.float64),
        series=series,
        max_depth=np.maximum(model.max_level - zmin, 0.0),
        arrival_s=arrival,
        final_depth=depth_now(),
        mass_error_m3=float(model.mass_balance()["error"]),
        snapshots=snapshots if spec.snapshot_s else {},
    )


def run_members(
    district: District,
    specs: Sequence[MemberSpec],
    *,
    executor: str = "process",
    dask_address: str = "",
    workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[MemberResult]:
    """Run every member; results in the order of ``specs``.

    ``executor``: ``"serial"`` (in this process), ``"process"`` (a ``ProcessPoolExecutor``) or,
    when ``dask_address`` is set, the Dask cluster at that address (``dask.distributed`` must be
    importable, else ``RuntimeError`` says so). ``progress(done, total)`` after each member.
    """
    n = len(specs)
    results: list[MemberResult | None] = [None] * n
    done = 0
    if dask_address:
        for i, result in _run_members_on_dask(district, specs, dask_address):
            results[i] = result
            done += 1
            if progress:
                progress(done, n)
    elif executor == "serial" or n == 1:
        for i, s in enumerate(specs):
            results[i] = run_member(district, s)
            done += 1
            if progress:
                progress(done, n)
    elif executor == "process":
        import multiprocessing
        import os
        from concurrent.futures import ProcessPoolExecutor
        from concurrent.futures import as_completed as cf_completed

        max_workers = workers or max(1, min(n, os.cpu_count() or 1))
        # "spawn": a forked child of a process that already runs Numba's threading layer (or a
        # SQLAlchemy pool) can deadlock; spawn starts clean.
        ctx = multiprocessing.get_context("spawn")
        threads = max(1, (os.cpu_count() or 1) // max_workers)
        with ProcessPoolExecutor(
            max_workers=max_workers,
            mp_context=ctx,
            initializer=_limit_threads,
            initargs=(threads,),
        ) as pool:
            pfuts = {pool.submit(run_member, district, s): i for i, s in enumerate(specs)}
            for pf in cf_completed(pfuts):
                results[pfuts[pf]] = pf.result()
                done += 1
                if progress:
                    progress(done, n)
    else:
        raise ValueError(f"executor must be 'serial' or 'process', got {executor!r}")
    return [r for r in results if r is not None]


#: How often a member is tried again when the worker running it dies (a lost worker's tasks are
#: rescheduled by the scheduler; ``retries`` covers a member that raised on a sick worker).
DASK_MEMBER_RETRIES = 2


def _run_members_on_dask(
    district: District, specs: Sequence[MemberSpec], dask_address: str
) -> Iterator[tuple[int, MemberResult]]:
    """Run the members on the Dask cluster at ``dask_address``; yields (index, result) as done.

    The district (terrain, masks, network text: ~15 MB for a real district) is scattered to the
    workers once and referenced by every member's task, so the task graph carries only the
    members' own specs. A worker that dies mid-member loses nothing: the scheduler reruns its
    members elsewhere.
    """
    try:
        from dask.distributed import Client, as_completed
    except ImportError as exc:
        raise RuntimeError(
            f"FANGXUN_FORECAST_DASK_ADDRESS is set ({dask_address!r}) but dask.distributed "
            "is not installed: pip install 'fangxun[cluster]' or clear the setting"
        ) from exc
    with Client(dask_address) as client:  # type: ignore[no-untyped-call]  # dask is untyped
        [district_on_workers] = client.scatter([district], broadcast=True, hash=False)
        futures = {
            client.submit(
                run_member, district_on_workers, spec, pure=False, retries=DASK_MEMBER_RETRIES
            ): i
            for i, spec in enumerate(specs)
        }
        for future in as_completed(list(futures)):  # type: ignore[no-untyped-call]
            yield futures[future], future.result()


def _limit_threads(n: int) -> None:
    """Worker initialiser: share the cores between workers instead of oversubscribing them."""
    try:
        import numba

        numba.set_num_threads(min(n, numba.get_num_threads()))
    except ImportError:  # the numpy backend needs no threads
        pass


@dataclass(frozen=True)
class PointStats:
    """Per-point outcome: peak depth (m) and its time (s), time to each threshold (s or None)."""

    peak_depth_m: float
    peak_time_s: float
    time_to_threshold_s: dict[str, float | None]


def point_stats(
    times_s: FloatArray, depth_m: FloatArray, thresholds_m: Mapping[str, float]
) -> PointStats:
    """Peak and first crossing (first output time with depth >= threshold) of one series."""
    if depth_m.size == 0:
        raise ValueError("empty depth series")
    k = int(np.argmax(depth_m))
    crossing: dict[str, float | None] = {}
    for colour, thr in thresholds_m.items():
        above = np.flatnonzero(depth_m >= thr)
        crossing[colour] = float(times_s[above[0]]) if above.size else None
    return PointStats(float(depth_m[k]), float(times_s[k]), crossing)


def exceedance_probability(peaks_m: Sequence[float], threshold_m: float) -> float:
    """Fraction of members whose peak depth (m) reaches ``threshold_m`` (m)."""
    if not peaks_m:
        raise ValueError("no members")
    return sum(1 for p in peaks_m if p >= threshold_m) / len(peaks_m)


#: Rain colour scale, mm/h (lower bounds) and colours: the usual radar steps, light to violent.
RAIN_SCALE_MM_H: tuple[float, ...] = (0.1, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0)
RAIN_COLOURS: tuple[str, ...] = (
    "#c6dbef", "#6baed6", "#2171b5", "#41ab5d", "#fdd835", "#fb8c00", "#e53935", "#8e24aa",
)  # fmt: skip


def rain_rgba(rate_mm_h: FloatArray) -> Any:
    """An RGBA uint8 image of a rain field (mm/h) in the steps of :data:`RAIN_SCALE_MM_H`,
    transparent below the first step."""
    from matplotlib.colors import to_rgba

    r = np.where(np.isfinite(rate_mm_h), rate_mm_h, 0.0)
    k = np.digitize(r, RAIN_SCALE_MM_H) - 1  # −1: below the first step
    lut = np.array([to_rgba(c, 0.7) for c in RAIN_COLOURS])
    rgba = np.zeros((*r.shape, 4))
    wet = k >= 0
    rgba[wet] = lut[k[wet]]
    return (rgba * 255).astype(np.uint8)


def overlay_rgba(max_depth_m: FloatArray, *, min_depth_m: float = 0.03, vmax_m: float = 0.6) -> Any:
    """An RGBA uint8 image of the max depth (m): transparent below ``min_depth_m``, Blues above."""
    from matplotlib import colormaps

    d = np.where(np.isfinite(max_depth_m), max_depth_m, 0.0)
    norm = np.clip(d / vmax_m, 0.0, 1.0)
    rgba = colormaps["Blues"](0.3 + 0.7 * norm)
    rgba[..., 3] = np.where(d >= min_depth_m, 0.75, 0.0)
    return (rgba * 255).astype(np.uint8)
