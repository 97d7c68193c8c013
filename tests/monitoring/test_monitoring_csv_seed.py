"""CSV import, the demo monitoring network and the storm replay plan."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from mon_helpers import Network
from sqlalchemy import Engine, func, select

from fangxun.db import session_scope
from fangxun.demo.monitoring_seed import RAIN_GAUGES, seed_monitoring
from fangxun.demo.replay import ReplayPlan, build_plan, publish, scenario_rain
from fangxun.errors import ValidationFailed
from fangxun.monitoring.ingest.csv_import import import_csv
from fangxun.monitoring.models import Datastream, DeadLetter, Station, StationKind


def test_csv_import(tmp_path: Path, sqlite_engine: Engine, sqlite_network: Network) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    path = tmp_path / "obs.csv"
    path.write_text(
        "\ufeffstation,datastream,time,value\n"
        f"RG01,RG01-rain,{(now - timedelta(minutes=5)).isoformat()},1.5\n"
        f"RG01,RG01-rain,{now.isoformat()},abc\n"
        "\n"
        f"RG01,NOPE,{now.isoformat()},1\n"
        f"RG01,RG01-rain,{now.isoformat()},2.0\n",
        encoding="utf-8",
    )
    with session_scope(sqlite_engine) as session:
        result = import_csv(session=session, path=path)
    assert (result.stored, result.dead_lettered) == (2, 2)
    with session_scope(sqlite_engine) as session:
        origins = sorted(session.scalars(select(DeadLetter.origin)))
        assert origins == ["obs.csv:3", "obs.csv:5"]  # line numbers of the bad rows
    with session_scope(sqlite_engine) as session:
        again = import_csv(session=session, path=path)
    assert (again.stored, again.duplicates) == (0, 2)

    bad = tmp_path / "bad.csv"
    bad.write_text("when,what\n1,2\n", encoding="utf-8")
    with session_scope(sqlite_engine) as session, pytest.raises(ValidationFailed) as exc:
        import_csv(session=session, path=bad)
    assert "missing column(s) datastream, time, value" in str(exc.value)


@pytest.mark.slow
def test_demo_seed_and_replay_plan(sqlite_engine: Engine) -> None:
    with session_scope(sqlite_engine) as session:
        summary = seed_monitoring(session=session)
        assert summary.stations_created == len(RAIN_GAUGES) + 11 + 2 + 2
        kinds = dict(
            session.execute(select(Station.kind, func.count()).group_by(Station.kind)).all()
        )
        assert kinds[StationKind.ponding] == 11  # 5 underpasses + 6 low blocks
        river = session.scalar(select(Datastream).where(Datastream.code == "RV01-level"))
        assert river is not None and river.warning_level_m is not None
        assert river.guarantee_level_m is not None
        assert river.warning_level_m < river.guarantee_level_m
    with session_scope(sqlite_engine) as session:
        assert seed_monitoring(session=session).stations_created == 0  # idempotent

    with session_scope(sqlite_engine) as session:
        plan = build_plan(session=session, scenario="720", first_hour=19, hours=2, cell_m=80.0)
    rain, _ = scenario_rain("720", first_hour=19, hours=2)
    # Gauges report the scenario's rain: the 5-minute values sum to its total (0.1 mm rounding).
    rg = [v for f in plan.frames for c, v in f.values["RG01"]]
    assert sum(rg) == pytest.approx(rain.total_mm(), abs=0.05 * len(rg))
    assert rain.total_mm() > 200  # hours 19–20 hold the 201.9 mm peak hour
    # Underpasses pond deeper than the shallowest low block in the 7·20 peak.
    assert plan.max_depth_cm["PD-UP03"] > 50.0
    # Pumps run while their underpass is wet and powered.
    ps = [dict(f.values["PS01"]) for f in plan.frames]
    assert any(v["PS01-pumps_running"] > 0 for v in ps)
    assert all(v["PS01-discharge"] == pytest.approx(0.5 * v["PS01-pumps_running"]) for v in ps)


class _FakeClock:
    def __init__(self) -> None:
        self.t = datetime(2026, 11, 22, 12, tzinfo=UTC)
        self.slept = 0.0

    def now(self) -> datetime:
        return self.t

    def sleep(self, s: float) -> None:
        self.slept += s
        self.t += timedelta(seconds=s)


@pytest.mark.mqtt
def test_replay_publishes_in_the_past_at_speed(tmp_path: Path) -> None:
    import paho.mqtt.client as mqtt

    from service_processes import Broker

    broker = Broker(tmp_path / "broker")
    broker.start()
    got: list[bytes] = []
    sub = mqtt.Client(callback_api_version=mqtt.CallbackAPIVersion.VERSION2)
    sub.on_message = lambda _c, _u, m: got.append(m.payload)
    subscribed = threading.Event()  # the broker's SUBACK, instead of sleeping a while
    sub.on_subscribe = lambda *_args: subscribed.set()
    sub.connect("127.0.0.1", broker.port)
    sub.subscribe("fangxun/v1/stations/+/observations", qos=1)
    sub.loop_start()
    try:
        import time

        assert subscribed.wait(10), "the broker never acknowledged the subscription"
        from fangxun.demo.replay import Frame

        plan = ReplayPlan("t", "t", 600.0, 40.0)
        plan.frames = [Frame(300.0, {"RG01": [("RG01-rain", 1.0)]}),
                       Frame(600.0, {"RG01": [("RG01-rain", 2.0)]})]  # fmt: skip
        clock = _FakeClock()
        sent = publish(plan, port=broker.port, speed=60.0, now=clock.now, sleep=clock.sleep)
        assert sent == 2
        assert clock.slept == pytest.approx(10.0)  # 600 s of storm at 60× is 10 s
        deadline = time.monotonic() + 5
        while len(got) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        import json

        last = json.loads(got[-1])[0]
        # The last observation is stamped with the wall-clock time the replay ends.
        assert datetime.fromisoformat(last["time"]) == datetime(2026, 11, 22, 12, 0, 10, tzinfo=UTC)
    finally:
        sub.loop_stop()
        broker.stop()
