"""A plausible drainage network under the demo district's streets, as a SWMM ``.inp`` (SYNTHETIC).

Design (documented so it can be argued with; a real district imports its institute's file):

* **Trunk sewers** under every west–east street (:data:`~fangxun.demo.terrain.ROADS` with axis
  "ew"), flowing east with the ground to an **outfall** on the river's west bank, with a flap gate
  (the river must not run back into the streets); the largest trunks, under their cover, end
  below the river's bed, so those outfalls are submerged. Manholes every
  :data:`MANHOLE_SPACING_M` along the street's centreline from 250 m east of the western edge;
  each manhole's rim is the ground of its cell, its invert the cover depth (1.5 m) plus the
  pipe's diameter below the rim, never rising downstream (at least a 0.5 ‰ fall).
* **Sizes by the rational method** at the design return period P (default 1 year, the centre's
  standard): Q = ψ·i·A with ψ = 0.6, A the strip of the district the trunk serves up to that
  manhole (its length × :data:`STRIP_WIDTH_M`, the spacing of the west–east streets) and i the
  storm formula's mean intensity over the time of concentration (10 min of inlet time plus the
  travel time at 1 m/s); diameters from Manning's full-pipe flow (n = 0.013) at the pipe's slope,
  rounded up to the standard sizes :data:`DIAMETERS_M`.
* **Two pump stations** at the first two underpasses under the railway (:data:`PUMPED`): a
  junction at the underpass's low point drains into a wet well (80 m², its floor 6 m below
  the underpass's road), from which three pumps of 0.5 m³/s each (starting at 1.0, 1.5 and
  2.0 m of well depth, stopping at 0.3 m: 1.5 m³/s, the capacity the monitoring seed gives the
  stations) lift the water into the trunk of the nearest street to the south. Their SWMM
  names ``PSn-1..3`` match the telemetry rule "the first k pumps run when k are running".
* Inlets: each manhole stands for the gullies of its 200 m of street: the road cells within
  :data:`INLET_RADIUS_M` that are nearest to it feed it, each through a grate of
  :data:`INLET_AREA_M2` (:func:`fangxun.drainage.checks.inlet_cells`).

>>> from fangxun.demo.terrain import generate_terrain
>>> text = demo_network_inp(generate_terrain())
>>> text.count("PC05 ON"), "OF1 " in text
(6, True)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from fangxun.demo.terrain import (
    CELL_SIZE_M,
    N_ROWS,
    ROADS,
    UNDERPASSES,
    DemoTerrain,
    bank_elevation,
    river_centre_x,
    river_depth,
    river_width,
)
from rainkit import StormFormula

MANHOLE_SPACING_M = 200.0
STRIP_WIDTH_M = 700.0
RUNOFF_COEFF = 0.6
COVER_M = 1.5
MIN_SLOPE = 0.0005
MANNING_N = 0.013
DIAMETERS_M = (0.6, 0.8, 1.0, 1.2, 1.5, 1.8, 2.0, 2.4, 2.8, 3.2, 3.6, 4.0)
PUMPED = UNDERPASSES[:2]
INLET_AREA_M2 = 1.0
"""Inlet plan area (m²) per road cell feeding a manhole (a gully grate or two)."""
INLET_RADIUS_M = 100.0
"""Road cells within this distance (m) of a manhole feed it (half the manhole spacing)."""
#: Example storm formula (Zhengzhou-like; the configured one is used in a real district).
DEFAULT_FORMULA = StormFormula(a=16.4, b=17.0, c=0.837, n=0.81, name="demo")


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


def demo_network_inp(
    terrain: DemoTerrain,
    *,
    formula: StormFormula = DEFAULT_FORMULA,
    return_period_years: float = 1.0,
    hours: float = 3.0,
) -> str:
    """The ``.inp`` text of the demo network (see the module docstring)."""
    z = terrain.elevation.astype(np.float64)
    t = terrain.transform
    south = t.f - N_ROWS * CELL_SIZE_M

    def ground(x: float, s: float) -> float:
        col = min(max(int(x // CELL_SIZE_M), 0), z.shape[1] - 1)
        row = min(max(int((N_ROWS * CELL_SIZE_M - s) // CELL_SIZE_M), 0), z.shape[0] - 1)
        return float(z[row, col])

    def xy(x: float, s: float) -> tuple[float, float]:
        return t.c + x, south + s

    junctions: list[_Node] = []
    outfalls: list[tuple[str, float, float, float]] = []
    conduits: list[tuple[str, str, str, float, float]] = []
    trunk_nodes: dict[str, list[tuple[float, str]]] = {}
    for k, road in enumerate(r for r in ROADS if r.axis == "ew"):
        s = road.position_m
        bank_x = float(river_centre_x(np.array([s]))[0] - river_width(np.array([s]))[0] / 2)
        xs = np.arange(250.0, bank_x - 60.0, MANHOLE_SPACING_M)
        names = [f"T{k + 1}-{i + 1:02d}" for i in range(xs.size)]
        prev_inv = math.inf
        nodes: list[_Node] = []
        for i, (name, x) in enumerate(zip(names, xs, strict=True)):
            rim = ground(float(x), s)
            area = (float(x) + MANHOLE_SPACING_M / 2) * STRIP_WIDTH_M
            tc = 600.0 + float(x) / 1.0
            q = RUNOFF_COEFF * formula.intensity_mm_h(tc, return_period_years) / 3.6e6 * area
            slope = (
                max(MIN_SLOPE, (rim - ground(float(xs[i + 1]), s)) / MANHOLE_SPACING_M)
                if i + 1 < xs.size
                else MIN_SLOPE
            )
            d = _diameter(q, slope)
            inv = min(rim - COVER_M - d, prev_inv - MIN_SLOPE * MANHOLE_SPACING_M)
            prev_inv = inv
            nodes.append(_Node(name, *xy(float(x), s), invert=inv, depth=rim - inv))
            if i > 0:
                conduits.append((f"C{name}", names[i - 1], name, MANHOLE_SPACING_M, d))
        out_name = f"OF{k + 1}"
        bed = float(bank_elevation(np.array([s]))[0] - river_depth(np.array([s]))[0])
        # the largest trunks under their cover end below the river's bed: a submerged,
        # flap-gated outfall (the river level, when linked, is its tailwater)
        out_inv = prev_inv - 0.2 if nodes else bed + 0.3
        outfalls.append((out_name, *xy(bank_x, s), out_inv))
        if nodes:
            last = nodes[-1]
            d_last = conduits[-1][4] if conduits else 1.0
            conduits.append((f"C{out_name}", last.name, out_name, bank_x - xs[-1], d_last))
        junctions.extend(nodes)
        trunk_nodes[road.name_zh] = [(float(x), n) for x, n in zip(xs, names, strict=True)]

    # pump stations at the first underpasses: into the trunk of the nearest street to the south
    storage: list[tuple[str, float, float, float, float]] = []
    pumps: list[tuple[str, str, str, float]] = []
    underpasses = [f for f in terrain.features if f.kind == "underpass"]
    ew = [r for r in ROADS if r.axis == "ew"]
    for n, (road_name, _depth) in enumerate(PUMPED, start=1):
        feat = next(f for f in underpasses if road_name in f.name_zh)
        s_up = N_ROWS * CELL_SIZE_M - (feat.row + 0.5) * CELL_SIZE_M
        x_up = (feat.col + 0.5) * CELL_SIZE_M
        up = _Node(f"UP{n}", feat.x, feat.y, invert=feat.ground_m - 2.0, depth=2.0)
        junctions.append(up)
        ww = f"WW{n}"
        # the well beside the underpass, its cover at the ground there
        ww_rim = ground(x_up + 15.0, s_up)
        storage.append(
            (ww, feat.x + 15.0, feat.y, feat.ground_m - 6.0, ww_rim - feat.ground_m + 6.0)
        )
        conduits.append((f"CUP{n}", up.name, ww, 20.0, 1.0))
        south_roads = [r for r in ew if r.position_m < s_up] or ew
        road = max(south_roads, key=lambda r: r.position_m)
        target = min(trunk_nodes[road.name_zh], key=lambda p: abs(p[0] - x_up))[1]
        for j, start in enumerate((1.0, 1.5, 2.0), start=1):
            pumps.append((f"PS{n}-{j}", ww, target, start))

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
    lines += [f"{s[0]} {s[3]:.3f} {s[4]:.3f} 0 FUNCTIONAL 0 0 80 0 0" for s in storage]
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
    lines += [f"{s[0]} {s[1]:.2f} {s[2]:.2f}" for s in storage]
    return "\n".join(lines) + "\n"
