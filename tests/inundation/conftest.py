"""Shared helpers for the inundation core tests (small grids, so the suite stays fast)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt
import pytest

FloatArray = npt.NDArray[np.float64]


def bumpy_terrain(ny: int, nx: int, seed: int = 0, relief: float = 0.5) -> FloatArray:
    """Smooth random bumps plus a gentle eastward slope, metres."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:ny, 0:nx].astype(np.float64)
    z = 0.002 * x * 10.0
    for _ in range(max(1, ny * nx // 60)):
        cx, cy = rng.uniform(0, nx), rng.uniform(0, ny)
        r = rng.uniform(1.0, 4.0)
        z += rng.uniform(-relief, relief) * np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * r * r))
    return z


TerrainFactory = Callable[..., FloatArray]


@pytest.fixture
def make_terrain() -> TerrainFactory:
    """The :func:`bumpy_terrain` factory (test modules cannot import conftest)."""
    return bumpy_terrain
