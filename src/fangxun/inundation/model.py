"""The 2-D surface-flow model: local inertial equations on a raster.

Scheme: Bates et al. (2010) local inertial equations with the θ-weighted flux of de Almeida et
al. (2012) (θ falls back to 1 on faces where the old flux runs against the surface gradient),
depth at cell centres, unit-width discharge on faces, flow depth h_f = max(η) − max(z), implicit
Manning friction on the magnitude of the discharge vector |q⃗| = √(q² + q⊥²) (q⊥: the mean of the
four perpendicular faces around the face, as LISFLOOD-FP's default 2-D friction; with |q| alone a
flow oblique to the grid feels too little friction, up to a factor √2 at 45°, and runs too fast
and too shallow: EA test 5, ``benchmarks/NOTES.md``), and the adaptive step
Δt = α·Δx/√(g·h_max), clipped at rain and inflow breakpoints, output times and the end time. A
positivity limiter scales the outgoing fluxes of a cell that would otherwise go below zero, so
depths are never negative and mass is exact; every sink (drainage, infiltration, withdrawals)
takes at most what a cell holds.

Defaults and why. Deep depressions are where the local inertial scheme is weakest: friction
vanishes as h grows, so nothing damps the gravity waves that the explicit update excites. Without
flux averaging (θ = 1) the pond surface checkerboards and the peak depth is grossly
overestimated (what Landlab's OverlandFlow shows at α = 0.7; here, with friction on |q⃗|, which
also damps the mode's cross-flow, at α = 0.9). The θ-scheme damps exactly that two-cell mode,
but its averaging is a numerical diffusion of (1 − θ)/2·Δx²/Δt: it grows without bound as Δt
shrinks, so the plain scheme does not converge as Δt → 0. We therefore scale it with the step,
θ_eff = 1 − (1 − θ)·min(1, Δt/Δt_cfl): a full adaptive step gets the chosen θ, a shorter one
(clipped at a breakpoint, or a small fixed step) proportionally less, and a small fixed step
recovers the undamped equations — which is what makes a "converged reference" meaningful. The
defaults come from three checks. (1) Linear stability of the 2-D θ-scheme: for the checkerboard
mode (wave number π/Δx in both directions) the amplification stays <= 1 only if the Courant
number √(g·h)·Δt/Δx <= √(θ/2) (0.71 for θ = 1, 0.59 for θ = 0.7); above it, round-off in a still
deep pond grows ~10 % a step (α = 0.7 with θ = 0.7–0.9 fails the lake-at-rest case).
(2) Shallow sheet flow on a slope (rain on a tilted plane) oscillates and reaches equilibrium
far too early for α >= 0.5 whatever θ, and follows the kinematic wave for α <= 0.45.
(3) Peak depths in deep depressions must match the converged reference within 2 cm. Hence
``alpha = 0.4`` and ``theta = 0.9``: 40 % under the stability bound √(0.45) = 0.67, the π mode
still damped by 2θ − 1 = 0.8 per step, the tilted-plane rise time within 1.5 % of the kinematic
wave, and depression peaks within millimetres (``tests/inundation/test_depression.py``). Larger α
runs faster (steps scale as 1/α) but must respect α <= √(θ/2) and is inaccurate for sheet flow.

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

import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from ._backend import (
    CLOSED,
    EDGES,
    GRAVITY,
    MAX_THRESHOLDS,
    NODATA_Z,
    OPEN,
    STAGE,
    AnyArray,
    State,
    StepParams,
    get_backend,
)
from .drainage import Horton, PointInflow, drainage_rate_m_s
from .gauges import Gauges
from .grid import Grid
from .massbalance import MassBalance
from .rain import GriddedRain, Hyetograph

FloatArray = npt.NDArray[np.float64]
BoundarySpec = str | tuple[str, float] | Mapping[str, Any]
ProgressFn = Callable[[float, float], None]

_DTYPES = {"float32": np.float32, "float64": np.float64}


def _positive(value: float, what: str, *, allow_zero: bool = False) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{what} must be a number, got {value!r}") from exc
    if not math.isfinite(v) or v < 0.0 or (v == 0.0 and not allow_zero):
        raise ValueError(f"{what} must be a finite number {'>=' if allow_zero else '>'} 0, got {v}")
    return v


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
        alpha: Courant number in Δt = α·Δx/√(g·h_max), in (0, 1]; stable for α <= √(θ/2).
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

    def __init__(  # noqa: C901  split pending, issue 25 (options into config dataclasses)
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
        alpha: float = 0.4,
        theta: float = 0.9,
        depth_thresholds_m: Sequence[float] = (0.15, 0.27, 0.40, 0.50),
        output_interval_s: float = 60.0,
        max_dt_s: float = 10.0,
        fixed_dt_s: float | None = None,
        wet_threshold_m: float = 1e-3,
        flow_depth_min_m: float = 1e-5,
        track_wet: bool = True,
    ) -> None:
        if not isinstance(grid, Grid):
            raise ValueError(f"grid must be a fangxun.inundation.Grid, got {type(grid).__name__}")
        self.grid = grid
        shape = grid.shape
        ny, nx = shape
        mask = grid.nodata_mask
        active = ~mask
        if str(dtype) not in _DTYPES:
            raise ValueError(f"dtype must be 'float32' or 'float64', got {dtype!r}")
        ft: Any = _DTYPES[str(dtype)]
        self.dtype = np.dtype(ft)
        self._backend = get_backend(backend)
        self.backend = backend

        self.alpha = _positive(alpha, "alpha")
        if self.alpha > 1.0:
            raise ValueError(f"alpha must be in (0, 1], got {self.alpha}")
        self.theta = _positive(theta, "theta", allow_zero=True)
        if self.theta > 1.0:
            raise ValueError(f"theta must be in [0, 1], got {self.theta}")
        self.output_interval_s = _positive(output_interval_s, "output_interval_s")
        self.max_dt_s = _positive(max_dt_s, "max_dt_s")
        self.fixed_dt_s = None if fixed_dt_s is None else _positive(fixed_dt_s, "fixed_dt_s")
        self.wet_threshold_m = _positive(wet_threshold_m, "wet_threshold_m")
        self.flow_depth_min_m = _positive(flow_depth_min_m, "flow_depth_min_m")
        thresholds = [
            _positive(t, f"depth_thresholds_m[{i}]") for i, t in enumerate(depth_thresholds_m)
        ]
        if any(b <= a for a, b in itertools.pairwise(thresholds)):
            raise ValueError(
                f"depth_thresholds_m must be strictly increasing, got {list(thresholds)}"
            )
        if len(thresholds) > MAX_THRESHOLDS:
            raise ValueError(
                f"at most {MAX_THRESHOLDS} depth_thresholds_m are tracked, got {len(thresholds)}"
            )
        self.depth_thresholds_m = tuple(thresholds)

        # Manning's n → g·n² on faces.
        n = _raster(manning, shape, "manning")
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

        # Rain.
        if rain is not None and not isinstance(rain, (Hyetograph, GriddedRain)):
            raise ValueError(
                f"rain must be a Hyetograph, a GriddedRain or None, got {type(rain).__name__}"
            )
        if isinstance(rain, GriddedRain) and tuple(rain.shape) != shape:
            raise ValueError(
                f"GriddedRain shape {tuple(rain.shape)} does not match the grid shape {shape}"
            )
        self.rain = rain

        # Sinks.
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

        # Point inflows.
        self.inflows = list(inflows or [])
        for i, inflow in enumerate(self.inflows):
            if not isinstance(inflow, PointInflow):
                raise ValueError(f"inflows[{i}] must be a PointInflow, got {inflow!r}")
            grid.check_cell(inflow.row, inflow.col, f"inflows[{i}]")
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

        # Boundaries (stages shifted to the internal datum below).
        kinds, stages = _parse_boundary(boundary)

        # Initial depth.
        if initial_depth is None:
            h0 = np.zeros(shape)
        else:
            h0 = _raster(initial_depth, shape, "initial_depth")
            bad = ~(np.isfinite(h0) & (h0 >= 0.0)) & active
            if bad.any():
                r, c = _first_bad(bad)
                raise ValueError(
                    f"initial_depth must be finite and >= 0, got {h0[r, c]} at (row={r}, col={c})"
                )
            h0 = np.where(active, h0, 0.0)

        self.gauges = Gauges(grid, gauges)

        # Internal datum: the lowest active bed is 0, which keeps float32 resolution in η.
        z = grid.elevation
        self._z_ref = float(np.min(z[active]))
        zi = np.where(active, z - self._z_ref, NODATA_Z)
        if float(np.max(zi[active])) >= NODATA_Z / 10:
            raise ValueError("elevation range exceeds 100 km; check the units (metres)")
        self._bc_kind = (kinds[0], kinds[1], kinds[2], kinds[3])
        # water enters along a stage edge without any wet cell nearby: track only without them
        self.track_wet = bool(track_wet)
        self._can_track = self.track_wet and STAGE not in kinds
        st = [s - self._z_ref if math.isfinite(s) else 0.0 for s in stages]
        self._bc_stage = (st[0], st[1], st[2], st[3])

        k = len(thresholds)
        self._state = State(
            z=zi.astype(ft),
            h=h0.astype(ft),
            qx=np.zeros((ny, nx + 1), dtype=ft),
            qy=np.zeros((ny + 1, nx), dtype=ft),
            qx_new=np.zeros((ny, nx + 1), dtype=ft),
            qy_new=np.zeros((ny + 1, nx), dtype=ft),
            gn2x=gn2x.astype(ft),
            gn2y=gn2y.astype(ft),
            rain_field=np.zeros(shape if isinstance(rain, GriddedRain) else (1, 1), dtype=ft),
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
        for i, thr in enumerate(self._state.thresholds):
            self._state.arrival[i][self._state.h >= thr] = 0.0
            self._state.above += (self._state.h >= thr).astype(np.uint8)  # above since t = 0
        self._active = active
        self._has_nodata = bool(mask.any())
        self._backend.prepare(self._state)

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
        return nxt

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
        no_src = np.zeros(0, dtype=np.int64)
        no_depth = np.zeros(0, dtype=np.float64)
        src_rows = np.array([f.row for f in self.inflows], dtype=np.int64)
        src_cols = np.array([f.col for f in self.inflows], dtype=np.int64)
        eps = 1e-9 * max(1.0, t_end)
        while self.time_s < t_end - eps:
            t = self.time_s
            dt_cfl = (
                min(self.alpha * dx / math.sqrt(g * self._h_max), self.max_dt_s)
                if self._h_max > 0.0
                else self.max_dt_s
            )
            dt = dt_cfl if self.fixed_dt_s is None else self.fixed_dt_s
            stop = min(t_end, self._next_output, self._next_event(t))
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
            params_src = (no_src, no_src, no_depth)
            if self.inflows:
                src_depth = np.empty(len(self.inflows))
                for f, idx in self._inflow_groups:
                    src_depth[idx] = f.volume_m3(t, t_new) / area
                # a hydrograph at zero adds nothing: skip the per-cell work (most of a long run)
                if np.any(src_depth != 0.0):
                    params_src = (src_rows, src_cols, src_depth)
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
                src_rows=params_src[0],
                src_cols=params_src[1],
                src_depth=params_src[2],
                track_wet=self._can_track and rain_depth == 0.0,
                src_unique=self._src_unique,
            )
            res = self._backend.step(s, params)
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
        return moved

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
