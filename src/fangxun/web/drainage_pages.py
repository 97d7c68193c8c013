"""Web side of the drainage domain: the network layer of the one map (cookie auth)."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Response

from fangxun.api.deps import SessionDep, SettingsDep
from fangxun.api.downloads import GEOJSON
from fangxun.drainage import service
from fangxun.web.auth import WebUser
from fangxun.web.render import WebRoute

router = APIRouter(route_class=WebRoute, include_in_schema=False)


@router.get("/drainage/network.geojson")
def network_geojson(user: WebUser, db: SessionDep, settings: SettingsDep) -> Response:
    """The active drainage network for the map's layer (see
    :func:`fangxun.drainage.service.network_geojson`)."""
    del user  # any login
    body = service.network_geojson(session=db, settings=settings)
    for feature in body["features"]:
        feature["properties"]["detail"] = _detail(feature["properties"])
    return Response(json.dumps(body, ensure_ascii=False), media_type=GEOJSON)


def _detail(props: dict[str, Any]) -> str:
    """A short popup line: a pipe's diameter, a pump station's pumps and telemetry station, an
    outfall's river gauge, a manhole's rim (language-neutral: codes and units only)."""
    kind = props["kind"]
    if kind == "pipe" and props.get("diameter_m"):
        return f"DN{round(props['diameter_m'] * 1000)}"
    if kind == "pump_station":
        station = f" · {props['station']}" if props.get("station") else ""
        return ", ".join(props["pumps"]) + station
    if kind == "outfall" and props.get("river_gauge"):
        return str(props["river_gauge"])
    if props.get("rim_m") is not None:
        return f"{props['rim_m']:.2f} m"
    return ""
