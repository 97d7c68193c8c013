"""Storm replay: a rain scenario played through MQTT at an accelerated clock, with physically
consistent observations.

* Rain gauges report the scenario's rain per 5-minute interval. The ``720`` and ``chicago``
  scenarios are uniform over the district (every gauge reports the same depth); ``720-radar`` is
  the 7·20 storm built from a real radar sequence (:mod:`fangxun.demo.radar_storm`: a rescaled
  real sequence, moving and varying in space): each gauge reports the rain at its own place, the
  ponding sensors' model runs on the field, and the plan carries the radar frames, which the
  demo story publishes to the rain frame store alongside the gauges.
* Ponding sensors report the depth the inundation core computes at their cell, on the demo
  terrain coarsened by block mean (default 40 m cells) with an urban drainage sink
  (default 30 mm/h) and open edges.
* River gauges follow a documented rule, not a river model: level = bed + 0.6 m base flow
  + 10 mm of level per mm of rain in the preceding 6 h, capped 0.3 m above the bank.
* Pump stations follow a rule: a pump starts per 10 cm of ponding at the underpass they serve
  (3 pumps, 0.5 m³/s each); the sump level is the bed 2 m below the road plus that ponding; power
  fails once the station itself is under more than 1 m of water.

Observation times are placed so the storm ends at the moment the replay ends, so the values are
never "in the future" for quality control; ``speed`` 60 plays an hour in a minute.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal

import numpy as np
import numpy.typing as npt
import paho.mqtt.client as mqtt
from affine import Affine
from paho.mqtt.enums import CallbackAPIVersion
from pyproj import CRS
from sqlalchemy import select
from sqlalchemy.orm import Session

from fangxun.demo.monitoring_seed import RAIN_INTERVAL_S, seed_monitoring
from fangxun.demo.radar_storm import RadarStorm, build_radar_storm
from fangxun.demo.terrain import DemoTerrain, demo_terrain
from fangxun.forecast.engine import simulate_gauges
from fangxun.monitoring.ingest.mqtt import station_topic
from fangxun.monitoring.models import Datastream, Station, StationKind
from rainkit import (
    EXAMPLE_FORMULA_UNVERIFIED,
    GriddedRain,
    Hyetograph,
    chicago_hyetograph,
    zhengzhou_720_reconstruction,
)

logger = logging.getLogger(__name__)

#: How long the replay waits at its end for the broker to acknowledge what it sent, s.
ACK_TIMEOUT_S = 30.0

ScenarioName = Literal["720", "chicago", "720-radar"]

#: Replay step: the rain gauges' reporting interval, s.
STEP_S = RAIN_INTERVAL_S
RIVER_BASE_DEPTH_M = 0.6
RIVER_RISE_M_PER_MM_6H = 0.01
RIVER_CAP_ABOVE_BANK_M = 0.3
PUMPS = 3
PUMP_Q_M3_S = 0.5
PUMP_START_STEP_M = 0.10
SUMP_BELOW_ROAD_M = 2.0
POWER_FAIL_DEPTH_M = 1.0
AFTER_RAIN_S = 3600.0


@dataclass(frozen=True)
class Frame:
    """Observations of one replay step: station code → [(datastream code, value in its unit)]."""

    offset_s: float
    values: dict[str, list[tuple[str, float]]]


@dataclass
class ReplayPlan:
    """Everything to publish, and what it was computed from."""

    scenario: str
    label: str
    duration_s: float
    cell_m: float
    frames: list[Frame] = field(default_factory=list)
    max_depth_cm: dict[str, float] = field(default_factory=dict)
    #: The radar storm behind a ``720-radar`` plan (its frames are published with the gauges).
    radar: RadarStorm | None = None


def scenario_rain(
    name: ScenarioName, *, first_hour: int = 14, hours: int = 8
) -> tuple[Hyetograph, str]:
    """The scenario's hyetograph on a clock starting at 0, and its label.

    ``720``: hours ``[first_hour, first_hour + hours)`` of the 7·20 reconstruction (24 h from
    20:00 on 19 July; hour 20 is the 201.9 mm peak). ``chicago``: a 3-hour, 50-year Chicago
    storm from the example (unverified) formula, r = 0.4.
    """
    if name in ("720", "720-radar"):
        # 720-radar: the district mean of the radar-built storm holds these hours too
        sc = zhengzhou_720_reconstruction()
        return sc.window(first_hour, hours), f"{sc.label} (hours {first_hour}–{first_hour + hours})"
    if name == "chicago":
        h = chicago_hyetograph(EXAMPLE_FORMULA_UNVERIFIED, 50.0, 3 * 3600.0, STEP_S, 0.4)
        return h, "Chicago design storm, P = 50 a, 3 h, r = 0.4 (example formula, unverified)"
    raise ValueError(f"unknown scenario {name!r}: use '720', '720-radar' or 'chicago'")


def coarsen(z: npt.NDArray[np.floating], factor: int) -> npt.NDArray[np.float64]:
    """Block mean of ``z`` over ``factor`` × ``factor`` cells (edges trimmed)."""
    rows, cols = (z.shape[0] // factor) * factor, (z.shape[1] // factor) * factor
    zz = np.asarray(z[:rows, :cols], dtype=np.float64)
    blocks = zz.reshape(rows // factor, factor, cols // factor, factor)
    return np.asarray(blocks.mean(axis=(1, 3)), dtype=np.float64)


def build_plan(
    *,
    session: Session,
    scenario: ScenarioName = "720",
    first_hour: int = 14,
    hours: int = 8,
    cell_m: float = 40.0,
    drainage_mm_h: float = 30.0,
    terrain: DemoTerrain | None = None,
    progress: Callable[[str], None] | None = None,
) -> ReplayPlan:
    """Compute every observation of the replay (seeding the demo network if it is missing)."""
    terrain = terrain or demo_terrain()
    seed_monitoring(session=session, terrain=terrain)
    rain: Hyetograph | GriddedRain
    rain, label = scenario_rain(scenario, first_hour=first_hour, hours=hours)
    # One more hour after the last rain, so the replay shows the water receding.
    duration = float(rain.times_s[-1]) + AFTER_RAIN_S
    factor = max(1, round(cell_m / terrain.cell_size_m))
    z = coarsen(terrain.elevation, factor)
    radar: RadarStorm | None = None
    if scenario == "720-radar":
        west, south, east, north = terrain.bounds
        if progress:
            progress("radar storm: the MeteoSwiss sequence rescaled to the 7·20 hours")
        radar = build_radar_storm(
            centre_xy=((west + east) / 2.0, (south + north) / 2.0),
            district_bounds=terrain.bounds,
            crs=terrain.crs,
            first_hour=first_hour,
            hours=hours,
            after_s=AFTER_RAIN_S,
        )
        tr = terrain.transform
        rain = radar.on_grid(
            crs=CRS.from_user_input(terrain.crs),
            transform=Affine(tr.a * factor, tr.b, tr.c, tr.d, tr.e * factor, tr.f),
            shape=(int(z.shape[0]), int(z.shape[1])),
        )
        label = radar.label

    stations = list(session.scalars(select(Station).order_by(Station.code)))
    codes = {
        (ds.station_id, ds.observed_property.code): ds.code
        for ds in session.scalars(select(Datastream))
    }
    ponding = [s for s in stations if s.kind == StationKind.ponding]
    gauges = {
        s.code: (
            min(int((s.properties or {})["row"]) // factor, z.shape[0] - 1),
            min(int((s.properties or {})["col"]) // factor, z.shape[1] - 1),
        )
        for s in ponding
    }
    if progress:
        progress(f"inundation: {z.shape[0]}×{z.shape[1]} cells of {factor * 10:.0f} m, "
                 f"{duration / 3600:.1f} h of rain")  # fmt: skip
    series = simulate_gauges(
        elevation=z,
        cell_size_m=terrain.cell_size_m * factor,
        rain=rain,
        drainage_mm_h=drainage_mm_h,
        gauges=gauges,
        duration_s=duration,
        output_interval_s=float(STEP_S),
    )
    depth_at: dict[str, npt.NDArray[np.float64]] = {
        code: np.interp(np.arange(0.0, duration + 1.0, STEP_S), times, depth)
        for code, (times, depth) in series.items()
    }

    plan = ReplayPlan(scenario=scenario, label=label, duration_s=duration, cell_m=factor * 10.0,
                      radar=radar)  # fmt: skip
    plan.max_depth_cm = {c: round(float(d.max()) * 100.0, 1) for c, d in depth_at.items()}
    n_steps = int(duration // STEP_S)
    gauge_mm = _gauge_rain(rain, stations, terrain, factor, n_steps)
    # the river rule takes the district's mean rain
    step_rain_mm = [_depth_mm(rain, k * STEP_S, (k + 1) * STEP_S) for k in range(n_steps)]
    for k in range(1, n_steps + 1):
        t = k * STEP_S
        values: dict[str, list[tuple[str, float]]] = {}
        rain_6h = sum(step_rain_mm[max(0, k - 6 * 3600 // STEP_S) : k])
        for st in stations:
            out: list[tuple[str, float]] = []
            if st.kind == StationKind.rain_gauge:
                out.append((codes[(st.id, "rainfall")], round(gauge_mm[st.code][k - 1], 1)))
            elif st.kind == StationKind.ponding:
                out.append(
                    (codes[(st.id, "ponding_depth")], round(float(depth_at[st.code][k]) * 100, 1))
                )
            elif st.kind == StationKind.river_gauge:
                level_code = codes[(st.id, "river_level")]
                assert st.elevation_m is not None
                bank = float((st.properties or {})["bank_m"])
                level = st.elevation_m + RIVER_BASE_DEPTH_M + RIVER_RISE_M_PER_MM_6H * rain_6h
                out.append((level_code, round(min(level, bank + RIVER_CAP_ABOVE_BANK_M), 2)))
            elif st.kind == StationKind.pump_station:
                served = str((st.properties or {}).get("serves", ""))
                d = float(depth_at[served][k]) if served in depth_at else 0.0
                pumps = min(PUMPS, math.ceil(d / PUMP_START_STEP_M)) if d > 0.05 else 0
                powered = d <= POWER_FAIL_DEPTH_M
                pumps = pumps if powered else 0
                out += [
                    (codes[(st.id, "pumps_running")], float(pumps)),
                    (codes[(st.id, "discharge")], round(pumps * PUMP_Q_M3_S, 2)),
                    (codes[(st.id, "sump_level")], round(-SUMP_BELOW_ROAD_M + d, 2)),
                    (codes[(st.id, "power")], 1.0 if powered else 0.0),
                ]
            if out:
                values[st.code] = out
        plan.frames.append(Frame(float(t), values))
    return plan


def _depth_mm(rain: Hyetograph | GriddedRain, t0: float, t1: float) -> float:
    """Rain (mm) over [t0, t1] s: the district mean for gridded rain."""
    if isinstance(rain, GriddedRain):
        return float(rain.depth_m_field(t0, t1).mean()) * 1000.0
    return rain.depth_m(t0, t1) * 1000.0


def _gauge_rain(
    rain: Hyetograph | GriddedRain,
    stations: list[Station],
    terrain: DemoTerrain,
    factor: int,
    n_steps: int,
) -> dict[str, list[float]]:
    """Each rain gauge's rain per replay step, mm: the scenario's for uniform rain, the field at
    the gauge's model cell for gridded rain."""
    gauges = [s for s in stations if s.kind == StationKind.rain_gauge]
    if not isinstance(rain, GriddedRain):
        same = [_depth_mm(rain, k * STEP_S, (k + 1) * STEP_S) for k in range(n_steps)]
        return {s.code: same for s in gauges}
    from pyproj import Transformer

    tr = Transformer.from_crs("EPSG:4326", terrain.crs, always_xy=True)
    inv = ~terrain.transform
    ny, nx = rain.shape
    out: dict[str, list[float]] = {}
    for s in gauges:
        x, y = tr.transform(s.lon, s.lat)
        col, row = inv * (x, y)
        r = min(max(int(row) // factor, 0), ny - 1)
        c = min(max(int(col) // factor, 0), nx - 1)
        out[s.code] = [
            float(rain.depth_m_field(k * STEP_S, (k + 1) * STEP_S)[r, c]) * 1000.0
            for k in range(n_steps)
        ]
    return out


def publish(
    plan: ReplayPlan,
    *,
    host: str = "127.0.0.1",
    port: int = 1883,
    speed: float = 60.0,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    sleep: Callable[[float], None] = time.sleep,
    progress: Callable[[str], None] | None = None,
    on_start: Callable[[datetime, datetime], None] | None = None,
    stop: Callable[[], bool] | None = None,
    on_frame: Callable[[float, datetime], None] | None = None,
) -> int:
    """Publish ``plan`` at ``speed`` × real time (QoS 1); returns the observations sent.

    Times are chosen so the last frame's time is the wall-clock time the replay ends.
    ``on_start(start_wall, t0)`` is called once before the first frame with the wall-clock start
    and the observation time of offset 0 (a frame at ``offset_s`` carries time
    ``t0 + offset_s``); ``stop()`` returning True ends the replay early; ``on_frame(offset_s,
    time)`` is called after each frame is published (the story publishes the radar frame of
    that time there).
    """
    if not speed > 0:
        raise ValueError(f"speed must be > 0, got {speed!r}")
    client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2,
                         client_id=f"fangxun-replay-{int(time.time())}")  # fmt: skip
    client.max_inflight_messages_set(100)
    # A broker restart mid-replay: paho's network thread reconnects with this backoff and sends
    # the unacknowledged QoS 1 messages again (the ingest's writer drops the repeats). Messages
    # published while disconnected are queued and sent then too; their MQTTMessageInfo keeps
    # the "not connected" code, so completion is counted from the broker's acknowledgements
    # (on_publish), not from wait_for_publish (which raises for them).
    client.reconnect_delay_set(min_delay=1, max_delay=30)
    acked = [0]
    acked_lock = threading.Lock()

    def on_publish(*_args: object) -> None:
        with acked_lock:
            acked[0] += 1

    client.on_publish = on_publish
    client.connect(host, port)
    client.loop_start()
    start_wall = now()
    end_wall = start_wall + timedelta(seconds=plan.duration_s / speed)
    t0 = end_wall - timedelta(seconds=plan.frames[-1].offset_s if plan.frames else 0.0)
    sent = 0
    messages = 0
    if on_start is not None:
        on_start(start_wall, t0)
    try:
        for frame in plan.frames:
            due = start_wall + timedelta(seconds=frame.offset_s / speed)
            wait = (due - now()).total_seconds()
            if wait > 0:
                sleep(wait)
            if stop is not None and stop():
                break
            when = (t0 + timedelta(seconds=frame.offset_s)).isoformat()
            for station, items in frame.values.items():
                payload = [{"datastream": c, "time": when, "value": v} for c, v in items]
                client.publish(station_topic(station), json.dumps(payload), qos=1)
                messages += 1
                sent += len(items)
            if on_frame is not None:
                on_frame(frame.offset_s, t0 + timedelta(seconds=frame.offset_s))
            if progress and int(frame.offset_s) % 3600 == 0:
                progress(f"replayed {frame.offset_s / 3600:.0f} h ({sent} observations)")
        deadline = time.monotonic() + ACK_TIMEOUT_S
        unacknowledged = messages
        while time.monotonic() < deadline:
            with acked_lock:
                unacknowledged = messages - acked[0]
            if unacknowledged <= 0:
                break
            time.sleep(0.05)
        if unacknowledged > 0:
            logger.warning("replay: the broker did not acknowledge %d message(s)", unacknowledged)
    finally:
        client.disconnect()
        client.loop_stop()
    return sent
