"""Lead time the demo earned: minutes between the first forecast warning and the sensor crossing.

Run after a demo story (``fangxun demo --no-serve --until-done``) on its database:

    PYTHONPATH=src .venv/bin/python benchmarks/demo_lead_time.py --database-url URL [--out F]

For every hazard point with a ponding sensor and every colour the sensor reached, the time the
sensor's reading first reached the point's threshold of that colour, and two lead times against
the *predicted ponding* warnings (积水预报预警, from forecast runs) at that point:

* ``lead_min``: since the start of the forecast warning **in force at the crossing** at that
  colour or above (the last time it rose to that colour without falling below it before the
  crossing). This is the lead time the demo earned: an early false alarm that was lifted does
  not count. Missing: no forecast warning at that colour was in force when the sensor crossed.
* ``first_lead_min``: since the first forecast warning ever at that colour or above (an upper
  bound that counts early alarms lifted since).

All times are the replay's. The summary gives, per colour, the median of ``lead_min`` over the
crossings and how many crossings had a forecast warning in force.
"""

from __future__ import annotations

import argparse
import json
import statistics
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from fangxun.db import make_engine, session_scope
from fangxun.hazards.models import HazardPoint
from fangxun.monitoring.models import Datastream, Observation, ObservedProperty, Station
from fangxun.warnings.models import Warning, WarningChange, WarningKind, rank

COLOURS = ("blue", "yellow", "orange", "red")


def measure(database_url: str) -> dict[str, Any]:
    """The per-point, per-colour lead times and their summary (see the module docstring)."""
    engine = make_engine(database_url)
    rows: list[dict[str, Any]] = []
    with session_scope(engine) as session:
        sensors = session.execute(
            select(HazardPoint, Datastream.id)
            .join(Station, Station.hazard_point_id == HazardPoint.id)
            .join(Datastream, Datastream.station_id == Station.id)
            .join(ObservedProperty, ObservedProperty.id == Datastream.observed_property_id)
            .where(ObservedProperty.code == "ponding_depth")
        ).all()
        for point, ds_id in sensors:
            obs = session.execute(
                select(Observation.phenomenon_time, Observation.value)
                .where(Observation.datastream_id == ds_id, Observation.flags == 0)
                .order_by(Observation.phenomenon_time)
            ).all()
            changes = session.execute(
                select(WarningChange.at, WarningChange.to_colour)
                .join(Warning, Warning.id == WarningChange.warning_id)
                .where(
                    Warning.hazard_point_id == point.id,
                    Warning.kind == WarningKind.predicted_ponding,
                )
                .order_by(WarningChange.at)
            ).all()
            for i, colour in enumerate(COLOURS):
                threshold = getattr(point, f"threshold_{colour}_m")
                crossed = next((t for t, v in obs if v >= threshold), None)
                if crossed is None:
                    continue
                first = next((t for t, c in changes if rank(c) >= i + 1 and t <= crossed), None)
                episode: datetime | None = None
                for t, c in changes:  # lifts have no colour: rank 0
                    if t > crossed:
                        break
                    episode = (episode or t) if rank(c) >= i + 1 else None
                rows.append(
                    {
                        "point": point.code,
                        "colour": colour,
                        "threshold_cm": round(threshold * 100.0, 1),
                        "sensor_crossed": _iso(crossed),
                        "warning_in_force_since": _iso(episode),
                        "lead_min": _minutes(crossed, episode),
                        "first_forecast_warning": _iso(first),
                        "first_lead_min": _minutes(crossed, first),
                    }
                )
    engine.dispose()
    summary: dict[str, Any] = {}
    for colour in COLOURS:
        leads = [r["lead_min"] for r in rows if r["colour"] == colour]
        if not leads:
            continue
        warned = [x for x in leads if x is not None]
        firsts = [r["first_lead_min"] for r in rows if r["colour"] == colour]
        summary[colour] = {
            "crossings": len(leads),
            "warning_in_force": len(warned),
            "median_lead_min": round(statistics.median(warned), 1) if warned else None,
            "min_lead_min": min(warned) if warned else None,
            "max_lead_min": max(warned) if warned else None,
            "median_first_lead_min": round(
                statistics.median([x for x in firsts if x is not None]), 1
            )
            if any(x is not None for x in firsts)
            else None,
        }
    return {"rows": rows, "summary": summary}


def _minutes(crossed: datetime, warned: datetime | None) -> float | None:
    return None if warned is None else round((crossed - warned).total_seconds() / 60.0, 1)


def _iso(t: datetime | None) -> str | None:
    return t.isoformat() if t is not None else None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--database-url", required=True)
    ap.add_argument("--out", type=Path, default=None, help="write the result as JSON here")
    ap.add_argument("--note", default="", help="what run this was (stored with the result)")
    args = ap.parse_args()
    result = measure(args.database_url)
    result["note"] = args.note
    for colour, s in result["summary"].items():
        print(f"{colour:7s} {s}")
    if args.out:
        args.out.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
