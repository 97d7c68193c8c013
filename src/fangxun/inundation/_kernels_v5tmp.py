"""Numba kernels (arrays and scalars only) and the ``numba`` backend built on them.

A step costs two fused passes over the grid (plus a light limiter pass), all parallel over rows
with a contiguous inner loop that LLVM vectorises:

* :func:`flux_kernel`: new x- and y-face fluxes (θ-scheme, implicit Manning friction);
* :func:`update_kernel`: limited fluxes, continuity + rain + drainage + infiltration, running
  maximum and its time, arrival times, time above thresholds, and the per-row maximum depth that
  sets the next Δt.

In between, :func:`limit_factor_kernel` computes each cell's positivity factor (a cheap pass);
the update kernel applies it to every face as it reads them and stores the limited fluxes.

At 1000² cells a step moves roughly 80–100 MB (float32), so the kernels are bound by memory
traffic more than by arithmetic: a scalar Manning's n is passed as a scalar (the g·n² rasters
are not read), and rarely changing statistics use masked stores (see ``benchmarks/NOTES.md``, v5).

Friction needs h_f^(-7/3). ``pow`` and ``cbrt`` are scalar library calls that stop vectorisation
(no SVML here), so :func:`inv_cbrt` starts from an exponent bit trick and refines with
division-free Newton steps r ← r·(4 − x·r³)/3 to full precision in each dtype.
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np
from llvmlite import ir
from numba import njit, prange, types
from numba.extending import intrinsic, overload

from ._backend import GRAVITY, NODATA_Z, AnyArray, State, StepParams, StepResult, register_backend
from ._reference import apply_sources, boundary_fluxes

# For the cube-root helpers. The main kernels use fastmath=True (nnan/ninf are needed to vectorise
# max reductions); no inf or NaN ever flows through them (arrival times start at +inf but are
# only ever written, never read, by the kernels).
FASTMATH = {"nsz", "arcp", "contract", "afn", "reassoc"}
# The update kernel must not fuse q·f into an FMA: a face's limited flux has to be the same
# rounded number for the cell on either side, or mass is no longer conserved to round-off.
FASTMATH_NO_CONTRACT = {"nnan", "ninf", "nsz", "arcp", "afn", "reassoc"}

SMALL_GRID = 40_000
"""Grids with fewer cells run the kernels on one thread."""

# Exponent-trick seeds for x^(-1/3): bits(r0) = MAGIC - bits(x)/3 (tuned for max relative error).
_MAGIC32 = 1419916000
_MAGIC64 = 6142621803746013184


@intrinsic
def _bits(typingctx: Any, x: Any) -> Any:
    """Reinterpret a float's bits as a signed integer of the same width."""
    ret: Any
    if x == types.float32:
        ret, width = types.int32, 32
    elif x == types.float64:
        ret, width = types.int64, 64
    else:
        return None

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        return builder.bitcast(args[0], ir.IntType(width))

    return ret(x), codegen


@intrinsic
def _from_bits(typingctx: Any, i: Any) -> Any:
    """Reinterpret a signed integer's bits as a float of the same width."""
    ret: Any
    lt: Any
    if i == types.int32:
        ret, lt = types.float32, ir.FloatType()
    elif i == types.int64:
        ret, lt = types.float64, ir.DoubleType()
    else:
        return None

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        return builder.bitcast(args[0], lt)

    return ret(i), codegen


@njit(inline="always", fastmath=FASTMATH)
def inv_cbrt32(x: np.float32) -> np.float32:
    """x^(-1/3) for float32 x > 0, to about 1 ulp."""
    i: Any = _bits(x)  # type: ignore[call-arg]
    third = np.float32(0.33333334)
    seed = np.int32(np.int32(_MAGIC32) - np.int32(np.float32(i) * third))
    r: Any = _from_bits(seed)
    x3 = x * third
    four3 = np.float32(1.3333334)
    for _ in range(3):
        r = r * (four3 - x3 * (r * r * r))
    return r


@njit(inline="always", fastmath=FASTMATH)
def inv_cbrt64(x: np.float64) -> np.float64:
    """x^(-1/3) for float64 x > 0, to about 1 ulp."""
    i: Any = _bits(x)  # type: ignore[call-arg]
    seed = np.int64(_MAGIC64) - np.int64(np.float64(i) * (1.0 / 3.0))
    r: Any = _from_bits(seed)
    x3 = x * (1.0 / 3.0)
    for _ in range(4):
        r = r * (4.0 / 3.0 - x3 * (r * r * r))
    return r


def inv_cbrt(x: float) -> float:
    """x^(-1/3) (pure Python; inside kernels the typed overload below is used)."""
    return float(float(x) ** (-1.0 / 3.0))


@overload(inv_cbrt, inline="always")
def _inv_cbrt_overload(x):  # type: ignore[no-untyped-def]  # numba compares the signatures
    if x == types.float32:

        def impl32(x):  # type: ignore[no-untyped-def]
            return inv_cbrt32(x)

        return impl32
    if x == types.float64:

        def impl64(x):  # type: ignore[no-untyped-def]
            return inv_cbrt64(x)

        return impl64
    return None


@njit(cache=True, parallel=True, fastmath=True, error_model="numpy")
def flux_kernel(
    h: AnyArray,
    z: AnyArray,
    qx: AnyArray,
    qy: AnyArray,
    qxn: AnyArray,
    qyn: AnyArray,
    gn2x: AnyArray,
    gn2y: AnyArray,
    dt: Any,
    inv_dx: Any,
    g_dt: Any,
    theta: Any,
    hmin: Any,
    gn2: Any,
    uniform_n: bool,
) -> None:
    """Interior face fluxes (not yet limited) into qxn/qyn, from the depths and old fluxes.

    With ``uniform_n`` every face's g·n² is the scalar ``gn2`` (the same number the rasters
    hold), and the two rasters are not read: that saves 8 bytes of memory traffic per cell.

    Row r computes its x faces and the y faces between rows r and r+1. Every index is an offset
    >= 0 from the loop variable, so no negative-index wrap-around code blocks vectorisation.
    """
    ny, nx = h.shape
    one = dt / dt  # typed constants: a Python literal would promote float32 to float64
    zero = one - one
    half = one / (one + one)
    for r in prange(ny):
        for c in range(nx - 1):
            zl = z[r, c]
            zr = z[r, c + 1]
            hl = h[r, c]
            hr = h[r, c + 1]
            el = zl + hl
            er = zr + hr
            hf = max(el, er) - max(zl, zr)
            q = qx[r, c + 1]
            sl = (er - el) * inv_dx
            th = one if q * sl > zero else theta
            qs = th * q + (one - th) * half * (qx[r, c] + qx[r, c + 2])
            hc = max(hf, hmin)
            ri = inv_cbrt(hc)
            r3 = ri * ri * ri
            gf = gn2 if uniform_n else gn2x[r, c + 1]
            den = one + gf * dt * abs(q) * (r3 * r3 * ri)
            qnew = (qs - g_dt * hf * sl) / den
            qnew = qnew if hf > hmin else zero
            qxn[r, c + 1] = qnew
        if r < ny - 1:
            for c in range(nx):
                zl = z[r, c]
                zr = z[r + 1, c]
                hl = h[r, c]
                hr = h[r + 1, c]
                el = zl + hl
                er = zr + hr
                hf = max(el, er) - max(zl, zr)
                q = qy[r + 1, c]
                sl = (er - el) * inv_dx
                th = one if q * sl > zero else theta
                qs = th * q + (one - th) * half * (qy[r, c] + qy[r + 2, c])
                hc = max(hf, hmin)
                ri = inv_cbrt(hc)
                r3 = ri * ri * ri
                gf = gn2 if uniform_n else gn2y[r + 1, c]
                den = one + gf * dt * abs(q) * (r3 * r3 * ri)
                qnew = (qs - g_dt * hf * sl) / den
                qnew = qnew if hf > hmin else zero
                qyn[r + 1, c] = qnew


@njit(cache=True, parallel=True, fastmath=True, error_model="numpy")
def limit_factor_kernel(
    h: AnyArray, qx: AnyArray, qy: AnyArray, fpad: AnyArray, dt_dx: Any, nlim: AnyArray
) -> None:
    """fpad[r+1, c+1] = min(1, h / outflow depth) of cell (r, c); nlim[r] = cells limited.

    ``fpad`` has a border of ones (outside the grid nothing is limited), so the update kernel
    finds the upwind factor of every face, edges included, without branches.
    """
    ny, nx = h.shape
    one = dt_dx / dt_dx
    zero = one - one
    for r in prange(ny):
        cnt = zero
        for c in range(nx):
            out = (
                max(qx[r, c + 1], zero)
                + max(-qx[r, c], zero)
                + max(qy[r + 1, c], zero)
                + max(-qy[r, c], zero)
            ) * dt_dx
            hc = h[r, c]
            over = out > hc
            fpad[r + 1, c + 1] = hc / out if over else one
            cnt += one if over else zero
        nlim[r] = cnt


@njit(inline="never", error_model="numpy")
def _arrivals_row(h: AnyArray, arrival: AnyArray, thr: AnyArray, r: int, t_new: Any) -> None:
    """Arrival times of row ``r``: t_new where the depth reaches a threshold for the first time.

    No fastmath: unset arrival times are +inf and are compared here.
    """
    nx = h.shape[1]
    for c in range(nx):
        hn = h[r, c]
        for k in range(thr.shape[0]):
            if hn >= thr[k] and not arrival[k, r, c] <= t_new:
                arrival[k, r, c] = t_new


@njit(cache=True, parallel=True, fastmath=FASTMATH_NO_CONTRACT, error_model="numpy")
def update_kernel(
    h: AnyArray,
    z: AnyArray,
    qxn: AnyArray,
    qyn: AnyArray,
    fp: AnyArray,
    qx: AnyArray,
    qy: AnyArray,
    rain_field: AnyArray,
    rain_dt: Any,
    use_field: bool,
    drain: AnyArray,
    has_drain: bool,
    inf_f: AnyArray,
    inf_fc: AnyArray,
    inf_k: AnyArray,
    has_infil: bool,
    has_nodata: bool,
    dt: Any,
    inv_dx: Any,
    t_new: Any,
    maxd: AnyArray,
    tmax: AnyArray,
    thr: AnyArray,
    arrival: AnyArray,
    tabove: AnyArray,
    hmax_row: AnyArray,
    drain_row: Any,
    infil_row: Any,
    nodata_z: Any,
) -> None:
    """Limited fluxes, continuity, sources and sinks, running statistics.

    ``qxn``/``qyn`` hold this step's unlimited fluxes and ``fp`` the padded limiter factors;
    each face is scaled by the factor of the cell it leaves and written to ``qx``/``qy`` (row r
    writes its x faces and the y face above it; the y face below is recomputed, bit for bit the
    same, by the expression the next row uses, so no thread reads what another writes).

    Without sinks or nodata (the common case) one vectorised loop per row does the limited
    faces, continuity, rain, the running maximum and its time (masked stores: only cells whose
    maximum rises are written), the row maximum and the arrival-crossing test. With sinks the
    row is done in short loops over the (cache-hot) row, the statistics after the sinks.
    Arrival times need no pass of their own: the depth first reaches a threshold exactly when the
    running maximum first does, so they are written only in rows where the maximum crosses a
    threshold. Time above a threshold is only touched in rows whose maximum reaches it, and
    there by a masked add (cache lines with no cell above it are neither read nor written).
    """
    ny, nx = h.shape
    nthr = thr.shape[0]
    zero = dt - dt
    one = dt / dt
    thr0 = thr[0] if nthr > 0 else zero  # thresholds are sorted ascending
    thr_top = thr[nthr - 1] if nthr > 0 else zero
    dt_dx = dt * inv_dx
    # Without sinks or nodata the depth is final after continuity + rain, so the running
    # maximum, its time, the row maximum and the arrival-crossing test join that loop.
    fused = not (has_nodata or has_drain or has_infil)
    for r in prange(ny):
        hm = zero
        cross = zero
        # One loop: the four limited faces of each cell (a face shared with the next cell is
        # computed by the same expression there, so both see the same bits), continuity, rain.
        if fused:
            for c in range(nx):
                q = qxn[r, c]
                qw = q * (fp[r + 1, c] if q > zero else fp[r + 1, c + 1])
                q = qxn[r, c + 1]
                qe = q * (fp[r + 1, c + 1] if q > zero else fp[r + 1, c + 2])
                q = qyn[r, c]
                qn = q * (fp[r, c + 1] if q > zero else fp[r + 1, c + 1])
                q = qyn[r + 1, c]
                qs = q * (fp[r + 1, c + 1] if q > zero else fp[r + 2, c + 1])
                qx[r, c] = qw
                qy[r, c] = qn
                src = rain_field[r, c] * dt if use_field else rain_dt
                hn = max(h[r, c] + dt_dx * ((qw - qe) + (qn - qs)) + src, zero)
                h[r, c] = hn
                old = maxd[r, c]
                cross += one if (hn >= thr0 and old < thr_top) else zero
                if hn > old:  # masked stores: cache lines that do not rise stay clean
                    tmax[r, c] = t_new
                    maxd[r, c] = hn
                hm = max(hm, hn)
        elif use_field:
            for c in range(nx):
                q = qxn[r, c]
                qw = q * (fp[r + 1, c] if q > zero else fp[r + 1, c + 1])
                q = qxn[r, c + 1]
                qe = q * (fp[r + 1, c + 1] if q > zero else fp[r + 1, c + 2])
                q = qyn[r, c]
                qn = q * (fp[r, c + 1] if q > zero else fp[r + 1, c + 1])
                q = qyn[r + 1, c]
                qs = q * (fp[r + 1, c + 1] if q > zero else fp[r + 2, c + 1])
                qx[r, c] = qw
                qy[r, c] = qn
                h[r, c] = max(
                    h[r, c] + dt_dx * ((qw - qe) + (qn - qs)) + rain_field[r, c] * dt, zero
                )
        else:
            for c in range(nx):
                q = qxn[r, c]
                qw = q * (fp[r + 1, c] if q > zero else fp[r + 1, c + 1])
                q = qxn[r, c + 1]
                qe = q * (fp[r + 1, c + 1] if q > zero else fp[r + 1, c + 2])
                q = qyn[r, c]
                qn = q * (fp[r, c + 1] if q > zero else fp[r + 1, c + 1])
                q = qyn[r + 1, c]
                qs = q * (fp[r + 1, c + 1] if q > zero else fp[r + 2, c + 1])
                qx[r, c] = qw
                qy[r, c] = qn
                h[r, c] = max(h[r, c] + dt_dx * ((qw - qe) + (qn - qs)) + rain_dt, zero)
        q = qxn[r, nx]
        qx[r, nx] = q * (fp[r + 1, nx] if q > zero else fp[r + 1, nx + 1])
        if r == ny - 1:
            for c in range(nx):
                q = qyn[ny, c]
                qy[ny, c] = q * (fp[ny, c + 1] if q > zero else fp[ny + 1, c + 1])
        if has_nodata:
            for c in range(nx):
                h[r, c] = zero if z[r, c] >= nodata_z else h[r, c]
        dsum = 0.0
        if has_drain:
            for c in range(nx):
                d = min(drain[r, c] * dt, h[r, c])
                h[r, c] -= d
                dsum += d
        isum = 0.0
        if has_infil:
            for c in range(nx):
                cap = inf_f[r, c] * dt
                fi = min(cap, h[r, c])
                h[r, c] -= fi
                isum += fi
                used = fi / cap if cap > zero else zero
                fc = inf_fc[r, c]
                inf_f[r, c] = fc + (inf_f[r, c] - fc) * np.exp(-inf_k[r, c] * dt * used)
        if not fused and nthr > 0:
            for c in range(nx):
                hn = h[r, c]
                cross += one if (hn >= thr0 and maxd[r, c] < thr_top) else zero
        # arrival: only where the running maximum crosses a threshold (rare; scalar loop). The
        # fused loop has already raised the maximum, so there the unset (+inf) arrival times
        # are tested instead, in a helper compiled without fastmath (it reads the infinities).
        if nthr > 0 and cross > zero:
            if fused:
                _arrivals_row(h, arrival, thr, r, t_new)
            else:
                for c in range(nx):
                    hn = h[r, c]
                    old = maxd[r, c]
                    for k in range(nthr):
                        if old < thr[k] and hn >= thr[k]:
                            arrival[k, r, c] = t_new
        if not fused:
            for c in range(nx):
                hn = h[r, c]
                old = maxd[r, c]
                tmax[r, c] = t_new if hn > old else tmax[r, c]
                maxd[r, c] = max(hn, old)
                hm = max(hm, hn)
        for k in range(nthr):
            tk = thr[k]
            if hm >= tk:
                # masked add: rows of time-above that no wet cell touches are neither read
                # nor written (most of the grid lies below the thresholds)
                for c in range(nx):
                    if h[r, c] >= tk:
                        tabove[k, r, c] += dt
        hmax_row[r] = hm
        drain_row[r] = dsum
        infil_row[r] = isum


class NumbaBackend:
    """The parallel Numba backend (CPU)."""

    name = "numba"

    def __init__(self) -> None:
        self._viol: AnyArray | None = None
        self._rows: AnyArray | None = None
        self._drain_rows: AnyArray | None = None
        self._infil_rows: AnyArray | None = None
        self._gn2_of: AnyArray | None = None
        self._gn2: Any = 0.0
        self._uniform_n = False

    def _check_uniform_n(self, state: State) -> None:
        """Whether every face has the same g·n² (a scalar Manning's n): then pass the scalar."""
        gx, gy = state.gn2x, state.gn2y
        g0 = gx.flat[0] if gx.size else gy.flat[0]
        self._uniform_n = bool(np.all(gx == g0) and np.all(gy == g0))
        self._gn2 = state.h.dtype.type(g0)
        self._gn2_of = gx

    def prepare(self, state: State) -> None:
        """Allocate the per-row scratch arrays."""
        ny = state.h.shape[0]
        self._viol = np.zeros(ny, dtype=state.h.dtype)
        self._rows = np.zeros(ny, dtype=state.h.dtype)
        self._drain_rows = np.zeros(ny, dtype=np.float64)
        self._infil_rows = np.zeros(ny, dtype=np.float64)

    def sync(self, state: State) -> None:
        """Host arrays are the state; nothing to do."""

    def step(self, state: State, params: StepParams) -> StepResult:
        """Advance ``state`` by one step."""
        s, p = state, params
        if self._viol is None or self._viol.shape[0] != s.h.shape[0]:
            self.prepare(s)
        assert self._viol is not None and self._rows is not None
        assert self._drain_rows is not None and self._infil_rows is not None
        if self._gn2_of is not s.gn2x:
            self._check_uniform_n(s)
        ft = s.h.dtype.type
        dt, inv_dx = ft(p.dt), ft(1.0 / p.dx)
        sources = apply_sources(s.h, p) if p.src_rows.size else 0.0
        # Boundary faces first (perimeter only, NumPy): the limiter needs every face. With all
        # edges closed they stay 0 in the scratch buffers (no kernel writes the edge faces there).
        any_open = any(p.bc_kind)
        if any_open:
            boundary_fluxes(s, p)
        threads = numba.get_num_threads()
        if s.h.size < SMALL_GRID:
            numba.set_num_threads(1)  # waking threads costs more than a small grid's work
        flux_kernel(
            s.h, s.z, s.qx, s.qy, s.qx_new, s.qy_new, s.gn2x, s.gn2y,
            dt, inv_dx, ft(GRAVITY) * dt, ft(p.theta), ft(p.h_flow_min),
            self._gn2, self._uniform_n,
        )  # fmt: skip
        limit_factor_kernel(s.h, s.qx_new, s.qy_new, s.limiter, dt * inv_dx, self._viol)
        # the update writes the limited fluxes over the old ones: s.qx/s.qy stay current
        update_kernel(
            s.h, s.z, s.qx_new, s.qy_new, s.limiter, s.qx, s.qy,
            s.rain_field, ft(p.rain_rate) * dt, p.use_rain_field,
            s.drain, p.has_drain, s.infil_f, s.infil_fc, s.infil_k, p.has_infil, p.has_nodata,
            dt, inv_dx, ft(p.t_new), s.max_depth, s.time_of_max, s.thresholds, s.arrival,
            s.time_above, self._rows, self._drain_rows, self._infil_rows, ft(NODATA_Z),
        )  # fmt: skip
        if s.h.size < SMALL_GRID:
            numba.set_num_threads(threads)
        qx, qy = s.qx, s.qy
        outflow = 0.0
        if any_open:
            outflow = (
                float(np.sum(qy[-1, :], dtype=np.float64))
                - float(np.sum(qy[0, :], dtype=np.float64))
                + float(np.sum(qx[:, -1], dtype=np.float64))
                - float(np.sum(qx[:, 0], dtype=np.float64))
            ) * (float(dt) * float(inv_dx))
        limited = bool(self._viol.max() > 0)
        return StepResult(
            h_max=float(self._rows.max()),
            sources=sources,
            drained=float(self._drain_rows.sum()) if p.has_drain else 0.0,
            infiltrated=float(self._infil_rows.sum()) if p.has_infil else 0.0,
            outflow=outflow,
            limited=limited,
        )


register_backend("numba", NumbaBackend)
