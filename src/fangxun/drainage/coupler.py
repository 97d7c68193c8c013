"""Two-way coupling of the drainage network (EPA SWMM via pyswmm) with the 2-D surface model.

Arrays in, arrays out, no database: the coupler holds a :class:`fangxun.inundation.Model` and a
pyswmm simulation of a ``.inp`` file and steps them alternately. Nothing here knows about
districts or forecasts.

**Time loop.** The exchange interval Δ (``exchange_interval_s``, default 10 s) cuts the run into
chunks. At the start of a chunk (time t) the coupler reads the surface depth h at each coupled
node's cell and the node's head H in the network and sets, per node, a constant inflow rate q
into the node (pyswmm ``generated_inflow``). SWMM then steps (its own routing steps) until its
clock reaches t + Δ (the last routing step may overshoot a little: t′ ≥ t + Δ), the coupler
summing over the routing steps the volume each node took in and the volume SWMM reported as
flooding at the node (``overflow``), both integrated as SWMM integrates them (the mean of a
routing step's old and new rates), so that they are SWMM's own volumes. Then the surface gives up
exactly what the nodes took in and receives exactly what they flooded, both spread over the
interval [t, t′] they were exchanged in (:meth:`Model.schedule_exchange`: each surface step
moves its share after its flow update), and runs to t′. The surface never goes negative (q is
limited so that
q·(Δ + one routing step) ≤ h·A_cell, and any remainder is carried to the next chunk as a debt);
the network never goes negative (it only ever receives from the surface; what it returns is
what SWMM itself overflows). So the total — surface + network + outfalls + losses — is
conserved up to SWMM's own routing continuity error.

**Exchange law** (Chen et al. 2007, "Urban flood modelling with a 1D/2D coupled model", as in
Itzi): with η = z + h the water level on the surface cell of ground z,

* node head below the ground, H < z: free weir over the inlet's rim,
  Q = (2/3)·C_w·W·h·√(2g·h), W the inlet's perimeter;
* node head above the ground but below the water level, z ≤ H < η: orifice,
  Q = C_o·A·√(2g·(η − H)), A the inlet's plan area;
* node head at or above the water level: no inflow. A node whose head reaches its rim
  overflows in SWMM (the coupler sets its ponded area to 0, so SWMM keeps nothing above the
  rim) and that flooding is what returns to the surface cell: the surcharge is limited by
  the network's hydraulics rather than by an orifice law, and it is exactly the volume SWMM
  counts as flooded (``tests/drainage``). A node that flooded in the last chunk takes no
  inflow (it would only return it).

Defaults: C_w = 0.54 and C_o = 0.167, the manhole coefficients Rubinato et al. (2017, J.
Hydrol. 552) measured in the laboratory and Itzi uses; A = 1 m² (a 1.13 m manhole cover, or a
few gully grates feeding one node) and W its circumference 2√(πA) = 3.54 m. ``inlet_factor``
scales a node's capacity (0 = blocked, 0.5 = half blocked by debris).
"""

from __future__ import annotations

import math
import tempfile
import time
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from fangxun.inundation import Model

from .network import SI_FLOW_UNITS, NetworkError, swmm_error_text, with_pumps_off

FloatArray = npt.NDArray[np.float64]
GRAVITY = 9.81
Stage = float | tuple[npt.ArrayLike, npt.ArrayLike] | Callable[[float], float]
"""An outfall tailwater: a fixed level (m), (times s, levels m) linear between points, or a
function of time (s) → level (m)."""


@dataclass(frozen=True)
class ExchangeParams:
    """Coefficients of the surface ↔ network exchange (see the module docstring).

    Attributes:
        weir_coeff: C_w of the free weir, dimensionless (Rubinato et al. 2017: 0.54).
        orifice_coeff: C_o of the orifice, dimensionless (Rubinato et al. 2017: 0.167).
        inlet_area_m2: plan area A of a node's inlet (m²).
        inlet_perimeter_m: weir length W (m); default the circumference of a circle of area A.
    """

    weir_coeff: float = 0.54
    orifice_coeff: float = 0.167
    inlet_area_m2: float = 1.0
    inlet_perimeter_m: float | None = None

    def __post_init__(self) -> None:
        for name in ("weir_coeff", "orifice_coeff", "inlet_area_m2"):
            v = getattr(self, name)
            if not (math.isfinite(v) and v > 0.0):
                raise ValueError(f"{name} must be a finite number > 0, got {v}")
        if self.inlet_perimeter_m is not None and not (
            math.isfinite(self.inlet_perimeter_m) and self.inlet_perimeter_m > 0.0
        ):
            raise ValueError(f"inlet_perimeter_m must be > 0, got {self.inlet_perimeter_m}")

    @property
    def perimeter_m(self) -> float:
        """W (m)."""
        if self.inlet_perimeter_m is not None:
            return self.inlet_perimeter_m
        return 2.0 * math.sqrt(math.pi * self.inlet_area_m2)


def exchange_capacity(
    ground_m: FloatArray,
    depth_m: FloatArray,
    head_m: FloatArray,
    params: ExchangeParams,
) -> FloatArray:
    """Inflow (m³/s, >= 0) from the surface into each node by the weir/orifice law.

    ``ground_m``, ``depth_m``: ground elevation and water depth at the nodes' cells;
    ``head_m``: the nodes' hydraulic heads (same datum). Vectorised over nodes.
    """
    z = np.asarray(ground_m, dtype=np.float64)
    h = np.maximum(np.asarray(depth_m, dtype=np.float64), 0.0)
    head = np.asarray(head_m, dtype=np.float64)
    eta = z + h
    weir = (2.0 / 3.0) * params.weir_coeff * params.perimeter_m * h * np.sqrt(2.0 * GRAVITY * h)
    orifice = (
        params.orifice_coeff
        * params.inlet_area_m2
        * np.sqrt(2.0 * GRAVITY * np.maximum(eta - head, 0.0))
    )
    q = np.where(head < z, weir, np.where(head < eta, orifice, 0.0))
    return np.where(h > 0.0, q, 0.0)


def _cell_list(value: Any, name: str) -> list[tuple[int, int]]:
    """A node's inlet cells: one (row, col) or a sequence of them (the first is its own)."""
    if (
        isinstance(value, tuple)
        and len(value) == 2
        and all(isinstance(v, (int, np.integer)) for v in value)
    ):
        return [(int(value[0]), int(value[1]))]
    out = [(int(r), int(c)) for r, c in value]
    if not out:
        raise ValueError(f"node {name} has no inlet cell")
    return out


def _stage_fn(stage: Stage) -> Callable[[float], float]:
    if callable(stage):
        return stage
    if isinstance(stage, tuple):
        t = np.asarray(stage[0], dtype=np.float64)
        v = np.asarray(stage[1], dtype=np.float64)
        if t.shape != v.shape or t.size == 0 or np.any(np.diff(t) <= 0):
            raise ValueError("a tailwater series needs increasing times and as many levels")
        return lambda s: float(np.interp(s, t, v))
    level = float(stage)
    if not math.isfinite(level):
        raise ValueError(f"tailwater level must be finite, got {stage}")
    return lambda s: level


@dataclass
class CouplingResult:
    """What a coupled run produced (SI units; volumes m³, cumulative from the start)."""

    time_s: float
    outfall_times_s: list[float]
    outfall_flow_m3_s: dict[str, list[float]]
    node_max_depth_m: dict[str, float]
    node_flooded_m3: dict[str, float]
    volume_balance: dict[str, float]
    timings_s: dict[str, float] = field(default_factory=dict)


class Coupler:
    """Steps a surface :class:`Model` and a SWMM network together (see the module docstring).

    Args:
        model: the surface model (its grid, rain and boundaries as the caller built them);
            the coupler drives it through ``run_until``, ``depth_at`` and ``exchange``.
        inp_path: the network's SWMM ``.inp`` file (metric flow units).
        cells: coupled node name → (row, col) of its surface cell, or a list of cells: its
            own first (flooding returns there), then the cells whose gullies feed it, each an
            inlet of the size ``params`` gives. Outfalls are never coupled (they discharge to
            the river); nodes not named here run uncoupled.
        duration_s: how long the run will last (s); SWMM's end time is set past it.
        exchange_interval_s: Δ between exchanges (s).
        params: the exchange coefficients.
        inlet_factor: node → factor (0–1) on its inflow capacity (a blocked inlet).
        pumps_off: pumps held off for the whole run, whatever the ``.inp``'s controls say.
        tailwater: outfall → river level (see :data:`Stage`), held as the outfall's stage.
        work_dir: where SWMM writes its report and output files (a temporary folder if None).
    """

    def __init__(
        self,
        model: Model,
        inp_path: str | Path,
        cells: Mapping[str, tuple[int, int] | Sequence[tuple[int, int]]],
        *,
        duration_s: float,
        exchange_interval_s: float = 10.0,
        params: ExchangeParams | None = None,
        inlet_factor: Mapping[str, float] | None = None,
        pumps_off: Iterable[str] = (),
        tailwater: Mapping[str, Stage] | None = None,
        work_dir: str | Path | None = None,
    ) -> None:
        from swmm.toolkit import solver

        if not (math.isfinite(exchange_interval_s) and exchange_interval_s > 0):
            raise ValueError(f"exchange_interval_s must be > 0, got {exchange_interval_s}")
        if not (math.isfinite(duration_s) and duration_s > 0):
            raise ValueError(f"duration_s must be > 0, got {duration_s}")
        self.model = model
        self.params = params or ExchangeParams()
        self.exchange_interval_s = float(exchange_interval_s)
        self.duration_s = float(duration_s)
        self._solver = solver
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if work_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="fangxun-swmm-")
            work_dir = self._tmp.name
        self.pumps_off = list(pumps_off)
        self._open(Path(inp_path), Path(work_dir))
        self._place_inlets(cells)
        self._set_factors(inlet_factor or {})
        self._set_pumps_and_tailwater(tailwater or {})
        # Before the start: SWMM must keep nothing above a coupled node's rim (the surface is
        # the ponding), and must run at least as long as we want.
        for name in self.coupled:
            self._node[name].ponding_area = 0.0
        end = self.sim.start_time + timedelta(seconds=self.duration_s + 86400.0)
        if self.sim.end_time < end:
            self.sim.end_time = end
        self._init_state()

    def _open(self, inp_path: Path, wd: Path) -> None:
        """Open the SWMM simulation (a copy of the file with ``pumps_off`` off) and its nodes."""
        from pyswmm import Links, Nodes, Simulation

        if self.pumps_off:
            # a copy of the file with the pumps off (status, depths and rules; see with_pumps_off)
            copy = wd / inp_path.name
            copy.write_text(
                with_pumps_off(inp_path.read_text(encoding="utf-8-sig"), tuple(self.pumps_off)),
                encoding="utf-8",
            )
            inp_path = copy
        try:
            self.sim = Simulation(str(inp_path), str(wd / "net.rpt"), str(wd / "net.out"))
        except Exception as exc:
            raise NetworkError(swmm_error_text(inp_path, exc, wd / "net.rpt")) from exc
        units = str(self.sim.flow_units).upper()
        if units not in SI_FLOW_UNITS:
            self.sim.close()
            raise NetworkError(f"{inp_path}: FLOW_UNITS {units} is not metric (CMS, LPS, MLD)")
        self._q_factor = SI_FLOW_UNITS[units]  # flow units → m³/s
        self._started = False
        self._closed = False
        self._node = {n.nodeid: n for n in Nodes(self.sim)}
        self._links = {lk.linkid: lk for lk in Links(self.sim)}
        self._index = {name: i for i, name in enumerate(self._node)}
        self.outfalls = [name for name, n in self._node.items() if n.is_outfall()]
        self._oidx = [self._index[n] for n in self.outfalls]

    def _place_inlets(
        self, cells: Mapping[str, tuple[int, int] | Sequence[tuple[int, int]]]
    ) -> None:
        """Each coupled node's own cell (flooding returns there) and its inlet cells."""
        unknown = [n for n in cells if n not in self._node]
        if unknown:
            raise NetworkError(f"coupled node(s) not in the network: {', '.join(unknown)}")
        self.coupled = [n for n in cells if not self._node[n].is_outfall()]
        inlets = {n: _cell_list(cells[n], n) for n in self.coupled}
        self._rows = np.array([inlets[n][0][0] for n in self.coupled], dtype=np.int64)
        self._cols = np.array([inlets[n][0][1] for n in self.coupled], dtype=np.int64)
        self._in_node = np.array(
            [k for k, n in enumerate(self.coupled) for _ in inlets[n]], dtype=np.int64
        )
        self._in_rows = np.array([c[0] for n in self.coupled for c in inlets[n]], dtype=np.int64)
        self._in_cols = np.array([c[1] for n in self.coupled for c in inlets[n]], dtype=np.int64)
        self._cidx = [self._index[n] for n in self.coupled]
        self._full_depth = np.array([self._node[n].full_depth for n in self.coupled])
        elevation = self.model.grid.elevation
        self._ground = np.asarray(elevation[self._in_rows, self._in_cols], dtype=np.float64)

    def _set_factors(self, factors: Mapping[str, float]) -> None:
        """Per-node inflow capacity factors (a blocked inlet), 1 where not given."""
        for name, f in factors.items():
            if name not in self._node:
                raise NetworkError(f"inlet_factor names node {name}, not in the network")
            if not (math.isfinite(f) and f >= 0.0):
                raise ValueError(f"inlet_factor for {name} must be >= 0, got {f}")
        self._factor = np.array([factors.get(n, 1.0) for n in self.coupled])

    def _set_pumps_and_tailwater(self, tailwater: Mapping[str, Stage]) -> None:
        """Check the pumps held off and the outfalls given a tailwater; index them for SWMM."""
        names = list(self._links)
        for p in self.pumps_off:
            if p not in self._links or not self._links[p].is_pump():
                raise NetworkError(f"pump {p} is not a pump of the network")
        self._pump_idx = [names.index(p) for p in self.pumps_off]
        self._tailwater: dict[int, Callable[[float], float]] = {}
        for name, stage in tailwater.items():
            if name not in self.outfalls:
                raise NetworkError(f"tailwater names {name}, which is not an outfall")
            self._tailwater[self._index[name]] = _stage_fn(stage)

    def _init_state(self) -> None:
        """Zero the exchange state and the run's records."""
        n = len(self.coupled)
        m = self._in_node.size
        self._q = np.zeros(m)  # m³/s per inlet cell this chunk (a node takes their sum)
        self._q_prev = np.zeros(m)  # m³/s per inlet cell in the previous routing step
        self._q_node = np.zeros(n)  # m³/s set as each node's generated inflow
        self._debt = np.zeros(m)  # m³ each inlet cell still owes the network
        self._f_prev = np.zeros(n)  # m³/s flooding of each node at the last routing step
        self._flooded_last = np.zeros(n, dtype=bool)
        self.node_flooded_m3 = {name: 0.0 for name in self._node}
        self.node_max_depth_m = {name: 0.0 for name in self._node}
        self.exchange_in_m3 = 0.0  # surface → network
        self.exchange_out_m3 = 0.0  # network → surface (flooding)
        self.outfall_times_s: list[float] = []
        self.outfall_flow: dict[str, list[float]] = {o: [] for o in self.outfalls}
        self.swmm_time_s = 0.0
        self.seconds_in_swmm = 0.0
        self.seconds_in_surface = 0.0
        self._network_initial_m3 = 0.0

    # ------------------------------------------------------------------ running

    def _start(self) -> None:
        with warnings.catch_warnings():  # pyswmm prefers a `with` block; we close in close()
            warnings.simplefilter("ignore")
            self.sim.start()
        self._started = True
        self._network_initial_m3 = self.network_storage_m3()
        self._record_outfalls(0.0)

    def _node_result(self, idx: int, what: Any) -> float:
        return float(self._solver.node_get_result(idx, what))

    def network_storage_m3(self) -> float:
        """Water held in the network now (m³): nodes plus links."""
        from swmm.toolkit import shared_enum

        s = self._solver
        nv = shared_enum.NodeResult.VOLUME
        lv = shared_enum.LinkResult.VOLUME
        nodes = s.project_get_count(shared_enum.ObjectType.NODE)
        links = s.project_get_count(shared_enum.ObjectType.LINK)
        return float(
            sum(s.node_get_result(i, nv) for i in range(nodes))
            + sum(s.link_get_result(i, lv) for i in range(links))
        )

    def _record_outfalls(self, t: float) -> None:
        from swmm.toolkit import shared_enum

        self.outfall_times_s.append(t)
        for name, idx in zip(self.outfalls, self._oidx, strict=True):
            q = self._node_result(idx, shared_enum.NodeResult.TOTAL_INFLOW) * self._q_factor
            self.outfall_flow[name].append(q)

    def run(self, progress: Callable[[float, float], None] | None = None) -> CouplingResult:
        """Run to ``duration_s`` and return the result (closes the SWMM simulation)."""
        try:
            self.advance(self.duration_s, progress)
            return self.result()
        finally:
            self.close()

    def advance(
        self, t_end_s: float, progress: Callable[[float, float], None] | None = None
    ) -> None:
        """Advance both models to (at least) ``t_end_s``, exchanging every interval."""
        from swmm.toolkit import shared_enum

        if not self._started:
            self._start()
        s = self._solver
        model = self.model
        flood = shared_enum.NodeResult.FLOOD
        depth = shared_enum.NodeResult.DEPTH
        head = shared_enum.NodeResult.HEAD
        area = model.grid.cell_area_m2
        qf = self._q_factor
        n = len(self.coupled)
        names = list(self._node)
        eps = 1e-6
        while self.swmm_time_s < t_end_s - eps:
            t = self.swmm_time_s
            target = min(t + self.exchange_interval_s, t_end_s)
            # 1. inflow rates from the state at t, limited so the surface can pay for them
            if n:
                h = model.depth_at(self._in_rows, self._in_cols)
                heads = np.array([self._node_result(i, head) for i in self._cidx])
                node = self._in_node
                q = exchange_capacity(self._ground, h, heads[node], self.params)
                q *= self._factor[node]
                # a full node (at its rim) cannot take more: what it took would only flood back,
                # and SWMM's balance of inflow into a full node is poor
                depths = np.array([self._node_result(i, depth) for i in self._cidx])
                shut = self._flooded_last | (depths >= self._full_depth - 0.01)
                q[shut[node]] = 0.0
                room = np.maximum(h * area - self._debt, 0.0)
                q = np.minimum(q, room / (target - t + 5.0))  # 5 s: SWMM's step may overshoot
                q_node = np.bincount(node, weights=q, minlength=n).astype(np.float64)
                for changed in np.flatnonzero(q_node != self._q_node):
                    self._node[self.coupled[changed]].generated_inflow(float(q_node[changed]) / qf)
                self._q = q
                self._q_node = q_node
            # 2. SWMM to t' >= target
            t0 = time.perf_counter()
            v_in = np.zeros(self._in_node.size)  # per inlet cell
            v_out = np.zeros(n)  # per node
            while self.swmm_time_s < target - eps:
                for idx in self._pump_idx:
                    s.link_set_target_setting(idx, 0.0)
                for idx, fn in self._tailwater.items():
                    s.outfall_set_stage(idx, fn(self.swmm_time_s))
                elapsed = self.sim._model.swmm_step()
                if elapsed <= 0.0:
                    raise RuntimeError("SWMM reached its end time before the coupled run")
                t_new = elapsed * 86400.0
                dt = t_new - self.swmm_time_s
                self.swmm_time_s = t_new
                # SWMM integrates a lateral inflow over a routing step as the mean of the
                # step's old and new rates (trapezoid): count what it counts
                v_in += 0.5 * (self._q_prev + self._q) * dt
                self._q_prev = self._q
                # flooding, like inflow, as SWMM counts it: the mean of the step's old and new
                # rates (its node volumes follow the same rule)
                f_new = self._f_prev.copy()
                for k, idx in enumerate(self._cidx):
                    f_new[k] = s.node_get_result(idx, flood) * qf
                v_out += 0.5 * (self._f_prev + f_new) * dt
                self._f_prev = f_new
                for i, name in enumerate(names):
                    d = s.node_get_result(i, depth)
                    if d > self.node_max_depth_m[name]:
                        self.node_max_depth_m[name] = d
            self.seconds_in_swmm += time.perf_counter() - t0
            # 3. the surface pays what the nodes took and receives what they flooded
            t0 = time.perf_counter()
            self._advance_surface(v_in, v_out)
            self.seconds_in_surface += time.perf_counter() - t0
            self._record_outfalls(self.swmm_time_s)
            if progress is not None:
                progress(self.swmm_time_s, t_end_s)

    def _advance_surface(self, v_in: Any, v_out: Any) -> None:
        """The surface pays what the nodes took (``v_in`` per inlet cell, m³) and receives what
        they flooded (``v_out`` per node, m³) over the chunk SWMM just ran, and runs to its end.

        Both enter the surface over that interval, step by step (:meth:`Model.schedule_exchange`):
        taken at once, an inlet's 10 s of inflow empties its cell, and at the surface's default
        step the waves this starts are not damped within the interval (the street sloshes).
        """
        model = self.model
        if not len(self.coupled):
            model.run_until(self.swmm_time_s)
            return
        request = -v_in - self._debt
        span = self.swmm_time_s - model.time_s
        paid = model.schedule_exchange(self._in_rows, self._in_cols, request, span)
        model.schedule_exchange(self._rows, self._cols, v_out, span)  # never limited: all arrives
        self.exchange_in_m3 += float(v_in.sum())
        self.exchange_out_m3 += float(v_out.sum())
        self._flooded_last = v_out > 0.0
        for k, name in enumerate(self.coupled):
            self.node_flooded_m3[name] += float(v_out[k])
        model.run_until(self.swmm_time_s)
        self._debt = np.maximum(paid.moved_m3 - request, 0.0)

    # ------------------------------------------------------------------ results

    def volume_balance(self) -> dict[str, float]:
        """Cumulative volumes (m³) of the whole system now (see :class:`CouplingResult`).

        ``inflow_m3`` is what entered the network other than from the surface (the ``.inp``'s
        inflows, dry-weather flow, its own subcatchments' runoff, groundwater, RDII);
        ``error_m3`` = supplied − (stored + gone), where supplied = initial storage + rain +
        inflow and gone = outfalls + surface boundary outflow + network losses.
        """
        from pyswmm import SystemStats

        st = SystemStats(self.sim).routing_stats
        q = 1.0  # routing totals come in m³ for metric flow units
        mb = self.model.mass_balance()
        inflow = (
            st["dry_weather_inflow"]
            + st["wet_weather_inflow"]
            + st["groundwater_inflow"]
            + st["II_inflow"]
            + st["external_inflow"]
        ) * q - self.exchange_in_m3
        outfall = st["outflow"] * q
        losses = (st["evaporation_loss"] + st["seepage_loss"]) * q
        surface = mb["storage"]
        network = self.network_storage_m3()
        surface_initial = mb["initial_storage"]
        debt = float(self._debt.sum())
        supplied = surface_initial + self._network_initial_m3 + mb["rain"] + inflow
        gone = outfall + mb["outflow"] + mb["infiltration"] + mb["drainage"] + losses
        error = surface + network - debt - (supplied - gone)
        return {
            "rain_m3": mb["rain"],
            "inflow_m3": inflow,
            "outfall_m3": outfall,
            "stored_surface_m3": surface,
            "stored_network_m3": network,
            "error_m3": error,
            "swmm_routing_continuity_pct": float(st["routing_error"]),
            "swmm_flooding_m3": float(st["flooding"]) * q,
            "swmm_inflow_m3": inflow + self.exchange_in_m3,
            "initial_surface_m3": surface_initial,
            "initial_network_m3": self._network_initial_m3,
            "surface_outflow_m3": mb["outflow"],
            "network_losses_m3": losses,
            "exchange_to_network_m3": self.exchange_in_m3,
            "flooded_to_surface_m3": self.exchange_out_m3,
            "surface_mass_error_m3": mb["error"],
            "owed_to_network_m3": debt,
        }

    def result(self) -> CouplingResult:
        """The run's outputs so far (call before :meth:`close`)."""
        return CouplingResult(
            time_s=self.swmm_time_s,
            outfall_times_s=list(self.outfall_times_s),
            outfall_flow_m3_s={k: list(v) for k, v in self.outfall_flow.items()},
            node_max_depth_m=dict(self.node_max_depth_m),
            node_flooded_m3=dict(self.node_flooded_m3),
            volume_balance=self.volume_balance(),
            timings_s={"swmm": self.seconds_in_swmm, "surface": self.seconds_in_surface},
        )

    def close(self) -> None:
        """End and close the SWMM simulation (idempotent)."""
        if self._closed:
            return
        self._closed = True
        try:
            self.sim.close()  # ends the run too
        finally:
            if self._tmp is not None:
                self._tmp.cleanup()
