"""HTTP routes of the reports: storm events, their statistics, causes, the review, PDF and Excel."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response

from fangxun.api.deps import CurrentUser, SessionDep, SettingsDep
from fangxun.api.downloads import PDF, XLSX, download
from fangxun.api.problems import error_responses
from fangxun.reports import export, service
from fangxun.reports.models import StormEvent
from fangxun.reports.schemas import (
    MAX_ID,
    CauseIn,
    CauseRead,
    DetectIn,
    PointStatsRead,
    ReviewItemRead,
    ReviewOutcomeRead,
    StormEventDetail,
    StormEventRead,
    SuggestionRead,
)

router = APIRouter(tags=["reports"])

#: Ids are 32-bit in the database: a larger one is refused as invalid, not looked up.
EventId = Annotated[int, Path(ge=1, le=MAX_ID, description="Storm event id")]

_ERRORS = error_responses(401, 403, 404, 422)


def event_read(e: StormEvent) -> StormEventRead:
    """An event in mm."""
    return StormEventRead(
        id=e.id,
        name=e.name,
        start=e.start,
        end=e.end,
        status=e.status.value,
        total_mm=round(e.total_m * 1000, 2),
        mean_total_mm=round(e.mean_total_m * 1000, 2),
        max_1h_mm=round(e.max_1h_m * 1000, 2),
        max_3h_mm=round(e.max_3h_m * 1000, 2),
        max_12h_mm=round(e.max_12h_m * 1000, 2),
        max_24h_mm=round(e.max_24h_m * 1000, 2),
        grade=e.grade,
        return_period_years=e.return_period_years,
        peak_gauge=e.peak_gauge,
    )


@router.post("/reports/events/detect", response_model=list[StormEventRead], responses=_ERRORS)
def detect(body: DetectIn, user: CurrentUser, session: SessionDep, settings: SettingsDep) -> Any:
    """Detect storm events in the rain observations and store them (admin, district, duty)."""
    events = service.detect_events(
        session=session, settings=settings, actor=user, start=body.start, end=body.end
    )
    return [event_read(e) for e in events]


@router.get("/reports/events", response_model=list[StormEventRead], responses=_ERRORS)
def list_events(
    user: CurrentUser,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
) -> Any:
    """Stored storm events, newest first."""
    return [event_read(e) for e in service.list_events(session=session, limit=limit, offset=offset)]


@router.get("/reports/events/{event_id}", response_model=StormEventDetail, responses=_ERRORS)
def get_event(
    event_id: EventId, user: CurrentUser, session: SessionDep, settings: SettingsDep
) -> Any:
    """An event with the statistics of the points in your jurisdiction, worst first."""
    report = service.build_report(session=session, settings=settings, event_id=event_id, actor=user)
    points = []
    for p in report.points:
        cause = report.causes.get(p.point_id)
        points.append(
            PointStatsRead(
                rank=p.rank,
                point_id=p.point_id,
                code=p.code,
                name=p.name,
                unit_id=p.unit_id,
                unit_name=p.unit_name,
                max_depth_cm=round(p.max_depth_m * 100, 2),
                max_at=p.max_at,
                above_ponding_s=p.above_ponding_s,
                above_threshold_s=p.above_s,
                time_to_drain_s=p.drain_s,
                forecast_peak_cm=round(p.forecast.peak_m * 100, 2) if p.forecast else None,
                forecast_error_cm=round(p.forecast.error_m * 100, 2) if p.forecast else None,
                warnings=p.warnings.count if p.warnings else None,
                warning_lead_s=p.warnings.lead_s if p.warnings else None,
                incidents=p.incidents,
                suggestions=[
                    SuggestionRead(cause=s.cause, evidence=s.evidence)
                    for s in report.suggestions.get(p.point_id, [])
                ],
                cause=cause.cause if cause else None,
                cause_evidence=cause.evidence if cause else None,
            )
        )
    return StormEventDetail(**event_read(report.event).model_dump(), points=points)


@router.post("/reports/events/{event_id}/causes", response_model=CauseRead, responses=_ERRORS)
def confirm_cause(
    event_id: EventId, body: CauseIn, user: CurrentUser, session: SessionDep, settings: SettingsDep
) -> Any:
    """Confirm the cause of ponding at a point (admin, district, unit); audited."""
    return service.confirm_cause(
        session=session,
        settings=settings,
        event_id=event_id,
        point_id=body.point_id,
        cause=body.cause,
        evidence=body.evidence,
        actor=user,
    )


@router.post(
    "/reports/events/{event_id}/rectifications",
    response_model=ReviewOutcomeRead,
    responses=_ERRORS,
)
def create_rectifications(
    event_id: EventId, user: CurrentUser, session: SessionDep, settings: SettingsDep
) -> Any:
    """The review: open rectifications for the confirmed causes not yet reviewed."""
    out = service.create_rectifications(
        session=session, settings=settings, event_id=event_id, actor=user
    )
    return ReviewOutcomeRead(
        created=[ReviewItemRead.model_validate(i) for i in out.created], skipped=out.skipped
    )


@router.get(
    "/reports/events/{event_id}/report.pdf",
    response_class=Response,
    responses={**_ERRORS, 200: {"content": {PDF: {}}}},
)
def event_pdf(
    event_id: EventId, user: CurrentUser, session: SessionDep, settings: SettingsDep
) -> Response:
    """The event report as PDF (Chinese)."""
    report = service.build_report(session=session, settings=settings, event_id=event_id, actor=user)
    return download(export.event_pdf(report), PDF, f"event-{event_id}.pdf")


@router.get(
    "/reports/events/{event_id}/report.xlsx",
    response_class=Response,
    responses={**_ERRORS, 200: {"content": {XLSX: {}}}},
)
def event_xlsx(
    event_id: EventId, user: CurrentUser, session: SessionDep, settings: SettingsDep
) -> Response:
    """The event report's tables as Excel."""
    report = service.build_report(session=session, settings=settings, event_id=event_id, actor=user)
    return download(export.event_xlsx(report), XLSX, f"event-{event_id}.xlsx")
