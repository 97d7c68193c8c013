"""The demo story (``fangxun demo``): the whole chain on the demo district during an accelerated
replay of the 7·20 reconstruction.

One process runs, each in its own thread:

* the **ingest** service (MQTT → observations), subscribed before the replay starts;
* the **replay** (:mod:`fangxun.demo.replay`): gauges, ponding sensors, rivers and pumps published
  through Mosquitto at ``speed`` × real time;
* the **conductor**, every ``tick_s`` of wall time, on the replay's clock (:class:`ReplayClock`):
  the warning rules (``fangxun.warnings``, which notify and drive the response level), forecasts
  when the scheduler's rules make one due (every ``Settings.forecast_interval_s`` of replay time
  while it rains; run in a worker thread), and one incident reported at the first point whose
  sensor reaches the :data:`INCIDENT_COLOUR` threshold. On the radar-built storm (scenario
  ``720-radar``, the default: a rescaled real radar sequence, :mod:`fangxun.demo.radar_storm`)
  the replay publishes a radar frame to the rain frame store with every gauge report, and the
  forecasts are ordinary nowcast runs: the rain chain nowcasts from the radar frames received so
  far, never from the storm's own future, so whatever lead time they give is earned. On the
  uniform scenarios (``720``, ``chicago``) the forecasts take the scenario's own future rain (a
  perfect forecast, stored as an uploaded series and said so in the run's trigger);
* the **notify sender**, delivering to a local in-memory outbox (the demo's contacts are
  fictitious): what was sent shows on the outbox page;
* the **web server** (uvicorn), unless ``serve`` is off.

The replay's observations run behind the wall clock (an hour of storm in 3 min at the default
speed 20, the last frame at "now"), so every time-based rule is evaluated at the replay's clock,
never at the wall clock. Warnings, notify and response are optional: a domain that is not
installed is skipped with a note.
"""

from __future__ import annotations

import importlib
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from types import ModuleType
from typing import Any, Final

from sqlalchemy import Engine, select

from fangxun import replay_clock
from fangxun.audit.service import SystemActor
from fangxun.config import Settings
from fangxun.db import make_engine, session_factory, session_scope
from fangxun.db.types import utcnow
from fangxun.demo.replay import ReplayPlan, ScenarioName, build_plan, publish, scenario_rain
from fangxun.monitoring import heartbeat
from fangxun.times import SHORT, local
from rainkit import Hyetograph

logger = logging.getLogger(__name__)

#: The story's author in the audit log and on the incident it reports.
STORY_ACTOR: Final = SystemActor(username="demo-story")
#: The colour whose threshold, reached by a point's sensor, makes a passer-by report an incident.
INCIDENT_COLOUR: Final = "orange"
#: Default replay window of the 7·20 reconstruction: hours 12–22 (08:00–18:00 on 20 July) show
#: the signal rising blue → yellow → orange, then red in the 201.9 mm hour.
FIRST_HOUR: Final = 12
HOURS: Final = 10
#: Default speed: one hour of storm in three minutes, so that a newcomer can follow it (the
#: signal's steps come minutes apart, the red one about 7.8 h into the window: 23 min); the whole
#: 11-hour replay takes about 33 minutes, then the screens hold at its end.
SPEED: Final = 20.0
#: Cell size of the replay's inundation run and of the forecasts, m (coarse: the demo is quick).
CELL_M: Final = 80.0
#: The demo's meteorological service (synthetic): it issues the official rainstorm signal (CAP)
#: that the rain gauges indicate, :data:`OFFICIAL_DELAY_S` later (in reality the service issues
#: it from its own forecast; the demo has none).
OFFICIAL_SENDER: Final = "12379@demo-met.fangxun.example"
OFFICIAL_DELAY_S: Final = 600.0
OFFICIAL_SEVERITY: Final = {
    "blue": "Minor",
    "yellow": "Moderate",
    "orange": "Severe",
    "red": "Extreme",
}
OFFICIAL_ZH: Final = {"blue": "蓝", "yellow": "黄", "orange": "橙", "red": "红"}
#: Block length of the demo's rain forecast series, s.
FORECAST_STEP_S: Final = 300.0

Say = Callable[[str], None]


def demo_story_settings(settings: Settings, *, cell_m: float = CELL_M) -> Settings:
    """The settings the story runs with: sensors are not "stale" merely because the replay's
    observations run behind the wall clock; forecasts run on coarse cells; and the rainstorm
    signal starts response levels by itself (``response_rule_mode="start"``) and forecast warnings
    go out without a forecaster's approval, as nobody is there to approve the proposals that
    production waits for."""
    from fangxun.warnings.approval import automatic_approval

    return automatic_approval(settings).model_copy(
        update={
            "monitoring_stale_s": max(settings.monitoring_stale_s, 24 * 3600),
            "forecast_resolution_m": settings.forecast_resolution_m or cell_m,
            "response_rule_mode": "start",
        }
    )


class ReplayClock:
    """The replay's clock: observation time of the frame due now (never later than the wall
    clock); None before the replay starts.

    >>> from datetime import UTC
    >>> c = ReplayClock(speed=60.0)
    >>> c.now() is None
    True
    >>> start = datetime(2026, 7, 20, 12, 0, tzinfo=UTC)
    >>> c.started(start, start - timedelta(hours=2))
    >>> c.now(start + timedelta(seconds=30)).isoformat()
    '2026-07-20T10:30:00+00:00'
    """

    def __init__(self, *, speed: float) -> None:
        self.speed = speed
        self._start: datetime | None = None
        self._t0: datetime | None = None
        #: The replay's last moment: its clock holds there once it is over.
        self.end: datetime | None = None

    def started(self, start_wall: datetime, t0: datetime) -> None:
        """Record the replay's start (wall clock) and the observation time of its offset 0."""
        self._start, self._t0 = start_wall, t0

    def offset_s(self, wall: datetime | None = None) -> float | None:
        """Replay seconds played so far."""
        if self._start is None:
            return None
        return max(0.0, ((wall or utcnow()) - self._start).total_seconds() * self.speed)

    def offset_at(self, moment: datetime) -> float | None:
        """Replay seconds from offset 0 to the observation time ``moment``; None before the
        replay started."""
        if self._t0 is None:
            return None
        return (moment - self._t0).total_seconds()

    def now(self, wall: datetime | None = None) -> datetime | None:
        """The replay's current time, or None before it started."""
        wall = wall or utcnow()
        offset = self.offset_s(wall)
        if offset is None or self._t0 is None:
            return None
        moment = min(wall, self._t0 + timedelta(seconds=offset))
        return min(moment, self.end) if self.end is not None else moment


def _optional(module: str) -> ModuleType | None:
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name is not None and module.startswith(exc.name):
            return None
        raise


@dataclass
class StoryLog:
    """What happened, for the printout and the tests: (replay time, text), oldest first."""

    events: list[tuple[datetime | None, str]] = field(default_factory=list)
    forecasts: list[int] = field(default_factory=list)
    incident_id: int | None = None
    observations: int = 0

    def add(self, at: datetime | None, text: str) -> None:
        self.events.append((at, text))


@dataclass(frozen=True)
class StoryOptions:
    """How the story runs (see ``fangxun demo --help``)."""

    speed: float = SPEED
    first_hour: int = FIRST_HOUR
    hours: int = HOURS
    cell_m: float = CELL_M
    tick_s: float = 2.0
    #: ``720-radar`` falls back to ``720`` (with a note) where the reference radar is absent.
    scenario: ScenarioName = "720-radar"


class Story:
    """The running story; :meth:`start` then :meth:`wait` (or :meth:`stop`)."""

    def __init__(self, settings: Settings, options: StoryOptions, *, say: Say = print) -> None:
        self.settings = demo_story_settings(settings, cell_m=options.cell_m)
        self.options = options
        self.say = say
        self.clock = ReplayClock(speed=options.speed)
        self.log = StoryLog()
        self.engine: Engine = make_engine(self.settings.database_url)
        self._stop = threading.Event()
        self._replay_done = threading.Event()
        self._threads: list[threading.Thread] = []
        self._forecast: threading.Thread | None = None
        self._ingest: Any = None
        self.plan: ReplayPlan | None = None
        self.rain: Hyetograph | None = None
        self.scenario: ScenarioName = options.scenario
        if self.scenario == "720-radar":
            from fangxun.demo.radar_storm import DEMO_RADAR_FEED, reference_radar_dir

            if reference_radar_dir() is None:
                say("reference radar not found: the 7·20 replay is the uniform reconstruction")
                self.scenario = "720"
            else:  # forecasts take their rain from the radar the replay publishes
                self.settings = self.settings.model_copy(
                    update={"rain_radar_feed": DEMO_RADAR_FEED}
                )
        self.warnings = _optional("fangxun.warnings.service")
        self.official = _optional("fangxun.warnings.official")
        #: The official signal the demo's meteorological service has out: (colour, identifier,
        #: sent), and the gauge indication it is about to follow (colour, since).
        self._official: tuple[str, str, datetime] | None = None
        self._indicated: tuple[str | None, datetime] | None = None
        self.notify_sender = _optional("fangxun.notify.sender")

    # --- set-up --------------------------------------------------------------------------------

    def prepare(self) -> ReplayPlan:
        """Compute the replay (the inundation core on the demo terrain)."""
        from fangxun.forecast.engine import drainage_capacity_mm_h
        from fangxun.forecast.service import storm_formula

        o = self.options
        # The replay's sewers drain like the forecast model's default (the design storm's mean
        # intensity, P = 1 a over 30 min by default), so forecast and "truth" share their physics.
        drainage = drainage_capacity_mm_h(
            storm_formula(self.settings),
            self.settings.forecast_drainage_return_period_years,
            self.settings.forecast_drainage_duration_s,
        )
        with session_scope(self.engine) as session:
            self.plan = build_plan(
                session=session,
                scenario=self.scenario,
                first_hour=o.first_hour,
                hours=o.hours,
                cell_m=o.cell_m,
                drainage_mm_h=drainage,
                progress=self.say,
            )
        self.rain, _label = scenario_rain(self.scenario, first_hour=o.first_hour, hours=o.hours)
        return self.plan

    def _thread(self, name: str, target: Callable[[], None]) -> None:
        def guarded() -> None:
            try:
                target()
            except Exception:
                logger.exception("demo story: %s stopped with an error", name)
                self.say(f"[red]{name} stopped with an error (see the log)[/]")

        thread = threading.Thread(target=guarded, name=f"demo-{name}", daemon=True)
        thread.start()
        self._threads.append(thread)

    def start(self) -> None:
        """Start ingest, wait for its subscription, then the sender, conductor and replay."""
        from fangxun.monitoring.ingest.mqtt import MqttConfig, MqttIngest
        from fangxun.monitoring.ingest.writer import WriteOptions

        if self.plan is None:
            self.prepare()
        replay_clock.clear(self.settings.data_dir)  # a former run's clock is not this one's
        config = MqttConfig.from_settings(
            self.settings, client_id=f"fangxun-demo-{os.getpid()}-{int(time.time())}"
        )
        self._ingest = MqttIngest(
            engine=self.engine,
            config=config,
            options=WriteOptions.from_settings(self.settings),
            # No stale-sensor alarms: before the replay's first frame every station is silent.
            stale_after=None,
            # Beat like `fangxun ingest`, so the web's banner never reports a quiet ingest that
            # a former run left behind in the same data folder.
            heartbeat=lambda: heartbeat.beat(self.settings.data_dir, heartbeat.INGEST),
        )
        self._thread("ingest", lambda: self._ingest.run(self._stop))
        if not self._ingest.subscribed.wait(30.0):
            self.stop()
            raise RuntimeError(
                f"ingest could not subscribe at {config.host}:{config.port} within 30 s: "
                "is Mosquitto running?"
            )
        if self.notify_sender is not None:
            self._thread("notify-sender", self._run_sender)
        else:
            self.say("notify is not installed: no notifications are sent")
        if self.warnings is None:
            self.say("warnings are not installed: no signals, no response levels")
        self._thread("conductor", self._conduct)
        self._thread("replay", self._replay)

    # --- the parts -----------------------------------------------------------------------------

    def _replay_started(self, start_wall: datetime, t0: datetime) -> None:
        assert self.plan is not None
        last = self.plan.frames[-1].offset_s if self.plan.frames else 0.0
        self.clock.started(start_wall, t0)
        self.clock.end = t0 + timedelta(seconds=last)
        replay_clock.started(
            self.settings.data_dir, wall=start_wall, t0=t0, speed=self.options.speed,
            duration_s=last,
        )  # fmt: skip

    def _replay(self) -> None:
        assert self.plan is not None
        self.log.observations = publish(
            self.plan,
            host=self.settings.mqtt_host,
            port=self.settings.mqtt_port,
            speed=self.options.speed,
            sleep=self._sleep,
            on_start=self._replay_started,
            stop=self._stop.is_set,
            on_frame=self.publish_radar if self.plan.radar is not None else None,
        )
        # Let ingest store the last frames and the conductor see them.
        self._stop.wait(2 * self.options.tick_s + 1.0)
        try:
            self.detect_storm_events(self.clock.now())
        except Exception:  # the replay is done all the same; /reports just lacks the storm
            logger.exception("demo story: storm event detection failed")
        end = self.clock.now()
        if end is not None:
            replay_clock.ended(self.settings.data_dir, at=end)  # the screens hold at the end
        self._replay_done.set()

    def publish_radar(self, offset_s: float, at: datetime) -> None:
        """Store the radar frame valid at replay offset ``offset_s`` (time ``at``) in the rain
        frame store, as a radar feed delivers it (called with each gauge report)."""
        from pathlib import Path

        from fangxun.demo.radar_storm import DEMO_RADAR_FEED
        from fangxun.rain import service as rain_service

        assert self.plan is not None and self.plan.radar is not None
        k = round(offset_s / 300.0) - 1
        if not 0 <= k < len(self.plan.radar.frames):
            return
        frame = self.plan.radar.frames[k]
        frame = replace(frame, time=at)
        with session_scope(self.engine) as session:
            rain_service.store_frame(
                session=session, data_dir=Path(self.settings.data_dir), feed=DEMO_RADAR_FEED,
                frame=frame, importer="demo-replay",
            )  # fmt: skip

    def detect_storm_events(self, now: datetime | None = None) -> list[int]:
        """Store the replayed storm as a storm event (reports domain), so that it appears under
        ``/reports`` with its statistics; ``now`` is the replay's clock (default: the wall clock).
        Returns the ids of the events created or updated."""
        from fangxun.reports import service as reports

        now = now or utcnow()
        with session_scope(self.engine) as session:
            events = reports.detect_events(
                session=session, settings=self.settings, actor=STORY_ACTOR, now=now
            )
            found = [(e.id, e.name, e.total_m * 1000.0) for e in events]
        for event_id, name, total_mm in found:
            text = f"storm event #{event_id} {name} ({total_mm:.0f} mm) stored for /reports"
            self.log.add(now, text)
            self.say(f"{_local(now)} {text}")
        return [event_id for event_id, _n, _t in found]

    def _sleep(self, seconds: float) -> None:
        self._stop.wait(seconds)  # wakes at once on stop

    def _run_sender(self) -> None:
        from fangxun.notify.channels import MemoryTransport
        from fangxun.notify.service import Channel

        assert self.notify_sender is not None
        outbox = MemoryTransport()  # the demo's addresses are fictitious: deliver locally
        self.notify_sender.run_forever(
            factory=session_factory(self.engine),
            transports=dict.fromkeys(Channel, outbox),
            settings=self.settings,
            stop=self._stop,
        )

    def _conduct(self) -> None:
        while not self._stop.wait(self.options.tick_s):
            now = self.clock.now()
            if now is None:
                continue
            self.step(now)

    def step(self, now: datetime) -> None:
        """One look at the situation at replay time ``now``: warnings, forecast, incident. A part
        that fails is logged and the others still run."""
        parts: list[tuple[str, Callable[[datetime], None]]] = [
            ("warnings", self._warnings_step),
            ("official", self._official_step),
            ("forecast", self._forecast_step),
            ("incident", self._incident_step),
        ]
        for name, part in parts:
            try:
                part(now)
            except Exception:
                logger.exception("demo story: %s at %s failed", name, now.isoformat())

    def _warnings_step(self, now: datetime) -> None:
        if self.warnings is None:
            return
        with session_scope(self.engine) as session:
            changes = self.warnings.evaluate(session=session, now=now, settings=self.settings)
            texts = [self._describe(change) for change in changes]
        heartbeat.beat(self.settings.data_dir, heartbeat.WARNINGS)
        for text in texts:
            self.log.add(now, text)
            self.say(f"{_local(now)} {text}")

    def _official_step(self, now: datetime) -> None:
        """The demo's meteorological service: the official signal follows the gauge indication
        once it has held for :data:`OFFICIAL_DELAY_S` (Alert, then Update, Cancel at the end)."""
        if self.warnings is None or self.official is None:
            return
        from fangxun.warnings.cap import Alert, Area, Info, build_alert

        with session_scope(self.engine) as session:
            colour = self.warnings.rainstorm_signal(session=session)
        colour = getattr(colour, "value", colour)
        issued = self._official[0] if self._official else None
        if colour == issued:
            self._indicated = None
            return
        if self._indicated is None or self._indicated[0] != colour:
            self._indicated = (colour, now)
        if (now - self._indicated[1]).total_seconds() < OFFICIAL_DELAY_S:
            return
        n = len([e for e in self.log.events if e[1].startswith("official signal")]) + 1
        ident = f"demo-met-{now:%Y%m%d%H%M}-{n}"
        refs = ((OFFICIAL_SENDER, self._official[1], self._official[2]),) if self._official else ()
        shown = colour or issued or "blue"
        info = Info(
            language="zh-CN",
            category="Met",
            event=f"暴雨{OFFICIAL_ZH[shown]}色预警",
            urgency="Immediate",
            severity=OFFICIAL_SEVERITY[shown],
            certainty="Likely",
            headline=(
                f"区气象台发布暴雨{OFFICIAL_ZH[shown]}色预警信号（演示）"
                if colour
                else "区气象台解除暴雨预警信号（演示）"
            ),
            description="演示：合成的气象台信号，随雨量站指示发布。",
            sender_name="演示气象台",
            expires=now + timedelta(hours=12),
        )
        msg_type = "Cancel" if colour is None else ("Update" if self._official else "Alert")
        xml = build_alert(
            Alert(identifier=ident, sender=OFFICIAL_SENDER, sent=now, msg_type=msg_type,
                  references=refs, infos=(info,), area=Area(desc="全区"))
        )  # fmt: skip
        with session_scope(self.engine) as session:
            self.official.ingest(
                session=session, documents=[("demo-met", xml)], settings=self.settings
            )
        self._official = (colour, ident, now) if colour else None
        self._indicated = None
        text = f"official signal {msg_type}: {colour or 'cancelled'}"
        self.log.add(now, text)
        self.say(f"{_local(now)} {text}")

    @staticmethod
    def _describe(change: Any) -> str:
        warning = getattr(change, "warning", None)
        kind = getattr(getattr(warning, "kind", None), "value", "?")
        place = getattr(warning, "place", None) or ""
        ctype = getattr(getattr(change, "change_type", None), "value", "?")
        colour = getattr(getattr(change, "to_colour", None), "value", None)
        return f"warning {ctype}: {kind} {place} {colour or ''}".rstrip()

    def forecast_rain(self, offset_s: float) -> list[float]:
        """The demo's rain forecast from replay time ``offset_s``: the scenario's own rain over
        the forecast horizon, mm/h per :data:`FORECAST_STEP_S` (a perfect forecast, as if the
        weather service had it right; stored with the run as an uploaded series)."""
        assert self.rain is not None
        steps = max(1, round(self.settings.forecast_horizon_s / FORECAST_STEP_S))
        out = []
        for k in range(steps):
            t0 = offset_s + k * FORECAST_STEP_S
            depth_m = self.rain.depth_m(t0, t0 + FORECAST_STEP_S)
            out.append(round(min(500.0, depth_m * 1000.0 * 3600.0 / FORECAST_STEP_S), 2))
        return out

    def _forecast_step(self, now: datetime) -> None:
        """Queue and run a forecast when the scheduler's rules say one is due."""
        from fangxun.forecast import flows, schedule
        from fangxun.forecast import service as forecast
        from fangxun.forecast.models import RunPurpose
        from fangxun.forecast.schemas import ForecastRunCreate, NowcastRain, SeriesRain

        if self._forecast is not None and self._forecast.is_alive():
            return
        offset = self.clock.offset_at(now)
        if offset is None:
            return
        with session_scope(self.engine) as session:
            why = schedule.reason_to_run(session=session, settings=self.settings, now=now)
            if why is None:
                return
            radar = self.plan is not None and self.plan.radar is not None
            rain: NowcastRain | SeriesRain = (
                NowcastRain()  # the rain chain's nowcast from the radar published so far
                if radar
                else SeriesRain(step_s=FORECAST_STEP_S, intensity_mm_h=self.forecast_rain(offset))
            )
            run = forecast.create_run(
                session=session,
                run_in=ForecastRunCreate(
                    rain=rain,
                    purpose=RunPurpose.operational,  # the scheduler's run: the forecast in force
                ),
                actor=schedule.SCHEDULER,
                settings=self.settings,
            )
            run.issued_at = now
            how = "nowcast from the replayed radar" if radar else "the scenario's rain as forecast"
            run.params = {**run.params, "trigger": f"{why} (demo: {how})"}
            run_id = run.id

        def execute() -> None:
            started = time.monotonic()
            status = flows.execute_run(self.engine, run_id, self.settings, executor="serial")
            self.log.forecasts.append(run_id)
            self.say(
                f"{_local(now)} forecast #{run_id}: {status.value} "
                f"({time.monotonic() - started:.1f} s)"
            )

        self._forecast = threading.Thread(target=execute, name="demo-forecast", daemon=True)
        self._forecast.start()

    def _incident_step(self, now: datetime) -> None:
        if self.log.incident_id is not None:
            return
        from fangxun.hazards.models import HazardPoint
        from fangxun.incidents import service as incidents
        from fangxun.incidents.models import IncidentKind, Severity
        from fangxun.incidents.schemas import IncidentCreate
        from fangxun.monitoring.models import Datastream, ObservedProperty, Station

        with session_scope(self.engine) as session:
            rows = session.execute(
                select(Datastream, HazardPoint)
                .join(Station, Datastream.station_id == Station.id)
                .join(ObservedProperty, Datastream.observed_property_id == ObservedProperty.id)
                .join(HazardPoint, HazardPoint.id == Station.hazard_point_id)
                .where(ObservedProperty.code == "ponding_depth", Datastream.last_value.is_not(None))
            ).all()
            over = [
                (ds.last_value, point)
                for ds, point in rows
                if ds.last_value is not None
                and not ds.last_flags
                and ds.last_value >= getattr(point, f"threshold_{INCIDENT_COLOUR}_m")
            ]
            if not over:
                return
            depth, point = max(over, key=lambda r: r[0])
            incident = incidents.report(
                session=session,
                incident_in=IncidentCreate(
                    unit_id=point.unit_id,
                    kind=IncidentKind.trapped_people,
                    severity=Severity.major,
                    title=f"{point.name}积水约{depth * 100:.0f}厘米，车辆被困",
                    description="演示：市民电话报告（合成数据）。",
                    location_text=point.name,
                    lon=point.lon,
                    lat=point.lat,
                    hazard_point_id=point.id,
                    reporter_name="市民（演示）",
                    reported_at=now,
                ),
                actor=STORY_ACTOR,
            )
            session.flush()
            self.log.incident_id = incident.id
        text = f"incident #{incident.id} reported at {point.name} ({depth * 100:.0f} cm)"
        self.log.add(now, text)
        self.say(f"{_local(now)} {text}")

    # --- played at once, without a broker ----------------------------------------------------

    def play_offline(
        self,
        *,
        end: datetime | None = None,
        until_offset_s: float | None = None,
        tick_s: float = 900.0,
    ) -> StoryLog:
        """Play the story at once, without Mosquitto or threads: the frames are written through
        the CSV import's writer (the same writer as the MQTT ingest) and the conductor looks at
        the situation every ``tick_s`` of replay time, each forecast run to its end before the
        next look, the notifications delivered to a local outbox. The replay's last frame is at
        ``end`` (default: now). ``until_offset_s`` stops it early (e.g. at the storm's peak).

        For the tests and the documentation's screenshots: the pages show a replayed storm
        exactly as ``fangxun demo`` leaves it, in seconds of wall time instead of minutes.
        """  # fmt: skip
        from fangxun.monitoring.ingest.csv_import import import_rows

        plan = self.plan or self.prepare()
        end = end or utcnow()
        last = plan.frames[-1].offset_s if plan.frames else 0.0
        # The last frame played is at "now", as in a live replay (no sensor looks stale).
        held = min(last, until_offset_s) if until_offset_s is not None else last
        t0 = end - timedelta(seconds=held)
        self.clock.started(end, t0)
        self.clock.end = t0 + timedelta(seconds=last)
        next_look = tick_s
        for frame in plan.frames:
            if until_offset_s is not None and frame.offset_s > until_offset_s:
                break
            when = (t0 + timedelta(seconds=frame.offset_s)).isoformat()
            rows = [["datastream", "time", "value"]]
            rows += [[c, when, str(v)] for items in frame.values.values() for c, v in items]
            with session_scope(self.engine) as session:
                import_rows(session=session, rows=rows, name="demo-replay")
            self.log.observations += len(rows) - 1
            if frame.offset_s >= next_look or frame is plan.frames[-1]:
                next_look += tick_s
                self.step(t0 + timedelta(seconds=frame.offset_s))
                if self._forecast is not None:
                    self._forecast.join()
                self._deliver_offline(t0 + timedelta(seconds=frame.offset_s))
        now = t0 + timedelta(seconds=min(last, until_offset_s if until_offset_s is not None
                                         else last))  # fmt: skip
        # The storm so far is an event of /reports (still open at the peak).
        self.detect_storm_events(now)
        if until_offset_s is None or until_offset_s >= last:
            replay_clock.ended(self.settings.data_dir, at=now)
        else:
            # Held mid-storm (a screenshot of the peak): still a replay, its clock stopped.
            replay_clock.started(
                self.settings.data_dir, wall=utcnow(), t0=now, speed=0.0, duration_s=last
            )
        heartbeat.beat(self.settings.data_dir, heartbeat.INGEST, force=True)
        heartbeat.beat(self.settings.data_dir, heartbeat.WARNINGS, force=True)
        return self.log

    def _deliver_offline(self, now: datetime) -> None:
        # The sender runs on the wall clock, as in ``fangxun demo``: deliveries are due by it.
        del now
        if self.notify_sender is None:
            return
        from fangxun.notify.channels import MemoryTransport
        from fangxun.notify.service import Channel

        self.notify_sender.run_pass(
            factory=session_factory(self.engine),
            transports=dict.fromkeys(Channel, MemoryTransport()),
            settings=self.settings,
        )

    # --- running and stopping ------------------------------------------------------------------

    @property
    def replay_done(self) -> bool:
        """True once every frame was published and the conductor had a last look."""
        return self._replay_done.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the replay is done (True) or ``timeout`` s passed (False)."""
        return self._replay_done.wait(timeout)

    def stop(self) -> None:
        """Stop every part and wait for them (a forecast in progress is left to finish)."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=15.0)
        if self._forecast is not None:
            self._forecast.join(timeout=60.0)
        self.engine.dispose()


def _local(at: datetime) -> str:
    return local(at, SHORT)
