"""The FastAPI application: the API under ``/api/v1``, the web pages at ``/``, static files.

Build it with :func:`create_app`; nothing is built at import time. ``uvicorn --factory
fangxun.api.app:create_app`` works too.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine

from fangxun import __version__, geo
from fangxun.api import health
from fangxun.api.cache import ResponseCache, watch_writes
from fangxun.api.docs import install_docs
from fangxun.api.metrics import install_metrics
from fangxun.api.middleware import (
    BodyLimitMiddleware,
    SecurityHeadersMiddleware,
    content_security_policy,
)
from fangxun.api.openapi import install_problem_openapi
from fangxun.api.principal import PRINCIPAL_TTL_S, PrincipalCache
from fangxun.api.problems import install_problem_handlers
from fangxun.audit.router import router as audit_router
from fangxun.briefings.router import router as briefings_router
from fangxun.config import DEV_SECRET_KEY, Settings, get_settings
from fangxun.db.engine import make_engine, session_factory
from fangxun.drainage.router import router as drainage_router
from fangxun.duty.router import router as duty_router
from fangxun.field.router import router as field_router
from fangxun.forecast.router import router as forecast_router
from fangxun.hazards import jobs as hazard_jobs
from fangxun.hazards.router import router as hazards_router
from fangxun.incidents.router import router as incidents_router
from fangxun.monitoring.router import router as monitoring_router
from fangxun.notify.router import router as notify_router
from fangxun.org.router import router as org_router
from fangxun.rain.router import router as rain_router
from fangxun.reports.router import router as reports_router
from fangxun.response.router import router as response_router
from fangxun.supplies.router import router as supplies_router
from fangxun.warnings.router import cap_router
from fangxun.warnings.router import router as warnings_router

logger = logging.getLogger(__name__)

API_PREFIX = "/api/v1"
STATIC_DIR = Path(__file__).resolve().parent.parent / "web" / "static"


def api_router() -> APIRouter:
    """Every API route, to be mounted at :data:`API_PREFIX`. Later domains add theirs here."""
    router = APIRouter()
    router.include_router(health.router)
    router.include_router(org_router)
    router.include_router(audit_router)
    router.include_router(hazards_router)
    router.include_router(monitoring_router)
    router.include_router(duty_router)
    router.include_router(incidents_router)
    router.include_router(field_router)
    router.include_router(supplies_router)
    router.include_router(briefings_router)
    router.include_router(forecast_router)
    router.include_router(drainage_router)
    router.include_router(rain_router)
    router.include_router(reports_router)
    router.include_router(response_router)
    router.include_router(notify_router)
    router.include_router(warnings_router)
    router.include_router(cap_router)
    return router


def create_app(settings: Settings | None = None, *, engine: Engine | None = None) -> FastAPI:
    """Build the application.

    ``settings`` defaults to :func:`fangxun.config.get_settings`; ``engine`` to one made from
    ``settings.database_url`` (tests pass their own). The schema is not migrated here: the
    ``fangxun serve`` command does that first.
    """
    settings = settings or get_settings()
    owns_engine = engine is None
    engine = engine or make_engine(settings.database_url, echo=settings.sql_echo)
    if settings.secret_key == DEV_SECRET_KEY:
        logger.warning(
            "FANGXUN_SECRET_KEY is not set: using the fixed development-only key "
            "(environment=%s). Never do this in production.",
            settings.environment,
        )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if settings.environment != "test":
            # Move everything loaded at startup (~300,000 objects: modules, routes, models) out
            # of the collector's reach: a full collection walked them all, ~210 ms with the GIL
            # held, every time a cache rebuild's garbage triggered one, and made the map
            # endpoints' p99 latency (benchmarks/NOTES.md, helper C2). Not in tests, whose many
            # apps would then never be freed.
            gc.collect()
            gc.freeze()
            # The hazard-import worker, started before anyone imports (issue 20, item 5).
            hazard_jobs.warm_up()
        yield
        if owns_engine:
            engine.dispose()

    app = FastAPI(
        title="Fangxun 防汛",
        summary="Urban waterlogging early warning and flood-control command for a city district.",
        version=__version__,
        docs_url=None,  # served by fangxun.api.docs from local files
        redoc_url=None,
        openapi_url="/api/openapi.json",
        lifespan=lifespan,
    )
    app.state.settings = settings
    geo.configure(max_vertices=settings.geometry_max_vertices)
    app.state.engine = engine
    app.state.session_factory = session_factory(engine)

    install_problem_handlers(app)
    install_docs(app, openapi_url="/api/openapi.json")
    # Hardening (issue 11). add_middleware wraps: the last added runs first (metrics outermost).
    app.add_middleware(
        BodyLimitMiddleware,
        max_body_bytes=settings.max_body_bytes,
        max_upload_bytes=settings.max_upload_bytes,
        max_json_depth=settings.max_json_depth,
    )
    app.add_middleware(
        SecurityHeadersMiddleware,
        csp=content_security_policy(settings.basemap_url),
        # HSTS outside development (issue 20, item 12): a developer's http://localhost stays free.
        hsts_max_age_s=settings.hsts_max_age_s if settings.environment != "development" else 0,
    )
    install_metrics(app, engine)
    # Tests write to the database behind the app's back and read at once: no cache there unless
    # a test asks for one.
    cache_ttl_s = settings.response_cache_ttl_s
    if settings.environment == "test" and "response_cache_ttl_s" not in settings.model_fields_set:
        cache_ttl_s = 0.0
    app.state.response_cache = ResponseCache(cache_ttl_s)
    # Token -> (user, role, unit) for a few seconds (fangxun.api.principal); off in tests, which
    # revoke tokens behind the app's back, like the response cache.
    app.state.principal_cache = PrincipalCache(
        0.0 if settings.environment == "test" else PRINCIPAL_TTL_S
    )
    # Writes committed through this engine drop both caches' stale parts at once.
    watch_writes(engine, app.state.response_cache)
    watch_writes(engine, app.state.principal_cache)
    install_problem_openapi(app)
    app.include_router(api_router(), prefix=API_PREFIX)

    from fangxun.web.admin_pages import router as admin_pages_router
    from fangxun.web.briefings_pages import router as briefings_pages_router
    from fangxun.web.drainage_pages import router as drainage_pages_router
    from fangxun.web.duty_pages import router as duty_pages_router
    from fangxun.web.field_pages import router as field_pages_router
    from fangxun.web.forecast_pages import router as forecast_pages_router
    from fangxun.web.hazards_pages import router as hazards_pages_router
    from fangxun.web.incidents_pages import router as incidents_pages_router
    from fangxun.web.monitoring_pages import router as monitoring_pages_router
    from fangxun.web.notify_pages import router as notify_pages_router
    from fangxun.web.pages import router as pages_router  # the web shell depends on api.deps
    from fangxun.web.reports_pages import router as reports_pages_router
    from fangxun.web.response_pages import router as response_pages_router
    from fangxun.web.situation_pages import router as situation_pages_router
    from fangxun.web.staleness import router as staleness_router
    from fangxun.web.supplies_pages import router as supplies_pages_router
    from fangxun.web.warnings_pages import router as warnings_pages_router

    # Command operations, in the order their one router had: incidents, duty, supplies, briefings.
    app.include_router(incidents_pages_router)
    app.include_router(duty_pages_router)
    app.include_router(supplies_pages_router)
    app.include_router(briefings_pages_router)
    app.include_router(hazards_pages_router)
    app.include_router(field_pages_router)
    app.include_router(forecast_pages_router)
    app.include_router(drainage_pages_router)
    app.include_router(monitoring_pages_router)
    app.include_router(response_pages_router)
    app.include_router(notify_pages_router)
    app.include_router(situation_pages_router)
    app.include_router(staleness_router)
    app.include_router(admin_pages_router)
    app.include_router(warnings_pages_router)
    app.include_router(reports_pages_router)
    app.include_router(pages_router)
    if STATIC_DIR.is_dir():
        app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    else:
        logger.warning("static files directory %s is missing; /static is not served", STATIC_DIR)
    return app
