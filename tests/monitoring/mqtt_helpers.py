"""A private Mosquitto broker per test (the real broker binary on a free loopback port, with its
own persistence folder), so tests can restart it without disturbing the shared one on 1883, and
helpers to publish and to run ``fangxun ingest`` as a separate process."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import paho.mqtt.client as mqtt

FANGXUN = str(Path(sys.executable).parent / "fangxun")


class IngestProcess:
    """``fangxun ingest`` as a child process with its log in a file."""

    def __init__(self, *, database_url: str, port: int, client_id: str, log: Path) -> None:
        self.env = os.environ | {
            "FANGXUN_DATABASE_URL": database_url,
            "FANGXUN_ENVIRONMENT": "test",
            "FANGXUN_MQTT_PORT": str(port),
            "FANGXUN_MQTT_CLIENT_ID": client_id,
        }
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        fh = self.log.open("ab")
        self.proc = subprocess.Popen(
            [FANGXUN, "ingest", "--report-s", "0"], env=self.env, stdout=fh, stderr=fh
        )
        fh.close()

    def kill(self) -> None:
        """SIGKILL: no clean shutdown, no chance to acknowledge anything."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(timeout=10)
            self.proc = None

    def terminate(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.proc = None


class Publisher:
    """A QoS 1 publisher with its own persistent session."""

    def __init__(self, port: int, client_id: str) -> None:
        self.client = mqtt.Client(
            callback_api_version=mqtt.CallbackAPIVersion.VERSION2,
            client_id=client_id,
            clean_session=False,
        )
        self.client.max_inflight_messages_set(1000)
        self.client.max_queued_messages_set(0)
        self.client.reconnect_delay_set(min_delay=1, max_delay=2)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        self.pending: list[mqtt.MQTTMessageInfo] = []

    def publish(self, topic: str, payload: bytes | str) -> None:
        self.pending.append(self.client.publish(topic, payload, qos=1))

    def wait_all(self, timeout_s: float = 60.0) -> None:
        deadline = time.monotonic() + timeout_s
        for info in self.pending:
            info.wait_for_publish(timeout=max(0.1, deadline - time.monotonic()))
            assert info.is_published(), "the broker did not acknowledge a publish in time"
        self.pending.clear()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def payloads(codes: Sequence[str], n: int, start_epoch: int) -> list[tuple[str, str]]:
    """``n`` observations as (topic, payload) pairs, one object per message."""
    out = []
    for i in range(n):
        code = codes[i % len(codes)]
        t = time.strftime(
            "%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(start_epoch + 60 * (i // len(codes)))
        )
        out.append((f"fangxun/v1/stations/{code.split('-')[0]}/observations",
                    f'{{"datastream": "{code}", "time": "{t}", "value": {i % 97}}}'))  # fmt: skip
    return out
