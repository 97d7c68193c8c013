"""Synthetic radar frames for the rain tests: a textured rain cell moving at a known speed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from affine import Affine
from pyproj import CRS

from fangxun.rain.grids import Frame

DATA = Path(__file__).resolve().parents[1] / "data" / "radar"
UTC = UTC
T0 = datetime(2026, 7, 20, 8, 0, tzinfo=UTC)
CELL = 1000.0
N = 96
TRANSFORM = Affine(CELL, 0.0, 500_000.0, 0.0, -CELL, 3_850_000.0)
CRS4547 = CRS.from_epsg(4547)


def blob_field(cx: float, cy: float, peak: float = 40.0) -> np.ndarray:
    """A rain cell (mm/h): Gaussian core of ``peak`` mm/h with a 1 mm/h shield, centre (cx, cy)
    in cells."""
    yy, xx = np.mgrid[0:N, 0:N]
    r2 = (xx - cx) ** 2 + (yy - cy) ** 2
    core = peak * np.exp(-r2 / (2 * 5.0**2))
    # texture so the optical flow has features to follow
    rng = np.random.default_rng(0)
    tex = 1.0 + 0.2 * rng.random((N, N))
    return np.asarray(
        np.where(core > 0.5, core * tex[(yy - int(cy)) % N, (xx - int(cx)) % N], 0.0), np.float32
    )


def moving_frames(n: int = 4, u: float = 2.0, v: float = 1.0) -> list[Frame]:
    """A cell moving ``u`` cells east and ``v`` cells south per 5-min frame."""
    return [
        Frame(
            time=T0 + timedelta(minutes=5 * k),
            rate_mm_h=blob_field(30 + u * k, 30 + v * k),
            crs=CRS4547,
            transform=TRANSFORM,
            source=f"synthetic-{k}",
        )
        for k in range(n)
    ]


def centroid(field: np.ndarray) -> tuple[float, float]:
    w = np.where(np.isfinite(field) & (field > 5.0), field, 0.0)
    yy, xx = np.mgrid[0 : field.shape[0], 0 : field.shape[1]]
    return float((w * xx).sum() / w.sum()), float((w * yy).sum() / w.sum())
