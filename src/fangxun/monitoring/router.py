"""HTTP routes of monitoring: stations and datastreams (GeoJSON), observations, latest values,
rain totals, areal rain, dead letters, stale stations, and ``POST /observations`` (ingest)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, status
from fastapi.responses import JSONResponse, Response

from fangxun.api.cache import cached_json
from fangxun.api.deps import (
    CurrentPrincipal,
    CurrentUser,
    SessionDep,
    SettingsDep,
    require_role,
)
from fangxun.api.pagination import Page, PageDep
from fangxun.api.problems import error_responses
from fangxun.db.types import utcnow
from fangxun.errors import ValidationFailed
from fangxun.monitoring import qc, service
from fangxun.monitoring.ingest.parser import parse_payload
from fangxun.monitoring.ingest.writer import (
    Pending,
    PendingReject,
    WriteOptions,
    write_observations,
)
from fangxun.monitoring.models import Source, StationKind
from fangxun.monitoring.schemas import (
    ArealRain,
    DatastreamCreate,
    DatastreamRead,
    DeadLetterRead,
    IngestResponse,
    ItemResultRead,
    ObservationIn,
    ObservationRead,
    RainTotals,
    StaleStation,
    StationCreate,
    StationRead,
)
from fangxun.org.models import Role, User

router = APIRouter(tags=["monitoring"])
_ERRORS = error_responses(401, 404, s401="Missing, expired or revoked token")
Manager = Annotated[User, Depends(require_role(Role.admin, Role.district))]
Ingester = Annotated[User, Depends(require_role(Role.admin, Role.district, Role.duty))]


@router.get(
    "/monitoring/stations", summary="Stations with latest values (GeoJSON)", responses=_ERRORS
)
async def stations(
    request: Request, user: CurrentPrincipal, kind: StationKind | None = None
) -> Response:
    """An RFC 7946 FeatureCollection of the stations you may see, with their datastreams (from
    the response cache: per jurisdiction, rebuilt when a station or a latest value changes;
    ``ETag``, gzip). Async: a cache hit touches neither the database nor the thread pool."""
    return await cached_json(
        request,
        user,
        lambda db, actor: service.stations_geojson(session=db, actor=actor, kind=kind),
        version=service.latest_version,
        media_type="application/geo+json",
    )


@router.post(
    "/monitoring/stations",
    response_model=StationRead,
    status_code=status.HTTP_201_CREATED,
    responses=_ERRORS,
)
def create_station(session: SessionDep, user: Manager, station_in: StationCreate) -> Any:
    """Add a station (admin, district)."""
    return service.create_station(session=session, station_in=station_in, actor=user)


@router.get("/monitoring/stations/{code}", response_model=StationRead, responses=_ERRORS)
def station(session: SessionDep, user: CurrentUser, code: str) -> Any:
    """One station."""
    return service.get_station(session=session, code=code, actor=user)


@router.get("/monitoring/datastreams", summary="Datastreams (GeoJSON)", responses=_ERRORS)
def datastreams(
    session: SessionDep, user: CurrentUser, station: str | None = None
) -> dict[str, Any]:
    """Datastreams as GeoJSON points at their station, with their latest values."""
    features = []
    for ds in service.list_datastreams(session=session, actor=user, station_code=station):
        features.append(
            {
                "type": "Feature",
                "id": ds.code,
                "geometry": {"type": "Point", "coordinates": [ds.station.lon, ds.station.lat]},
                "properties": service.datastream_read(ds).model_dump(mode="json"),
            }
        )
    return {"type": "FeatureCollection", "features": features}


@router.post(
    "/monitoring/datastreams",
    response_model=DatastreamRead,
    status_code=status.HTTP_201_CREATED,
    responses=_ERRORS,
)
def create_datastream(session: SessionDep, user: Manager, datastream_in: DatastreamCreate) -> Any:
    """Add a datastream (admin, district)."""
    ds = service.create_datastream(session=session, datastream_in=datastream_in, actor=user)
    session.refresh(ds)
    return service.datastream_read(ds)


@router.get("/monitoring/latest", response_model=list[DatastreamRead], responses=_ERRORS)
async def latest(request: Request, user: CurrentPrincipal) -> Response:
    """The latest value of every datastream you may see (the fast path: from the response
    cache, per jurisdiction, rebuilt when a latest value changes; ``ETag``, gzip). Async: a
    cache hit touches neither the database nor the thread pool."""
    return await cached_json(
        request,
        user,
        lambda db, actor: [
            service.datastream_read(ds) for ds in service.list_datastreams(session=db, actor=actor)
        ],
        version=service.latest_version,
    )


@router.get(
    "/monitoring/datastreams/{code}/observations",
    response_model=list[ObservationRead],
    responses=_ERRORS,
)
def observations(
    session: SessionDep,
    user: CurrentUser,
    code: str,
    start: Annotated[datetime, Query(description="ISO 8601 with offset (inclusive)")],
    end: Annotated[datetime, Query(description="ISO 8601 with offset (inclusive)")],
    include_flagged: bool = True,
    limit: Annotated[int, Query(ge=1, le=100_000)] = 10_000,
) -> Any:
    """Observations of a datastream in a time range, oldest first, in the datastream's unit."""
    points = service.list_observations(
        session=session, actor=user, code=code, start=start, end=end,
        include_flagged=include_flagged, limit=limit,
    )  # fmt: skip
    return [
        ObservationRead(time=p.time, value=p.value, flags=qc.flag_names(p.flags)) for p in points
    ]


@router.get(
    "/monitoring/datastreams/{code}/rain-totals", response_model=RainTotals, responses=_ERRORS
)
def rain_totals(
    session: SessionDep,
    settings: SettingsDep,
    user: CurrentUser,
    code: str,
    end: datetime | None = None,
    include_flagged: bool = False,
) -> Any:
    """Rolling rain totals (10 min … 24 h) and the current event total, mm."""
    ds = service.get_datastream(session=session, code=code, actor=user)
    result = service.rain_totals(
        session=session, actor=user, code=code, end=end,
        event_gap=timedelta(seconds=settings.rain_event_gap_s), include_flagged=include_flagged,
    )  # fmt: skip
    return RainTotals(
        datastream=code,
        station_code=ds.station.code,
        end=end or utcnow(),
        totals_mm=result.totals_mm,
        event_total_mm=result.event_total_mm,
        event_start=result.event_start,
    )


@router.get("/monitoring/areal-rain", response_model=ArealRain, responses=_ERRORS)
def areal_rain(
    session: SessionDep,
    user: CurrentUser,
    window: Annotated[str, Query(description="10m, 1h, 3h, 6h, 12h or 24h")] = "1h",
    end: datetime | None = None,
    power: Annotated[float, Query(gt=0, le=6)] = 2.0,
) -> Any:
    """District areal rain over a window by inverse distance weighting of the gauges, mm."""
    if window not in service.RAIN_WINDOWS_S:
        raise ValidationFailed(
            f"window must be one of {', '.join(service.RAIN_WINDOWS_S)}", loc=("query", "window")
        )
    end = end or utcnow()
    window_s = service.RAIN_WINDOWS_S[window]
    mean, gauges, samples = service.areal_rain(
        session=session, actor=user, window_s=window_s, end=end, power=power
    )
    return ArealRain(
        end=end, window_s=window_s, method="idw", power=power, mean_mm=mean, gauges=gauges,
        samples=samples,
    )  # fmt: skip


@router.get("/monitoring/dead-letters", response_model=Page[DeadLetterRead], responses=_ERRORS)
def dead_letters(session: SessionDep, user: Ingester, page: PageDep) -> Any:
    """Inputs that were not stored, newest first, with the reason and raw payload."""
    rows, total = service.list_dead_letters(
        session=session, actor=user, limit=page.limit, offset=page.offset
    )
    return page.page(rows, total)


@router.get("/monitoring/stale-stations", response_model=list[StaleStation], responses=_ERRORS)
def stale(session: SessionDep, settings: SettingsDep, user: CurrentUser) -> Any:
    """Stations with no data for ``FANGXUN_MONITORING_STALE_S`` seconds or more."""
    now = utcnow()
    return [
        StaleStation(
            code=st.code, name_zh=st.name_zh, kind=st.kind, last_time=t,
            silent_s=None if t is None else (now - t).total_seconds(),
        )
        for st, t in service.stale_stations(
            session=session, actor=user, stale_after=timedelta(seconds=settings.monitoring_stale_s),
            now=now,
        )
    ]  # fmt: skip


_OBSERVATIONS_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "oneOf": [
                        ObservationIn.model_json_schema(),
                        {"type": "array", "items": ObservationIn.model_json_schema()},
                    ]
                },
                "example": [
                    {"datastream": "RG01-rain", "time": "2021-07-20T16:00:00+08:00", "value": 3.2}
                ],
            }
        },
    }
}


@router.post(
    "/observations",
    response_model=IngestResponse,
    summary="Post observations (one object or an array)",
    openapi_extra=_OBSERVATIONS_BODY,
    responses={**_ERRORS, 400: {"description": "The body is not JSON (dead-lettered)"}},
)
async def post_observations(
    request: Request, session: SessionDep, settings: SettingsDep, user: Ingester
) -> Any:
    """Store observations with per-item results; bad items are dead-lettered, good ones stored.

    Idempotent: posting the same items again reports them as duplicates.
    """
    body = await request.body()
    parsed = parse_payload(body)
    origin = f"http:{user.username}"
    items = [Pending(m, origin) for m in parsed.messages]
    result = write_observations(
        session=session,
        items=items,
        rejects=[PendingReject(r, origin) for r in parsed.rejects],
        source=Source.http,
        options=WriteOptions.from_settings(settings),
    )
    out: list[ItemResultRead] = []
    for idx, res in zip(parsed.indices, result.items, strict=True):
        out.append(
            ItemResultRead(
                index=idx, status=res.status, reason=res.reason, flags=qc.flag_names(res.flags)
            )
        )
    whole = [r for r in parsed.rejects if r.index is None]
    for r in parsed.rejects:
        if r.index is not None:
            out.append(ItemResultRead(index=r.index, status="rejected", reason=r.reason))
    out.sort(key=lambda i: i.index)
    response = IngestResponse(
        stored=result.stored,
        duplicates=result.duplicates,
        rejected=sum(1 for i in out if i.status == "rejected") + len(whole),
        items=out,
    )
    if whole and not out:
        body_json = response.model_dump(mode="json") | {"detail": whole[0].reason}
        return JSONResponse(body_json, status_code=status.HTTP_400_BAD_REQUEST)
    return response
