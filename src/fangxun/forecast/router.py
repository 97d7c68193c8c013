"""HTTP routes of forecasts: start a run, see its status, fetch per-point results and rasters."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Query, Response, status

from fangxun.api.deps import CurrentUser, EngineDep, SessionDep, SettingsDep
from fangxun.api.downloads import download
from fangxun.api.problems import error_responses
from fangxun.forecast import flows, service
from fangxun.forecast.schemas import ForecastRunCreate, ForecastRunRead, PointForecastRead

router = APIRouter(prefix="/forecast", tags=["forecast"])

_ERRORS = error_responses(401, 403, 404, s403="Role may not start forecast runs", s404="Not found")
_MEDIA = {".tif": "image/tiff; application=geotiff; profile=cloud-optimized", ".png": "image/png"}


@router.post(
    "/runs",
    response_model=ForecastRunRead,
    status_code=status.HTTP_202_ACCEPTED,
    responses=_ERRORS,
)
def start_run(
    body: ForecastRunCreate,
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    db: EngineDep,
    background: BackgroundTasks,
) -> ForecastRunRead:
    """Queue a forecast run; it runs in the background (poll ``GET /forecast/runs/{id}``)."""
    run = service.create_run(session=session, run_in=body, actor=user, settings=settings)
    # The request session commits before the response is sent, so the job finds the run.
    background.add_task(flows.execute_run, db, run.id, settings)
    return service.run_read(session=session, run=run)


@router.get("/runs", response_model=list[ForecastRunRead], responses=_ERRORS)
def list_runs(
    user: CurrentUser,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[ForecastRunRead]:
    """Runs, newest first."""
    runs = service.list_runs(session=session, limit=limit, offset=offset)
    return [service.run_read(session=session, run=r) for r in runs]


@router.get("/runs/current", response_model=ForecastRunRead, responses=_ERRORS)
def current(user: CurrentUser, session: SessionDep) -> ForecastRunRead:
    """The forecast in force (the latest run that finished); 404 when none has."""
    from fangxun.errors import NotFoundError

    run = service.current_run(session=session)
    if run is None:
        raise NotFoundError("no forecast has finished yet")
    return service.run_read(session=session, run=run)


@router.get("/runs/{run_id}", response_model=ForecastRunRead, responses=_ERRORS)
def get_run(run_id: int, user: CurrentUser, session: SessionDep) -> ForecastRunRead:
    """One run: status, progress, failure reason, summary."""
    return service.run_read(session=session, run=service.get_run(session=session, run_id=run_id))


@router.get("/runs/{run_id}/points", response_model=list[PointForecastRead], responses=_ERRORS)
def run_points(
    run_id: int,
    user: CurrentUser,
    session: SessionDep,
    order: Annotated[str, Query(pattern="^(risk|id)$")] = "risk",
) -> list[PointForecastRead]:
    """Per-point results inside your jurisdiction, ranked by risk (or by point id)."""
    return service.point_results(session=session, run_id=run_id, actor=user, order=order)


@router.get("/runs/{run_id}/files/{name}", responses=_ERRORS, response_class=Response)
def run_file(
    run_id: int, name: str, user: CurrentUser, session: SessionDep, settings: SettingsDep
) -> Response:
    """``max_depth.tif`` / ``arrival_time.tif`` (COG GeoTIFF), ``overlay.png`` or
    ``frame_<t>.png`` (the map overlay, laid on the run's ``bounds``)."""
    path = service.run_file(session=session, run_id=run_id, settings=settings, name=name)
    return download(
        path.read_bytes(), _MEDIA[path.suffix], f"forecast_{run_id}_{name}", inline=True
    )
