"""The fallback chain of gridded rain for a forecast: blended nowcast → radar nowcast → QPF.

:func:`gridded_rain` tries each source in turn from the frame store and returns the first that
works as fields on the district grid (mm/h, one per radar interval from the forecast start), with
the reasons the sources before it were passed over (too old, too few frames, no QPF, an error).
``None`` as the choice means none of the gridded sources could be used; the forecast then falls
back to gauge persistence and then to no rain (:mod:`fangxun.forecast.rainsource`).

* **Members**: with ``members`` K > 1 the chain also gives K − 1 member fields: the STEPS
  ensemble (radar nowcast) or the blended ensemble (blended nowcast), member j of the ensemble
  driving forecast member j + 1; forecast member 0 (the control) keeps the deterministic field.
  QPF alone has no ensemble (the forecast perturbs it as it does the gauges' series).
* **Radar frames** are the gauge-adjusted variant where every frame used has one (adjusted to the
  district's gauges, :mod:`fangxun.rain.adjust`), the raw frames otherwise; they are cut to the
  district plus ``margin_m`` before the nowcast, because rain further away cannot reach the
  district within the lead time at convective speeds (25 m/s × 1 h = 90 km), and a 20 km window
  nowcasts far faster than the whole composite.
* **Observed rain** (:func:`observed_rain`) for the model state before the forecast: the
  adjusted radar frames over a window where held (raw when not), else the gauges interpolated by
  inverse distance (wradlib's ``ipol.Idw``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import numpy.typing as npt
from affine import Affine
from pyproj import CRS
from sqlalchemy.orm import Session

from fangxun.errors import FangxunError
from fangxun.rain import service
from fangxun.rain.adjust import GaugeRain
from fangxun.rain.grids import Frame, check_sequence
from fangxun.rain.models import RainFrame
from fangxun.rain.nowcast import Nowcast, blend, deterministic, ensemble
from fangxun.rain.reproject import reproject_array

log = logging.getLogger(__name__)

#: The chain, best first (names recorded on the run).
CHAIN = ("blended_nowcast", "radar_nowcast", "qpf", "gauge_persistence", "none")
#: Radar kept around the district before a nowcast, m (see the module docstring).
NOWCAST_MARGIN_M = 90_000.0

F64 = npt.NDArray[np.float64]


@dataclass(frozen=True)
class DistrictGrid:
    """The district model's grid: CRS, transform of the upper-left corner, (ny, nx)."""

    crs: CRS
    transform: Affine
    shape: tuple[int, int]

    def bounds(self) -> tuple[float, float, float, float]:
        """(left, bottom, right, top) in the grid's CRS, m."""
        ny, nx = self.shape
        x0, y0 = self.transform * (0, 0)
        x1, y1 = self.transform * (nx, ny)
        return min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)

    def cell_centres(self) -> tuple[F64, F64]:
        """x, y of every cell centre, each (ny, nx), in the grid's CRS (m)."""
        ny, nx = self.shape
        cols, rows = np.meshgrid(np.arange(nx) + 0.5, np.arange(ny) + 0.5)
        t = self.transform
        x = t.c + cols * t.a + rows * t.b
        y = t.f + cols * t.d + rows * t.e
        return np.asarray(x, np.float64), np.asarray(y, np.float64)


@dataclass
class GriddedChoice:
    """The chosen gridded source (or None), its fields and why others were passed over."""

    source: str | None
    #: Start of each field's validity, s after the forecast start (first 0).
    times_s: list[float] = field(default_factory=list)
    #: (nt, ny, nx) mm/h on the district grid.
    intensity_mm_h: F64 | None = None
    reasons: list[str] = field(default_factory=list)
    detail: str = ""
    #: Ensemble members' fields (each (nt, ny, nx) mm/h on ``times_s``), for forecast members
    #: 1, 2, …; empty when the source has no ensemble or one member was asked for.
    member_fields: list[F64] = field(default_factory=list)
    #: Time of the newest data behind the fields (last radar frame, or the QPF's issue time).
    data_time: datetime | None = None


def crop_to(frames: Sequence[Frame], grid: DistrictGrid, margin_m: float) -> list[Frame]:
    """``frames`` cut to the window of their grid that covers ``grid`` plus ``margin_m`` (the
    frames unchanged when the window is most of the frame, or the district is off the frame)."""
    from rasterio.warp import transform_bounds

    f0 = frames[0]
    left, bottom, right, top = transform_bounds(
        grid.crs.to_wkt(), f0.crs.to_wkt(), *grid.bounds(), densify_pts=21
    )
    inv = ~f0.transform
    c0, r0 = inv * (left - margin_m, top + margin_m)
    c1, r1 = inv * (right + margin_m, bottom - margin_m)
    ny, nx = f0.shape
    rows = sorted((int(np.floor(r0)), int(np.ceil(r1))))
    cols = sorted((int(np.floor(c0)), int(np.ceil(c1))))
    ra, rb = max(rows[0], 0), min(rows[1], ny)
    ca, cb = max(cols[0], 0), min(cols[1], nx)
    if rb - ra < 8 or cb - ca < 8 or (rb - ra) * (cb - ca) > 0.8 * ny * nx:
        return list(frames)
    tr = f0.transform * Affine.translation(ca, ra)
    return [replace(f, rate_mm_h=f.rate_mm_h[ra:rb, ca:cb], transform=tr) for f in frames]


def _radar_rows(
    session: Session, feed: str, start: datetime, end: datetime
) -> tuple[list[RainFrame], str]:
    """The feed's QPE frames in [start, end]: the adjusted ones when every raw frame has its
    adjusted twin, the raw ones otherwise; and which variant."""
    raw = service.list_frames(session=session, feed=feed, kind="QPE", start=start, end=end)
    adjusted = service.list_frames(
        session=session, feed=feed, kind="QPE", variant="adjusted", start=start, end=end
    )
    if raw and len(adjusted) == len(raw):
        return adjusted, "adjusted"
    return raw, "raw"


def _fresh_radar(
    session: Session, data_dir: Path, feed: str, issued_at: datetime, max_age: timedelta
) -> tuple[list[Frame] | None, str]:
    rows, variant = _radar_rows(session, feed, issued_at - timedelta(hours=1), issued_at)
    rows = rows[-4:]
    if len(rows) < 3:
        return None, f"{len(rows)} radar frame(s) of feed {feed!r} in the last hour (3 needed)"
    age = issued_at - rows[-1].valid_time
    if age > max_age:
        return None, f"latest radar frame is {age} old (more than {max_age})"
    frames = [service.load_frame(r, data_dir) for r in rows]
    frames, _ = check_sequence(frames)
    return frames, variant


def _qpf(
    session: Session, data_dir: Path, feed: str | None, issued_at: datetime, horizon_s: float
) -> tuple[list[Frame] | None, str]:
    if not feed:
        return None, "no QPF feed configured"
    end = issued_at + timedelta(seconds=horizon_s)
    rows = service.list_frames(session=session, feed=feed, kind="QPF", start=issued_at, end=end)
    if not rows:
        return None, f"no QPF of feed {feed!r} valid between the start and the horizon"
    latest_issue = max(r.issue_time for r in rows)
    rows = [r for r in rows if r.issue_time == latest_issue]
    return [service.load_frame(r, data_dir) for r in rows], ""


def _on_grid(
    fields: npt.NDArray[np.float32],
    times: list[datetime],
    src: Frame | Nowcast,
    grid: DistrictGrid,
    issued_at: datetime,
    step: timedelta,
) -> tuple[list[float], F64]:
    """Fields valid at ``times`` (each the end of its interval ``step``) onto the district grid,
    as blocks starting ``times_s`` after the forecast start."""
    out_t: list[float] = []
    out_f: list[npt.NDArray[np.float32]] = []
    for f, t in zip(fields, times, strict=True):
        end_s = (t - issued_at).total_seconds()
        start_s = end_s - step.total_seconds()
        if end_s <= 0:
            continue
        out_t.append(max(0.0, start_s))
        out_f.append(
            reproject_array(
                f,
                src_crs=src.crs,
                src_transform=src.transform,
                crs=grid.crs,
                transform=grid.transform,
                shape=grid.shape,
            )
        )
    arr = np.nan_to_num(np.stack(out_f).astype(np.float64)) if out_f else np.zeros((0, *grid.shape))
    return out_t, np.maximum(arr, 0.0)


def _try_nowcast(
    source: str,
    label: str,
    make: Callable[[], Nowcast],
    grid: DistrictGrid,
    issued_at: datetime,
    reasons: list[str],
    make_members: Callable[[], Nowcast] | None = None,
) -> GriddedChoice | None:
    """Run one nowcast of the chain (and its ensemble, with ``make_members``) and put it on the
    district grid; None (with the reason appended) when it fails or gives no lead after the
    forecast start. A failed ensemble keeps the deterministic field (members are then perturbed
    by the forecast) with the reason recorded."""
    try:
        nc = make()
        step = nc.times[0] - nc.issue_time
        t, f = _on_grid(nc.rate_mm_h[0], nc.times, nc, grid, issued_at, step)
    except (FangxunError, ValueError, RuntimeError) as exc:
        log.warning("%s failed: %s", label, exc)
        reasons.append(f"{label} failed: {exc}")
        return None
    if not t:
        reasons.append(f"{label}: no lead after the forecast start")
        return None
    members: list[F64] = []
    detail = f"{nc.method} from {nc.issue_time:%H:%M}Z"
    if make_members is not None:
        try:
            ens = make_members()
            for m in range(ens.members):
                _tm, fm = _on_grid(ens.rate_mm_h[m], ens.times, ens, grid, issued_at, step)
                members.append(fm)
            detail += f", {ens.members} {ens.method} member(s)"
        except (FangxunError, ValueError, RuntimeError) as exc:
            log.warning("%s ensemble failed: %s", label, exc)
            reasons.append(f"{label} ensemble failed (members perturbed instead): {exc}")
            members = []
    return GriddedChoice(source, t, f, reasons, detail, members, nc.issue_time)


def gridded_rain(
    *,
    session: Session,
    data_dir: Path,
    grid: DistrictGrid,
    issued_at: datetime,
    horizon_s: float,
    radar_feed: str,
    qpf_feed: str | None = None,
    max_radar_age: timedelta = timedelta(minutes=15),
    nowcast_lead_s: float = 7200.0,
    members: int = 1,
    seed: int = 0,
    margin_m: float = NOWCAST_MARGIN_M,
) -> GriddedChoice:
    """The best gridded rain for a forecast issued at ``issued_at`` (see the module docstring);
    with ``members`` > 1 also ``members − 1`` ensemble member fields."""
    reasons: list[str] = []
    radar, why_radar = _fresh_radar(session, data_dir, radar_feed, issued_at, max_radar_age)
    variant = why_radar if radar is not None else ""
    if radar is not None:
        radar = crop_to(radar, grid, margin_m)
    qpf, why_qpf = _qpf(session, data_dir, qpf_feed, issued_at, horizon_s)
    lead_min = min(horizon_s, nowcast_lead_s) / 60.0
    k = members - 1
    if radar is not None and qpf is not None:
        r, q = radar, qpf
        choice = _try_nowcast(
            "blended_nowcast", "blended nowcast", lambda: blend(r, q, lead_min, 1),
            grid, issued_at, reasons,
            (lambda: blend(r, q, lead_min, k, seed=seed)) if k > 0 else None,
        )  # fmt: skip
        if choice is not None:
            choice.detail += f", {variant} radar"
            return choice
    else:
        reasons.append(f"blended nowcast: {why_qpf if radar is not None else why_radar}")
    if radar is not None:
        r = radar
        choice = _try_nowcast(
            "radar_nowcast", "radar nowcast", lambda: deterministic(r, lead_min),
            grid, issued_at, reasons,
            # STEPS needs two members at least: one member more, the last dropped
            (lambda: _first(ensemble(r, lead_min, max(k, 2), seed=seed), k)) if k > 0 else None,
        )  # fmt: skip
        if choice is not None:
            choice.detail += f", {variant} radar"
            return choice
    else:
        reasons.append(f"radar nowcast: {why_radar}")
    if qpf is not None:
        ordered, step = check_sequence(qpf)
        if step == timedelta(0):
            step = timedelta(hours=1)
        fields = np.stack([f.rate_mm_h for f in ordered])
        t, f = _on_grid(fields, [f.time for f in ordered], ordered[0], grid, issued_at, step)
        if t:
            return GriddedChoice(
                "qpf", t, f, reasons, f"QPF issued {ordered[0].issue_time}",
                data_time=ordered[0].issue_time,
            )  # fmt: skip
        reasons.append("qpf: no field after the forecast start")
    else:
        reasons.append(f"qpf: {why_qpf}")
    return GriddedChoice(None, reasons=reasons)


def _first(nc: Nowcast, k: int) -> Nowcast:
    """The first ``k`` members of ``nc``."""
    return replace(nc, rate_mm_h=nc.rate_mm_h[:k])


# --- observed rain before the forecast --------------------------------------------------------


@dataclass
class ObservedRain:
    """Rain that fell over a window before a forecast, on the district grid.

    ``times_s`` are the starts of each field's validity in s from the window's start (first 0);
    ``intensity_mm_h`` is (nt, ny, nx); ``source`` is ``adjusted_radar``, ``radar``, ``gauges``
    or ``none``.
    """

    source: str
    times_s: list[float]
    intensity_mm_h: F64
    detail: str = ""


def idw_gauges(gauges: Sequence[GaugeRain], grid: DistrictGrid, *, power: float = 2.0) -> F64:
    """Gauge rates (mm/h) interpolated over ``grid`` by inverse distance (wradlib ``ipol.Idw``,
    all gauges, exponent ``power``); (ny, nx) mm/h."""
    from pyproj import Transformer
    from wradlib import ipol

    tr = Transformer.from_crs("EPSG:4326", grid.crs, always_xy=True)
    gx, gy = tr.transform([g.lon for g in gauges], [g.lat for g in gauges])
    src = np.column_stack([np.atleast_1d(gx), np.atleast_1d(gy)])
    x, y = grid.cell_centres()
    trg = np.column_stack([x.ravel(), y.ravel()])
    values = np.array([g.rate_mm_h for g in gauges], np.float64)
    if len(gauges) == 1:
        return np.full(grid.shape, values[0])
    est = ipol.Idw(src, trg, nnearest=len(gauges), p=power)(values)
    return np.maximum(np.asarray(est, np.float64).reshape(grid.shape), 0.0)


def observed_rain(
    *,
    session: Session,
    data_dir: Path,
    grid: DistrictGrid,
    start: datetime,
    end: datetime,
    radar_feed: str | None,
    gauge_step_s: float = 300.0,
) -> ObservedRain:
    """The rain observed over ``(start, end]`` on ``grid``: the radar frames of ``radar_feed``
    (adjusted where held) when they cover the window, else the gauges interpolated by inverse
    distance in steps of ``gauge_step_s``, else no rain (see the module docstring)."""
    span = (end - start).total_seconds()
    if span <= 0:
        return ObservedRain("none", [0.0], np.zeros((1, *grid.shape)), "empty window")
    if radar_feed:
        # never a frame after the forecast start: it would be the storm's future
        rows, variant = _radar_rows(session, radar_feed, start, end)
        rows = [r for r in rows if r.valid_time > start]
        if rows and rows[0].valid_time - start <= timedelta(minutes=10):
            frames = [service.load_frame(r, data_dir) for r in rows]
            times: list[float] = []
            fields: list[F64] = []
            prev = start
            for fr in frames:
                # a frame's rate holds over the interval that ends at its valid time
                t0 = max((prev - start).total_seconds(), 0.0)
                if t0 >= span:
                    break
                times.append(t0)
                g = reproject_array(
                    fr.rate_mm_h, src_crs=fr.crs, src_transform=fr.transform,
                    crs=grid.crs, transform=grid.transform, shape=grid.shape,
                )  # fmt: skip
                fields.append(np.maximum(np.nan_to_num(g.astype(np.float64)), 0.0))
                prev = fr.time
            if rows[-1].valid_time < end:
                times.append((rows[-1].valid_time - start).total_seconds())
                fields.append(np.zeros(grid.shape))  # no frame after the last: no rain claimed
            src = "adjusted_radar" if variant == "adjusted" else "radar"
            return ObservedRain(src, times, np.stack(fields), f"{len(frames)} {variant} frame(s)")
    n = max(1, int(np.ceil(span / gauge_step_s - 1e-9)))
    times, fields = [], []
    used = 0
    for k in range(n):
        t1 = start + timedelta(seconds=min((k + 1) * gauge_step_s, span))
        step = (t1 - (start + timedelta(seconds=k * gauge_step_s))).total_seconds()
        gauges = service.gauge_rain(session=session, end=t1, interval_s=step)
        times.append(k * gauge_step_s)
        if gauges:
            used = max(used, len(gauges))
            fields.append(idw_gauges(gauges, grid))
        else:
            fields.append(np.zeros(grid.shape))
    if used == 0:
        return ObservedRain("none", [0.0], np.zeros((1, *grid.shape)), "no gauge reported")
    return ObservedRain("gauges", times, np.stack(fields), f"IDW of up to {used} gauge(s)")
