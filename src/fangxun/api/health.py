"""``GET /api/v1/health``: is the service able to serve (the database answers a ``SELECT 1``)."""

from __future__ import annotations

import logging
import time
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from fangxun import __version__
from fangxun.api.deps import EngineDep

logger = logging.getLogger(__name__)

router = APIRouter(tags=["health"])


@router.get(
    "/health",
    summary="Service health",
    responses={503: {"description": "The database does not answer"}},
)
def health(engine: EngineDep) -> JSONResponse:
    """200 with ``status: ok`` when the database answers; 503 with the reason when it does not."""
    started = time.perf_counter()
    body: dict[str, Any] = {"version": __version__}
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
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
    body |= {
        "status": "ok",
        "checks": {
            "database": {"status": "ok", "dialect": engine.dialect.name, "latency_ms": latency_ms}
        },
    }
    return JSONResponse(body)
