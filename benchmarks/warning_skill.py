"""Warning skill: the twin experiment on the three sample radar storms (issue 19).

    PYTHONPATH=src .venv/bin/python benchmarks/warning_skill.py [--radar-dir DIR]
        [--max-1h-mm 120] [--seed 0] [--truth-cell-m 40] [--model-cell-m 80] [--cycle-min 15]
        [--only mch rmi bom] [--no-save]

Each storm (``../shared/reference/radar/``: MeteoSwiss 2016-07-11 ``mch_gif``, RMI 2021-07-04
``odim_hdf5`` — non-commercial, tests and validation only —, BoM radar 2 2018-06-16 ``bom_rf3``)
is rescaled so its heaviest 1-h total at one radar pixel is ``--max-1h-mm`` and moved over the
demo district; :func:`fangxun.warnings.twin.run_twin` runs the truth, the warning loop and the
three baselines in one run (see that module for the method and its simplifications). The same
experiment is ``fangxun warnings twin`` (one storm).

Writes ``benchmarks/results/warning_skill.json`` and the section between
``<!-- warning-skill:begin -->`` and ``<!-- warning-skill:end -->`` in docs/validation.md. Targets
(issue 19, on storms scaled to 120 mm): ≥ 80 % of orange-or-worse crossings warned ≥ 30 min
ahead, FAR ≤ 20 %, no warning that flaps.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_RADAR = next(
    (
        p / "shared" / "reference" / "radar"
        for p in (ROOT.parent, ROOT.parent.parent)
        if (p / "shared" / "reference" / "radar").is_dir()
    ),
    ROOT.parent / "shared" / "reference" / "radar",
)
STORMS = [
    ("mch", "MeteoSwiss 2016-07-11", "mch_gif", "mch/20160711/*.gif"),
    ("rmi", "RMI 2021-07-04", "odim_hdf5", "rmi/radqpe/20210704/*.hdf"),
    ("bom", "BoM radar 2 2018-06-16", "bom_rf3", "bom/prcp-cscn/2/2018/06/16/*.nc"),
]
SYSTEMS = ("system", "gauge_persistence", "sensor_only", "perfect")
COLOURS = ("blue", "yellow", "orange", "red")
NAMES = {
    "system": "system (radar nowcast → forecast → rules)",
    "gauge_persistence": "gauge persistence (today's)",
    "sensor_only": "sensor-only",
    "perfect": "perfect forecast (upper bound)",
}


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _fmt(v: Any, digits: int = 2) -> str:
    return "—" if v is None else f"{v:.{digits}f}"


def _minutes(v: Any) -> str:
    return "—" if v is None else f"{v / 60:.0f}"


def markdown(results: dict[str, Any]) -> str:
    """The docs section: per storm, a table per system and colour; then the targets."""
    meta = results["meta"]
    lines = [
        "<!-- warning-skill:begin -->",
        "## Warning skill: the twin experiment (issue 19)",
        "",
        "A real radar storm, rescaled so that its heaviest 1-h total at one radar pixel is "
        f"**{meta['max_1h_mm']:.0f} mm** (the sample storms are far weaker: the factor is shown), "
        "is moved over the demo district and run through the inundation core at "
        f"{meta['truth_cell_m']:.0f} m cells with the demo's drainage sink: that is the truth. "
        "Ponding sensors read it with 1 cm noise and 5 % dropouts. Every "
        f"{meta['cycle_min']:.0f} min the system runs its loop on what an office sees (radar "
        "frames up to now, gauges, sensors): an S-PROG radar nowcast on a 96 km regional crop, "
        f"the forecast core at {meta['model_cell_m']:.0f} m warm-started from its own analysis "
        "run, and the warning rules' real decision functions (hysteresis, minimum hold; approval "
        "in automatic mode). Baselines in the same run: today's gauge persistence through the "
        "same core and rules, sensor-only warnings, and the perfect forecast (the truth's own "
        "depths over the horizon, the upper bound). Scores per colour (“c or worse”): POD, FAR, "
        "CSI; lead = crossing time − warning time, median over hits (a warning up to one cycle "
        "late still counts, with a negative lead). Simplifications: the radar is the true rain "
        "(no QPE error); coarse cells; one deterministic nowcast member; no database (the rules' "
        "functions on plain objects). `benchmarks/warning_skill.py`, "
        "`fangxun warnings twin`; the code is `fangxun.warnings.twin`.",
        "",
        f"Run {meta['ran_at']}, {meta['wall_s']:.0f} s wall, {meta['cpu_s']:.0f} s CPU, load "
        f"average {meta['load_before']} before, {meta['load_after']} after (a shared 2-core "
        "machine).",
        "",
    ]
    for key, label, *_rest in STORMS:
        r = results["storms"].get(key)
        if r is None:
            continue
        lines += [
            f"### {label}",
            "",
            f"{r['frames']} frames of {r['frame_step_s']:.0f} s; raw heaviest 1-h total "
            f"{r['raw_max_1h_mm']:.1f} mm × {r['scale']:.2f}; {r['cycles']} loop cycles; truth "
            "crossings " + ", ".join(f"{c} {r['crossings'][c]}" for c in COLOURS) + ".",
            "",
            "| | colour | crossings | POD | FAR | CSI | median lead (min) | ≥30 min share, "
            "orange+ | flaps |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for name in SYSTEMS:
            s = r[name]
            for c in COLOURS:
                lines.append(
                    f"| {NAMES[name] if c == 'blue' else ''} | {c} | {s[c]['crossings']} | "
                    f"{_fmt(s[c]['pod'])} | {_fmt(s[c]['far'])} | {_fmt(s[c]['csi'])} | "
                    f"{_minutes(s[c]['lead_s_median'])} | "
                    + (
                        f"{_fmt(s['orange_plus_warned_30min_share'])} | {s['flaps']} |"
                        if c == "blue"
                        else " | |"
                    )
                )
        lines.append("")
    lines += [
        "### Targets (storms scaled to 120 mm)",
        "",
        results["verdict"],
        "",
        "Reading: the lead any system can reach is bounded by the sample. Where the perfect "
        "forecast's share is low too (RMI: the points cross within about half an hour of the "
        "first frame, before a loop that needs four frames can look 30 min ahead), the target "
        "cannot be met by construction. "
        "Where it is high (MeteoSwiss, BoM), the gap between the perfect forecast and the system "
        "is the nowcast's: it sees a cell only once the cell is on the radar and moving, and "
        "does not foresee a cell growing in place. The system beats today's gauge persistence "
        "where rain moves in (BoM: 0.74 against 0.53 of orange-or-worse crossings warned 30 min "
        "ahead, median lead 44 against 38 min at orange) and matches it otherwise; no orange or "
        "red false alarm in any storm. Not met, and said so: the 30-minute target needs more "
        "nowcast skill than S-PROG extrapolation gives (the blended radar/NWP nowcast of issue 18, "
        "an ensemble with probabilities), and one BoM warning flapped (a colour lowered and "
        "raised again within the hour).",
        "",
        "<!-- warning-skill:end -->",
    ]
    return "\n".join(lines) + "\n"


def verdict(results: dict[str, Any]) -> str:
    """The targets, honestly: met or not, per storm, for the system."""
    rows = []
    for key, label, *_rest in STORMS:
        r = results["storms"].get(key)
        if r is None:
            continue
        s = r["system"]
        share = s["orange_plus_warned_30min_share"]
        fars = [s[c]["far"] for c in ("orange", "red") if s[c]["far"] is not None]
        far = max(fars) if fars else None
        ok_share = share is not None and share >= 0.8
        ok_far = far is not None and far <= 0.2
        best = r["perfect"]["orange_plus_warned_30min_share"]
        gauge = r["gauge_persistence"]["orange_plus_warned_30min_share"]
        rows.append(
            f"- {label}: orange-or-worse crossings warned ≥ 30 min ahead "
            f"{_fmt(share)} ({'met' if ok_share else 'NOT met'}, target ≥ 0.80; gauge "
            f"persistence {_fmt(gauge)}, perfect forecast {_fmt(best)}); FAR (orange, red, "
            f"worst) {_fmt(far)} ({'met' if ok_far else 'NOT met'}, target ≤ 0.20); flaps "
            f"{s['flaps']} ({'met' if s['flaps'] == 0 else 'NOT met'}, target 0)."
        )
    return "\n".join(rows)


def write_doc(text: str, path: Path) -> None:
    doc = path.read_text(encoding="utf-8") if path.exists() else ""
    a, b = "<!-- warning-skill:begin -->", "<!-- warning-skill:end -->"
    if a in doc and b in doc:
        doc = doc[: doc.index(a)] + text + doc[doc.index(b) + len(b) + 1 :]
    else:
        doc = doc.rstrip("\n") + "\n\n" + text
    path.write_text(doc, encoding="utf-8")


def main() -> None:
    from fangxun.config import get_settings
    from fangxun.rain.importers import read_sequence
    from fangxun.warnings.twin import TwinConfig, run_twin

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--radar-dir", type=Path, default=DEFAULT_RADAR)
    ap.add_argument("--max-1h-mm", type=float, default=120.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--truth-cell-m", type=float, default=40.0)
    ap.add_argument("--model-cell-m", type=float, default=80.0)
    ap.add_argument("--cycle-min", type=float, default=15.0)
    ap.add_argument("--only", nargs="*", help="storm keys (mch rmi bom)")
    ap.add_argument("--no-save", action="store_true")
    ap.add_argument(
        "--render-only", action="store_true", help="rewrite the docs section from the JSON"
    )
    args = ap.parse_args()
    out = ROOT / "benchmarks" / "results" / "warning_skill.json"
    if args.render_only:
        saved = json.loads(out.read_text(encoding="utf-8"))
        saved["verdict"] = verdict(saved)
        out.write_text(json.dumps(saved, ensure_ascii=False, indent=2, default=str) + "\n")
        write_doc(markdown(saved), ROOT / "docs" / "validation.md")
        return
    config = TwinConfig(
        max_1h_mm=args.max_1h_mm,
        seed=args.seed,
        truth_cell_m=args.truth_cell_m,
        model_cell_m=args.model_cell_m,
        cycle_s=args.cycle_min * 60.0,
        tolerance_s=args.cycle_min * 60.0,
    )
    load_before = " ".join(f"{x:.2f}" for x in os.getloadavg())
    wall0, cpu0 = time.perf_counter(), _cpu()
    storms: dict[str, Any] = {}
    for key, label, importer, pattern in STORMS:
        if args.only and key not in args.only:
            continue
        files = sorted(args.radar_dir.glob(pattern))
        print(f"{label}: {len(files)} files", flush=True)
        frames = read_sequence(files, importer)
        storms[key] = run_twin(
            frames, config=config, settings=get_settings(), progress=lambda m: print(m, flush=True)
        )
        storms[key]["label"] = label
    results: dict[str, Any] = {
        "meta": {
            "max_1h_mm": args.max_1h_mm,
            "seed": args.seed,
            "truth_cell_m": args.truth_cell_m,
            "model_cell_m": args.model_cell_m,
            "cycle_min": args.cycle_min,
            "ran_at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "wall_s": round(time.perf_counter() - wall0, 1),
            "cpu_s": round(_cpu() - cpu0, 1),
            "load_before": load_before,
            "load_after": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        },
        "storms": storms,
    }
    results["verdict"] = verdict(results)
    print(results["verdict"])
    if not args.no_save:
        out.write_text(json.dumps(results, ensure_ascii=False, indent=2, default=str) + "\n")
        write_doc(markdown(results), ROOT / "docs" / "validation.md")
        print(f"written {out}")


if __name__ == "__main__":
    main()
