"""Itzi's half of ``benchmarks/coupled_itzi.py``: run in Itzi's own environment (itzi 25.8,
in-memory simulation, no GRASS), with the case folder as the argument; prints one JSON line."""

from __future__ import annotations

import json
import sys
import time
from datetime import timedelta
from importlib.metadata import version
from pathlib import Path

import numpy as np
from itzi.configreader import ConfigReader
from itzi.rasterdomain import DomainData
from itzi.simulation_factories import create_memory_simulation

X0, Y0, DX = 500_000.0, 3_800_000.0, 2.0
GAUGES = {"g1": (10, 10), "g2": (10, 25), "g3": (10, 40), "g4": (5, 20), "g5": (15, 35)}
INI = """[time]
duration = 01:00:00
record_step = 00:01:00
[input]
dem = dem
friction = friction
rain = rain
[output]
water_depth = h
[options]
dtmax = 5
[drainage]
swmm_inp = {inp}
"""


def main(case: Path) -> None:
    dem = np.load(case / "dem.npy").astype(np.float32)
    rows, cols = dem.shape
    (case / "itzi.ini").write_text(INI.format(inp=case / "street.inp"))
    cfg = ConfigReader(str(case / "itzi.ini"))
    domain = DomainData(
        north=Y0, south=Y0 - rows * DX, east=X0 + cols * DX, west=X0, rows=rows, cols=cols
    )
    sim = create_memory_simulation(
        sim_times=cfg.sim_times,
        output_maps=cfg.output_map_names,
        sim_param=cfg.sim_param,
        drainage_params=cfg.drainage_params,
        domain_data=domain,
        arr_mask=np.zeros(dem.shape, dtype=bool),
        dtype=np.float32,
        stats_file=None,
    )
    sim.set_array("dem", dem)
    sim.set_array("bctype", np.ones_like(dem))  # closed edges
    sim.set_array("friction", np.full_like(dem, 0.03))
    sim.set_array("rain", np.full_like(dem, 100.0 / 1000.0 / 3600.0))  # m/s
    t0 = time.perf_counter()
    sim.initialize()
    raining = True
    nodes = {n.node_id: n for n in sim.nodes_list}
    node_max = dict.fromkeys(nodes, 0.0)
    g_max = dict.fromkeys(GAUGES, 0.0)
    while sim.sim_time < sim.end_time:
        if raining and sim.sim_time >= sim.start_time + timedelta(minutes=20):
            sim.set_array("rain", np.zeros_like(dem))
            raining = False
        sim.update()
        for name, n in nodes.items():
            node_max[name] = max(node_max[name], n.node_object.pyswmm_node.depth)
        h = sim.get_array("water_depth")
        for k, (r, c) in GAUGES.items():
            g_max[k] = max(g_max[k], float(h[r, c]))
    sim.finalize()
    body = {
        "version": version("itzi"),
        "wall_s": round(time.perf_counter() - t0, 2),
        "node_max_depth_m": {k: round(v, 4) for k, v in node_max.items()},
        "gauge_max_depth_m": {k: round(v, 4) for k, v in g_max.items()},
    }
    print(json.dumps(body))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
