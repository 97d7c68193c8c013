"""The 2-D surface-flow model: local inertial equations on a raster.

Scheme: Bates et al. (2010) local inertial equations with the θ-weighted flux of de Almeida et
al. (2012) (θ falls back to 1 on faces where the old flux runs against the surface gradient),
depth at cell centres, unit-width discharge on faces, flow depth h_f = max(η) − max(z), Manning
friction on the magnitude of the discharge vector |q⃗| = √(q² + q⊥²) (q⊥: the mean of the four
perpendicular faces around the face, as LISFLOOD-FP's default 2-D friction; with |q| alone a flow
oblique to the grid feels too little friction, up to a factor √2 at 45°: EA test 5,
``benchmarks/NOTES.md``), implicit in the face's own new discharge (below), and the adaptive
step Δt = α·Δx/√(g·h_max), clipped at rain and inflow breakpoints, output times and the end time,
and shortened where a point inflow would otherwise put more water into its cell in one step than
the CFL allows there. Point inflows enter the depth update after the fluxes, with the rain (as
LISFLOOD-FP's ``UpdateH`` adds them). A positivity limiter scales the outgoing fluxes of a cell
that would otherwise go below zero, so depths are never negative and mass is exact; every sink
(drainage, infiltration, withdrawals) takes at most what a cell holds.

Why the step can be larger (issue 28; numbers in ``docs/validation.md``, "Courant number"). Two
terms used to make the larger step unsafe where it need not be:

1. Friction. Bates et al. (2010) and LISFLOOD-FP divide by 1 + g·n²·Δt·|q_old|/h_f^(7/3): the
   friction is linearised about the OLD discharge. For a step longer than the friction time
   (β = g·n²·Δt·|q|/h^(7/3) >> 1, which is every thin sheet of rain on a slope), that map
   q → (q + a)/(1 + b·|q|) has the derivative (1 − β)/(1 + β) → −1 at its fixed point: the
   discharge flips about Manning's value from step to step instead of settling on it, and rain
   on a tilted plane reached equilibrium 30–50 % too early, overshooting it by 34 %, at α = 0.7
   (8 % late at α = 0.5), which is why the default was α = 0.4. Here the friction is implicit in
   the new discharge: q·(1 + b·√(q² + q⊥²)) = r (a quadratic when q⊥ = 0; otherwise one Newton
   step from the quadratic with |q⃗| ≈ max + 0.35·min of |q|, |q⊥|, within 5·10⁻⁴), which tends
   to Manning's equation q = h^(5/3)·√S/n as Δt/τ grows: the tilted plane then matches the
   kinematic wave within 0.7 % at α = 0.7 (and at 0.9).
2. Point inflows. They used to be added to the depths BEFORE the fluxes of the same step, whose
   Δt came from h_max without them: 20 m³/s on a 5-m cell adds 1.4 m a step at α = 0.7, so the
   fluxes ran at a local Courant number above 1, the positivity limiter emptied the source cell
   every step, and on a dry grid the first 10-s step put 8 m into it (2.0 m next to the inflow
   where the converged peak is 0.45 m; ``tests/inundation/test_point_inflow.py``).

What remains is the gravity-wave bound of the θ-scheme in 2-D: for the checkerboard mode the
amplification stays <= 1 only if √(g·h)·Δt/Δx <= √(θ/2) (0.707 for θ = 1, 0.689 for θ = 0.95,
0.67 for θ = 0.9); α = 0.7 with θ = 0.9 fails the lake at rest. α = 0.7 fits under it only with
θ >= 0.98, i.e. AT the bound: where the whole grid is as deep as h_max (a 6 × 6 box draining to
a stage) a ±5 mm checkerboard then persists, and with θ = 1 (LISFLOOD-FP's pair, no damping of
that mode but friction) a basin filling from a stage edge locks into a 1-m checkerboard. Hence
``alpha = 0.65`` and ``theta = 0.95``: 6 % under the bound √(0.475) = 0.689, the checkerboard
damped by 2θ − 1 = 0.9 per step, 1.6× fewer steps than the former α = 0.4, every validation
case within its tolerance, and closer to the converged answer than before where the former
θ = 0.9 at α = 0.4 over-damped (a smooth basin filling from a stage edge: 2.2 cm short after
1 h, converged 1.9 cm, former defaults 0.8 cm).

The θ-averaging is a numerical diffusion of (1 − θ)/2·Δx²/Δt: it grows without bound as Δt
shrinks, so the plain scheme does not converge as Δt → 0. It is therefore scaled with the step,
θ_eff = 1 − (1 − θ)·min(1, Δt/Δt_cfl): a full adaptive step gets the chosen θ, a shorter one
(clipped at a breakpoint, or a small fixed step) proportionally less, and a small fixed step
recovers the undamped equations — which is what makes a "converged reference" meaningful.

Wet-region tracking (``track_wet=True``, the default): while no rain falls, a step computes only
the cells that hold water (h > 0) and their neighbours — per row, one span of columns covering
the wet cells of that row and of the rows above and below, widened by one cell. A face between
two dry cells carries no flow whatever its old flux (its flow depth is exactly 0), so the answer
is the same as a full update's (``tests/inundation/test_tracking.py``); faces that leave the
spans are zeroed, as a full update would. The threshold is h > 0, not a small depth: a cell with
a film of water can still pass flow to its neighbour. Rain (any cell receives water) and stage
edges (water comes in along an edge) make every cell active for the step.

Boundaries per edge: ``"closed"`` (no flow), ``"open"`` (free overfall: outflow at critical
depth, q = h·√(g·h), never inflow) or ``("stage", metres)`` (a fixed water level outside the edge,
flow either way).

Example: a 20 × 20 closed box, flat, under 36 mm/h of rain for 10 minutes holds exactly 6 mm.

>>> import numpy as np
>>> from fangxun.inundation import Grid, Hyetograph, Model
>>> grid = Grid(elevation=np.zeros((20, 20)), cell_size=10.0)
>>> rain = Hyetograph(times_s=[0.0, 600.0], intensity_mm_h=[36.0, 0.0])
>>> model = Model(grid, rain=rain, backend="numpy", gauges={"centre": (10, 10)})
>>> model.run_until(900.0)
>>> round(float(model.depth.mean()), 6)
0.006
>>> times, depth, speed = model.gauge_series("centre")
>>> float(times[-1]), round(float(depth[-1]), 6)
(900.0, 0.006)
>>> mb = model.mass_balance()
>>> round(mb["rain"], 6), abs(mb["error"]) < 1e-9 * mb["rain"]
(240.0, True)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from typing_extensions import Unpack

from ._backend import (
    CLOSED,
    EDGES,
    GRAVITY,
    NODATA_Z,
    OPEN,
    STAGE,
    AnyArray,
    State,
    StepParams,
    get_backend,
)
from .config import ModelOptions, NumericsConfig, OutputConfig, positive, split_options
from .drainage import Horton, PointInflow, drainage_rate_m_s
from .gauges import Gauges
from .grid import Grid
from .massbalance import MassBalance
from .rain import GriddedRain, Hyetograph

FloatArray = npt.NDArray[np.float64]
BoundarySpec = str | tuple[str, float] | Mapping[str, Any]
ProgressFn = Callable[[float, float], None]

_DTYPES = {"float32": np.float32, "float64": np.float64}


@dataclass(eq=False)
class ScheduledExchange:
    """Water volumes that enter (> 0) or leave (< 0) cells at constant rates over
    ``[start_s, end_s]``, applied in every step after the flow update (as point inflows), each
    withdrawal limited to what its cell holds then (:meth:`Model.schedule_exchange`).

    ``moved_m3`` (m³ per cell, float64) is what has been moved so far: the volume asked, except
    where a withdrawal found its cell dry (``short``), where it is what the cell gave (from the
    stored depths). The mass balance counts the stored depths' change as ``inflow`` in the step
    that moves it.
    """

    rows: npt.NDArray[np.int64]
    cols: npt.NDArray[np.int64]
    volume_m3: FloatArray  # asked, per cell
    start_s: float
    end_s: float
    moved_m3: FloatArray
    done: bool = False  # the whole interval has been stepped through
    # per cell: a step could not take all it asked (the cell ran dry)
    short: npt.NDArray[np.bool_] = field(default_factory=lambda: np.zeros(0, dtype=bool))

    @property
    def rate_m3_s(self) -> FloatArray:
        """The constant rate per cell (m³/s)."""
        return self.volume_m3 / (self.end_s - self.start_s)


def _parse_boundary(spec: BoundarySpec) -> tuple[list[int], list[float]]:
    """Boundary spec → (kinds per EDGES, stages in metres; NaN where not a stage edge)."""
    if isinstance(spec, (str, tuple, list)):
        per_edge: dict[str, Any] = dict.fromkeys(EDGES, spec)
    elif isinstance(spec, Mapping):
        unknown = [k for k in spec if k not in EDGES]
        if unknown:
            raise ValueError(
                f"unknown boundary edge(s) {unknown}; edges are north, south, east, west"
            )
        per_edge = {e: spec.get(e, "closed") for e in EDGES}
    else:
        raise ValueError(
            f"boundary must be 'closed', 'open', ('stage', m) or a dict per edge, got {spec!r}"
        )
    kinds: list[int] = []
    stages: list[float] = []
    for edge in EDGES:
        value = per_edge[edge]
        if value == "closed":
            kinds.append(CLOSED)
            stages.append(math.nan)
        elif value == "open":
            kinds.append(OPEN)
            stages.append(math.nan)
        elif (
            isinstance(value, (tuple, list))
            and len(value) == 2
            and value[0] == "stage"
            and isinstance(value[1], (int, float))
            and math.isfinite(float(value[1]))
        ):
            kinds.append(STAGE)
            stages.append(float(value[1]))
        else:
            raise ValueError(
                f"boundary for the {edge} edge must be 'closed', 'open' or ('stage', metres), "
                f"got {value!r}"
            )
    return kinds, stages


def _raster(value: float | npt.ArrayLike, shape: tuple[int, int], what: str) -> FloatArray:
    arr = np.array(value, dtype=np.float64, copy=True)
    if arr.ndim == 0:
        arr = np.full(shape, float(arr))
    if arr.shape != shape:
        raise ValueError(f"{what} raster shape {arr.shape} does not match the grid shape {shape}")
    return arr


def _first_bad(bad: npt.NDArray[np.bool_]) -> tuple[int, int]:
    row, col = divmod(int(np.flatnonzero(bad)[0]), bad.shape[1])
    return row, col


def face_friction(
    manning: float | npt.ArrayLike, active: npt.NDArray[np.bool_]
) -> tuple[FloatArray, FloatArray]:
    """g·n² (m^(1/3)) on the x faces (rows, cols+1) and y faces (rows+1, cols) of a grid whose
    active cells are ``active``: a face takes the mean n of its two cells, an edge face its
    cell's; n (s/m^(1/3)) is a scalar or a raster, finite and > 0 on active cells."""
    ny, nx = active.shape
    n = _raster(manning, (ny, nx), "manning")
    bad = ~(np.isfinite(n) & (n > 0.0)) & active
    if bad.any():
        r, c = _first_bad(bad)
        raise ValueError(f"manning must be finite and > 0, got {n[r, c]} at (row={r}, col={c})")
    n = np.where(active, n, 0.03)
    gn2x = np.empty((ny, nx + 1))
    gn2x[:, 1:-1] = GRAVITY * (0.5 * (n[:, :-1] + n[:, 1:])) ** 2
    gn2x[:, 0] = GRAVITY * n[:, 0] ** 2
    gn2x[:, -1] = GRAVITY * n[:, -1] ** 2
    gn2y = np.empty((ny + 1, nx))
    gn2y[1:-1, :] = GRAVITY * (0.5 * (n[:-1, :] + n[1:, :])) ** 2
    gn2y[0, :] = GRAVITY * n[0, :] ** 2
    gn2y[-1, :] = GRAVITY * n[-1, :] ** 2
    return gn2x, gn2y


def checked_rain(
    rain: Hyetograph | GriddedRain | None, shape: tuple[int, int], grid_name: str
) -> Hyetograph | GriddedRain | None:
    """``rain`` if it is a Hyetograph, a GriddedRain of ``shape``, or None; else ValueError."""
    if rain is not None and not isinstance(rain, (Hyetograph, GriddedRain)):
        raise ValueError(
            f"rain must be a Hyetograph, a GriddedRain or None, got {type(rain).__name__}"
        )
    if isinstance(rain, GriddedRain) and tuple(rain.shape) != tuple(shape):
        raise ValueError(
            f"GriddedRain shape {tuple(rain.shape)} does not match {grid_name}'s shape {shape}"
        )
    return rain


class Model:
    """A local inertial surface-flow model on a :class:`~.grid.Grid` (see the module docstring).

    Args:
        grid: elevation (m), cell size (m), nodata mask.
        manning: Manning's n, s/m^(1/3), scalar or raster (face value = mean of its two cells).
        rain: uniform :class:`~.rain.Hyetograph`, gridded :class:`~.rain.GriddedRain`, or None.
        drainage_mm_h: sink capacity (mm/h), scalar or raster, or None.
        infiltration: :class:`~.drainage.Horton` parameters, or None.
        inflows: point inflows/withdrawals (m³/s), or None.
        boundary: ``"closed"``, ``"open"``, ``("stage", m)`` for every edge, or a dict per edge.
        initial_depth: depth (m) at t = 0, scalar or raster (warm start), or None for dry.
        dtype: ``"float32"`` or ``"float64"`` for the state arrays (balances are float64).
        backend: ``"numba"`` (parallel CPU) or ``"numpy"`` (reference), or a registered name.
        gauges: name → (row, col) of virtual gauges.
        alpha: Courant number in Δt = α·Δx/√(g·h_max), in (0, 1]; stable for α < √(θ/2).
        theta: de Almeida θ in [0, 1] (1 = no flux averaging).
        depth_thresholds_m: depths (m) for arrival times and time above.
        output_interval_s: how often (s) gauges, flooded area and mass balance are recorded.
        max_dt_s: largest step (s), used when the grid is (nearly) dry.
        fixed_dt_s: a fixed step (s) instead of the adaptive one (for converged references).
        wet_threshold_m: depth (m) from which a cell counts as wet (gauge speed, flooded area).
        flow_depth_min_m: faces with a flow depth at or below this (m) carry no flow.
        track_wet: compute only the wet region (and its neighbours) while no rain falls; the
            answer is the same (see the module docstring).

    Raises:
        ValueError: for any bad input, saying what and where.
    """

    def __init__(
        self,
        grid: Grid,
        manning: float | npt.ArrayLike = 0.03,
        rain: Hyetograph | GriddedRain | None = None,
        drainage_mm_h: float | npt.ArrayLike | None = None,
        infiltration: Horton | None = None,
        inflows: Sequence[PointInflow] | None = None,
        boundary: BoundarySpec = "closed",
        initial_depth: float | npt.ArrayLike | None = None,
        dtype: str = "float64",
        backend: str = "numba",
        gauges: Mapping[str, tuple[int, int]] | None = None,
        *,
        numerics: NumericsConfig | None = None,
        outputs: OutputConfig | None = None,
        **options: Unpack[ModelOptions],
    ) -> None:
        if not isinstance(grid, Grid):
            raise ValueError(f"grid must be a fangxun.inundation.Grid, got {type(grid).__name__}")
        self.grid = grid
        self.numerics, self.outputs = split_options(numerics, outputs, options)
        if str(dtype) not in _DTYPES:
            raise ValueError(f"dtype must be 'float32' or 'float64', got {dtype!r}")
        self.dtype = np.dtype(_DTYPES[str(dtype)])
        self._backend = get_backend(backend)
        self.backend = backend
        self._active = ~grid.nodata_mask
        self._has_nodata = bool(grid.nodata_mask.any())
        gn2x, gn2y = face_friction(manning, self._active)
        self.rain = checked_rain(rain, grid.shape, "the grid")
        sinks = self._sinks(drainage_mm_h, infiltration)
        self._set_inflows(inflows)
        h0 = self._initial_depth(initial_depth)
        self.gauges = Gauges(grid, gauges)
        self._set_boundaries(boundary)
        self._state = self._new_state(h0, gn2x, gn2y, sinks)
        self._backend.prepare(self._state)
        self._reset_counters(h0)

    # Options, as attributes (read-only; they live in the two configs).
    alpha = property(lambda self: self.numerics.alpha, doc="Courant number α.")
    theta = property(lambda self: self.numerics.theta, doc="de Almeida θ.")
    max_dt_s = property(lambda self: self.numerics.max_dt_s, doc="Largest step (s).")
    fixed_dt_s = property(lambda self: self.numerics.fixed_dt_s, doc="Fixed step (s) or None.")
    flow_depth_min_m = property(
        lambda self: self.numerics.flow_depth_min_m, doc="Smallest flow depth (m) that flows."
    )
    track_wet = property(lambda self: self.numerics.track_wet, doc="Wet-region tracking on.")
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
        """(drainage capacity m/s, Horton f0, fc m/s and k 1/s) rasters; zeros where none."""
        shape = self.grid.shape
        active = self._active
        drain = (
            np.zeros(shape) if drainage_mm_h is None else drainage_rate_m_s(drainage_mm_h, shape)
        )
        self._has_drain = drainage_mm_h is not None and bool(np.any(drain[active] > 0))
        if infiltration is not None and not isinstance(infiltration, Horton):
            raise ValueError(
                f"infiltration must be a Horton(...) or None, got {type(infiltration).__name__}"
            )
        if infiltration is not None:
            f0, fc, kk = infiltration.rasters(shape)
        else:
            f0, fc, kk = np.zeros(shape), np.zeros(shape), np.zeros(shape)
        self._has_infil = infiltration is not None and bool(np.any(f0[active] > 0))
        return drain, f0, fc, kk

    def _set_inflows(self, inflows: Sequence[PointInflow] | None) -> None:
        """Check the point inflows and group those that share a hydrograph."""
        self.inflows = list(inflows or [])
        for i, inflow in enumerate(self.inflows):
            if not isinstance(inflow, PointInflow):
                raise ValueError(f"inflows[{i}] must be a PointInflow, got {inflow!r}")
            self.grid.check_cell(inflow.row, inflow.col, f"inflows[{i}]")
        # Inflows with the same hydrograph (one shared over cells) are evaluated once a step;
        # the next breakpoint of any of them is found in their merged breakpoints.
        groups: dict[tuple[Any, ...], list[int]] = {}
        for i, inflow in enumerate(self.inflows):
            key = (
                tuple(float(v) for v in inflow.times_s),
                tuple(float(v) for v in inflow.discharge_m3_s),
                inflow.interpolation,
            )
            groups.setdefault(key, []).append(i)
        self._inflow_groups = [
            (self.inflows[idx[0]], np.array(idx, dtype=np.int64)) for idx in groups.values()
        ]
        self._inflow_breaks = np.unique(
            np.concatenate([np.asarray(f.times_s, dtype=np.float64) for f in self.inflows])
            if self.inflows
            else np.zeros(0)
        )
        cells_in = [(f.row, f.col) for f in self.inflows]
        self._src_unique = len(set(cells_in)) == len(cells_in)
        self._src_rows = np.array([f.row for f in self.inflows], dtype=np.int64)
        self._src_cols = np.array([f.col for f in self.inflows], dtype=np.int64)
        self._no_src = np.zeros(0, dtype=np.int64)
        self._no_depth = np.zeros(0, dtype=np.float64)
        self._exchanges: list[ScheduledExchange] = []  # scheduled, not yet fully applied

    def _initial_depth(self, initial_depth: float | npt.ArrayLike | None) -> FloatArray:
        """The depth (m) at t = 0, 0 on nodata cells."""
        if initial_depth is None:
            return np.zeros(self.grid.shape)
        h0 = _raster(initial_depth, self.grid.shape, "initial_depth")
        bad = ~(np.isfinite(h0) & (h0 >= 0.0)) & self._active
        if bad.any():
            r, c = _first_bad(bad)
            raise ValueError(
                f"initial_depth must be finite and >= 0, got {h0[r, c]} at (row={r}, col={c})"
            )
        return np.where(self._active, h0, 0.0)

    def _set_boundaries(self, boundary: BoundarySpec) -> None:
        """Edge kinds, and stages on the internal datum (the lowest active bed is 0, which
        keeps float32 resolution in the water level)."""
        kinds, stages = _parse_boundary(boundary)
        z = self.grid.elevation
        self._z_ref = float(np.min(z[self._active]))
        self._bc_kind = (kinds[0], kinds[1], kinds[2], kinds[3])
        # water enters along a stage edge without any wet cell nearby: track only without them
        self._can_track = self.track_wet and STAGE not in kinds
        st = [s - self._z_ref if math.isfinite(s) else 0.0 for s in stages]
        self._bc_stage = (st[0], st[1], st[2], st[3])

    def _new_state(
        self,
        h0: FloatArray,
        gn2x: FloatArray,
        gn2y: FloatArray,
        sinks: tuple[FloatArray, FloatArray, FloatArray, FloatArray],
    ) -> State:
        """The arrays the backend steps (:data:`.config.FIELDS`), in the model's dtype."""
        ft: Any = self.dtype.type
        shape = self.grid.shape
        ny, nx = shape
        active = self._active
        zi = np.where(active, self.grid.elevation - self._z_ref, NODATA_Z)
        if float(np.max(zi[active])) >= NODATA_Z / 10:
            raise ValueError("elevation range exceeds 100 km; check the units (metres)")
        drain, f0, fc, kk = sinks
        thresholds = self.depth_thresholds_m
        k = len(thresholds)
        state = State(
            z=zi.astype(ft),
            h=h0.astype(ft),
            qx=np.zeros((ny, nx + 1), dtype=ft),
            qy=np.zeros((ny + 1, nx), dtype=ft),
            qx_new=np.zeros((ny, nx + 1), dtype=ft),
            qy_new=np.zeros((ny + 1, nx), dtype=ft),
            gn2x=gn2x.astype(ft),
            gn2y=gn2y.astype(ft),
            rain_field=np.zeros(shape if isinstance(self.rain, GriddedRain) else (1, 1), dtype=ft),
            drain=drain.astype(ft),
            infil_f=f0.astype(ft),
            infil_fc=fc.astype(ft),
            infil_k=kk.astype(ft),
            max_depth=h0.astype(ft),
            time_of_max=np.zeros(shape, dtype=ft),
            thresholds=np.array(thresholds, dtype=ft),
            arrival=np.full((k, ny, nx), np.inf, dtype=ft),
            time_above=np.zeros((k, ny, nx), dtype=ft),
            above=np.zeros(shape, dtype=np.uint8),
            limiter=np.ones((ny + 2, nx + 2), dtype=ft),
        )
        for i, thr in enumerate(state.thresholds):
            state.arrival[i][state.h >= thr] = 0.0
            state.above += (state.h >= thr).astype(np.uint8)  # above since t = 0
        return state

    def _reset_counters(self, h0: FloatArray) -> None:
        """Time, step counters, balances and outputs at t = 0 (recorded once)."""
        self.time_s = 0.0
        self.steps = 0
        self.cell_updates = 0
        self.active_cell_updates = 0  # cells actually computed (fewer with wet tracking)
        self.limited_steps = 0
        self._h_max = float(h0.max())
        self._rain_until = -math.inf  # gridded rain field valid until this time
        self._rain_field_sum = 0.0  # its sum over the grid, m/s
        self._area_thresholds = (self.wet_threshold_m, *self.depth_thresholds_m)
        self._area_times: list[float] = []
        self._areas: list[list[float]] = []
        self._mb = MassBalance(initial_storage=self._storage())
        self._next_output = self.output_interval_s
        self._record()

    # ------------------------------------------------------------------ running

    def _storage(self) -> float:
        return float(np.sum(self._state.h, dtype=np.float64)) * self.grid.cell_area_m2

    def _record(self) -> None:
        s = self._state
        self._backend.sync(s)
        self._mb.record(self.time_s, self._storage())
        self.gauges.record(self.time_s, s.h, s.qx, s.qy, self.wet_threshold_m)
        area = self.grid.cell_area_m2
        if not self._area_times or self._area_times[-1] != self.time_s:
            self._area_times.append(self.time_s)
            self._areas.append([])
        self._areas[-1] = [float(np.count_nonzero(s.h >= t)) * area for t in self._area_thresholds]

    def _next_event(self, t: float) -> float:
        """The first time after ``t`` at which a forcing changes."""
        nxt = math.inf
        if self.rain is not None:
            nxt = min(nxt, self.rain.next_change_s(t))
        if self._inflow_breaks.size:
            k = int(np.searchsorted(self._inflow_breaks, t, side="right"))
            if k < self._inflow_breaks.size:
                nxt = min(nxt, float(self._inflow_breaks[k]))
        for ex in self._exchanges:
            for edge in (ex.start_s, ex.end_s):
                if edge > t:
                    nxt = min(nxt, edge)
        return nxt

    def _source_volumes(self, t: float, t1: float) -> tuple[Any, Any, FloatArray]:
        """(rows, cols, volume m³) of every point source over ``[t, t1]``: the point inflows,
        then the scheduled exchanges."""
        rows, cols = [self._src_rows], [self._src_cols]
        vol = np.empty(len(self.inflows))
        for f, idx in self._inflow_groups:
            vol[idx] = f.volume_m3(t, t1)
        vols = [vol]
        for ex in self._exchanges:
            overlap = max(0.0, min(t1, ex.end_s) - max(t, ex.start_s))
            rows.append(ex.rows)
            cols.append(ex.cols)
            vols.append(ex.rate_m3_s * overlap)
        if len(vols) == 1:
            return self._src_rows, self._src_cols, vol
        return np.concatenate(rows), np.concatenate(cols), np.concatenate(vols)

    def _source_dt(self, t: float, dt0: float) -> float:
        """The largest Δt <= ``dt0`` (s) whose inflow leaves every source cell within the CFL.

        A point source's volume enters its cell at the end of the step, and the next step's
        fluxes see it: the Courant number there is √(g·(h + Δh))·Δt/Δx with Δh = rate·Δt/ΔA,
        so Δt must satisfy g·Δt²·(h + c·Δt) <= (α·Δx)² with c = rate/ΔA (m/s). Without this,
        an inflow onto a dry or shallow cell (where Δt is set by the depth elsewhere, or is
        ``max_dt_s``) dumps metres of water in one step (20 m³/s for 10 s on a 5-m cell: 8 m).
        """
        if dt0 <= 0.0:
            return dt0
        rows, cols, vol = self._source_volumes(t, t + dt0)
        c = vol / (dt0 * self.grid.cell_area_m2)
        pos = c > 0.0
        if not pos.any():
            return dt0
        h = np.asarray(self._state.h[rows[pos], cols[pos]], dtype=np.float64)
        c = c[pos]
        g = GRAVITY
        lim2 = (self.alpha * self.grid.cell_size) ** 2
        dt = np.full(h.shape, dt0)
        # F(Δt) = g·Δt²·(h + c·Δt) − (α·Δx)² is convex and increasing for Δt > 0: Newton from
        # above (F(dt0) > 0) stays above the root and converges to it monotonically
        for _ in range(60):
            f_val = g * dt * dt * (h + c * dt) - lim2
            over = f_val > 1e-9 * lim2
            if not over.any():
                break
            slope = g * dt * (2.0 * h + 3.0 * c * dt)
            dt = np.where(over, dt - f_val / slope, dt)
        return float(min(dt0, float(dt.min()) * (1.0 - 1e-9)))

    def _step_sources(
        self, t: float, t_new: float
    ) -> tuple[Any, Any, FloatArray, bool, FloatArray | None]:
        """Point sources of the step ``[t, t_new]``: (rows, cols, depth m, cells unique, buffer
        for the depth each moved, or None without scheduled exchanges); empty when all are 0."""
        rows, cols, vol = self._source_volumes(t, t_new)
        depth = vol / self.grid.cell_area_m2
        # a hydrograph at zero adds nothing: skip the per-cell work (most of a long run)
        if not np.any(depth != 0.0):
            return self._no_src, self._no_src, self._no_depth, True, None
        if not self._exchanges:
            return rows, cols, depth, self._src_unique, None
        unique = np.unique(rows * self.grid.shape[1] + cols).size == rows.size
        return rows, cols, depth, unique, np.full(rows.size, np.nan)

    def _credit_exchanges(self, moved: FloatArray | None, t: float, t_new: float) -> None:
        """Add each scheduled exchange's share of the depths the step moved (m → m³); drop the
        exchanges whose interval ended."""
        if not self._exchanges:
            return
        area = self.grid.cell_area_m2
        k = len(self.inflows)
        for ex in self._exchanges:
            n = ex.rows.size
            asked = ex.rate_m3_s * max(0.0, min(t_new, ex.end_s) - max(t, ex.start_s))
            if moved is None:
                ex.moved_m3 += asked
            else:
                got = moved[k : k + n]
                short = ~np.isnan(got)
                ex.short |= short
                ex.moved_m3 += np.where(short, got * area, asked)
            k += n
        eps = 1e-9 * max(1.0, t_new)
        for ex in self._exchanges:
            if ex.end_s <= t_new + eps:
                ex.done = True
                # what was never short moved exactly what it asked (not a sum of rounded parts)
                ex.moved_m3[:] = np.where(ex.short, ex.moved_m3, ex.volume_m3)
        self._exchanges = [ex for ex in self._exchanges if not ex.done]

    def run_until(self, t_end_s: float, progress: ProgressFn | None = None) -> None:
        """Advance the model to ``t_end_s`` (s of simulated time).

        ``progress(t_s, t_end_s)`` is called at every output time and at the end.
        """
        t_end = float(t_end_s)
        if not math.isfinite(t_end):
            raise ValueError(f"t_end_s must be finite, got {t_end_s}")
        if t_end < self.time_s:
            raise ValueError(f"t_end_s = {t_end} s is before the model time {self.time_s} s")
        s = self._state
        ft = self.dtype.type
        dx = self.grid.cell_size
        area = self.grid.cell_area_m2
        n_active = self.grid.n_active
        cells = self.grid.shape[0] * self.grid.shape[1]
        g = GRAVITY
        eps = 1e-9 * max(1.0, t_end)
        while self.time_s < t_end - eps:
            t = self.time_s
            dt_cfl = (
                min(self.alpha * dx / math.sqrt(g * self._h_max), self.max_dt_s)
                if self._h_max > 0.0
                else self.max_dt_s
            )
            stop = min(t_end, self._next_output, self._next_event(t))
            if (self.inflows or self._exchanges) and self.fixed_dt_s is None:
                dt_cfl = self._source_dt(t, min(dt_cfl, stop - t))
            dt = dt_cfl if self.fixed_dt_s is None else self.fixed_dt_s
            t_new = stop if t + dt >= stop - eps else t + dt
            dt = t_new - t
            # θ-averaging adds a diffusion of (1 − θ)/2·Δx²/Δt: scale it with Δt/Δt_cfl so a
            # shorter step (clipped, or a fixed small one) adds no more than a full CFL step.
            theta = 1.0 - (1.0 - self.theta) * min(1.0, dt / dt_cfl)

            rain_rate = 0.0
            use_field = False
            rain_depth = 0.0
            if isinstance(self.rain, Hyetograph):
                rain_rate = self.rain.rate_m_s(t)
                rain_depth = float(ft(rain_rate) * ft(dt)) * n_active
            elif isinstance(self.rain, GriddedRain):
                use_field = True
                if t >= self._rain_until:
                    field = np.asarray(self.rain.rate_m_s_field(t), dtype=np.float64)
                    s.rain_field[...] = np.where(self._active, field, 0.0).astype(self.dtype)
                    self._rain_until = self.rain.next_change_s(t)
                    self._rain_field_sum = float(np.sum(s.rain_field, dtype=np.float64))
                # the kernel adds fl(rate·Δt) per cell; the sum of those differs from this by
                # round-off of relative size eps(dtype), far inside the mass-balance tolerance
                rain_depth = self._rain_field_sum * float(ft(dt))
            src_rows, src_cols, src_depth, src_unique, src_moved = (
                self._step_sources(t, t_new)
                if self.inflows or self._exchanges
                else (self._no_src, self._no_src, self._no_depth, True, None)
            )
            params = StepParams(
                dt=dt,
                dx=dx,
                theta=theta,
                h_flow_min=self.flow_depth_min_m,
                rain_rate=rain_rate,
                use_rain_field=use_field,
                has_drain=self._has_drain,
                has_infil=self._has_infil,
                has_nodata=self._has_nodata,
                t_new=t_new,
                bc_kind=self._bc_kind,
                bc_stage=self._bc_stage,
                src_rows=src_rows,
                src_cols=src_cols,
                src_depth=src_depth,
                track_wet=self._can_track and rain_depth == 0.0,
                src_unique=src_unique,
                src_moved=src_moved,
            )
            res = self._backend.step(s, params)
            self._credit_exchanges(src_moved, t, t_new)
            self.time_s = t_new
            self.steps += 1
            self.cell_updates += cells
            self.active_cell_updates += cells if res.active_cells < 0 else res.active_cells
            self.limited_steps += int(res.limited)
            self._h_max = res.h_max
            mb = self._mb
            mb.rain += rain_depth * area
            mb.inflow += res.sources * area
            mb.drainage += res.drained * area
            mb.infiltration += res.infiltrated * area
            mb.outflow += res.outflow * area
            if self.time_s >= self._next_output - eps:
                self._record()
                while self._next_output <= self.time_s + eps:
                    self._next_output += self.output_interval_s
                if progress is not None:
                    progress(self.time_s, t_end)
        self._record()
        if progress is not None:
            progress(self.time_s, t_end)

    # ------------------------------------------------------------------ exchange

    def _cells(self, rows: npt.ArrayLike, cols: npt.ArrayLike) -> tuple[Any, Any]:
        r = np.asarray(rows, dtype=np.int64).ravel()
        c = np.asarray(cols, dtype=np.int64).ravel()
        if r.shape != c.shape:
            raise ValueError(f"{r.size} rows but {c.size} cols")
        # checked in bulk (a coupler passes ~10⁵ cells every exchange); the first bad cell is
        # then named by check_cell, with the same message as one by one
        ny, nx = self.grid.shape
        inside = (r >= 0) & (r < ny) & (c >= 0) & (c < nx)
        ok = inside.copy()
        ok[inside] = ~self.grid.nodata_mask[r[inside], c[inside]]
        if not ok.all():
            i = int(np.flatnonzero(~ok)[0])
            self.grid.check_cell(int(r[i]), int(c[i]), f"cell {i}")
        return r, c

    def depth_at(self, rows: npt.ArrayLike, cols: npt.ArrayLike) -> FloatArray:
        """Depth (m) now at the cells ``(rows[i], cols[i])``, float64 (cheaper than
        :attr:`depth` when only a few cells are wanted, e.g. by a 1-D/2-D coupler)."""
        r, c = self._cells(rows, cols)
        self._backend.sync(self._state)
        return np.asarray(self._state.h[r, c], dtype=np.float64)

    def exchange(
        self, rows: npt.ArrayLike, cols: npt.ArrayLike, volume_m3: npt.ArrayLike
    ) -> FloatArray:
        """Add (> 0) or take (< 0) water volumes (m³) at cells now, between :meth:`run_until`
        calls: the seam through which an external model (a drainage network) trades water
        with the surface.

        A taking is limited to what the cell holds (cells may repeat; they are applied in
        order). Returns the volumes actually moved (m³, float64, computed from the stored
        depths so that the mass balance stays exact in float32 too); they are counted in the
        mass balance as ``inflow`` (net point inflows, takings negative). The CPU backends
        step the host arrays themselves; a device backend would copy them over here.
        """
        r, c = self._cells(rows, cols)
        v = np.asarray(volume_m3, dtype=np.float64).ravel()
        if v.shape != r.shape:
            raise ValueError(f"{r.size} cells but {v.size} volumes")
        if not np.all(np.isfinite(v)):
            raise ValueError("exchange volumes must be finite")
        s = self._state
        self._backend.sync(s)
        area = self.grid.cell_area_m2
        ft = self.dtype.type
        moved = np.zeros(v.size)
        v = np.where(self._active[r, c], v, 0.0)
        flat = r * self.grid.shape[1] + c
        # distinct cells: at once (a bincount over the grid is cheaper than sorting 10⁵ cells)
        if r.size == 0 or int(np.bincount(flat).max()) <= 1:
            old = s.h[r, c].astype(np.float64)
            s.h[r, c] = np.maximum(0.0, old + v / area).astype(ft)
            moved = (s.h[r, c].astype(np.float64) - old) * area
        else:
            for i in np.flatnonzero(v):
                old1 = float(s.h[r[i], c[i]])
                s.h[r[i], c[i]] = ft(max(0.0, old1 + v[i] / area))
                moved[i] = (float(s.h[r[i], c[i]]) - old1) * area
        self._mb.inflow += float(moved.sum())
        if np.any(moved > 0.0):
            self._h_max = max(self._h_max, float(np.max(s.h[r, c])))
        self._backend.state_changed(s)
        return moved

    def schedule_exchange(
        self, rows: npt.ArrayLike, cols: npt.ArrayLike, volume_m3: npt.ArrayLike, over_s: float
    ) -> ScheduledExchange:
        """Add (> 0) or take (< 0) water volumes (m³) at cells at constant rates over the next
        ``over_s`` seconds: what a coupled model exchanged over an interval enters the surface
        over that interval, not at once.

        Each step puts rate·Δt into (or takes it from) its cell after the flow update, as a
        point inflow, with the inflow-aware Δt; a taking is limited to what the cell holds at
        that step. Cells may repeat. The volumes moved are counted in the mass balance as
        ``inflow`` in the step that moves them, and summed per cell in the returned
        :class:`ScheduledExchange`'s ``moved_m3`` (complete once the model has run to
        ``time_s + over_s``). Putting a whole interval's volume in at once, as :meth:`exchange`
        does, makes a hole (or a mound) that the scheme answers with waves: with a drain inlet
        emptied every 10 s, a street held 52 m³ where 4 m³ is the converged answer
        (``docs/validation.md``, exchange).
        """
        r, c = self._cells(rows, cols)
        v = np.asarray(volume_m3, dtype=np.float64).ravel()
        if v.shape != r.shape:
            raise ValueError(f"{r.size} cells but {v.size} volumes")
        if not np.all(np.isfinite(v)):
            raise ValueError("exchange volumes must be finite")
        span = positive(over_s, "over_s")
        v = np.where(self._active[r, c], v, 0.0)
        ex = ScheduledExchange(
            rows=r,
            cols=c,
            volume_m3=v,
            start_s=self.time_s,
            end_s=self.time_s + span,
            moved_m3=np.zeros(r.size),
            done=not np.any(v != 0.0),
            short=np.zeros(r.size, dtype=bool),
        )
        if not ex.done:
            self._exchanges.append(ex)
        return ex

    # ------------------------------------------------------------------ outputs

    def _out(self, a: AnyArray) -> FloatArray:
        """A float64 copy with NaN on nodata cells."""
        self._backend.sync(self._state)
        out = np.array(a, dtype=np.float64, copy=True)
        out[self.grid.nodata_mask] = np.nan
        return out

    @property
    def depth(self) -> FloatArray:
        """Depth (m) at cell centres, NaN on nodata."""
        return self._out(self._state.h)

    @property
    def water_level(self) -> FloatArray:
        """Water-surface elevation η = z + h (m, the grid's datum), NaN on nodata."""
        return self.grid.elevation + self.depth

    @property
    def qx_faces(self) -> FloatArray:
        """Unit-width discharge (m²/s) on x faces, (rows, cols+1), positive eastward."""
        return np.array(self._state.qx, dtype=np.float64, copy=True)

    @property
    def qy_faces(self) -> FloatArray:
        """Unit-width discharge (m²/s) on y faces, (rows+1, cols), positive southward."""
        return np.array(self._state.qy, dtype=np.float64, copy=True)

    @property
    def qx(self) -> FloatArray:
        """Cell-centred unit-width discharge (m²/s), positive eastward (mean of two faces)."""
        q = self.qx_faces
        return self._out(0.5 * (q[:, :-1] + q[:, 1:]))

    @property
    def qy(self) -> FloatArray:
        """Cell-centred unit-width discharge (m²/s), positive NORTHward (row 0 is north)."""
        q = self.qy_faces
        return self._out(-0.5 * (q[:-1, :] + q[1:, :]))

    @property
    def speed(self) -> FloatArray:
        """Cell-centred speed (m/s), 0 where the depth is below ``wet_threshold_m``."""
        h = self.depth
        q = np.hypot(self.qx, self.qy)
        wet = h >= self.wet_threshold_m
        return np.where(wet, q / np.where(wet, h, 1.0), 0.0)

    @property
    def max_depth(self) -> FloatArray:
        """Largest depth (m) reached so far, NaN on nodata."""
        return self._out(self._state.max_depth)

    @property
    def time_of_max_depth(self) -> FloatArray:
        """Time (s) at which :attr:`max_depth` was reached (0 if it never rose), NaN on nodata."""
        return self._out(self._state.time_of_max)

    def _threshold_index(self, threshold_m: float) -> int:
        for i, t in enumerate(self.depth_thresholds_m):
            if abs(t - float(threshold_m)) <= 1e-9 * max(1.0, t):
                return i
        raise ValueError(
            f"threshold {threshold_m} m is not tracked; depth_thresholds_m = "
            f"{list(self.depth_thresholds_m)}"
        )

    def arrival_time(self, threshold_m: float) -> FloatArray:
        """First time (s) the depth reached ``threshold_m``; NaN where never (and on nodata)."""
        a = self._out(self._state.arrival[self._threshold_index(threshold_m)])
        a[np.isinf(a)] = np.nan
        return a

    def time_above(self, threshold_m: float) -> FloatArray:
        """Total time (s) the depth was at or above ``threshold_m``, NaN on nodata."""
        k = self._threshold_index(threshold_m)
        s = self._state
        # while above, the stored value is the total so far minus the time it last crossed up
        now = np.where(s.above > k, s.time_above.dtype.type(self.time_s), 0)
        return self._out(s.time_above[k] + now.astype(s.time_above.dtype))

    def gauge_series(self, name: str) -> tuple[FloatArray, FloatArray, FloatArray]:
        """(times s, depth m, speed m/s) of the virtual gauge ``name`` at output times."""
        return self.gauges.series(name)

    def flooded_area_series(
        self, threshold_m: float | None = None
    ) -> tuple[FloatArray, FloatArray]:
        """(times s, area m²) of cells with depth >= ``threshold_m`` at output times.

        ``threshold_m`` must be ``wet_threshold_m`` (the default) or one of
        ``depth_thresholds_m``.
        """
        thr = self.wet_threshold_m if threshold_m is None else float(threshold_m)
        for i, t in enumerate(self._area_thresholds):
            if abs(t - thr) <= 1e-9 * max(1.0, t):
                times = np.array(self._area_times, dtype=np.float64)
                return times, np.array([a[i] for a in self._areas], dtype=np.float64)
        raise ValueError(
            f"flooded area is recorded for thresholds {list(self._area_thresholds)} m, not {thr} m"
        )

    def mass_balance(self) -> dict[str, float]:
        """Cumulative volumes (m³) now: rain, inflow, drainage, infiltration, outflow, storage,
        error (and initial_storage, time_s)."""
        self._backend.sync(self._state)
        return self._mb.snapshot(self.time_s, self._storage())

    def mass_balance_series(self) -> list[dict[str, float]]:
        """The mass balance recorded at every output time (each with ``time_s``)."""
        return [dict(d) for d in self._mb.series]
