"""Subgrid terrain: the local inertial model on coarse cells that keep the fine DEM in tables.

Why. Ponding is decided by features a few metres wide (kerbs, underpass dips, low courtyards).
A 5 m model resolves them but costs (4×)³ ≈ 64× a 20 m one (4× the cells in each direction and
a 4× shorter step); a plain 20 m model averages them away. A subgrid model (Casulli 2009; Volp
et al. 2013; SFINCS, Leijnse et al. 2021) runs on the coarse cells but stores, from the fine
DEM, how much water a cell holds at a given level and how much a face conveys: the coarse
model then stores the right volume and passes the right discharge.

Tables (:class:`SubgridTables`, built once per terrain by :func:`build_tables`, cached on disk
keyed by a hash of the terrain and the options). For each coarse cell of ``ratio × ratio``
fine pixels, at ``n_levels`` levels spaced evenly between the cell's lowest and highest
storage pixel: the volume ``V(ζ) = Σ max(ζ − z_p, 0)·a_p`` and the wet area. Between levels
both are linear; above the highest pixel the whole cell is wet and ``V`` grows by its full
area per metre. For each coarse face, from its fine faces (each fine face's bed is the higher
of its two pixels, as the regular model's ``max(z)``), arranged in rows across the face (one
per fine row): the wet fraction of the width, the mean depth (wet cross-section / width) and
the conveyance depth

    h_row(ζ) = ( mean along the row of (ζ − z_b)^(−10/3) )^(−3/10)   (0 if a face is dry),
    h_rep(ζ) = ( mean over the rows of h_row^(5/3) )^(3/5),

the depth whose Manning discharge h^(5/3)·√S/n equals the fine faces' own: rows side by side
add their discharges (parallel channels, SFINCS's representative depth), faces along a row lose
head in series (so a sill controls its row). ``face_strip`` picks the fine faces: ``"line"``
(default) the one fine face per row on the coarse face line, ``"centres"`` the strip between
the two cell centres (``benchmarks/subgrid.py`` compares them). Above the highest crest
``h_rep`` grows by ``(open row fraction)^(3/5)`` per metre. Buildings (``blocked`` pixels)
hold no water and close the fine faces they touch, but catch rain (roofs drain to the street);
nodata pixels do neither. A coarse cell with no storage pixel is inactive; faces next to it
are closed.

The step (:mod:`._subgrid_reference`, :mod:`._subgrid_kernels`) is the regular model's
(θ-scheme, friction on |q⃗|, positivity limiter, adaptive Δt; see :mod:`.model`) with three
changes. The prognostic variable is the **volume** of each cell (so mass is exact whatever the
tables' interpolation); the water level ζ is read from the volume table after each step. A
face's flow depth is ``h_rep`` at the higher of its two levels. Rain falls on the cell's
rain-catching area; drainage and infiltration act on the wet area at the new level (each takes
at most what the cell holds). The step is Δt = α·Δx/√(g·h_max) with ``h_max`` the largest
level above a cell's lowest pixel (the deepest water anywhere: conservative). With
``ratio = 1`` every table is exact and the model is the regular model (to round-off;
``tests/inundation/test_subgrid.py``). Not supported (ValueError): stage boundaries and wet-region
tracking.

Point inflows enter after the step's flow update, and the step is shortened where an inflow
would otherwise put more water into its cell than the CFL allows there (as :mod:`.model`; the
rise uses the cell's full area, exact at ``ratio = 1`` and the smallest rise otherwise).

Depths where it matters: a point's depth is the coarse level minus the point's own fine
elevation (an underpass 2 m below the street reads its own depth). Per point the model keeps
the maximum, arrival times and time above thresholds at every step; the fine rasters
(:meth:`SubgridModel.fine_max_depth` exactly, :meth:`SubgridModel.fine_arrival_time` and
:meth:`SubgridModel.fine_time_above` sampled at the output times) are level minus fine DEM.

>>> import numpy as np
>>> from fangxun.inundation import Grid, Hyetograph
>>> z = np.zeros((8, 8)); z[2, 2] = -1.0  # one 1 m deep pixel of 1 m²
>>> tables = build_tables(Grid(z, cell_size=1.0), ratio=4)
>>> float(tables.volume_at(0, 0, 0.0))  # filled to the rim it holds exactly its volume
1.0
>>> rain = Hyetograph(times_s=[0.0, 600.0], intensity_mm_h=[36.0, 0.0])
>>> m = SubgridModel(tables, rain=rain, backend="numpy")
>>> m.run_until(900.0)
>>> round(m.mass_balance()["rain"], 6), abs(m.mass_balance()["error"]) < 1e-9
(0.384, True)
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from typing_extensions import Unpack

from . import _subgrid_kernels as K
from . import _subgrid_reference as R
from ._backend import CLOSED, EDGES, GRAVITY, OPEN
from .config import ModelOptions, NumericsConfig, OutputConfig, split_options
from .drainage import Horton, PointInflow, drainage_rate_m_s
from .grid import Grid
from .massbalance import MassBalance
from .model import _first_bad, _raster, checked_rain, face_friction
from .rain import GriddedRain, Hyetograph

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
ProgressFn = Callable[[float, float], None]

TABLE_VERSION = 2
"""Bumped whenever the tables' definition changes (invalidates the disk cache)."""

_CELL_KEYS = ("zmin", "zmax", "dl", "afull", "arain", "vol", "area")
_FACE_KEYS = ("zmin", "zmax", "dl", "slope", "hrep", "wet", "depth")


@dataclass(frozen=True)
class SubgridTables:
    """Volume/area tables per coarse cell and conveyance tables per coarse face (see the module
    docstring). Levels and beds are metres above the fine grid's lowest pixel (``z_ref``).

    Attributes:
        fine: the fine terrain (its elevation in metres, cell size in metres).
        blocked: fine pixels that hold no water (buildings), bool (fine shape).
        ratio: fine pixels per coarse cell side.
        n_levels: levels per table.
        z_ref: the fine grid's lowest storage elevation (m), subtracted from every level.
        cells: ``zmin, zmax, dl, afull, arain`` (coarse shape) and ``vol, area`` (…, n_levels).
        xfaces / yfaces: ``zmin, zmax, dl, slope`` and ``hrep, wet, depth`` (…, n_levels).
        key: the hash the tables were cached under.
    """

    fine: Grid
    blocked: npt.NDArray[np.bool_]
    ratio: int
    n_levels: int
    z_ref: float
    cells: Mapping[str, FloatArray]
    xfaces: Mapping[str, FloatArray]
    yfaces: Mapping[str, FloatArray]
    key: str

    @property
    def shape(self) -> tuple[int, int]:
        """Coarse (rows, cols)."""
        s = self.cells["zmin"].shape
        return (int(s[0]), int(s[1]))

    @property
    def cell_size(self) -> float:
        """Coarse cell side (m)."""
        return self.fine.cell_size * self.ratio

    @property
    def active(self) -> npt.NDArray[np.bool_]:
        """Coarse cells that hold water."""
        return np.asarray(self.cells["afull"] > 0.0)

    def volume_at(self, row: int, col: int, level_m: float) -> float:
        """Volume (m³) cell (row, col) holds at the water level ``level_m`` (m, the fine datum)."""
        c = self.cells
        lv = float(level_m) - self.z_ref
        zmin, zmax, dl = (
            float(c["zmin"][row, col]),
            float(c["zmax"][row, col]),
            float(c["dl"][row, col]),
        )
        vol = c["vol"][row, col]
        if lv <= zmin or c["afull"][row, col] <= 0:
            return 0.0
        if lv >= zmax:
            return float(vol[-1] + (lv - zmax) * c["afull"][row, col])
        x = (lv - zmin) / dl
        k = min(int(x), self.n_levels - 2)
        return float(vol[k] + (x - k) * (vol[k + 1] - vol[k]))

    def level_of(self, volumes_m3: npt.ArrayLike) -> FloatArray:
        """Water level (m, fine datum) of every coarse cell holding ``volumes_m3``."""
        v = np.asarray(volumes_m3, dtype=np.float64)
        c = self.cells
        return R.cell_level(v, c["zmin"], c["zmax"], c["dl"], c["vol"], c["afull"]) + self.z_ref

    def coarse_elevation(self) -> FloatArray:
        """The lowest storage pixel of each coarse cell (m; NaN where inactive)."""
        return np.where(self.active, self.cells["zmin"] + self.z_ref, np.nan)


def _hash_terrain(
    fine: Grid, blocked: npt.NDArray[np.bool_], ratio: int, n_levels: int, strip: str
) -> str:
    h = hashlib.sha256()
    h.update(f"subgrid-v{TABLE_VERSION}|{ratio}|{n_levels}|{strip}|{fine.cell_size!r}|".encode())
    h.update(str(fine.shape).encode())
    h.update(np.ascontiguousarray(np.nan_to_num(fine.elevation, nan=-9999.0)).tobytes())
    h.update(np.ascontiguousarray(fine.nodata_mask).tobytes())
    h.update(np.ascontiguousarray(blocked).tobytes())
    return h.hexdigest()[:32]


def build_tables(
    fine: Grid,
    ratio: int,
    *,
    blocked: npt.ArrayLike | None = None,
    n_levels: int = 10,
    cache_dir: str | os.PathLike[str] | None = None,
    backend: str = "numba",
    face_strip: str = "line",
) -> SubgridTables:
    """Build (or load from ``cache_dir``) the subgrid tables of ``fine`` at ``ratio``.

    Args:
        fine: the fine terrain. Its shape need not be a multiple of ``ratio``: the last coarse
            row/column then holds fewer pixels (the rest is treated as nodata).
        ratio: fine pixels per coarse cell side (an integer >= 1).
        blocked: fine pixels that hold no water and close the fine faces they touch
            (buildings), bool raster of the fine shape, or None.
        n_levels: levels per table (>= 2).
        cache_dir: directory for ``subgrid-<hash>.npz`` files (hash of terrain and options),
            or None for no cache. An unreadable cache file is rebuilt (and logged).
        backend: ``"numba"`` or ``"numpy"`` (the reference; slow, for tests).
        face_strip: which fine faces make a coarse face's conveyance: ``"line"`` (default:
            the fine faces on the coarse face line, the crest the regular model would see) or
            ``"centres"`` (the strip between the two cell centres, each fine row in series).
            ``benchmarks/subgrid.py``: "line" is better for urban ponding (demo: point peak
            RMSE 3.6 vs 10.4 cm at 4×), "centres" for a valley flood (EA5: 4.4 vs 6.6 cm at 3×).

    Raises:
        ValueError: for a bad ratio, level count, blocked raster or backend.
    """
    if not isinstance(fine, Grid):
        raise ValueError(f"fine must be a fangxun.inundation.Grid, got {type(fine).__name__}")
    if isinstance(ratio, bool) or not isinstance(ratio, (int, np.integer)) or ratio < 1:
        raise ValueError(
            f"ratio must be an integer >= 1 (fine pixels per coarse side), got {ratio!r}"
        )
    r = int(ratio)
    if isinstance(n_levels, bool) or not isinstance(n_levels, (int, np.integer)) or n_levels < 2:
        raise ValueError(f"n_levels must be an integer >= 2, got {n_levels!r}")
    if backend not in ("numba", "numpy"):
        raise ValueError(f"backend must be 'numba' or 'numpy', got {backend!r}")
    if face_strip not in ("centres", "line"):
        raise ValueError(f"face_strip must be 'centres' or 'line', got {face_strip!r}")
    if blocked is None:
        blk = np.zeros(fine.shape, dtype=bool)
    else:
        blk = np.array(blocked, dtype=bool, copy=True)
        if blk.shape != fine.shape:
            raise ValueError(
                f"blocked raster shape {blk.shape} does not match the fine terrain {fine.shape}"
            )
    storage0 = ~fine.nodata_mask & ~blk
    if not storage0.any():
        raise ValueError("every fine pixel is nodata or blocked: nothing can hold water")
    key = _hash_terrain(fine, blk, r, int(n_levels), face_strip)
    memo = _MEMO.get((key, backend))
    if memo is not None:
        return memo
    offset, along = (r - r // 2, r) if face_strip == "centres" else (1, 1)
    tables = _build_or_load(
        fine, blk, r, int(n_levels), key, cache_dir, backend, storage0, offset, along
    )
    if len(_MEMO) >= _MEMO_SIZE:
        _MEMO.pop(next(iter(_MEMO)))
    _MEMO[(key, backend)] = tables
    return tables


_MEMO: dict[tuple[str, str], SubgridTables] = {}
_MEMO_SIZE = 4  # tables kept per process (ensemble members of one district reuse them)


def _build_or_load(
    fine: Grid,
    blk: npt.NDArray[np.bool_],
    r: int,
    n_levels: int,
    key: str,
    cache_dir: str | os.PathLike[str] | None,
    backend: str,
    storage0: npt.NDArray[np.bool_],
    offset: int,
    along: int,
) -> SubgridTables:
    path = None if cache_dir is None else Path(cache_dir) / f"subgrid-{key}.npz"
    blk.setflags(write=False)
    if path is not None and path.exists():
        try:
            with np.load(path) as data:
                z_ref = float(data["z_ref"])
                cells = {k: data[f"c_{k}"] for k in _CELL_KEYS}
                xf = {k: data[f"x_{k}"] for k in _FACE_KEYS}
                yf = {k: data[f"y_{k}"] for k in _FACE_KEYS}
            return SubgridTables(fine, blk, r, int(n_levels), z_ref, cells, xf, yf, key)
        except (OSError, KeyError, ValueError) as exc:
            log.warning("subgrid table cache %s unreadable (%s); rebuilding", path, exc)

    nyf, nxf = fine.shape
    ny, nx = -(-nyf // r), -(-nxf // r)
    z_ref = float(np.min(fine.elevation[storage0]))
    zf = np.zeros((ny * r, nx * r))
    zf[:nyf, :nxf] = np.where(storage0 | ~fine.nodata_mask, fine.elevation - z_ref, 0.0)
    zf = np.nan_to_num(zf, nan=0.0)
    storage = np.zeros(zf.shape, dtype=bool)
    storage[:nyf, :nxf] = storage0
    catches = np.zeros(zf.shape, dtype=bool)
    catches[:nyf, :nxf] = ~fine.nodata_mask
    a_fine = fine.cell_area_m2
    n = int(n_levels)
    if backend == "numpy":
        cells = R.cell_tables(zf, storage, catches, r, n, a_fine)
        act = cells["afull"] > 0
        xf = R.x_face_tables(zf, storage, act, r, n, offset, along)
        yf = R.y_face_tables(zf, storage, act, r, n, offset, along)
    else:
        cells = {k: np.zeros((ny, nx)) for k in _CELL_KEYS[:5]}
        cells["vol"] = np.zeros((ny, nx, n))
        cells["area"] = np.zeros((ny, nx, n))
        K.build_cell_tables(zf, storage, catches, r, n, a_fine, *(cells[k] for k in _CELL_KEYS))
        act = cells["afull"] > 0
        xf = {k: np.zeros((ny, nx + 1)) for k in _FACE_KEYS[:4]}
        yf = {k: np.zeros((ny + 1, nx)) for k in _FACE_KEYS[:4]}
        for k in _FACE_KEYS[4:]:
            xf[k] = np.zeros((ny, nx + 1, n))
            yf[k] = np.zeros((ny + 1, nx, n))
        K.build_x_face_tables(zf, storage, offset, along, act, r, n, *(xf[k] for k in _FACE_KEYS))
        K.build_y_face_tables(zf, storage, offset, along, act, r, n, *(yf[k] for k in _FACE_KEYS))
    for d in (cells, xf, yf):
        for a in d.values():
            a.setflags(write=False)
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.tmp.npz")
            arrays: dict[str, Any] = {"z_ref": np.float64(z_ref)}
            arrays.update({f"c_{k}": v for k, v in cells.items()})
            arrays.update({f"x_{k}": v for k, v in xf.items()})
            arrays.update({f"y_{k}": v for k, v in yf.items()})
            np.savez(tmp, **arrays)
            os.replace(tmp, path)
        except OSError as exc:
            log.warning("could not write the subgrid table cache %s: %s", path, exc)
    return SubgridTables(fine, blk, r, n, z_ref, cells, xf, yf, key)


def _boundary_kinds(spec: str | Mapping[str, str]) -> tuple[int, int, int, int]:
    if isinstance(spec, str):
        per = dict.fromkeys(EDGES, spec)
    elif isinstance(spec, Mapping):
        unknown = [k for k in spec if k not in EDGES]
        if unknown:
            raise ValueError(f"unknown boundary edge(s) {unknown}; edges are {list(EDGES)}")
        per = {e: spec.get(e, "closed") for e in EDGES}
    else:
        raise ValueError(f"boundary must be 'closed', 'open' or a dict per edge, got {spec!r}")
    kinds = []
    for e in EDGES:
        if per[e] == "closed":
            kinds.append(CLOSED)
        elif per[e] == "open":
            kinds.append(OPEN)
        else:
            raise ValueError(
                f"subgrid boundary for the {e} edge must be 'closed' or 'open' (stage edges are "
                f"not supported by the subgrid model), got {per[e]!r}"
            )
    return (kinds[0], kinds[1], kinds[2], kinds[3])


class SubgridModel:
    """The local inertial model on subgrid tables (see the module docstring).

    Coarse-grid inputs (``manning``, ``drainage_mm_h``, ``infiltration`` rasters, ``rain`` fields,
    ``inflows`` rows/cols) are on the coarse grid (:attr:`SubgridTables.shape`); ``points`` are
    fine-grid (row, col) pixels.

    Args:
        tables: from :func:`build_tables`.
        manning: Manning's n (s/m^(1/3)), scalar or coarse raster (face: mean of its cells).
        rain: :class:`~.rain.Hyetograph`, coarse :class:`~.rain.GriddedRain` or None.
        drainage_mm_h: sink capacity (mm/h) on the wet area, scalar or coarse raster, or None.
        infiltration: :class:`~.drainage.Horton` (on the wet area), or None.
        inflows: point inflows (m³/s) at coarse cells, or None.
        boundary: ``"closed"``, ``"open"`` or a dict per edge of those.
        initial_level_m: water level (m, the terrain's datum) at t = 0, scalar or coarse raster
            (cells below it fill to it), or None for dry.
        dtype: ``"float32"`` or ``"float64"``.
        backend: ``"numba"`` or ``"numpy"`` (reference).
        points: name → fine (row, col) of hazard points / gauges.
        alpha, theta, depth_thresholds_m, output_interval_s, max_dt_s, fixed_dt_s,
        wet_threshold_m, flow_depth_min_m: as :class:`~.model.Model`.
    """

    def __init__(
        self,
        tables: SubgridTables,
        manning: float | npt.ArrayLike = 0.03,
        rain: Hyetograph | GriddedRain | None = None,
        drainage_mm_h: float | npt.ArrayLike | None = None,
        infiltration: Horton | None = None,
        inflows: Sequence[PointInflow] | None = None,
        boundary: str | Mapping[str, str] = "closed",
        initial_level_m: float | npt.ArrayLike | None = None,
        dtype: str = "float64",
        backend: str = "numba",
        points: Mapping[str, tuple[int, int]] | None = None,
        *,
        numerics: NumericsConfig | None = None,
        outputs: OutputConfig | None = None,
        **options: Unpack[ModelOptions],
    ) -> None:
        if not isinstance(tables, SubgridTables):
            raise ValueError(f"tables must be SubgridTables, got {type(tables).__name__}")
        self.tables = tables
        self.numerics, self.outputs = split_options(numerics, outputs, options)
        if str(dtype) not in ("float32", "float64"):
            raise ValueError(f"dtype must be 'float32' or 'float64', got {dtype!r}")
        self.dtype = np.dtype(np.float32 if str(dtype) == "float32" else np.float64)
        if backend not in ("numba", "numpy"):
            raise ValueError(f"backend must be 'numba' or 'numpy', got {backend!r}")
        self.backend = backend
        self._step_fn: Callable[..., Any] = K.subgrid_step if backend == "numba" else R.subgrid_step
        self._active = tables.active
        gn2x, gn2y = face_friction(manning, self._active)
        self.rain = checked_rain(rain, tables.shape, "the coarse grid")
        drain, f0, fc, kk = self._sinks(drainage_mm_h, infiltration)
        self._set_inflows(inflows)
        self._bc = np.array(_boundary_kinds(boundary), dtype=np.int64)
        self._set_arrays(initial_level_m, gn2x, gn2y, (drain, f0, fc, kk))
        self._set_points(points)
        self._reset_counters()

    # Options, as attributes (read-only; they live in the two configs).
    alpha = property(lambda self: self.numerics.alpha, doc="Courant number α.")
    theta = property(lambda self: self.numerics.theta, doc="de Almeida θ.")
    max_dt_s = property(lambda self: self.numerics.max_dt_s, doc="Largest step (s).")
    fixed_dt_s = property(lambda self: self.numerics.fixed_dt_s, doc="Fixed step (s) or None.")
    flow_depth_min_m = property(
        lambda self: self.numerics.flow_depth_min_m, doc="Smallest flow depth (m) that flows."
    )
    depth_thresholds_m = property(
        lambda self: self.outputs.depth_thresholds_m, doc="Depth thresholds (m)."
    )
    output_interval_s = property(
        lambda self: self.outputs.output_interval_s, doc="Output interval (s)."
    )
    wet_threshold_m = property(
        lambda self: self.outputs.wet_threshold_m, doc="Depth (m) from which a cell is wet."
    )

    # ------------------------------------------------------------------ set-up steps

    def _sinks(
        self, drainage_mm_h: float | npt.ArrayLike | None, infiltration: Horton | None
    ) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
        """(drainage capacity m/s, Horton f0, fc m/s and k 1/s) coarse rasters (wet area)."""
        shape = self.tables.shape
        drain = (
            np.zeros(shape) if drainage_mm_h is None else drainage_rate_m_s(drainage_mm_h, shape)
        )
        self._has_drain = bool(np.any(drain[self._active] > 0))
        if infiltration is not None and not isinstance(infiltration, Horton):
            raise ValueError(
                f"infiltration must be a Horton(...) or None, got {type(infiltration).__name__}"
            )
        if infiltration is not None:
            f0, fc, kk = infiltration.rasters(shape)
        else:
            f0, fc, kk = np.zeros(shape), np.zeros(shape), np.zeros(shape)
        self._has_infil = bool(np.any(f0[self._active] > 0))
        return drain, f0, fc, kk

    def _set_inflows(self, inflows: Sequence[PointInflow] | None) -> None:
        ny, nx = shape = self.tables.shape
        self.inflows = list(inflows or [])
        for f in self.inflows:
            if not isinstance(f, PointInflow):
                raise ValueError(f"inflows must be PointInflow objects, got {type(f).__name__}")
            if not (0 <= f.row < ny and 0 <= f.col < nx) or not self._active[f.row, f.col]:
                raise ValueError(
                    f"inflow at (row={f.row}, col={f.col}) is outside the coarse grid {shape} "
                    "or on an inactive cell"
                )
        self._inflow_breaks = np.unique(
            np.concatenate([np.asarray(f.times_s, dtype=np.float64) for f in self.inflows])
            if self.inflows
            else np.zeros(0)
        )

    def _set_arrays(
        self,
        initial_level_m: float | npt.ArrayLike | None,
        gn2x: FloatArray,
        gn2y: FloatArray,
        sinks: tuple[FloatArray, FloatArray, FloatArray, FloatArray],
    ) -> None:
        """The stepped arrays in the model's dtype: tables, volumes from the initial level,
        levels, fluxes, friction, forcing, running maxima."""
        tables, rain, active = self.tables, self.rain, self._active
        shape = tables.shape
        ny, nx = shape
        ft: Any = self.dtype.type
        drain, f0, fc, kk = sinks
        ctab, xf, yf = tables.cells, tables.xfaces, tables.yfaces
        cast = {k: np.ascontiguousarray(v, dtype=ft) for k, v in ctab.items()}
        self._c = cast
        self._x = {k: np.ascontiguousarray(v, dtype=ft) for k, v in xf.items()}
        self._y = {k: np.ascontiguousarray(v, dtype=ft) for k, v in yf.items()}

        # initial volumes from the initial level, exactly as the tables say
        v0 = np.zeros(shape)
        if initial_level_m is not None:
            lv = _raster(initial_level_m, shape, "initial_level_m")
            bad = ~np.isfinite(lv) & active
            if bad.any():
                r, c_ = _first_bad(bad)
                raise ValueError(f"initial_level_m must be finite, got {lv[r, c_]} at ({r}, {c_})")
            for i, j in zip(*np.nonzero(active), strict=True):
                v0[i, j] = tables.volume_at(int(i), int(j), float(lv[i, j]))
        self._v = v0.astype(ft)
        self._eta = np.empty(shape, dtype=ft)
        self._levels(self._v, self._eta)
        self._qx = np.zeros((ny, nx + 1), dtype=ft)
        self._qy = np.zeros((ny + 1, nx), dtype=ft)
        self._qxn = np.zeros_like(self._qx)
        self._qyn = np.zeros_like(self._qy)
        self._gn2x = gn2x.astype(ft)
        self._gn2y = gn2y.astype(ft)
        self._rain_field = np.zeros(shape if isinstance(rain, GriddedRain) else (1, 1), dtype=ft)
        self._drain = drain.astype(ft)
        self._f = f0.astype(ft)
        self._fc = fc.astype(ft)
        self._k = kk.astype(ft)
        self._max_eta = self._eta.copy()
        self._time_of_max = np.zeros(shape, dtype=ft)
        self._rain_area = float(np.sum(ctab["arain"], dtype=np.float64))

    def _set_points(self, points: Mapping[str, tuple[int, int]] | None) -> None:
        """Hazard points / gauges: fine pixel → coarse cell and own elevation; fine rasters of
        arrival and time above, sampled at output times."""
        tables = self.tables
        thr = self.depth_thresholds_m
        fine = tables.fine
        self._point_names = list(points or {})
        prow, pcol, pz = [], [], []
        for name, (row, col) in (points or {}).items():
            fine.check_cell(int(row), int(col), f"point {name!r}")
            if tables.blocked[row, col]:
                raise ValueError(f"point {name!r} at (row={row}, col={col}) is on a blocked pixel")
            prow.append(int(row) // tables.ratio)
            pcol.append(int(col) // tables.ratio)
            pz.append(float(fine.elevation[row, col]) - tables.z_ref)
        self._p_cell = (np.array(prow, dtype=np.int64), np.array(pcol, dtype=np.int64))
        self._p_z = np.array(pz, dtype=np.float64)
        kth = len(thr)
        np_ = len(pz)
        d0 = self._point_depth_now()
        self._p_max = d0.copy()
        self._p_tmax = np.zeros(np_)
        self._p_arrival = np.where(d0[None, :] >= np.array(thr)[:, None], 0.0, np.inf).reshape(
            kth, np_
        )
        self._p_above = np.zeros((kth, np_))
        self._p_times: list[float] = []
        self._p_series: list[FloatArray] = []
        # fine rasters of arrival/time above, sampled at output times
        zfine = fine.elevation - tables.z_ref
        self._fine_z = np.where(~fine.nodata_mask & ~tables.blocked, zfine, np.nan)
        self._f_arrival = np.full((kth, *fine.shape), np.inf)
        self._f_above = np.zeros((kth, *fine.shape))
        self._f_last_t = 0.0
        self._sample_fine(0.0, initial=True)

    def _reset_counters(self) -> None:
        """Time, step counters, balances and outputs at t = 0 (recorded once)."""
        active, cast = self._active, self._c
        self.time_s = 0.0
        self.steps = 0
        self.cell_updates = 0
        self.limited_steps = 0
        self._h_max = float(np.max(np.where(active, self._eta - cast["zmin"], 0.0)))
        self._rain_until = -math.inf
        self._rain_field_sum = 0.0
        self._area_times: list[float] = []
        self._areas: list[float] = []
        self._mb = MassBalance(initial_storage=self._storage())
        self._next_output = self.output_interval_s
        self._record()

    # ------------------------------------------------------------------ internals

    def _levels(self, v: Any, out: Any) -> None:
        c = self._c
        if self.backend == "numba":
            K.levels_from_volumes(v, c["zmin"], c["zmax"], c["dl"], c["vol"], c["afull"], out)
        else:
            out[...] = R.cell_level(v, c["zmin"], c["zmax"], c["dl"], c["vol"], c["afull"])

    def _storage(self) -> float:
        return float(np.sum(self._v, dtype=np.float64))

    def _point_depth_now(self) -> FloatArray:
        if not self._p_z.size:
            return np.zeros(0)
        lv = self._eta[self._p_cell].astype(np.float64)
        return np.maximum(lv - self._p_z, 0.0)

    def _fine_level(self) -> FloatArray:
        r = self.tables.ratio
        lv = np.repeat(np.repeat(self._eta.astype(np.float64), r, axis=0), r, axis=1)
        ny, nx = self.tables.fine.shape
        return lv[:ny, :nx]

    def _sample_fine(self, t: float, initial: bool = False) -> None:
        """Fine arrival times and time above, from the levels now (at output times)."""
        depth = self._fine_level() - self._fine_z
        dt_since = t - self._f_last_t
        for k, thr in enumerate(self.depth_thresholds_m):
            above = depth >= thr  # NaN (nodata/blocked) compares False
            self._f_arrival[k] = np.where(
                above & np.isinf(self._f_arrival[k]), t, self._f_arrival[k]
            )
            if not initial:
                self._f_above[k] += np.where(above, dt_since, 0.0)
        self._f_last_t = t

    def _record(self) -> None:
        self._mb.record(self.time_s, self._storage())
        if not self._area_times or self._area_times[-1] != self.time_s:
            self._area_times.append(self.time_s)
            self._p_times.append(self.time_s)
            self._areas.append(0.0)
            self._p_series.append(np.zeros(0))
        d = self._fine_level() - self._fine_z
        self._areas[-1] = float(np.count_nonzero(d >= self.wet_threshold_m)) * (
            self.tables.fine.cell_area_m2
        )
        self._p_series[-1] = self._point_depth_now()

    def _next_event(self, t: float) -> float:
        nxt = math.inf
        if self.rain is not None:
            nxt = min(nxt, self.rain.next_change_s(t))
        if self._inflow_breaks.size:
            k = int(np.searchsorted(self._inflow_breaks, t, side="right"))
            if k < self._inflow_breaks.size:
                nxt = min(nxt, float(self._inflow_breaks[k]))
        return nxt

    def _source_dt(self, t: float, dt0: float) -> float:
        """The largest Δt <= ``dt0`` (s) whose inflow leaves every source cell within the CFL.

        :meth:`.model.Model._source_dt` with the depth above the cell's lowest pixel (as
        ``h_max``) and the inflow spread over the full cell area: g·Δt²·(h + c·Δt) <= (α·Δx)²,
        c = rate/ΔA (m/s).
        """
        if dt0 <= 0.0:
            return dt0
        area = self.tables.cell_size**2
        c = np.array([f.volume_m3(t, t + dt0) / (dt0 * area) for f in self.inflows])
        pos = c > 0.0
        if not pos.any():
            return dt0
        rows = np.array([f.row for f in self.inflows], dtype=np.int64)[pos]
        cols = np.array([f.col for f in self.inflows], dtype=np.int64)[pos]
        h = np.maximum(
            np.asarray(self._eta[rows, cols], dtype=np.float64)
            - np.asarray(self._c["zmin"][rows, cols], dtype=np.float64),
            0.0,
        )
        c = c[pos]
        lim2 = (self.alpha * self.tables.cell_size) ** 2
        dt = np.full(h.shape, dt0)
        # F(Δt) = g·Δt²·(h + c·Δt) − (α·Δx)², convex and increasing: Newton from above
        for _ in range(60):
            f_val = GRAVITY * dt * dt * (h + c * dt) - lim2
            over = f_val > 1e-9 * lim2
            if not over.any():
                break
            slope = GRAVITY * dt * (2.0 * h + 3.0 * c * dt)
            dt = np.where(over, dt - f_val / slope, dt)
        return float(min(dt0, float(dt.min()) * (1.0 - 1e-9)))

    def _add_point_sources(self, t: float, t_new: float, h_max: float) -> tuple[float, float]:
        """Point inflows into the volumes after the flow update; (net volume m³, new h_max m).

        As the regular model's ``add_point_sources``: withdrawals take at most what the cell
        holds, the levels and the running maximum level (and its time) of the source cells are
        brought up to date, and ``h_max`` covers their new depth for the next Δt.
        """
        ft = self.dtype.type
        sources = 0.0
        for f in self.inflows:
            vol = f.volume_m3(t, t_new)
            if vol != 0.0:
                old = self._v[f.row, f.col]
                new = max(old + ft(vol), ft(0.0))
                self._v[f.row, f.col] = new
                sources += float(new) - float(old)
        if sources == 0.0:
            return 0.0, h_max
        self._levels(self._v, self._eta)
        rows = np.array([f.row for f in self.inflows], dtype=np.int64)
        cols = np.array([f.col for f in self.inflows], dtype=np.int64)
        lv = self._eta[rows, cols]
        old_max = self._max_eta[rows, cols]
        rise = lv > old_max
        self._max_eta[rows, cols] = np.where(rise, lv, old_max)
        self._time_of_max[rows, cols] = np.where(
            rise, self._time_of_max.dtype.type(t_new), self._time_of_max[rows, cols]
        )
        depth = np.asarray(lv, dtype=np.float64) - np.asarray(
            self._c["zmin"][rows, cols], dtype=np.float64
        )
        return sources, max(h_max, float(depth.max()))

    # ------------------------------------------------------------------ running

    def run_until(self, t_end_s: float, progress: ProgressFn | None = None) -> None:
        """Advance the model to ``t_end_s`` (s); ``progress(t, t_end)`` at output times."""
        t_end = float(t_end_s)
        if not math.isfinite(t_end):
            raise ValueError(f"t_end_s must be finite, got {t_end_s}")
        if t_end < self.time_s:
            raise ValueError(f"t_end_s = {t_end} s is before the model time {self.time_s} s")
        ft = self.dtype.type
        dx = self.tables.cell_size
        cells = self.tables.shape[0] * self.tables.shape[1]
        c, x, y = self._c, self._x, self._y
        thr = np.array(self.depth_thresholds_m)
        eps = 1e-9 * max(1.0, t_end)
        while self.time_s < t_end - eps:
            t = self.time_s
            dt_cfl = (
                min(self.alpha * dx / math.sqrt(GRAVITY * self._h_max), self.max_dt_s)
                if self._h_max > 0.0
                else self.max_dt_s
            )
            stop = min(t_end, self._next_output, self._next_event(t))
            if self.inflows and self.fixed_dt_s is None:
                dt_cfl = self._source_dt(t, min(dt_cfl, stop - t))
            dt = dt_cfl if self.fixed_dt_s is None else self.fixed_dt_s
            t_new = stop if t + dt >= stop - eps else t + dt
            dt = t_new - t
            theta = 1.0 - (1.0 - self.theta) * min(1.0, dt / dt_cfl)
            rain_rate = 0.0
            use_field = False
            rain_vol = 0.0
            if isinstance(self.rain, Hyetograph):
                rain_rate = self.rain.rate_m_s(t)
                rain_vol = float(ft(rain_rate) * ft(dt)) * self._rain_area
            elif isinstance(self.rain, GriddedRain):
                use_field = True
                if t >= self._rain_until:
                    field = np.asarray(self.rain.rate_m_s_field(t), dtype=np.float64)
                    self._rain_field[...] = np.where(self._active, field, 0.0).astype(self.dtype)
                    self._rain_until = self.rain.next_change_s(t)
                    self._rain_field_sum = float(
                        np.sum(self._rain_field.astype(np.float64) * c["arain"], dtype=np.float64)
                    )
                rain_vol = self._rain_field_sum * float(ft(dt))
            h_max, outflow, drained, infiltrated, limited = self._step_fn(
                self._v,
                self._eta,
                self._qx,
                self._qy,
                self._qxn,
                self._qyn,
                self._gn2x,
                self._gn2y,
                c["zmin"],
                c["zmax"],
                c["dl"],
                c["vol"],
                c["area"],
                c["afull"],
                c["arain"],
                x["zmin"],
                x["zmax"],
                x["dl"],
                x["hrep"],
                x["slope"],
                y["zmin"],
                y["zmax"],
                y["dl"],
                y["hrep"],
                y["slope"],
                self._rain_field,
                use_field,
                rain_rate,
                self._drain,
                self._has_drain,
                self._f,
                self._fc,
                self._k,
                self._has_infil,
                self._bc,
                self._max_eta,
                self._time_of_max,
                dt,
                dx,
                theta,
                self.flow_depth_min_m,
                t_new,
            )
            self._qx, self._qxn = self._qxn, self._qx
            self._qy, self._qyn = self._qyn, self._qy
            if self.inflows:
                sources, h_max = self._add_point_sources(t, t_new, float(h_max))
            else:
                sources = 0.0
            self.time_s = t_new
            self.steps += 1
            self.cell_updates += cells
            self.limited_steps += int(limited)
            self._h_max = float(h_max)
            mb = self._mb
            mb.rain += rain_vol
            mb.inflow += sources
            mb.drainage += float(drained)
            mb.infiltration += float(infiltrated)
            mb.outflow += float(outflow)
            if self._p_z.size:
                d = self._point_depth_now()
                rise = d > self._p_max
                self._p_max = np.where(rise, d, self._p_max)
                self._p_tmax = np.where(rise, t_new, self._p_tmax)
                above = d[None, :] >= thr[:, None]
                self._p_arrival = np.where(
                    above & np.isinf(self._p_arrival), t_new, self._p_arrival
                )
                self._p_above += np.where(above, dt, 0.0)
            if self.time_s >= self._next_output - eps:
                self._sample_fine(self.time_s)
                self._record()
                while self._next_output <= self.time_s + eps:
                    self._next_output += self.output_interval_s
                if progress is not None:
                    progress(self.time_s, t_end)
        if self._f_last_t != self.time_s:
            self._sample_fine(self.time_s)
        self._record()
        if progress is not None:
            progress(self.time_s, t_end)

    # ------------------------------------------------------------------ outputs

    def _coarse(self, a: Any) -> FloatArray:
        out = np.array(a, dtype=np.float64, copy=True)
        out[~self._active] = np.nan
        return out

    @property
    def water_level(self) -> FloatArray:
        """Water level ζ (m, the terrain's datum) per coarse cell, NaN where inactive."""
        return self._coarse(self._eta) + self.tables.z_ref

    @property
    def volume(self) -> FloatArray:
        """Water volume (m³) per coarse cell, NaN where inactive."""
        return self._coarse(self._v)

    @property
    def depth(self) -> FloatArray:
        """Mean water depth (m) per coarse cell: volume / storage area, NaN where inactive."""
        a = self.tables.cells["afull"]
        return self._coarse(self._v) / np.where(self._active, a, 1.0)

    @property
    def max_level(self) -> FloatArray:
        """Highest level (m, terrain datum) reached per coarse cell, NaN where inactive."""
        return self._coarse(self._max_eta) + self.tables.z_ref

    @property
    def time_of_max_level(self) -> FloatArray:
        """Time (s) of :attr:`max_level` per coarse cell (0 if it never rose)."""
        return self._coarse(self._time_of_max)

    @property
    def qx_faces(self) -> FloatArray:
        """Unit-width discharge (m²/s) on coarse x faces, positive eastward."""
        return np.array(self._qx, dtype=np.float64, copy=True)

    @property
    def qy_faces(self) -> FloatArray:
        """Unit-width discharge (m²/s) on coarse y faces, positive southward."""
        return np.array(self._qy, dtype=np.float64, copy=True)

    def fine_depth(self) -> FloatArray:
        """Depth (m) now on the fine grid: coarse level − fine elevation, >= 0; NaN on nodata
        and blocked pixels."""
        return np.maximum(self._fine_level() - self._fine_z, 0.0)

    def fine_max_depth(self) -> FloatArray:
        """Largest depth (m) on the fine grid: highest coarse level − fine elevation (exact)."""
        r = self.tables.ratio
        ny, nx = self.tables.fine.shape
        lv = np.repeat(np.repeat(self._max_eta.astype(np.float64), r, axis=0), r, axis=1)
        return np.maximum(lv[:ny, :nx] - self._fine_z, 0.0)

    def _threshold_index(self, threshold_m: float) -> int:
        for i, t in enumerate(self.depth_thresholds_m):
            if abs(t - float(threshold_m)) <= 1e-9 * max(1.0, t):
                return i
        raise ValueError(
            f"threshold {threshold_m} m is not tracked; depth_thresholds_m = "
            f"{list(self.depth_thresholds_m)}"
        )

    def fine_arrival_time(self, threshold_m: float) -> FloatArray:
        """First output time (s) the fine depth reached ``threshold_m``; NaN where never."""
        a: FloatArray = self._f_arrival[self._threshold_index(threshold_m)].copy()
        a[np.isinf(a) | np.isnan(self._fine_z)] = np.nan
        return a

    def fine_time_above(self, threshold_m: float) -> FloatArray:
        """Time (s, counted between output times) the fine depth was >= ``threshold_m``."""
        a: FloatArray = self._f_above[self._threshold_index(threshold_m)].copy()
        a[np.isnan(self._fine_z)] = np.nan
        return a

    @property
    def point_names(self) -> list[str]:
        """Names of the points, in the order of the per-point arrays."""
        return list(self._point_names)

    def point_max_depth(self) -> dict[str, float]:
        """Largest depth (m) at each point (every step)."""
        return {n: float(v) for n, v in zip(self._point_names, self._p_max, strict=True)}

    def point_time_of_max(self) -> dict[str, float]:
        """Time (s) of each point's largest depth."""
        return {n: float(v) for n, v in zip(self._point_names, self._p_tmax, strict=True)}

    def point_arrival_time(self, threshold_m: float) -> dict[str, float]:
        """First time (s, a step's end) the point's depth reached ``threshold_m``; NaN if never."""
        a = self._p_arrival[self._threshold_index(threshold_m)]
        return {
            n: (math.nan if math.isinf(v) else float(v))
            for n, v in zip(self._point_names, a, strict=True)
        }

    def point_time_above(self, threshold_m: float) -> dict[str, float]:
        """Total time (s) the point's depth was at or above ``threshold_m``."""
        a = self._p_above[self._threshold_index(threshold_m)]
        return {n: float(v) for n, v in zip(self._point_names, a, strict=True)}

    def point_series(self, name: str) -> tuple[FloatArray, FloatArray]:
        """(times s, depth m) of point ``name`` at output times."""
        if name not in self._point_names:
            raise ValueError(f"unknown point {name!r}; points are {self._point_names}")
        k = self._point_names.index(name)
        return np.array(self._p_times), np.array([float(s[k]) for s in self._p_series])

    def flooded_area_series(self) -> tuple[FloatArray, FloatArray]:
        """(times s, fine area m² with depth >= ``wet_threshold_m``) at output times."""
        return np.array(self._area_times), np.array(self._areas)

    # ---------------------------------------------- the regular model's output API, fine grid

    @property
    def grid(self) -> Grid:
        """The fine terrain (outputs below are on it, as a regular model's on its grid)."""
        return self.tables.fine

    @property
    def max_depth(self) -> FloatArray:
        """:meth:`fine_max_depth` (m, NaN on nodata and buildings)."""
        return self.fine_max_depth()

    @property
    def time_of_max_depth(self) -> FloatArray:
        """Time (s) the coarse cell holding each fine pixel reached its highest level."""
        r = self.tables.ratio
        ny, nx = self.tables.fine.shape
        t = np.repeat(np.repeat(self._time_of_max.astype(np.float64), r, axis=0), r, axis=1)
        return np.where(np.isnan(self._fine_z), np.nan, t[:ny, :nx])

    def arrival_time(self, threshold_m: float) -> FloatArray:
        """:meth:`fine_arrival_time` (s, at output-time resolution; NaN where never)."""
        return self.fine_arrival_time(threshold_m)

    def time_above(self, threshold_m: float) -> FloatArray:
        """:meth:`fine_time_above` (s, counted between output times)."""
        return self.fine_time_above(threshold_m)

    def gauge_series(self, name: str) -> tuple[FloatArray, FloatArray, FloatArray]:
        """(times s, depth m, speed m/s) of point ``name``; the speed is not computed (NaN)."""
        times, depth = self.point_series(name)
        return times, depth, np.full(times.shape, np.nan)

    def mass_balance(self) -> dict[str, float]:
        """Cumulative volumes (m³): rain, inflow, drainage, infiltration, outflow, storage,
        error (as :meth:`~.model.Model.mass_balance`)."""
        return self._mb.snapshot(self.time_s, self._storage())

    def mass_balance_series(self) -> list[dict[str, float]]:
        """The mass balance recorded at every output time."""
        return [dict(d) for d in self._mb.series]


def _coarsen(value: Any, ratio: int, fine: Grid, what: str) -> Any:
    """A scalar unchanged, or a fine raster as block means over its valid pixels (coarse)."""
    if value is None or np.ndim(value) == 0:
        return value
    arr = np.asarray(value, dtype=np.float64)
    if arr.shape != fine.shape:
        raise ValueError(f"{what} raster shape {arr.shape} does not match the terrain {fine.shape}")
    ny, nx = -(-fine.shape[0] // ratio), -(-fine.shape[1] // ratio)
    pad = np.full((ny * ratio, nx * ratio), np.nan)
    pad[: fine.shape[0], : fine.shape[1]] = np.where(fine.nodata_mask, np.nan, arr)
    blocks = pad.reshape(ny, ratio, nx, ratio)
    count = np.isfinite(blocks).sum(axis=(1, 3))
    total = np.nansum(blocks, axis=(1, 3))
    return np.where(count > 0, total / np.maximum(count, 1), 0.0)


def subgrid_model_from_fine(
    fine: Grid,
    cell_size_m: float,
    *,
    blocked: npt.ArrayLike | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    gauges: Mapping[str, tuple[int, int]] | None = None,
    inflows: Sequence[PointInflow] | None = None,
    manning: float | npt.ArrayLike = 0.03,
    drainage_mm_h: float | npt.ArrayLike | None = None,
    infiltration: Horton | None = None,
    rain: Hyetograph | GriddedRain | None = None,
    initial_depth: float | npt.ArrayLike | None = None,
    boundary: str | Mapping[str, Any] = "closed",
    face_strip: str = "line",
    **options: Any,
) -> SubgridModel:
    """A :class:`SubgridModel` of ``cell_size_m`` cells from inputs given as for a regular
    :class:`~.model.Model` on the fine grid ``fine`` (what a run file describes).

    Rasters (Manning's n, drainage, Horton, gridded rain) are block means over each cell's
    valid pixels; gauges become fine-pixel points; inflows go to the coarse cell holding their
    pixel. ``cell_size_m`` must be a whole multiple of the terrain's cell size. Raises
    ValueError for what the subgrid model cannot take (stage edges, an initial-depth raster).
    """
    ratio_f = float(cell_size_m) / fine.cell_size
    r = round(ratio_f)
    if r < 1 or abs(r - ratio_f) > 1e-6:
        raise ValueError(
            f"subgrid cell size {cell_size_m} m must be a whole multiple of the terrain's cell "
            f"size {fine.cell_size} m"
        )
    if initial_depth is not None and np.ndim(initial_depth) != 0:
        raise ValueError("an initial-depth raster is not supported by the subgrid model yet")
    if isinstance(boundary, Mapping):
        bnd: str | dict[str, str] = {k: v for k, v in boundary.items() if isinstance(v, str)}
        if len(bnd) != len(boundary):
            raise ValueError("stage edges are not supported by the subgrid model")
    else:
        bnd = boundary
    tables = build_tables(fine, r, blocked=blocked, cache_dir=cache_dir, face_strip=face_strip)
    if isinstance(rain, GriddedRain):
        fields = np.stack([_coarsen(f, r, fine, "rain") for f in rain.intensity_mm_h])
        rain = GriddedRain(rain.times_s.tolist(), fields)
    hor = None
    if infiltration is not None:
        hor = Horton(
            f0_mm_h=_coarsen(infiltration.f0_mm_h, r, fine, "Horton f0_mm_h"),
            fc_mm_h=_coarsen(infiltration.fc_mm_h, r, fine, "Horton fc_mm_h"),
            k_per_h=_coarsen(infiltration.k_per_h, r, fine, "Horton k_per_h"),
        )
    moved = [
        PointInflow(f.row // r, f.col // r, f.times_s, f.discharge_m3_s, f.interpolation)
        for f in (inflows or [])
    ]
    level = None
    if initial_depth is not None and float(initial_depth) > 0:  # type: ignore[arg-type]
        # a uniform depth over every pixel is no level; fill each cell to its lowest pixel + h
        level = tables.coarse_elevation() + float(initial_depth)  # type: ignore[arg-type]
        level = np.where(np.isfinite(level), level, 0.0)
    return SubgridModel(
        tables,
        manning=_coarsen(manning, r, fine, "manning"),
        rain=rain,
        drainage_mm_h=_coarsen(drainage_mm_h, r, fine, "drainage_mm_h"),
        infiltration=hor,
        inflows=moved or None,
        boundary=bnd,
        initial_level_m=level,
        points=gauges,
        **options,
    )
