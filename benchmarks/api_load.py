"""API load benchmark: the one map's data under a storm-day request rate.

    .venv/bin/python benchmarks/api_load.py [--rate 200] [--duration 120] [--points 5000]
        [--stations 500] [--warnings 30] [--workers 2] [--connections 16] [--if-none-match]
        [--identity] [--database-url URL] [--no-save]

Builds a fresh PostgreSQL schema (default: ``FANGXUN_TEST_POSTGRES_URL``, else
``postgresql+psycopg://postgres@127.0.0.1:5432/test``), loads the demo district and scales it to
``--points`` hazard points and ``--stations`` stations (copies of the demo's, spread over the
district, each station's datastreams carrying a latest value) with ``--warnings`` active
warnings at hazard points, starts ``uvicorn`` on it as its own process (``--workers`` worker
processes, the app's own response cache at its default TTL), logs in once (web session cookie
and API bearer token) and drives it with **wrk** (C, epoll; Debian's ``/usr/bin/wrk``), so the
load generator costs the 2-core machine little (its CPU time is reported).

The mix: one wrk process per endpoint, each paced to ``rate / 4`` requests/s by
``benchmarks/api_load.lua`` (send slots 1/rate apart handed to ``--connections`` keep-alive
connections; wrk is closed loop, so the achieved rate is reported and must reach ``--rate``):

* ``/hazards/points.geojson`` — the map's hazard-point layer (all points, session cookie);
* ``/api/v1/monitoring/stations`` — stations with their latest values (GeoJSON, bearer token);
* ``/api/v1/monitoring/latest`` — the latest value of every datastream (bearer token);
* ``/api/v1/warnings`` — the active warnings (bearer token).

Every request sends ``Accept-Encoding: gzip`` as browsers do (``--identity``: not) and, by
default, **no** ``If-None-Match``: every response carries the whole (gzipped) body, the worst
case for a polling map. ``--if-none-match`` sends the ETag seen at warm-up instead, as a
polling browser does while nothing changed (answers are then 304s).

Latency is wrk's, from the write of each request to the end of its response; errors are
socket errors, timeouts (10 s) and HTTP status ≥ 400. Reports p50/p95/p99/max latency (ms),
errors and the achieved rate overall (the four histograms merged) and per endpoint, the body
sizes, the CPU seconds of server, PostgreSQL and load generator, and the 1-minute load average
before and after (the machine may be shared), to ``benchmarks/results/api_load.json`` (runs
appended). Target: p99 ≤ 100 ms, 0 errors, at the full rate.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import re
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, insert, select
from sqlalchemy.engine import make_url

from fangxun.config import load_settings
from fangxun.db import make_engine, session_scope
from fangxun.db.migrate import upgrade_engine
from fangxun.db.types import utcnow
from fangxun.demo.org_seed import load_demo
from fangxun.hazards.models import HazardPoint
from fangxun.monitoring.models import Datastream, Station
from fangxun.warnings.models import Colour, Origin, Warning, WarningKind, WarningStatus

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "api_load.json"
LUA = Path(__file__).resolve().with_suffix(".lua")
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
USERNAME, PASSWORD = "district", "district-demo"
#: The mix: path, and whether it takes the web session cookie (else the bearer token).
ENDPOINTS = (
    ("/hazards/points.geojson", True),
    ("/api/v1/monitoring/stations", False),
    ("/api/v1/monitoring/latest", False),
    ("/api/v1/warnings", False),
)
#: wrk's per-request timeout, s: slower answers count as errors.
TIMEOUT_S = 10
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
CLK_TCK = os.sysconf("SC_CLK_TCK")


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


def build_database(url: str, points: int, stations: int, warnings: int) -> dict[str, int]:
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
                session.execute(insert(Datastream), streams[start : start + 1000])
            # Active ponding warnings at the first points (a storm in progress).
            colours = list(Colour)
            rows = [
                {
                    "subject": f"ponding:point:{pid}",
                    "kind": WarningKind.ponding,
                    "colour": colours[i % len(colours)],
                    "status": WarningStatus.active,
                    "origin": Origin.rule,
                    "unit_id": unit_id,
                    "hazard_point_id": pid,
                    "place": name,
                    "evidence": {"depth_cm": 10 + i},
                    "issued_at": now,
                    "changed_at": now,
                }
                for i, (pid, unit_id, name) in enumerate(
                    session.execute(
                        select(HazardPoint.id, HazardPoint.unit_id, HazardPoint.name)
                        .order_by(HazardPoint.id)
                        .limit(warnings)
                    )
                )
            ]
            if rows:
                session.execute(insert(Warning), rows)
        with session_scope(engine) as session:
            return {
                "hazard_points": session.scalar(select(func.count()).select_from(HazardPoint)) or 0,
                "stations": session.scalar(select(func.count()).select_from(Station)) or 0,
                "datastreams": session.scalar(select(func.count()).select_from(Datastream)) or 0,
                "active_warnings": session.scalar(
                    select(func.count())
                    .select_from(Warning)
                    .where(Warning.status == WarningStatus.active)
                )
                or 0,
            }
    finally:
        engine.dispose()


def login(base_url: str) -> tuple[str, str]:
    """Log in once: the web session cookie header and the API ``Authorization`` header."""
    with httpx.Client(base_url=base_url, timeout=10.0) as client:
        page = client.get("/login")
        match = CSRF_RE.search(page.text)
        if match is None:
            raise SystemExit("no csrf_token on the login page")
        response = client.post(
            "/login",
            data={"username": USERNAME, "password": PASSWORD, "csrf_token": match.group(1)},
        )
        if response.status_code not in (200, 303):
            raise SystemExit(f"web login failed: {response.status_code}")
        cookie = "; ".join(f"{k}={v}" for k, v in client.cookies.items())
        token = client.post("/api/v1/auth/token", data={"username": USERNAME, "password": PASSWORD})
        token.raise_for_status()
    return f"Cookie: {cookie}", f"Authorization: Bearer {token.json()['access_token']}"


def _histogram_percentile(hist: list[tuple[int, int]], q: float) -> float:
    """The ``q``-th percentile (nearest rank) of a sorted ``(value, count)`` histogram."""
    total = sum(c for _v, c in hist)
    if not total:
        return float("nan")
    rank = max(1, -(-q * total // 100))  # ceil(q/100 * total), at least the first
    seen = 0
    for value, count in hist:
        seen += count
        if seen >= rank:
            return float(value)
    return float(hist[-1][0])


def _summary(
    hist: list[tuple[int, int]], completed: int, errors: int, duration_s: float
) -> dict[str, Any]:
    """Latency figures (ms) of a histogram of µs values, errors and the achieved rate."""
    hist = sorted(hist)
    answered = sum(c for _v, c in hist)
    ms = 1e-3
    return {
        "completed": completed,
        "errors": errors,
        "achieved_rate_per_s": round(completed / duration_s, 1),
        "p50_ms": round(_histogram_percentile(hist, 50) * ms, 2),
        "p95_ms": round(_histogram_percentile(hist, 95) * ms, 2),
        "p99_ms": round(_histogram_percentile(hist, 99) * ms, 2),
        "max_ms": round(hist[-1][0] * ms, 2) if hist else None,
        "mean_ms": round(sum(v * c for v, c in hist) / answered * ms, 2) if answered else None,
    }


def _tree_cpu_s(pid: int) -> float:
    """User + system CPU seconds of ``pid`` and its live descendants (from /proc)."""
    children: dict[int, list[int]] = {}
    stats: dict[int, list[str]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        stats[int(entry.name)] = fields
        children.setdefault(int(fields[1]), []).append(int(entry.name))
    total, todo = 0.0, [pid]
    while todo:
        p = todo.pop()
        if p in stats:
            total += (int(stats[p][11]) + int(stats[p][12])) / CLK_TCK
        todo.extend(children.get(p, []))
    return total


def _postgres_cpu_s() -> float:
    """User + system CPU seconds of every live ``postgres`` process on this machine (from /proc;
    other users of the same server are included)."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            head, tail = (entry / "stat").read_text().rsplit(")", 1)
        except (OSError, ValueError):
            continue
        if head.split("(", 1)[-1] == "postgres":
            fields = tail.split()
            total += (int(fields[11]) + int(fields[12])) / CLK_TCK
    return total


def probe(base_url: str, auth: dict[bool, str]) -> dict[str, dict[str, Any]]:
    """One look at each endpoint: status, body size plain and gzipped, ETag (and a warm-up)."""
    out: dict[str, dict[str, Any]] = {}
    with httpx.Client(base_url=base_url, timeout=30.0) as client:
        for path, web in ENDPOINTS:
            name, value = auth[web].split(": ", 1)
            plain = client.get(path, headers={name: value, "Accept-Encoding": "identity"})
            if plain.status_code != 200:
                raise SystemExit(f"{path}: {plain.status_code} {plain.text[:200]}")
            gz = client.get(path, headers={name: value, "Accept-Encoding": "gzip"})
            out[path] = {
                "bytes": len(plain.content),
                "bytes_gzip": int(gz.headers.get("content-length", len(gz.content))),
                "gzip": gz.headers.get("content-encoding") == "gzip",
                "etag": gz.headers.get("etag"),
            }
    return out


def run_load(
    base_url: str,
    rate: float,
    duration: float,
    connections: int,
    headers: dict[str, list[str]],
) -> dict[str, Any]:
    """Run one paced wrk process per endpoint at ``rate / len(ENDPOINTS)`` requests/s, all at
    once, for ``duration`` s; merge their histograms."""
    wrk = shutil.which("wrk")
    if wrk is None:
        raise SystemExit("wrk is not installed (apt-get install wrk; `make setup` does it)")
    per_endpoint_rate = rate / len(ENDPOINTS)
    procs: list[tuple[str, subprocess.Popen[bytes], Path]] = []
    with tempfile.TemporaryDirectory(prefix="api_load_") as tmp:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        for n, (path, _web) in enumerate(ENDPOINTS):
            out = Path(tmp) / f"wrk{n}.json"
            cmd = [
                wrk, "-t1", f"-c{connections}", f"-d{duration:g}s", f"--timeout={TIMEOUT_S}s",
                "-s", str(LUA), base_url, "--", path, f"{per_endpoint_rate:g}", *headers[path],
            ]  # fmt: skip
            env = dict(os.environ, WRK_OUT=str(out))
            procs.append((path, subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE), out))
        per_endpoint: dict[str, Any] = {}
        merged: dict[int, int] = {}
        completed = errors = 0
        longest_s = 0.0
        for path, proc, out in procs:
            stdout, _ = proc.communicate(timeout=duration + 120)
            if proc.returncode != 0 or not out.exists():
                raise SystemExit(f"wrk for {path} failed ({proc.returncode}): {stdout.decode()}")
            raw = json.loads(out.read_text())
            # The histogram holds every completed request (an HTTP error status included: wrk
            # counts those as completed *and* as errors); timeouts and socket errors are not in
            # it. With zero errors, as the target asks, the distinction is moot.
            hist = [(int(v), int(c)) for v, c in raw["histogram_us"]]
            kinds = {k: int(v) for k, v in raw["errors"].items() if v}
            duration_s = raw["duration_us"] / 1e6
            longest_s = max(longest_s, duration_s)
            summary = _summary(hist, raw["requests"], sum(kinds.values()), duration_s)
            per_endpoint[path] = summary | {"error_kinds": kinds, "bytes_received": raw["bytes"]}
            completed += raw["requests"]
            errors += sum(kinds.values())
            for v, c in hist:
                merged[v] = merged.get(v, 0) + c
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    overall = _summary(list(merged.items()), completed, errors, longest_s)
    return {
        "overall": overall,
        "per_endpoint": per_endpoint,
        "load_generator_cpu_s": round(
            (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), 1
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=200.0, help="requests per second")
    parser.add_argument("--duration", type=float, default=120.0, help="seconds of load")
    parser.add_argument("--points", type=int, default=5000)
    parser.add_argument("--stations", type=int, default=500)
    parser.add_argument("--warnings", type=int, default=30, help="active warnings")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    parser.add_argument(
        "--connections", type=int, default=16, help="keep-alive connections per endpoint"
    )
    parser.add_argument(
        "--if-none-match", action="store_true", help="send the warm-up ETag (polling clients)"
    )
    parser.add_argument("--identity", action="store_true", help="do not accept gzip")
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
        counts = (
            {"reused_schema": 1}
            if exists
            else build_database(url, args.points, args.stations, args.warnings)
        )
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
                if httpx.get(base + "/api/v1/health", timeout=1.0).status_code in (200, 503):
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        else:
            raise SystemExit("the server did not start")
        cookie, bearer = login(base)
        auth = {True: cookie, False: bearer}
        # Every worker process builds each document once before the clock starts.
        for _ in range(4 * args.workers):
            sizes = probe(base, auth)
        headers: dict[str, list[str]] = {}
        for path, web in ENDPOINTS:
            headers[path] = [
                auth[web],
                f"Accept-Encoding: {'identity' if args.identity else 'gzip'}",
            ]
            if args.if_none_match and sizes[path]["etag"]:
                headers[path].append(f"If-None-Match: {sizes[path]['etag']}")
        load_before = os.getloadavg()
        server_cpu_before, pg_cpu_before = _tree_cpu_s(server.pid), _postgres_cpu_s()
        figures = run_load(base, args.rate, args.duration, args.connections, headers)
        server_cpu_s = _tree_cpu_s(server.pid) - server_cpu_before
        pg_cpu_s = _postgres_cpu_s() - pg_cpu_before
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
    for path, info in sizes.items():
        figures["per_endpoint"][path] |= {k: info[k] for k in ("bytes", "bytes_gzip")}
    result = {
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "host": platform.node(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "database": "postgresql",
        "load_generator": "wrk (one paced process per endpoint, benchmarks/api_load.lua)",
        "workers": args.workers,
        "connections_per_endpoint": args.connections,
        "accept_encoding": "identity" if args.identity else "gzip",
        "if_none_match": args.if_none_match,
        "rate_per_s": args.rate,
        "duration_s": args.duration,
        "data": counts,
        "load_average_1m_before": round(load_before[0], 2),
        "load_average_1m_after": round(load_after[0], 2),
        "server_cpu_s": round(server_cpu_s, 1),
        # Server CPU per answered request (hits, misses and background rebuilds together), ms.
        "server_cpu_ms_per_request": round(1e3 * server_cpu_s / max(1, overall["completed"]), 2),
        "postgres_cpu_s": round(pg_cpu_s, 1),
        "response_cache_ttl_s": load_settings().response_cache_ttl_s,
        "target": {"p99_ms": 100, "errors": 0, "rate_per_s": args.rate},
        "meets_target": bool(
            overall["errors"] == 0
            and overall["p99_ms"] <= 100
            and overall["achieved_rate_per_s"] >= 0.98 * args.rate
        ),
        **figures,
    }
    print(
        f"{'endpoint':32s} {'rate/s':>7s} {'p50':>7s} {'p95':>7s} {'p99':>7s} {'max':>8s} "
        f"{'errors':>6s} {'bytes':>9s} {'gzip':>8s}"
    )
    rows = [*result["per_endpoint"].items(), ("overall", overall)]
    for path, f in rows:
        print(
            f"{path:32s} {f['achieved_rate_per_s']:7.1f} {f['p50_ms']:7.1f} {f['p95_ms']:7.1f} "
            f"{f['p99_ms']:7.1f} {f['max_ms'] or 0:8.1f} {f['errors']:6d} "
            f"{f.get('bytes', ''):>9} {f.get('bytes_gzip', ''):>8}"
        )
    print(
        f"load average (1 min) {result['load_average_1m_before']} -> "
        f"{result['load_average_1m_after']}; CPU s: server {result['server_cpu_s']}, "
        f"PostgreSQL {result['postgres_cpu_s']}, wrk {result['load_generator_cpu_s']} "
        f"(server {result['server_cpu_ms_per_request']} ms per request); "
        f"meets target: {result['meets_target']}"
    )
    if not args.no_save:
        runs = json.loads(RESULTS.read_text()) if RESULTS.exists() else []
        runs.append(result)
        RESULTS.write_text(json.dumps(runs, indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
