"""Side by side with Itzi (issue 24): the same small coupled case run by Fangxun's coupler and by
Itzi 25.8's in-memory simulation (no GRASS needed), depths at the manholes and at 5 surface
gauges.

The case is the drainage tests' street (``tests/drainage/drainage_cases.py``): 20 × 50 cells of
2 m, ground 10 m along row 10 rising 2 cm per cell to either side, closed edges, Manning's n
0.03; three manholes J1–J3 under the street, 0.6 m pipes to a free outfall; 0.5 m³/s into J1 and
100 mm/h of rain for the first 20 minutes; 60 minutes in all. Itzi's inlet area is the
``.inp``'s MIN_SURFAREA (1 m²), ours is set to the same; both use a weir of perimeter 2√(πA).

Itzi runs in its own environment (it pins its own NumPy/pyswmm): pass its Python with
``--itzi-python`` (e.g. a throwaway ``python -m venv /tmp/itzivenv && /tmp/itzivenv/bin/pip
install itzi``). Results are merged into ``benchmarks/results/coupled.json`` under ``itzi``.

    .venv/bin/python benchmarks/coupled_itzi.py --itzi-python /tmp/itzivenv/bin/python
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parents[1] / "tests" / "drainage"))
from drainage_cases import street_elevation, street_network, write_terrain

from fangxun.drainage.checks import check_against_terrain
from fangxun.drainage.coupler import Coupler, ExchangeParams
from fangxun.drainage.network import read_inp
from fangxun.inundation import Hyetograph, Model
from fangxun.inundation.io import read_terrain

RESULTS = Path(__file__).parent / "results" / "coupled.json"
GAUGES = {"g1": (10, 10), "g2": (10, 25), "g3": (10, 40), "g4": (5, 20), "g5": (15, 35)}
DURATION_S = 3600.0


def run_fangxun(case: Path) -> dict[str, object]:
    """Our coupled run of the case, gauges sampled every exchange (10 s)."""
    grid = read_terrain(write_terrain(case / "dem.tif"))
    net = read_inp(case / "street.inp")
    cells = {n: c for n, c in check_against_terrain(net, grid).cells.items() if n.startswith("J")}
    rain = Hyetograph(times_s=[0.0, 1200.0], intensity_mm_h=[100.0, 0.0])
    model = Model(grid, manning=0.03, rain=rain, boundary="closed", output_interval_s=60.0)
    coupler = Coupler(
        model, case / "street.inp", cells, duration_s=DURATION_S,
        params=ExchangeParams(inlet_area_m2=1.0),
    )  # fmt: skip
    g_max = dict.fromkeys(GAUGES, 0.0)
    t0 = time.perf_counter()
    t = 0.0
    while t < DURATION_S:
        t = min(t + 10.0, DURATION_S)
        coupler.advance(t)
        for k, (r, c) in GAUGES.items():
            g_max[k] = max(g_max[k], float(model.depth[r, c]))
    res = coupler.result()
    coupler.close()
    return {
        "wall_s": round(time.perf_counter() - t0, 2),
        "node_max_depth_m": {k: round(v, 4) for k, v in res.node_max_depth_m.items()},
        "gauge_max_depth_m": {k: round(v, 4) for k, v in g_max.items()},
        "flooded_m3": {k: round(v, 3) for k, v in res.node_flooded_m3.items() if v > 0},
        "volume_error_m3": res.volume_balance["error_m3"],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--itzi-python", type=Path, help="a Python with itzi installed")
    args = ap.parse_args()
    case = Path(tempfile.mkdtemp(prefix="fx-itzi-"))
    (case / "street.inp").write_text(street_network(inflow_m3_s=0.5))
    np.save(case / "dem.npy", street_elevation())
    out: dict[str, object] = {
        "case": "street of tests/drainage: 20x50 cells of 2 m, 0.5 m3/s into J1 and 100 mm/h "
        "for 20 min, 60 min, closed edges, n 0.03, inlet 1 m2",
        "fangxun": run_fangxun(case),
    }
    if args.itzi_python is None:
        out["itzi"] = "not run: give --itzi-python"
    else:
        proc = subprocess.run(
            [str(args.itzi_python), str(Path(__file__).parent / "itzi" / "run_itzi.py"), str(case)],
            capture_output=True, text=True, timeout=1800, check=False,
        )  # fmt: skip
        if proc.returncode != 0:
            out["itzi"] = f"failed: {proc.stderr.strip().splitlines()[-1:]}"
        else:
            itzi = json.loads(proc.stdout.strip().splitlines()[-1])
            out["itzi"] = itzi
            ours = out["fangxun"]
            assert isinstance(ours, dict)
            out["difference_m"] = {
                "nodes": {
                    k: round(ours["node_max_depth_m"][k] - v, 4)
                    for k, v in itzi["node_max_depth_m"].items()
                    if k in ours["node_max_depth_m"]
                },
                "gauges": {
                    k: round(ours["gauge_max_depth_m"][k] - v, 4)
                    for k, v in itzi["gauge_max_depth_m"].items()
                },
            }
    print(json.dumps(out, indent=1))
    body = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    body["itzi_side_by_side"] = out
    RESULTS.write_text(json.dumps(body, indent=1))


if __name__ == "__main__":
    main()
