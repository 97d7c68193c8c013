"""The "data is stale" banner of the web UI: is the data the duty officer relies on current?

Stale means either

* a **critical station** (kind in ``warning_rules.critical_station_kinds``, or
  ``properties.critical``) whose newest observation is older than ``monitoring_stale_s``
  (a station that never reported is a commissioning matter for the monitoring page, not stale
  data), or
* a **service heartbeat** (ingest, warning evaluator; :mod:`fangxun.monitoring.heartbeat`) older
  than :data:`HEARTBEAT_STALE_S`: the service ran here and has gone quiet.

:func:`data_staleness` costs one query, cached per process for :data:`CACHE_S`, whatever the
number of pages served. The banner comes with every page of a signed-in user (``base.html``)
and refreshes itself by an HTMX poll of ``/web/stale-banner`` (no inline script: the CSP
forbids it). Only counts are shown, never station names, so no user learns about stations
outside their jurisdiction.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from fangxun.api.deps import SessionDep, SettingsDep
from fangxun.config import Settings
from fangxun.db import DatabaseError, Engine, Session
from fangxun.db.types import utcnow
from fangxun.monitoring import heartbeat
from fangxun.monitoring import service as monitoring_service
from fangxun.web.auth import session_user
from fangxun.web.i18n import negotiate_language, templates_for

logger = logging.getLogger(__name__)

#: How long one answer is reused, s (every page of every user within this reuses it).
CACHE_S: Final = 15.0
#: A heartbeat older than this means the service has stopped working, s (the evaluator usually
#: runs every minute, the ingest beats every few seconds while connected).
HEARTBEAT_STALE_S: Final = 300.0
#: How often an open page asks again, s (the HTMX poll).
POLL_S: Final = 30


@dataclass(frozen=True)
class Staleness:
    """How current the data is: critical stations gone quiet (count, and the oldest of their
    newest observations, UTC) and services whose heartbeat stopped."""

    stale_stations: int
    oldest: datetime | None
    quiet_services: tuple[str, ...]
    checked_at: datetime
    #: The station staleness limit used, s (``monitoring_stale_s``).
    stale_after_s: float

    @property
    def is_stale(self) -> bool:
        """True when the banner should show."""
        return bool(self.stale_stations or self.quiet_services)


_cache: dict[tuple[str, str], tuple[float, Staleness]] = {}
_lock = threading.Lock()


def clear_cache() -> None:
    """Forget the cached answers (tests, and after a configuration change)."""
    with _lock:
        _cache.clear()


def _critical(station_kind: str, properties: dict[str, object] | None, settings: Settings) -> bool:
    return bool((properties or {}).get("critical")) or (
        station_kind in settings.warning_rules.critical_station_kinds
    )


def compute_staleness(
    engine: Engine, settings: Settings, *, now: datetime | None = None
) -> Staleness:
    """Check now, without the cache: one query for the stations, a ``stat`` per heartbeat."""
    now = now or utcnow()
    cutoff = now - timedelta(seconds=settings.monitoring_stale_s)
    with Session(engine) as session:
        rows = monitoring_service.silent_station_newest(session=session, cutoff=cutoff)
    stale = [t for kind, props, t in rows if _critical(kind, props, settings)]
    quiet = []
    for name in heartbeat.SERVICES:
        last = heartbeat.last_beat(settings.data_dir, name)
        if last is not None and (now - last).total_seconds() > HEARTBEAT_STALE_S:
            quiet.append(name)
    return Staleness(
        stale_stations=len(stale),
        oldest=min(stale) if stale else None,
        quiet_services=tuple(quiet),
        checked_at=now,
        stale_after_s=float(settings.monitoring_stale_s),
    )


def data_staleness(engine: Engine, settings: Settings) -> Staleness | None:
    """:func:`compute_staleness`, cached for :data:`CACHE_S` per database and data folder; None
    when the database cannot be asked (the page says nothing rather than fail)."""
    key = (engine.url.render_as_string(hide_password=True), str(settings.data_dir))
    now_s = time.monotonic()
    with _lock:
        hit = _cache.get(key)
    if hit is not None and now_s - hit[0] < CACHE_S:
        return hit[1]
    try:
        result = compute_staleness(engine, settings)
    except DatabaseError:
        logger.warning("stale-data check failed", exc_info=True)
        return None
    with _lock:
        _cache[key] = (now_s, result)
    return result


def poll_seconds() -> int:
    """How often an open page asks again, s (read at each render, so a test can shorten it)."""
    return POLL_S


def staleness_for(request: Request, settings: Settings) -> Staleness | None:
    """The (cached) staleness for a page of ``request``'s app; None without an engine."""
    engine = getattr(request.app.state, "engine", None)
    if engine is None:
        return None
    return data_staleness(engine, settings)


# A plain router: a signed-out poll gets an empty fragment, not a redirect to the login page.
router = APIRouter(include_in_schema=False)


@router.get("/web/stale-banner", response_class=HTMLResponse)
def stale_banner(request: Request, settings: SettingsDep, db: SessionDep) -> HTMLResponse:
    """The banner fragment alone, for the page's HTMX poll (empty for a signed-out visitor,
    who then stops polling: the fragment it swaps in has no poll)."""
    user = session_user(request, db, settings)
    lang = negotiate_language(request, settings.language)
    staleness = staleness_for(request, settings) if user is not None else None
    response = templates_for(lang).TemplateResponse(
        request,
        "_stale_banner.html",
        {"staleness": staleness, "user": user, "stale_poll_s": poll_seconds()},
    )
    response.headers["Cache-Control"] = "no-store"
    return response
