"""The SL 651 commands as an operator runs them, each its own process: `fangxun monitoring
sl651-register`, `fangxun ingest sl651` and `fangxun demo rtu` against it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from fangxun.audit.service import SystemActor
from fangxun.db import session_scope
from fangxun.monitoring import service
from fangxun.monitoring.models import DeadLetter, Observation, Sl651Station, StationKind
from fangxun.monitoring.schemas import DatastreamCreate, StationCreate
from service_processes import free_port, wait_port

FANGXUN = str(Path(sys.executable).parent / "fangxun")
SYSTEM = SystemActor(username="test-setup")


@pytest.mark.slow
def test_register_serve_and_simulate(sqlite_engine: Engine, tmp_path: Path) -> None:
    with session_scope(sqlite_engine) as session:
        service.ensure_observed_properties(session=session)
        for n in (1, 2):
            code = f"SL00{n}"
            service.create_station(
                session=session,
                station_in=StationCreate(code=code, name_zh=code, kind=StationKind.river_gauge,
                                         lon=113.5, lat=34.8),
                actor=SYSTEM,
            )  # fmt: skip
            for ds, prop, unit, interval in (
                (f"{code}-rain5", "rainfall", "mm", 300),
                (f"{code}-pt", "rainfall_accumulated", "mm", None),
                (f"{code}-z", "river_level", "m", None),
            ):
                service.create_datastream(
                    session=session,
                    datastream_in=DatastreamCreate(code=ds, name=ds, station_code=code,
                                                   observed_property=prop, unit=unit,
                                                   interval_s=interval),
                    actor=SYSTEM,
                )  # fmt: skip
    env = os.environ | {
        "FANGXUN_DATABASE_URL": sqlite_engine.url.render_as_string(hide_password=False),
        "FANGXUN_ENVIRONMENT": "test",
    }
    for n in (1, 2):
        subprocess.run(
            [FANGXUN, "monitoring", "sl651-register", f"{n:010d}", f"SL00{n}",
             "--element", "VT=", "--element", "P1="],
            env=env, check=True, capture_output=True, timeout=120,
        )  # fmt: skip
    refused = subprocess.run(
        [FANGXUN, "monitoring", "sl651-register", "12AB", "SL001"],
        env=env, capture_output=True, timeout=120, text=True,
    )  # fmt: skip
    assert refused.returncode == 2 and "10 digits" in refused.stderr
    with session_scope(sqlite_engine) as session:
        regs = list(session.scalars(select(Sl651Station).order_by(Sl651Station.address)))
        assert [r.address for r in regs] == ["0000000001", "0000000002"]
        assert regs[0].elements == {"VT": None, "P1": None}

    port = free_port()
    log = (tmp_path / "ingest.log").open("wb")
    server = subprocess.Popen(
        [FANGXUN, "ingest", "sl651", "--host", "127.0.0.1", "--port", str(port), "--report-s", "0"],
        env=env, stdout=log, stderr=log,
    )  # fmt: skip
    try:
        wait_port(port, timeout_s=120)
        rtu = subprocess.run(
            [FANGXUN, "demo", "rtu", "--port", str(port), "--stations", "2", "--reports", "6",
             "--interval", "0", "--encoding", "both"],
            env=env, capture_output=True, text=True, timeout=180,
        )  # fmt: skip
        assert rtu.returncode == 0, rtu.stderr
        assert "12 reports sent, 12 acknowledged" in rtu.stdout
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
        log.close()
    assert server.returncode == 0, (tmp_path / "ingest.log").read_text()[-3000:]
    with session_scope(sqlite_engine) as session:
        dead = list(session.scalars(select(DeadLetter.reason)))
        rows = session.scalar(select(func.count()).select_from(Observation)) or 0
    assert dead == []
    # 6 reports × (rain, accumulated, level) per RTU, plus the hourly series' earlier points when
    # a report falls on the hour.
    assert rows >= 2 * 6 * 3
