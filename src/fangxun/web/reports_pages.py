"""Web pages of the post-event reports (积涝统计与复盘): the storm events, an event's page with its
charts, map and tables, the cause confirmation per ponded point, the "create rectifications"
button of the review, and the PDF / Excel downloads.

Thin views: they call :mod:`fangxun.reports.service` and :mod:`fangxun.reports.export` and render
``templates/reports/*.html``; a domain error becomes a message on the page.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Final

from fastapi import APIRouter, Form, Path, Query, Request, Response
from fastapi.responses import RedirectResponse

from fangxun.api.deps import SessionDep, SettingsDep
from fangxun.api.downloads import PDF, XLSX, download
from fangxun.config import Settings
from fangxun.db import Session
from fangxun.errors import FangxunError, NotFoundError, ValidationFailed
from fangxun.org.models import User
from fangxun.reports import charts, duty_reports, export, service, stats
from fangxun.times import DATE_TIME, local, local_zone
from fangxun.web.auth import CsrfProtected, WebUser
from fangxun.web.forms import status_of
from fangxun.web.i18n import N_, gettext_for, negotiate_language
from fangxun.web.render import WebRoute, render_page

router = APIRouter(route_class=WebRoute, include_in_schema=False)

#: Names of the cause codes (msgids); a configured code not listed is shown as its code.
CAUSE_LABELS: Final[dict[str, str]] = {
    "drainage_capacity": N_("Drainage capacity exceeded"),
    "blocked_inlets": N_("Blocked inlets"),
    "pump_failure": N_("Pump failure or power loss"),
    "river_backwater": N_("River backwater"),
    "construction_works": N_("Construction works"),
    "terrain_low_point": N_("Terrain low point"),
    "other": N_("Other"),
}
GRADE_LABELS: Final[dict[str, str]] = {
    "none": N_("Below rainstorm"),
    "rainstorm": N_("Rainstorm"),
    "heavy_rainstorm": N_("Heavy rainstorm"),
    "extreme_rainstorm": N_("Extreme rainstorm"),
}
STATUS_LABELS: Final[dict[str, str]] = {
    "open": N_("Still raining"),
    "closed": N_("Over"),
    "reviewed": N_("Reviewed"),
}
CHARTS: Final = ("hyetograph", "depth_curves", "map")
#: What each chart shows, for its ``alt`` text (msgids).
CHART_LABELS: Final[dict[str, str]] = {
    "hyetograph": N_("Rain per hour and accumulated rain"),
    "depth_curves": N_("Ponding depth at the worst points"),
    "map": N_("Map of the maximum ponding depth"),
}
#: Ids are 32-bit in the database: a larger one is refused, not looked up.
EventId = Annotated[int, Path(ge=1, le=2**31 - 1)]


def _local(moment: datetime | None, fmt: str = DATE_TIME) -> str:
    return local(moment, fmt, empty="—")


def _labels(request: Request, settings: Settings) -> dict[str, dict[str, str]]:
    _ = gettext_for(negotiate_language(request, settings.language))
    return {
        "cause": {
            c: _(CAUSE_LABELS[c]) if c in CAUSE_LABELS else c for c in settings.report_causes
        },
        "grade": {k: _(v) for k, v in GRADE_LABELS.items()},
        "status": {k: _(v) for k, v in STATUS_LABELS.items()},
    }


def _verification_rows(db: Session) -> list[dict[str, Any]]:
    """The verification archive per point and colour (rows with a crossing or a warning):
    hits / crossings, false alarms / warnings, median lead (min), for the reports page."""
    from fangxun.warnings import verification

    rows: list[dict[str, Any]] = []
    for entry in verification.by_point(session=db):
        for colour, s in entry["scores"].items():
            if not (s["crossings"] or s["warnings"]):
                continue
            lead = s["lead_s_median"]
            rows.append(
                {
                    "point": entry["name"],
                    "colour": colour,
                    "crossings": s["crossings"],
                    "hits": s["hits"],
                    "warnings": s["warnings"],
                    "false_alarms": s["false_alarms"],
                    "pod": "—" if s["pod"] is None else f"{s['pod'] * 100:.0f} %",
                    "far": "—" if s["far"] is None else f"{s['far'] * 100:.0f} %",
                    "lead_min": "—" if lead is None else f"{lead / 60:.0f}",
                }
            )
    return rows


@router.get("/reports")
def reports_page(
    request: Request, user: WebUser, db: SessionDep, settings: SettingsDep
) -> Response:
    """The storm events, newest first, and the button that detects them."""
    return _reports_list(request, user, db, settings)


def _reports_list(
    request: Request,
    user: User,
    db: Session,
    settings: Settings,
    *,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    # The error comes from a refused form, never from the URL (no message anyone can link to).
    events = service.list_events(session=db, limit=100)
    rows = [
        {
            "id": e.id,
            "name": e.name,
            "start": _local(e.start),
            "end": _local(e.end),
            "status": e.status.value,
            "total_mm": f"{e.total_m * 1000:.1f}",
            "max_1h_mm": f"{e.max_1h_m * 1000:.1f}",
            "max_24h_mm": f"{e.max_24h_m * 1000:.1f}",
            "grade": e.grade,
            "return_period": stats.format_return_period(e.return_period_years),
        }
        for e in events
    ]
    return render_page(
        request,
        "reports/list.html",
        settings=settings,
        user=user,
        active="reports",
        status_code=status_code,
        context={
            "events": rows,
            "error": error,
            "notice": None,
            "labels": _labels(request, settings),
            "can_detect": user.role in service.DETECT_ROLES,
            "verification": _verification_rows(db),
            "year": datetime.now(local_zone()).year,
            "today": datetime.now(local_zone()).date().isoformat(),
        },
    )


@router.post("/reports/detect", dependencies=[CsrfProtected])
def reports_detect(
    request: Request, user: WebUser, db: SessionDep, settings: SettingsDep
) -> Response:
    """Detect storm events in every rain observation."""
    try:
        service.detect_events(session=db, settings=settings, actor=user)
    except FangxunError as exc:
        db.rollback()
        return _reports_list(
            request, user, db, settings, error=str(exc), status_code=status_of(exc)
        )
    return RedirectResponse("/reports", status_code=303)


def _point_row(p: service.PointStats, report: service.EventReport) -> dict[str, Any]:
    s = report.settings
    cause = report.causes.get(p.point_id)
    w = p.warnings
    return {
        "id": p.point_id,
        "rank": p.rank,
        "code": p.code,
        "name": p.name,
        "unit": p.unit_name,
        "max_cm": f"{p.max_depth_m * 100:.1f}",
        "max_at": _local(p.max_at, "%m-%d %H:%M"),
        "above_min": f"{p.above_ponding_s / 60:.0f}",
        "drain_min": "—" if p.drain_s is None else f"{p.drain_s / 60:.0f}",
        "forecast_cm": f"{p.forecast.peak_m * 100:.1f}" if p.forecast else "—",
        "error_cm": f"{p.forecast.error_m * 100:+.1f}" if p.forecast else "—",
        "warnings": None if w is None else w.count,
        "lead_min": None if w is None or w.lead_s is None else f"{w.lead_s / 60:+.0f}",
        "incidents": p.incidents,
        "ponded": p.ponded(s.report_ponding_depth_m),
        "suggestions": report.suggestions.get(p.point_id, []),
        "cause": cause.cause if cause else None,
        "evidence": cause.evidence if cause else "",
        "confirmed_by": cause.confirmed_by if cause else None,
    }


@router.get("/reports/events/{event_id}")
def event_page(
    event_id: EventId, request: Request, user: WebUser, db: SessionDep, settings: SettingsDep
) -> Response:
    """An event: rain figures, charts, map, per-point table, causes and the review."""
    return _event_detail(event_id, request, user, db, settings)


def _event_detail(
    event_id: int,
    request: Request,
    user: User,
    db: Session,
    settings: Settings,
    *,
    error: str | None = None,
    notice: str | None = None,
    status_code: int = 200,
) -> Response:
    # Messages come from a refused form or the review's outcome, never from the URL.
    report = service.build_report(session=db, settings=settings, event_id=event_id, actor=user)
    e = report.event
    points = [_point_row(p, report) for p in report.points]
    return render_page(
        request,
        "reports/event.html",
        settings=settings,
        user=user,
        active="reports",
        status_code=status_code,
        context={
            "event": e,
            "start": _local(e.start),
            "end": _local(e.end),
            "figures": {
                "total_mm": f"{e.total_m * 1000:.1f}",
                "mean_mm": f"{e.mean_total_m * 1000:.1f}",
                "max_1h_mm": f"{e.max_1h_m * 1000:.1f}",
                "max_3h_mm": f"{e.max_3h_m * 1000:.1f}",
                "max_24h_mm": f"{e.max_24h_m * 1000:.1f}",
                "return_period": stats.format_return_period(e.return_period_years),
            },
            "points": points,
            "ponded": [p for p in points if p["ponded"]],
            "ponding_cm": f"{settings.report_ponding_depth_m * 100:.0f}",
            "labels": _labels(request, settings),
            "causes": settings.report_causes,
            "warnings_available": report.warnings_available,
            "review_items": [
                {
                    "problem": r.problem,
                    "deadline": _local(r.deadline, "%Y-%m-%d"),
                    "rectification_id": r.rectification_id,
                }
                for r in report.review_items
            ],
            "progress": report.progress,
            "incidents": report.incidents,
            "can_confirm": user.role in service.CONFIRM_ROLES,
            "error": error,
            "notice": notice,
            "charts": CHARTS,
            "chart_labels": CHART_LABELS,
        },
    )


@router.post("/reports/events/{event_id}/causes", dependencies=[CsrfProtected])
def confirm_cause(
    event_id: EventId,
    request: Request,
    user: WebUser,
    db: SessionDep,
    settings: SettingsDep,
    point_id: Annotated[int, Form(ge=1, le=2**31 - 1)],
    cause: Annotated[str, Form()],
    evidence: Annotated[str, Form()] = "",
) -> Response:
    """Confirm the cause of ponding at one point."""
    try:
        service.confirm_cause(
            session=db,
            settings=settings,
            event_id=event_id,
            point_id=point_id,
            cause=cause,
            evidence=evidence,
            actor=user,
        )
    except NotFoundError:
        raise
    except FangxunError as exc:
        db.rollback()
        return _event_detail(
            event_id, request, user, db, settings, error=str(exc), status_code=status_of(exc)
        )
    return RedirectResponse(f"/reports/events/{event_id}#causes", status_code=303)


@router.post("/reports/events/{event_id}/rectifications", dependencies=[CsrfProtected])
def create_rectifications(
    event_id: EventId, request: Request, user: WebUser, db: SessionDep, settings: SettingsDep
) -> Response:
    """The review: open rectifications for every confirmed cause not yet reviewed."""
    try:
        out = service.create_rectifications(
            session=db, settings=settings, event_id=event_id, actor=user
        )
    except NotFoundError:
        raise
    except FangxunError as exc:
        db.rollback()
        return _event_detail(
            event_id, request, user, db, settings, error=str(exc), status_code=status_of(exc)
        )
    if out.skipped:
        _ = gettext_for(negotiate_language(request, settings.language))
        skipped = "; ".join(f"{code}: {why}" for code, why in out.skipped)
        notice = _("Not opened: %(skipped)s") % {"skipped": skipped}
        return _event_detail(event_id, request, user, db, settings, notice=notice)
    return RedirectResponse(f"/reports/events/{event_id}#review", status_code=303)


@router.get("/reports/events/{event_id}/report.pdf")
def event_pdf(event_id: EventId, user: WebUser, db: SessionDep, settings: SettingsDep) -> Response:
    """The event report as PDF."""
    report = service.build_report(session=db, settings=settings, event_id=event_id, actor=user)
    return download(export.event_pdf(report), PDF, f"event-{event_id}.pdf", inline=True)


@router.get("/reports/events/{event_id}/report.xlsx")
def event_xlsx(event_id: EventId, user: WebUser, db: SessionDep, settings: SettingsDep) -> Response:
    """The event report's tables as Excel."""
    report = service.build_report(session=db, settings=settings, event_id=event_id, actor=user)
    return download(export.event_xlsx(report), XLSX, f"event-{event_id}.xlsx")


@router.get("/reports/events/{event_id}/{chart}.png")
def event_chart(
    event_id: EventId, chart: str, user: WebUser, db: SessionDep, settings: SettingsDep
) -> Response:
    """One chart of the event page (hyetograph, depth_curves, map) as PNG."""
    if chart not in CHARTS:
        raise NotFoundError(f"no chart {chart!r}")
    report = service.build_report(session=db, settings=settings, event_id=event_id, actor=user)
    if chart == "hyetograph":
        png = charts.hyetograph_png(report.hyetograph)
    elif chart == "depth_curves":
        png = charts.depth_curves_png(report.worst(), settings.report_ponding_depth_m)
    else:
        png = charts.max_depth_map_png(report.points, report.forecast_raster)
    return download(png, "image/png", f"event-{event_id}-{chart}.png", inline=True)


@router.get("/reports/season.xlsx")
def season_xlsx(
    user: WebUser, db: SessionDep, settings: SettingsDep, year: int | None = None
) -> Response:
    """The flood season (June to September of ``year``) as Excel."""
    year = year or datetime.now(local_zone()).year
    summary = service.season_summary(
        session=db,
        settings=settings,
        actor=user,
        start=datetime(year, 6, 1, tzinfo=local_zone()),
        end=datetime(year, 10, 1, tzinfo=local_zone()),
    )
    return download(export.season_xlsx(summary), XLSX, f"season-{year}.xlsx")


#: Download formats of the printed reports and their media types.
ReportFormat = Annotated[str, Query(alias="format", pattern="^(docx|pdf)$")]


def _duty_download(report: duty_reports.DutyReport, fmt: str, name: str) -> Response:
    data = duty_reports.render(report, fmt)
    return download(data, duty_reports.MEDIA_TYPES[fmt], f"{name}.{fmt}", inline=fmt == "pdf")


@router.get("/reports/daily")
def daily_report(
    user: WebUser, db: SessionDep, fmt: ReportFormat = "pdf", day: str = Query(alias="date")
) -> Response:
    """The daily flood-control report (防汛日报) of ``date`` (Beijing time) as Word or PDF."""
    try:
        the_day = date.fromisoformat(day)
    except ValueError as exc:
        raise ValidationFailed(f"not a date (YYYY-MM-DD): {day!r}", loc=("query", "date")) from exc
    report = duty_reports.build_daily(session=db, actor=user, day=the_day)
    return _duty_download(report, fmt, f"daily-{the_day.isoformat()}")


@router.get("/reports/express")
def express_report(user: WebUser, db: SessionDep, fmt: ReportFormat = "pdf") -> Response:
    """The duty express report (值班快报) now, as Word or PDF."""
    report = duty_reports.build_express(session=db, actor=user)
    stamp = report.generated_at.astimezone(local_zone()).strftime("%Y%m%d-%H%M")
    return _duty_download(report, fmt, f"express-{stamp}")


__all__ = ["router"]
