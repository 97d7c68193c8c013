"""A coupled run from files: a SWMM ``.inp`` and a terrain raster (what the CLI calls).

Nodes are placed by the ``.inp``'s ``[COORDINATES]``, read in the terrain's CRS (which must be
projected: a geographic raster is never read as metres). Uniform rain of ``rain_mm_h`` falls on
the surface for the first ``rain_min`` minutes; the surface has closed edges (a district's water
leaves through its network); the network runs with its own inflows, pumps and controls.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from fangxun.inundation import Hyetograph, Model
from fangxun.inundation.io import read_terrain

from .checks import check_against_terrain
from .coupler import Coupler, CouplingResult, ExchangeParams, Stage
from .network import NetworkError, read_inp


def run_files(
    inp: str | Path,
    terrain: str | Path,
    *,
    duration_min: float,
    rain_mm_h: float = 0.0,
    rain_min: float = 0.0,
    manning: float = 0.03,
    exchange_interval_s: float = 10.0,
    params: ExchangeParams | None = None,
    pumps_off: tuple[str, ...] = (),
    inlet_factor: dict[str, float] | None = None,
    tailwater: dict[str, Stage] | None = None,
    backend: str = "numba",
) -> dict[str, Any]:
    """Run the coupled model and return the JSON-ready result (see :func:`result_json`).

    Raises:
        NetworkError: bad ``.inp``, a geographic terrain, coupled nodes off the terrain.
        ValueError: bad numbers.
    """
    for name, v in (("duration_min", duration_min), ("rain_mm_h", rain_mm_h)):
        if not math.isfinite(v) or v < 0:
            raise ValueError(f"{name} must be a finite number >= 0, got {v}")
    if duration_min <= 0:
        raise ValueError(f"duration_min must be > 0, got {duration_min}")
    if not math.isfinite(rain_min) or rain_min < 0:
        raise ValueError(f"rain_min must be a finite number >= 0, got {rain_min}")
    grid = read_terrain(terrain)
    if grid.crs is not None and grid.crs.is_geographic:
        raise NetworkError(
            f"terrain {terrain} is in a geographic CRS ({grid.crs}); the network's coordinates "
            "and the model need a projected CRS in metres (e.g. EPSG:4547): warp it first"
        )
    network = read_inp(inp)
    check = check_against_terrain(network, grid)
    coupled_kinds = ("junction", "storage", "divider")
    bad = [
        n
        for n in (*check.no_coordinates, *check.off_grid, *check.on_nodata)
        if network.nodes[n].kind in coupled_kinds
    ]
    if bad:
        shown = ", ".join(bad[:10]) + (f" and {len(bad) - 10} more" if len(bad) > 10 else "")
        raise NetworkError(
            f"{len(bad)} node(s) of {inp} are not on the terrain {terrain} "
            f"(no coordinates, off the grid or on nodata): {shown}"
        )
    cells = {n: c for n, c in check.cells.items() if network.nodes[n].kind in coupled_kinds}
    duration_s = duration_min * 60.0
    rain = None
    if rain_mm_h > 0 and rain_min > 0:
        rain = Hyetograph(times_s=[0.0, rain_min * 60.0], intensity_mm_h=[rain_mm_h, 0.0])
    model = Model(
        grid,
        manning=manning,
        rain=rain,
        boundary="closed",
        backend=backend,
        output_interval_s=300.0,
    )
    coupler = Coupler(
        model,
        inp,
        cells,
        duration_s=duration_s,
        exchange_interval_s=exchange_interval_s,
        params=params,
        pumps_off=pumps_off,
        inlet_factor=inlet_factor,
        tailwater=tailwater,
    )
    result = coupler.run()
    out = result_json(result)
    out["checks"] = check.as_dict()
    return out


def result_json(result: CouplingResult) -> dict[str, Any]:
    """The CLI's JSON: ``outfalls`` → name → {time_s, flow_m3_s}; ``nodes`` → name →
    {max_depth_m, flooded_m3}; ``volume_balance`` (m³, and SWMM's routing continuity %)."""
    times = [round(t, 3) for t in result.outfall_times_s]
    return {
        "time_s": result.time_s,
        "outfalls": {
            name: {"time_s": times, "flow_m3_s": flows}
            for name, flows in result.outfall_flow_m3_s.items()
        },
        "nodes": {
            name: {
                "max_depth_m": result.node_max_depth_m[name],
                "flooded_m3": result.node_flooded_m3[name],
            }
            for name in result.node_max_depth_m
        },
        "volume_balance": result.volume_balance,
        "timings_s": result.timings_s,
    }
