"""API load benchmark: the one map's data under a storm-day request rate.

    .venv/bin/python benchmarks/api_load.py [--rate 200] [--duration 120] [--points 5000]
        [--stations 500] [--workers 1] [--database-url URL] [--no-save]

Builds a fresh PostgreSQL schema (default: ``FANGXUN_TEST_POSTGRES_URL``, else
``postgresql+psycopg://postgres@127.0.0.1:5432/test``), loads the demo district and scales it to
``--points`` hazard points and ``--stations`` stations (copies of the demo's, spread over the
district, each station's datastreams carrying a latest value), starts ``uvicorn`` on it as its own
process, and sends an open-loop request stream at ``--rate`` requests/s for ``--duration`` s
(httpx, asyncio; requests are started on schedule whether or not earlier ones have returned, so a
slow server shows as latency, not as a lower rate). The mix, in turn:

* ``/hazards/points.geojson`` — the map's hazard-point layer (all points, web session cookie);
* ``/api/v1/monitoring/stations`` — stations with their latest values (GeoJSON);
* ``/api/v1/monitoring/latest`` — the latest value of every datastream;
* ``/api/v1/warnings`` — the active warnings.

Reports p50/p95/p99/max latency (ms) and errors (non-2xx or transport failures) overall and per
endpoint, the achieved rate and the 1-minute load average before and after (the machine may be
shared), to ``benchmarks/results/api_load.json`` (runs appended). Target: p99 ≤ 100 ms, 0 errors.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import random
import re
import socket
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import insert, select
from sqlalchemy.engine import make_url

from fangxun.config import load_settings
from fangxun.db import make_engine, session_scope
from fangxun.db.migrate import upgrade_engine
from fangxun.db.types import utcnow
from fangxun.demo.org_seed import load_demo
from fangxun.hazards.models import HazardPoint
from fangxun.monitoring.models import Datastream, Station

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "api_load.json"
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
USERNAME, PASSWORD = "district", "district-demo"
ENDPOINTS = (
    "/hazards/points.geojson",
    "/api/v1/monitoring/stations",
    "/api/v1/monitoring/latest",
    "/api/v1/warnings",
)
#: How long after the last request was sent the benchmark waits for the stragglers, s.
GRACE_S = 15.0
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _schema_url(base: str, schema: str) -> str:
    return (
        make_url(base)
        .update_query_dict({"options": f"-csearch_path={schema}"})
        .render_as_string(hide_password=False)
    )


def _clone_rows(session: Any, model: Any, target: int, rng: random.Random, tag: str) -> list[int]:
    """Copy ``model`` rows (jittered lon/lat, new codes) until there are ``target``; new ids."""
    table = model.__table__
    rows = [dict(r._mapping) for r in session.execute(select(table))]
    if not rows:
        raise SystemExit(f"the demo has no {table.name} rows to scale")
    new: list[dict[str, Any]] = []
    for i in range(max(0, target - len(rows))):
        row = dict(rows[i % len(rows)])
        row.pop("id")
        row["code"] = f"{tag}{i:05d}"
        row["lon"] += rng.uniform(-0.03, 0.03)
        row["lat"] += rng.uniform(-0.02, 0.02)
        if "hazard_point_id" in row:
            row["hazard_point_id"] = None
        new.append(row)
    ids: list[int] = []
    for start in range(0, len(new), 1000):
        result = session.execute(insert(table).returning(table.c.id), new[start : start + 1000])
        ids.extend(result.scalars())
    return ids


def build_database(url: str, points: int, stations: int) -> dict[str, int]:
    """Migrate, load the demo and scale it; returns the row counts."""
    engine = make_engine(url)
    settings = load_settings(environment="demo", database_url=url)
    rng = random.Random(20210720)
    try:
        upgrade_engine(engine)
        with session_scope(engine) as session:
            load_demo(session=session, settings=settings, write_terrain=False)
        with session_scope(engine) as session:
            _clone_rows(session, HazardPoint, points, rng, "LP")
            station_rows = {
                r.id: r for r in session.scalars(select(Station))
            }  # the demo's, with datastreams
            template_streams = [
                dict(r._mapping) for r in session.execute(select(Datastream.__table__))
            ]
            by_station: dict[int, list[dict[str, Any]]] = {}
            for stream in template_streams:
                by_station.setdefault(stream["station_id"], []).append(stream)
            source_ids = [sid for sid in station_rows if sid in by_station]
            new_station_ids = _clone_rows(session, Station, stations, rng, "LS")
            now = utcnow()
            streams: list[dict[str, Any]] = []
            for n, sid in enumerate(new_station_ids):
                for stream in by_station[source_ids[n % len(source_ids)]]:
                    row = dict(stream)
                    row.pop("id")
                    row["station_id"] = sid
                    row["code"] = f"LS{n:05d}-{stream['code']}"[:64]
                    row["last_time"], row["last_value"], row["last_flags"] = now, 0.01, 0
                    streams.append(row)
            for start in range(0, len(streams), 1000):
                session.execute(insert(Datastream.__table__), streams[start : start + 1000])
        with session_scope(engine) as session:
            from sqlalchemy import func

            return {
                "hazard_points": session.scalar(select(func.count()).select_from(HazardPoint)) or 0,
                "stations": session.scalar(select(func.count()).select_from(Station)) or 0,
                "datastreams": session.scalar(select(func.count()).select_from(Datastream)) or 0,
            }
    finally:
        engine.dispose()


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(q / 100.0 * (len(ordered) - 1))))
    return ordered[k]


def _summary(latencies: list[float], errors: int) -> dict[str, Any]:
    ms = [v * 1000.0 for v in latencies]
    return {
        "requests": len(ms) + errors,
        "errors": errors,
        "p50_ms": round(_percentile(ms, 50), 1),
        "p95_ms": round(_percentile(ms, 95), 1),
        "p99_ms": round(_percentile(ms, 99), 1),
        "max_ms": round(max(ms), 1) if ms else None,
        "mean_ms": round(statistics.fmean(ms), 1) if ms else None,
    }


async def _login(client: httpx.AsyncClient) -> dict[str, str]:
    page = await client.get("/login")
    match = CSRF_RE.search(page.text)
    assert match, "no csrf_token on the login page"
    response = await client.post(
        "/login",
        data={"username": USERNAME, "password": PASSWORD, "csrf_token": match.group(1)},
    )
    if response.status_code not in (200, 303):
        raise SystemExit(f"web login failed: {response.status_code}")
    token = await client.post(
        "/api/v1/auth/token", data={"username": USERNAME, "password": PASSWORD}
    )
    token.raise_for_status()
    return {"Authorization": f"Bearer {token.json()['access_token']}"}


async def run_load(base_url: str, rate: float, duration: float) -> dict[str, Any]:
    """Open-loop load at ``rate`` requests/s for ``duration`` s; latencies per endpoint."""
    limits = httpx.Limits(max_connections=400, max_keepalive_connections=400)
    async with httpx.AsyncClient(base_url=base_url, timeout=10.0, limits=limits) as client:
        headers = await _login(client)
        sizes = {}
        for path in ENDPOINTS:  # warm-up, and one look at each response
            response = await client.get(path, headers=headers)
            if response.status_code != 200:
                raise SystemExit(f"{path}: {response.status_code} {response.text[:200]}")
            sizes[path] = len(response.content)
        latencies: dict[str, list[float]] = {p: [] for p in ENDPOINTS}
        errors: dict[str, int] = dict.fromkeys(ENDPOINTS, 0)
        error_samples: list[str] = []

        async def one(path: str) -> None:
            started = time.perf_counter()
            try:
                response = await client.get(path, headers=headers)
                await response.aread()
            except httpx.HTTPError as exc:
                errors[path] += 1
                if len(error_samples) < 10:
                    error_samples.append(f"{path}: {type(exc).__name__}")
                return
            elapsed = time.perf_counter() - started
            if response.status_code != 200:
                errors[path] += 1
                if len(error_samples) < 10:
                    error_samples.append(f"{path}: HTTP {response.status_code}")
            else:
                latencies[path].append(elapsed)

        tasks: list[asyncio.Task[None]] = []
        total = int(rate * duration)
        t0 = time.perf_counter()
        for i in range(total):
            delay = t0 + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(ENDPOINTS[i % len(ENDPOINTS)])))
        sent_s = time.perf_counter() - t0
        # Requests still open GRACE_S after the last one was sent count as errors (not answered).
        _done, pending = await asyncio.wait(tasks, timeout=GRACE_S)
        for task in pending:
            task.cancel()
        unanswered = len(pending)
        if unanswered:
            error_samples.append(
                f"{unanswered} requests unanswered {GRACE_S} s after the last send"
            )
        wall_s = time.perf_counter() - t0
    every = [v for values in latencies.values() for v in values]
    return {
        "overall": _summary(every, sum(errors.values()) + unanswered),
        "unanswered": unanswered,
        "per_endpoint": {
            p: _summary(latencies[p], errors[p]) | {"bytes": sizes[p]} for p in ENDPOINTS
        },
        "achieved_rate_per_s": round(total / sent_s, 1),
        "wall_s": round(wall_s, 1),
        "error_samples": error_samples,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=200.0, help="requests per second")
    parser.add_argument("--duration", type=float, default=120.0, help="seconds of load")
    parser.add_argument("--points", type=int, default=5000)
    parser.add_argument("--stations", type=int, default=500)
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument(
        "--database-url", default=os.environ.get("FANGXUN_TEST_POSTGRES_URL") or DEFAULT_PG
    )
    parser.add_argument("--no-save", action="store_true", help="do not write the results file")
    parser.add_argument(
        "--keep-schema",
        metavar="NAME",
        help="build into (or reuse) this schema and keep it afterwards (profiling)",
    )
    args = parser.parse_args()

    schema = args.keep_schema or f"fx_bench_{uuid.uuid4().hex[:10]}"
    admin = make_engine(args.database_url)
    with admin.begin() as conn:
        exists = conn.exec_driver_sql(
            "SELECT 1 FROM information_schema.schemata WHERE schema_name = %s", (schema,)
        ).first()
        if not exists:
            conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    url = _schema_url(args.database_url, schema)
    server: subprocess.Popen[bytes] | None = None
    try:
        t = time.perf_counter()
        counts = {"reused_schema": 1} if exists else build_database(url, args.points, args.stations)
        print(f"database ready in {time.perf_counter() - t:.1f} s: {counts}", flush=True)
        port = _free_port()
        env = dict(os.environ)
        env |= {
            "FANGXUN_DATABASE_URL": url,
            "FANGXUN_ENVIRONMENT": "demo",
            "FANGXUN_SECRET_KEY": uuid.uuid4().hex * 2,
        }
        server = subprocess.Popen(
            [
                sys.executable, "-m", "uvicorn", "--factory", "fangxun.api.app:create_app",
                "--host", "127.0.0.1", "--port", str(port), "--workers", str(args.workers),
                "--log-level", "warning", "--no-access-log",
            ],
            env=env,
            cwd=ROOT,
        )  # fmt: skip
        base = f"http://127.0.0.1:{port}"
        for _ in range(300):
            try:
                if httpx.get(base + "/api/v1/health", timeout=1.0).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        else:
            raise SystemExit("the server did not start")
        load_before = os.getloadavg()
        figures = asyncio.run(run_load(base, args.rate, args.duration))
        load_after = os.getloadavg()
    finally:
        if server is not None:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
        if not args.keep_schema:
            with admin.begin() as conn:
                conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        admin.dispose()
    overall = figures["overall"]
    result = {
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "host": platform.node(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "database": "postgresql",
        "workers": args.workers,
        "rate_per_s": args.rate,
        "duration_s": args.duration,
        "data": counts,
        "load_average_1m_before": round(load_before[0], 2),
        "load_average_1m_after": round(load_after[0], 2),
        "target": {"p99_ms": 100, "errors": 0},
        "meets_target": bool(overall["errors"] == 0 and overall["p99_ms"] <= 100),
        **figures,
    }
    print(json.dumps(result, indent=2, ensure_ascii=False))
    if not args.no_save:
        runs = json.loads(RESULTS.read_text()) if RESULTS.exists() else []
        runs.append(result)
        RESULTS.write_text(json.dumps(runs, indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
