"""Checks of a drainage network against the terrain grid it will be coupled to.

A network drawn by a design institute and a terrain surveyed by someone else rarely agree
everywhere. Before a forecast leans on them the office wants to know: which manholes fall off the
grid (or on nodata), whose rim is far above or below the ground there (a wrong datum, a typo, a
buried manhole), which nodes have no coordinates, and which parts of the network do not reach an
outfall. :func:`check_against_terrain` answers all of it as one :class:`TerrainCheck` report; it
raises nothing, so the whole list is seen at once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from fangxun.inundation import Grid

from .network import Network

RIM_TOLERANCE_M = 0.3
"""Rim vs ground difference (m) beyond which a node is reported: a survey and a DEM of a city
street agree to a few decimetres; beyond that the datum or the file is likely wrong."""


@dataclass(frozen=True)
class RimMismatch:
    """A node whose rim differs from the ground at its cell by more than the tolerance."""

    node: str
    rim_m: float
    ground_m: float

    @property
    def difference_m(self) -> float:
        """rim − ground (m): positive where the rim stands above the ground."""
        return self.rim_m - self.ground_m


@dataclass
class TerrainCheck:
    """What :func:`check_against_terrain` found (node names in each list)."""

    cells: dict[str, tuple[int, int]] = field(default_factory=dict)
    no_coordinates: list[str] = field(default_factory=list)
    off_grid: list[str] = field(default_factory=list)
    on_nodata: list[str] = field(default_factory=list)
    rim_mismatch: list[RimMismatch] = field(default_factory=list)
    parts: int = 0
    parts_without_outfall: list[list[str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """No problem that stops a coupled run (rim mismatches and parts are warnings)."""
        return not (self.no_coordinates or self.off_grid or self.on_nodata)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready report."""
        return {
            "ok": self.ok,
            "nodes_on_grid": len(self.cells),
            "no_coordinates": self.no_coordinates,
            "off_grid": self.off_grid,
            "on_nodata": self.on_nodata,
            "rim_mismatch": [
                {
                    "node": m.node,
                    "rim_m": round(m.rim_m, 3),
                    "ground_m": round(m.ground_m, 3),
                    "difference_m": round(m.difference_m, 3),
                }
                for m in self.rim_mismatch
            ],
            "parts": self.parts,
            "parts_without_outfall": self.parts_without_outfall,
        }


def cell_of(grid: Grid, x: float, y: float) -> tuple[int, int] | None:
    """The (row, col) of the grid cell holding map point (x, y), or None if off the grid.

    Uses the grid's transform (its CRS's units); a grid without one has its origin at the
    top-left corner (x to the east, y to the south, metres).
    """
    if grid.transform is not None:
        col_f, row_f = ~grid.transform * (x, y)
    else:
        col_f, row_f = x / grid.cell_size, y / grid.cell_size
    if not (math.isfinite(col_f) and math.isfinite(row_f)):
        return None
    row, col = math.floor(row_f), math.floor(col_f)
    ny, nx = grid.shape
    if 0 <= row < ny and 0 <= col < nx:
        return row, col
    return None


def check_against_terrain(
    network: Network, grid: Grid, rim_tolerance_m: float = RIM_TOLERANCE_M
) -> TerrainCheck:
    """Place every node on the grid and report what does not fit (see the module docstring)."""
    report = TerrainCheck()
    for node in network.nodes.values():
        if node.x is None or node.y is None:
            report.no_coordinates.append(node.name)
            continue
        cell = cell_of(grid, node.x, node.y)
        if cell is None:
            report.off_grid.append(node.name)
            continue
        if grid.nodata_mask[cell]:
            report.on_nodata.append(node.name)
            continue
        report.cells[node.name] = cell
        if node.kind != "outfall":
            ground = float(grid.elevation[cell])
            if abs(node.rim_m - ground) > rim_tolerance_m:
                report.rim_mismatch.append(RimMismatch(node.name, node.rim_m, ground))
    parts = network.components()
    report.parts = len(parts)
    for part in parts:
        if not any(network.nodes[n].kind == "outfall" for n in part):
            report.parts_without_outfall.append(sorted(part))
    return report


def inlet_cells(
    grid: Grid,
    cells: dict[str, tuple[int, int]],
    radius_m: float,
    mask: npt.NDArray[np.bool_] | None = None,
) -> dict[str, list[tuple[int, int]]]:
    """Each node's inlet cells: its own cell first, then the cells (of ``mask``, e.g. the
    roads, if given) within ``radius_m`` whose nearest node it is — the gullies along a street
    that feed a manhole. No cell feeds two nodes."""
    from scipy.spatial import cKDTree

    names = list(cells)
    if not names:
        return {}
    ok = ~grid.nodata_mask if mask is None else (mask & ~grid.nodata_mask)
    pts = np.array([cells[n] for n in names], dtype=np.float64)
    rr, cc = np.nonzero(ok)
    cand = np.column_stack([rr, cc]).astype(np.float64)
    dist, idx = cKDTree(pts).query(cand, distance_upper_bound=radius_m / grid.cell_size)
    out: dict[str, list[tuple[int, int]]] = {n: [cells[n]] for n in names}
    own = set(cells.values())
    for (r, c), d, k in zip(zip(rr, cc, strict=True), dist, idx, strict=True):
        if np.isfinite(d) and (int(r), int(c)) not in own:
            out[names[int(k)]].append((int(r), int(c)))
    return out
