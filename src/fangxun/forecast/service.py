"""Forecast services: create runs, prepare their inputs from the database, store the results.

Keyword-only functions that never commit (the caller's scope does). The job that runs a forecast
end to end, with its own short transactions so that progress is visible, is
:func:`fangxun.forecast.flows.execute_run`.

Who may do what: every role reads runs; point results are limited to the actor's jurisdiction
(a ``unit`` user sees its own points). ``admin``, ``district`` and ``duty`` start runs.

A failed run never replaces the forecast in force: :func:`current_run` is the latest
*operational* run that finished ``done``; the failed run's ``message`` names the reason and the
run still in force. Scenario runs (what-if, design storm, consultation) and exercise runs (drills)
are never in force, whatever their age: see :class:`~fangxun.forecast.models.RunPurpose`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Final

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from fangxun.audit.service import record_create
from fangxun.config import Settings
from fangxun.db.types import utcnow
from fangxun.errors import NotFoundError, PermissionDeniedError, ValidationFailed
from fangxun.forecast import engine, inputs, rainsource
from fangxun.forecast.models import (
    ForecastPointResult,
    ForecastRun,
    RainSource,
    RunPurpose,
    RunStatus,
    WarmStartKind,
)
from fangxun.forecast.schemas import (
    DesignRain,
    ForecastRunCreate,
    ForecastRunRead,
    NowcastRain,
    PointForecastRead,
    SeriesRain,
)
from fangxun.hazards.models import HazardPoint, PointStatus
from fangxun.inundation import GriddedRain, Hyetograph
from fangxun.inundation.rain import StormFormula
from fangxun.org.jurisdiction import scope_query
from fangxun.org.models import Role, User
from fangxun.org.permissions import Actor, is_system

#: Roles that may start a forecast run.
RUN_ROLES: Final = frozenset({Role.admin, Role.district, Role.duty})


def _require_run(actor: Actor) -> None:
    if is_system(actor):
        return
    assert isinstance(actor, User)
    if not actor.is_active or actor.role not in RUN_ROLES:
        raise PermissionDeniedError(f"role {actor.role.value!r} may not start forecast runs")


def storm_formula(settings: Settings) -> StormFormula:
    """The district's storm intensity formula (i = A/(t + b)^n, A = a(1 + C lg P), mm/min).

    ``FANGXUN_FORECAST_STORM_FORMULA`` when set; else the one ``fangxun setup storm-formula``
    stored (named by its recorded source); else the default (an unverified example).
    """
    if "forecast_storm_formula" not in settings.model_fields_set:
        stored = stored_storm_formula(settings)
        if stored is not None:
            return StormFormula(
                a=float(stored["a_mm_min"]), b=float(stored["b"]), c=float(stored["c"]),
                n=float(stored["n"]), name=str(stored.get("source") or "district"),
            )  # fmt: skip
    a, b, c, n = settings.forecast_storm_formula
    return StormFormula(a=a, b=b, c=c, n=n, name="configured")


def district_dir(settings: Settings) -> Path:
    """The folder of the district's own inputs set up with ``fangxun setup`` (terrain, land use,
    buildings, storm formula)."""
    return Path(settings.data_dir) / "district"


def storm_formula_path(settings: Settings) -> Path:
    """Where ``fangxun setup storm-formula`` records the formula and its source (JSON)."""
    return district_dir(settings) / "storm_formula.json"


def stored_storm_formula(settings: Settings) -> dict[str, Any] | None:
    """The recorded storm formula: ``a_mm_min``, ``b``, ``c``, ``n``, the ``a`` and unit as given
    (``a_given``, ``unit``: mm/min or L/(s·ha)) and ``source``; None when none was recorded."""
    import json

    path = storm_formula_path(settings)
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValidationFailed(f"storm formula {path} is unreadable ({exc})") from exc
    return data if isinstance(data, dict) else None


def district_terrain_path(settings: Settings) -> Path:
    """Where ``fangxun setup terrain`` stores the district's own terrain."""
    return district_dir(settings) / "terrain.tif"


def terrain_path(settings: Settings) -> Path:
    """The district terrain GeoTIFF: configured, else the one set up, else the demo terrain."""
    if settings.forecast_terrain_path:
        return settings.forecast_terrain_path
    district = district_terrain_path(settings)
    return district if district.exists() else Path(settings.data_dir) / "demo" / "terrain.tif"


def run_dir(settings: Settings, run_id: int) -> Path:
    """Folder of a run's files: ``<data_dir>/forecast/run_<id>``."""
    return Path(settings.data_dir) / "forecast" / f"run_{run_id}"


def default_purpose(source: RainSource) -> RunPurpose:
    """The purpose of a run whose request names none: a nowcast from the gauges is operational;
    a design storm or an uploaded series is a what-if (scenario) unless named operational."""
    return RunPurpose.operational if source is RainSource.nowcast else RunPurpose.scenario


def _run_purpose(
    *, session: Session, run_in: ForecastRunCreate, source: RainSource, actor: Actor
) -> tuple[RunPurpose, int | None]:
    """The purpose and drill of a new run, checked: an exercise names a drill it can see; no other
    purpose names one."""
    purpose = run_in.purpose or default_purpose(source)
    if purpose is RunPurpose.exercise:
        if run_in.drill_id is None:
            raise ValidationFailed(
                "an exercise run names its drill (drill_id)", loc=("body", "drill_id")
            )
        from fangxun.org.jurisdiction import get_named_in_body
        from fangxun.supplies.models import Drill

        drill = get_named_in_body(
            session=session,
            user=actor,
            model=Drill,
            obj_id=run_in.drill_id,
            loc=("body", "drill_id"),
            label="drill",
        )
        return purpose, drill.id
    if run_in.drill_id is not None:
        raise ValidationFailed(
            f"only an exercise run names a drill, not a {purpose.value} run",
            loc=("body", "drill_id"),
        )
    return purpose, None


def create_run(
    *, session: Session, run_in: ForecastRunCreate, actor: Actor, settings: Settings
) -> ForecastRun:
    """Queue a forecast run (status ``queued``); run it with ``flows.execute_run``.

    Its purpose is the request's, else :func:`default_purpose` of its rain.
    """
    _require_run(actor)
    rain = run_in.rain
    source = RainSource(rain.kind)
    purpose, drill_id = _run_purpose(session=session, run_in=run_in, source=source, actor=actor)
    horizon = float(run_in.horizon_s or settings.forecast_horizon_s)
    params: dict[str, Any] = {
        "rain": rain.model_dump(),
        "seed": settings.forecast_seed if run_in.seed is None else run_in.seed,
        "warm_start": run_in.warm_start,
    }
    name = "system" if is_system(actor) else getattr(actor, "username", "system")
    run = ForecastRun(
        status=RunStatus.queued,
        rain_source=source,
        purpose=purpose,
        drill_id=drill_id,
        params=params,
        members=int(run_in.members or settings.forecast_members),
        horizon_s=horizon,
        progress=0.0,
        created_by=name,
        created_at=utcnow(),
        issued_at=utcnow(),
    )
    session.add(run)
    session.flush()
    record_create(session=session, actor=actor, obj=run)
    return run


def get_run(*, session: Session, run_id: int) -> ForecastRun:
    """A run by id, else :class:`NotFoundError` (runs are district-wide: any role reads them)."""
    run = session.get(ForecastRun, run_id)
    if run is None:
        raise NotFoundError(f"forecast run {run_id} not found")
    return run


def list_runs(
    *,
    session: Session,
    limit: int = 50,
    offset: int = 0,
    purpose: RunPurpose | None = None,
) -> list[ForecastRun]:
    """Runs, newest first (of one purpose when given)."""
    stmt = select(ForecastRun)
    if purpose is not None:
        stmt = stmt.where(ForecastRun.purpose == purpose)
    stmt = stmt.order_by(ForecastRun.id.desc()).limit(limit).offset(offset)
    return list(session.scalars(stmt))


def exercise_runs_in_window(*, session: Session, now: datetime) -> list[ForecastRun]:
    """Exercise runs that finished and whose horizon covers ``now`` (the drills under way)."""
    stmt = (
        select(ForecastRun)
        .where(
            ForecastRun.status == RunStatus.done,
            ForecastRun.purpose == RunPurpose.exercise,
            ForecastRun.issued_at <= now,
        )
        .order_by(ForecastRun.id)
    )
    return [r for r in session.scalars(stmt) if now <= r.issued_at + timedelta(seconds=r.horizon_s)]


def current_run(*, session: Session, at: datetime | None = None) -> ForecastRun | None:
    """The forecast in force: the latest operational run that finished ``done`` (failed runs,
    scenarios and exercises never count); with ``at``, the one in force at that time."""
    stmt = select(ForecastRun).where(
        ForecastRun.status == RunStatus.done, ForecastRun.purpose == RunPurpose.operational
    )
    if at is not None:
        stmt = stmt.where(ForecastRun.finished_at <= at)
    stmt = stmt.order_by(ForecastRun.finished_at.desc(), ForecastRun.id.desc()).limit(1)
    return session.scalars(stmt).first()


def run_read(*, session: Session, run: ForecastRun) -> ForecastRunRead:
    """A run as the API shows it, with ``is_current``."""
    cur = current_run(session=session)
    out = ForecastRunRead.model_validate(run)
    out.is_current = cur is not None and cur.id == run.id
    return out


# --- preparing inputs --------------------------------------------------------------------------


@dataclass
class PreparedRun:
    """Everything a run needs, read from the database and files (plain data, picklable)."""

    district: engine.District
    rain: Hyetograph
    specs: list[engine.MemberSpec]
    perturbations: list[tuple[float, float]]
    points: dict[str, dict[str, Any]]
    notes: list[str] = field(default_factory=list)
    warm_start_run_id: int | None = None
    warm_start_kind: WarmStartKind = WarmStartKind.dry
    #: District inputs and warm start, for the run's summary.
    details: dict[str, Any] = field(default_factory=dict)
    #: The control's rain field on the model grid (gridded sources), for the map's rain layer.
    rain_field: GriddedRain | None = None
    #: The latest radar frame at the issue time on the model grid (mm/h), when one is held.
    radar_now: np.ndarray | None = None


@dataclass
class RunRain:
    """A run's rain: ``uniform`` is the district-mean series (or the design storm, the uploaded
    series, the gauges' persistence); ``field`` the same rain as fields on the district model
    grid when the source is gridded; ``members`` the source's own ensemble fields for forecast
    members 1, 2, … (empty: members perturb the control's rain); ``info`` the source, its age
    and why better sources were passed over (the run's summary ``rain``)."""

    uniform: Hyetograph
    note: str
    gridded: GriddedRain | None = None
    members: list[GriddedRain] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def control(self) -> Hyetograph | GriddedRain:
        """What member 0 runs on: the field where there is one."""
        return self.gridded if self.gridded is not None else self.uniform


def model_grid(district: engine.District) -> Any:
    """The rain chain's :class:`~fangxun.rain.chain.DistrictGrid` of the district model (None
    when the terrain has no CRS)."""
    if district.crs_wkt is None:
        return None
    return rainsource.district_grid(
        crs_wkt=district.crs_wkt, transform=district.transform, shape=district.shape
    )


def build_rain(
    *,
    session: Session,
    run: ForecastRun,
    settings: Settings,
    district: engine.District | None = None,
) -> RunRain:
    """The run's rain. A nowcast run takes the fallback chain's field on ``district``'s model
    grid (members from the nowcast ensemble) when a rain feed is configured, else the gauges'
    persistence."""
    spec = run.params.get("rain") or {"kind": "nowcast"}
    kind = spec.get("kind")
    if kind == "design":
        d = DesignRain.model_validate(spec)
        formula = storm_formula(settings)
        rain = rainsource.design_storm(
            formula,
            return_period_years=d.return_period_years,
            duration_s=d.duration_s,
            step_s=d.step_s,
            peak_ratio=d.peak_ratio,
        )
        return RunRain(rain, (
            f"Chicago design storm P={d.return_period_years:g} a, {d.duration_s / 3600:g} h, "
            f"{rain.total_mm():.1f} mm (storm formula: {formula.name})"
        ), info={"source": "design"})  # fmt: skip
    if kind == "series":
        s = SeriesRain.model_validate(spec)
        rain = rainsource.series_rain(s.step_s, s.intensity_mm_h)
        return RunRain(
            rain, f"uploaded series, {rain.total_mm():.1f} mm", info={"source": "series"}
        )
    NowcastRain.model_validate(spec)
    grid = model_grid(district) if district is not None else None
    chosen = rainsource.rain_from_chain(
        session=session,
        settings=settings,
        issued_at=run.issued_at,
        horizon_s=run.horizon_s,
        terrain=None if grid is not None else terrain_path(settings),
        grid=grid,
        members=run.members,
        seed=int(run.params.get("seed", settings.forecast_seed)),
    )
    if chosen is not None:  # rain feeds configured: the fallback chain, its source and why
        return RunRain(
            chosen.hyetograph,
            chosen.note(),
            chosen.gridded,
            list(chosen.members),
            chosen.info(run.issued_at),
        )
    means = rainsource.gauge_mean_intensities(
        session=session, end=run.issued_at, window_s=settings.forecast_nowcast_window_s
    )
    rain = rainsource.nowcast_rain(
        list(means.values()),
        horizon_s=run.horizon_s,
        decay_s=settings.forecast_nowcast_decay_s,
    )
    return RunRain(rain, (
        f"nowcast from {len(means)} gauge(s): persistence with e-folding "
        f"{settings.forecast_nowcast_decay_s:g} s, {rain.total_mm():.1f} mm"
    ), info={"source": "gauge_persistence" if means else "none", "age_s": 0.0})  # fmt: skip


def _thresholds(point: HazardPoint) -> dict[str, float]:
    return {
        "blue": point.threshold_blue_m,
        "yellow": point.threshold_yellow_m,
        "orange": point.threshold_orange_m,
        "red": point.threshold_red_m,
    }


@dataclass
class WarmStart:
    """The initial state of a run: depth (m) or None (dry), its kind and a note."""

    depth: np.ndarray | None
    kind: WarmStartKind
    note: str
    run_id: int | None = None
    sensors: list[dict[str, Any]] = field(default_factory=list)


def _from_previous_run(
    *, session: Session, run: ForecastRun, settings: Settings, shape: tuple[int, int]
) -> tuple[np.ndarray | None, int | None, str, datetime | None]:
    """The last forecast's state nearest to now and the time it is valid at, or (None, None,
    why not, None)."""
    prev = current_run(session=session)
    if prev is None or prev.output_dir is None:
        return None, None, "no previous forecast", None
    age = (run.issued_at - prev.issued_at).total_seconds()
    if age < 0 or age > settings.forecast_warm_start_max_age_s:
        return None, None, f"previous forecast #{prev.id} is {age:.0f} s old", None
    states = sorted(Path(settings.data_dir, prev.output_dir).glob("state_*.npy"))
    best: tuple[float, Path] | None = None
    for p in states:
        t = float(p.stem.split("_", 1)[1])
        if best is None or abs(t - age) < abs(best[0] - age):
            best = (t, p)
    if best is None:
        return None, None, f"forecast #{prev.id} kept no state", None
    depth = np.load(best[1]).astype(np.float64)
    if depth.shape != shape:
        msg = f"forecast #{prev.id} state is {depth.shape}, the model is {shape}"
        return None, None, msg, None
    depth = np.where(np.isfinite(depth), depth, 0.0)
    valid = prev.issued_at + timedelta(seconds=best[0])
    return depth, prev.id, f"warm start from forecast #{prev.id} at t = {best[0]:.0f} s", valid


def _observed_spin_up(
    *,
    session: Session,
    settings: Settings,
    district: engine.District,
    depth: np.ndarray,
    start: datetime,
    end: datetime,
) -> tuple[np.ndarray, str]:
    """``depth`` (valid at ``start``) brought to ``end`` by the model under the rain observed in
    between: adjusted radar where held, else the gauges by inverse distance
    (:func:`fangxun.rain.chain.observed_rain`). Unchanged, with the reason, when it cannot be."""
    grid = model_grid(district)
    if grid is None:
        return depth, "no observed-rain spin-up (the terrain has no CRS)"
    from fangxun.rain.chain import observed_rain

    obs = observed_rain(
        session=session,
        data_dir=Path(settings.data_dir),
        grid=grid,
        start=start,
        end=end,
        radar_feed=settings.rain_radar_feed,
    )
    span = (end - start).total_seconds()
    rain = GriddedRain(obs.times_s, obs.intensity_mm_h)
    spec = engine.MemberSpec(
        rain=rain, horizon_s=span, output_interval_s=span, gauges={}, initial_depth=depth,
        backend=settings.forecast_backend,
    )  # fmt: skip
    result = engine.run_member(district, spec)
    mm = float(rain.depth_m_field(0.0, span).mean()) * 1000.0
    note = f"brought {span:.0f} s forward under observed rain ({obs.source}: {obs.detail}, "
    return np.asarray(result.final_depth, np.float64), note + f"{mm:.1f} mm mean)"


def latest_ponding_readings(
    *, session: Session, at: datetime, max_age_s: float
) -> list[tuple[str, float, float, float, datetime]]:
    """The latest unflagged ponding-depth reading of every ponding station within
    ``[at − max_age_s, at]``: (station code, lon, lat, depth m, time)."""
    from fangxun.monitoring.models import (
        Datastream,
        Observation,
        ObservedProperty,
        Station,
        StationKind,
    )

    rows = session.execute(
        select(
            Station.code, Station.lon, Station.lat, Observation.phenomenon_time, Observation.value
        )
        .join(Datastream, Datastream.station_id == Station.id)
        .join(ObservedProperty, ObservedProperty.id == Datastream.observed_property_id)
        .join(Observation, Observation.datastream_id == Datastream.id)
        .where(
            Station.kind == StationKind.ponding,
            Station.is_active.is_(True),
            ObservedProperty.code == "ponding_depth",
            Observation.flags == 0,
            Observation.phenomenon_time >= at - timedelta(seconds=max_age_s),
            Observation.phenomenon_time <= at,
        )
        .order_by(Station.code, Observation.phenomenon_time)
    ).all()
    latest: dict[str, tuple[str, float, float, float, datetime]] = {}
    for code, lon, lat, t, v in rows:
        latest[code] = (code, float(lon), float(lat), float(v), t)
    return list(latest.values())


def _from_observations(
    *, session: Session, run: ForecastRun, settings: Settings, district: engine.District
) -> tuple[np.ndarray | None, list[dict[str, Any]], str]:
    """The initial depth spread from the ponding sensors' latest readings, or (None, [], why)."""
    readings = latest_ponding_readings(
        session=session, at=run.issued_at, max_age_s=settings.forecast_obs_warm_start_max_age_s
    )
    if not readings:
        return (
            None,
            [],
            (f"no ponding reading in the last {settings.forecast_obs_warm_start_max_age_s:g} s"),
        )
    cells = engine.points_to_cells(
        district, {code: (lon, lat) for code, lon, lat, _, _ in readings}
    )
    usable = [
        inputs.PondingReading(code, cell[0], cell[1], depth)
        for code, _lon, _lat, depth, _t in readings
        if (cell := cells[code]) is not None and depth > 0.0
    ]
    if not usable:
        return None, [], f"{len(readings)} ponding sensor(s) on the grid report no water"
    depth, info = inputs.observed_ponding(
        district.elevation,
        district.nodata_mask,
        district.cell_size,
        usable,
        radius_m=settings.forecast_obs_spread_radius_m,
    )
    volume = float(depth.sum()) * district.cell_size**2
    return (
        depth,
        info,
        (
            f"warm start from {len(usable)} ponding sensor(s), {volume:.0f} m³ "
            f"(spread over their low areas within {settings.forecast_obs_spread_radius_m:g} m)"
        ),
    )


def _warm_start(
    *, session: Session, run: ForecastRun, settings: Settings, district: engine.District
) -> WarmStart:
    """The state to start from: the last forecast's depth field when it is recent enough, else
    the ponding sensors' readings spread over their low areas, else dry."""
    if not run.params.get("warm_start", True):
        return WarmStart(None, WarmStartKind.dry, "dry start (warm start off)")
    depth, prev_id, why, valid = _from_previous_run(
        session=session, run=run, settings=settings, shape=district.shape
    )
    if depth is not None:
        if valid is not None and valid < run.issued_at:
            # the saved state is behind the start: the rain that fell since is observed
            depth, spun = _observed_spin_up(
                session=session, settings=settings, district=district, depth=depth,
                start=valid, end=run.issued_at,
            )  # fmt: skip
            why = f"{why}, {spun}"
        return WarmStart(depth, WarmStartKind.run, why, run_id=prev_id)
    obs, sensors, obs_why = _from_observations(
        session=session, run=run, settings=settings, district=district
    )
    if obs is not None:
        return WarmStart(obs, WarmStartKind.observations, f"{obs_why} ({why})", sensors=sensors)
    return WarmStart(None, WarmStartKind.dry, f"dry start ({why}; {obs_why})")


def _input_file(settings: Settings, configured: Path | None, name: str) -> Path | None:
    """A district input file: the configured one (which must exist), else ``name`` next to the
    terrain when there is one (the demo writes ``landuse.tif`` and ``catchments.geojson``)."""
    if configured is not None:
        if not configured.is_file():
            raise ValidationFailed(f"forecast input {configured} does not exist")
        return configured
    candidate = terrain_path(settings).parent / name
    return candidate if candidate.is_file() else None


def district_inputs(
    settings: Settings,
) -> tuple[Any, Any, list[str], dict[str, Any]]:
    """Manning's n and drainage capacity of the district: scalars, or callables that build the
    rasters from the land-use raster and the catchments on the terrain's grid (see
    :mod:`fangxun.forecast.inputs`). Returns (manning, drainage, notes, details for the summary)."""
    table = dict(settings.forecast_manning)
    default_n = float(table.get("default", 0.03))
    formula = storm_formula(settings)
    default_cap = engine.drainage_capacity_mm_h(
        formula,
        settings.forecast_drainage_return_period_years,
        settings.forecast_drainage_duration_s,
    )
    notes: list[str] = []
    details: dict[str, Any] = {}
    manning: Any = default_n
    landuse = _input_file(settings, settings.forecast_landuse_path, "landuse.tif")
    if landuse is not None:
        classes = dict(settings.forecast_landuse_classes)

        def manning_raster(
            shape: tuple[int, int], transform: inputs.Transform, _crs: str | None
        ) -> np.ndarray:
            codes, valid = inputs.read_landuse(landuse, shape=shape, transform=transform)
            return inputs.manning_from_classes(
                codes,
                classes=classes,
                table=table,
                valid=valid,
                source=f"land-use raster {landuse}",
            )

        manning = manning_raster
        notes.append(f"n by land use ({landuse.name})")
        details["landuse"] = str(landuse)
    else:
        notes.append(f"n = {default_n:g} everywhere (no land-use raster)")
    drainage: Any = default_cap
    catchments_file = _input_file(settings, settings.forecast_catchments_path, "catchments.geojson")
    p_default = settings.forecast_drainage_return_period_years
    default_note = (
        f"drainage {default_cap:.1f} mm/h (P = {p_default:g} a, "
        f"t = {settings.forecast_drainage_duration_s / 60:g} min)"
    )
    if catchments_file is not None:
        catchments = inputs.read_catchments(catchments_file)

        def capacity(
            shape: tuple[int, int], transform: inputs.Transform, crs_wkt: str | None
        ) -> np.ndarray:
            if crs_wkt is None:
                raise ValueError("the terrain has no CRS: catchments cannot be placed on it")
            raster, info = inputs.capacity_raster(
                catchments,
                formula=formula,
                default_concentration_s=settings.forecast_drainage_duration_s,
                default_mm_h=default_cap,
                shape=shape,
                transform=transform,
                crs_wkt=crs_wkt,
            )
            details["catchments"] = info
            return raster

        drainage = capacity
        caps = [c.capacity(formula, settings.forecast_drainage_duration_s) for c in catchments]
        notes.append(
            f"drainage by {len(catchments)} catchment(s) ({catchments_file.name}): "
            f"{min(caps):.1f}–{max(caps):.1f} mm/h, elsewhere {default_note}"
        )
    else:
        notes.append(default_note)
    return manning, drainage, notes, details


def building_inputs(
    settings: Settings, manning: Any, notes: list[str], details: dict[str, Any]
) -> tuple[Any, Any]:
    """Building footprints (``buildings.geojson`` next to the terrain) in the model: returns
    (manning, blocked) where ``manning`` gets ``forecast_manning["building"]`` on footprint cells
    in ``roughness`` mode and ``blocked`` (a callable for :func:`engine.build_district`, or None)
    takes them out of the grid in ``blocked`` mode."""
    path = _input_file(settings, None, "buildings.geojson")
    if path is None:
        return manning, None
    try:
        buildings = inputs.read_buildings(path)
    except ValueError as exc:
        raise ValidationFailed(str(exc)) from exc
    details["buildings"] = {"file": str(path), "mode": buildings.mode,
                            "footprints": len(buildings.geometries)}  # fmt: skip

    def footprint_cells(
        shape: tuple[int, int], transform: inputs.Transform, crs_wkt: str | None
    ) -> np.ndarray:
        if crs_wkt is None:
            raise ValueError("the terrain has no CRS: buildings cannot be placed on it")
        cells = inputs.burn_buildings(buildings, shape=shape, transform=transform, crs_wkt=crs_wkt)
        details["buildings"]["cells"] = int(cells.sum())
        return cells

    if buildings.mode == "blocked":
        notes.append(f"{len(buildings.geometries)} building(s) blocked ({path.name})")
        return manning, footprint_cells
    n_building = float(settings.forecast_manning.get("building", 0.2))

    def rough(shape: tuple[int, int], transform: inputs.Transform, crs_wkt: str | None) -> Any:
        base = manning(shape, transform, crs_wkt) if callable(manning) else manning
        cells = footprint_cells(shape, transform, crs_wkt)
        return np.where(cells, n_building, np.broadcast_to(np.asarray(base, float), shape))

    notes.append(f"{len(buildings.geometries)} building(s) at n = {n_building:g} ({path.name})")
    return rough, None


def prepare_run(*, session: Session, run: ForecastRun, settings: Settings) -> PreparedRun:
    """Read the rain, district, hazard points and warm start of ``run`` into plain data.

    Raises ``ValueError``/:class:`ValidationFailed` with the reason when an input is unusable.
    """
    path = terrain_path(settings)
    if not path.exists():
        raise ValidationFailed(
            f"district terrain {path} does not exist: run 'fangxun demo' or set "
            "FANGXUN_FORECAST_TERRAIN_PATH"
        )
    manning, drainage, input_notes, details = district_inputs(settings)
    manning, blocked = building_inputs(settings, manning, input_notes, details)
    district = engine.build_district(
        str(path),
        resolution_m=settings.forecast_resolution_m,
        manning=manning,
        drainage_mm_h=drainage,
        blocked=blocked,
    )
    run_rain = build_rain(session=session, run=run, settings=settings, district=district)
    rain = run_rain.uniform
    details["rain"] = run_rain.info
    notes = [
        run_rain.note,
        f"model {district.shape[0]}×{district.shape[1]} cells of {district.cell_size:g} m",
        *input_notes,
    ]
    district = _with_network(session=session, run=run, settings=settings, district=district,
                             notes=notes, details=details)  # fmt: skip
    pts = list(
        session.scalars(
            select(HazardPoint)
            .where(HazardPoint.status == PointStatus.active)
            .order_by(HazardPoint.id)
        )
    )
    cells = engine.points_to_cells(district, {str(p.id): (p.lon, p.lat) for p in pts})
    points: dict[str, dict[str, Any]] = {}
    off = []
    for p in pts:
        cell = cells[str(p.id)]
        if cell is None:
            off.append(p.code)
            continue
        points[str(p.id)] = {"id": p.id, "cell": cell, "thresholds": _thresholds(p)}
    if off:
        notes.append(f"{len(off)} point(s) off the model grid: {', '.join(off[:10])}")
    warm = _warm_start(session=session, run=run, settings=settings, district=district)
    initial = warm.depth
    notes.append(warm.note)
    details["warm_start"] = {"kind": warm.kind.value, "run_id": warm.run_id}
    if warm.sensors:
        details["warm_start"]["sensors"] = warm.sensors
    gauges = {k: v["cell"] for k, v in points.items()}
    # a subgrid district: each point reads its own fine pixel's depth (engine.MemberSpec)
    fine_cells = (
        engine.points_to_cells(district, {str(p.id): (p.lon, p.lat) for p in pts}, fine=True)
        if district.subgrid_ratio > 1
        else {}
    )
    fine_gauges = {k: c for k, c in fine_cells.items() if c is not None and k in gauges}
    perts = engine.member_perturbations(
        run.members,
        sigma=settings.forecast_rain_sigma,
        shift_sd_s=settings.forecast_shift_sd_s,
        seed=int(run.params.get("seed", settings.forecast_seed)),
    )
    # members the rain source's own ensemble drives are not perturbed
    n_ens = min(len(run_rain.members), run.members - 1)
    perts = [(1.0, 0.0) if 1 <= k <= n_ens else p for k, p in enumerate(perts)]
    step = 60.0
    snapshots = _snapshot_times(settings, run.horizon_s)
    specs = []
    for k, (scale, shift) in enumerate(perts):
        member_rain = _member_rain(run_rain, k, scale, shift, horizon_s=run.horizon_s, step=step)
        specs.append(
            engine.MemberSpec(
                rain=member_rain,
                horizon_s=run.horizon_s,
                output_interval_s=settings.forecast_output_interval_s,
                gauges=gauges,
                initial_depth=initial,
                arrival_depth_m=settings.forecast_arrival_depth_m,
                backend=settings.forecast_backend,
                snapshot_s=snapshots if k == 0 else (),
                fine_gauges=fine_gauges or None,
            )
        )
    return PreparedRun(
        district,
        rain,
        specs,
        perts,
        points,
        notes,
        warm.run_id,
        warm_start_kind=warm.kind,
        details=details,
        rain_field=run_rain.gridded,
        radar_now=_radar_now(session=session, settings=settings, run=run, district=district),
    )


def _radar_now(
    *, session: Session, settings: Settings, run: ForecastRun, district: engine.District
) -> np.ndarray | None:
    """The latest radar frame of the configured feed at the issue time (not older than the
    chain's age limit), on the model grid (mm/h); None when there is none."""
    grid = model_grid(district)
    if not settings.rain_radar_feed or grid is None:
        return None
    from fangxun.rain import service as rain_service

    start = run.issued_at - timedelta(seconds=settings.rain_max_radar_age_s)
    rows = rain_service.list_frames(
        session=session, feed=settings.rain_radar_feed, kind="QPE", start=start, end=run.issued_at
    )
    if not rows:
        return None
    return np.asarray(
        rain_service.frame_on_grid(
            rows[-1], Path(settings.data_dir), crs=grid.crs, transform=grid.transform,
            shape=grid.shape,
        ),
        np.float64,
    )  # fmt: skip


def _member_rain(
    rain: RunRain, k: int, scale: float, shift_s: float, *, horizon_s: float, step: float
) -> Hyetograph | GriddedRain:
    """Member ``k``'s rain: the control for 0; the source's ensemble member k − 1 where it gave
    one; else the control's rain scaled and shifted (:func:`engine.perturb`)."""
    if k == 0:
        return rain.control
    if k - 1 < len(rain.members):
        return rain.members[k - 1]
    if rain.gridded is not None:
        return engine.perturb_gridded(rain.gridded, scale=scale, shift_s=shift_s)
    return engine.perturb(rain.uniform, horizon_s=horizon_s, step_s=step, scale=scale,
                          shift_s=shift_s)  # fmt: skip


def _with_network(
    *,
    session: Session,
    run: ForecastRun,
    settings: Settings,
    district: engine.District,
    notes: list[str],
    details: dict[str, Any],
) -> engine.District:
    """The district coupled with its drainage network when one is imported (the catchment sink
    then stands down); unchanged otherwise. A run's ``params["drainage_whatif"]`` (see
    :class:`fangxun.drainage.service.DrainageWhatIf`) makes it a what-if: such runs are meant
    to be scenario runs (purpose ``scenario``), never operational ones."""
    from dataclasses import replace

    from fangxun.drainage import service as drainage_service

    whatif = drainage_service.DrainageWhatIf.from_params(run.params.get("drainage_whatif"))
    net = drainage_service.forecast_network(
        session=session, settings=settings, grid=district.grid(), whatif=whatif
    )
    if net is None:
        if whatif is not None:
            raise ValidationFailed("a drainage what-if needs an imported network")
        return district
    notes.extend(net.notes)
    details["drainage"] = {
        "network_id": net.network_id,
        "pumps_off": list(net.pumps_off),
        "tailwater_m": net.tailwater,
        "whatif": run.params.get("drainage_whatif"),
    }
    spec = engine.NetworkSpec(
        inp_text=net.inp_text,
        cells=net.cells,
        pumps_off=net.pumps_off,
        inlet_factor=net.inlet_factor,
        tailwater=net.tailwater,
    )
    return replace(district, network=spec, drainage_mm_h=0.0)


def _snapshot_times(settings: Settings, horizon_s: float) -> tuple[float, ...]:
    frames = np.arange(
        settings.forecast_frame_interval_s, horizon_s, settings.forecast_frame_interval_s
    )
    times = {float(t) for t in frames} | {float(settings.forecast_interval_s)}
    return tuple(sorted(t for t in times if 0.0 < t < horizon_s))


# --- storing results ---------------------------------------------------------------------------


def risk_score(probability: dict[str, float]) -> float:
    """Ranking key: Σ over colours of P(exceed) weighted 1, 2, 3, 4 (blue … red), 0–10."""
    return float(sum((i + 1) * probability.get(c, 0.0) for i, c in enumerate(engine.COLOURS)))


def write_outputs(
    *, settings: Settings, run_id: int, prepared: PreparedRun, control: engine.MemberResult
) -> tuple[str, list[float]]:
    """Write rasters (COG), overlay PNG, frames and states; returns (dir relative to data_dir,
    [south, west, north, east] bounds)."""
    from PIL import Image

    from fangxun.inundation.io import write_cog

    out = run_dir(settings, run_id)
    out.mkdir(parents=True, exist_ok=True)
    grid = prepared.district.grid()
    write_cog(out / "max_depth.tif", control.max_depth, grid)
    write_cog(out / "arrival_time.tif", control.arrival_s, grid)
    Image.fromarray(engine.overlay_rgba(control.max_depth), "RGBA").save(out / "overlay.png")
    for t, depth in control.snapshots.items():
        np.save(out / f"state_{t:08.0f}.npy", depth)
        img = engine.overlay_rgba(depth.astype(np.float64))
        Image.fromarray(img, "RGBA").save(out / f"frame_{t:08.0f}.png")
        if prepared.rain_field is not None:  # the rain behind the frame: the block ending at t
            rate = prepared.rain_field.depth_m_field(max(t - 300.0, 0.0), t) * 3.6e6 / min(t, 300.0)
            Image.fromarray(engine.rain_rgba(rate), "RGBA").save(out / f"rain_{t:08.0f}.png")
    if prepared.radar_now is not None:
        Image.fromarray(engine.rain_rgba(prepared.radar_now), "RGBA").save(out / "radar_now.png")
    if prepared.rain_field is not None and prepared.district.crs_wkt:
        # kept to score the nowcast against the radar that arrives later (nowcast_skill)
        np.savez_compressed(
            out / "rain_field.npz",
            times_s=prepared.rain_field.times_s,
            intensity_mm_h=prepared.rain_field.intensity_mm_h.astype(np.float32),
            transform=np.array(prepared.district.transform),
            crs_wkt=np.array(prepared.district.crs_wkt),
        )
    try:
        bounds = list(engine.wgs84_bounds(prepared.district))
    except ValueError:
        bounds = []
    return str(out.relative_to(Path(settings.data_dir))), bounds


def store_results(
    *,
    session: Session,
    run: ForecastRun,
    prepared: PreparedRun,
    results: list[engine.MemberResult],
    output_dir: str,
    bounds: list[float],
) -> None:
    """Store per-point results and mark the run ``done`` (the new current forecast)."""
    control = results[0]
    n_points_above: dict[str, int] = dict.fromkeys(engine.COLOURS, 0)
    for key, info in prepared.points.items():
        depth = control.series[key]
        stats = engine.point_stats(control.times_s, depth, info["thresholds"])
        peaks = [float(np.max(r.series[key])) for r in results]
        prob = {
            c: engine.exceedance_probability(peaks, thr) for c, thr in info["thresholds"].items()
        }
        for c, t in stats.time_to_threshold_s.items():
            if t is not None:
                n_points_above[c] += 1
        row, col = info["cell"]
        session.add(
            ForecastPointResult(
                run_id=run.id,
                point_id=info["id"],
                row=row,
                col=col,
                times_s=[float(t) for t in control.times_s],
                depth_m=[round(float(d), 5) for d in depth],
                peak_depth_m=stats.peak_depth_m,
                peak_time_s=stats.peak_time_s,
                time_to_threshold_s=stats.time_to_threshold_s,
                probability=prob,
                member_peaks_m=[round(p, 5) for p in peaks],
                thresholds_m=dict(info["thresholds"]),
                risk=risk_score(prob),
            )
        )
    md = control.max_depth
    run.summary = {
        "notes": prepared.notes,
        "rain_total_mm": round(prepared.rain.total_mm(), 3),
        "grid": {
            "rows": prepared.district.shape[0],
            "cols": prepared.district.shape[1],
            "cell_size_m": prepared.district.cell_size,
        },
        "max_depth_m": float(np.nanmax(md)) if np.isfinite(md).any() else 0.0,
        "points": len(prepared.points),
        "points_reaching": n_points_above,
        "members": [{"scale": s, "shift_s": d} for s, d in prepared.perturbations],
        "mass_error_m3": control.mass_error_m3,
        "frames_s": sorted(float(t) for t in control.snapshots),
        # the map's rain layer: rain_<t>.png beside each frame, radar_now.png
        "rain_frames": prepared.rain_field is not None,
        "radar_now": prepared.radar_now is not None,
        **prepared.details,
    }
    run.output_dir = output_dir
    run.bounds = bounds or None
    run.warm_start_run_id = prepared.warm_start_run_id
    run.warm_start_kind = prepared.warm_start_kind
    run.status = RunStatus.done
    run.progress = 1.0
    run.finished_at = utcnow()
    run.message = "; ".join(prepared.notes)
    session.flush()


def mark_failed(*, session: Session, run: ForecastRun, reason: str) -> None:
    """Mark ``run`` failed with ``reason``; the forecast in force stays and the message says so."""
    cur = current_run(session=session)
    keeps = (
        f"forecast #{cur.id} (issued {cur.issued_at.isoformat()}) remains in force"
        if cur is not None and cur.id != run.id
        else "no earlier forecast is in force"
    )
    run.status = RunStatus.failed
    run.finished_at = utcnow()
    run.message = f"failed: {reason}; {keeps}"
    session.flush()


# --- reading results ---------------------------------------------------------------------------


def point_results(
    *, session: Session, run_id: int, actor: Actor, order: str = "risk"
) -> list[PointForecastRead]:
    """Per-point results of a run inside the actor's jurisdiction, ranked by risk (default) or
    point id."""
    run = get_run(session=session, run_id=run_id)
    visible = scope_query(select(HazardPoint.id), HazardPoint.unit_id, session=session, user=actor)
    stmt = (
        select(ForecastPointResult, HazardPoint)
        .join(HazardPoint, HazardPoint.id == ForecastPointResult.point_id)
        .where(ForecastPointResult.run_id == run.id, HazardPoint.id.in_(visible))
    )
    if order == "risk":
        stmt = stmt.order_by(
            ForecastPointResult.risk.desc(), ForecastPointResult.peak_depth_m.desc()
        )
    else:
        stmt = stmt.order_by(ForecastPointResult.point_id)
    out = []
    for res, pt in session.execute(stmt).all():
        out.append(
            PointForecastRead(
                point_id=pt.id,
                code=pt.code,
                name=pt.name,
                lon=pt.lon,
                lat=pt.lat,
                row=res.row,
                col=res.col,
                times_s=list(res.times_s),
                depth_cm=[round(d * 100.0, 2) for d in res.depth_m],
                peak_depth_cm=round(res.peak_depth_m * 100.0, 2),
                peak_time_s=res.peak_time_s,
                peak_time=run.issued_at + timedelta(seconds=res.peak_time_s),
                thresholds_cm={c: round(v * 100.0, 2) for c, v in res.thresholds_m.items()},
                time_to_threshold_s=dict(res.time_to_threshold_s),
                probability=dict(res.probability),
                member_peaks_cm=[round(p * 100.0, 2) for p in res.member_peaks_m],
                risk=res.risk,
            )
        )
    return out


def run_file(*, session: Session, run_id: int, settings: Settings, name: str) -> Path:
    """A file of a done run: ``max_depth.tif``, ``arrival_time.tif``, ``overlay.png``, a
    ``frame_<t>.png``, the rain behind it ``rain_<t>.png`` or the radar at the issue time
    ``radar_now.png``; :class:`NotFoundError` otherwise."""
    run = get_run(session=session, run_id=run_id)
    allowed = name in {"max_depth.tif", "arrival_time.tif", "overlay.png", "radar_now.png"} or (
        name.startswith(("frame_", "rain_"))
        and name.endswith(".png")
        and name.split("_", 1)[1][:-4].isdigit()
    )
    if not allowed or run.output_dir is None:
        raise NotFoundError(f"forecast run {run_id} has no file {name!r}")
    path = Path(settings.data_dir) / run.output_dir / name
    if not path.is_file():
        raise NotFoundError(f"forecast run {run_id} has no file {name!r}")
    return path


def nowcast_skill(
    *,
    session: Session,
    settings: Settings,
    now: datetime,
    hours: float = 3.0,
    lead_s: float = 1800.0,
    threshold_mm_h: float = 1.0,
    until: datetime | None = None,
) -> list[dict[str, Any]]:
    """Skill of the rain behind the runs issued in the ``hours`` before ``until`` (default
    ``now``): CSI at ``threshold_mm_h`` of each run's rain field at ``lead_s`` against the radar
    frame valid then (when it has arrived by ``now``, within 2.5 min), on the model grid. Oldest
    first; runs without a stored field or radar frame are left out. CSI is None when neither
    had rain above the threshold."""
    if not settings.rain_radar_feed:
        return []
    from fangxun.rain import service as rain_service

    runs = session.scalars(
        select(ForecastRun)
        .where(
            ForecastRun.status == RunStatus.done,
            ForecastRun.issued_at >= (until or now) - timedelta(hours=hours),
            ForecastRun.issued_at <= min(until or now, now - timedelta(seconds=lead_s)),
        )
        .order_by(ForecastRun.issued_at)
    ).all()
    out: list[dict[str, Any]] = []
    for r in runs:
        path = Path(settings.data_dir, r.output_dir or "", "rain_field.npz")
        if not r.output_dir or not path.is_file():
            continue
        valid = r.issued_at + timedelta(seconds=lead_s)
        rows = rain_service.list_frames(
            session=session, feed=settings.rain_radar_feed, kind="QPE",
            start=valid - timedelta(seconds=150), end=valid + timedelta(seconds=150),
        )  # fmt: skip
        if not rows:
            continue
        with np.load(path) as z:
            field_at = GriddedRain(z["times_s"].tolist(), z["intensity_mm_h"])
            grid = rainsource.district_grid(
                crs_wkt=str(z["crs_wkt"]),
                transform=tuple(float(v) for v in z["transform"]),
                shape=field_at.shape,
            )
        forecast = field_at.depth_m_field(lead_s - 300.0, lead_s) * 3.6e6 / 300.0
        obs = rain_service.frame_on_grid(
            rows[-1], Path(settings.data_dir), crs=grid.crs, transform=grid.transform,
            shape=field_at.shape,
        )  # fmt: skip
        ok = np.isfinite(obs)
        f, o = forecast[ok] >= threshold_mm_h, obs[ok] >= threshold_mm_h
        hits, misses, false = int(np.sum(f & o)), int(np.sum(~f & o)), int(np.sum(f & ~o))
        total = hits + misses + false
        source = ((r.summary or {}).get("rain") or {}).get("source")
        out.append({"run_id": r.id, "issued_at": r.issued_at, "source": source,
                    "csi": hits / total if total else None})  # fmt: skip
    return out


def run_status_counts(*, session: Session) -> dict[str, int]:
    """How many forecast runs are in each status (the statuses with none are left out)."""
    from sqlalchemy import func

    return {
        str(getattr(status, "value", status)): int(n)
        for status, n in session.execute(
            select(ForecastRun.status, func.count()).group_by(ForecastRun.status)
        )
    }


def recent_run_durations_s(*, session: Session, limit: int) -> list[float]:
    """Wall times of the last ``limit`` finished runs, newest first, s."""
    rows = session.execute(
        select(ForecastRun.started_at, ForecastRun.finished_at)
        .where(ForecastRun.started_at.is_not(None), ForecastRun.finished_at.is_not(None))
        .order_by(ForecastRun.finished_at.desc())
        .limit(limit)
    ).all()
    return [
        (end - start).total_seconds()
        for start, end in rows
        if start is not None and end is not None
    ]
