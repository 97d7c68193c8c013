"""Ingest benchmark: a sustained stream of observations through Mosquitto (or SL 651 over TCP)
into the database.

    .venv/bin/python benchmarks/ingest.py [--n 60000] [--per-message 1] [--rate 0]
        [--broker private|shared] [--database-url URL]
    .venv/bin/python benchmarks/ingest.py --transport sl651 [--n 30000] [--streams 100]

Starts ``fangxun ingest`` as its own process on a fresh PostgreSQL schema (default: the URL in
``FANGXUN_TEST_POSTGRES_URL``, else ``postgresql+psycopg://postgres@127.0.0.1:5432/test``), with a
network of 100 datastreams, publishes ``--n`` observations at QoS 1 (``--per-message``
observations per MQTT message; ``--rate`` observations per second, 0 = as fast as the publisher
goes), and measures committed observations per second in the database (first publish to last
commit) and the loss count (published − stored after the stream settles).

Each message carries observations of one station only, published on that station's topic, as a
telemetry unit sends them (a station may write only its own datastreams). The run fails (exit 1)
when anything is lost or lands in the dead letters, printing the first reasons.

``--transport sl651`` runs ``fangxun ingest sl651`` instead, with ``--streams`` simulated RTUs
(:mod:`fangxun.monitoring.ingest.sl651_rtu`, HEX frames) sending ``--n`` reports in all as fast
as they go, and measures reports (frames) per second decoded, committed and acknowledged, and
observations per second stored.

``--broker private`` (default) runs the real Mosquitto binary on a free port with
``max_queued_messages`` raised for a persistent-session consumer (the deployment setting);
``--broker shared`` uses the machine's broker on 127.0.0.1:1883 with its own configuration.
Results go to ``benchmarks/results/ingest.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from fangxun.audit.service import SystemActor
from fangxun.db import make_engine, session_scope
from fangxun.db.migrate import upgrade_engine
from fangxun.monitoring import service
from fangxun.monitoring.ingest.mqtt import TOPIC, station_topic
from fangxun.monitoring.ingest.sl651_ingest import register_station
from fangxun.monitoring.models import DeadLetter, Observation, StationKind
from fangxun.monitoring.schemas import DatastreamCreate, StationCreate

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "ingest.json"
FANGXUN = str(Path(sys.executable).parent / "fangxun")
SYSTEM = SystemActor(username="benchmark")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_port(port: int, what: str = "broker", timeout_s: float = 10.0) -> None:
    for _ in range(int(timeout_s / 0.05)):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"{what} did not start on port {port}")


def _start_broker(folder: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = _free_port()
    conf = folder / "mosquitto.conf"
    conf.write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous true\nuser {getpass.getuser()}\n"
        f"persistence true\npersistence_location {folder}/\nmax_queued_messages 1000000\n"
        f"log_dest file {folder}/mosquitto.log\n"
    )
    mosquitto = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    proc = subprocess.Popen([mosquitto, "-c", str(conf)])
    _wait_port(port)
    return proc, port


def _network(url: str, n_streams: int) -> list[tuple[str, str]]:
    engine = make_engine(url)
    upgrade_engine(engine)
    codes = []
    with session_scope(engine) as session:
        service.ensure_observed_properties(session=session)
        for i in range(n_streams):
            st = f"B{i:03d}"
            service.create_station(
                session=session,
                station_in=StationCreate(
                    code=st, name_zh=st, kind=StationKind.ponding, lon=113.5 + i * 1e-3, lat=34.8
                ),
                actor=SYSTEM,
            )
            service.create_datastream(
                session=session,
                datastream_in=DatastreamCreate(
                    code=f"{st}-depth", name=st, station_code=st,
                    observed_property="ponding_depth", unit="cm",
                ),
                actor=SYSTEM,
            )  # fmt: skip
            codes.append((st, f"{st}-depth"))
    engine.dispose()
    return codes


def _sl651_network(url: str, n_stations: int) -> None:
    """Stations with 5-min rain, accumulated rain and level, each mapped to SL 651 address i+1."""
    engine = make_engine(url)
    upgrade_engine(engine)
    with session_scope(engine) as session:
        service.ensure_observed_properties(session=session)
        for i in range(n_stations):
            st = f"S{i:03d}"
            service.create_station(
                session=session,
                station_in=StationCreate(
                    code=st, name_zh=st, kind=StationKind.river_gauge, lon=113.5, lat=34.8
                ),
                actor=SYSTEM,
            )
            for code, prop, unit, interval in (
                (f"{st}-rain5", "rainfall", "mm", 300),
                (f"{st}-pt", "rainfall_accumulated", "mm", None),
                (f"{st}-z", "river_level", "m", None),
            ):
                service.create_datastream(
                    session=session,
                    datastream_in=DatastreamCreate(
                        code=code, name=code, station_code=st, observed_property=prop,
                        unit=unit, interval_s=interval,
                    ),
                    actor=SYSTEM,
                )  # fmt: skip
            register_station(
                session=session, address=f"{i + 1:010d}", station_code=st,
                elements={"VT": None, "P1": None},
            )  # fmt: skip
    engine.dispose()


def _dead_letters(engine: Any) -> tuple[int, list[str]]:
    with engine.connect() as conn:
        n = int(conn.execute(select(func.count()).select_from(DeadLetter)).scalar_one())
        reasons = [r for (r,) in conn.execute(select(DeadLetter.reason).limit(5))]
    return n, reasons


def _create_session(port: int, client_id: str) -> None:
    """Create the ingest's persistent session with its subscription before anything is
    published, as a deployment does once; otherwise the first messages have no subscriber."""
    subscribed = threading.Event()
    client = mqtt.Client(
        callback_api_version=mqtt.CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=mqtt.MQTTv5,
    )
    client.on_subscribe = lambda *_a: subscribed.set()
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = 3600
    client.connect("127.0.0.1", port, clean_start=True, properties=props)
    client.loop_start()
    client.subscribe(TOPIC, qos=1)
    if not subscribed.wait(10):
        raise SystemExit("could not subscribe the ingest session")
    client.disconnect()
    client.loop_stop()


def _count(engine: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(Observation)).scalar_one())


def _save(result: dict[str, Any], no_save: bool) -> None:
    if no_save:
        return
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    runs = json.loads(RESULTS.read_text()) if RESULTS.exists() else []
    runs.append(result)
    RESULTS.write_text(json.dumps(runs, indent=2) + "\n")


def _fail_loudly(result: dict[str, Any], reasons: list[str]) -> None:
    """Exit 1 when anything was lost or dead-lettered: a throughput with losses is no result."""
    problems = []
    if result["lost"]:
        problems.append(f"{result['lost']} observations lost")
    if result["dead_letters"]:
        problems.append(f"{result['dead_letters']} dead letters, e.g. {reasons}")
    if problems:
        print("BENCHMARK FAILED: " + "; ".join(problems), file=sys.stderr)
        raise SystemExit(1)


def _run_sl651(args: argparse.Namespace, url: str, tmp: Path) -> None:
    """SL 651 case: ``fangxun ingest sl651`` as its own process, RTUs simulated here."""
    import asyncio

    from fangxun.monitoring.ingest.sl651_rtu import make_rtus, run_rtus

    _sl651_network(url, args.streams)
    port = _free_port()
    env = os.environ | {"FANGXUN_DATABASE_URL": url, "FANGXUN_ENVIRONMENT": "test"}
    log = (tmp / "ingest.log").open("wb")
    command = [FANGXUN, "ingest", "sl651", "--host", "127.0.0.1", "--port", str(port),
               "--report-s", "0", "--log-level", args.log_level]  # fmt: skip
    ingest = subprocess.Popen(command, env=env, stdout=log, stderr=log)
    try:
        _wait_port(port, "fangxun ingest sl651", timeout_s=120.0)
        per_rtu = max(1, args.n // args.streams)
        now = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)
        first = now - dt.timedelta(minutes=5 * per_rtu + 5)
        first -= dt.timedelta(minutes=first.minute % 5)
        rtus = make_rtus(args.streams, start=first, reports=per_rtu)
        start = time.perf_counter()
        asyncio.run(run_rtus(rtus, "127.0.0.1", port, interval_s=0.0))
        elapsed = time.perf_counter() - start
        engine = make_engine(url)
        stored = _count(engine)
        dead, reasons = _dead_letters(engine)
        engine.dispose()
        reports = sum(r.acked for r in rtus)
        # Every report carries PN05 (or DRP on the hour), PT and Z; the expected total comes from
        # the simulator's reports, not from what the server did.
        expected = 0
        for rtu in rtus:
            twin = type(rtu)(rtu.config, rtu.start, rtu.count)
            keys = set()
            for k in range(rtu.count):
                _, rep = twin.report(k)
                assert rep.observed_at is not None
                for el in rep.elements:
                    if el.id in ("PN05", "PT", "Z"):
                        keys.add((el.id, rep.observed_at))
                    elif el.id in ("DRP", "DRZ1"):
                        for i in range(12):
                            t = rep.observed_at - dt.timedelta(minutes=5 * (11 - i))
                            keys.add(("PN05" if el.id == "DRP" else "Z", t))
            expected += len(keys)
        result = {
            "transport": "sl651",
            "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "machine": f"{platform.node()} {platform.machine()} {os.cpu_count()} CPUs",
            "database": "postgresql",
            "rtus": args.streams,
            "published": per_rtu * args.streams,
            "acknowledged": reports,
            "stored": stored,
            "expected_observations": expected,
            "lost": expected - stored,
            "dead_letters": dead,
            "elapsed_s": round(elapsed, 3),
            "frames_per_s": round(reports / elapsed, 1),
            "committed_per_s": round(stored / elapsed, 1),
            "load_average_1m": round(os.getloadavg()[0], 2),
        }
        print(json.dumps(result, indent=2))
        if expected != stored or args.keep_log:
            log.flush()
            print("ingest log tail:\n" + (tmp / "ingest.log").read_text()[-6000:])
        _save(result, args.no_save)
        _fail_loudly(result, reasons)
    finally:
        ingest.send_signal(signal.SIGTERM)
        ingest.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=60_000, help="observations to publish")
    parser.add_argument("--per-message", type=int, default=1, help="observations per message")
    parser.add_argument("--rate", type=float, default=0.0, help="obs/s to publish (0: max)")
    parser.add_argument("--streams", type=int, default=100, help="datastreams in the network")
    parser.add_argument("--broker", choices=["private", "shared"], default="private")
    parser.add_argument("--transport", choices=["mqtt", "sl651"], default="mqtt")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("FANGXUN_TEST_POSTGRES_URL")
        or "postgresql+psycopg://postgres@127.0.0.1:5432/test",
    )
    parser.add_argument("--settle-s", type=float, default=30.0, help="wait for stragglers, s")
    parser.add_argument("--log-level", default="info", help="ingest log level")
    parser.add_argument("--keep-log", action="store_true", help="print the ingest log")
    parser.add_argument("--no-save", action="store_true", help="do not write the results file")
    args = parser.parse_args()

    schema = f"fx_bench_{uuid.uuid4().hex[:12]}"
    admin = make_engine(args.database_url)
    with admin.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    url = (
        make_url(args.database_url)
        .update_query_dict({"options": f"-csearch_path={schema}"})
        .render_as_string(hide_password=False)
    )
    tmp = Path(tempfile.mkdtemp(prefix="fangxun-bench-"))
    broker: subprocess.Popen[bytes] | None = None
    ingest: subprocess.Popen[bytes] | None = None
    try:
        if args.transport == "sl651":
            _run_sl651(args, url, tmp)
            return
        codes = _network(url, args.streams)
        if args.broker == "private":
            broker, port = _start_broker(tmp)
        else:
            port = 1883
        client_id = f"bench-ingest-{uuid.uuid4().hex[:8]}"
        env = os.environ | {
            "FANGXUN_DATABASE_URL": url,
            "FANGXUN_ENVIRONMENT": "test",
            "FANGXUN_MQTT_PORT": str(port),
            "FANGXUN_MQTT_CLIENT_ID": client_id,
        }
        _create_session(port, client_id)
        log = (tmp / "ingest.log").open("wb")
        command = [FANGXUN, "ingest", "--report-s", "0", "--log-level", args.log_level]
        ingest = subprocess.Popen(command, env=env, stdout=log, stderr=log)
        engine = make_engine(url)

        pub = mqtt.Client(
            callback_api_version=mqtt.CallbackAPIVersion.VERSION2,
            client_id=f"bench-pub-{uuid.uuid4().hex[:8]}",
        )
        pub.max_inflight_messages_set(1000)
        pub.max_queued_messages_set(0)
        pub.connect("127.0.0.1", port)
        pub.loop_start()
        base = dt.datetime(2026, 11, 20, tzinfo=dt.UTC)
        start = time.perf_counter()
        infos = []
        sent = 0
        k = 0
        next_t = [0] * len(codes)  # per station: seconds after base of its next observation
        while sent < args.n:
            # One message = observations of ONE station, on its own topic (a telemetry unit
            # batches its own readings; another station's datastream would be a dead letter).
            i = k % len(codes)
            station, code = codes[i]
            batch = []
            for _ in range(min(args.per_message, args.n - sent)):
                t = base + dt.timedelta(seconds=next_t[i])
                next_t[i] += 1
                batch.append({"datastream": code, "time": t.isoformat(), "value": sent % 50})
                sent += 1
            payload = json.dumps(batch[0] if len(batch) == 1 else batch)
            infos.append(pub.publish(station_topic(station), payload, qos=1))
            k += 1
            if args.rate > 0:
                ahead = sent / args.rate - (time.perf_counter() - start)
                if ahead > 0:
                    time.sleep(ahead)
        for info in infos:
            info.wait_for_publish(timeout=120)
        published_s = time.perf_counter() - start
        last_change = time.perf_counter()
        stored = _count(engine)
        while stored < args.n and time.perf_counter() - last_change < args.settle_s:
            time.sleep(0.05)
            now_count = _count(engine)
            if now_count != stored:
                stored, last_change = now_count, time.perf_counter()
        elapsed = last_change - start
        pub.disconnect()
        pub.loop_stop()
        dead, reasons = _dead_letters(engine)
        engine.dispose()
        result = {
            "transport": "mqtt",
            "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "machine": f"{platform.node()} {platform.machine()} {os.cpu_count()} CPUs",
            "broker": args.broker,
            "database": "postgresql",
            "published": args.n,
            "per_message": args.per_message,
            "target_rate": args.rate,
            "stored": stored,
            "lost": args.n - stored,
            "dead_letters": dead,
            "publish_s": round(published_s, 3),
            "elapsed_s": round(elapsed, 3),
            "committed_per_s": round(stored / elapsed, 1),
            # The machine is shared: a load average above the CPU count means contention.
            "load_average_1m": round(os.getloadavg()[0], 2),
        }
        print(json.dumps(result, indent=2))
        if stored < args.n or args.keep_log:
            log.flush()
            print("ingest log tail:\n" + (tmp / "ingest.log").read_text()[-6000:])
        _save(result, args.no_save)
        _fail_loudly(result, reasons)
    finally:
        if ingest is not None:
            ingest.send_signal(signal.SIGTERM)
            ingest.wait(timeout=20)
        if broker is not None:
            broker.terminate()
            broker.wait(timeout=10)
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        admin.dispose()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
