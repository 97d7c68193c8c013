"""Drainage API: the active network as GeoJSON, and what-if scenario runs."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, BackgroundTasks, status

from fangxun.api.deps import CurrentUser, EngineDep, SessionDep, SettingsDep
from fangxun.api.problems import error_responses
from fangxun.drainage import service, whatif
from fangxun.drainage.schemas import WhatIfCreate
from fangxun.forecast import flows

router = APIRouter(tags=["drainage"])

_ERRORS = error_responses(401, 403)


@router.get("/drainage/network.geojson", responses=_ERRORS)
def network_geojson(user: CurrentUser, session: SessionDep, settings: SettingsDep) -> Any:
    """The district's active drainage network (pipes, manholes, outfalls, pump stations) as
    GeoJSON in WGS 84 lon/lat; an empty collection before a network is imported. Every login
    reads it (the network is district-wide, like the terrain)."""
    del user  # any login
    return service.network_geojson(session=session, settings=settings)


@router.post(
    "/drainage/whatif",
    status_code=status.HTTP_202_ACCEPTED,
    responses=error_responses(401, 403, 422, s403="Role may not start forecast runs"),
)
def start_whatif(
    body: WhatIfCreate,
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    db: EngineDep,
    background: BackgroundTasks,
) -> dict[str, Any]:
    """Queue a what-if: a scenario run repeating the operational forecast in force (or
    ``base_run_id``) with a pump station off, the inlets blocked by a factor or the river at its
    guarantee level. Poll ``GET /drainage/runs/{run_id}/whatif`` for the changed points."""
    run = whatif.start_whatif(
        session=session,
        settings=settings,
        actor=user,
        whatif=service.DrainageWhatIf(
            pumps_off=tuple(body.pumps_off),
            inlet_factor=body.inlet_factor,
            river_at_guarantee=body.river_at_guarantee,
        ),
        base_run_id=body.base_run_id,
    )
    background.add_task(flows.execute_run, db, run.id, settings)
    return {"run_id": run.id, "compare_to": run.params["compare_to"], "status": run.status.value}


@router.get(
    "/drainage/runs/{run_id}/whatif",
    responses=error_responses(401, 404, 422, s404="No such run"),
)
def whatif_changes(run_id: int, user: CurrentUser, session: SessionDep) -> dict[str, Any]:
    """A what-if run against the run it repeats: the hazard points (in the login's jurisdiction)
    whose warning colour changes, worst first; empty while either run is not done."""
    return whatif.whatif_changes(session=session, run_id=run_id, actor=user).as_dict()
