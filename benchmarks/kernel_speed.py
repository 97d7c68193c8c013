"""Quick fixed kernel benchmark for the numba backend (performance work on the inundation core).

1000 × 1000 cells at 10 m (the Landlab benchmark's terrain: gentle slope plus depressions
0.3–1 m deep), 50 mm/h uniform rain, n = 0.03, open edges. The model first runs 600 s of
simulated time (compilation and wetting, untimed); then the backend's ``step`` is called
``--steps`` times with a fixed Δt = 1 s, from a copy of that state, for 1 and 2 threads, float32
and float64. Each figure is the best of ``--repeat`` runs (the machine is shared). Prints
M cell-updates/s (wall) and writes ``benchmarks/results/kernel_speed.json``.
"""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import json
import os
import sys
import time
from pathlib import Path

import numba
import numpy as np

from fangxun.inundation import Grid, Hyetograph, Model
from fangxun.inundation._backend import StepParams
from fangxun.inundation.verification import depression_terrain

HERE = Path(__file__).resolve().parent


def _setup(n: int, dtype: str) -> Model:
    z = depression_terrain((n, n), cell_size=10.0, seed=n)
    m = Model(
        Grid(z, 10.0),
        manning=0.03,
        rain=Hyetograph([0.0], [50.0]),
        boundary="open",
        dtype=dtype,
        backend="numba",
    )
    m.run_until(600.0)
    return m


def _params(m: Model, t0: float) -> StepParams:
    none_i = np.zeros(0, dtype=np.int64)
    return StepParams(
        dt=1.0,
        dx=m.grid.cell_size,
        theta=m.theta,
        h_flow_min=m.flow_depth_min_m,
        rain_rate=50.0 / 3.6e6,
        use_rain_field=False,
        has_drain=False,
        has_infil=False,
        has_nodata=False,
        t_new=t0 + 1.0,
        bc_kind=m._bc_kind,
        bc_stage=m._bc_stage,
        src_rows=none_i,
        src_cols=none_i,
        src_depth=np.zeros(0),
    )


def _time(m: Model, steps: int, threads: int) -> tuple[float, float]:
    """Wall and process-CPU seconds for ``steps`` steps from a copy of the model's state."""
    state = copy.deepcopy(m._state)
    backend = type(m._backend)()
    p = _params(m, m.time_s)
    numba.set_num_threads(threads)
    backend.step(state, p)  # warm (threads started, buffers allocated)
    c0 = time.process_time()
    t0 = time.perf_counter()
    for _ in range(steps):
        backend.step(state, p)
    return time.perf_counter() - t0, time.process_time() - c0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--dtypes", nargs="+", default=["float32", "float64"])
    ap.add_argument("--label", default="")
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument(
        "--storm",
        action="store_true",
        help="also time the 6-hour storm of inundation_vs_landlab.py (wall and process CPU s)",
    )
    a = ap.parse_args()
    cells = a.n * a.n
    out = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "label": a.label,
        "n": a.n,
        "steps": a.steps,
        "load_average_before": os.getloadavg(),
        "results": [],
    }
    for dtype in a.dtypes:
        m = _setup(a.n, dtype)
        for th in a.threads:
            runs = [_time(m, a.steps, th) for _ in range(a.repeat)]
            best = min(w for w, _ in runs)
            cpu = min(c for _, c in runs)
            mups = cells * a.steps / best / 1e6
            mups_cpu = cells * a.steps / cpu / 1e6
            load = os.getloadavg()[0]
            print(f"{dtype} threads={th}: {mups:6.1f} M/s wall "
                  f"({best * 1e3 / a.steps:.2f} ms/step), {mups_cpu:6.1f} M/s per CPU-second, "
                  f"best of {a.repeat}, load {load:.2f}",
                  flush=True)  # fmt: skip
            out["results"].append(
                {"dtype": dtype, "threads": th, "m_cell_updates_s": round(mups, 1),
                 "m_cell_updates_per_cpu_s": round(mups_cpu, 1),
                 "ms_per_step": round(best * 1e3 / a.steps, 3), "load_1min": load}
            )  # fmt: skip
    if a.storm:
        sys.path.insert(0, str(HERE))
        from inundation_vs_landlab import storm_6h

        c0 = time.process_time()
        storm = storm_6h()
        storm["cpu_s"] = time.process_time() - c0
        storm["threads"] = numba.get_num_threads()
        storm["load_1min_after"] = os.getloadavg()[0]
        print(
            f"6-hour storm: {storm['steps']} steps, {storm['wall_s']:.1f} s wall, "
            f"{storm['cpu_s']:.1f} s CPU, mass error {storm['mass_error_rel']:.1e} of the rain, "
            f"load {storm['load_1min_after']:.2f}",
            flush=True,
        )
        out["storm_6h"] = storm
    out["load_average_after"] = os.getloadavg()
    if not a.no_write:
        path = HERE / "results" / "kernel_speed.json"
        path.write_text(json.dumps(out, indent=2) + "\n")
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
