"""Security headers, body-size and JSON-depth limits, /metrics and the health checks."""

from __future__ import annotations

import re
import socket
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from fangxun.api.app import create_app
from fangxun.api.middleware import json_depth
from fangxun.audit.service import SystemActor
from fangxun.config import Settings
from fangxun.db import session_scope
from fangxun.db.types import utcnow
from fangxun.monitoring.models import DeadLetter

PROBLEM = "application/problem+json"
TEMPLATES = Path(__file__).resolve().parents[2] / "src" / "fangxun" / "web" / "templates"

SYSTEM = SystemActor(username="hardening-tests")


# --- headers -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/login", "/api/v1/health", "/api/v1/nope", "/static/css/app.css"]
)
def test_security_headers_on_every_response(client: TestClient, path: str) -> None:
    response = client.get(path, follow_redirects=False)
    csp = response.headers["content-security-policy"]
    assert (
        "script-src 'self';" in csp
        and "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
    )
    assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "strict-origin-when-cross-origin"
    assert response.headers["x-frame-options"] == "DENY"


def test_docs_page_gets_its_own_policy(client: TestClient) -> None:
    response = client.get("/api/docs")
    assert response.status_code == 200
    csp = response.headers["content-security-policy"]
    assert "script-src 'self';" in csp  # served locally: no CDN, no inline script
    assert "http" not in csp


def test_basemap_origin_allowed_for_images(settings: Settings, engine: Engine) -> None:
    custom = settings.model_copy(update={"basemap_url": "https://tiles.example.cn/{z}/{x}/{y}.png"})
    with TestClient(create_app(custom, engine=engine)) as client:
        csp = client.get("/login").headers["content-security-policy"]
    assert "img-src 'self' data: blob: https://tiles.example.cn" in csp


_INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>", re.I)
_INLINE_HANDLER = re.compile(r"\son[a-z]+\s*=\s*[\"']", re.I)


def test_templates_have_no_inline_scripts() -> None:
    """The CSP refuses inline scripts: every template keeps its code in /static (JSON data
    blocks are allowed, they are not executed)."""
    offenders: list[str] = []
    for template in sorted(TEMPLATES.rglob("*.html")):
        text = template.read_text(encoding="utf-8")
        for pattern in (_INLINE_SCRIPT, _INLINE_HANDLER):
            for match in pattern.finditer(text):
                line = text.count("\n", 0, match.start()) + 1
                offenders.append(f"{template.relative_to(TEMPLATES)}:{line}: {match.group(0)}")
        if "javascript:" in text or "hx-on" in text:
            offenders.append(f"{template.relative_to(TEMPLATES)}: javascript: URL or hx-on")
    assert not offenders, "inline script blocked by the CSP:\n" + "\n".join(offenders)


# --- body limits -------------------------------------------------------------------------------


def _small_limits(settings: Settings, engine: Engine) -> TestClient:
    limited = settings.model_copy(
        update={"max_body_bytes": 2048, "max_upload_bytes": 4096, "max_json_depth": 8}
    )
    return TestClient(create_app(limited, engine=engine))


def test_oversized_json_body_is_413_problem(
    settings: Settings, engine: Engine, make_user: object
) -> None:
    with _small_limits(settings, engine) as client:
        body = '{"code": "' + "x" * 5000 + '"}'
        response = client.post(
            "/api/v1/units", content=body, headers={"content-type": "application/json"}
        )
        assert response.status_code == 413
        assert response.headers["content-type"].startswith(PROBLEM)
        assert response.json()["code"] == "content_too_large"
        assert "2048" in response.json()["detail"]
        # Chunked (no Content-Length): counted as it arrives.
        response = client.post(
            "/api/v1/units",
            content=iter([b'{"code": "', b"y" * 3000, b'"}']),
            headers={"content-type": "application/json"},
        )
        assert response.status_code == 413


def test_deep_json_is_422_problem_and_shallow_passes(settings: Settings, engine: Engine) -> None:
    with _small_limits(settings, engine) as client:
        deep = "[" * 9 + "]" * 9
        response = client.post(
            "/api/v1/units", content=deep, headers={"content-type": "application/json"}
        )
        assert response.status_code == 422
        assert response.json()["code"] == "json_too_deep"
        assert "9 levels" in response.json()["detail"]
        # Brackets inside strings do not count; a shallow body reaches the route (401: no token).
        shallow = '{"code": "[[[[[[[[[[[[[[[["}'
        response = client.post(
            "/api/v1/units", content=shallow, headers={"content-type": "application/json"}
        )
        assert response.status_code == 401
        # A hostile nesting far beyond Python's recursion limit is refused, not a 500.
        response = client.post(
            "/api/v1/units",
            content="[" * 1000 + "]" * 1000,
            headers={"content-type": "application/json"},
        )
        assert response.status_code in (413, 422)


def test_oversized_upload_is_413(settings: Settings, engine: Engine, make_user: object) -> None:
    admin = make_user("admin")  # type: ignore[operator]
    with _small_limits(settings, engine) as client:
        response = client.post(
            "/api/v1/hazard-points/import",
            files={"file": ("points.geojson", b"{" + b" " * 8000 + b"}", "application/geo+json")},
            headers=admin.headers(client),
        )
        assert response.status_code == 413, response.text
        assert response.headers["content-type"].startswith(PROBLEM)


def test_json_depth_counter() -> None:
    assert json_depth(b"[]") == 1
    assert json_depth(b'{"a": {"b": {"c": []}}}') == 4
    assert json_depth(b'["\\"[[[[", {"k": "]]]"}]') == 2
    assert json_depth(b"12") == 0


# --- metrics -----------------------------------------------------------------------------------


def _metric(text: str, name: str, **labels: str) -> float:
    for line in text.splitlines():
        if line.startswith(name) and all(f'{k}="{v}"' in line for k, v in labels.items()):
            head = line.split(" ")[0]
            if head == name or head.startswith(name + "{"):
                return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} {labels} not in metrics")


def test_metrics_exposes_requests_and_database_figures(app: FastAPI, engine: Engine) -> None:
    # From loopback: without a token, /metrics answers no one else (test_hardening_accounts).
    with TestClient(app, client=("127.0.0.1", 50000)) as client:
        _check_metrics(client, engine)


def _check_metrics(client: TestClient, engine: Engine) -> None:
    for _ in range(3):
        assert client.get("/api/v1/health").status_code == 200
    with session_scope(engine) as session:
        for i in range(4):
            session.add(
                DeadLetter(
                    source="mqtt",
                    origin=f"t/{i}",
                    raw="{bad",
                    reason="test",
                    received_at=utcnow() - timedelta(hours=2 * (i % 2)),
                )
            )
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    count = _metric(
        text,
        "fangxun_http_request_duration_seconds_count",
        method="GET",
        route="/api/v1/health",
        status="200",
    )
    assert count == 3
    assert _metric(text, "fangxun_dead_letters") == 4
    assert _metric(text, "fangxun_dead_letters_last_hour") == 2
    assert _metric(text, "fangxun_ingest_rate_per_second") == 0
    assert "fangxun_forecast_duration_seconds_count" in text
    assert _metric(text, "fangxun_notify_outbox_backlog", status="pending") == 0
    assert _metric(text, "fangxun_metrics_scrape_errors") == 0
    # A path that matches no route is labelled as such, not by its raw path.
    client.get("/api/v1/no/such/thing/12345")
    assert 'route="unmatched"' in client.get("/metrics").text
    assert "12345" not in client.get("/metrics").text


def test_metrics_token(settings: Settings, engine: Engine) -> None:
    guarded = settings.model_copy(update={"metrics_token": "scrape-me-0123456789"})
    with TestClient(create_app(guarded, engine=engine)) as client:
        assert client.get("/metrics").status_code == 401
        wrong = {"Authorization": "Bearer nope"}
        assert client.get("/metrics", headers=wrong).status_code == 401
        good = {"Authorization": "Bearer scrape-me-0123456789"}
        assert client.get("/metrics", headers=good).status_code == 200


# --- health ------------------------------------------------------------------------------------


@pytest.fixture
def dead_port() -> Iterator[int]:
    """A local TCP port that reads what it is sent and closes without answering (no broker).

    Reading first keeps the client's CONNECT from meeting a reset socket, so the health check
    sees the missing CONNACK every time rather than, on some runs, a connection reset."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(5)
    port = server.getsockname()[1]
    stop = threading.Event()

    def serve() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
                conn.settimeout(2.0)
                try:
                    conn.recv(1024)
                finally:
                    conn.close()
            except OSError:
                continue

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield port
    stop.set()
    thread.join()
    server.close()


@pytest.mark.mqtt
def test_health_checks_the_real_broker(settings: Settings, engine: Engine) -> None:
    configured = settings.model_copy(update={"health_check_broker": True})
    with TestClient(create_app(configured, engine=engine)) as client:
        response = client.get("/api/v1/health")
    body = response.json()
    if body["checks"]["broker"]["status"] != "ok":
        pytest.skip(f"no MQTT broker on 127.0.0.1:1883: {body['checks']['broker']}")
    assert response.status_code == 200 and body["status"] == "ok"


def test_health_503_when_broker_does_not_answer(
    settings: Settings, engine: Engine, dead_port: int
) -> None:
    configured = settings.model_copy(
        update={"health_check_broker": True, "mqtt_port": dead_port, "health_timeout_s": 1.0}
    )
    with TestClient(create_app(configured, engine=engine)) as client:
        response = client.get("/api/v1/health")
    assert response.status_code == 503
    body = response.json()
    assert body["checks"]["database"]["status"] == "ok"
    assert body["checks"]["broker"]["status"] == "unavailable"
    assert "CONNACK" in body["checks"]["broker"]["reason"]


# --- response cache ----------------------------------------------------------------------------


def test_map_documents_cached_per_jurisdiction(
    settings: Settings, engine: Engine, make_unit: object, make_user: object
) -> None:
    from fangxun.monitoring import service as monitoring
    from fangxun.monitoring.schemas import StationCreate

    district = make_unit("D")  # type: ignore[operator]
    office = make_unit("S1", "street_office", parent=district)  # type: ignore[operator]
    boss = make_user("district", district)  # type: ignore[operator]
    clerk = make_user("unit", office)  # type: ignore[operator]
    cached = settings.model_copy(update={"response_cache_ttl_s": 30.0})
    assert "response_cache_ttl_s" in cached.model_fields_set
    with TestClient(create_app(cached, engine=engine)) as client:
        first = client.get("/api/v1/monitoring/stations", headers=boss.headers(client)).json()
        assert first["features"] == []
        with session_scope(engine) as session:
            monitoring.create_station(
                session=session,
                station_in=StationCreate(
                    code="R1",
                    name_zh="雨量站",
                    kind="rain_gauge",
                    lon=113.6,
                    lat=34.8,
                    unit_id=district,
                ),
                actor=SYSTEM,
            )
        # Within the TTL, yet the new station shows at once: the data version changed (the
        # response cache's own tests: tests/api/test_response_cache.py) ...
        again = client.get("/api/v1/monitoring/stations", headers=boss.headers(client)).json()
        assert [f["id"] for f in again["features"]] == ["R1"]
        # ... another jurisdiction has its own entry, and a bad token is still refused.
        assert (
            client.get("/api/v1/monitoring/stations", headers=clerk.headers(client)).status_code
            == 200
        )
        bad = {"Authorization": "Bearer nope"}
        assert client.get("/api/v1/monitoring/stations", headers=bad).status_code == 401
        client.app.state.response_cache.clear()  # type: ignore[attr-defined]
        fresh = client.get("/api/v1/monitoring/stations", headers=boss.headers(client)).json()
        assert [f["id"] for f in fresh["features"]] == ["R1"]
