"""``GET /api/v1/health``: is the service able to serve (the database answers a ``SELECT 1``; with
``FANGXUN_HEALTH_CHECK_BROKER=true`` the MQTT broker also answers an MQTT CONNECT)."""

from __future__ import annotations

import logging
import os
import socket
import time
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from fangxun import __version__
from fangxun.api.deps import EngineDep, SettingsDep
from fangxun.db.engine import ping

logger = logging.getLogger(__name__)

router = APIRouter(tags=["health"])


@router.get(
    "/health",
    summary="Service health",
    responses={503: {"description": "The database does not answer"}},
)
def health(engine: EngineDep, settings: SettingsDep) -> JSONResponse:
    """200 with ``status: ok`` when the database (and, when configured, the MQTT broker) answers;
    503 with the reason of each failing check when one does not."""
    started = time.perf_counter()
    body: dict[str, Any] = {"version": __version__}
    try:
        ping(engine)
    except Exception as exc:
        # First line only: driver messages run long; the URL (with its password) is never included.
        reason = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else 'no detail'}"
        logger.warning("health check: database unavailable: %s", reason)
        body |= {
            "status": "unavailable",
            "checks": {"database": {"status": "unavailable", "reason": reason}},
        }
        return JSONResponse(body, status_code=503)
    latency_ms = round((time.perf_counter() - started) * 1000.0, 2)
    checks: dict[str, Any] = {
        "database": {"status": "ok", "dialect": engine.dialect.name, "latency_ms": latency_ms}
    }
    if settings.health_check_broker:
        checks["broker"] = broker_check(
            settings.mqtt_host, settings.mqtt_port, timeout_s=settings.health_timeout_s
        )
    healthy = all(check["status"] == "ok" for check in checks.values())
    body |= {"status": "ok" if healthy else "unavailable", "checks": checks}
    return JSONResponse(body, status_code=200 if healthy else 503)


def _mqtt_connect_packet(client_id: str) -> bytes:
    """An MQTT 3.1.1 CONNECT with a clean session and a 10 s keep-alive."""
    cid = client_id.encode()
    variable = b"\x00\x04MQTT\x04\x02\x00\x0a"
    payload = len(cid).to_bytes(2, "big") + cid
    remaining = len(variable) + len(payload)  # < 128: one length byte
    return bytes([0x10, remaining]) + variable + payload


def broker_check(host: str, port: int, *, timeout_s: float) -> dict[str, Any]:
    """Connect to the MQTT broker, send CONNECT, expect CONNACK with return code 0, disconnect.

    Returns ``{"status": "ok", "latency_ms": ...}`` or ``{"status": "unavailable", "reason": ...}``.
    """
    started = time.perf_counter()
    client_id = f"fangxun-health-{os.getpid()}-{time.monotonic_ns() % 1_000_000}"
    try:
        with socket.create_connection((host, port), timeout=timeout_s) as sock:
            sock.settimeout(timeout_s)
            sock.sendall(_mqtt_connect_packet(client_id))
            connack = b""
            while len(connack) < 4:
                chunk = sock.recv(4 - len(connack))
                if not chunk:
                    break
                connack += chunk
            if len(connack) < 4 or connack[0] != 0x20:
                raise ConnectionError("the broker did not answer CONNECT with CONNACK")
            if connack[3] != 0:
                raise ConnectionError(
                    f"the broker refused the connection (return code {connack[3]})"
                )
            sock.sendall(b"\xe0\x00")  # DISCONNECT
    except (OSError, ConnectionError) as exc:
        reason = f"{type(exc).__name__}: {exc}"
        logger.warning("health check: MQTT broker %s:%d unavailable: %s", host, port, reason)
        return {"status": "unavailable", "reason": reason}
    return {"status": "ok", "latency_ms": round((time.perf_counter() - started) * 1000.0, 2)}
