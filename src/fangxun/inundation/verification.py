"""Verification cases: exact solutions, their set-ups on the model, and the errors measured.

One place for the cases that both ``tests/inundation/test_verification.py`` and
``benchmarks/validation.py`` run, so that the report and the tests measure the same thing.

Exact solutions (all SI):

* moving wet–dry front over a flat frictional bed (Hunter et al. 2005; Bates et al. 2010, test 1);
* Thacker (1981) planar surface oscillating in a parabola (1-D) and in a paraboloid (2-D), and the
  radially symmetric paraboloid — the formulas of SWASHES (Delestre et al. 2013), cross-checked
  against the ``swashes`` executable when it runs here (:func:`swashes_solution`);
* Ritter's dam break on a dry frictionless bed (also in SWASHES);
* rain on a tilted plane: the kinematic-wave outflow, rising as α(i·t)^m until the equilibrium
  time and then i·L (Woolhiser & Liggett 1967; Manning, α = √S/n, m = 5/3).

The local inertial equations drop advection, so they are exact for none of the transcritical
cases; the tolerances in :data:`TOLERANCES` say what we hold the model to and the report prints the
errors themselves.

>>> round(float(ritter_depth(5.0, 6.0)), 6)  # depth at the dam after its break: 4/9 of 5 mm
0.002222
>>> result = case_closed_box_rain(Settings(backend="numpy"))
>>> result.passed, result.metrics["mass_error_rel"] < 1e-9
(True, True)
"""

from __future__ import annotations

import math
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from fangxun.inundation.drainage import PointInflow
from fangxun.inundation.grid import Grid
from fangxun.inundation.rain import Hyetograph

if TYPE_CHECKING:
    from fangxun.inundation.model import Model

FloatArray = npt.NDArray[np.float64]
GRAVITY = 9.81
#: Manning's n (s/m^(1/3)) standing in for "no friction": the model needs n > 0, and at this
#: value the friction term is below round-off for every depth the cases reach.
FRICTIONLESS_N = 1e-6

__all__ = [
    "TOLERANCES",
    "CaseResult",
    "Settings",
    "depression_terrain",
    "hunter_front_depth",
    "kinematic_plane_outflow",
    "ritter_depth",
    "run_all",
    "swashes_solution",
    "thacker_1d_planar",
    "thacker_2d_planar",
    "thacker_2d_radial",
]


# ---------------------------------------------------------------------------------------------
# Exact solutions
# ---------------------------------------------------------------------------------------------


def hunter_front_depth(x: npt.ArrayLike, t: float, u: float = 1.0, n: float = 0.01) -> FloatArray:
    """Depth (m) of the wet–dry front moving at constant speed ``u`` (m/s) over a flat bed.

    ``h(x, t) = [7/3 · n² u² (u t − x)]^(3/7)`` behind the front ``x = u t`` and 0 ahead of it
    (Hunter et al. 2005; Bates et al. 2010, eq. 13), for Manning's ``n`` (s/m^(1/3)).
    """
    xa = np.asarray(x, dtype=np.float64)
    behind = np.maximum(u * t - xa, 0.0)
    return np.asarray((7.0 / 3.0 * n * n * u * u * behind) ** (3.0 / 7.0), dtype=np.float64)


def hunter_inflow_volume(t: float, u: float = 1.0, n: float = 0.01) -> float:
    """Volume per unit width (m²) that entered at x = 0 by time ``t`` (s): ∫ u·h(0, t) dt."""
    c = u * (7.0 / 3.0 * n * n * u**3) ** (3.0 / 7.0)
    return float(c * 0.7 * t ** (10.0 / 7.0))


def thacker_1d_planar(
    x: npt.ArrayLike,
    t: float,
    length: float = 4.0,
    a: float = 1.0,
    h0: float = 0.5,
    amplitude: float | None = None,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Thacker's planar surface in a parabola (SWASHES 1-D, type 4, domain 1, choice 1).

    Bed ``z = h0((x − L/2)²/a² − 1)``; ``h = −h0[((x − L/2)/a + B cos(ωt)/√(2gh0))² − 1]`` where
    positive, ``u = B sin(ωt)``, with ``ω = √(2gh0)/a``. ``B`` (m/s, ``amplitude``) is free;
    SWASHES uses ``B = √(2gh0)/(2a)``, the default. Returns (z, h, u) in m, m and m/s.
    """
    xa = np.asarray(x, dtype=np.float64)
    s = math.sqrt(2.0 * GRAVITY * h0)
    omega = s / a
    b = s / (2.0 * a) if amplitude is None else amplitude
    xi = (xa - length / 2.0) / a
    z = h0 * (xi * xi - 1.0)
    h = np.maximum(-h0 * ((xi + b * math.cos(omega * t) / s) ** 2 - 1.0), 0.0)
    u = np.where(h > 0.0, b * math.sin(omega * t), 0.0)
    return z, h, u


def thacker_2d_planar(
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    t: float,
    length: float = 4.0,
    a: float = 1.0,
    h0: float = 0.1,
    eta: float = 0.5,
    rotating: bool = True,
) -> tuple[FloatArray, FloatArray]:
    """Thacker's planar surface in a paraboloid (SWASHES 2-D, type 1, choice 2).

    Bed ``z = h0(r²/a² − 1)`` about the domain centre; with ``rotating`` (SWASHES) the free
    surface is the plane ``η h0/a² (2x' cos ωt + 2y' sin ωt − η)``, ``ω = √(2gh0)/a``, and the
    velocity ``(−ηω sin ωt, ηω cos ωt)``. Without it the plane rocks about the y axis,
    ``η h0/a² (2x' cos ωt − η cos² ωt)`` with velocity ``(−ηω sin ωt, 0)``: the member of the same
    family that starts from rest (the model takes no initial velocity). Returns (z, h) in m.
    """
    xa, ya = np.broadcast_arrays(np.asarray(x, np.float64), np.asarray(y, np.float64))
    xp, yp = xa - length / 2.0, ya - length / 2.0
    omega = math.sqrt(2.0 * GRAVITY * h0) / a
    z = h0 * ((xp * xp + yp * yp) / (a * a) - 1.0)
    c, s = math.cos(omega * t), math.sin(omega * t)
    if rotating:
        surface = eta * h0 / (a * a) * (2.0 * xp * c + 2.0 * yp * s - eta)
    else:
        surface = eta * h0 / (a * a) * (2.0 * xp * c - eta * c * c)
    return z, np.maximum(surface - z, 0.0)


def thacker_2d_radial(
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    t: float,
    length: float = 4.0,
    a: float = 1.0,
    h0: float = 0.1,
    r0: float = 0.8,
) -> tuple[FloatArray, FloatArray]:
    """Thacker's radially symmetric oscillation in a paraboloid (SWASHES 2-D, type 1, choice 1).

    ``h = h0[√(1−A²)/(1 − A cos ωt) − 1 − r²/a² ((1−A²)/(1 − A cos ωt)² − 1)] − z`` where
    positive, with ``A = (a² − r0²)/(a² + r0²)``, ``ω = √(8gh0)/a`` and the same bed as the planar
    case. Returns (z, h) in m.
    """
    xa, ya = np.broadcast_arrays(np.asarray(x, np.float64), np.asarray(y, np.float64))
    r2 = (xa - length / 2.0) ** 2 + (ya - length / 2.0) ** 2
    big_a = (a * a - r0 * r0) / (a * a + r0 * r0)
    omega = math.sqrt(8.0 * GRAVITY * h0) / a
    c = 1.0 - big_a * math.cos(omega * t)
    z = h0 * (r2 / (a * a) - 1.0)
    surface = h0 * (
        math.sqrt(1.0 - big_a * big_a) / c
        - 1.0
        - r2 / (a * a) * ((1.0 - big_a * big_a) / c**2 - 1.0)
    )
    return z, np.maximum(surface - z, 0.0)


def ritter_depth(x: npt.ArrayLike, t: float, h_left: float = 0.005, x0: float = 5.0) -> FloatArray:
    """Ritter's dam break on a dry frictionless bed (SWASHES 1-D, type 3, domain 1, choice 2).

    Depth (m) at ``x`` (m) and ``t`` (s) > 0 after a dam at ``x0`` holding ``h_left`` (m) vanishes.
    """
    xa = np.asarray(x, dtype=np.float64)
    c0 = math.sqrt(GRAVITY * h_left)
    x_a, x_b = x0 - c0 * t, x0 + 2.0 * c0 * t
    fan = 4.0 / (9.0 * GRAVITY) * (c0 - (xa - x0) / (2.0 * t)) ** 2
    return np.asarray(np.where(xa <= x_a, h_left, np.where(xa <= x_b, fan, 0.0)), np.float64)


def kinematic_plane_outflow(
    t: npt.ArrayLike, rain_m_s: float, length: float, slope: float, manning: float
) -> FloatArray:
    """Kinematic-wave outflow per unit width (m²/s) at the foot of a plane under steady rain.

    ``q = α (i t)^m`` until the equilibrium time ``t_e = (L / (α i^(m−1)))^(1/m)``, then ``i L``;
    α = √S/n, m = 5/3 (Manning). Times ``t`` in s from the start of the rain.
    """
    ta = np.asarray(t, dtype=np.float64)
    alpha, m = math.sqrt(slope) / manning, 5.0 / 3.0
    rising = alpha * (rain_m_s * np.maximum(ta, 0.0)) ** m
    return np.asarray(np.minimum(rising, rain_m_s * length), np.float64)


def kinematic_time_to_fraction(
    fraction: float, rain_m_s: float, length: float, slope: float, manning: float
) -> float:
    """Time (s) at which the kinematic outflow reaches ``fraction`` of the equilibrium i·L."""
    alpha, m = math.sqrt(slope) / manning, 5.0 / 3.0
    return float((fraction * rain_m_s * length / alpha) ** (1.0 / m) / rain_m_s)


# ---------------------------------------------------------------------------------------------
# Synthetic urban-like terrain
# ---------------------------------------------------------------------------------------------


def depression_terrain(
    shape: tuple[int, int],
    cell_size: float = 10.0,
    slope: float = 0.002,
    depressions_per_km2: float = 4.0,
    depth_range_m: tuple[float, float] = (0.3, 1.0),
    radius_range_m: tuple[float, float] = (20.0, 80.0),
    seed: int = 0,
) -> FloatArray:
    """A gentle slope (falling to the south-east) with bowl-shaped depressions (m).

    Each depression is a smooth bowl ``d·(1 − (r/R)²)²`` with depth ``d`` drawn from
    ``depth_range_m`` and radius ``R`` from ``radius_range_m``; where bowls overlap the deeper one
    wins. Elevations start at 100 m. Deterministic for a seed; used by the example run file and
    the Landlab comparison.
    """
    ny, nx = shape
    if ny < 1 or nx < 1 or cell_size <= 0.0:
        raise ValueError(f"bad terrain shape {shape} or cell size {cell_size}")
    rng = np.random.default_rng(seed)
    rows = np.arange(ny, dtype=np.float64)[:, None] * cell_size
    cols = np.arange(nx, dtype=np.float64)[None, :] * cell_size
    # Slope down towards increasing row and column (south-east), plus a mild long undulation.
    z = 100.0 - slope * (rows + cols) / math.sqrt(2.0)
    z = z + 0.2 * np.sin(cols / 700.0) * np.cos(rows / 900.0)
    dig = np.zeros(shape)
    area_km2 = ny * nx * cell_size * cell_size / 1e6
    n_dep = max(1, round(depressions_per_km2 * area_km2))
    for _ in range(n_dep):
        cy, cx = rng.uniform(0, ny * cell_size), rng.uniform(0, nx * cell_size)
        big_r = rng.uniform(*radius_range_m)
        d = rng.uniform(*depth_range_m)
        r0, r1 = max(0, int((cy - big_r) / cell_size)), min(ny, int((cy + big_r) / cell_size) + 2)
        c0, c1 = max(0, int((cx - big_r) / cell_size)), min(nx, int((cx + big_r) / cell_size) + 2)
        if r0 >= r1 or c0 >= c1:
            continue
        rr = (rows[r0:r1] + 0.5 * cell_size - cy) ** 2 + (
            cols[:, c0:c1] + 0.5 * cell_size - cx
        ) ** 2
        bowl = d * np.clip(1.0 - rr / (big_r * big_r), 0.0, None) ** 2
        dig[r0:r1, c0:c1] = np.maximum(dig[r0:r1, c0:c1], bowl)
    return np.asarray(z - dig, dtype=np.float64)


# ---------------------------------------------------------------------------------------------
# SWASHES
# ---------------------------------------------------------------------------------------------


def swashes_solution(*args: int) -> dict[str, Any] | None:
    """Run the SWASHES executable (``python -m swashes ARGS``) and parse its table.

    Returns ``{"time_s": t, "columns": [...], "data": (rows, cols) array}`` or ``None`` when the
    program is not installed or fails here (the callers then rely on the formulas above alone).
    """
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "swashes", *[str(a) for a in args]],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if proc.returncode != 0:
        return None
    t_value = math.nan
    columns: list[str] = []
    rows: list[list[float]] = []
    for line in proc.stdout.splitlines():
        s = line.strip()
        if s.startswith("# Time value:"):
            t_value = float(s.split(":")[1].split()[0])
        elif s.startswith("#(i-0.5)"):
            columns = s.lstrip("#").split()
        elif s and not s.startswith("#"):
            try:
                rows.append([float(v) for v in s.split()])
            except ValueError:
                continue
    if not rows or not columns or math.isnan(t_value):
        return None
    return {"time_s": t_value, "columns": columns, "data": np.array(rows, dtype=np.float64)}


# ---------------------------------------------------------------------------------------------
# Cases
# ---------------------------------------------------------------------------------------------

#: Largest accepted value of each error metric, per case. The SWASHES set-ups of Thacker and Ritter
#: run at Froude numbers near and above 1, where the local inertial equations (no advection term)
#: are known to deviate; their tolerances bound that deviation, and the low-Froude variants of the
#: same exact solutions hold the model to tight limits where its equations apply.
TOLERANCES: dict[str, dict[str, float]] = {
    "lake_at_rest": {"max_abs_discharge_m2_s": 1e-12, "max_abs_level_change_m": 1e-12},
    "lake_at_rest_f32": {"max_abs_discharge_m2_s": 1e-6, "max_abs_level_change_m": 1e-6},
    "closed_box_rain": {"mass_error_rel": 1e-9, "storage_vs_rain_rel": 1e-9},
    "closed_box_rain_f32": {"mass_error_rel": 1e-5, "storage_vs_rain_rel": 1e-5},
    "backends_agree": {"max_abs_depth_diff_m": 1e-9},
    # numpy is exactly symmetric; numba's fused multiply-adds are not, by round-off.
    "mirror_symmetry": {"max_abs_asymmetry_m": 1e-6},
    # The exact solution neglects inertia (diffusive wave); at u = 1 m/s the local acceleration
    # u·∂h/∂t is ~25 % of friction 500 m behind the front, so the model's front lags by a few
    # per cent at every resolution (10 m and 25 m give the same errors).
    "hunter_front": {
        "rmse_depth_m": 0.06,
        "front_position_error_rel": 0.06,
        "mass_error_rel": 1e-9,
    },
    "thacker_1d_planar": {"rmse_depth_m": 0.2, "max_abs_depth_error_m": 0.35},
    "thacker_1d_planar_low_froude": {"rmse_depth_m": 0.01, "max_abs_depth_error_m": 0.04},
    "thacker_2d_planar": {"rmse_depth_m": 0.035, "max_abs_depth_error_m": 0.08},
    "thacker_2d_planar_low_froude": {"rmse_depth_m": 0.006, "max_abs_depth_error_m": 0.025},
    "thacker_2d_radial": {"rmse_depth_m": 0.012, "max_abs_depth_error_m": 0.04},
    "thacker_2d_radial_low_froude": {"rmse_depth_m": 0.002, "max_abs_depth_error_m": 0.007},
    "ritter_dam_break": {"l1_depth_rel": 0.15, "front_position_error_m": 1.2},
    "tilted_plane": {
        "equilibrium_outflow_rel": 0.01,
        "t50_rel": 0.05,
        "t90_rel": 0.05,
        "outflow_rmse_rel": 0.05,
        "equilibrium_depth_rmse_rel": 0.05,
        "mass_error_rel": 1e-9,
    },
}


@dataclass
class CaseResult:
    """Errors of one verification case, with the tolerances they are held to."""

    name: str
    description: str
    reference: str
    metrics: dict[str, float]
    tolerances: dict[str, float]
    settings: dict[str, Any] = field(default_factory=dict)
    wall_s: float = 0.0

    @property
    def failures(self) -> list[str]:
        """Metrics above their tolerance (or NaN), as 'name = value > tol'."""
        out = []
        for key, tol in self.tolerances.items():
            value = self.metrics.get(key, math.nan)
            if not (value <= tol):
                out.append(f"{key} = {value:.4g} > {tol:.4g}")
        return out

    @property
    def passed(self) -> bool:
        """True when every metric is within its tolerance."""
        return not self.failures

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "name": self.name,
            "description": self.description,
            "reference": self.reference,
            "metrics": self.metrics,
            "tolerances": self.tolerances,
            "settings": self.settings,
            "passed": self.passed,
            "failures": self.failures,
            "wall_s": self.wall_s,
        }


@dataclass(frozen=True)
class Settings:
    """Model settings a case runs with (the model's defaults unless a caller overrides them)."""

    backend: str = "numba"
    dtype: str = "float64"
    alpha: float | None = None
    theta: float | None = None

    def kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``Model``: only what is set, so the model's defaults apply."""
        out: dict[str, Any] = {"backend": self.backend, "dtype": self.dtype}
        if self.alpha is not None:
            out["alpha"] = self.alpha
        if self.theta is not None:
            out["theta"] = self.theta
        return out

    def describe(self) -> dict[str, Any]:
        """Settings for the report (``default`` where the model's default applies)."""
        return {
            "backend": self.backend,
            "dtype": self.dtype,
            "alpha": "default" if self.alpha is None else self.alpha,
            "theta": "default" if self.theta is None else self.theta,
        }


def _model(grid: Grid, settings: Settings, **kwargs: Any) -> Model:
    from fangxun.inundation.model import Model

    return Model(grid, **settings.kwargs(), **kwargs)


def _mass_error_rel(model: Model, scale_m3: float) -> float:
    mb = model.mass_balance()
    return abs(float(mb["error"])) / scale_m3


def _bumps(shape: tuple[int, int], seed: int, height: float = 1.5) -> FloatArray:
    """A smooth random terrain of Gaussian bumps (m), deterministic for a seed."""
    rng = np.random.default_rng(seed)
    ny, nx = shape
    yy, xx = np.mgrid[0:ny, 0:nx].astype(np.float64)
    z = np.zeros(shape)
    for _ in range(8):
        cy, cx = rng.uniform(0, ny), rng.uniform(0, nx)
        r = rng.uniform(2.0, 6.0)
        z += rng.uniform(0.2, height) * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * r * r))
    return z


def case_lake_at_rest(settings: Settings = Settings(), name: str = "lake_at_rest") -> CaseResult:
    """A lake at level 1.0 m over bumps, some of them emerged: nothing may move (closed box)."""
    z = _bumps((40, 50), seed=7, height=1.6)
    h0 = np.maximum(1.0 - z, 0.0)
    grid = Grid(z, 2.0)
    start = time.perf_counter()
    model = _model(grid, settings, initial_depth=h0, output_interval_s=600.0)
    model.run_until(600.0)
    wall = time.perf_counter() - start
    eta0 = np.where(h0 > 0.0, z + h0, np.nan)
    eta = np.where(h0 > 0.0, z + model.depth, np.nan)
    q = max(float(np.max(np.abs(model.qx_faces))), float(np.max(np.abs(model.qy_faces))))
    return CaseResult(
        name=name,
        description="Lake at rest over emerged and submerged bumps, 600 s",
        reference="exact (still water)",
        metrics={
            "max_abs_discharge_m2_s": q,
            "max_abs_level_change_m": float(np.nanmax(np.abs(eta - eta0))),
        },
        tolerances=TOLERANCES[name],
        settings=settings.describe(),
        wall_s=wall,
    )


def case_closed_box_rain(
    settings: Settings = Settings(), name: str = "closed_box_rain"
) -> CaseResult:
    """A closed box of bumpy terrain under a varying storm holds exactly the rain."""
    z = _bumps((40, 50), seed=3)
    grid = Grid(z, 5.0)
    rain = Hyetograph([0.0, 600.0, 1200.0, 1500.0], [30.0, 120.0, 10.0, 0.0])
    start = time.perf_counter()
    model = _model(grid, settings, rain=rain, output_interval_s=300.0)
    model.run_until(2400.0)
    wall = time.perf_counter() - start
    rain_volume = rain.depth_m(0.0, 2400.0) * grid.cell_area_m2 * grid.n_active
    mb = model.mass_balance()
    storage = float(np.sum(model.depth)) * grid.cell_area_m2
    return CaseResult(
        name=name,
        description="Closed box of bumps under a 25-min storm of 10–120 mm/h",
        reference="exact (volume of rain)",
        metrics={
            "mass_error_rel": abs(float(mb["error"])) / rain_volume,
            "storage_vs_rain_rel": abs(storage - rain_volume) / rain_volume,
            "rain_bookkept_vs_exact_rel": abs(float(mb["rain"]) - rain_volume) / rain_volume,
        },
        tolerances=TOLERANCES[name],
        settings=settings.describe(),
        wall_s=wall,
    )


def case_backends_agree(settings: Settings = Settings()) -> CaseResult:
    """``numba`` and ``numpy`` give the same depths (float64) on a random terrain with rain."""
    z = _bumps((30, 40), seed=11)
    grid = Grid(z, 5.0)
    rain = Hyetograph([0.0, 900.0], [80.0, 0.0])
    depths = []
    start = time.perf_counter()
    for backend in ("numpy", "numba"):
        s = Settings(backend=backend, dtype="float64", alpha=settings.alpha, theta=settings.theta)
        model = _model(grid, s, rain=rain, boundary={"east": "open"}, output_interval_s=300.0)
        model.run_until(1800.0)
        depths.append(model.depth)
    wall = time.perf_counter() - start
    return CaseResult(
        name="backends_agree",
        description="numba vs numpy backend, random bumps, 80 mm/h for 15 min, open east edge",
        reference="the numpy reference backend",
        metrics={"max_abs_depth_diff_m": float(np.max(np.abs(depths[0] - depths[1])))},
        tolerances=TOLERANCES["backends_agree"],
        settings={**settings.describe(), "backend": "numba vs numpy", "dtype": "float64"},
        wall_s=wall,
    )


def case_mirror_symmetry(settings: Settings = Settings()) -> CaseResult:
    """Terrain symmetric east–west gives a depth field symmetric east–west."""
    half = _bumps((30, 20), seed=5)
    z = np.hstack([half, half[:, ::-1]])
    grid = Grid(z, 5.0)
    start = time.perf_counter()
    model = _model(
        grid,
        settings,
        rain=Hyetograph([0.0, 600.0], [100.0, 0.0]),
        boundary={"north": "open", "south": "open"},
        output_interval_s=300.0,
    )
    model.run_until(1200.0)
    wall = time.perf_counter() - start
    h = model.depth
    return CaseResult(
        name="mirror_symmetry",
        description="East–west mirror-symmetric bumps under 100 mm/h, open north/south edges",
        reference="symmetry",
        metrics={"max_abs_asymmetry_m": float(np.max(np.abs(h - h[:, ::-1])))},
        tolerances=TOLERANCES["mirror_symmetry"],
        settings=settings.describe(),
        wall_s=wall,
    )


def case_hunter_front(settings: Settings = Settings(), dx: float = 25.0) -> CaseResult:
    """Bates et al. (2010) test 1: a front at u = 1 m/s over a flat bed with n = 0.01, 1 h.

    A 1-D strip (one row of ``dx`` cells, 5 km) is fed at its west end with the exact inflow
    u·h(0, t), as a point hydrograph whose 10 s steps carry the exact volume of each interval.
    The depth error is taken away from the inflow cell; the front is where the depth crosses
    5 cm (linear interpolation between cell centres).
    """
    u, n, length, t_end = 1.0, 0.01, 5000.0, 3600.0
    nx = round(length / dx)
    grid = Grid(np.zeros((1, nx)), dx)
    step = 10.0
    times = np.arange(0.0, t_end + step, step)
    vols = np.diff([hunter_inflow_volume(t, u, n) for t in times]) * dx  # m³ per interval
    inflow = PointInflow(0, 0, times[:-1].tolist(), (vols / step).tolist())
    start = time.perf_counter()
    model = _model(grid, settings, manning=n, inflows=[inflow], output_interval_s=600.0)
    model.run_until(t_end)
    wall = time.perf_counter() - start
    x = (np.arange(nx) + 0.5) * dx
    exact = hunter_front_depth(x, t_end, u, n)
    h = np.asarray(model.depth, dtype=np.float64)[0]
    wet = exact > 0.0
    wet[0] = False  # the inflow cell
    rmse = float(np.sqrt(np.mean((h[wet] - exact[wet]) ** 2)))
    thr = 0.05
    exact_front = u * t_end - thr ** (7.0 / 3.0) / (7.0 / 3.0 * n * n * u * u)
    model_front = _crossing(x, h, thr)
    volume = hunter_inflow_volume(t_end, u, n) * dx
    return CaseResult(
        name="hunter_front",
        description="Moving wet–dry front over a flat bed, u = 1 m/s, n = 0.01, dx = 25 m, 1 h",
        reference="analytical (Hunter et al. 2005; Bates et al. 2010)",
        metrics={
            "rmse_depth_m": rmse,
            "depth_at_500m_model_m": float(np.interp(500.0, x, h)),
            "depth_at_500m_exact_m": float(hunter_front_depth(500.0, t_end, u, n)),
            "front_position_error_m": float(abs(model_front - exact_front)),
            "front_position_error_rel": float(abs(model_front - exact_front) / (u * t_end)),
            "mass_error_rel": _mass_error_rel(model, volume),
        },
        tolerances=TOLERANCES["hunter_front"],
        settings={**settings.describe(), "dx_m": dx, "t_end_s": t_end},
        wall_s=wall,
    )


def _crossing(x: npt.NDArray[np.floating[Any]], h: FloatArray, thr: float) -> float:
    """The x (m) where ``h`` last falls below ``thr``, interpolated between cell centres."""
    above = np.flatnonzero(h >= thr)
    if not above.size:
        return float(x[0])
    k = int(above[-1])
    if k + 1 >= x.size:
        return float(x[-1])
    f = (h[k] - thr) / (h[k] - h[k + 1])
    return float(x[k] + f * (x[k + 1] - x[k]))


def _oscillation_case(
    name: str,
    description: str,
    exact: Callable[[FloatArray, FloatArray, float], tuple[FloatArray, FloatArray]],
    shape: tuple[int, int],
    dx: float,
    times: list[float],
    settings: Settings,
    reference: str,
) -> CaseResult:
    """Run a frictionless closed-basin oscillation from its exact state at t = 0."""
    ny, nx = shape
    xc = (np.arange(nx) + 0.5) * dx
    # Row 0 is north: y grows northwards, so row r sits at y = (ny − r − 0.5)·dx.
    yc = (ny - np.arange(ny) - 0.5) * dx
    xx, yy = np.meshgrid(xc, yc)
    z, h0 = exact(xx, yy, 0.0)
    grid = Grid(z, dx)
    start = time.perf_counter()
    model = _model(
        grid,
        settings,
        manning=FRICTIONLESS_N,
        initial_depth=h0,
        wet_threshold_m=1e-5,
        output_interval_s=times[-1],
    )
    rmse, max_err = [], []
    for t in times:
        model.run_until(t)
        _, h_exact = exact(xx, yy, t)
        h = np.asarray(model.depth, dtype=np.float64)
        wet = (h_exact > 0.0) | (h > 1e-4)
        err = h[wet] - h_exact[wet]
        rmse.append(float(np.sqrt(np.mean(err * err))))
        max_err.append(float(np.max(np.abs(err))))
    wall = time.perf_counter() - start
    return CaseResult(
        name=name,
        description=description,
        reference=reference,
        metrics={
            "rmse_depth_m": max(rmse),
            "max_abs_depth_error_m": max(max_err),
            **{f"rmse_at_{t:.3g}s_m": r for t, r in zip(times, rmse, strict=True)},
        },
        tolerances=TOLERANCES[name],
        settings={**settings.describe(), "dx_m": dx, "shape": list(shape)},
        wall_s=wall,
    )


def _swashes_reference(ok: bool) -> str:
    if ok:
        return "analytical (SWASHES formulas, matching the SWASHES 1.05 program)"
    return "analytical (SWASHES formulas; the SWASHES program did not run here)"


def swashes_agreement() -> dict[str, float]:
    """Largest |h| difference (m) between our formulas and the SWASHES program, per case.

    SWASHES prints 7 significant digits, so agreement means differences near 1e-7 m. Empty when
    the program cannot run here.
    """
    out: dict[str, float] = {}
    sol = swashes_solution(1, 4, 1, 1, 200)
    if sol is not None:
        d = sol["data"]
        _, h, _ = thacker_1d_planar(d[:, 0], sol["time_s"])
        out["thacker_1d_planar"] = float(np.max(np.abs(h - d[:, 1])))
    cases_2d: tuple[tuple[int, str, Callable[..., tuple[FloatArray, FloatArray]]], ...] = (
        (2, "thacker_2d_planar", thacker_2d_planar),
        (1, "thacker_2d_radial", thacker_2d_radial),
    )
    for choice, key, fn in cases_2d:
        sol = swashes_solution(2, 1, 1, choice, 40, 40)
        if sol is not None:
            d = sol["data"]
            _, h = fn(d[:, 0], d[:, 1], sol["time_s"])
            out[key] = float(np.max(np.abs(h - d[:, 2])))
    sol = swashes_solution(1, 3, 1, 2, 200)
    if sol is not None:
        d = sol["data"]
        h = ritter_depth(d[:, 0], sol["time_s"])
        out["ritter_dam_break"] = float(np.max(np.abs(h - d[:, 1])))
    return out


def case_thacker_1d_planar(
    settings: Settings = Settings(),
    swashes_ok: bool = False,
    low_froude: bool = False,
    dx: float = 0.02,
) -> CaseResult:
    """Planar surface in a parabola on a one-row grid, 4 m long, over two periods.

    ``low_froude`` takes a tenth of the SWASHES amplitude (peak Froude number ≈ 0.07 at the
    centre instead of ≈ 0.7).
    """
    h0 = 0.5
    period = 2.0 * math.pi / math.sqrt(2.0 * GRAVITY * h0)
    amplitude = math.sqrt(2.0 * GRAVITY * h0) / 2.0 * (0.1 if low_froude else 1.0)

    def exact(xx: FloatArray, yy: FloatArray, t: float) -> tuple[FloatArray, FloatArray]:
        z, h, _ = thacker_1d_planar(xx, t, h0=h0, amplitude=amplitude)
        return z, h

    name = "thacker_1d_planar" + ("_low_froude" if low_froude else "")
    what = f"B = {amplitude:.3g} m/s" + (" (a tenth of SWASHES')" if low_froude else " (SWASHES)")
    return _oscillation_case(
        name,
        f"Thacker: planar surface in a parabola (1-D), h0 = 0.5 m, a = 1 m, {what}",
        exact,
        (1, round(4.0 / dx)),
        dx,
        [period * f for f in (0.25, 0.5, 0.75, 1.0, 2.0)],
        settings,
        _swashes_reference(swashes_ok),
    )


def case_thacker_2d_planar(
    settings: Settings = Settings(),
    swashes_ok: bool = False,
    low_froude: bool = False,
    dx: float = 0.04,
) -> CaseResult:
    """Planar surface rocking in a paraboloid, 4 m × 4 m, over two periods.

    SWASHES' version rotates and starts with a uniform velocity; the model takes no initial
    velocity, so the case runs the member of the same exact family that starts from rest, with
    SWASHES' bed and amplitude (the formulas themselves are checked against SWASHES in
    :func:`swashes_agreement`). ``low_froude`` uses η = 0.05 instead of SWASHES' 0.5.
    """
    period = 2.0 * math.pi / math.sqrt(2.0 * GRAVITY * 0.1)
    eta = 0.05 if low_froude else 0.5
    n = round(4.0 / dx)
    return _oscillation_case(
        "thacker_2d_planar" + ("_low_froude" if low_froude else ""),
        f"Thacker: planar surface rocking in a paraboloid (2-D), h0 = 0.1 m, η = {eta}",
        lambda x, y, t: thacker_2d_planar(x, y, t, eta=eta, rotating=False),
        (n, n),
        dx,
        [period * f for f in (0.25, 0.5, 1.0, 2.0)],
        settings,
        _swashes_reference(swashes_ok),
    )


def case_thacker_2d_radial(
    settings: Settings = Settings(),
    swashes_ok: bool = False,
    low_froude: bool = False,
    dx: float = 0.04,
) -> CaseResult:
    """Radially symmetric oscillation in a paraboloid, 4 m × 4 m, over two periods.

    ``low_froude`` uses r0 = 0.95 m (A ≈ 0.05) instead of SWASHES' 0.8 m (A ≈ 0.22).
    """
    period = 2.0 * math.pi / math.sqrt(8.0 * GRAVITY * 0.1)
    r0 = 0.95 if low_froude else 0.8
    n = round(4.0 / dx)
    return _oscillation_case(
        "thacker_2d_radial" + ("_low_froude" if low_froude else ""),
        f"Thacker: radially symmetric paraboloid (2-D), h0 = 0.1 m, r0 = {r0} m",
        lambda x, y, t: thacker_2d_radial(x, y, t, r0=r0),
        (n, n),
        dx,
        [period * f for f in (0.25, 0.5, 1.0, 2.0)],
        settings,
        _swashes_reference(swashes_ok),
    )


def case_ritter(
    settings: Settings = Settings(), swashes_ok: bool = False, dx: float = 0.025
) -> CaseResult:
    """Ritter's dam break, SWASHES set-up: 10 m, dam at 5 m, 5 mm upstream, t = 6 s."""
    h_left, x0, t_end = 0.005, 5.0, 6.0
    nx = round(10.0 / dx)
    x = (np.arange(nx) + 0.5) * dx
    h_init = np.where(x < x0, h_left, 0.0)[None, :]
    grid = Grid(np.zeros((1, nx)), dx)
    start = time.perf_counter()
    model = _model(
        grid,
        settings,
        manning=FRICTIONLESS_N,
        initial_depth=h_init,
        wet_threshold_m=1e-6,
        output_interval_s=t_end,
    )
    model.run_until(t_end)
    wall = time.perf_counter() - start
    h = np.asarray(model.depth, dtype=np.float64)[0]
    exact = ritter_depth(x, t_end, h_left, x0)
    thr = 0.05 * h_left
    return CaseResult(
        name="ritter_dam_break",
        description="Ritter: dam break on a dry frictionless bed, 5 mm upstream, t = 6 s",
        reference=_swashes_reference(swashes_ok),
        metrics={
            "l1_depth_rel": float(np.sum(np.abs(h - exact)) / np.sum(exact)),
            "max_abs_depth_error_m": float(np.max(np.abs(h - exact))),
            "front_position_error_m": abs(_crossing(x, h, thr) - _crossing(x, exact, thr)),
        },
        tolerances=TOLERANCES["ritter_dam_break"],
        settings={**settings.describe(), "dx_m": dx, "t_end_s": t_end},
        wall_s=wall,
    )


def case_tilted_plane(settings: Settings = Settings(), dx: float = 2.0) -> CaseResult:
    """Rain (50 mm/h) on a 200 m plane at slope 0.01 with n = 0.03, draining freely at its foot.

    The outflow through the open east edge, as a rate over each minute, is compared with the
    kinematic-wave solution (kinematic number ≈ 500, so the kinematic wave is close to the full
    equations): the equilibrium i·L over the last 10 min, the times to 50 % and 90 % of it, the
    RMS difference of the whole rising limb, and the equilibrium depth profile at the end.
    """
    length, slope, n, rain_mm_h, width_cells = 200.0, 0.01, 0.03, 50.0, 3
    rain_m_s = rain_mm_h / 3.6e6
    nx = round(length / dx)
    x = (np.arange(nx) + 0.5) * dx
    z = np.tile(slope * (length - x), (width_cells, 1))
    grid = Grid(z, dx)
    t_end, out_dt = 3600.0, 60.0
    start = time.perf_counter()
    model = _model(
        grid,
        settings,
        manning=n,
        rain=Hyetograph([0.0], [rain_mm_h]),
        boundary={"east": "open"},
        output_interval_s=out_dt,
    )
    model.run_until(t_end)
    wall = time.perf_counter() - start
    series = model.mass_balance_series()
    t = np.array([row["time_s"] for row in series])
    out = np.array([row["outflow"] for row in series])
    width = width_cells * dx
    q = np.diff(out) / np.diff(t) / width  # m²/s per unit width over each output interval
    tq = 0.5 * (t[1:] + t[:-1])
    q_eq = rain_m_s * length
    # The kinematic rate averaged over the same intervals (it has a kink at t_e).
    fine = np.linspace(0.0, t_end, 36001)
    q_kin_cum = np.concatenate(
        (
            [0.0],
            np.cumsum(
                np.diff(fine) * kinematic_plane_outflow(fine[1:], rain_m_s, length, slope, n)
            ),
        )
    )
    q_kin = np.diff(np.interp(t, fine, q_kin_cum)) / np.diff(t)
    last = tq > t_end - 600.0
    eq_rel = float(abs(np.mean(q[last]) - q_eq) / q_eq)

    def first_time(rate: FloatArray, frac: float) -> float:
        above = np.flatnonzero(rate >= frac * q_eq)
        if not above.size:
            return math.inf
        k = int(above[0])
        if k == 0:
            return float(tq[0])
        f = (frac * q_eq - rate[k - 1]) / (rate[k] - rate[k - 1])
        return float(tq[k - 1] + f * (tq[k] - tq[k - 1]))

    t50, t90 = first_time(q, 0.5), first_time(q, 0.9)
    # Equilibrium depth profile h(x) = (i·x·n/√S)^(3/5) on the middle row, away from the outlet
    # cells (where the free overfall draws the water down) and the top cell.
    h_kin = (rain_m_s * x * n / math.sqrt(slope)) ** 0.6
    h_mid = np.asarray(model.depth, dtype=np.float64)[width_cells // 2]
    span = slice(1, nx - 2)
    depth_rel = float(np.sqrt(np.mean((h_mid[span] - h_kin[span]) ** 2)) / h_kin[-1])
    k50, k90 = first_time(q_kin, 0.5), first_time(q_kin, 0.9)
    volume = rain_m_s * t_end * length * width
    rising = tq < 2.0 * kinematic_time_to_fraction(1.0, rain_m_s, length, slope, n)
    return CaseResult(
        name="tilted_plane",
        description="Rain 50 mm/h on a 200 m plane, S = 0.01, n = 0.03, free outflow, 1 h",
        reference="kinematic wave (Woolhiser & Liggett 1967)",
        metrics={
            "equilibrium_outflow_rel": eq_rel,
            "t50_model_s": t50,
            "t50_kinematic_s": k50,
            "t50_rel": abs(t50 - k50) / k50,
            "t90_model_s": t90,
            "t90_kinematic_s": k90,
            "t90_rel": abs(t90 - k90) / k90,
            "outflow_rmse_rel": float(np.sqrt(np.mean((q[rising] - q_kin[rising]) ** 2)) / q_eq),
            "outflow_max_over_equilibrium": float(np.max(q) / q_eq),
            "equilibrium_depth_rmse_rel": depth_rel,
            "t_equilibrium_kinematic_s": kinematic_time_to_fraction(
                1.0, rain_m_s, length, slope, n
            ),
            "mass_error_rel": _mass_error_rel(model, volume),
        },
        tolerances=TOLERANCES["tilted_plane"],
        settings={**settings.describe(), "dx_m": dx, "t_end_s": t_end, "output_interval_s": 60},
        wall_s=wall,
    )


def run_all(settings: Settings = Settings()) -> tuple[list[CaseResult], dict[str, float]]:
    """Run every case; returns the results and the formula-vs-SWASHES agreement (m).

    The float32 variants of the lake at rest and the closed box run with ``settings`` but in
    float32.
    """
    agreement = swashes_agreement()

    def ok(name: str) -> bool:
        return agreement.get(name, math.inf) < 1e-5

    f32 = Settings(settings.backend, "float32", settings.alpha, settings.theta)
    results = [
        case_lake_at_rest(settings),
        case_lake_at_rest(f32, name="lake_at_rest_f32"),
        case_closed_box_rain(settings),
        case_closed_box_rain(f32, name="closed_box_rain_f32"),
        case_backends_agree(settings),
        case_mirror_symmetry(settings),
        case_hunter_front(settings),
        case_thacker_1d_planar(settings, ok("thacker_1d_planar")),
        case_thacker_1d_planar(settings, ok("thacker_1d_planar"), low_froude=True),
        case_thacker_2d_planar(settings, ok("thacker_2d_planar")),
        case_thacker_2d_planar(settings, ok("thacker_2d_planar"), low_froude=True),
        case_thacker_2d_radial(settings, ok("thacker_2d_radial")),
        case_thacker_2d_radial(settings, ok("thacker_2d_radial"), low_froude=True),
        case_ritter(settings, ok("ritter_dam_break")),
        case_tilted_plane(settings),
    ]
    return results, agreement
