"""A plausible drainage network under the demo district's streets, as a SWMM ``.inp`` (SYNTHETIC).

Design basis (documented so it can be argued with; a real district imports its institute's file):

* **Storm formula**: the one the forecasts use (``Settings.forecast_storm_formula``, by default
  the example Zhengzhou q-form, i = 18.44 (1 + 0.892 lg P) / (t + 15.1)^0.824 mm/min).
* **Return period by drainage area**, the same as the catchment sink the forecast uses without a
  network (:data:`~fangxun.demo.terrain.CATCHMENTS`): the old west 0.5 a, the centre 1 a, the
  newer east 2 a — the pre-2021 standards a district of this age was built to (GB 50014-2021 now
  asks 3–5 a for the centre of a city this size; the gap is what the forecasts are for).
  Each reach is sized for the area it lies in, carrying everything upstream of it.
* **Rational method**: Q = ψ·i·A with ψ = :data:`RUNOFF_COEFF` (GB 50014's 0.6–0.7 for dense
  built-up areas), A the strip of the district the trunk serves up to that manhole (its length ×
  :data:`STRIP_WIDTH_M`, the spacing of the west–east streets) and i the formula's mean intensity
  over the time of concentration (10 min of inlet time plus the travel time at 1 m/s);
  diameters from Manning's full-pipe flow (n = 0.013) at the pipe's slope, rounded up to the
  standard sizes :data:`DIAMETERS_M`.
* **Trunk sewers** under every west–east street (:data:`~fangxun.demo.terrain.ROADS` with axis
  "ew"), on both sides of the river, each flowing with the ground to an **outfall** on its bank
  with a flap gate (the river must not run back into the streets): west of the river eastwards
  from 250 m east of the western edge, east of the river westwards from 250 m inside the eastern
  edge. Manholes every :data:`MANHOLE_SPACING_M` along the street's centreline; each rim is the
  ground of its cell, its invert the cover depth (1.5 m) plus the pipe's diameter below the rim,
  never rising downstream (at least a 0.5 ‰ fall). The largest trunks end below the river's bed,
  so those outfalls are submerged when the river is up.
* **A pump station at every underpass** under the railway (the underpasses are 3–5 m deep and
  cannot drain by gravity): a junction at the underpass's low point drains into a wet well
  (80 m², its floor 6 m below the underpass's road), from which three pumps of 0.5 m³/s each
  (starting at 1.0, 1.5 and 2.0 m of well depth, stopping at 0.3 m: 1.5 m³/s, the capacity the
  monitoring seed gives its stations; the 30-year, 5-minute storm on the ~2 ha that drains to an
  underpass is about 1 m³/s) lift the water into the trunk of the nearest street to the south.
  Names: junction ``UPnn``, well ``WWnn``, pumps ``UPnn-P1..3`` after the underpass's code
  ``UPnn``; :data:`PUMP_STATION_OF` maps the monitoring seed's pump stations to them ("the
  first k pumps by name run when k are running").
* Inlets: each manhole stands for the gullies of its stretch of street: the road cells within
  :data:`INLET_RADIUS_M` that are nearest to it feed it, each through a grate of
  :data:`INLET_AREA_M2` (:func:`fangxun.drainage.checks.inlet_cells`).

>>> from fangxun.demo.terrain import generate_terrain
>>> text = demo_network_inp(generate_terrain())
>>> text.count("PC05 ON"), "OF1 " in text, "OFE1 " in text
(15, True, True)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from fangxun.demo.terrain import (
    CATCHMENTS,
    CELL_SIZE_M,
    N_COLS,
    N_ROWS,
    ROADS,
    UNDERPASSES,
    DemoTerrain,
    river_centre_x,
    river_width,
)
from rainkit import StormFormula

MANHOLE_SPACING_M = 200.0
STRIP_WIDTH_M = 700.0
RUNOFF_COEFF = 1.0
COVER_M = 1.5
MIN_SLOPE = 0.0005
MANNING_N = 0.013
DIAMETERS_M = (0.6, 0.8, 1.0, 1.2, 1.5, 1.8, 2.0, 2.4, 2.8, 3.2, 3.6, 4.0, 4.5, 5.0)
#: Underpasses with a pump station (all of them: none can drain by gravity).
PUMPED = UNDERPASSES
#: The monitoring seed's pump stations → the underpass whose SWMM pumps they drive.
PUMP_STATION_OF = {"PS01": "UP01", "PS02": "UP03"}
PUMPS_PER_STATION = 3
INLET_AREA_M2 = 1.0
"""Inlet plan area (m²) per road cell feeding a manhole (a gully grate or two)."""
INLET_RADIUS_M = 100.0
"""Road cells within this distance (m) of a manhole feed it (half the manhole spacing)."""


def _configured_formula() -> StormFormula:
    from fangxun.config import Settings

    a, b, c, n = Settings.model_fields["forecast_storm_formula"].default
    return StormFormula(a=a, b=b, c=c, n=n, name="configured")


#: The storm formula of the design: the forecasts' default (see the module docstring).
DEFAULT_FORMULA = _configured_formula()


@dataclass
class _Node:
    name: str
    x: float
    y: float
    invert: float
    depth: float


def _diameter(q_m3_s: float, slope: float) -> float:
    s = max(slope, MIN_SLOPE)
    d = (q_m3_s * MANNING_N * 4.0 ** (5.0 / 3.0) / (math.pi * math.sqrt(s))) ** 0.375
    return next((x for x in DIAMETERS_M if x >= d), DIAMETERS_M[-1])


def design_storm_of(x_m: float, s_m: float) -> tuple[float, float]:
    """(return period, years; time of concentration, s) of the drainage area at grid-local
    (x, s) m: the last catchment of :data:`CATCHMENTS` holding it that has them."""
    period, tc_min = 1.0, 30.0
    for c in CATCHMENTS:
        if c.return_period_years is not None and (
            c.x_min_m <= x_m <= c.x_max_m and c.s_min_m <= s_m <= c.s_max_m
        ):
            period = c.return_period_years
            tc_min = c.concentration_time_min or tc_min
    return period, tc_min * 60.0


@dataclass
class _Trunk:
    """One trunk: manholes in flow order and the pipes between them."""

    junctions: list[_Node]
    conduits: list[tuple[str, str, str, float, float]]
    outfall: tuple[str, float, float, float]
    stations: list[tuple[float, str]]  # (x along the street, manhole)


def _trunk(
    terrain: DemoTerrain,
    prefix: str,
    s: float,
    xs: np.ndarray,
    out_x: float,
    out_name: str,
    formula: StormFormula,
    return_period_years: float | None,
) -> _Trunk:
    """A trunk under the street at ``s`` with manholes at ``xs`` (in flow order) to an outfall
    at ``out_x`` (see the module docstring for the sizing)."""
    z = terrain.elevation.astype(np.float64)
    t = terrain.transform
    south = t.f - N_ROWS * CELL_SIZE_M

    def ground(x: float) -> float:
        col = min(max(int(x // CELL_SIZE_M), 0), z.shape[1] - 1)
        row = min(max(int((N_ROWS * CELL_SIZE_M - s) // CELL_SIZE_M), 0), z.shape[0] - 1)
        return float(z[row, col])

    names = [f"{prefix}-{i + 1:02d}" for i in range(xs.size)]
    start = float(xs[0])
    prev_inv = math.inf
    nodes: list[_Node] = []
    conduits: list[tuple[str, str, str, float, float]] = []
    for i, (name, x) in enumerate(zip(names, xs, strict=True)):
        rim = ground(float(x))
        length = abs(float(x) - start) + 250.0  # of street from the district's edge, m
        area = (length + MANHOLE_SPACING_M / 2) * STRIP_WIDTH_M
        period, tc = design_storm_of(float(x), s)
        period = return_period_years or period
        q = RUNOFF_COEFF * formula.intensity_mm_h(tc, period) / 3.6e6 * area
        nxt = float(xs[i + 1]) if i + 1 < xs.size else out_x
        slope = max(MIN_SLOPE, (rim - ground(nxt)) / abs(nxt - float(x)))
        d = _diameter(q, slope)
        inv = min(rim - COVER_M - d, prev_inv - MIN_SLOPE * MANHOLE_SPACING_M)
        prev_inv = inv
        nodes.append(_Node(name, t.c + float(x), south + s, invert=inv, depth=rim - inv))
        if i > 0:
            conduits.append((f"C{name}", names[i - 1], name, MANHOLE_SPACING_M, d))
    d_last = conduits[-1][4] if conduits else 1.0
    conduits.append((f"C{out_name}", names[-1], out_name, abs(out_x - float(xs[-1])), d_last))
    outfall = (out_name, t.c + out_x, south + s, prev_inv - 0.2)
    return _Trunk(nodes, conduits, outfall, [(float(x), n) for x, n in zip(xs, names, strict=True)])


def demo_network_inp(
    terrain: DemoTerrain,
    *,
    formula: StormFormula = DEFAULT_FORMULA,
    return_period_years: float | None = None,
    hours: float = 3.0,
) -> str:
    """The ``.inp`` text of the demo network (see the module docstring).

    ``return_period_years`` sizes every pipe for one return period instead of each drainage
    area's own.
    """
    trunks: list[_Trunk] = []
    by_street: dict[str, list[tuple[float, str]]] = {}
    for k, road in enumerate((r for r in ROADS if r.axis == "ew"), start=1):
        s = road.position_m
        centre = float(river_centre_x(np.array([s]))[0])
        half = float(river_width(np.array([s]))[0]) / 2
        west_bank, east_bank = centre - half, centre + half
        west = np.arange(250.0, west_bank - 60.0, MANHOLE_SPACING_M)
        east = np.arange(N_COLS * CELL_SIZE_M - 250.0, east_bank + 60.0, -MANHOLE_SPACING_M)
        args = (formula, return_period_years)
        tw = _trunk(terrain, f"T{k}", s, west, west_bank, f"OF{k}", *args)
        te = _trunk(terrain, f"E{k}", s, east, east_bank, f"OFE{k}", *args)
        trunks += [tw, te]
        by_street[road.name_zh] = tw.stations + te.stations

    junctions = [j for tr in trunks for j in tr.junctions]
    conduits = [c for tr in trunks for c in tr.conduits]
    outfalls = [tr.outfall for tr in trunks]
    storage: list[tuple[str, float, float, float, float, float]] = []
    pumps: list[tuple[str, str, str, float]] = []
    z = terrain.elevation.astype(np.float64)
    ew = [r for r in ROADS if r.axis == "ew"]
    underpasses = {f.code: f for f in terrain.features if f.kind == "underpass"}
    for code, feat in sorted(underpasses.items()):
        s_up = N_ROWS * CELL_SIZE_M - (feat.row + 0.5) * CELL_SIZE_M
        x_up = (feat.col + 0.5) * CELL_SIZE_M
        num = code[2:]
        junctions.append(_Node(code, feat.x, feat.y, invert=feat.ground_m - 2.0, depth=2.0))
        well = f"WW{num}"
        # the well beside the underpass, its cover at the ground there
        well_rim = float(z[feat.row, min(feat.col + 2, z.shape[1] - 1)])
        floor = feat.ground_m - 6.0
        storage.append((well, feat.x + 15.0, feat.y, floor, well_rim - floor, 80.0))
        conduits.append((f"C{code}", code, well, 20.0, 1.0))
        road = max((r for r in ew if r.position_m < s_up), key=lambda r: r.position_m)
        target = min(by_street[road.name_zh], key=lambda p: abs(p[0] - x_up))[1]
        for j, start in enumerate((1.0, 1.5, 2.0), start=1):
            pumps.append((f"{code}-P{j}", well, target, start))

    end_h = int(hours)
    end_m = round((hours - end_h) * 60)
    lines = [
        "[TITLE]\n;;SYNTHETIC demo network under the demo district's streets (not survey data)\n",
        "[OPTIONS]",
        "FLOW_UNITS CMS\nINFILTRATION HORTON\nFLOW_ROUTING DYNWAVE\nALLOW_PONDING NO",
        "START_DATE 07/20/2021\nSTART_TIME 00:00:00\nREPORT_START_DATE 07/20/2021",
        f"REPORT_START_TIME 00:00:00\nEND_DATE 07/20/2021\nEND_TIME {end_h:02d}:{end_m:02d}:00",
        "REPORT_STEP 00:05:00\nWET_STEP 00:05:00\nDRY_STEP 00:05:00\nROUTING_STEP 5",
        "VARIABLE_STEP 0.75\nMIN_SURFAREA 1.2\nINERTIAL_DAMPING PARTIAL",
        "NORMAL_FLOW_LIMITED BOTH\nHEAD_TOLERANCE 0.0015\nMAX_TRIALS 8\n",
        "[JUNCTIONS]\n;;name invert maxdepth initdepth surdepth aponded",
    ]
    lines += [f"{j.name} {j.invert:.3f} {j.depth:.3f} 0 0 0" for j in junctions]
    lines.append("\n[OUTFALLS]\n;;name invert type gated")
    lines += [f"{o[0]} {o[3]:.3f} FREE YES" for o in outfalls]
    lines.append("\n[STORAGE]\n;;name invert maxdepth initdepth shape area")
    lines += [f"{w[0]} {w[3]:.3f} {w[4]:.3f} 0 FUNCTIONAL 0 0 {w[5]:g} 0 0" for w in storage]
    lines.append("\n[CONDUITS]\n;;name from to length n inoffset outoffset q0")
    lines += [f"{c[0]} {c[1]} {c[2]} {c[3]:.1f} {MANNING_N} 0 0 0" for c in conduits]
    lines.append("\n[PUMPS]\n;;name from to curve status startup shutoff")
    lines += [f"{p[0]} {p[1]} {p[2]} PC05 ON {p[3]} 0.3" for p in pumps]
    lines.append("\n[CURVES]\nPC05 PUMP2 0 0.5\nPC05 10 0.5")
    lines.append("\n[XSECTIONS]")
    lines += [f"{c[0]} CIRCULAR {c[4]} 0 0 0 1" for c in conduits]
    lines.append("\n[COORDINATES]")
    lines += [f"{j.name} {j.x:.2f} {j.y:.2f}" for j in junctions]
    lines += [f"{o[0]} {o[1]:.2f} {o[2]:.2f}" for o in outfalls]
    lines += [f"{w[0]} {w[1]:.2f} {w[2]:.2f}" for w in storage]
    return "\n".join(lines) + "\n"
