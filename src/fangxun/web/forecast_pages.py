"""Web page of forecasts (积水预报): the map with the predicted max-depth overlay and a time
slider over the stored depth frames, and the hazard points ranked by risk with probability and
time to threshold.

Thin views: they call :mod:`fangxun.forecast.service` and render ``templates/forecast/*.html``.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Annotated, Any, Final

from fastapi import APIRouter, BackgroundTasks, File, Form, Request, Response, UploadFile
from markupsafe import Markup, escape
from pydantic import ValidationError

from fangxun.api.deps import EngineDep, SessionDep, SettingsDep
from fangxun.api.downloads import download
from fangxun.config import Settings
from fangxun.db import Session
from fangxun.db.types import utcnow
from fangxun.drainage import service as drainage_service
from fangxun.drainage import whatif as drainage_whatif
from fangxun.errors import PermissionDeniedError, ValidationFailed
from fangxun.forecast import engine, flows, rainsource, service
from fangxun.forecast.models import ForecastRun, RunPurpose, RunStatus
from fangxun.forecast.schemas import DesignRain, ForecastRunCreate, NowcastRain, SeriesRain
from fangxun.org.models import User
from fangxun.times import SHORT, local
from fangxun.web.auth import CsrfProtected, WebUser
from fangxun.web.forms import field_bounds
from fangxun.web.i18n import N_, gettext_for, negotiate_language
from fangxun.web.render import WebRoute, render_page

log = logging.getLogger(__name__)

router = APIRouter(route_class=WebRoute, include_in_schema=False)

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
#: Most ensemble members the start form accepts: the API schema's bound (one rule, one place).
FORM_MAX_MEMBERS: Final = int(field_bounds(ForecastRunCreate, "members")[1])
#: The form's bounds of the return period (years), storm duration and horizon (minutes), from the
#: schemas the API validates with.
_P_MAX = field_bounds(DesignRain, "return_period_years")[1]
_DURATION_MAX_MIN = field_bounds(DesignRain, "duration_s")[1] / 60.0
_HORIZON_MAX_MIN = field_bounds(ForecastRunCreate, "horizon_s")[1] / 60.0
#: What a run is for; a scenario or exercise is labelled wherever a run is shown.
PURPOSE_LABELS: Final[dict[str, str]] = {
    "operational": N_("Operational forecast"),
    "scenario": N_("Scenario (what-if, consultation)"),
    "exercise": N_("Exercise (drill)"),
}
#: Where a run's rain came from (msgids).
RAIN_SOURCE_LABELS: Final[dict[str, str]] = {
    "design": N_("design storm"),
    "series": N_("rain forecast series"),
    "nowcast": N_("nowcast from the gauges"),
}
#: Where a run's initial water came from (msgids).
WARM_START_LABELS: Final[dict[str, str]] = {
    "run": N_("continues forecast #%(n)s"),
    "observations": N_("starts from the ponding sensors"),
    "dry": N_("starts dry"),
}


def run_description(run: Any, gettext: Callable[[str], str]) -> str:
    """One line on a run for the runs table, in the page's language: its rain (source, total)
    and its initial water. The engine's own notes (English, naming files) stay in the run's
    record for whoever maintains the model."""
    summary = run.summary or {}
    parts = [gettext(RAIN_SOURCE_LABELS.get(run.rain_source.value, run.rain_source.value))]
    total = summary.get("rain_total_mm")
    if total is not None:
        parts[0] += gettext(", %(mm).1f mm") % {"mm": float(total)}
    if run.warm_start_kind is not None:
        parts.append(
            gettext(WARM_START_LABELS[run.warm_start_kind.value]) % {"n": run.warm_start_run_id}
        )
    return " · ".join(parts)


#: Largest uploaded rain series file, bytes.
MAX_SERIES_BYTES: Final = 1_000_000


def _point_rows(db: Session, run: ForecastRun, user: User) -> list[dict[str, Any]]:
    """Per-point results of ``run`` for the table, with the peak time in local time."""
    rows = []
    for p in service.point_results(session=db, run_id=run.id, actor=user):
        row = p.model_dump()
        row["peak_local"] = local(p.peak_time, SHORT)
        rows.append(row)
    return rows


def _form_defaults(settings: Settings) -> dict[str, str]:
    return {
        "rain_kind": "design",
        "return_period_years": "5",
        "duration_min": "60",
        "members": str(settings.forecast_members),
        "horizon_min": f"{settings.forecast_horizon_s / 60:g}",
        "purpose": "",
        "drill_id": "",
    }


def _can_run(user: User) -> bool:
    return user.is_active and user.role in service.RUN_ROLES


#: The rain fallback chain's sources (fangxun.rain.chain), as recorded in a run's summary (msgids).
CHAIN_SOURCE_LABELS: Final[dict[str, str]] = {
    "blended_nowcast": N_("blended nowcast (radar + QPF)"),
    "radar_nowcast": N_("radar nowcast"),
    "qpf": N_("numerical forecast (QPF)"),
    "gauge_persistence": N_("gauge persistence"),
    "none": N_("no rain"),
    "design": N_("design storm"),
    "series": N_("uploaded series"),
}


#: The rain chain's record (English, in the run's summary) as people read it: each pattern of
#: ``fangxun.rain.chain`` / ``forecast.rainsource`` with its msgid; a text no pattern knows is
#: shown as the technical record it is (in <code>).
CHAIN_TEXTS: Final[tuple[tuple[re.Pattern[str], str], ...]] = tuple(
    (re.compile(pattern), msgid)
    for pattern, msgid in (
        (
            r"^(?P<n>\d+) radar frame\(s\) of feed '(?P<feed>[^']*)' in the last hour "
            r"\((?P<need>\d+) needed\)$",
            N_("%(n)s radar frames of feed %(feed)s in the last hour (%(need)s needed)"),
        ),
        (
            r"^latest radar frame is (?P<age>.+) old \(more than (?P<limit>.+)\)$",
            N_("latest radar frame is %(age)s old (more than %(limit)s)"),
        ),
        (r"^no QPF feed configured$", N_("no QPF feed configured")),
        (r"^no radar or QPF feed configured$", N_("no radar or QPF feed configured")),
        (
            r"^no QPF of feed '(?P<feed>[^']*)' valid between the start and the horizon$",
            N_("no QPF of feed %(feed)s valid between the start and the horizon"),
        ),
        (r"^no field after the forecast start$", N_("no field after the forecast start")),
        (r"^no gauge reported in the window$", N_("no gauge reported in the window")),
        (r"^(?P<n>\d+) gauge\(s\)$", N_("%(n)s gauges")),
        (r"^IDW of up to (?P<n>\d+) gauge\(s\)$", N_("inverse-distance of up to %(n)s gauges")),
    )
)
#: The source names that prefix a passed-over reason ("radar nowcast: ...").
CHAIN_REASON_PREFIXES: Final[dict[str, str]] = {
    "blended nowcast": "blended_nowcast",
    "radar nowcast": "radar_nowcast",
    "qpf": "qpf",
    "gauge persistence": "gauge_persistence",
}


#: A nowcast's detail: "S-PROG from 12:30Z, 20 STEPS member(s), adjusted radar".
NOWCAST_DETAIL: Final = re.compile(
    r"^(?P<method>[\w-]+) from (?P<hh>\d\d):(?P<mm>\d\d)Z"
    r"(?:, (?P<members>\d+) (?P<ensemble>[\w-]+) member\(s\))?(?:, (?P<variant>\w+) radar)?$"
)


def nowcast_detail(text: str, _: Any, issued_at: datetime | None) -> Markup | None:
    """A nowcast's detail in the page's language and zone (None when ``text`` is not one)."""
    match = NOWCAST_DETAIL.match(text)
    if match is None:
        return None
    hh, mm = int(match["hh"]), int(match["mm"])
    when = f"{hh:02d}:{mm:02d} UTC"
    if issued_at is not None:
        utc = issued_at.astimezone(UTC).replace(hour=hh, minute=mm, second=0, microsecond=0)
        if utc > issued_at:
            utc -= timedelta(days=1)
        when = local(utc, "%H:%M")
    parts: list[str] = [
        escape(_("%(method)s nowcast from the radar of %(time)s"))
        % {"method": Markup("<code>%s</code>") % match["method"], "time": when}
    ]
    if match["members"]:
        parts.append(_("%(n)s ensemble members") % {"n": match["members"]})
    if match["variant"]:
        parts.append(
            _("gauge-adjusted radar") if match["variant"] == "adjusted" else _("raw radar")
        )
    return Markup("，").join(parts)


def chain_text(text: str, _: Any) -> Markup:
    """One reason or detail of the rain chain, in the page's language where it is a known
    pattern (a reason's source prefix translated too), else as its technical record."""
    prefix, sep, rest = text.partition(": ")
    label = ""
    if sep and prefix in CHAIN_REASON_PREFIXES:
        label = _(CHAIN_SOURCE_LABELS[CHAIN_REASON_PREFIXES[prefix]]) + "："
        text = rest
    for pattern, msgid in CHAIN_TEXTS:
        match = pattern.match(text)
        if match:
            values = {
                key: Markup("<code>%s</code>") % value if key == "feed" else value
                for key, value in match.groupdict().items()
            }
            return escape(label) + escape(_(msgid)) % values
    return escape(label) + Markup("<code>%s</code>") % text


def rain_info(run: ForecastRun, _: Any) -> dict[str, Any] | None:
    """The source of the rain behind ``run`` and its age, for the page (None for runs made
    before the chain recorded it)."""
    info = (run.summary or {}).get("rain")
    if not info:
        return None
    age = info.get("age_s")
    return {
        "source": _(CHAIN_SOURCE_LABELS.get(info.get("source", ""), info.get("source", ""))),
        "detail": (
            nowcast_detail(info["detail"], _, run.issued_at) or chain_text(info["detail"], _)
            if info.get("detail")
            else ""
        ),
        "age_min": None if age is None else round(float(age) / 60.0),
        "spatial": bool(info.get("spatial")),
        "members": int(info.get("ensemble_members") or 0),
        "reasons": [chain_text(str(r), _) for r in info.get("reasons") or []],
    }


def nowcast_skill_plot(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    """An SVG line of the nowcast's CSI (0–1) over the runs of the last hours: points (x, y) in
    a 600 × 160 box and their labels; None with fewer than two scored runs."""
    scored = [r for r in rows if r["csi"] is not None]
    if len(scored) < 2:
        return None
    w, h, pad = 600.0, 160.0, 24.0
    t0 = scored[0]["issued_at"].timestamp()
    span = max(scored[-1]["issued_at"].timestamp() - t0, 1.0)
    pts = [
        {
            "x": round(pad + (r["issued_at"].timestamp() - t0) / span * (w - 2 * pad), 1),
            "y": round(h - pad - r["csi"] * (h - 2 * pad), 1),
            "label": local(r["issued_at"], "%H:%M"),
            "csi": round(r["csi"], 2),
            "run": r["run_id"],
        }
        for r in scored
    ]
    return {"points": pts, "line": " ".join(f"{p['x']},{p['y']}" for p in pts), "w": w, "h": h,
            "pad": pad}  # fmt: skip


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
        points = _point_rows(db, run, user)
        summary = run.summary or {}
        base = f"/forecast/runs/{run.id}"
        frames = [
            {
                "url": f"{base}/frame_{t:08.0f}.png",
                "rain": f"{base}/rain_{t:08.0f}.png" if summary.get("rain_frames") else None,
                "label": local(run.issued_at + timedelta(seconds=t), "%H:%M"),
            }
            for t in summary.get("frames_s", [])
        ]
        map_data = {
            "run": run.id,
            "bounds": run.bounds,
            "overlay": f"{base}/overlay.png",
            "frames": frames,
            "radar_now": f"{base}/radar_now.png" if summary.get("radar_now") else None,
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
            "issued_local": local(run.issued_at) if run is not None else None,
            "describe": lambda r: run_description(r, _),
            "local": local,
            "points": points,
            "runs": runs,
            "map_data": map_data,
            "rain_info": rain_info(run, _) if run is not None else None,
            "rain_scale": list(zip(engine.RAIN_SCALE_MM_H, engine.RAIN_COLOURS, strict=True)),
            "nowcast_skill": nowcast_skill_plot(
                service.nowcast_skill(
                    session=db,
                    settings=settings,
                    now=utcnow(),
                    until=run.issued_at if run is not None else None,
                )
            ),
            "colour_labels": {k: _(v) for k, v in COLOUR_LABELS.items()},
            "status_labels": {k: _(v) for k, v in STATUS_LABELS.items()},
            "purpose_labels": {k: _(v) for k, v in PURPOSE_LABELS.items()},
            "can_run": _can_run(user),
            "form": _form_defaults(settings),
            "errors": {},
            "max_members": FORM_MAX_MEMBERS,
            "whatif": _whatif_context(db, user, run, lang),
        },
    )


def _whatif_context(
    db: Session, user: User, run: ForecastRun | None, lang: str, **extra: Any
) -> dict[str, Any]:
    """The drainage what-if box: shown with a network and a forecast in force."""
    _ = gettext_for(lang)
    stations = drainage_service.linked_pump_stations(session=db)
    network = drainage_service.active_network(session=db) is not None
    whatifs = (
        [
            w.as_dict() | {"what": _describe_whatif(w.whatif, _)}
            for w in drainage_whatif.recent_whatifs(session=db, actor=user, base_run_id=run.id)
        ]
        if run is not None and network
        else []
    )
    return {
        "shown": network and run is not None,
        "can_run": _can_run(user),
        "stations": stations,
        "whatifs": whatifs,
        "form": {"pump_station": "", "inlet_factor": "", "river": ""},
        "errors": {},
        "status_labels": {k: _(v) for k, v in STATUS_LABELS.items()},
        "colour_labels": {k: _(v) for k, v in COLOUR_LABELS.items()},
    } | extra


def _describe_whatif(params: dict[str, Any], _: Callable[[str], str]) -> str:
    parts = []
    if params.get("pumps_off"):
        parts.append(_("pump station %(codes)s off") % {"codes": ", ".join(params["pumps_off"])})
    if params.get("inlet_factor") is not None:
        parts.append(_("inlets at %(pct)d %%") % {"pct": round(params["inlet_factor"] * 100)})
    if params.get("river_at_guarantee"):
        parts.append(_("river at its guarantee level"))
    return "; ".join(parts)


@router.post("/forecast/whatif", dependencies=[CsrfProtected])
def start_whatif(
    request: Request,
    user: WebUser,
    db: SessionDep,
    settings: SettingsDep,
    engine: EngineDep,
    background: BackgroundTasks,
    pump_station: Annotated[str, Form(max_length=50)] = "",
    inlet_factor: Annotated[str, Form(max_length=20)] = "",
    river: Annotated[str, Form(max_length=5)] = "",
) -> Response:
    """Start a drainage what-if beside the forecast in force; answers the what-if box (HTMX)
    with the new run listed, or with what is wrong."""
    lang = negotiate_language(request, settings.language)
    _ = gettext_for(lang)
    form = {"pump_station": pump_station, "inlet_factor": inlet_factor, "river": river}
    errors: dict[str, str] = {}
    factor: float | None = None
    if inlet_factor.strip():
        try:
            factor = float(inlet_factor.strip())
        except ValueError:
            factor = math.nan
        if not 0.0 <= factor <= 1.0:  # NaN fails too
            errors["inlet_factor"] = _("The inlet factor must be a number from 0 to 1.")
    stations = drainage_service.linked_pump_stations(session=db)
    if pump_station and pump_station not in stations:
        errors["pump_station"] = _("Choose a pump station of the network.")
    run = service.current_run(session=db)
    denied = False
    if not errors:
        try:
            scenario = drainage_whatif.start_whatif(
                session=db,
                settings=settings,
                actor=user,
                whatif=drainage_service.DrainageWhatIf(
                    pumps_off=(pump_station,) if pump_station else (),
                    inlet_factor=factor,
                    river_at_guarantee=river == "on",
                ),
            )
            background.add_task(flows.execute_run, engine, scenario.id, settings)
            form = {"pump_station": "", "inlet_factor": "", "river": ""}
        except PermissionDeniedError:
            errors["form"] = _("Your role may not start forecast runs.")
            denied = True
        except ValidationFailed as exc:
            log.info("what-if form: %s", exc)
            errors["form"] = _("The what-if cannot run: %(detail)s") % {"detail": str(exc)}
    hx = request.headers.get("HX-Request") == "true"
    return render_page(
        request,
        "forecast/_whatif.html",
        settings=settings,
        user=user,
        status_code=200 if hx or not errors else (403 if denied else 422),
        context={"whatif": _whatif_context(db, user, run, lang, form=form, errors=errors)},
    )


def _number(
    raw: str, field: str, errors: dict[str, str], message: str, *, lo: float, hi: float
) -> float:
    """``raw`` as a number in ``(lo, hi]``; else records ``message`` for ``field``."""
    try:
        value = float(raw.strip())
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and lo < value <= hi):
        errors[field] = message
        return math.nan
    return value


def _series_from_upload(
    upload: UploadFile | None, errors: dict[str, str], _: Callable[[str], str]
) -> SeriesRain | None:
    """Read an uploaded ``time_s,intensity_mm_h`` CSV (see :func:`rainsource.read_series_csv`)."""
    if upload is None or not upload.filename:
        errors["series_file"] = _("Choose a CSV file with the columns time_s and intensity_mm_h.")
        return None
    data = upload.file.read(MAX_SERIES_BYTES + 1)
    if len(data) > MAX_SERIES_BYTES:
        errors["series_file"] = _("The rain series file is larger than 1 MB.")
        return None
    with TemporaryDirectory() as tmp:
        path = Path(tmp) / "series.csv"
        path.write_bytes(data)
        try:
            step, values = rainsource.read_series_csv(path)
            return SeriesRain(step_s=step, intensity_mm_h=values)
        except (ValueError, UnicodeDecodeError, ValidationError) as exc:
            # The reader names the temporary file: name the upload instead.
            detail = str(exc).replace(str(path), upload.filename)
            if isinstance(exc, ValidationError):
                detail = "; ".join(e["msg"] for e in exc.errors())
            errors["series_file"] = _("The rain series cannot be used: %(detail)s") % {
                "detail": detail
            }
            return None


@router.post("/forecast/runs", dependencies=[CsrfProtected])
def start_run(
    request: Request,
    user: WebUser,
    db: SessionDep,
    settings: SettingsDep,
    engine: EngineDep,
    background: BackgroundTasks,
    rain_kind: Annotated[str, Form(max_length=16)] = "",
    return_period_years: Annotated[str, Form(max_length=20)] = "",
    duration_min: Annotated[str, Form(max_length=20)] = "",
    members: Annotated[str, Form(max_length=20)] = "",
    horizon_min: Annotated[str, Form(max_length=20)] = "",
    purpose: Annotated[str, Form(max_length=16)] = "",
    drill_id: Annotated[str, Form(max_length=20)] = "",
    series_file: Annotated[UploadFile | None, File()] = None,
) -> Response:
    """Start a forecast run from the page's form; answers the progress fragment (HTMX) or the
    form again with what is wrong (422; 200 for HTMX so that it swaps)."""
    _ = gettext_for(negotiate_language(request, settings.language))
    form = {
        "rain_kind": rain_kind,
        "return_period_years": return_period_years,
        "duration_min": duration_min,
        "members": members,
        "horizon_min": horizon_min,
        "purpose": purpose,
        "drill_id": drill_id,
    }
    errors: dict[str, str] = {}
    run_purpose: RunPurpose | None = None
    if purpose:
        try:
            run_purpose = RunPurpose(purpose)
        except ValueError:
            errors["purpose"] = _("Choose what the run is for.")
    drill: int | None = None
    if drill_id.strip():
        if drill_id.strip().isdigit() and int(drill_id) >= 1:
            drill = int(drill_id)
        else:
            errors["drill_id"] = _("The drill must be given by its number.")
    rain: DesignRain | SeriesRain | NowcastRain | None = None
    if rain_kind == "design":
        p = _number(
            return_period_years,
            "return_period_years",
            errors,
            _("The return period must be a number of years above 0 and at most 1000."),
            lo=0.0,
            hi=_P_MAX,
        )
        d = _number(
            duration_min,
            "duration_min",
            errors,
            _("The storm duration must be a number of minutes above 0 and at most 2880."),
            lo=0.0,
            hi=_DURATION_MAX_MIN,
        )
        if not errors:
            rain = DesignRain(return_period_years=p, duration_s=d * 60.0)
    elif rain_kind == "series":
        rain = _series_from_upload(series_file, errors, _)
    elif rain_kind == "nowcast":
        rain = NowcastRain()
    else:
        errors["rain_kind"] = _("Choose where the rain comes from.")
    k = _number(
        members,
        "members",
        errors,
        _("Ensemble members must be a whole number from 1 to %(max)d.") % {"max": FORM_MAX_MEMBERS},
        lo=0.0,
        hi=float(FORM_MAX_MEMBERS),
    )
    if "members" not in errors and k != int(k):
        errors["members"] = _("Ensemble members must be a whole number from 1 to %(max)d.") % {
            "max": FORM_MAX_MEMBERS
        }
    h = _number(
        horizon_min,
        "horizon_min",
        errors,
        _("The horizon must be a number of minutes above 0 and at most 2880."),
        lo=0.0,
        hi=_HORIZON_MAX_MIN,
    )
    run: ForecastRun | None = None
    if not errors and rain is not None:
        try:
            run = service.create_run(
                session=db,
                run_in=ForecastRunCreate(
                    rain=rain,
                    members=int(k),
                    horizon_s=h * 60.0,
                    purpose=run_purpose,
                    drill_id=drill,
                ),
                actor=user,
                settings=settings,
            )
        except PermissionDeniedError:
            errors["form"] = _("Your role may not start forecast runs.")
        except ValidationFailed as exc:
            errors["drill_id"] = (
                _("An exercise run needs the number of an existing drill; only an exercise run "
                  "names a drill.")
            )  # fmt: skip
            log.info("forecast start form: %s", exc)
    if run is None:
        log.info("forecast start form refused for %s: %s", user.username, errors)
        hx = request.headers.get("HX-Request") == "true"
        return render_page(
            request,
            "forecast/_start.html",
            settings=settings,
            user=user,
            status_code=200 if hx else (403 if "form" in errors else 422),
            context={
                "form": form,
                "errors": errors,
                "max_members": FORM_MAX_MEMBERS,
                "can_run": True,
            },
        )
    # The request session commits before the response is sent, so the job finds the run.
    background.add_task(flows.execute_run, engine, run.id, settings)
    return _progress(request, db, settings, user, run)


def _progress(
    request: Request, db: Session, settings: Settings, user: User, run: ForecastRun
) -> Response:
    _ = gettext_for(negotiate_language(request, settings.language))
    finished = run.status in (RunStatus.done, RunStatus.failed)
    return render_page(
        request,
        "forecast/_progress.html",
        settings=settings,
        user=user,
        context={
            "run": run,
            "finished": finished,
            "points": _point_rows(db, run, user) if run.status == RunStatus.done else [],
            "colour_labels": {k: _(v) for k, v in COLOUR_LABELS.items()},
            "status_labels": {k: _(v) for k, v in STATUS_LABELS.items()},
            "purpose_labels": {k: _(v) for k, v in PURPOSE_LABELS.items()},
        },
    )


@router.get("/forecast/runs/{run_id}/progress")
def run_progress(
    request: Request, run_id: int, user: WebUser, db: SessionDep, settings: SettingsDep
) -> Response:
    """The progress fragment of a run: polls itself (HTMX, every second) until the run is done
    (then shows its points) or failed (then says why)."""
    run = service.get_run(session=db, run_id=run_id)
    return _progress(request, db, settings, user, run)


@router.get("/forecast/runs/{run_id}/{name}")
def forecast_file(
    run_id: int, name: str, user: WebUser, db: SessionDep, settings: SettingsDep
) -> Response:
    """A run's overlay or frame PNG (or raster) for the page's map."""
    path = service.run_file(session=db, run_id=run_id, settings=settings, name=name)
    media = "image/png" if path.suffix == ".png" else "image/tiff"
    return download(path.read_bytes(), media, f"forecast_{run_id}_{name}", inline=True)
