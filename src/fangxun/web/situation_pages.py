"""Web side of the situation room (一张图): the live panel's data, its server-sent events, the map's
teams-and-warehouses layer and forecast overlay, and the large-screen (wall) mode.

Thin views over :mod:`fangxun.situation.service`. ``/situation/events`` streams a ``situation``
event (sse-starlette) whenever the snapshot changed, checking every
:data:`POLL_S`; each stream ends after :data:`STREAM_S` and the browser's EventSource reconnects
by itself (``retry``), so no connection or worker is held for ever by a page that went away.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any, Final

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from sse_starlette import EventSourceResponse, ServerSentEvent

from fangxun import replay_clock
from fangxun.api.deps import SessionDep, SettingsDep
from fangxun.org.models import User
from fangxun.situation import service
from fangxun.times import local_zone
from fangxun.web.auth import WebUser
from fangxun.web.i18n import N_
from fangxun.web.render import WebRoute

router = APIRouter(route_class=WebRoute, include_in_schema=False)

#: Seconds between two looks at the situation while a stream is open.
POLL_S: Final = 2.0
#: Seconds a stream stays open before the browser is asked to reconnect.
STREAM_S: Final = 30.0
#: The browser's reconnection delay, ms (SSE ``retry``).
RETRY_MS: Final = 2000


def _payload(db: Any, user: User, data_dir: Any = None) -> dict[str, Any]:
    data = service.snapshot(session=db, actor=user)
    data["forecast"] = service.forecast_overlay(session=db)
    # The replay's clock (None outside a replay): the pages' one clock follows it.
    state = replay_clock.current(data_dir) if data_dir is not None else None
    data["replay"] = state.as_json(datetime.now(UTC)) if state is not None else None
    return data


def _fingerprint(data: dict[str, Any]) -> str:
    # "now" changes every time; the event id follows the data only ("as of" is "now" while
    # there is no observation at all).
    skip = {"now", "as_of"} if data.get("as_of") == data.get("now") else {"now"}
    body = {k: v for k, v in data.items() if k not in skip}
    # The replay's clock moves every time too: only its state (playing, ended) is news.
    body["replay"] = (data.get("replay") or {}).get("state")
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()[:16]


@router.get("/situation.json")
def situation_json(user: WebUser, db: SessionDep, settings: SettingsDep) -> JSONResponse:
    """The live panel's snapshot (see :func:`fangxun.situation.service.snapshot`), the current
    forecast overlay and the replay's clock."""
    return JSONResponse(_payload(db, user, settings.data_dir))


@router.get("/situation/resources.geojson")
def resources_geojson(user: WebUser, db: SessionDep) -> Response:
    """Warehouses with their stock and emergency teams (RFC 7946) for the map."""
    body = service.resources(session=db, actor=user)
    return Response(json.dumps(body, ensure_ascii=False), media_type="application/geo+json")


@router.get("/situation/events")
async def situation_events(
    request: Request, user: WebUser, settings: SettingsDep
) -> EventSourceResponse:
    """Server-sent ``situation`` events: the snapshot at once, then each time it changes."""
    factory = request.app.state.session_factory
    user_id = user.id
    last_seen = request.headers.get("last-event-id")

    def read() -> tuple[str, dict[str, Any]] | None:
        with factory() as db:
            actor = db.get(User, user_id)
            if actor is None or not actor.is_active:
                return None
            data = _payload(db, actor, settings.data_dir)
            db.rollback()  # read only
        return _fingerprint(data), data

    async def stream() -> AsyncIterator[ServerSentEvent]:
        nonlocal last_seen
        deadline = time.monotonic() + STREAM_S
        while time.monotonic() < deadline:
            if await request.is_disconnected():
                return
            got = await anyio.to_thread.run_sync(read)
            if got is None:
                return
            event_id, data = got
            if event_id != last_seen:
                last_seen = event_id
                yield ServerSentEvent(
                    data=json.dumps(data, ensure_ascii=False),
                    event="situation",
                    id=event_id,
                    retry=RETRY_MS,
                )
            await anyio.sleep(POLL_S)

    return EventSourceResponse(
        stream(), ping=15, headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    )


#: Texts of the live panel and the live layers (msgids; translated per request).
PANEL_LABELS: Final[dict[str, str]] = {
    "title": N_("Situation"),
    "clock": N_("Beijing time"),
    "as_of": N_("Data as of"),
    "signal": N_("Rainstorm signal"),
    "no_signal": N_("No signal in force"),
    "indication": N_("Gauge indication"),
    "response": N_("Response level"),
    "no_response": N_("No response in force"),
    "rain": N_("Rain, highest gauge (mm)"),
    "h1": N_("1 h"),
    "h3": N_("3 h"),
    "h24": N_("24 h"),
    "event": N_("Event"),
    "points": N_("Points at risk"),
    "no_points": N_("No point at risk"),
    "observed": N_("Sensor"),
    "forecast": N_("Forecast"),
    "ahead": N_("Forecast ahead of the sensor"),
    "minutes": N_("min"),
    "incidents": N_("Open incidents"),
    "new": N_("new"),
    "notifications": N_("Unacknowledged notifications"),
    "duty": N_("Duty team"),
    "leader": N_("Leader"),
    "none": N_("None"),
    "unavailable": N_("Not available"),
    "live": N_("Live"),
    "offline": N_("Reconnecting"),
    "max_depth": N_("Maximum depth"),
    "forecast_time": N_("Forecast time"),
    "warehouse": N_("Warehouse"),
    "team": N_("Team"),
    "readiness": N_("Readiness"),
    "stock": N_("Stock"),
    "members": N_("Members"),
    "no_data": N_("No data"),
    "point_page": N_("Point page: plan and actions"),
    "report": N_("Report an incident"),
    "series": N_("Last 24 hours"),
    "blue": N_("Blue"),
    "yellow": N_("Yellow"),
    "orange": N_("Orange"),
    "red": N_("Red"),
}
#: Marker and badge colours of the warning colours (CSS).
WARNING_CSS: Final[dict[str, str]] = {
    "blue": "#1f78ff",
    "yellow": "#f2c500",
    "orange": "#ff7f00",
    "red": "#e31a1c",
}
#: Seconds each view stays on the wall before the next one shows.
WALL_CYCLE_S: Final = 12.0
#: Texts of the wall besides the live panel's (msgids).
WALL_LABELS: Final[dict[str, str]] = {
    "replay": N_("Replay"),
    "replay_ended": N_("Replay ended"),
    "issued": N_("issued"),
    "progress": N_("Checklist: {done} done, {confirmed} in hand, of {total}"),
    "eta": N_("{colour} in {minutes} min"),
    "level_IV": N_("Level IV response"),
    "level_III": N_("Level III response"),
    "level_II": N_("Level II response"),
    "level_I": N_("Level I response"),
}


def wall_config(gettext: Callable[[str], str], replay: dict[str, Any] | None) -> dict[str, Any]:
    """The wall's configuration for ``static/js/wall.js``: texts, the zone, the replay's clock."""
    labels: dict[str, Any] = {k: gettext(v) for k, v in {**PANEL_LABELS, **WALL_LABELS}.items()}
    labels["levels"] = {lvl: labels.pop(f"level_{lvl}") for lvl in ("IV", "III", "II", "I")}
    return {
        "labels": labels,
        "timezone": local_zone().key,
        "cycle_s": WALL_CYCLE_S,
        "replay": replay,
    }


def panel_config(gettext: Callable[[str], str], *, wall: bool) -> dict[str, Any]:
    """The live panel's configuration for ``static/js/situation.js``: texts, colours, sources."""
    return {
        "labels": {k: gettext(v) for k, v in PANEL_LABELS.items()},
        "colours": WARNING_CSS,
        "wall": wall,
        "cycle_s": WALL_CYCLE_S,
        # The district's zone (fangxun.times): the browser shows times in it, not in its own.
        "timezone": local_zone().key,
        "sources": {
            "snapshot": "/situation.json",
            "events": "/situation/events",
            "stations": "/monitoring/latest.json",
            "series": "/monitoring/series/",
            "resources": "/situation/resources.geojson",
        },
    }
