"""Local receivers for the notification integration tests: a threaded HTTP server on loopback
(webhook and robot endpoints) and an aiosmtpd SMTP server. Both record every message raw and
dedupe by the delivery key (``Idempotency-Key`` header / ``Message-ID``), as a real receiver
should; either can hold its reply at the n-th message until released, so a test can kill the
sender after the message arrived and before it learnt so."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller


@dataclass
class Recorder:
    """Raw arrivals and the keys seen; ``hold_at`` holds the reply to that arrival (1-based)."""

    raw: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    hold_at: int | None = None
    held: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    fail_first: int = 0  # answer this many requests with ``fail_status``
    fail_status: int = 500
    lock: threading.Lock = field(default_factory=threading.Lock)

    def arrive(self, key: str, body: dict[str, Any]) -> tuple[int, bool]:
        """Record an arrival; returns (its 1-based number, whether to hold the reply)."""
        with self.lock:
            self.raw.append((key, body))
            n = len(self.raw)
        return n, self.hold_at is not None and n == self.hold_at

    @property
    def accepted(self) -> dict[str, dict[str, Any]]:
        """The arrivals a deduping receiver accepts: the first per key."""
        out: dict[str, dict[str, Any]] = {}
        for key, body in self.raw:
            out.setdefault(key, body)
        return out


@contextmanager
def http_receiver(recorder: Recorder) -> Iterator[str]:
    """Serve on 127.0.0.1 (a free port) and yield the base URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            payload = json.loads(self.rfile.read(length) or b"{}")
            key = self.headers.get("Idempotency-Key", "")
            body = {"path": self.path, "json": payload}
            n, hold = recorder.arrive(key, body)
            if hold:
                recorder.held.set()
                recorder.release.wait(60)
            status = recorder.fail_status if n <= recorder.fail_first else 200
            reply = json.dumps({"errcode": 0, "errmsg": "ok"}).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the sender was killed while we held the reply: that is the test

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        recorder.release.set()
        server.shutdown()
        server.server_close()


class _SmtpHandler:
    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        mail = message_from_bytes(envelope.content, policy=policy.default)
        body = {"to": list(envelope.rcpt_tos), "subject": str(mail["Subject"])}
        _n, hold = self.recorder.arrive(str(mail["Message-ID"]), body)
        if hold:
            self.recorder.held.set()
            await asyncio.get_running_loop().run_in_executor(None, self.recorder.release.wait, 60)
        return "250 Message accepted for delivery"


@contextmanager
def smtp_receiver(recorder: Recorder) -> Iterator[int]:
    """An SMTP server on 127.0.0.1 (a free port); yields the port."""
    with socket.socket() as probe:  # a free port (aiosmtpd needs one named up front)
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    controller = Controller(_SmtpHandler(recorder), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port
    finally:
        recorder.release.set()
        controller.stop()
