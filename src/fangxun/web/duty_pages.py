"""Web pages of the duty roster: who is on duty now, the coming week's gaps and shifts, and the
roster as Excel and iCalendar.

Thin views over :mod:`fangxun.duty.service`. ``fangxun.api.app.create_app`` includes :data:`router`.
"""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request, Response

from fangxun.api.deps import SessionDep, SettingsDep
from fangxun.api.downloads import ICALENDAR, XLSX, download
from fangxun.db.types import utcnow
from fangxun.duty import service as duty
from fangxun.field import service as field
from fangxun.web.auth import WebUser
from fangxun.web.operations_labels import LABELS
from fangxun.web.render import WebRoute, local, render_page

router = APIRouter(route_class=WebRoute, include_in_schema=False)


# --- duty --------------------------------------------------------------------------------------


@router.get("/duty")
def duty_page(request: Request, user: WebUser, db: SessionDep, settings: SettingsDep) -> Response:
    """Who is on duty now, the gaps of the coming week, overdue patrols (河道巡查), and the
    week's shifts."""
    now = utcnow()
    week = now + timedelta(days=settings.duty_page_days)
    shifts = duty.list_shifts(session=db, actor=user, start=now, end=week)
    gaps: list[duty.DutyGap] = []
    for unit_id in sorted({s.unit_id for s in shifts}):
        gaps += duty.find_gaps(
            session=db,
            actor=user,
            unit_id=unit_id,
            start=now,
            end=week,
            now=now,
            check_in_grace_s=settings.duty_check_in_grace_s,
        )
    return render_page(
        request,
        "duty/roster.html",
        settings=settings,
        user=user,
        active="duty",
        context={
            "teams": duty.current_team(session=db, actor=user, at=now),
            "shifts": shifts,
            "gaps": gaps,
            "overdue_patrols": field.overdue_patrols(session=db, actor=user, now=now),
            "labels": LABELS,
            "local": local,
        },
    )


@router.get("/duty/roster.xlsx")
def duty_xlsx(user: WebUser, db: SessionDep, settings: SettingsDep) -> Response:
    """The next ``roster_export_days`` (31) days of the roster as Excel."""
    now = utcnow()
    end = now + timedelta(days=settings.roster_export_days)
    shifts = duty.list_shifts(session=db, actor=user, start=now, end=end)
    return download(duty.export_xlsx(shifts), XLSX, "duty-roster.xlsx")


@router.get("/duty/roster.ics")
def duty_ics(user: WebUser, db: SessionDep, settings: SettingsDep) -> Response:
    """The next ``roster_export_days`` (31) days of the roster as iCalendar."""
    now = utcnow()
    end = now + timedelta(days=settings.roster_export_days)
    shifts = duty.list_shifts(session=db, actor=user, start=now, end=end)
    return download(duty.export_ical(shifts), ICALENDAR, "duty-roster.ics")


__all__ = ["router"]
