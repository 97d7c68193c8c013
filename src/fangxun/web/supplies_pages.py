"""Web page of supplies and teams: shortages against quota, stock per warehouse, expiring items,
teams and drills.

A thin view over :mod:`fangxun.supplies.service`. ``fangxun.api.app.create_app`` includes
:data:`router`.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from fangxun.api.deps import SessionDep, SettingsDep
from fangxun.supplies import service as supplies
from fangxun.web.auth import WebUser
from fangxun.web.operations_labels import LABELS
from fangxun.web.render import WebRoute, local, render_page

router = APIRouter(route_class=WebRoute, include_in_schema=False)


# --- supplies ----------------------------------------------------------------------------------


@router.get("/supplies")
def supplies_page(
    request: Request, user: WebUser, db: SessionDep, settings: SettingsDep
) -> Response:
    """Shortages against quota, stock per warehouse, expiring items and teams."""
    warehouses = supplies.list_warehouses(session=db, actor=user)
    return render_page(
        request,
        "supplies/overview.html",
        settings=settings,
        user=user,
        active="supplies",
        context={
            "shortages": supplies.shortages(session=db, actor=user),
            "stock": [
                (w, supplies.stock_of(session=db, warehouse_id=w.id, actor=user))
                for w in warehouses
            ],
            "expiring": supplies.expiring(
                session=db, actor=user, within_days=settings.supplies_expiring_days
            ),
            "teams": supplies.list_teams(session=db, actor=user),
            "drills": supplies.list_drills(session=db, actor=user)[:10],
            "labels": LABELS,
            "local": local,
        },
    )


__all__ = ["router"]
