"""Drainage API: the active network as GeoJSON for maps and other clients."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from fangxun.api.deps import CurrentUser, SessionDep, SettingsDep
from fangxun.api.problems import error_responses
from fangxun.drainage import service

router = APIRouter(tags=["drainage"])

_ERRORS = error_responses(401, 403)


@router.get("/drainage/network.geojson", responses=_ERRORS)
def network_geojson(user: CurrentUser, session: SessionDep, settings: SettingsDep) -> Any:
    """The district's active drainage network (pipes, manholes, outfalls, pump stations) as
    GeoJSON in WGS 84 lon/lat; an empty collection before a network is imported. Every login
    reads it (the network is district-wide, like the terrain)."""
    del user  # any login
    return service.network_geojson(session=session, settings=settings)
