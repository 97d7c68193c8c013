"""The twin experiment: how early and how reliably the warning loop warns, on a storm whose truth
is known.

A **truth** storm: a real radar sequence (read with :mod:`fangxun.rain.importers`), rescaled so
that the heaviest 1-h total at one radar pixel is ``max_1h_mm``, and moved over the demo district
(the 8 km × 8 km radar window around that pixel is laid onto the district's grid). It runs through
the inundation core (through :mod:`fangxun.forecast.engine`, the core's one caller) on the demo
terrain at ``truth_cell_m`` (the subgrid model: the terrain's own 10 m pixels) with the catchment
drainage sink the demo uses. Its depth at the
demo's ponding sensors, every minute, is the truth; a colour is *crossed* when that depth first
reaches the point's threshold in an episode (an episode ends when the depth falls below the blue
threshold minus the rules' margin).

The **system** sees only what an office sees: radar frames up to now, the gauges (the truth rain
at the demo's six gauge sites) and the ponding sensors (truth depth + Gaussian noise, with
dropouts). Every ``cycle_s`` it runs its loop: a radar nowcast
(:func:`fangxun.rain.nowcast.deterministic`, S-PROG, on a regional crop of the composite), the
forecast core on ``model_cell_m`` cells driven by the nowcast rain field and warm-started from
its own analysis run (the core driven by the radar frames seen so far), and the warning rules'
decisions (:func:`fangxun.warnings.rules.target_colour` hysteresis and the lifecycle's minimum
hold, :func:`fangxun.warnings.service._decide`), with forecaster approval in automatic mode
(every colour automatic: :func:`fangxun.warnings.approval.gate`). The same run scores three
baselines: **sensor-only** (the observed-ponding rule on the noisy sensors: lead 0 at best),
**gauge persistence** (today's gauge nowcast, uniform rain decaying from the gauges' last-hour
mean, through the same forecast core and rules) and the **perfect forecast** (the truth's own
depths over the horizon: the upper bound).

Scores (:func:`fangxun.warnings.verification.score`) per colour: POD, FAR, CSI and the median
lead (s) of the warnings before the truth crossed; plus flapping (a warning lifted and issued again
at the same point and colour within ``flap_window_s``).

Simplifications, said where results are shown: the radar is taken as the true rain (no QPE
error); the model cells are coarse (tractable on two busy cores); one deterministic nowcast
member; the district database is not used (the rules' decision functions are called on plain
objects).
"""

from __future__ import annotations

import logging
import math
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any, cast

import numpy as np
import numpy.typing as npt

from fangxun.config import Settings
from fangxun.warnings.verification import Crossing, Span, score

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
COLOURS = ("blue", "yellow", "orange", "red")
#: Side of the district window laid onto the demo terrain, m.
DISTRICT_SIDE_M = 8000.0
#: Side of the regional crop the nowcast runs on (it must see rain coming), m.
REGION_SIDE_M = 96_000.0


@dataclass(frozen=True)
class TwinConfig:
    """Numbers of one twin experiment (durations s, depths m, cells m)."""

    max_1h_mm: float = 120.0
    seed: int = 0
    truth_cell_m: float = 40.0
    model_cell_m: float = 80.0
    cycle_s: float = 900.0
    horizon_s: float = 7200.0
    sensor_noise_m: float = 0.01
    sensor_dropout: float = 0.05
    #: A warning may come this late after the crossing and still count (one cycle).
    tolerance_s: float = 900.0
    flap_window_s: float = 3600.0
    #: Truth run continues this long after the last radar frame (the water recedes), s.
    after_s: float = 3600.0


@dataclass(frozen=True)
class Point:
    """A demo ponding sensor's point: code, kind, thresholds (m), truth and model cells."""

    code: str
    name: str
    kind: str
    thresholds_m: dict[str, float]
    fine_cell: tuple[int, int]


@dataclass
class StormInput:
    """The scaled radar: rates (t, y, x) mm/h on the regional crop, its frame times and the
    district window inside the crop (row, col, size in pixels, pixel size m)."""

    rates: FloatArray
    times: list[datetime]
    step_s: float
    window: tuple[int, int, int]
    pixel_m: float
    scale: float
    crs: Any
    transform: Any
    source: str
    raw_max_1h_mm: float


@dataclass
class SystemState:
    """One warning system's warnings per (point, kind) while the loop runs."""

    current: dict[str, SimpleNamespace] = field(default_factory=dict)
    spans: list[Span] = field(default_factory=list)
    open_spans: dict[str, dict[str, datetime]] = field(default_factory=dict)
    lifts: list[tuple[str, str, datetime]] = field(default_factory=list)
    issues: list[tuple[str, str, datetime]] = field(default_factory=list)
    #: Each subject's warning from issue to lift is one episode (a warning id for the scores).
    episode: dict[str, int] = field(default_factory=dict)
    episodes: int = 0


# --- the storm ---------------------------------------------------------------------------------


def _rolling_1h_mm(rates: FloatArray, step_s: float) -> FloatArray:
    """Rolling 1-h totals (mm) per pixel, ending at each frame (frames hold for ``step_s``)."""
    n = max(1, round(3600.0 / step_s))
    depth = np.nan_to_num(rates) * step_s / 3600.0
    c = np.cumsum(depth, axis=0)
    out = c.copy()
    out[n:] = c[n:] - c[:-n]
    return np.asarray(out, np.float64)


def prepare_storm(frames: Sequence[Any], max_1h_mm: float) -> StormInput:
    """Scale ``frames`` (:class:`fangxun.rain.grids.Frame`, one regular sequence) so that the
    heaviest 1-h total at one pixel is ``max_1h_mm``; crop the region around that pixel."""
    from fangxun.rain.grids import check_sequence

    ordered, step = check_sequence(list(frames))
    step_s = step.total_seconds()
    rates = np.stack([np.asarray(f.rate_mm_h, np.float64) for f in ordered])
    acc = _rolling_1h_mm(rates, step_s)
    k, row, col = np.unravel_index(int(np.nanargmax(acc)), acc.shape)
    raw = float(acc[k, row, col])
    if raw <= 0:
        raise ValueError("the radar sequence holds no rain")
    pixel_m = float(ordered[0].pixel_size_m[0])
    w = max(1, math.ceil(DISTRICT_SIDE_M / pixel_m))
    half_region = max(w, round(REGION_SIDE_M / pixel_m / 2))
    ny, nx = rates.shape[1:]
    r0 = int(np.clip(row - half_region, 0, max(0, ny - 2 * half_region)))
    c0 = int(np.clip(col - half_region, 0, max(0, nx - 2 * half_region)))
    r1, c1 = min(ny, r0 + 2 * half_region), min(nx, c0 + 2 * half_region)
    # Outside the radar's coverage (NaN) counts as dry: the nowcast's cascade needs finite fields.
    crop = np.nan_to_num(rates[:, r0:r1, c0:c1])
    # The district window: centred on the heaviest pixel, inside the crop.
    wr = int(np.clip(row - r0 - w // 2, 0, crop.shape[1] - w))
    wc = int(np.clip(col - c0 - w // 2, 0, crop.shape[2] - w))
    window_max = float(_rolling_1h_mm(crop[:, wr : wr + w, wc : wc + w], step_s).max())
    scale = max_1h_mm / window_max
    t = ordered[0].transform
    from affine import Affine

    transform = Affine(t.a, t.b, t.c + c0 * t.a, t.d, t.e, t.f + r0 * t.e)
    return StormInput(
        rates=crop * scale,
        times=[f.time for f in ordered],
        step_s=step_s,
        window=(wr, wc, w),
        pixel_m=pixel_m,
        scale=scale,
        crs=ordered[0].crs,
        transform=transform,
        source=ordered[0].source,
        raw_max_1h_mm=raw,
    )


def to_district(field_xy: FloatArray, storm: StormInput, shape: tuple[int, int], cell_m: float):  # type: ignore[no-untyped-def]
    """Lay the district window of a (…, y, x) radar field onto a district grid of ``shape``
    (nearest radar pixel of each cell centre; row 0 north in both)."""
    wr, wc, w = storm.window
    rows = np.minimum(((np.arange(shape[0]) + 0.5) * cell_m / storm.pixel_m).astype(int), w - 1)
    cols = np.minimum(((np.arange(shape[1]) + 0.5) * cell_m / storm.pixel_m).astype(int), w - 1)
    sub = field_xy[..., wr : wr + w, wc : wc + w]
    return np.nan_to_num(sub[..., rows[:, None], cols[None, :]])


# --- the district ------------------------------------------------------------------------------


def demo_points(settings: Settings) -> list[Point]:
    """The demo's hazard points that have a ponding sensor (the terrain's features), with the
    configured thresholds of their kind."""
    from fangxun.demo.hazards_seed import demo_spots
    from fangxun.demo.terrain import demo_terrain

    terrain = demo_terrain()
    spots = {(s.row, s.col): s for s in demo_spots(terrain)}
    out: list[Point] = []
    for f in terrain.features:
        spot = spots.get((f.row, f.col))
        kind = spot.kind.value if spot is not None else "other"
        cm = settings.hazard_thresholds_cm.get(kind, settings.hazard_thresholds_cm["other"])
        out.append(
            Point(
                code=f.code,
                name=spot.name if spot is not None else f.name_zh,
                kind=kind,
                thresholds_m={c: v / 100.0 for c, v in zip(COLOURS, cm, strict=True)},
                fine_cell=(f.row, f.col),
            )
        )
    return out


def demo_district(settings: Settings, cell_m: float) -> tuple[Any, int]:
    """The demo terrain as a forecast district at ``cell_m`` with the drainage sink the demo uses
    (the design storm's mean intensity, P = 1 a over 30 min). Coarser than the terrain's 10 m,
    it keeps the terrain's pixels (the subgrid model, as the forecast runs it), so a sensor at an
    underpass reads the depth at its own pixel; returns (district, cells per side of a pixel)."""
    from fangxun.demo.terrain import demo_terrain
    from fangxun.forecast.engine import District, aggregate, drainage_capacity_mm_h
    from fangxun.forecast.service import storm_formula

    terrain = demo_terrain()
    factor = max(1, round(cell_m / terrain.cell_size_m))
    z = np.asarray(terrain.elevation, np.float64)
    nodata = ~np.isfinite(z)
    coarse, mask = aggregate(z, nodata, factor)
    drainage = drainage_capacity_mm_h(
        storm_formula(settings),
        settings.forecast_drainage_return_period_years,
        settings.forecast_drainage_duration_s,
    )
    cy, cx = coarse.shape
    fine: dict[str, Any] = {}
    if factor > 1:
        fine = {
            "fine_elevation": z[: cy * factor, : cx * factor],
            "fine_nodata_mask": nodata[: cy * factor, : cx * factor],
            "subgrid_ratio": factor,
        }
    t = terrain.transform
    district = District(
        elevation=coarse,
        nodata_mask=mask,
        cell_size=terrain.cell_size_m * factor,
        transform=(t.a * factor, 0.0, t.c, 0.0, t.e * factor, t.f),
        crs_wkt=None,
        manning=0.03,
        drainage_mm_h=drainage,
        **fine,
    )
    return district, factor


def _gauges(
    points: Sequence[Point], factor: int, shape: tuple[int, int]
) -> dict[str, tuple[int, int]]:
    """Each sensor's model cell."""
    return {
        p.code: (
            min(p.fine_cell[0] // factor, shape[0] - 1),
            min(p.fine_cell[1] // factor, shape[1] - 1),
        )
        for p in points
    }


def _fine_gauges(points: Sequence[Point]) -> dict[str, tuple[int, int]]:
    """Each sensor's own terrain pixel (the subgrid model reads level − its elevation there)."""
    return {p.code: p.fine_cell for p in points}


def automatic_approval(settings: Settings) -> Settings:
    """``settings`` with forecaster approval in automatic mode (every colour, and lowering)."""
    rules_cfg = settings.warning_rules.model_copy(
        update={"approval_auto_colours": list(COLOURS), "approval_auto_lower": True}
    )
    return settings.model_copy(update={"warning_rules": rules_cfg})


# --- one system's decisions --------------------------------------------------------------------


def _crossing_times(
    times_s: FloatArray, depth: FloatArray, thresholds: Mapping[str, float]
) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    for c in COLOURS:
        above = np.flatnonzero(depth >= thresholds[c])
        out[c] = float(times_s[above[0]]) if above.size else None
    return out


def decide(
    state: SystemState,
    *,
    subject: str,
    point: int,
    levels: list[Any] | None,
    margin: float,
    now: datetime,
    settings: Settings,
) -> None:
    """Apply the rules' lifecycle to one subject (levels None: no usable data, change nothing)
    and keep the warning spans."""
    from fangxun.warnings import approval, rules, service
    from fangxun.warnings.models import ChangeType, Colour, Origin, WarningKind

    finding = rules.Finding(
        subject=subject,
        kind=WarningKind.predicted_ponding,
        levels=levels or [],
        margin=margin,
        unknown=levels is None,
    )
    current = state.current.get(subject)
    decision = service._decide(finding, cast(Any, current), now, settings.warning_rules)
    if decision is None:
        return
    gate = approval.gate(
        kind=WarningKind.predicted_ponding,
        purpose="operational",
        change_type=decision.change_type,
        to_colour=decision.to_colour,
        settings=settings,
    )
    if gate.needs_approval:  # approval in automatic mode: never
        return
    opened = state.open_spans.setdefault(subject, {})
    if subject not in state.episode:
        state.episodes += 1
        state.episode[subject] = state.episodes
    wid = state.episode[subject]
    if decision.change_type is ChangeType.lift:
        for colour, start in opened.items():
            state.spans.append(Span(point, colour, start, now, wid))
            state.lifts.append((subject, colour, now))
        opened.clear()
        state.current.pop(subject, None)
        state.episode.pop(subject, None)
        return
    target = decision.to_colour
    assert target is not None
    # The warning stands at every colour up to its own: one span per colour (closed when the
    # warning falls below that colour).
    for colour in list(opened):
        if COLOURS.index(colour) > COLOURS.index(target.value):
            state.spans.append(Span(point, colour, opened.pop(colour), now, wid))
            state.lifts.append((subject, colour, now))
    for colour in COLOURS[: COLOURS.index(target.value) + 1]:
        if colour not in opened:
            opened[colour] = now
            state.issues.append((subject, colour, now))
    if current is None:
        state.current[subject] = SimpleNamespace(
            subject=subject, colour=Colour(target), origin=Origin.rule, changed_at=now
        )
    else:
        current.colour = Colour(target)
        current.changed_at = now


def close(state: SystemState) -> list[Span]:
    """All spans, the ones still open left open (end None)."""
    spans = list(state.spans)
    for subject, opened in state.open_spans.items():
        point = int(subject.rsplit(":", 1)[1])
        wid = state.episode.get(subject)
        spans += [Span(point, colour, start, None, wid) for colour, start in opened.items()]
    return spans


def flaps(state: SystemState, window_s: float) -> int:
    """Warnings lifted (or lowered) and issued again at the same colour within ``window_s``."""
    n = 0
    for subject, colour, at in state.lifts:
        if any(
            s == subject and c == colour and at < t <= at + timedelta(seconds=window_s)
            for s, c, t in state.issues
        ):
            n += 1
    return n


def _levels_from_forecast(
    crossing_s: Mapping[str, float | None],
    peak: float,
    thresholds: Mapping[str, float],
    lead_s: float,
) -> list[Any]:
    """The predicted-ponding rule's levels (as :func:`rules._predicted_for_run`): the peak stands
    for a colour only when its crossing is within the lead time."""
    from fangxun.warnings.rules import Level

    return [
        Level(
            c,
            peak if crossing_s[c] is not None and float(crossing_s[c] or 0) <= lead_s else 0.0,
            thresholds[c],
        )
        for c in COLOURS
    ]


# --- the experiment ----------------------------------------------------------------------------


def _truth_crossings(
    points: Sequence[Point],
    times_s: FloatArray,
    series: Mapping[str, FloatArray],
    t0: datetime,
    margin: float,
) -> list[Crossing]:
    out: list[Crossing] = []
    for i, p in enumerate(points):
        depth = series[p.code]
        reached = -1
        for t, d in zip(times_s, depth, strict=True):
            if reached >= 0 and d < p.thresholds_m["blue"] - margin:
                reached = -1  # dried out: a new episode
            for k, c in enumerate(COLOURS):
                if k > reached and d >= p.thresholds_m[c]:
                    out.append(Crossing(i, c, t0 + timedelta(seconds=float(t))))
                    reached = k
    return out


def _gridded(times_s: Sequence[float], fields: FloatArray) -> Any:
    """Gridded rain for a member (the core takes it; the member's type names the uniform one)."""
    from rainkit import GriddedRain

    return GriddedRain(list(times_s), fields)


def _series_at(times_s: FloatArray, depth: FloatArray, t: float) -> float:
    return float(np.interp(t, times_s, depth))


def run_twin(
    frames: Sequence[Any],
    *,
    config: TwinConfig,
    settings: Settings,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Run the twin experiment on one radar sequence; returns the scores (JSON-ready)."""
    from fangxun.forecast.engine import MemberSpec, run_member
    from fangxun.forecast.rainsource import nowcast_rain
    from fangxun.rain import nowcast as nc
    from fangxun.rain.grids import Frame
    from fangxun.warnings.rules import Level

    say = progress or (lambda _m: None)
    rng = np.random.default_rng(config.seed)
    settings = automatic_approval(settings)
    r = settings.warning_rules
    storm = prepare_storm(frames, config.max_1h_mm)
    points = demo_points(settings)
    t0 = storm.times[0]
    n_frames = len(storm.times)
    duration = n_frames * storm.step_s + config.after_s
    say(
        f"storm {storm.source}: {n_frames} frames of {storm.step_s:.0f} s, heaviest 1-h total "
        f"{storm.raw_max_1h_mm:.1f} mm × {storm.scale:.2f} → {config.max_1h_mm:.0f} mm"
    )

    # Truth.
    truth_d, tf = demo_district(settings, config.truth_cell_m)
    truth_rain = to_district(storm.rates, storm, truth_d.shape, truth_d.cell_size)
    rain_times = [k * storm.step_s for k in range(n_frames)]
    truth = run_member(
        truth_d,
        MemberSpec(
            rain=_gridded(rain_times, truth_rain),
            horizon_s=duration,
            output_interval_s=60.0,
            gauges=_gauges(points, tf, truth_d.shape),
            fine_gauges=_fine_gauges(points),
        ),
    )
    crossings = _truth_crossings(points, truth.times_s, truth.series, t0, r.depth_margin_m)
    say(f"truth at {truth_d.cell_size:.0f} m: {len(crossings)} threshold crossings")

    # The system's district, its analysis run (radar seen so far) with a state at each cycle.
    model_d, mf = demo_district(settings, config.model_cell_m)
    gauges = _gauges(points, mf, model_d.shape)
    first = 3 * storm.step_s  # the nowcast needs four frames
    starts = list(np.arange(first, n_frames * storm.step_s, config.cycle_s))
    model_rain = to_district(storm.rates, storm, model_d.shape, model_d.cell_size)
    analysis = run_member(
        model_d,
        MemberSpec(
            rain=_gridded(rain_times, model_rain),
            horizon_s=float(starts[-1]) + 1.0,
            output_interval_s=300.0,
            gauges=gauges,
            fine_gauges=_fine_gauges(points),
            snapshot_s=tuple(float(s) for s in starts),
        ),
    )
    # The gauges: the truth rain at the demo's six gauge sites (model grid cells).
    from fangxun.demo.monitoring_seed import RAIN_GAUGES

    side = DISTRICT_SIDE_M
    gauge_cells = [
        (
            min(int((side - s) / model_d.cell_size), model_d.shape[0] - 1),
            min(int(x / model_d.cell_size), model_d.shape[1] - 1),
        )
        for _c, _z, _e, x, s in RAIN_GAUGES
    ]

    systems = {
        name: SystemState() for name in ("system", "sensor_only", "gauge_persistence", "perfect")
    }
    horizon = config.horizon_s
    lead = float(r.predicted_lead_s)
    fallbacks = 0
    for start in starts:
        now = t0 + timedelta(seconds=float(start))
        init = analysis.snapshots.get(float(start))
        # 1. The nowcast from the frames seen so far (the regional crop).
        seen = [
            Frame(
                time=storm.times[k],
                rate_mm_h=storm.rates[k].astype(np.float32),
                crs=storm.crs,
                transform=storm.transform,
                source=storm.source,
            )
            for k in range(n_frames)
            if storm.times[k] <= now
        ][-4:]
        try:
            nowcast = nc.deterministic(seen, lead_min=horizon / 60.0)
        except ValueError:
            # S-PROG's cascade fails on a crop that is nearly dry (a level without variance):
            # the project's plain extrapolation of the last two frames instead.
            nowcast = nc.deterministic(seen[-2:], lead_min=horizon / 60.0)
            fallbacks += 1
        fc = to_district(
            np.asarray(nowcast.rate_mm_h[0], np.float64), storm, model_d.shape, model_d.cell_size
        )
        # Lead k is valid from its time on; until the first lead the frame just seen holds.
        last_seen = seen[-1].time
        rel = [(t - now).total_seconds() for t in nowcast.times]
        keep = [i for i, t in enumerate(rel) if 0.0 < t < horizon]
        nc_times = [0.0] + [rel[i] for i in keep]
        k_last = storm.times.index(last_seen)
        fc = np.concatenate([model_rain[k_last][None], fc[keep]])
        sys_run = run_member(
            model_d,
            MemberSpec(
                rain=_gridded(nc_times, fc),
                horizon_s=horizon,
                output_interval_s=300.0,
                gauges=gauges,
                fine_gauges=_fine_gauges(points),
                initial_depth=init,
            ),
        )
        # 2. Gauge persistence: the gauges' last-hour mean, decaying (today's nowcast).
        k_now = int(start // storm.step_s)
        k_from = max(0, k_now - round(3600.0 / storm.step_s) + 1)
        means = [float(model_rain[k_from : k_now + 1, gr, gc].mean()) for gr, gc in gauge_cells]
        gp_run = run_member(
            model_d,
            MemberSpec(
                rain=nowcast_rain(
                    means, horizon_s=horizon, decay_s=settings.forecast_nowcast_decay_s
                ),
                horizon_s=horizon,
                output_interval_s=300.0,
                gauges=gauges,
                fine_gauges=_fine_gauges(points),
                initial_depth=init,
            ),
        )
        for i, p in enumerate(points):
            subject = f"predicted_ponding:{i}"
            for name, run in (("system", sys_run), ("gauge_persistence", gp_run)):
                depth = run.series[p.code]
                cross = _crossing_times(run.times_s, depth, p.thresholds_m)
                levels = _levels_from_forecast(cross, float(depth.max()), p.thresholds_m, lead)
                decide(systems[name], subject=subject, point=i, levels=levels,
                       margin=r.depth_margin_m, now=now, settings=settings)  # fmt: skip
            # The perfect forecast: the truth's own depths over the horizon.
            mask = (truth.times_s >= start) & (truth.times_s <= start + horizon)
            tt = truth.times_s[mask] - start
            td = truth.series[p.code][mask]
            cross = _crossing_times(tt, td, p.thresholds_m)
            levels = _levels_from_forecast(
                cross, float(td.max()) if td.size else 0.0, p.thresholds_m, lead
            )
            decide(systems["perfect"], subject=subject, point=i, levels=levels,
                   margin=r.depth_margin_m, now=now, settings=settings)  # fmt: skip
            # Sensor-only: the observed rule on the noisy sensor (a dropout: no usable data).
            if rng.random() < config.sensor_dropout:
                sensor_levels = None
            else:
                d = _series_at(truth.times_s, truth.series[p.code], start)
                d = max(0.0, d + float(rng.normal(0.0, config.sensor_noise_m)))
                sensor_levels = [Level(c, d, p.thresholds_m[c]) for c in COLOURS]
            decide(systems["sensor_only"], subject=f"ponding:{i}", point=i, levels=sensor_levels,
                   margin=r.depth_margin_m, now=now, settings=settings)  # fmt: skip
        say(f"  cycle {now.isoformat()}: " + ", ".join(
            f"{n} {len(s.current)}" for n, s in systems.items()))  # fmt: skip

    out: dict[str, Any] = {
        "storm": storm.source,
        "frames": n_frames,
        "frame_step_s": storm.step_s,
        "raw_max_1h_mm": round(storm.raw_max_1h_mm, 2),
        "scale": round(storm.scale, 3),
        "max_1h_mm": config.max_1h_mm,
        "points": [p.code for p in points],
        "crossings": {c: sum(1 for x in crossings if x.colour == c) for c in COLOURS},
        "cycles": len(starts),
        "nowcast_fallbacks": fallbacks,
        "config": config.__dict__,
    }
    for name, state in systems.items():
        s = score(crossings, close(state), tolerance_s=config.tolerance_s)
        out[name] = {
            c: {k: v for k, v in s[c].items() if k != "leads_s"} | {"leads_s": s[c]["leads_s"]}
            for c in COLOURS
        }
        out[name]["flaps"] = flaps(state, config.flap_window_s)
        orange_up = [x for x in crossings if COLOURS.index(x.colour) >= 2]
        leads = [v for c in ("orange", "red") for v in s[c]["leads_s"]]
        out[name]["orange_plus_warned_30min_share"] = (
            round(sum(1 for v in leads if v >= 1800.0) / len(orange_up), 3) if orange_up else None
        )
    return out


def median_or_none(values: Sequence[float]) -> float | None:
    """The median, or None for no values."""
    return statistics.median(values) if values else None
