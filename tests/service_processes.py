"""Real service processes for tests: free ports, waiting for a port, a private Mosquitto broker.

Shared by the MQTT ingest tests (tests/monitoring) and the fault tests (tests/hardening); it lives
at the tests root so both folders can import it: the root conftest's folder is on the path.
"""

from __future__ import annotations

import getpass
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
#: The broker settings Fangxun ships (docs/operator-guide.md); test brokers run with them.
SHIPPED_CONF = Path(__file__).resolve().parents[1] / "deploy" / "mosquitto" / "fangxun.conf"


def free_port() -> int:
    """A TCP port free on loopback now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, timeout_s: float = 20.0) -> None:
    """Wait until something accepts connections on ``127.0.0.1:port``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port}")


class Broker:
    """A Mosquitto process on a free port with persistence in ``folder``.

    ``stop`` sends SIGTERM, on which the broker saves its persistent sessions and their queued
    messages, so ``restart`` keeps them.
    """

    def __init__(self, folder: Path, settings: str | None = None) -> None:
        """``settings``: broker settings besides listener, user, folders (default: the shipped
        ``deploy/mosquitto/fangxun.conf``; ``""``: Mosquitto's stock defaults)."""
        if not Path(MOSQUITTO).exists():
            pytest.skip("mosquitto is not installed")
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self.port = free_port()
        self.conf = folder / "mosquitto.conf"
        self.conf.write_text(
            f"listener {self.port} 127.0.0.1\n"
            "allow_anonymous true\n"
            # Run as whoever runs the tests (as root, mosquitto would switch to its own user and
            # could not write the test's folder).
            f"user {getpass.getuser()}\n"
            f"persistence_location {folder}/\n"
            f"log_dest file {folder}/mosquitto.log\n"
            + (SHIPPED_CONF.read_text() if settings is None else settings)
        )
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start the broker and wait for its port."""
        self.proc = subprocess.Popen([MOSQUITTO, "-c", str(self.conf)])
        wait_port(self.port)

    def stop(self) -> None:
        """SIGTERM (the broker saves its sessions) and wait; kill if it hangs."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.proc = None

    def restart(self, down_s: float = 0.0) -> None:
        """Stop, stay down ``down_s`` seconds, start again."""
        self.stop()
        time.sleep(down_s)
        self.start()
