"""Prometheus metrics at ``GET /metrics`` (text exposition format, prometheus-client).

Two sources:

* this process: :class:`RequestMetricsMiddleware` times every HTTP request into
  ``fangxun_http_request_duration_seconds{method, route, status}`` (``route`` is the route
  template such as ``/api/v1/hazard-points/{point_id}``, never the raw path, so the label set
  stays small);
* the database, read at scrape time by :class:`DatabaseCollector`, because ingest, the forecast
  scheduler and the notification sender run in other processes: the ingest rate (observations
  received in the last :data:`INGEST_WINDOW_S` seconds / the window), the age of the newest
  observation, dead letters, forecast run durations and states, and the notification outbox
  backlog. A table that does not exist (a domain not migrated yet) or a failing query drops only
  its own metric and counts ``fangxun_metrics_scrape_errors``; the scrape itself never fails.

Each app has its own :class:`~prometheus_client.CollectorRegistry` (tests build many apps).
Set ``FANGXUN_METRICS_TOKEN`` to require ``Authorization: Bearer <token>`` on ``/metrics``;
without a token only loopback clients are answered (403 to others) unless
``FANGXUN_METRICS_ALLOW_REMOTE`` is set (issue 20, item 12: the figures name routes, backlogs
and dead letters, which an outsider has no business reading).
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import timedelta
from typing import Any, Final

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric, SummaryMetricFamily
from prometheus_client.registry import Collector

from fangxun.api.middleware import ASGIApp, Message, Receive, Scope, Send
from fangxun.db import Engine, Session
from fangxun.db.types import utcnow

logger = logging.getLogger(__name__)

#: Window of the ingest rate, s.
INGEST_WINDOW_S: Final = 300
#: Finished forecast runs summarised per scrape.
FORECAST_RUNS_SAMPLED: Final = 200
#: Request-duration buckets, s (the load target is p99 ≤ 0.1 s).
LATENCY_BUCKETS: Final = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class RequestMetricsMiddleware:
    """Times each HTTP request (to the end of the response body) by route template and status."""

    def __init__(self, app: ASGIApp, *, histogram: Histogram) -> None:
        self.app = app
        self.histogram = histogram

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_tracking(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_tracking)
        finally:
            template = route_template(scope)
            self.histogram.labels(str(scope.get("method", "")), template, str(status)).observe(
                time.perf_counter() - started
            )


def route_template(scope: Scope) -> str:
    """The matched route as a template (``/api/v1/hazard-points/{point_id}``) for a label.

    Built from the path and its path parameters (an included router's route knows only its own
    part of the path). Static files and unmatched paths share one label each, so the label set
    stays bounded whatever clients send.

    >>> scope = {"route": object(), "path": "/api/v1/units/7", "path_params": {"unit_id": 7}}
    >>> route_template(scope)
    '/api/v1/units/{unit_id}'
    >>> route_template({"path": "/no/such/12345"})
    'unmatched'
    """
    path = str(scope.get("path", ""))
    if path.startswith("/static/"):
        return "/static"
    if scope.get("route") is None:
        return "unmatched"
    params = scope.get("path_params") or {}
    if not params:
        return path
    names = {str(value): name for name, value in params.items()}
    return "/".join(f"{{{names[seg]}}}" if seg in names else seg for seg in path.split("/"))


def _gauge(name: str, doc: str, value: float, labels: dict[str, str] | None = None) -> Metric:
    family = GaugeMetricFamily(name, doc, labels=list(labels or {}))
    family.add_metric(list((labels or {}).values()), value)
    return family


class DatabaseCollector(Collector):
    """Operational figures read from the database at each scrape (see the module docstring)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def _probes(self) -> list[Callable[[Session], Iterable[Metric]]]:
        return [self._ingest, self._dead_letters, self._forecast, self._outbox]

    def collect(self) -> Iterator[Metric]:
        errors = 0
        for probe in self._probes():
            try:
                with Session(self.engine) as session:
                    metrics = list(probe(session))
            except Exception as exc:  # a missing table or a broken database: skip this metric
                errors += 1
                logger.info("metrics probe %s failed: %s", probe.__name__, type(exc).__name__)
                continue
            yield from metrics
        yield _gauge(
            "fangxun_metrics_scrape_errors",
            "Database probes that failed during this scrape",
            errors,
        )

    @staticmethod
    def _ingest(session: Session) -> Iterable[Metric]:
        from fangxun.monitoring import service

        now = utcnow()
        recent, newest = service.ingest_summary(
            session=session, since=now - timedelta(seconds=INGEST_WINDOW_S)
        )
        yield _gauge(
            "fangxun_ingest_rate_per_second",
            f"Observations received per second over the last {INGEST_WINDOW_S} s",
            recent / INGEST_WINDOW_S,
        )
        if newest is not None:
            yield _gauge(
                "fangxun_ingest_last_received_age_seconds",
                "Seconds since the newest observation was received (stale data when large)",
                max(0.0, (now - newest).total_seconds()),
            )

    @staticmethod
    def _dead_letters(session: Session) -> Iterable[Metric]:
        from fangxun.monitoring import service

        total, last_hour = service.dead_letter_counts(
            session=session, since=utcnow() - timedelta(hours=1)
        )
        yield _gauge(
            "fangxun_dead_letters", "Ingest messages refused and kept as dead letters", total
        )
        yield _gauge(
            "fangxun_dead_letters_last_hour",
            "Dead letters received in the last hour",
            last_hour,
        )

    @staticmethod
    def _forecast(session: Session) -> Iterable[Metric]:
        from fangxun.forecast import service

        by_status = GaugeMetricFamily(
            "fangxun_forecast_runs", "Forecast runs by status", labels=["status"]
        )
        for status, count in service.run_status_counts(session=session).items():
            by_status.add_metric([status], count)
        yield by_status
        durations = service.recent_run_durations_s(session=session, limit=FORECAST_RUNS_SAMPLED)
        summary = SummaryMetricFamily(
            "fangxun_forecast_duration_seconds",
            f"Wall time of the last {FORECAST_RUNS_SAMPLED} finished forecast runs",
            count_value=len(durations),
            sum_value=sum(durations),
        )
        yield summary
        if durations:
            yield _gauge(
                "fangxun_forecast_last_duration_seconds",
                "Wall time of the most recently finished forecast run",
                durations[0],
            )

    @staticmethod
    def _outbox(session: Session) -> Iterable[Metric]:
        from fangxun.notify import service

        counts = service.delivery_status_counts(session=session)
        backlog = GaugeMetricFamily(
            "fangxun_notify_outbox_backlog",
            "Notification deliveries not yet sent, by status",
            labels=["status"],
        )
        for status in ("pending", "retry", "sending"):
            backlog.add_metric([status], counts.get(status, 0))
        yield backlog
        yield _gauge(
            "fangxun_notify_dead_deliveries",
            "Notification deliveries given up on",
            counts.get("dead", 0),
        )


def build_registry(engine: Engine) -> tuple[CollectorRegistry, Histogram]:
    """A registry with the request histogram and the database collector of one app."""
    registry = CollectorRegistry(auto_describe=False)
    histogram = Histogram(
        "fangxun_http_request_duration_seconds",
        "HTTP request duration to the last byte of the response",
        ["method", "route", "status"],
        buckets=LATENCY_BUCKETS,
        registry=registry,
    )
    registry.register(DatabaseCollector(engine))
    return registry, histogram


router = APIRouter(include_in_schema=False)


def _loopback(request: Request) -> bool:
    host = request.client.host if request.client else ""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@router.get("/metrics")
def metrics(request: Request) -> Response:
    """The Prometheus exposition of this app's registry (401 without the configured token)."""
    token: str | None = request.app.state.settings.metrics_token
    if token:
        given = request.headers.get("authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
            return Response(
                "metrics need 'Authorization: Bearer <FANGXUN_METRICS_TOKEN>'\n",
                status_code=401,
                media_type="text/plain",
                headers={"WWW-Authenticate": "Bearer"},
            )
    elif not request.app.state.settings.metrics_allow_remote and not _loopback(request):
        return Response(
            "metrics answer loopback clients only; set FANGXUN_METRICS_TOKEN to scrape remotely\n",
            status_code=403,
            media_type="text/plain",
        )
    registry: CollectorRegistry = request.app.state.metrics_registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


def install_metrics(app: Any, engine: Engine) -> None:
    """Register ``/metrics`` and the request timer on ``app`` (a FastAPI app)."""
    registry, histogram = build_registry(engine)
    app.state.metrics_registry = registry
    app.include_router(router)
    app.add_middleware(RequestMetricsMiddleware, histogram=histogram)


__all__ = [
    "DatabaseCollector",
    "RequestMetricsMiddleware",
    "build_registry",
    "install_metrics",
    "router",
]
