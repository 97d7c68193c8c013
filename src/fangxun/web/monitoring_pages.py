"""Web page of monitoring (雨情、水情、工情): the stations on the map with their latest values,
time-series charts per station, and live updates by server-sent events.

Thin views over :mod:`fangxun.monitoring.service`: ``/monitoring`` renders the page,
``/monitoring/latest.json`` and ``/monitoring/series/{code}.json`` feed it, and
``/monitoring/events`` sends the latest values as server-sent events (a ``latest`` event whenever
a datastream's latest time changed; the browser asks again every few seconds).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Annotated, Any, Final

from fastapi import APIRouter, Header, HTTPException, Query, Request
from fastapi.responses import JSONResponse, Response

from fangxun.api.deps import SessionDep, SettingsDep
from fangxun.db.types import utcnow
from fangxun.errors import NotFoundError
from fangxun.monitoring import qc, service
from fangxun.monitoring.models import StationKind
from fangxun.org.models import User
from fangxun.times import DEFAULT_ZONE, local_zone
from fangxun.web.auth import WebUser
from fangxun.web.basemap import BasemapError, find_hillshade
from fangxun.web.i18n import N_, gettext_for, negotiate_language
from fangxun.web.render import WebRoute, render_page

router = APIRouter(route_class=WebRoute, include_in_schema=False)

KIND_LABELS: Final[dict[str, str]] = {
    StationKind.rain_gauge: N_("Rain gauge"),
    StationKind.ponding: N_("Ponding sensor"),
    StationKind.river_gauge: N_("River gauge"),
    StationKind.pump_station: N_("Pump station"),
}
KIND_COLOURS: Final[dict[str, str]] = {
    StationKind.rain_gauge: "#1f78b4",
    StationKind.ponding: "#00838f",
    StationKind.river_gauge: "#33a02c",
    StationKind.pump_station: "#6a3d9a",
}


#: Decimals of a value shown, by unit; units people read differently from their code.
DIGITS: Final[dict[str, int]] = {"mm": 1, "cm": 1, "m": 2, "m3/s": 2}
UNIT_SHOWN: Final[dict[str, str]] = {"m3/s": "m³/s"}


def value_text(code: str, value: float | None, unit: str, gettext: Callable[[str], str]) -> str:
    """A latest value as people read it: states and counts in words (a pump station's power is
    "on" or "off", its pumps "2 running"), quantities with their unit and sensible decimals, never
    the dimensionless unit "1".

    >>> value_text("PS01-power", 0.0, "1", lambda s: s)
    'off'
    >>> value_text("PS01-pumps_running", 2.0, "1", lambda s: s)
    '2 running'
    >>> value_text("PS01-discharge", 1.5, "m3/s", lambda s: s)
    '1.50 m³/s'
    """
    if value is None:
        return gettext("No data")
    kind = code.rsplit("-", 1)[-1]
    if kind == "power":
        return gettext("on") if value >= 0.5 else gettext("off")
    if kind == "pumps_running":
        return gettext("%(n)d running") % {"n": round(value)}
    if unit in ("1", ""):
        return f"{value:g}"
    return f"{value:.{DIGITS.get(unit, 2)}f} {UNIT_SHOWN.get(unit, unit)}"


def _latest(
    session: Any, user: User, gettext: Callable[[str], str] = lambda s: s
) -> list[dict[str, Any]]:
    """Stations with their datastreams' latest values (JSON-ready); ``label`` is the datastream's
    name without its station's, ``text`` its value as people read it."""
    out = []
    for feature in service.stations_geojson(session=session, actor=user)["features"]:
        p = feature["properties"]
        lon, lat = feature["geometry"]["coordinates"]
        out.append(
            {
                "code": p["code"],
                "name": p["name_zh"],
                "kind": p["kind"],
                "lon": lon,
                "lat": lat,
                "colour": KIND_COLOURS.get(p["kind"], "#555"),
                "datastreams": [
                    {
                        "code": d["code"],
                        "name": d["name"],
                        "label": d["name"].removeprefix(p["name_zh"]).strip() or d["name"],
                        "text": value_text(d["code"], d["last_value"], d["unit"], gettext),
                        "unit": d["unit"],
                        "time": d["last_time"],
                        "value": d["last_value"],
                        "flags": d["last_flags"],
                        "level_status": d["level_status"],
                    }
                    for d in p["datastreams"]
                ],
            }
        )
    return out


def _hillshade(settings: Any) -> dict[str, Any] | None:
    try:
        found = find_hillshade(settings.data_dir)
    except BasemapError:
        return None
    if found is None:
        return None
    return {"url": "/web/basemap/hillshade.png", "bounds": found.bounds.leaflet()}


@router.get("/monitoring")
def monitoring_page(
    request: Request, user: WebUser, db: SessionDep, settings: SettingsDep
) -> Response:
    """The monitoring page: map of stations with latest values, charts, live updates."""
    lang = negotiate_language(request, settings.language)
    _ = gettext_for(lang)
    stations = _latest(db, user, _)
    stale = service.stale_stations(
        session=db, actor=user, stale_after=timedelta(seconds=settings.monitoring_stale_s)
    )
    zone = local_zone().key  # the time axis is in the district's zone whatever the browser's
    data = {
        "stations": stations,
        "hillshade": _hillshade(settings),
        "timezone": zone,
        "labels": {
            "terrain": _("Synthetic terrain (demo)"),
            "no_data": _("No data"),
            "flagged": _("flagged"),
            "hours": _("Last 24 hours"),
            "beijing_time": _("Beijing time") if zone == DEFAULT_ZONE else zone,
        },
        "legend": [{"colour": c, "label": _(KIND_LABELS[k])} for k, c in KIND_COLOURS.items()],
    }
    return render_page(
        request,
        "monitoring/index.html",
        settings=settings,
        user=user,
        active="monitoring",
        context={
            "map_data": data,
            "stations": stations,
            "kind_labels": {k: _(v) for k, v in KIND_LABELS.items()},
            "stale_codes": {st.code for st, _t in stale},
        },
    )


@router.get("/monitoring/latest.json")
def latest_json(
    request: Request, user: WebUser, db: SessionDep, settings: SettingsDep
) -> JSONResponse:
    """Latest values of every station the user may see."""
    _ = gettext_for(negotiate_language(request, settings.language))
    return JSONResponse(_latest(db, user, _))


@router.get("/monitoring/series/{code}.json")
def series_json(
    user: WebUser,
    db: SessionDep,
    code: str,
    hours: Annotated[float, Query(gt=0, le=24 * 31)] = 24.0,
) -> JSONResponse:
    """One datastream's observations of the last ``hours`` (values in its unit)."""
    end = utcnow()
    try:
        ds = service.get_datastream(session=db, code=code, actor=user)
        points = service.list_observations(
            session=db, actor=user, code=code, start=end - timedelta(hours=hours), end=end
        )
    except NotFoundError as exc:
        raise HTTPException(404, detail=exc.detail) from None
    return JSONResponse(
        {
            "code": code,
            "name": ds.name,
            "unit": ds.unit,
            "warning": ds.warning_level_m,
            "guarantee": ds.guarantee_level_m,
            "points": [[p.time.isoformat(), p.value, qc.flag_names(p.flags)] for p in points],
        }
    )


#: How long the browser waits before asking again, ms (the SSE ``retry`` field).
EVENT_RETRY_MS: Final = 3000


@router.get("/monitoring/events")
def events(
    request: Request,
    user: WebUser,
    db: SessionDep,
    settings: SettingsDep,
    last_event_id: Annotated[str | None, Header()] = None,
) -> Response:
    """Server-sent events: a ``latest`` event with every station's values when they changed since
    the event the browser last saw (``Last-Event-ID``), else a comment.

    Each response carries one event and ends; ``retry`` makes the browser's EventSource ask again
    after :data:`EVENT_RETRY_MS`. Short responses hold no connection or database session open
    between updates, and a page that goes away never aborts a long-lived stream.
    """
    _ = gettext_for(negotiate_language(request, settings.language))
    stations = _latest(db, user, _)
    stamp = json.dumps(sorted((d["code"], d["time"]) for s in stations for d in s["datastreams"]))
    event_id = hashlib.sha256(stamp.encode()).hexdigest()[:16]
    body = f"retry: {EVENT_RETRY_MS}\n"
    if event_id == last_event_id:
        body += ": unchanged\n\n"
    else:
        data = json.dumps(stations, ensure_ascii=False)
        body += f"id: {event_id}\nevent: latest\ndata: {data}\n\n"
    return Response(
        body,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
