"""Web pages of consultation briefings: the list, the button that makes one for now, and the PDF.

Thin views over :mod:`fangxun.briefings.service`; a refused form becomes a message on the page.
``fangxun.api.app.create_app`` includes :data:`router`.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from fangxun.api.deps import SessionDep, SettingsDep
from fangxun.api.downloads import PDF, download
from fangxun.briefings import service as briefings
from fangxun.briefings.schemas import BriefingCreate
from fangxun.config import Settings
from fangxun.db import Session
from fangxun.org.models import User
from fangxun.web.auth import CsrfProtected, WebUser
from fangxun.web.forms import submit_form
from fangxun.web.render import WebRoute, render_page

router = APIRouter(route_class=WebRoute, include_in_schema=False)


# --- briefings ---------------------------------------------------------------------------------


@router.get("/briefings")
def briefings_page(
    request: Request, user: WebUser, db: SessionDep, settings: SettingsDep
) -> Response:
    """Past briefings and the button that makes one for now."""
    return _briefings_list(request, user, db, settings)


def _briefings_list(
    request: Request,
    user: User,
    db: Session,
    settings: Settings,
    *,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    # The error comes from a refused form, never from the URL (no message anyone can link to).
    items = briefings.list_briefings(session=db, actor=user, limit=20)
    return render_page(
        request,
        "briefings/list.html",
        settings=settings,
        user=user,
        active="briefings",
        status_code=status_code,
        context={"items": items, "latest": items[0] if items else None, "error": error},
    )


@router.post("/briefings", dependencies=[CsrfProtected])
def briefings_generate(
    request: Request, user: WebUser, db: SessionDep, settings: SettingsDep
) -> Response:
    """Generate the briefing for now."""
    return submit_form(
        db,
        lambda: briefings.generate(session=db, briefing_in=BriefingCreate(), actor=user),
        failed=lambda error, status: _briefings_list(
            request, user, db, settings, error=error, status_code=status
        ),
        done=lambda _briefing: RedirectResponse("/briefings", status_code=303),
    )


@router.get("/briefings/{briefing_id}.pdf")
def briefing_pdf(briefing_id: int, user: WebUser, db: SessionDep) -> Response:
    """A briefing as PDF."""
    briefing = briefings.get_briefing(session=db, briefing_id=briefing_id, actor=user)
    return download(briefings.export_pdf(briefing), PDF, f"briefing-{briefing.id}.pdf", inline=True)


__all__ = ["router"]
