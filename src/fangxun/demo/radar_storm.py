"""The demo's 7·20 storm built from a real radar sequence (a **rescaled real sequence**).

The MeteoSwiss composite sequence of 11 July 2016 (``../shared/reference/radar/mch/20160711``,
40 frames of 5 min, 1 km, summer convection) is real radar rain: its cells, their shapes, growth
and motion are observed. It is turned into the demo's storm by three documented changes, and is
labelled wherever it is shown as a rescaled real sequence, not as observations of 7·20:

1. **Moved**: a 160 × 160 km window of the composite is placed over the demo district (its
   pixels kept, the window's georeference replaced by one in the district's CRS, EPSG:4547). The
   window is centred on the place whose smoothed (8 km) rain best matches the weight of the
   7·20 hours it will play (:func:`_hit_point`).
2. **Looped**: the 3 h 20 min sequence is played again for every further 40 frames, each time
   from another place of the composite (40 km or more from the ones used before), so a 10-hour
   window sees a train of storms as 7·20 did. The field jumps at each join (frames 40, 80, …).
3. **Rescaled**: every hour of the replay gets one factor so that the mean rain over the
   district and :data:`NEIGHBOURHOOD_M` around it (the storm system, not the few pixels over
   the district) equals the 7·20 reconstruction's hour (201.9 mm in the peak hour;
   :func:`rainkit.zhengzhou_720_reconstruction`, itself a reconstruction of published totals);
   between the hours' centres the factor varies log-linearly frame by frame, so the field never
   jumps at an hour's edge. The factor is capped at :data:`MAX_FACTOR` and rates are clipped at
   :data:`MAX_RATE_MM_H`. The district's own hourly means (:attr:`RadarStorm.hourly_mm`)
   therefore differ from the targets: the README and the replay's label give both. Points
   inside the district get more or less than the mean, as the real field's pattern says.

After the rain the storm holds zero frames for as long as the replay runs on (the radar keeps
reporting: no rain).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import numpy.typing as npt
from affine import Affine
from pyproj import CRS

from fangxun.rain.grids import Frame
from fangxun.rain.reproject import reproject_array
from rainkit import GriddedRain, zhengzhou_720_reconstruction

F64 = npt.NDArray[np.float64]

MCH_FOLDER = "mch/20160711"
#: Environment variable naming the folder of the reference radar sequences.
RADAR_DIR_ENV = "FANGXUN_DEMO_RADAR_DIR"
#: Half the side of the window placed over the district, km (1 km pixels).
HALF_WINDOW = 80
#: Radar frame interval, s.
FRAME_S = 300
#: Cap of the hourly rescaling factor.
MAX_FACTOR = 60.0
#: The rescaling holds for the district and this much around it, m: the storm system is
#: rescaled, not the few pixels that happen to lie over the district.
NEIGHBOURHOOD_M = 10_000.0
#: Rates are clipped here after rescaling, mm/h (7·20's heaviest 5-min rates were of this order;
#: the linear rescaling of a real cell's core would otherwise give thousands).
MAX_RATE_MM_H = 500.0
#: Places of successive loops are at least this far apart, km.
MIN_SEPARATION = 40
#: The feed name the replay publishes its frames under.
DEMO_RADAR_FEED = "demo-radar"

LABEL = (
    "雷达实况序列缩放（MeteoSwiss 2016-07-11，按郑州7·20重建逐时雨量缩放并移至演示区）/ "
    "rescaled real radar sequence: MeteoSwiss composite of 2016-07-11, moved over the demo "
    "district and rescaled hour by hour to the 7·20 reconstruction's totals"
)


@dataclass(frozen=True)
class RadarStorm:
    """The storm: frames on its own 1 km grid (EPSG:4547) and what they were built from.

    ``frames[k]`` is the rate (mm/h) over ``[k·300, (k+1)·300)`` s of the replay, valid (as a
    radar frame is) at the end of that interval; its ``time`` is a placeholder on
    :data:`EPOCH` (the replay sets the real time when it publishes it).
    """

    frames: list[Frame]
    label: str
    #: District-mean rain of each replay hour as built, mm (the target unless capped).
    hourly_mm: list[float]
    #: The 7·20 reconstruction's hours it was rescaled to, mm.
    target_mm: list[float]
    #: Factor applied to each hour.
    factors: list[float]
    #: (row, col) in the composite of the place put over the district, per loop.
    places: list[tuple[int, int]]

    @property
    def rain_s(self) -> float:
        """Seconds of the replay that carry rain frames from the sequence."""
        return len(self.target_mm) * 3600.0

    def offset_of(self, k: int) -> float:
        """Valid time of frame ``k``, s from the replay's start (the end of its interval)."""
        return (k + 1) * float(FRAME_S)

    def on_grid(self, *, crs: CRS, transform: Affine, shape: tuple[int, int]) -> GriddedRain:
        """The storm as gridded rain on a model grid (bilinear), from 0 s, dry after the last
        frame."""
        fields = [
            np.nan_to_num(
                reproject_array(
                    f.rate_mm_h,
                    src_crs=f.crs,
                    src_transform=f.transform,
                    crs=crs,
                    transform=transform,
                    shape=shape,
                )
            )
            for f in self.frames
        ]
        times = [k * float(FRAME_S) for k in range(len(fields) + 1)]
        stack = np.stack([*fields, np.zeros(shape, np.float32)]).astype(np.float64)
        return GriddedRain(times, np.maximum(stack, 0.0))


EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def reference_radar_dir() -> Path | None:
    """The folder of the reference radar sequences: ``$FANGXUN_DEMO_RADAR_DIR``, else the first
    ``shared/reference/radar`` beside an ancestor of this package or of the working folder (the
    project keeps them in ``../shared/reference/radar``); None when there is none."""
    import os

    env = os.environ.get(RADAR_DIR_ENV)
    if env:
        return Path(env)
    for base in (Path(__file__).resolve(), Path.cwd().resolve()):
        for p in base.parents:
            cand = p / "shared" / "reference" / "radar"
            if (cand / MCH_FOLDER).is_dir():
                return cand
    return None


def _read_sequence(folder: Path) -> list[Frame]:
    from fangxun.rain.importers import read_frames

    files = sorted(folder.glob("*.gif"))
    if not files:
        raise FileNotFoundError(f"no MeteoSwiss GIF frames in {folder}")
    out: list[Frame] = []
    for p in files:
        out.extend(read_frames(p, "mch_gif", None))
    return sorted(out, key=lambda f: f.time)


def _hit_point(
    seq: F64, hour_of: list[int], weights: list[float], used: list[tuple[int, int]]
) -> tuple[int, int]:
    """The composite pixel to put over the district for one loop: where the 8 km mean rain of
    the hours the loop plays (frame j plays hour ``hour_of[j]``) is largest in the sense of
    Σ w_h log(rain_h + 0.1 mm), w_h the 7·20 hour's weight; the log makes a dry hour cost
    much, so the place chosen rains through the loop. ``HALF_WINDOW`` from the composite's edges
    and :data:`MIN_SEPARATION` from the places used before."""
    from scipy import ndimage

    ny, nx = seq.shape[1:]
    score = np.zeros((ny, nx))
    for h in sorted(set(hour_of)):
        frames = [j for j, hh in enumerate(hour_of) if hh == h]
        mm = seq[frames].sum(axis=0) * FRAME_S / 3600.0
        score += weights[h] * np.log(ndimage.uniform_filter(mm, 8) + 0.1)
    mask = np.zeros((ny, nx), dtype=bool)
    mask[HALF_WINDOW : ny - HALF_WINDOW, HALF_WINDOW : nx - HALF_WINDOW] = True
    for r, c in used:
        mask[max(r - MIN_SEPARATION, 0) : r + MIN_SEPARATION,
             max(c - MIN_SEPARATION, 0) : c + MIN_SEPARATION] = False  # fmt: skip
    score = np.where(mask, score, -np.inf)
    best = np.unravel_index(int(np.argmax(score)), score.shape)
    return int(best[0]), int(best[1])


def build_radar_storm(
    *,
    centre_xy: tuple[float, float],
    district_bounds: tuple[float, float, float, float],
    crs: str = "EPSG:4547",
    first_hour: int = 12,
    hours: int = 10,
    after_s: float = 3600.0,
    folder: Path | None = None,
) -> RadarStorm:
    """The storm for hours ``[first_hour, first_hour + hours)`` of the 7·20 reconstruction over
    a district centred at ``centre_xy`` (m, ``crs``) with ``district_bounds`` (west, south,
    east, north), plus ``after_s`` of zero frames (see the module docstring)."""
    if folder is None:
        base = reference_radar_dir()
        if base is None:
            raise FileNotFoundError(
                f"the reference radar sequences are not found: set {RADAR_DIR_ENV}"
            )
        folder = base / MCH_FOLDER
    seq_frames = _read_sequence(folder)
    seq = np.stack([np.nan_to_num(np.asarray(f.rate_mm_h, np.float64)) for f in seq_frames])
    n_seq = seq.shape[0]
    target = list(zhengzhou_720_reconstruction().hourly_mm[first_hour : first_hour + hours])
    per_hour = 3600 // FRAME_S
    n_rain = hours * per_hour
    dst_crs = CRS.from_user_input(crs)
    cx, cy = centre_xy
    # the window's georeference: its centre pixel on the district's centre
    transform = Affine(1000.0, 0.0, cx - HALF_WINDOW * 1000.0, 0.0, -1000.0,
                       cy + HALF_WINDOW * 1000.0)  # fmt: skip
    places: list[tuple[int, int]] = []
    raw: list[F64] = []
    for start in range(0, n_rain, n_seq):
        idx = list(range(start, min(start + n_seq, n_rain)))
        r, c = _hit_point(seq[: len(idx)], [k // per_hour for k in idx], target, places)
        places.append((r, c))
        for j in range(len(idx)):
            raw.append(seq[j, r - HALF_WINDOW : r + HALF_WINDOW, c - HALF_WINDOW : c + HALF_WINDOW])
    # the district's and its neighbourhood's pixels in the window
    west, south, east, north = district_bounds
    district = _box(transform, (west, south, east, north))
    near = _box(transform, (west - NEIGHBOURHOOD_M, south - NEIGHBOURHOOD_M,
                            east + NEIGHBOURHOOD_M, north + NEIGHBOURHOOD_M))  # fmt: skip
    near_mm = np.array([f[near].mean() for f in raw]) * FRAME_S / 3600.0
    hour_factor = []
    for h in range(hours):
        got = float(near_mm[h * per_hour : (h + 1) * per_hour].sum())
        hour_factor.append(min(MAX_FACTOR, target[h] / got) if got > 0 else MAX_FACTOR)
    # one factor per frame: log-linear between the hours' centres, so the field never jumps at
    # an hour's edge (a jump would look like a storm growing to the nowcast)
    centres = (np.arange(hours) + 0.5) * 3600.0
    frame_centres = (np.arange(n_rain) + 0.5) * FRAME_S
    factor = np.exp(np.interp(frame_centres, centres, np.log(hour_factor)))
    scaled: list[F64] = [np.minimum(f * k, MAX_RATE_MM_H) for f, k in zip(raw, factor, strict=True)]
    district_mm = np.array([f[district].mean() for f in scaled]) * FRAME_S / 3600.0
    built = [round(float(district_mm[h * per_hour : (h + 1) * per_hour].sum()), 1)
             for h in range(hours)]  # fmt: skip
    factors = [round(f, 3) for f in hour_factor]
    n_after = round(after_s / FRAME_S)
    scaled += [np.zeros_like(scaled[0])] * n_after
    frames = [
        Frame(
            time=EPOCH + timedelta(seconds=(k + 1) * FRAME_S),
            rate_mm_h=np.asarray(f, np.float32),
            crs=dst_crs,
            transform=transform,
            source=f"demo radar storm (rescaled MeteoSwiss 2016-07-11) frame {k}",
            interval_s=None,
        )
        for k, f in enumerate(scaled)
    ]
    return RadarStorm(frames, LABEL, built, [round(t, 1) for t in target], factors, places)


def _box(transform: Affine, bounds: tuple[float, float, float, float]) -> tuple[slice, slice]:
    """(rows, cols) of the window's pixels over ``bounds`` (west, south, east, north)."""
    west, south, east, north = bounds
    inv = ~transform
    c0, r0 = inv * (west, north)
    c1, r1 = inv * (east, south)
    rows = slice(max(int(np.floor(r0)), 0), int(np.ceil(r1)))
    cols = slice(max(int(np.floor(c0)), 0), int(np.ceil(c1)))
    return rows, cols


def publishable(storm: RadarStorm, k: int, t0: datetime) -> Frame:
    """Frame ``k`` with its real valid time on a replay whose offset 0 is at ``t0``."""
    f = storm.frames[k]
    return replace(f, time=t0 + timedelta(seconds=storm.offset_of(k)), source=f"{f.source}")
