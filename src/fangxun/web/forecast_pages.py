"""Web page of forecasts (积水预报): the map with the predicted max-depth overlay and a time
slider over the stored depth frames, and the hazard points ranked by risk with probability and
time to threshold.

Thin views: they call :mod:`fangxun.forecast.service` and render ``templates/forecast/*.html``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request, Response

from fangxun.api.deps import SessionDep, SettingsDep
from fangxun.api.downloads import download
from fangxun.forecast import service
from fangxun.web.auth import WebUser
from fangxun.web.i18n import N_, gettext_for, negotiate_language
from fangxun.web.render import WebRoute, render_page

router = APIRouter(route_class=WebRoute, include_in_schema=False)

LOCAL_TZ: Final = ZoneInfo("Asia/Shanghai")
COLOUR_LABELS: Final[dict[str, str]] = {
    "blue": N_("Blue"),
    "yellow": N_("Yellow"),
    "orange": N_("Orange"),
    "red": N_("Red"),
}
STATUS_LABELS: Final[dict[str, str]] = {
    "queued": N_("Queued"),
    "running": N_("Running"),
    "done": N_("Done"),
    "failed": N_("Failed"),
}


@router.get("/forecast")
def forecast_page(
    request: Request, user: WebUser, db: SessionDep, settings: SettingsDep
) -> Response:
    """The forecast in force: overlay map, time slider, points ranked by risk, recent runs."""
    lang = negotiate_language(request, settings.language)
    _ = gettext_for(lang)
    run = service.current_run(session=db)
    points: list[dict[str, Any]] = []
    map_data: dict[str, Any] = {"run": None}
    if run is not None:
        for p in service.point_results(session=db, run_id=run.id, actor=user):
            row = p.model_dump()
            row["peak_local"] = p.peak_time.astimezone(LOCAL_TZ).strftime("%m-%d %H:%M")
            points.append(row)
        frames = [
            {
                "url": f"/forecast/runs/{run.id}/frame_{t:08.0f}.png",
                "label": (run.issued_at + timedelta(seconds=t))
                .astimezone(LOCAL_TZ)
                .strftime("%H:%M"),
            }
            for t in (run.summary or {}).get("frames_s", [])
        ]
        map_data = {
            "run": run.id,
            "bounds": run.bounds,
            "overlay": f"/forecast/runs/{run.id}/overlay.png",
            "frames": frames,
            "max_label": _("Maximum depth"),
            "points": [
                {"lon": p["lon"], "lat": p["lat"], "code": p["code"], "name": p["name"],
                 "peak": p["peak_depth_cm"]}
                for p in points
            ],
        }  # fmt: skip
    runs = service.list_runs(session=db, limit=10)
    return render_page(
        request,
        "forecast/index.html",
        settings=settings,
        user=user,
        active="forecast",
        context={
            "run": run,
            "issued_local": run.issued_at.astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M")
            if run is not None
            else None,
            "points": points,
            "runs": runs,
            "map_data": map_data,
            "colour_labels": {k: _(v) for k, v in COLOUR_LABELS.items()},
            "status_labels": {k: _(v) for k, v in STATUS_LABELS.items()},
        },
    )


@router.get("/forecast/runs/{run_id}/{name}")
def forecast_file(
    run_id: int, name: str, user: WebUser, db: SessionDep, settings: SettingsDep
) -> Response:
    """A run's overlay or frame PNG (or raster) for the page's map."""
    path = service.run_file(session=db, run_id=run_id, settings=settings, name=name)
    media = "image/png" if path.suffix == ".png" else "image/tiff"
    return download(path.read_bytes(), media, f"forecast_{run_id}_{name}", inline=True)
