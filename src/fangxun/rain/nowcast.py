"""Radar nowcasts with pysteps: motion, a deterministic nowcast, STEPS ensembles, QPF blending.

* **Motion**: dense Lucas–Kanade optical flow (``pysteps.motion.lucaskanade``) on the last
  ``motion_frames`` frames in dB (R < 0.1 mm/h set to −15 dB, pysteps' usual transform).
* **Deterministic**: S-PROG (Seed 2003; ``pysteps.nowcasts.sprog``): the field is split into 6
  spatial scales, each advected semi-Lagrangian and damped by its own AR(2) process, so small
  cells that cannot be predicted fade out while large systems persist; the result is matched to
  the last frame's distribution (``probmatching_method="cdf"``). On the three sample storms it
  beats plain extrapolation at 1 mm/h (``benchmarks/nowcast.py``). Needs three frames; with two
  it falls back to plain semi-Lagrangian extrapolation.
* **Ensemble**: STEPS (Bowler et al. 2006; Seed et al. 2013; ``pysteps.nowcasts.steps``): S-PROG
  plus stochastic noise with the field's own spatial structure, and perturbed motion (BPS).
  Grids above ``max_cells`` (:data:`MAX_ENSEMBLE_CELLS`) are computed on a coarser grid (block
  means, an integer factor: 3 km for a 1 km 700 × 700 composite) and interpolated back
  bilinearly; the FFTs are SciPy's, and the output is post-processed in float32 in place. A
  700 × 700, 20-member, 12-lead ensemble then takes ~15 s of CPU (``benchmarks/nowcast.py``).
  The probabilities are for areas of a few km anyway; the deterministic nowcast keeps the full
  resolution.
* **Blending** with a QPF (``pysteps.blending.steps``): the QPF, resampled onto the radar grid
  and to the nowcast's times, takes over with the lead time according to the skill of each
  scale. The deterministic blend is the mean of a small blended ensemble (pysteps 1.21's
  noise-free blending fails inside its loop).

Outside the radar's coverage at the issue time (NaN in the last frame) the nowcast is NaN.
All rates are mm/h at the edges (files) and inside (pysteps works in mm/h and dB).
"""

from __future__ import annotations

import contextlib
import io
import logging
import math
import os
import tempfile
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt
from affine import Affine
from pyproj import CRS

from fangxun.errors import ValidationFailed
from fangxun.rain.grids import Frame, check_sequence
from fangxun.rain.importers import load_pysteps

log = logging.getLogger(__name__)

F64 = npt.NDArray[np.float64]
F32 = npt.NDArray[np.float32]

#: Rates below this (mm/h) are "no rain" for the dB transform.
RAIN_THRESHOLD_MM_H = 0.1
#: dB value given to no rain (pysteps' convention).
ZERO_DB = -15.0
#: Cells above which the ensemble is computed on a coarser grid.
MAX_ENSEMBLE_CELLS = 60_000
#: FFT of the ensemble's cascade and noise: SciPy's pocketfft (pysteps' "scipy"), faster than
#: NumPy's; pyFFTW, faster still, is not installed.
FFT_METHOD = "scipy"
#: Members averaged for the deterministic blend with a QPF.
DETERMINISTIC_BLEND_MEMBERS = 4

Method = Literal["sprog", "extrapolation", "steps", "blended"]


@dataclass(frozen=True)
class Nowcast:
    """A nowcast on the input grid: ``rate_mm_h`` is (member, time, y, x), float32 mm/h."""

    rate_mm_h: F32
    times: list[datetime]
    issue_time: datetime
    crs: CRS
    transform: Affine
    method: Method
    sources: tuple[str, ...] = ()

    @property
    def members(self) -> int:
        return int(self.rate_mm_h.shape[0])

    def x_centres(self) -> F64:
        n = self.rate_mm_h.shape[-1]
        return np.asarray(self.transform.c + (np.arange(n) + 0.5) * self.transform.a, np.float64)

    def y_centres(self) -> F64:
        n = self.rate_mm_h.shape[-2]
        return np.asarray(self.transform.f + (np.arange(n) + 0.5) * self.transform.e, np.float64)

    def exceedance(self, threshold_mm_h: float, *, neighbourhood_m: float = 0.0) -> F32:
        """Probability (0–1) of exceeding ``threshold_mm_h``, per (time, y, x).

        With ``neighbourhood_m`` > 0 the members' exceedances are smoothed by a Gaussian of
        that standard deviation (m) before averaging: the probability that the rain exceeds the
        threshold *near* the cell, which is what an ensemble that cannot place a convective
        cell to the pixel can say reliably (neighbourhood ensemble probability, Schwartz et al.
        2010; the reliability at 10 mm/h is in ``docs/validation.md``). 0: pixel by pixel.
        """
        r = self.rate_mm_h
        hit = np.where(np.isfinite(r), r >= threshold_mm_h, False).astype(np.float32)
        p = np.mean(hit, axis=0)
        if neighbourhood_m > 0.0:
            from scipy import ndimage

            sigma = neighbourhood_m / abs(self.transform.a)
            p = np.stack([ndimage.gaussian_filter(f, sigma, mode="constant") for f in p])
        p = np.where(np.isfinite(r[0]), p, np.nan)
        return np.asarray(p, np.float32)


# --- helpers ----------------------------------------------------------------------------------


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """pysteps prints its settings tables to stdout; keep them out of the CLI's output."""
    load_pysteps()
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        yield
    if buf.getvalue():
        log.debug("pysteps: %s", buf.getvalue()[-2000:])


def to_db(rate: F64) -> F64:
    """mm/h → dB (10 log10 R), R < 0.1 mm/h and NaN → −15 dB."""
    r = np.where(np.isfinite(rate), rate, 0.0)
    out = np.full(r.shape, ZERO_DB)
    wet = r >= RAIN_THRESHOLD_MM_H
    out[wet] = 10.0 * np.log10(r[wet])
    return out


def from_db(db: npt.NDArray[np.floating]) -> npt.NDArray[np.floating]:
    """dB → mm/h in ``db``'s float type (float32 keeps an ensemble's memory traffic half);
    values at or below the no-rain level give 0, NaN stays NaN."""
    dtype = db.dtype if db.dtype in (np.float32, np.float64) else np.dtype(np.float64)
    d = np.asarray(db, dtype)
    with np.errstate(invalid="ignore", over="ignore"):
        r = np.power(dtype.type(10.0), d / dtype.type(10.0))
    # NaN compares False, so NaN passes through the first mask and stays NaN
    r[d <= ZERO_DB + 1.0] = 0.0
    r[r < RAIN_THRESHOLD_MM_H] = 0.0
    return r


def last_regular(frames: Sequence[Frame], n: int) -> tuple[list[Frame], timedelta]:
    """The last ``n`` frames (or fewer) that are evenly spaced, and the interval."""
    ordered, step = check_sequence(list(frames))
    if len(ordered) < 2:
        raise ValidationFailed(
            "a nowcast needs at least two radar frames (to see the motion)", loc=("input",)
        )
    step = ordered[-1].time - ordered[-2].time
    tail = [ordered[-1]]
    for f in reversed(ordered[:-1]):
        if tail[-1].time - f.time != step or len(tail) >= n:
            break
        tail.append(f)
    return list(reversed(tail)), step


def n_leads(lead_min: float, step: timedelta) -> int:
    """Number of frames of ``step`` within ``lead_min`` minutes (at least one)."""
    k = math.floor(lead_min * 60.0 / step.total_seconds() + 1e-9)
    if k < 1:
        raise ValidationFailed(
            f"lead time {lead_min} min is shorter than the input interval {step}", loc=("lead",)
        )
    return k


def motion_field(rates: F64) -> F64:
    """Lucas–Kanade motion (2, ny, nx) in pixels per frame from frames (t, ny, nx) in mm/h."""
    with _quiet():
        from pysteps import motion

        v = motion.get_method("LK")(to_db(rates), verbose=False)
    return np.asarray(v, np.float64)


def _stack(frames: Sequence[Frame]) -> F64:
    return np.stack([np.asarray(f.rate_mm_h, np.float64) for f in frames])


def _wrap(
    fields: npt.NDArray[np.floating],
    frames: Sequence[Frame],
    step: timedelta,
    method: Method,
    extra_sources: Sequence[str] = (),
) -> Nowcast:
    last = frames[-1]
    mask = ~np.isfinite(last.rate_mm_h)
    out = np.asarray(fields, np.float32)
    if out.ndim == 3:
        out = out[None]
    # in place (an ensemble of a composite is ~10⁸ values): negative and NaN → 0
    out[~(out > 0.0)] = 0.0
    out[..., mask] = np.nan
    times = [last.time + step * (k + 1) for k in range(out.shape[1])]
    return Nowcast(
        rate_mm_h=out,
        times=times,
        issue_time=last.time,
        crs=last.crs,
        transform=last.transform,
        method=method,
        sources=tuple(f.source for f in frames) + tuple(extra_sources),
    )


# --- deterministic ----------------------------------------------------------------------------


def extrapolate(rates: F64, velocity: F64, leads: int) -> F64:
    """Plain semi-Lagrangian extrapolation of the last frame (mm/h), NaN taken as 0."""
    load_pysteps()
    from pysteps import nowcasts

    last = np.where(np.isfinite(rates[-1]), rates[-1], 0.0)
    with _quiet():
        return np.asarray(nowcasts.get_method("extrapolation")(last, velocity, leads), np.float64)


def deterministic(frames: Sequence[Frame], lead_min: float) -> Nowcast:
    """S-PROG nowcast from the last frames (plain extrapolation when only two are given)."""
    tail, step = last_regular(frames, 4)
    leads = n_leads(lead_min, step)
    rates = _stack(tail)
    v = motion_field(rates)
    if len(tail) < 3:
        return _wrap(extrapolate(rates, v, leads), tail, step, "extrapolation")
    load_pysteps()
    from pysteps import nowcasts

    db = to_db(rates[-3:])
    if not np.any(db > ZERO_DB):
        return _wrap(np.zeros((leads, *db.shape[1:])), tail, step, "sprog")
    with _quiet():
        f = nowcasts.get_method("sprog")(
            db,
            v,
            leads,
            n_cascade_levels=6,
            precip_thr=ZERO_DB + 5.0,
            ar_order=2,
            probmatching_method="cdf",
            measure_time=False,
        )
    return _wrap(from_db(np.asarray(f, np.float64)), tail, step, "sprog")


# --- ensemble ---------------------------------------------------------------------------------


def coarsening_factor(shape: tuple[int, ...], max_cells: int = MAX_ENSEMBLE_CELLS) -> int:
    """Smallest integer factor that brings ``shape`` (ny, nx) to at most ``max_cells`` cells."""
    cells = shape[-1] * shape[-2]
    return max(1, math.ceil(math.sqrt(cells / max_cells)))


def block_mean(rates: F64, factor: int) -> F64:
    """Block means (NaN ignored; all-NaN blocks stay NaN) over ``factor`` × ``factor`` blocks of
    the last two axes, the grid padded with NaN to a multiple of ``factor``."""
    if factor == 1:
        return rates
    ny, nx = rates.shape[-2:]
    py, px = (-ny) % factor, (-nx) % factor
    pad = [(0, 0)] * (rates.ndim - 2) + [(0, py), (0, px)]
    r = np.pad(rates, pad, constant_values=np.nan)
    shape = (*r.shape[:-2], r.shape[-2] // factor, factor, r.shape[-1] // factor, factor)
    blocks = r.reshape(shape)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN blocks: NaN is the answer
        return np.asarray(np.nanmean(blocks, axis=(-3, -1)), np.float64)


def upsample(fields: npt.NDArray[np.floating], factor: int, shape: tuple[int, int]) -> F32:
    """Bilinear interpolation of coarse fields (…, cy, cx) back to ``shape`` (ny, nx), float32."""
    if factor == 1:
        return np.asarray(fields, np.float32)
    from scipy import ndimage

    lead = fields.shape[:-2]
    flat = np.nan_to_num(np.asarray(fields, np.float32).reshape(-1, *fields.shape[-2:]))
    out = np.empty((flat.shape[0], *shape), np.float32)
    for k, f in enumerate(flat):
        z = ndimage.zoom(f, factor, order=1, mode="nearest", grid_mode=True)
        out[k] = z[: shape[0], : shape[1]]
    return out.reshape(*lead, *shape)


def ensemble(
    frames: Sequence[Frame],
    lead_min: float,
    members: int,
    *,
    seed: int | None = 0,
    workers: int | None = None,
    max_cells: int = MAX_ENSEMBLE_CELLS,
) -> Nowcast:
    """STEPS ensemble of ``members`` nowcasts (needs three frames)."""
    load_pysteps()
    from pysteps import nowcasts

    tail, step = last_regular(frames, 4)
    if len(tail) < 3:
        raise ValidationFailed(
            "an ensemble nowcast needs three evenly spaced frames", loc=("input",)
        )
    leads = n_leads(lead_min, step)
    full = _stack(tail)
    factor = coarsening_factor(full.shape, max_cells)
    rates = block_mean(full, factor)
    v = motion_field(rates)
    db = to_db(rates[-3:])
    if not np.any(db > ZERO_DB):
        return _wrap(np.zeros((members, leads, *full.shape[1:])), tail, step, "steps")
    km = tail[-1].pixel_size_m[0] * factor / 1000.0
    with _quiet():
        f = nowcasts.get_method("steps")(
            db,
            v,
            leads,
            n_ens_members=members,
            n_cascade_levels=6,
            precip_thr=ZERO_DB + 5.0,
            kmperpixel=km,
            timestep=step.total_seconds() / 60.0,
            noise_method="nonparametric",
            vel_pert_method="bps",
            mask_method="incremental",
            probmatching_method="cdf",
            seed=seed,
            num_workers=workers or os.cpu_count() or 1,
            fft_method=FFT_METHOD,
            measure_time=False,
        )
    fields = from_db(np.asarray(f, np.float32))
    return _wrap(upsample(fields, factor, full.shape[1:]), tail, step, "steps")


# --- blending with a QPF ----------------------------------------------------------------------


def qpf_on_grid(qpf: Sequence[Frame], like: Frame, times: Sequence[datetime]) -> F64:
    """QPF frames reprojected (bilinear) onto ``like``'s grid and taken at ``times`` (linear in
    time between QPF times, the nearest at either end); (len(times), ny, nx) mm/h."""
    from fangxun.rain.reproject import reproject_frame

    ordered, _ = check_sequence(list(qpf))
    grids = [
        reproject_frame(f, crs=like.crs, transform=like.transform, shape=like.shape)
        for f in ordered
    ]
    qt = np.array([f.time.timestamp() for f in ordered])
    out = np.empty((len(times), *like.shape))
    for k, t in enumerate(times):
        x = t.timestamp()
        j = int(np.searchsorted(qt, x))
        if j <= 0:
            out[k] = grids[0]
        elif j >= len(qt):
            out[k] = grids[-1]
        else:
            w = (x - qt[j - 1]) / (qt[j] - qt[j - 1])
            out[k] = (1 - w) * grids[j - 1] + w * grids[j]
    return np.where(np.isfinite(out), out, 0.0)


def blend(
    frames: Sequence[Frame],
    qpf: Sequence[Frame],
    lead_min: float,
    members: int,
    *,
    seed: int | None = 0,
    workers: int | None = None,
    max_cells: int = MAX_ENSEMBLE_CELLS,
) -> Nowcast:
    """Radar nowcast blended into a QPF with pysteps' STEPS blending; ``members == 1`` gives the
    deterministic blend (the mean of :data:`DETERMINISTIC_BLEND_MEMBERS` blended members)."""
    load_pysteps()
    from pysteps.blending import steps as bsteps

    tail, step = last_regular(frames, 4)
    if len(tail) < 3:
        raise ValidationFailed("blending needs three evenly spaced radar frames", loc=("input",))
    leads = n_leads(lead_min, step)
    last = tail[-1]
    times = [last.time + step * k for k in range(leads + 1)]
    q = qpf_on_grid(qpf, last, times)
    full = _stack(tail)
    factor = coarsening_factor(full.shape, max_cells)
    rates = block_mean(full, factor)
    qc = block_mean(q, factor)
    v = motion_field(rates)
    vq = np.stack([motion_field(qc[max(k - 1, 0) : k + 1]) for k in range(1, leads + 2)][:-1])
    vq = np.concatenate([vq[:1], vq])[: leads + 1]
    db = to_db(rates[-3:])
    qdb = to_db(qc)[None]
    km = last.pixel_size_m[0] * factor / 1000.0
    # pysteps 1.21's noise-free blending (noise_method=None) fails inside its STEPS loop, so the
    # deterministic blend is the mean of a small blended ensemble.
    runs = members if members > 1 else DETERMINISTIC_BLEND_MEMBERS
    # pysteps divides by (1 − ρ²) for perfectly correlated scales; the result is still finite
    with (
        tempfile.TemporaryDirectory() as tmp,
        _quiet(),
        np.errstate(divide="ignore", invalid="ignore"),
    ):
        f = bsteps.forecast(
            db,
            qdb,
            v,
            vq[None],
            leads,
            step.total_seconds() / 60.0,
            last.time.replace(tzinfo=None),
            runs,
            n_cascade_levels=6,
            precip_thr=ZERO_DB + 5.0,
            norain_thr=0.0,
            kmperpixel=km,
            noise_method="nonparametric",
            vel_pert_method="bps",
            mask_method="incremental",
            probmatching_method="cdf",
            seed=seed,
            num_workers=workers or os.cpu_count() or 1,
            outdir_path_skill=str(Path(tmp)) + os.sep,
            measure_time=False,
        )
    fields = from_db(np.asarray(f, np.float64))
    if fields.ndim == 3:
        fields = fields[None]
    fields = fields[:, -leads:]
    if members == 1:
        fields = np.nanmean(fields, axis=0, keepdims=True)
    qsrc = sorted({f.source for f in qpf})
    return _wrap(upsample(fields, factor, full.shape[1:]), tail, step, "blended", qsrc)


def nowcast(
    frames: Sequence[Frame],
    lead_min: float,
    members: int = 1,
    *,
    qpf: Sequence[Frame] | None = None,
    seed: int | None = 0,
) -> Nowcast:
    """The nowcast the CLI writes: deterministic (members 1), STEPS, or blended with ``qpf``."""
    if members < 1:
        raise ValidationFailed("members must be at least 1", loc=("members",))
    if lead_min <= 0:
        raise ValidationFailed("lead time must be positive", loc=("lead",))
    if qpf:
        return blend(frames, qpf, lead_min, members, seed=seed)
    if members == 1:
        return deterministic(frames, lead_min)
    return ensemble(frames, lead_min, members, seed=seed)
