"""Forecast benchmark: a 3-hour forecast of the whole demo district, and a 20-member ensemble.

Runs the forecast engine exactly as a forecast run does (district model from the demo terrain,
Chicago design storm P = 5 a / 3 h from the configured formula, Manning's n by land use and
drainage capacity by catchment from the demo files (``--uniform``: n = 0.03 and the one capacity
of the default return period, as before those inputs), open edges, virtual gauges at hazard-point
cells, COG + PNG outputs), without the database (its share is milliseconds). Writes
``benchmarks/results/forecast.json`` (``forecast_uniform.json`` with ``--uniform``).

    .venv/bin/python benchmarks/forecast.py                  # both parts
    .venv/bin/python benchmarks/forecast.py --members 0      # the deterministic run only
    .venv/bin/python benchmarks/forecast.py --ens-resolution 20

Targets (issue 6): 3-hour forecast of the >= 800 × 800 district <= 60 s; 20 members <= 10 min.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from fangxun.config import Settings, load_settings
from fangxun.demo.files import ensure_terrain_files
from fangxun.forecast import engine, rainsource
from fangxun.forecast.service import district_inputs, storm_formula

RESULTS = Path(__file__).parent / "results" / "forecast.json"


def _district(
    terrain: Path, resolution_m: float, settings: Settings, *, uniform: bool = False
) -> engine.District:
    """The district as a run builds it: n by land use and capacity by catchment from the demo
    files next to the terrain; ``uniform``: n = 0.03 and one capacity (the pre-inputs model)."""
    if uniform:
        cap = engine.drainage_capacity_mm_h(
            storm_formula(settings),
            settings.forecast_drainage_return_period_years,
            settings.forecast_drainage_duration_s,
        )
        return engine.build_district(
            str(terrain), resolution_m=resolution_m, manning=0.03, drainage_mm_h=cap
        )
    s = settings.model_copy(update={"forecast_terrain_path": terrain})
    manning, drainage, _notes, _details = district_inputs(s)
    return engine.build_district(
        str(terrain), resolution_m=resolution_m, manning=manning, drainage_mm_h=drainage
    )


def _gauges(d: engine.District, n: int = 60) -> dict[str, tuple[int, int]]:
    rng = np.random.default_rng(1)
    ny, nx = d.shape
    cells = {}
    while len(cells) < n:
        r, c = int(rng.integers(0, ny)), int(rng.integers(0, nx))
        if not d.nodata_mask[r, c]:
            cells[f"p{len(cells)}"] = (r, c)
    return cells


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--hours", type=float, default=3.0)
    ap.add_argument("--resolution", type=float, default=0.0, help="deterministic run, m")
    ap.add_argument("--members", type=int, default=20)
    ap.add_argument("--ens-resolution", type=float, default=20.0, help="ensemble, m")
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument(
        "--uniform",
        action="store_true",
        help="n = 0.03 and one drainage capacity everywhere (no land use, no catchments)",
    )
    args = ap.parse_args()

    results = RESULTS.with_name("forecast_uniform.json") if args.uniform else RESULTS
    settings = load_settings(environment="test", database_url="sqlite://")
    tmp = Path(tempfile.mkdtemp(prefix="fx-bench-"))
    terrain = ensure_terrain_files(tmp).terrain
    horizon = args.hours * 3600.0
    rain = rainsource.design_storm(
        storm_formula(settings), return_period_years=5, duration_s=horizon
    )
    out: dict[str, object] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "load_avg_start": os.getloadavg(),
        },
        "storm": f"Chicago P=5 a, {args.hours:g} h, {rain.total_mm():.1f} mm (example formula)",
        "horizon_s": horizon,
        "district": "uniform n = 0.03, one capacity"
        if args.uniform
        else "n by land use, capacity by catchment (demo files)",
    }

    d = _district(terrain, args.resolution, settings, uniform=args.uniform)
    spec = engine.MemberSpec(
        rain=rain,
        horizon_s=horizon,
        output_interval_s=300.0,
        gauges=_gauges(d),
        snapshot_s=(900.0, 1800.0, 3600.0, 5400.0),
    )
    # Warm the Numba cache (compiled once per machine; a run in service reuses it).
    engine.run_member(
        d, engine.MemberSpec(rain=rain, horizon_s=60.0, output_interval_s=60.0, gauges={})
    )
    t0 = time.perf_counter()
    res = engine.run_members(d, [spec], executor="serial")[0]
    t_model = time.perf_counter() - t0
    from PIL import Image

    from fangxun.inundation.io import write_cog

    t1 = time.perf_counter()
    write_cog(tmp / "max_depth.tif", res.max_depth, d.grid())
    write_cog(tmp / "arrival.tif", res.arrival_s, d.grid())
    Image.fromarray(engine.overlay_rgba(res.max_depth), "RGBA").save(tmp / "overlay.png")
    t_out = time.perf_counter() - t1
    out["deterministic"] = {
        "grid": list(d.shape),
        "cell_size_m": d.cell_size,
        "cells": int(d.shape[0] * d.shape[1]),
        "model_s": round(t_model, 2),
        "outputs_s": round(t_out, 2),
        "total_s": round(t_model + t_out, 2),
        "target_s": 60,
        "max_depth_m": float(np.nanmax(res.max_depth)),
        "mass_error_m3": res.mass_error_m3,
    }
    print(json.dumps(out["deterministic"]))
    results.write_text(json.dumps(out, indent=1))

    if args.members > 0:
        de = _district(terrain, args.ens_resolution, settings, uniform=args.uniform)
        perts = engine.member_perturbations(
            args.members,
            sigma=settings.forecast_rain_sigma,
            shift_sd_s=settings.forecast_shift_sd_s,
            seed=1,
        )
        specs = [
            engine.MemberSpec(
                rain=rain
                if k == 0
                else engine.perturb(rain, horizon_s=horizon, step_s=60.0, scale=s, shift_s=sh),
                horizon_s=horizon,
                output_interval_s=300.0,
                gauges=_gauges(de),
            )
            for k, (s, sh) in enumerate(perts)
        ]
        t2 = time.perf_counter()
        done_at: list[float] = []
        engine.run_members(
            de,
            specs,
            executor="process",
            workers=args.workers,
            progress=lambda k, n: done_at.append(time.perf_counter() - t2),
        )
        t_ens = time.perf_counter() - t2
        out["ensemble"] = {
            "members": args.members,
            "grid": list(de.shape),
            "cell_size_m": de.cell_size,
            "workers": args.workers or min(args.members, os.cpu_count() or 1),
            "total_s": round(t_ens, 1),
            "target_s": 600,
            "member_done_s": [round(x, 1) for x in done_at],
        }
        print(json.dumps(out["ensemble"]))
    out["load_avg_end"] = os.getloadavg()
    results.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
