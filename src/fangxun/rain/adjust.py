"""Radar frames adjusted to the district's rain gauges; the raw frame is kept beside.

* **Mean-field bias** (always): one factor F = Σ gauge / Σ radar over the gauges where both are
  valid and the radar sees rain (≥ ``min_rain_mm_h`` at the gauge's cell), clipped to
  [``min_factor``, ``max_factor``]; F = 1 when no pair qualifies.
* **Spatial** (with ``spatial_min_gauges`` or more pairs): wradlib's ``AdjustMultiply``
  (Goudenhoofdt & Delobbe 2009; the wradlib adjustment classes): multiplicative errors at the
  gauges (the median of the 9 radar cells around each), interpolated by inverse distance.

Gauges come in WGS 84 lon/lat and are projected into the frame's CRS with pyproj.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
from pyproj import Transformer

from fangxun.rain.grids import Frame


@dataclass(frozen=True)
class GaugeRain:
    """One gauge's rain over the frame's interval, as a rate (mm/h), at WGS 84 lon/lat."""

    code: str
    lon: float
    lat: float
    rate_mm_h: float


@dataclass(frozen=True)
class Adjusted:
    frame: Frame
    factor: float
    gauges_used: int
    method: str  # "mean_field_bias" | "wradlib_multiplicative" | "none"


def gauge_cells(frame: Frame, gauges: Sequence[GaugeRain]) -> list[tuple[GaugeRain, int, int]]:
    """(gauge, row, col) of the gauges that fall on the frame's grid."""
    if not gauges:
        return []
    tr = Transformer.from_crs("EPSG:4326", frame.crs, always_xy=True)
    xs, ys = tr.transform([g.lon for g in gauges], [g.lat for g in gauges])
    inv = ~frame.transform
    out = []
    ny, nx = frame.shape
    for g, x, y in zip(gauges, np.atleast_1d(xs), np.atleast_1d(ys), strict=True):
        c, r = inv * (float(x), float(y))
        row, col = int(np.floor(r)), int(np.floor(c))
        if 0 <= row < ny and 0 <= col < nx:
            out.append((g, row, col))
    return out


def adjust_frame(
    frame: Frame,
    gauges: Sequence[GaugeRain],
    *,
    min_rain_mm_h: float = 0.1,
    min_factor: float = 0.2,
    max_factor: float = 5.0,
    spatial_min_gauges: int = 5,
) -> Adjusted:
    """The frame adjusted to the gauges (see the module docstring); ``frame`` is not changed."""
    cells = gauge_cells(frame, gauges)
    raw = frame.rate_mm_h
    pairs = [
        (g.rate_mm_h, float(raw[r, c]), r, c)
        for g, r, c in cells
        if np.isfinite(g.rate_mm_h) and g.rate_mm_h >= 0 and np.isfinite(raw[r, c])
    ]
    wet = [(gv, rv) for gv, rv, _, _ in pairs if rv >= min_rain_mm_h]
    if not wet:
        return Adjusted(frame, 1.0, 0, "none")
    factor = float(np.clip(sum(g for g, _ in wet) / sum(r for _, r in wet), min_factor, max_factor))
    if len(pairs) >= spatial_min_gauges:
        adjusted = _wradlib_multiplicative(frame, pairs, spatial_min_gauges, min_rain_mm_h)
        if adjusted is not None:
            return Adjusted(
                replace(frame, rate_mm_h=adjusted), factor, len(pairs), "wradlib_multiplicative"
            )
    out = np.asarray(raw * factor, np.float32)
    return Adjusted(replace(frame, rate_mm_h=out), factor, len(wet), "mean_field_bias")


def _wradlib_multiplicative(
    frame: Frame,
    pairs: Sequence[tuple[float, float, int, int]],
    mingages: int,
    minval: float,
) -> np.ndarray | None:
    import wradlib as wrl

    xc = frame.x_centres()
    yc = frame.y_centres()
    xx, yy = np.meshgrid(xc, yc)
    raw_coords = np.column_stack([xx.ravel(), yy.ravel()])
    obs_coords = np.array([[xc[c], yc[r]] for _, _, r, c in pairs])
    obs = np.array([g for g, _, _, _ in pairs])
    raw = np.nan_to_num(frame.rate_mm_h.ravel().astype(np.float64))
    adjuster = wrl.adjust.AdjustMultiply(
        obs_coords, raw_coords, nnear_raws=9, stat="median", mingages=mingages, minval=minval
    )
    with np.errstate(divide="ignore", invalid="ignore"):  # IDW at a gauge's own cell
        out = np.asarray(adjuster(obs, raw), np.float64)
    if out.shape != raw.shape or not np.isfinite(out).any():
        return None
    out = np.where(np.isfinite(out), np.maximum(out, 0.0), 0.0).reshape(frame.shape)
    out[~np.isfinite(frame.rate_mm_h)] = np.nan
    return np.asarray(out, np.float32)
