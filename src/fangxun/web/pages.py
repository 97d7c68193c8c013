"""Server-rendered pages of the web shell: login and logout, the map, and "coming" placeholders.

Thin views: they read the form, call :func:`fangxun.org.service.authenticate` and render a template;
the session cookie and CSRF handling live in :mod:`fangxun.web.auth`, page rendering in
:mod:`fangxun.web.render`. ``fangxun.api.app.create_app`` includes :data:`router` at ``/``.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Annotated, Any, Final
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, HTTPException, Request, Response
from fastapi.responses import FileResponse, RedirectResponse

from fangxun import replay_clock
from fangxun.api.deps import SessionDep, SettingsDep
from fangxun.config import Settings
from fangxun.errors import AuthenticationError, ThrottledError
from fangxun.org import service as org_service
from fangxun.web.auth import (
    CsrfProtected,
    WebUser,
    clear_session,
    login_session,
    logout_session,
    safe_next,
    session_user,
    write_session,
)
from fangxun.web.basemap import (
    BasemapError,
    Hillshade,
    TileSet,
    find_hillshade,
    find_mbtiles,
    read_tile,
)
from fangxun.web.i18n import N_, gettext_for, negotiate_language
from fangxun.web.nav import SECTIONS, Section
from fangxun.web.render import WebRoute, render_page, role_name
from fangxun.web.situation_pages import panel_config, wall_config

router = APIRouter(route_class=WebRoute, include_in_schema=False)

#: Map view when the district has neither a boundary nor a terrain to fit (a fresh install): all of
#: China, lat/lon in degrees and a Leaflet zoom level. The district's own data set the view.
DEFAULT_VIEW: Final[dict[str, Any]] = {"center": [35.0, 105.0], "zoom": 4}
HILLSHADE_PNG_URL: Final = "/web/basemap/hillshade.png"
HILLSHADE_JSON_URL: Final = "/web/basemap/hillshade.json"
MBTILES_URL: Final = "/web/basemap/tiles/{z}/{x}/{y}"
BOUNDARIES_URL: Final = "/units/boundaries.geojson"

#: Overlays of the domains to come (key, msgid); each domain fills its group when it is built.
#: Map overlays (key, msgid, GeoJSON source URL or None while the layer is still to come).
MAP_OVERLAYS: Final[tuple[tuple[str, str, str | None], ...]] = (
    ("hazards", N_("Hazard points"), "/hazards/points.geojson"),
    ("gauges", N_("Rain and water gauges"), None),
    ("ponding", N_("Forecast ponding depth"), None),
    ("jurisdictions", N_("Street office jurisdictions"), BOUNDARIES_URL),
    ("incidents", N_("Incidents"), "/incidents.geojson"),
    ("reaches", N_("River reaches and embankments"), "/field/reaches.geojson"),
    ("patrols", N_("Patrol tracks and findings"), "/field/patrols.geojson"),
    ("warnings", N_("Warnings at hazard points"), "/warnings/points.geojson"),
    ("resources", N_("Teams and warehouses"), None),
    ("drainage", N_("Drainage network"), "/drainage/network.geojson"),
)
#: Overlays filled by the situation room's live module (``static/js/situation.js``), not by a
#: GeoJSON source of their own.
LIVE_OVERLAYS: Final = frozenset({"gauges", "ponding", "resources"})
#: Legend entries (msgid, CSS background, is a colour ramp, still to come, shape): every symbol of
#: the map has one. Shapes (CSS ``shape-*``): disc, ring, square, triangle, diamond.
#: The forecast overlay's colours (fangxun.forecast.engine.overlay_rgba: matplotlib's Blues from
#: 0.3, transparent below 3 cm, saturated from 60 cm).
DEPTH_RAMP: Final = "linear-gradient(90deg, #abd0e6, #3787c0, #08306b)"
RISK_RAMP: Final = (
    "linear-gradient(90deg, #1f78ff 25%, #f2c500 25% 50%, #ff7f00 50% 75%, #e31a1c 75%)"
)
MAP_LEGEND: Final[tuple[tuple[str, str, bool, bool, str], ...]] = (
    (N_("Forecast ponding depth: 3 cm to 60 cm and deeper"), DEPTH_RAMP, True, False, ""),
    (N_("Hazard point"), "#ffffff", False, False, "point"),
    (N_("Point at risk: blue, yellow, orange, red"), RISK_RAMP, True, False, "disc"),
    (N_("Warning in force (ring)"), RISK_RAMP, True, False, "ring"),
    (N_("Incident"), "#6a1b9a", False, False, "disc"),
    (
        N_("Monitoring station (colour by kind: rain, ponding, river, pump)"),
        "linear-gradient(90deg, #1f78b4 25%, #00838f 25% 50%, #33a02c 50% 75%, #6a3d9a 75%)",
        True,
        False,
        "square",
    ),
    (N_("Team on standby"), "#33a02c", False, False, "triangle"),
    (N_("Warehouse"), "#8c510a", False, False, "diamond"),
    (N_("Drainage pipe, manhole, outfall"), "#3b6fb6", False, False, ""),
    (N_("Drainage pump station"), "#d95f02", False, False, "square"),
)


#: What to watch during the demo's storm replay, in order (msgids; the map's guide).
STORY_GUIDE: Final[tuple[str, ...]] = (
    N_(
        "The rain gauges report the rain; the colour they indicate rises blue, yellow, orange, red."
    ),
    N_(
        "The meteorological service's rainstorm signal follows; its colour starts the emergency "
        "response (yellow: level IV) and the departments get their checklist (Response)."
    ),
    N_("Forecasts mark the points that will flood before their sensors do (Points at risk)."),
    N_("Warnings go out to the people responsible (Notifications) and wait for acknowledgement."),
    N_("Where the water passes the orange threshold, a caller reports an incident (Incidents)."),
    N_("After the rain the water recedes; the replay holds at its end: see the report (Reports)."),
)


def _login_page(
    request: Request,
    settings: Settings,
    *,
    next_path: str,
    username: str = "",
    error: str | None = None,
    info: str | None = None,
    status_code: int = 200,
) -> Response:
    return render_page(
        request,
        "login.html",
        settings=settings,
        status_code=status_code,
        context={"next": next_path, "username": username, "error": error, "info": info},
    )


@router.get("/")
def home(user: WebUser) -> RedirectResponse:
    """The start page is the map."""
    return RedirectResponse("/map", status_code=303)


@router.get("/login")
def login_form(
    request: Request,
    db: SessionDep,
    settings: SettingsDep,
    next: str | None = None,
    logged_out: bool = False,
) -> Response:
    """The login form (starts an anonymous session that carries the form's CSRF token)."""
    target = safe_next(next)
    if not logged_out and session_user(request, db, settings) is not None:
        return RedirectResponse(target, status_code=303)
    _ = gettext_for(negotiate_language(request, settings.language))
    info = _("You have logged out.") if logged_out else None
    return _login_page(request, settings, next_path=target, info=info)


@router.post("/login", dependencies=[CsrfProtected])
def login_submit(
    request: Request,
    db: SessionDep,
    settings: SettingsDep,
    username: Annotated[str, Form(max_length=200)] = "",
    password: Annotated[str, Form(max_length=1000)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/map",
) -> Response:
    """Check the credentials (throttled like the API) and start a logged-in session."""
    _ = gettext_for(negotiate_language(request, settings.language))
    target = safe_next(next)
    username = username.strip()
    if not username or not password:
        return _login_page(
            request,
            settings,
            next_path=target,
            username=username,
            error=_("Enter your username and password."),
            status_code=400,
        )
    try:
        user = org_service.authenticate(
            session=db,
            username=username,
            password=password,
            client_ip=request.client.host if request.client else None,
            policy=org_service.LoginPolicy.from_settings(settings),
        )
    except ThrottledError as exc:
        minutes = max(1, math.ceil(exc.retry_after_s / 60))
        return _login_page(
            request,
            settings,
            next_path=target,
            username=username,
            error=_("Too many failed logins. Try again in %(minutes)d minutes.")
            % {"minutes": minutes},
            status_code=429,
        )
    except AuthenticationError:
        return _login_page(
            request,
            settings,
            next_path=target,
            username=username,
            error=_("Wrong username or password."),
            status_code=401,
        )
    response = RedirectResponse(target, status_code=303)
    write_session(response, login_session(request, db, user, settings), settings)
    return response


@router.post("/logout", dependencies=[CsrfProtected])
def logout(request: Request, db: SessionDep, settings: SettingsDep) -> Response:
    """End the session (its token is revoked, the cookie removed); back to the login page."""
    logout_session(request, db, settings)
    response = RedirectResponse("/login?logged_out=1", status_code=303)
    clear_session(response, settings)
    return response


def _hillshade_or_problem(settings: Settings) -> tuple[Hillshade | None, str | None]:
    try:
        return find_hillshade(settings.data_dir), None
    except BasemapError as exc:
        return None, str(exc)


def _mbtiles_or_none(settings: Settings) -> TileSet | None:
    try:
        return find_mbtiles(settings.data_dir)
    except BasemapError:
        return None  # the map page says nothing of it; the tile route answers 404 with why


def _map_view(db: Any) -> dict[str, Any]:
    """The first view: the district's boundary when it has one, else the fallback (the page
    fits the hillshade when there is one)."""
    extent = org_service.district_extent(session=db)
    if extent is None:
        return dict(DEFAULT_VIEW)
    south, west, north, east = extent
    return {**DEFAULT_VIEW, "bounds": [[south, west], [north, east]]}


def _map_config(
    request: Request,
    settings: Settings,
    hillshade: Hillshade | None,
    view: dict[str, Any] | None = None,
) -> dict[str, Any]:
    _ = gettext_for(negotiate_language(request, settings.language))
    tiles = None
    if settings.basemap_url:
        host = urlsplit(settings.basemap_url).netloc or request.url.netloc
        tiles = {"url": settings.basemap_url, "attribution": _("Tiles: %(host)s") % {"host": host}}
    mbtiles = _mbtiles_or_none(settings)
    synthetic = hillshade is None or hillshade.synthetic
    terrain_label = _("Synthetic terrain (demo)") if synthetic else _("District terrain")
    return {
        "hillshade": (
            {
                "url": HILLSHADE_PNG_URL,
                "bounds": hillshade.bounds.leaflet(),
                "synthetic": hillshade.synthetic,
            }
            if hillshade
            else None
        ),
        "mbtiles": (
            {
                "url": MBTILES_URL,
                "min_zoom": mbtiles.min_zoom,
                "max_zoom": mbtiles.max_zoom,
                "attribution": mbtiles.attribution or mbtiles.name,
                "bounds": mbtiles.bounds.leaflet() if mbtiles.bounds else None,
            }
            if mbtiles
            else None
        ),
        "tiles": tiles,
        "view": view or DEFAULT_VIEW,
        "labels": {
            "hillshade": terrain_label,
            "terrain": terrain_label,
            "mbtiles": _("Offline tiles"),
            "tiles": _("Online map"),
            "plain": _("Plain background"),
            "legend": _("Legend"),
            "pending": _("coming"),
        },
        "overlays": [
            {
                "key": k,
                "label": _(label),
                "source": source,
                "pending": source is None and k not in LIVE_OVERLAYS,
            }
            for k, label, source in MAP_OVERLAYS
        ],
        "legend": [
            {"label": _(label), "swatch": swatch, "ramp": ramp, "pending": pending, "shape": shape}
            for label, swatch, ramp, pending, shape in MAP_LEGEND
        ],
    }


@router.get("/wall")
def wall_page(request: Request, user: WebUser, settings: SettingsDep, db: SessionDep) -> Response:
    """The command-room wall (大屏): a dark display without controls, large type, the signal,
    the response level and its checklist, rain by gauge, status by street office, the map, and
    one view at a time of the points at risk, incidents, notifications and the duty team."""
    _ = gettext_for(negotiate_language(request, settings.language))
    hillshade, _problem = _hillshade_or_problem(settings)
    state = replay_clock.current(settings.data_dir)
    return render_page(
        request,
        "wall.html",
        settings=settings,
        user=user,
        active="map",
        context={
            "map_config": _map_config(request, settings, hillshade, _map_view(db)) | {"wall": True},
            "situation_config": panel_config(_, wall=False),
            "wall_config": wall_config(
                _, state.as_json(datetime.now(UTC)) if state is not None else None
            ),
        },
    )


@router.get("/map")
def map_page(
    request: Request,
    user: WebUser,
    settings: SettingsDep,
    db: SessionDep,
    screen: str | None = None,
) -> Response:
    """The one map (一张图): offline hillshade basemap, optional online tiles, the domains' layers
    and the live situation panel. ``?screen=wall`` (the former wall) goes to ``/wall``."""
    if screen == "wall":
        return RedirectResponse("/wall", status_code=303)
    _ = gettext_for(negotiate_language(request, settings.language))
    hillshade, problem = _hillshade_or_problem(settings)
    notice = None
    if hillshade is None:
        notice = _(
            "No offline basemap: the district has no terrain yet ('fangxun setup terrain "
            "DEM.tif', or 'fangxun demo load' for the demo). The map shows a plain background."
        )
        if problem:
            notice = _("The offline basemap could not be read: %(problem)s") % {"problem": problem}
    return render_page(
        request,
        "map.html",
        settings=settings,
        user=user,
        active="map",
        context={
            "basemap_notice": notice,
            "map_config": _map_config(request, settings, hillshade, _map_view(db)),
            "wall": False,
            "situation_config": panel_config(_, wall=False),
            # During (and after) the demo's replay the map opens with the story's guide.
            "story_guide": STORY_GUIDE if replay_clock.current(settings.data_dir) else (),
        },
    )


def _require_hillshade(settings: Settings) -> Hillshade:
    hillshade, problem = _hillshade_or_problem(settings)
    if hillshade is None:
        raise HTTPException(404, detail=problem or "no hillshade under the data folder")
    return hillshade


@router.get(HILLSHADE_PNG_URL)
def hillshade_png(user: WebUser, settings: SettingsDep) -> FileResponse:
    """The hillshade image of the district's (else the demo's) terrain (PNG, Web Mercator)."""
    return FileResponse(_require_hillshade(settings).png, media_type="image/png")


@router.get(HILLSHADE_JSON_URL)
def hillshade_json(user: WebUser, settings: SettingsDep) -> dict[str, Any]:
    """The hillshade's WGS 84 bounds, ``[[south, west], [north, east]]`` in degrees."""
    return {"bounds": _require_hillshade(settings).bounds.leaflet()}


@router.get("/web/basemap/tiles/{z}/{x}/{y}")
def mbtiles_tile(z: int, x: int, y: int, user: WebUser, settings: SettingsDep) -> Response:
    """A tile of the district's own MBTiles basemap (``<data_dir>/district/basemap.mbtiles``),
    XYZ numbering; 404 outside it."""
    try:
        tiles = find_mbtiles(settings.data_dir)
    except BasemapError as exc:
        raise HTTPException(404, detail=str(exc)) from None
    data = read_tile(tiles, z, x, y) if tiles else None
    if tiles is None or data is None:
        raise HTTPException(404, detail="no such tile")
    return Response(data, media_type=tiles.media_type,
                    headers={"Cache-Control": "private, max-age=86400"})  # fmt: skip


@router.get(BOUNDARIES_URL)
def unit_boundaries(user: WebUser, db: SessionDep) -> dict[str, Any]:
    """The units' boundaries in the user's jurisdiction (GeoJSON, WGS 84): the map's
    jurisdiction layer."""
    return org_service.unit_boundaries(session=db, actor=user)


def _placeholder_route(section: Section) -> None:
    def placeholder(request: Request, user: WebUser, settings: SettingsDep) -> Response:
        if not section.visible_to(role_name(user)):
            # Same answer as an unknown page: a hidden section does not reveal itself.
            raise HTTPException(404, detail="Not Found")
        return render_page(
            request,
            "placeholder.html",
            settings=settings,
            user=user,
            active=section.slug,
            context={"section": section},
        )

    placeholder.__name__ = f"placeholder_{section.slug}"
    placeholder.__doc__ = f"'Coming' page of the {section.slug} section (not built yet)."
    router.add_api_route(section.path, placeholder, methods=["GET"], response_model=None)


for _section in SECTIONS:
    if not _section.built:
        _placeholder_route(_section)
