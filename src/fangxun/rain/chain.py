"""The fallback chain of gridded rain for a forecast: blended nowcast → radar nowcast → QPF.

:func:`gridded_rain` tries each source in turn from the frame store and returns the first that
works as fields on the district grid (mm/h, one per radar interval from the forecast start), with
the reasons the sources before it were passed over (too old, too few frames, no QPF, an error).
``None`` as the choice means none of the gridded sources could be used; the forecast then falls
back to gauge persistence and then to no rain (:mod:`fangxun.forecast.rainsource`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import numpy.typing as npt
from affine import Affine
from pyproj import CRS
from sqlalchemy.orm import Session

from fangxun.errors import FangxunError
from fangxun.rain import service
from fangxun.rain.grids import Frame, check_sequence
from fangxun.rain.nowcast import Nowcast, blend, deterministic
from fangxun.rain.reproject import reproject_array

log = logging.getLogger(__name__)

#: The chain, best first (names recorded on the run).
CHAIN = ("blended_nowcast", "radar_nowcast", "qpf", "gauge_persistence", "none")


@dataclass(frozen=True)
class DistrictGrid:
    """The district model's grid: CRS, transform of the upper-left corner, (ny, nx)."""

    crs: CRS
    transform: Affine
    shape: tuple[int, int]


@dataclass
class GriddedChoice:
    """The chosen gridded source (or None), its fields and why others were passed over."""

    source: str | None
    #: Start of each field's validity, s after the forecast start (first 0).
    times_s: list[float] = field(default_factory=list)
    #: (nt, ny, nx) mm/h on the district grid.
    intensity_mm_h: npt.NDArray[np.float64] | None = None
    reasons: list[str] = field(default_factory=list)
    detail: str = ""


def _fresh_radar(
    session: Session, data_dir: Path, feed: str, issued_at: datetime, max_age: timedelta
) -> tuple[list[Frame] | None, str]:
    rows = service.list_frames(
        session=session, feed=feed, kind="QPE", start=issued_at - timedelta(hours=1), end=issued_at
    )
    if len(rows) < 3:
        return None, f"{len(rows)} radar frame(s) of feed {feed!r} in the last hour (3 needed)"
    age = issued_at - rows[-1].valid_time
    if age > max_age:
        return None, f"latest radar frame is {age} old (more than {max_age})"
    frames = [service.load_frame(r, data_dir) for r in rows[-4:]]
    frames, _ = check_sequence(frames)
    return frames, ""


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
) -> tuple[list[float], npt.NDArray[np.float64]]:
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
) -> GriddedChoice | None:
    """Run one nowcast of the chain and put it on the district grid; None (with the reason
    appended) when it fails or gives no lead after the forecast start."""
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
    return GriddedChoice(source, t, f, reasons, f"{nc.method} from {nc.issue_time:%H:%M}Z")


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
) -> GriddedChoice:
    """The best gridded rain for a forecast issued at ``issued_at`` (see the module docstring)."""
    reasons: list[str] = []
    radar, why_radar = _fresh_radar(session, data_dir, radar_feed, issued_at, max_radar_age)
    qpf, why_qpf = _qpf(session, data_dir, qpf_feed, issued_at, horizon_s)
    lead_min = min(horizon_s, nowcast_lead_s) / 60.0
    if radar is not None and qpf is not None:
        choice = _try_nowcast(
            "blended_nowcast", "blended nowcast", lambda: blend(radar, qpf, lead_min, 1),
            grid, issued_at, reasons,
        )  # fmt: skip
        if choice is not None:
            return choice
    else:
        reasons.append(f"blended nowcast: {why_radar or why_qpf}")
    if radar is not None:
        choice = _try_nowcast(
            "radar_nowcast", "radar nowcast", lambda: deterministic(radar, lead_min),
            grid, issued_at, reasons,
        )  # fmt: skip
        if choice is not None:
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
            return GriddedChoice("qpf", t, f, reasons, f"QPF issued {ordered[0].issue_time}")
        reasons.append("qpf: no field after the forecast start")
    else:
        reasons.append(f"qpf: {why_qpf}")
    return GriddedChoice(None, reasons=reasons)
