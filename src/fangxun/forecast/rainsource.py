"""Rain for a forecast: a design storm, an uploaded series, or a nowcast from the gauges.

* **Design storm**: the Chicago hyetograph (Keifer & Chu 1957) of the configured storm intensity
  formula for a return period P and duration T, in blocks of ``step_s`` (the core's
  :func:`~fangxun.inundation.rain.chicago_hyetograph`).
* **Series**: intensities (mm/h) in consecutive blocks of ``step_s`` from the forecast start,
  e.g. a radar or NWP product uploaded through the API or a CSV file.
* **The chain** (:func:`choose_rain`): blended radar nowcast → radar nowcast → QPF (gridded,
  from the rain frame store, :mod:`fangxun.rain.chain`) → gauge persistence (below) → none; the
  choice records the source, the age of its data and why the better ones were passed over. A
  gridded source gives the rain *field* on the district model grid (the model runs on it, not
  on its district mean), and with an ensemble forecast the nowcast's own members (STEPS): member
  k of the forecast runs on member k − 1 of the nowcast ensemble, member 0 on the deterministic
  nowcast. The scheduled forecast takes the same path.
* **Nowcast** (when no rain is given): persistence with exponential decay. The mean intensity of
  every rain gauge over the last ``window_s`` (their arithmetic mean, mm/h) is taken as the rate
  at the forecast start, and decays as ``i(t) = i0 · exp(−t/τ)`` (τ = ``decay_s``), evaluated
  exactly per block: block k holds ``i0 · τ · (e^{−t_k/τ} − e^{−t_{k+1}/τ})``. No gauge data (or
  no rain) gives a dry forecast, which still propagates a warm start.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
from sqlalchemy import select
from sqlalchemy.orm import Session

from fangxun.config import Settings

if TYPE_CHECKING:
    from fangxun.rain.chain import DistrictGrid
from rainkit import GriddedRain, Hyetograph, StormFormula, chicago_hyetograph


def design_storm(
    formula: StormFormula,
    *,
    return_period_years: float,
    duration_s: float,
    step_s: float = 300.0,
    peak_ratio: float = 0.4,
) -> Hyetograph:
    """Chicago design storm (mm/h blocks) starting at the forecast start."""
    return chicago_hyetograph(
        formula, return_period_years, duration_s, step_s, peak_ratio=peak_ratio
    )


def series_rain(step_s: float, intensity_mm_h: Sequence[float]) -> Hyetograph:
    """Rain from block intensities (mm/h) of ``step_s`` seconds each, from the forecast start."""
    if not intensity_mm_h:
        raise ValueError("the rain series is empty")
    return Hyetograph.from_blocks(step_s, [float(i) * step_s / 3600.0 for i in intensity_mm_h])


def read_series_csv(path: str | Path) -> tuple[float, list[float]]:
    """Read a rain series CSV with columns ``time_s,intensity_mm_h`` (block starts, evenly spaced
    from 0). Returns ``(step_s, intensities)``; errors name the file and the line."""
    p = Path(path)
    times: list[float] = []
    values: list[float] = []
    with p.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        if reader.fieldnames is None or not {"time_s", "intensity_mm_h"} <= set(reader.fieldnames):
            raise ValueError(f"{p}: the header must name the columns time_s and intensity_mm_h")
        for line, row in enumerate(reader, start=2):
            try:
                times.append(float(row["time_s"]))
                values.append(float(row["intensity_mm_h"]))
            except (TypeError, ValueError) as exc:
                raise ValueError(f"{p} line {line}: not a number ({exc})") from exc
    if len(times) < 2:
        raise ValueError(f"{p}: needs at least two rows")
    step = times[1] - times[0]
    for k, t in enumerate(times):
        if times[0] != 0.0 or abs(t - k * step) > 1e-6 or step <= 0:
            raise ValueError(f"{p} line {k + 2}: times must start at 0 and be evenly spaced")
    return step, values


def nowcast_rain(
    gauge_means_mm_h: Sequence[float],
    *,
    horizon_s: float,
    decay_s: float,
    step_s: float = 300.0,
) -> Hyetograph:
    """Persistence with exponential decay from the gauges' recent mean intensities (mm/h)."""
    i0 = sum(gauge_means_mm_h) / len(gauge_means_mm_h) if gauge_means_mm_h else 0.0
    n = max(1, math.ceil(horizon_s / step_s - 1e-9))
    blocks = []
    for k in range(n):
        a = math.exp(-k * step_s / decay_s)
        b = math.exp(-(k + 1) * step_s / decay_s)
        blocks.append(i0 * decay_s * (a - b) / 3600.0)  # mm
    return Hyetograph.from_blocks(step_s, blocks)


def gauge_mean_intensities(*, session: Session, end: datetime, window_s: float) -> dict[str, float]:
    """Mean intensity (mm/h) of each rain datastream over ``(end − window, end]`` (unflagged
    observations; values are interval depths in m)."""
    from fangxun.monitoring.models import Datastream, Observation, ObservedProperty

    start = end - timedelta(seconds=window_s)
    rows = session.execute(
        select(Datastream.code, Observation.value)
        .join(Observation, Observation.datastream_id == Datastream.id)
        .join(ObservedProperty, ObservedProperty.id == Datastream.observed_property_id)
        .where(
            ObservedProperty.code == "rainfall",
            Observation.flags == 0,
            Observation.phenomenon_time > start,
            Observation.phenomenon_time <= end,
        )
    ).all()
    totals: dict[str, float] = {}
    for code, value in rows:
        totals[code] = totals.get(code, 0.0) + float(value)
    return {code: depth * 1000.0 / (window_s / 3600.0) for code, depth in totals.items()}


# --- the fallback chain of rain sources -----------------------------------------------------


@dataclass
class RainChoice:
    """The rain a forecast uses, which source of the chain gave it, and why.

    ``source`` is one of :data:`fangxun.rain.chain.CHAIN` (blended_nowcast, radar_nowcast, qpf,
    gauge_persistence, none); ``reasons`` say why each better source was passed over.
    ``gridded`` holds the field (mm/h on the district grid) for the gridded sources, and
    ``hyetograph`` is always set: the district-mean series of the field, or the gauges'
    persistence, or no rain. ``members`` are the ensemble's fields for forecast members 1, 2, …
    (empty: the forecast perturbs the control's rain); ``data_time`` the time of the newest data
    behind the rain (the last radar frame, the QPF's issue time, the forecast start for gauges).
    """

    source: str
    hyetograph: Hyetograph
    gridded: GriddedRain | None = None
    reasons: list[str] = field(default_factory=list)
    detail: str = ""
    members: list[GriddedRain] = field(default_factory=list)
    data_time: datetime | None = None

    def info(self, issued_at: datetime) -> dict[str, object]:
        """The source of the rain and its age at ``issued_at`` (s), for the run's summary."""
        age = (issued_at - self.data_time).total_seconds() if self.data_time else None
        return {
            "source": self.source,
            "detail": self.detail,
            "reasons": list(self.reasons),
            "data_time": self.data_time.isoformat() if self.data_time else None,
            "age_s": age,
            "spatial": self.gridded is not None,
            "ensemble_members": len(self.members),
        }

    def note(self) -> str:
        """One line for the run record and the web: the source and why."""
        why = "; ".join(self.reasons)
        return (
            f"rain: {self.source}"
            + (f" ({self.detail})" if self.detail else "")
            + (f" — passed over: {why}" if why else "")
        )


def choose_rain(
    *,
    session: Session,
    data_dir: Path,
    grid: object,
    issued_at: datetime,
    horizon_s: float,
    radar_feed: str | None,
    qpf_feed: str | None,
    gauge_window_s: float,
    gauge_decay_s: float,
    step_s: float = 300.0,
    max_radar_age_s: float = 900.0,
    members: int = 1,
    seed: int = 0,
) -> RainChoice:
    """Blended nowcast → radar nowcast → QPF → gauge persistence → none; the first that works.

    ``grid`` is a :class:`fangxun.rain.chain.DistrictGrid`. A feed that fails (no frames, old
    frames, an error in the nowcast) is recorded in ``reasons`` and the chain goes on. With
    ``members`` > 1 a nowcast source also gives ``members − 1`` ensemble fields (seeded).
    """
    from fangxun.rain.chain import DistrictGrid, gridded_rain

    reasons: list[str] = []
    if radar_feed or qpf_feed:
        assert isinstance(grid, DistrictGrid)
        g = gridded_rain(
            session=session,
            data_dir=data_dir,
            grid=grid,
            issued_at=issued_at,
            horizon_s=horizon_s,
            radar_feed=radar_feed or "",
            qpf_feed=qpf_feed,
            max_radar_age=timedelta(seconds=max_radar_age_s),
            members=members,
            seed=seed,
        )
        reasons.extend(g.reasons)
        if g.source is not None and g.intensity_mm_h is not None:
            last = g.times_s[-1] - g.times_s[-2] if len(g.times_s) > 1 else step_s
            end = g.times_s[-1] + last
            gridded = _ending(g.times_s, g.intensity_mm_h, end)
            means = g.intensity_mm_h.reshape(len(g.times_s), -1).mean(axis=1)
            t = [*g.times_s, end]
            hyeto = Hyetograph(times_s=t, intensity_mm_h=[*map(float, means), 0.0])
            ens = [_ending(g.times_s, m, end) for m in g.member_fields]
            return RainChoice(g.source, hyeto, gridded, reasons, g.detail, ens, g.data_time)
    else:
        reasons.append("no radar or QPF feed configured")
    means_by_gauge = gauge_mean_intensities(session=session, end=issued_at, window_s=gauge_window_s)
    if means_by_gauge:
        rain = nowcast_rain(
            list(means_by_gauge.values()), horizon_s=horizon_s, decay_s=gauge_decay_s, step_s=step_s
        )
        return RainChoice(
            "gauge_persistence", rain, None, reasons, f"{len(means_by_gauge)} gauge(s)",
            data_time=issued_at,
        )  # fmt: skip
    reasons.append("gauge persistence: no gauge reported in the window")
    return RainChoice("none", Hyetograph(times_s=[0.0], intensity_mm_h=[0.0]), None, reasons)


def _ending(times_s: Sequence[float], fields: npt.NDArray[np.float64], end_s: float) -> GriddedRain:
    """Gridded rain of ``fields`` on ``times_s`` and dry from ``end_s`` (a nowcast says nothing
    after its last lead: no rain is claimed there rather than the last field held for ever)."""
    zero = np.zeros((1, *fields.shape[1:]))
    return GriddedRain([*times_s, end_s], np.concatenate([fields, zero]))


def district_grid(
    *, crs_wkt: str, transform: Sequence[float], shape: tuple[int, int]
) -> DistrictGrid:
    """The :class:`fangxun.rain.chain.DistrictGrid` of a model grid (CRS WKT, the six affine
    coefficients in rasterio order, (ny, nx))."""
    from affine import Affine
    from pyproj import CRS

    from fangxun.rain.chain import DistrictGrid

    return DistrictGrid(CRS.from_wkt(crs_wkt), Affine(*tuple(transform)[:6]), shape)


def rain_from_chain(
    *,
    session: Session,
    settings: Settings,
    issued_at: datetime,
    horizon_s: float,
    terrain: Path | None = None,
    grid: object | None = None,
    members: int = 1,
    seed: int = 0,
) -> RainChoice | None:
    """The chain's rain for a run on the district model's ``grid`` (a
    :class:`~fangxun.rain.chain.DistrictGrid`; else the grid of the ``terrain`` GeoTIFF), or
    None when no rain feed is configured (``rain_radar_feed``/``rain_qpf_feed``): then the
    gauges' nowcast stands as before. ``members`` > 1 asks for ensemble fields too."""
    if not (settings.rain_radar_feed or settings.rain_qpf_feed):
        return None
    if grid is None:
        import rasterio

        if terrain is None:
            raise ValueError("rain_from_chain needs the district grid or its terrain")
        with rasterio.open(terrain) as src:
            grid = district_grid(
                crs_wkt=src.crs.to_wkt(),
                transform=tuple(src.transform)[:6],
                shape=(int(src.height), int(src.width)),
            )
    return choose_rain(
        session=session,
        data_dir=Path(settings.data_dir),
        grid=grid,
        issued_at=issued_at,
        horizon_s=horizon_s,
        radar_feed=settings.rain_radar_feed,
        qpf_feed=settings.rain_qpf_feed,
        gauge_window_s=settings.forecast_nowcast_window_s,
        gauge_decay_s=settings.forecast_nowcast_decay_s,
        max_radar_age_s=settings.rain_max_radar_age_s,
        members=members,
        seed=seed,
    )
