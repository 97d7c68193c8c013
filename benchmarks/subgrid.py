"""Subgrid model vs the full fine-resolution run (issue 26): point peaks, flooded area, speed.

Two cases, each run three ways with the same forcing, float32, Numba, ONE thread for every model
(the machine is shared; the regular kernel is parallel and the subgrid kernel serial, so one
thread keeps the ratio fair):

* **fine**: the regular :class:`~fangxun.inundation.Model` on the fine terrain (the reference);
* **subgrid**: :class:`~fangxun.inundation.SubgridModel` on cells ``ratio`` × coarser, the fine
  terrain in tables (table build timed separately: it is done once per district and cached);
* **plain**: the regular model on the block-mean terrain at the same coarse size (what a
  coarse model without subgrid tables gives).

Cases:

* ``demo``: a 1.6 × 1.6 km window of the demo district (the one holding the most hazard points),
  its 10 m terrain resampled to 5 m by bilinear interpolation (the resampling adds no feature
  finer than 10 m, so this is a 5 m grid whose content is 10 m), 50 mm/h for 1 h, 2 h simulated,
  open edges, n = 0.03. Points: the demo hazard points in the window, each at the lowest 5 m
  pixel of its 10 m cell. Subgrid at 20 m (4×).
* ``ea5``: Environment Agency test 5 (``../shared/reference/ea5``), the 10 m DEM as given,
  the inflow hydrograph, n = 0.04, closed edges, the first ``--ea5-hours`` hours (the full
  30 h fine run alone is minutes on a quiet machine). Points: the 7 gauges. Subgrid at 30 m
  (3×) and 50 m (5×).

Metrics against the fine run: RMSE and worst absolute error of the peak depth at the points
(subgrid: highest coarse level − the point's own fine elevation; plain: its coarse cell's
depth), the flooded-area critical success index at 0.15 m on the fine pixels
(CSI = hits / (hits + misses + false alarms) of max depth >= 0.15 m; subgrid: max level − fine
DEM; plain: the coarse cell's depth on each of its pixels) and the wall-time ratio
fine / coarse. Targets at 4× coarser cells: RMSE <= 5 cm, CSI >= 0.9, >= 15× faster.

Writes ``benchmarks/results/subgrid.json`` and prints a Markdown table (pasted into
``docs/validation.md``). The load average is recorded beside every timing.

    PYTHONPATH=src .venv/bin/python benchmarks/subgrid.py               # both cases
    PYTHONPATH=src .venv/bin/python benchmarks/subgrid.py --case demo --demo-hours 1
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

import numba
import numpy as np
import numpy.typing as npt

from fangxun.inundation import Grid, Hyetograph, Model, build_tables
from fangxun.inundation.drainage import shared_inflow
from fangxun.inundation.gauges import cells_of_xy
from fangxun.inundation.io import read_terrain
from fangxun.inundation.subgrid import SubgridModel, subgrid_model_from_fine

ROOT = Path(__file__).resolve().parents[1]
EA5 = next(
    (
        p
        for p in (ROOT.parent / "shared" / "reference" / "ea5", Path("/work/shared/reference/ea5"))
        if p.exists()
    ),
    ROOT.parent / "shared" / "reference" / "ea5",
)
RESULTS = ROOT / "benchmarks" / "results"
FloatArray = npt.NDArray[np.float64]
THRESHOLD_M = 0.15
WINDOW = 160  # demo window, 10 m cells
STRIPS = ("centres", "line")  # face-table variants (build_tables(face_strip=...))


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def contingency(ref: FloatArray, test: FloatArray, thr: float = THRESHOLD_M) -> dict[str, int]:
    """Hits, misses and false alarms of ``test >= thr`` against ``ref >= thr`` (pixels; NaN in
    the reference is not counted, NaN in the test counts as dry)."""
    valid = np.isfinite(ref)
    a = (ref >= thr) & valid
    b = (np.nan_to_num(test, nan=0.0) >= thr) & valid
    return {
        "hits": int(np.sum(a & b)),
        "misses": int(np.sum(a & ~b)),
        "false_alarms": int(np.sum(~a & b)),
    }


def csi(ref: FloatArray, test: FloatArray, thr: float = THRESHOLD_M) -> float:
    """Critical success index: hits / (hits + misses + false alarms)."""
    c = contingency(ref, test, thr)
    denom = c["hits"] + c["misses"] + c["false_alarms"]
    return c["hits"] / denom if denom else 1.0


def block_mean(z: FloatArray, mask: npt.NDArray[np.bool_], r: int) -> tuple[FloatArray, Any]:
    ny, nx = z.shape[0] // r, z.shape[1] // r
    zz = np.where(mask, np.nan, z)[: ny * r, : nx * r].reshape(ny, r, nx, r)
    count = np.isfinite(zz).sum(axis=(1, 3))
    mean = np.nansum(zz, axis=(1, 3)) / np.maximum(count, 1)
    return np.where(count > 0, mean, np.nan), count == 0


def upsample(a: FloatArray, r: int, shape: tuple[int, int]) -> FloatArray:
    out = np.full(shape, np.nan)
    big = np.repeat(np.repeat(a, r, axis=0), r, axis=1)
    out[: big.shape[0], : big.shape[1]] = big[: shape[0], : shape[1]]
    return out


def compare(
    name: str,
    fine_peaks: dict[str, float],
    fine_max: FloatArray,
    peaks: dict[str, float],
    max_fine_raster: FloatArray,
    wall_fine: float,
    wall: float,
    extra: dict[str, Any],
) -> dict[str, Any]:
    err = np.array([peaks[k] - fine_peaks[k] for k in fine_peaks])
    worst = max(fine_peaks, key=lambda k: abs(peaks[k] - fine_peaks[k]))
    return {
        "model": name,
        "points": len(err),
        "peak_rmse_m": float(np.sqrt(np.mean(err**2))),
        "peak_bias_m": float(np.mean(err)),
        "worst_point": worst,
        "worst_abs_error_m": float(abs(peaks[worst] - fine_peaks[worst])),
        "csi_015": csi(fine_max, max_fine_raster),
        "contingency_015": contingency(fine_max, max_fine_raster),
        "wall_s": wall,
        "speedup": wall_fine / wall if wall > 0 else math.inf,
        **extra,
    }


def warm_up() -> None:
    """Compile every kernel once (a first call compiles for a minute on a busy machine)."""
    from fangxun.inundation import PointInflow

    z = np.linspace(0.0, 1.0, 144).reshape(12, 12)
    z[5, 5] = -1.0
    for kw in (
        {"rain": Hyetograph([0.0, 60.0], [50.0, 0.0]), "boundary": "open"},
        {"inflows": [PointInflow(5, 5, [0.0, 60.0], [1.0, 0.0], "linear")], "boundary": "closed"},
    ):
        m = Model(Grid(z, 5.0), dtype="float32", depth_thresholds_m=(THRESHOLD_M,), **kw)
        m.run_until(120.0)
        sub = subgrid_model_from_fine(Grid(z, 5.0), 10.0, dtype="float32", **kw)
        sub.run_until(120.0)


CPU: dict[int, float] = {}


def _timed_run(model: Any, t_end: float) -> tuple[float, list[float]]:
    """Wall time (s) and load average; the CPU time (s) goes to ``CPU[id(model)]``."""
    start, cpu = time.perf_counter(), time.process_time()
    model.run_until(t_end)
    CPU[id(model)] = time.process_time() - cpu
    return time.perf_counter() - start, _load()


def demo_case(hours: float) -> dict[str, Any]:
    from scipy.ndimage import map_coordinates

    from fangxun.demo.hazards_seed import demo_spots
    from fangxun.demo.terrain import demo_terrain

    terrain = demo_terrain()
    spots = demo_spots(terrain)
    z10 = np.asarray(terrain.elevation, dtype=np.float64)
    # the window with the most hazard points
    best = (0, 0, 0)
    for s in spots:
        r0 = min(max(s.row - WINDOW // 2, 0), z10.shape[0] - WINDOW)
        c0 = min(max(s.col - WINDOW // 2, 0), z10.shape[1] - WINDOW)
        n = sum(r0 <= p.row < r0 + WINDOW and c0 <= p.col < c0 + WINDOW for p in spots)
        best = max(best, (n, r0, c0))
    _, r0, c0 = best
    win = z10[r0 : r0 + WINDOW, c0 : c0 + WINDOW]
    # bilinear at 5 m pixel centres (10 m cell centres at integer coordinates)
    k = np.arange(2 * WINDOW) / 2.0 - 0.25
    rr, cc = np.meshgrid(k, k, indexing="ij")
    z5 = map_coordinates(win, [rr, cc], order=1, mode="nearest")
    grid = Grid(z5, cell_size=5.0)
    points: dict[str, tuple[int, int]] = {}
    for s in spots:
        if r0 <= s.row < r0 + WINDOW and c0 <= s.col < c0 + WINDOW:
            blk = z5[
                2 * (s.row - r0) : 2 * (s.row - r0) + 2, 2 * (s.col - c0) : 2 * (s.col - c0) + 2
            ]
            a, b = divmod(int(np.argmin(blk)), 2)
            points[s.code] = (2 * (s.row - r0) + a, 2 * (s.col - c0) + b)
    rain = Hyetograph([0.0, 3600.0], [50.0, 0.0])
    t_end = hours * 3600.0
    common = {"rain": rain, "boundary": "open", "manning": 0.03, "dtype": "float32"}
    result: dict[str, Any] = {
        "case": "demo",
        "window_10m_rows_cols": [r0, c0, WINDOW],
        "fine_cells": int(z5.size),
        "fine_cell_m": 5.0,
        "simulated_s": t_end,
        "points": points,
        "rain": "50 mm/h for 1 h",
    }
    result.update(run_three(grid, points, common, t_end, ratios=(4,), extra_fine={}))
    return result


def ea5_case(hours: float) -> dict[str, Any]:
    grid = read_terrain(EA5 / "ea5-10m-dem.asc.gz")
    pts = np.loadtxt(EA5 / "inflow_points.csv", delimiter=",", skiprows=1)
    hyd = np.loadtxt(EA5 / "inflow.csv", delimiter=",", skiprows=1)
    gauges = np.loadtxt(EA5 / "gauges.csv", delimiter=",", skiprows=1)
    inflow_cells = cells_of_xy(grid, [(float(x), float(y)) for x, y in pts])
    gauge_cells = dict(
        zip(
            [f"g{int(g)}" for g in gauges[:, 0]],
            cells_of_xy(grid, [(float(x), float(y)) for _, x, y in gauges]),
            strict=True,
        )
    )
    inflows = shared_inflow(inflow_cells, hyd[:, 0], hyd[:, 1], interpolation="linear")
    t_end = hours * 3600.0
    common = {"inflows": inflows, "boundary": "closed", "manning": 0.04, "dtype": "float32"}
    result: dict[str, Any] = {
        "case": "ea5",
        "fine_cells": int(grid.n_active),
        "fine_cell_m": grid.cell_size,
        "simulated_s": t_end,
        "points": gauge_cells,
    }
    result.update(run_three(grid, gauge_cells, common, t_end, ratios=(3, 5), extra_fine={}))
    return result


def run_three(
    grid: Grid,
    points: dict[str, tuple[int, int]],
    common: dict[str, Any],
    t_end: float,
    ratios: tuple[int, ...],
    extra_fine: dict[str, Any],
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    thr = (THRESHOLD_M,)
    fine = Model(
        grid, gauges=points, depth_thresholds_m=thr, output_interval_s=600.0, **common, **extra_fine
    )
    wall_fine, load = _timed_run(fine, t_end)
    cpu_fine = CPU[id(fine)]
    fine_max = fine.max_depth
    # peak depth per point from the per-step maximum raster (not the gauge samples)
    fine_peaks = {k: float(fine_max[r, c]) for k, (r, c) in points.items()}
    out["fine"] = {
        "wall_s": wall_fine,
        "cpu_s": cpu_fine,
        "load_avg": load,
        "steps": fine.steps,
        "mass_error_rel": fine.mass_balance()["error"] / max(_input(fine.mass_balance()), 1e-30),
        "peaks_m": fine_peaks,
    }
    print(f"  fine: {wall_fine:.1f} s (CPU {cpu_fine:.1f} s), {fine.steps} steps, load {load}")
    out["coarse"] = []
    for r in ratios:
        for strip in STRIPS:
            t0 = time.perf_counter()
            build_tables(grid, r, face_strip=strip)
            t_tables = time.perf_counter() - t0
            sub = subgrid_model_from_fine(
                grid,
                grid.cell_size * r,
                gauges=points,
                depth_thresholds_m=thr,
                output_interval_s=600.0,
                face_strip=strip,
                **common,
            )
            assert isinstance(sub, SubgridModel)
            wall, load = _timed_run(sub, t_end)
            mb = sub.mass_balance()
            row = compare(
                f"subgrid {grid.cell_size * r:g} m ({strip})",
                fine_peaks,
                fine_max,
                sub.point_max_depth(),
                sub.fine_max_depth(),
                wall_fine,
                wall,
                {
                    "ratio": r,
                    "cpu_s": CPU[id(sub)],
                    "cpu_speedup": cpu_fine / CPU[id(sub)],
                    "tables_s": t_tables,
                    "load_avg": load,
                    "steps": sub.steps,
                    "mass_error_rel": mb["error"] / max(_input(mb), 1e-30),
                    "peaks_m": sub.point_max_depth(),
                },
            )
            out["coarse"].append(row)
            print(f"  {row['model']}: {_fmt(row)}", flush=True)
        zc, maskc = block_mean(grid.elevation, grid.nodata_mask, r)
        plain_common = dict(common)
        if "inflows" in common:
            from fangxun.inundation import PointInflow

            plain_common["inflows"] = [
                PointInflow(f.row // r, f.col // r, f.times_s, f.discharge_m3_s, f.interpolation)
                for f in common["inflows"]
            ]
        ny, nx = zc.shape
        cells = {k: (min(rc[0] // r, ny - 1), min(rc[1] // r, nx - 1)) for k, rc in points.items()}
        plain = Model(
            Grid(np.nan_to_num(zc), grid.cell_size * r, nodata_mask=maskc),
            gauges={},
            depth_thresholds_m=thr,
            output_interval_s=600.0,
            **plain_common,
        )
        wall_p, load_p = _timed_run(plain, t_end)
        pmax = plain.max_depth
        prow = compare(
            f"plain {grid.cell_size * r:g} m",
            fine_peaks,
            fine_max,
            {k: float(np.nan_to_num(pmax[c])) for k, c in cells.items()},
            upsample(pmax, r, grid.shape),
            wall_fine,
            wall_p,
            {
                "ratio": r,
                "cpu_s": CPU[id(plain)],
                "cpu_speedup": cpu_fine / CPU[id(plain)],
                "load_avg": load_p,
                "steps": plain.steps,
            },
        )
        out["coarse"].append(prow)
        print(f"  {prow['model']}: {_fmt(prow)}", flush=True)
    return out


def _input(mb: dict[str, float]) -> float:
    return mb["rain"] + abs(mb["inflow"]) + mb["initial_storage"]


def _fmt(row: dict[str, Any]) -> str:
    return (
        f"RMSE {100 * row['peak_rmse_m']:.1f} cm, worst {100 * row['worst_abs_error_m']:.1f} cm "
        f"({row['worst_point']}), CSI {row['csi_015']:.3f}, {row['wall_s']:.1f} s "
        f"({row['speedup']:.1f}×; CPU {row['cpu_s']:.1f} s, {row['cpu_speedup']:.1f}×), "
        f"load {row['load_avg']}"
    )


def markdown(results: list[dict[str, Any]]) -> str:
    lines = [
        "| case | model | points | peak RMSE (cm) | worst (cm, point) | CSI 0.15 m | wall (s) "
        "| fine / this (wall) | CPU (s) | fine / this (CPU) | load avg |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for res in results:
        f = res["fine"]
        lines.append(
            f"| {res['case']} | fine {res['fine_cell_m']:g} m (reference) | {len(res['points'])} "
            f"| – | – | – | {f['wall_s']:.1f} | 1 | {f['cpu_s']:.1f} | 1 | {f['load_avg'][0]} |"
        )
        for row in res["coarse"]:
            lines.append(
                f"| {res['case']} | {row['model']} | {row['points']} "
                f"| {100 * row['peak_rmse_m']:.1f} | {100 * row['worst_abs_error_m']:.1f} "
                f"({row['worst_point']}) | {row['csi_015']:.3f} | {row['wall_s']:.1f} "
                f"| {row['speedup']:.1f}× | {row['cpu_s']:.1f} | {row['cpu_speedup']:.1f}× "
                f"| {row['load_avg'][0]} |"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--case", choices=["demo", "ea5", "both"], default="both")
    ap.add_argument("--demo-hours", type=float, default=2.0)
    ap.add_argument("--ea5-hours", type=float, default=3.0)
    ap.add_argument("--out", type=Path, default=RESULTS / "subgrid.json")
    args = ap.parse_args(argv)
    numba.set_num_threads(1)
    t0 = time.perf_counter()
    warm_up()
    print(f"kernels compiled in {time.perf_counter() - t0:.1f} s", flush=True)
    results = []
    if args.case in ("demo", "both"):
        print(f"demo, {args.demo_hours} h (load {_load()})", flush=True)
        results.append(demo_case(args.demo_hours))
    if args.case in ("ea5", "both"):
        print(f"ea5, {args.ea5_hours} h (load {_load()})", flush=True)
        results.append(ea5_case(args.ea5_hours))
    doc = {
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "threads": 1,
        "cpus": os.cpu_count(),
        "python": sys.version.split()[0],
        "targets_at_4x": {"peak_rmse_m": 0.05, "csi_015": 0.9, "speedup": 15.0},
        "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, indent=2, default=str) + "\n", encoding="utf-8")
    print(markdown(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
