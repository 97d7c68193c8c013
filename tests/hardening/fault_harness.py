"""Helpers of the fault tests (tests/hardening/test_hardening_faults.py): a private PostgreSQL
cluster and a private Mosquitto broker that a test may restart without disturbing the shared
services (or any test running beside it), the Fangxun services as child processes with their
logs in files, a webhook receiver that honours ``Idempotency-Key``, and a numbered QoS 1
publisher.

Private servers, not the shared ones: restarting the shared PostgreSQL on 5432 would break
every test running at that moment under xdist, and the other engineers' work on this machine.
The binaries are the same Debian packages the shared services run.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest

from service_processes import free_port, wait_port

#: Longest time the webhook receiver holds a request for the test, s.
HOLD_MAX_S = 30.0
#: The services, each its ``fangxun`` command's own Typer (sub-)app run directly: the same code
#: as ``fangxun ingest`` / ``fangxun warnings evaluate`` / ``fangxun notify send``, without the
#: seconds of start-up that importing every other command costs (a restart is a start).
INGEST_CMD = [
    sys.executable, "-c",
    "import typer; from fangxun.cli.monitoring import ingest; typer.run(ingest)",
]  # fmt: skip
WARNINGS_CMD = [sys.executable, "-c", "from fangxun.cli.warnings import app; app()"]
NOTIFY_CMD = [sys.executable, "-c", "from fangxun.cli.notify import app; app()"]


def wait_until(check: Callable[[], bool], what: str, timeout_s: float = 60.0) -> None:
    """Poll ``check`` every 0.2 s until it is true; fail saying ``what`` did not happen."""
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")
        time.sleep(0.2)


# --- PostgreSQL ---------------------------------------------------------------------------------


def _pg_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    if found:
        return Path(found[-1]).parent
    pg_ctl = shutil.which("pg_ctl")
    return Path(pg_ctl).parent if pg_ctl else None


class PrivatePostgres:
    """A throw-away PostgreSQL cluster on a free port (``initdb`` in a temporary folder, trust
    authentication on loopback, user ``postgres``). As root the server runs as the ``postgres``
    user, since PostgreSQL refuses to run as root."""

    def __init__(self) -> None:
        bin_dir = _pg_bin()
        if bin_dir is None or not (bin_dir / "initdb").exists():
            pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
        self.bin = bin_dir
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            runuser = shutil.which("runuser")
            if runuser is None:
                pytest.skip("running as root needs runuser to start PostgreSQL as 'postgres'")
            self.as_user = [runuser, "-u", "postgres", "--"]
        # Not under pytest's tmp_path: its parents are private to root, and 'postgres' must
        # reach the folder.
        self.root = Path(tempfile.mkdtemp(prefix="fx-faults-pg-", dir="/tmp"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.port = free_port()
        if self.as_user:
            shutil.chown(self.root, user="postgres")
        os.chmod(self.root, 0o755)

    def _run(self, *args: str, timeout_s: float = 60.0) -> None:
        result = subprocess.run(
            [*self.as_user, *args], capture_output=True, text=True, timeout=timeout_s
        )
        if result.returncode != 0:
            raise RuntimeError(f"{args[0]} failed: {result.stdout}{result.stderr}")

    def init(self) -> None:
        """``initdb`` (fsync off: a test cluster, thrown away afterwards)."""
        self._run(
            str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres",
            "-E", "UTF8", "--no-sync",
        )  # fmt: skip

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        opts = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-o", opts,
            "-w", "-t", "60", "start",
        )  # fmt: skip
        wait_port(self.port)

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (``fast``: roll back open transactions, close every connection)."""
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def restart(self, down_s: float) -> None:
        """Stop, stay down ``down_s`` seconds, start again."""
        self.stop()
        time.sleep(down_s)
        self.start()

    def url(self, database: str) -> str:
        """SQLAlchemy URL of ``database`` on this server."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str, *, template: str | None = None) -> None:
        """CREATE DATABASE ``name`` (a copy of ``template``, which must have no connection)."""
        sql = f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else "")
        self._run(
            str(self.bin / "psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
            "-d", "postgres", "-v", "ON_ERROR_STOP=1", "-c", sql,
        )  # fmt: skip

    def destroy(self) -> None:
        """Stop the server (immediately) and remove its folder; never raises."""
        try:
            if (self.data / "postmaster.pid").exists():
                self.stop("immediate")
        except Exception:  # clean-up must go on
            pass
        shutil.rmtree(self.root, ignore_errors=True)


# --- Mosquitto ----------------------------------------------------------------------------------


class Service:
    """A Fangxun service (``argv``) run as a child process, its output appended to ``log``."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log: Path) -> None:
        self.name = name
        self.argv = argv
        self.env = env
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        """Start the command (again)."""
        with self.log.open("ab") as fh:
            stamp = time.strftime("%H:%M:%S")
            fh.write(f"\n=== {stamp} start #{self.starts + 1} of {self.name} ===\n".encode())
            fh.flush()
            self.proc = subprocess.Popen(
                self.argv, env=self.env, stdout=fh, stderr=subprocess.STDOUT
            )
        self.starts += 1

    def kill9(self) -> None:
        """SIGKILL: no clean-up, nothing acknowledged or recorded after this instant."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(timeout=10)
            self.proc = None

    def alive(self) -> bool:
        """True while the process runs."""
        return self.proc is not None and self.proc.poll() is None

    def terminate(self) -> None:
        """SIGTERM, then SIGKILL after 10 s."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.proc = None

    def text(self) -> str:
        """Everything the process wrote so far."""
        return self.log.read_text(errors="replace") if self.log.exists() else ""


# --- webhook receiver ---------------------------------------------------------------------------


class WebhookReceiver:
    """An HTTP webhook on loopback that honours ``Idempotency-Key`` the way a real receiver does:
    every POST is answered 200 and recorded in ``raw``; a key seen before is not applied again,
    so ``applied`` holds each key once. While ``holding`` is set, the first new key is held
    unanswered until :meth:`release` (at most ``HOLD_MAX_S``): a send in flight that the test
    can hit with a fault at a moment of its choosing. ``on_request`` is told of each POST's key
    as it arrives."""

    def __init__(self) -> None:
        self.raw: list[str] = []
        self.applied: dict[str, dict[str, Any]] = {}
        self.holding = False
        self.held: list[str] = []
        self._released = threading.Event()
        self.arrived = threading.Event()
        self.on_request: Callable[[str], None] | None = None
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # the http.server API names it
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                key = self.headers.get("Idempotency-Key") or ""
                with receiver.lock:
                    receiver.raw.append(key)
                    hold = receiver.holding and key not in receiver.applied and not receiver.held
                    if key not in receiver.applied:
                        receiver.applied[key] = body
                    if hold:
                        receiver.held.append(key)
                if receiver.on_request is not None:
                    receiver.on_request(key)
                if hold:
                    receiver.arrived.set()
                    receiver._released.wait(HOLD_MAX_S)
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.end_headers()
                    self.wfile.write(b'{"ok": true}')
                except OSError:
                    pass  # the sender was killed while we held its request: nobody to answer

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def hold_next(self) -> None:
        """Hold the next new key's request unanswered until :meth:`release`."""
        with self.lock:
            self.held.clear()
            self._released.clear()
            self.arrived.clear()
            self.holding = True

    def release(self) -> None:
        """Answer the held request and hold nothing more."""
        with self.lock:
            self.holding = False
        self._released.set()

    def duplicates(self) -> dict[str, int]:
        """Keys received more than once, with how many times."""
        with self.lock:
            return {k: n for k, n in Counter(self.raw).items() if n > 1}

    def close(self) -> None:
        """Stop serving."""
        self.release()
        self.server.shutdown()
        self.server.server_close()


# --- publisher ----------------------------------------------------------------------------------


class NumberedPublisher:
    """A QoS 1 publisher with a persistent session that reconnects by itself (paho's network
    thread, 1–2 s backoff) and resends what the broker has not acknowledged."""

    def __init__(self, port: int, client_id: str) -> None:
        self.client = mqtt.Client(
            callback_api_version=mqtt.CallbackAPIVersion.VERSION2,
            client_id=client_id,
            clean_session=False,
        )
        self.client.max_inflight_messages_set(200)
        self.client.max_queued_messages_set(0)
        self.client.reconnect_delay_set(min_delay=1, max_delay=2)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def publish(self, topic: str, payload: str) -> None:
        """Publish (or queue while disconnected) one message."""
        self.client.publish(topic, payload, qos=1)

    def close(self) -> None:
        """Disconnect and stop the network thread."""
        self.client.disconnect()
        self.client.loop_stop()
