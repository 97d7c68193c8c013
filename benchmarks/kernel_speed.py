"""Quick fixed kernel benchmark for the numba backend (performance work on the inundation core).

1000 × 1000 cells at 10 m (the Landlab benchmark's terrain: gentle slope plus depressions
0.3–1 m deep), 50 mm/h uniform rain, n = 0.03, open edges. The model first runs 600 s of
simulated time (compilation and wetting, untimed); then the backend's ``step`` is called
``--steps`` times with a fixed Δt = 1 s, from a copy of that state, for 1 and 2 threads, float32
and float64. Each figure is the best of ``--repeat`` runs (the machine is shared). Prints
M cell-updates/s (wall) and writes ``benchmarks/results/kernel_speed.json``.

``--ab OLD.py`` compares another version of ``_kernels.py`` (e.g. from ``git show
REV:src/fangxun/inundation/_kernels.py > /tmp/old.py``) with the current one instead: single
steps of the two alternate in one process on copies of the same state, so both see the same
load; it prints the minimum and median wall time per step, the minimum CPU time of the calling
thread (with one thread that is the whole step, whatever else runs on the machine) and the
largest difference between the two states at the end.
"""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import importlib.util
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numba
import numpy as np

from fangxun.inundation import Grid, Hyetograph, Model, _kernels
from fangxun.inundation._backend import StepParams, register_backend
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


def _load_old(path: str) -> Any:
    """Import another version of ``_kernels.py`` as a module (without taking over "numba")."""
    name = f"fangxun.inundation._ab_{Path(path).stem}"  # numba's cache remembers the name
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"--ab: cannot import {path}")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    register_backend("numba", _kernels.NumbaBackend)  # the old module registered its own
    return mod


def _ab(m: Model, old: Any, steps: int, threads: int) -> dict[str, Any]:
    """Alternate single steps of the old and the current backend on copies of one state."""
    numba.set_num_threads(threads)
    p = _params(m, m.time_s)
    runs: dict[str, Any] = {}
    for key, mod in (("old", old), ("new", _kernels)):
        runs[key] = (mod.NumbaBackend(), copy.deepcopy(m._state), [], [])
        runs[key][0].step(runs[key][1], p)  # warm
    for i in range(steps):
        for key in ("old", "new") if i % 2 == 0 else ("new", "old"):
            backend, state, wall, cpu = runs[key]
            c0 = time.thread_time()
            t0 = time.perf_counter()
            backend.step(state, p)
            wall.append(time.perf_counter() - t0)
            cpu.append(time.thread_time() - c0)
    so, sn = runs["old"][1], runs["new"][1]
    out: dict[str, Any] = {"threads": threads, "steps": steps}
    for key in ("old", "new"):
        wall, cpu = runs[key][2], runs[key][3]
        out[key] = {
            "min_ms": round(min(wall) * 1e3, 3),
            "median_ms": round(float(np.median(wall)) * 1e3, 3),
            "thread_cpu_min_ms": round(min(cpu) * 1e3, 3),
        }
    out["speedup_min"] = round(out["old"]["min_ms"] / out["new"]["min_ms"], 3)
    out["max_abs_diff"] = {
        k: float(np.max(np.abs(getattr(so, k).astype(np.float64) - getattr(sn, k))))
        for k in ("h", "qx", "qy", "max_depth", "time_of_max")
    }
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--dtypes", nargs="+", default=["float32", "float64"])
    ap.add_argument("--label", default="")
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--ab", metavar="OLD.py", help="A/B against another _kernels.py (see above)")
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
    if a.ab:
        old = _load_old(a.ab)
        out["ab_old"] = a.ab
        for dtype in a.dtypes:
            m = _setup(a.n, dtype)
            for th in a.threads:
                r = _ab(m, old, a.steps, th)
                r["dtype"] = dtype
                r["load_1min"] = os.getloadavg()[0]
                o, n = r["old"], r["new"]
                print(
                    f"A/B {dtype} threads={th}: old {o['min_ms']:.2f} ms/step (median "
                    f"{o['median_ms']:.2f}, thread CPU {o['thread_cpu_min_ms']:.2f}), new "
                    f"{n['min_ms']:.2f} (median {n['median_ms']:.2f}, thread CPU "
                    f"{n['thread_cpu_min_ms']:.2f}), {r['speedup_min']:.2f}x, max diff "
                    f"{max(r['max_abs_diff'].values()):.1e}, load {r['load_1min']:.2f}",
                    flush=True,
                )
                out["results"].append(r)
        if not a.no_write:
            path = HERE / "results" / "kernel_speed_ab.json"
            path.write_text(json.dumps(out, indent=2) + "\n")
            print(f"wrote {path}")
        return
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
