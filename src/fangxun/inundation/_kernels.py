"""Numba kernels (arrays and scalars only) and the ``numba`` backend built on them.

A step is one parallel pass over the grid, :func:`step_kernel`: each thread sweeps a block of
rows in order and, at row r, computes

* the new x faces of row r and the y faces between rows r and r+1 (θ-scheme, implicit Manning
  friction: :func:`_x_faces`, :func:`_y_faces`, where the physics lives),
* the positivity factors of row r (:func:`_factor_row`),
* and then updates row r-1, whose faces and neighbours' factors are now all known: limited
  fluxes (stored in place of the old ones), continuity + rain + drainage + infiltration, running
  maximum and its time, arrival times, time above thresholds, and the per-row maximum depth
  that sets the next Δt.

The unlimited fluxes and factors of the last rows live in small per-block buffers (cache), not
in whole-grid arrays: at 1000² float32 cells the data a step touches (depth, bed, fluxes,
maximum and its time: ~24 MB) then fits in this machine's L3 cache, where three separate passes
moved ~90 MB through memory. The rows next to another block are read from a snapshot taken
before the step (the neighbour may already have updated them), and each block recomputes the
fluxes and factors of the row on either side, so the answer does not depend on the blocks
(``tests/inundation/test_fused_blocks.py``).

Every loop works on one span of columns per row and a range of rows (wet-region tracking, see
:func:`wet_spans` and :class:`NumbaBackend`; full spans without it). The inner loops run over
row slices that start at the span and are indexed from 0, so numba emits no wrap-around code
for negative indices and LLVM vectorises them. Also needed for vectorisation (each checked in
the optimisation remarks, ``benchmarks/NOTES.md`` v6): no choice between two arrays and no
conditional load inside a loop (the loop is copied per case instead), reductions over integers
only (a count of crossings, and the row maximum as the maximum of the depths' bits, which
order as the depths do since they are >= 0: LLVM vectorises no float max or sum reduction
under these fastmath flags), and inlined helpers that take scalars only inside a loop (an
array argument brings reference counting into the loop).

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

from ._backend import (
    GRAVITY,
    MAX_THRESHOLDS,
    NODATA_Z,
    AnyArray,
    State,
    StepParams,
    StepResult,
    register_backend,
)
from ._reference import boundary_fluxes, with_point_sources

# For the cube-root helpers.
FASTMATH = {"nsz", "arcp", "contract", "afn", "reassoc"}
# The main kernels: nnan/ninf are needed to vectorise the max reductions (no inf or NaN ever
# flows through them; arrival times start at +inf but are only written, never read, there).
# No "contract": the update kernel must not fuse q·f into an FMA (a face's limited flux has to
# be the same rounded number for the cell on either side, or mass is no longer exact), and no
# "contract"/"arcp"/"afn" anywhere: LLVM then rounds a cell the same way in the vector body and
# the scalar remainder of a loop (float32 division became a reciprocal estimate in one and not
# the other), so a row computed over a span (wet tracking) gives the bits a full row gives.
FASTMATH_NO_CONTRACT = {"nnan", "ninf", "nsz"}

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


@njit(inline="always", fastmath=FASTMATH_NO_CONTRACT, error_model="numpy")
def implicit_friction(r: Any, b: Any, qp: Any, one: Any) -> Any:
    """The face's new discharge q (m²/s) from q·(1 + b·√(q² + qp²)) = r: friction implicit in q.

    ``r`` (m²/s) is the discharge before friction (θ-smoothed old flux minus g·h_f·Δt·∂η/∂x),
    ``b = g·n²·Δt/h_f^(7/3)`` (s/m²) and ``qp`` the old discharge across the face. Scalars only
    (see :func:`_cell`). The root is bracketed above by the two one-term solutions (qp = 0: the
    quadratic b·s² + s = |r|; s = 0 in the root: |r|/(1 + b·|qp|)); the left side is convex and
    increasing in s, so Newton from the smaller of them stays above the root and two steps bring
    it within 2·10⁻⁴ (relative) of it over b·|r| and qp/|r| across ten decades (exact when qp = 0).
    """
    zero = one - one
    two = one + one
    ar = abs(r)
    s = (two * ar) / (one + np.sqrt(one + (two * two) * b * ar))
    s = min(s, ar / (one + b * abs(qp)))
    for _ in range(2):
        # Newton: s ← s − G/G' with G = s + b·s·m − |r|, G' = 1 + b·(m + s²/m), m = √(s² + qp²);
        # written G·m / (m + b·(s² + m²)) to take one division, not two (0/0 only if m = 0,
        # where G = 0 too)
        m = np.sqrt(s * s + qp * qp)
        gv = s + b * s * m - ar
        den = m + b * (s * s + m * m)
        s = s - (gv * m) / (den if den > zero else one)
    return s if r > zero else -s


@njit(inline="always", fastmath=FASTMATH_NO_CONTRACT, error_model="numpy")
def _x_faces(
    zs: AnyArray,
    hs: AnyArray,
    qs_: AnyArray,
    pa: AnyArray,
    pb: AnyArray,
    gs: AnyArray,
    qn_: AnyArray,
    n: int,
    dt: Any,
    inv_dx: Any,
    g_dt: Any,
    theta: Any,
    hmin: Any,
    gn2: Any,
    uniform_n: bool,
) -> None:
    """New (unlimited) x-face fluxes ``qn_[1..n]`` of one row, from row slices of the old state.

    The slices start at the same column: face i+1 lies between cells i and i+1 of ``zs``/``hs``
    (bed, depth), ``qs_`` holds the old x fluxes, ``pa``/``pb`` the old y fluxes above and below
    the row (for the friction's |q⃗|) and ``gs`` g·n² on the x faces (read unless ``uniform_n``).
    Slices indexed from 0 carry no wrap-around code for negative indices, which would stop LLVM
    from vectorising.
    """
    one = dt / dt  # typed constants: a Python literal would promote float32 to float64
    zero = one - one
    half = one / (one + one)
    quarter = half * half
    for i in range(n):
        zl = zs[i]
        zr = zs[i + 1]
        hl = hs[i]
        hr = hs[i + 1]
        el = zl + hl
        er = zr + hr
        hf = max(el, er) - max(zl, zr)
        q = qs_[i + 1]
        sl = (er - el) * inv_dx
        th = one if q * sl > zero else theta
        qs = th * q + (one - th) * half * (qs_[i] + qs_[i + 2])
        hc = max(hf, hmin)
        ri = inv_cbrt(hc)
        r3 = ri * ri * ri
        gf = gn2 if uniform_n else gs[i + 1]
        qp = quarter * ((pa[i] + pa[i + 1]) + (pb[i] + pb[i + 1]))
        qnew = implicit_friction(qs - g_dt * hf * sl, gf * dt * (r3 * r3 * ri), qp, one)
        qnew = qnew if hf > hmin else zero
        qn_[i + 1] = qnew


@njit(inline="always", fastmath=FASTMATH_NO_CONTRACT, error_model="numpy")
def _y_faces(
    za: AnyArray,
    zb: AnyArray,
    ha: AnyArray,
    hb: AnyArray,
    qa: AnyArray,
    qb: AnyArray,
    qc: AnyArray,
    xa: AnyArray,
    xb: AnyArray,
    gs: AnyArray,
    qn_: AnyArray,
    n: int,
    dt: Any,
    inv_dx: Any,
    g_dt: Any,
    theta: Any,
    hmin: Any,
    gn2: Any,
    uniform_n: bool,
) -> None:
    """New (unlimited) fluxes ``qn_[0..n-1]`` on the y faces between two rows a (above), b.

    ``za``/``zb``, ``ha``/``hb``: bed and depth of the two rows; ``qa``, ``qb``, ``qc``: the old
    y fluxes of the faces above row a, between the rows, below row b; ``xa``/``xb``: the old x
    fluxes of the two rows (for the friction's |q⃗|); ``gs``: g·n² on these faces.
    """
    one = dt / dt
    zero = one - one
    half = one / (one + one)
    quarter = half * half
    for i in range(n):
        zl = za[i]
        zr = zb[i]
        hl = ha[i]
        hr = hb[i]
        el = zl + hl
        er = zr + hr
        hf = max(el, er) - max(zl, zr)
        q = qb[i]
        sl = (er - el) * inv_dx
        th = one if q * sl > zero else theta
        qs = th * q + (one - th) * half * (qa[i] + qc[i])
        hc = max(hf, hmin)
        ri = inv_cbrt(hc)
        r3 = ri * ri * ri
        gf = gn2 if uniform_n else gs[i]
        qp = quarter * ((xa[i] + xa[i + 1]) + (xb[i] + xb[i + 1]))
        qnew = implicit_friction(qs - g_dt * hf * sl, gf * dt * (r3 * r3 * ri), qp, one)
        qnew = qnew if hf > hmin else zero
        qn_[i] = qnew


@njit(inline="always", fastmath=FASTMATH_NO_CONTRACT, error_model="numpy")
def _factor_row(
    hs: AnyArray, qxs: AnyArray, qa: AnyArray, qb: AnyArray, fs: AnyArray, n: int, dt_dx: Any
) -> int:
    """Positivity factors ``fs[i] = min(1, h / outflow depth)`` of n cells; returns how many < 1.

    ``qxs[i]``/``qxs[i+1]``: a cell's west/east faces; ``qa``/``qb``: its north/south faces.
    """
    one = dt_dx / dt_dx
    zero = one - one
    cnt = 0
    for i in range(n):
        out = (
            max(qxs[i + 1], zero) + max(-qxs[i], zero) + max(qb[i], zero) + max(-qa[i], zero)
        ) * dt_dx
        hc = hs[i]
        over = out > hc
        fs[i] = hc / out if over else one
        cnt += 1 if over else 0  # an integer sum needs no reassociation to vectorise
    return cnt


@njit(inline="never", error_model="numpy")
def _arrivals_row(
    h: AnyArray, arrival: AnyArray, thr: AnyArray, r: int, t_new: Any, c0: int, c1: int
) -> None:
    """Arrival times in row ``r``, columns c0..c1-1: t_new where the depth first reaches one.

    No fastmath: unset arrival times are +inf and are compared here.
    """
    for c in range(c0, c1):
        hn = h[r, c]
        for k in range(thr.shape[0]):
            if hn >= thr[k] and not arrival[k, r, c] <= t_new:
                arrival[k, r, c] = t_new


@njit(inline="always", fastmath=FASTMATH_NO_CONTRACT, error_model="numpy")
def _cell(
    qw: Any,
    qe: Any,
    qn: Any,
    qs: Any,
    fw: Any,
    fc: Any,
    fe: Any,
    fn: Any,
    fs: Any,
    h: Any,
    dt_dx: Any,
    src: Any,
) -> tuple[Any, Any, Any]:
    """One cell's limited west and north faces and new depth (m), from its four unlimited faces.

    ``fc`` is the cell's limiter factor, ``fw``/``fe``/``fn``/``fs`` its neighbours'; each face is
    scaled by the factor of the cell it leaves. A face shared with the next cell is computed by
    the same expression there, so both sides see the same bits. Scalars only: an inlined helper
    that takes arrays adds reference counting to the loop, which stops vectorisation.
    """
    zero = dt_dx - dt_dx
    qw = qw * (fw if qw > zero else fc)
    qe = qe * (fc if qe > zero else fe)
    qn = qn * (fn if qn > zero else fc)
    qs = qs * (fc if qs > zero else fs)
    return qw, qn, max(h + dt_dx * ((qw - qe) + (qn - qs)) + src, zero)


@njit(inline="always")
def _old_row(a: AnyArray, snap: AnyArray, r: int, b: int, lo_row: int, hi_row: int, nb: int) -> Any:
    """Row r of ``a`` before this step: from the snapshot where another block may have updated it.

    Block b owns rows lo_row..hi_row-1; the snapshot holds rows B-2..B+2 of each boundary B
    between two blocks (``snap[k]`` for the boundary ``bounds[k]``).
    """
    if r < lo_row and b > 0:
        return snap[b, r - lo_row + 2]
    if r >= hi_row and b < nb - 1:
        return snap[b + 1, r - hi_row + 2]
    return a[r]


@njit(cache=True)
def snapshot_rows(
    h: AnyArray, qx: AnyArray, qy: AnyArray, bounds: Any, sh: AnyArray, sqx: AnyArray, sqy: AnyArray
) -> None:
    """Copy rows B-2..B+2 of h, qx, qy at every boundary B = bounds[k] between two blocks."""
    ny = h.shape[0]
    for k in range(1, bounds.shape[0] - 1):
        for j in range(5):
            r = bounds[k] - 2 + j
            if 0 <= r < ny:
                sh[k, j, :] = h[r, :]
                sqx[k, j, :] = qx[r, :]
            if 0 <= r <= ny:
                sqy[k, j, :] = qy[r, :]


@njit(cache=True)
def block_bounds(u0: Any, u1: Any, r0: int, r1: int, bounds: Any) -> int:
    """Split rows r0..r1-1 into ``bounds.shape[0] - 1`` blocks of about equal active cells.

    Fills ``bounds`` (first row of each block, then r1) and returns the number of blocks, fewer
    than asked where there are fewer rows.
    """
    nb = min(bounds.shape[0] - 1, max(r1 - r0, 1))
    total = 0
    for r in range(r0, r1):
        total += u1[r] - u0[r] + 1  # + 1: a row costs something even with an empty span
    bounds[0] = r0
    k = 1
    acc = 0
    for r in range(r0, r1):
        acc += u1[r] - u0[r] + 1
        if k < nb and acc * nb >= total * k and r + 1 < r1:
            bounds[k] = r + 1
            k += 1
    nb = k
    bounds[nb] = r1
    return nb


@njit(inline="always", fastmath=FASTMATH_NO_CONTRACT)
def _level(h: Any, c0: Any, c1: Any, c2: Any, c3: Any, c4: Any, c5: Any, c6: Any, c7: Any) -> int:
    """How many of the (ascending, padded) thresholds c0..c7 the depth h is at or above."""
    return (
        (1 if h >= c0 else 0)
        + (1 if h >= c1 else 0)
        + (1 if h >= c2 else 0)
        + (1 if h >= c3 else 0)
        + (1 if h >= c4 else 0)
        + (1 if h >= c5 else 0)
        + (1 if h >= c6 else 0)
        + (1 if h >= c7 else 0)
    )


@njit(cache=True, parallel=True, fastmath=FASTMATH_NO_CONTRACT, error_model="numpy")
def step_kernel(  # noqa: C901  fused kernel: one pass over the cells per step is the point
    h: AnyArray,
    z: AnyArray,
    qx: AnyArray,
    qy: AnyArray,
    qxb: AnyArray,
    qyb: AnyArray,
    gn2x: AnyArray,
    gn2y: AnyArray,
    dt: Any,
    inv_dx: Any,
    g_dt: Any,
    theta: Any,
    hmin: Any,
    gn2: Any,
    uniform_n: bool,
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
    t_new: Any,
    maxd: AnyArray,
    tmax: AnyArray,
    thr: AnyArray,
    arrival: AnyArray,
    tabove: AnyArray,
    above: AnyArray,
    thr8: AnyArray,
    hmax_row: AnyArray,
    drain_row: Any,
    infil_row: Any,
    nlim: AnyArray,
    nodata_z: Any,
    u0: Any,
    u1: Any,
    v0: Any,
    v1: Any,
    track: bool,
    wlo: Any,
    whi: Any,
    bounds: Any,
    nb: int,
    snap_h: AnyArray,
    snap_qx: AnyArray,
    snap_qy: AnyArray,
    xbuf: AnyArray,
    ybuf: AnyArray,
    fbuf: AnyArray,
    ones: AnyArray,
) -> None:
    """One whole step (fluxes, positivity limiter, continuity, sources, statistics) in one pass.

    The rows ``bounds[b]..bounds[b+1]-1`` of block b are swept in order by one thread, which
    keeps the unlimited fluxes and limiter factors of the last rows in its own small buffers
    (``xbuf[b]``: x faces of 2 rows, ``ybuf[b]``: y faces of 3 rows, ``fbuf[b]``: padded factors of
    3 rows) instead of whole-grid arrays: at row r it computes the x faces of row r, the y faces
    below it and the factors of row r, then updates row r-1, whose inputs are then all known.
    The depths and fluxes of a row are read for the last time before it is updated, so the
    update works in place; rows next to another block come from ``snap_*`` (taken before, see
    :func:`snapshot_rows`), since the other block may already have updated them. A block
    recomputes the fluxes and factors of the row on either side of it (the same bits its
    neighbour computes).

    ``qxb``/``qyb`` hold the boundary faces (grid edges, from the NumPy boundary pass); the
    interior of those arrays is not read. Spans, statistics and sinks: see the module docstring
    and :func:`wet_spans`. ``nlim[r]``: cells of row r whose outflow was limited.
    """
    ny, nx = h.shape
    zero = dt - dt
    nthr = thr.shape[0]
    dt_dx = dt * inv_dx
    # Without sinks or nodata the depth is final after continuity + rain, so the running
    # maximum, its time, the row maximum and the arrival-crossing test join that loop.
    fused = not (has_nodata or has_drain or has_infil)
    # the thresholds padded to MAX_THRESHOLDS with the dtype's largest number (never reached)
    c0, c1, c2, c3 = thr8[0], thr8[1], thr8[2], thr8[3]
    c4, c5, c6, c7 = thr8[4], thr8[5], thr8[6], thr8[7]
    t_old = t_new - dt
    for b in prange(nb):
        lo_row = bounds[b]
        hi_row = bounds[b + 1]
        xb = xbuf[b]
        yb = ybuf[b]
        fb = fbuf[b]
        for r in range(lo_row - 2, hi_row + 1):
            # --- x faces of row r (cells u0..u1-1, faces u0..u1; the grid's edge faces from qxb)
            if r >= lo_row - 1 and 0 <= r < ny:
                hr_ = _old_row(h, snap_h, r, b, lo_row, hi_row, nb)
                qxr = _old_row(qx, snap_qx, r, b, lo_row, hi_row, nb)
                qya = _old_row(qy, snap_qy, r, b, lo_row, hi_row, nb)
                qyb_ = _old_row(qy, snap_qy, r + 1, b, lo_row, hi_row, nb)
                lo = max(u0[r] - 1, 0)
                n = min(u1[r], nx - 1) - lo
                xr = xb[r % 2]
                _x_faces(
                    z[r, lo:], hr_[lo:], qxr[lo:], qya[lo:], qyb_[lo:], gn2x[r, lo:], xr[lo:],
                    n, dt, inv_dx, g_dt, theta, hmin, gn2, uniform_n,
                )  # fmt: skip
                if u0[r] < u1[r]:
                    if u0[r] <= 0:
                        xr[0] = qxb[r, 0]
                    if u1[r] >= nx:
                        xr[nx] = qxb[r, nx]
            # --- y faces f = r+1, between rows r and r+1 (columns v0[f]..v1[f]-1)
            f = r + 1
            if 0 <= f <= ny:
                lo = max(v0[f], 0)
                n = v1[f] - lo
                yf = yb[f % 3]
                if f == 0 or f == ny:
                    for c in range(lo, lo + n):
                        yf[c] = qyb[f, c]
                else:
                    ha = _old_row(h, snap_h, f - 1, b, lo_row, hi_row, nb)
                    hb = _old_row(h, snap_h, f, b, lo_row, hi_row, nb)
                    qa = _old_row(qy, snap_qy, f - 1, b, lo_row, hi_row, nb)
                    qb = _old_row(qy, snap_qy, f, b, lo_row, hi_row, nb)
                    qc = _old_row(qy, snap_qy, f + 1, b, lo_row, hi_row, nb)
                    xa = _old_row(qx, snap_qx, f - 1, b, lo_row, hi_row, nb)
                    xb_ = _old_row(qx, snap_qx, f, b, lo_row, hi_row, nb)
                    _y_faces(
                        z[f - 1, lo:], z[f, lo:], ha[lo:], hb[lo:], qa[lo:], qb[lo:], qc[lo:],
                        xa[lo:], xb_[lo:], gn2y[f, lo:], yf[lo:],
                        n, dt, inv_dx, g_dt, theta, hmin, gn2, uniform_n,
                    )  # fmt: skip
            # --- limiter factors of row r (padded: fb[k][c+1] is the factor of cell c)
            if r >= lo_row - 1 and 0 <= r < ny:
                a0 = max(u0[r], 0)
                hr_ = _old_row(h, snap_h, r, b, lo_row, hi_row, nb)
                cnt = _factor_row(
                    hr_[a0:], xb[r % 2, a0:], yb[r % 3, a0:], yb[(r + 1) % 3, a0:],
                    fb[r % 3, a0 + 1 :], u1[r] - a0, dt_dx,
                )  # fmt: skip
                if lo_row <= r < hi_row:
                    nlim[r] = cnt
            # --- update row u = r-1: all its faces and its neighbours' factors are known
            u = r - 1
            if u < lo_row:
                continue
            a0 = max(u0[u], 0)
            a1 = u1[u]
            n = a1 - a0
            hmb: Any = _bits(zero)  # type: ignore[call-arg]
            cross = 0  # an integer count: a float sum would need reassociation to vectorise
            frow_n = fb[(u - 1) % 3] if u > 0 else ones  # factors of the rows above and below
            frow = fb[u % 3]
            frow_s = fb[(u + 1) % 3] if u < ny - 1 else ones
            yrow_n = yb[u % 3]
            yrow_s = yb[(u + 1) % 3]
            # Row slices from the span's first cell, indexed from 0 (see _x_faces). fp1[i+1]
            # is the factor of cell (u, a0+i); fp1[i], fp1[i+2] its west/east neighbours;
            # fpn/fps the cells north and south.
            hs = h[u, a0:]
            qxn_ = xb[u % 2, a0:]
            qna = yrow_n[a0:]
            qnb = yrow_s[a0:]
            fpn = frow_n[a0 + 1 :]
            fp1 = frow[a0:]
            fps = frow_s[a0 + 1 :]
            qxs = qx[u, a0:]
            qys = qy[u, a0:]
            mxs = maxd[u, a0:]
            tms = tmax[u, a0:]
            # (the rain field is a 1×1 dummy unless used)
            rfs = rain_field[u, a0:] if use_field else rain_field[0, :]
            # The cell loop, in four copies (statistics fused or not, rain field or uniform
            # rain): a load only one case may do, or a choice inside the loop, keeps LLVM from
            # vectorising. The row maximum is an integer maximum of the depths' bits (depths
            # are >= 0, so their bits order as the numbers do): LLVM does not vectorise a float
            # max reduction here.
            if fused:
                if use_field:
                    for i in range(n):
                        qw, qn, hn = _cell(
                            qxn_[i], qxn_[i + 1], qna[i], qnb[i],
                            fp1[i], fp1[i + 1], fp1[i + 2], fpn[i], fps[i], hs[i], dt_dx,
                            rfs[i] * dt,
                        )  # fmt: skip
                        qxs[i] = qw
                        qys[i] = qn
                        hs[i] = hn
                        old = mxs[i]
                        # a threshold the running maximum had not reached (exact: arrival
                        # times are unset exactly there)
                        cross += (
                            1
                            if _level(hn, c0, c1, c2, c3, c4, c5, c6, c7)
                            > _level(old, c0, c1, c2, c3, c4, c5, c6, c7)
                            else 0
                        )
                        if hn > old:  # masked stores: cache lines that do not rise stay clean
                            tms[i] = t_new
                            mxs[i] = hn
                        hmb = max(hmb, _bits(hn))
                else:
                    for i in range(n):
                        qw, qn, hn = _cell(
                            qxn_[i], qxn_[i + 1], qna[i], qnb[i],
                            fp1[i], fp1[i + 1], fp1[i + 2], fpn[i], fps[i], hs[i], dt_dx,
                            rain_dt,
                        )  # fmt: skip
                        qxs[i] = qw
                        qys[i] = qn
                        hs[i] = hn
                        old = mxs[i]
                        # a threshold the running maximum had not reached (exact: arrival
                        # times are unset exactly there)
                        cross += (
                            1
                            if _level(hn, c0, c1, c2, c3, c4, c5, c6, c7)
                            > _level(old, c0, c1, c2, c3, c4, c5, c6, c7)
                            else 0
                        )
                        if hn > old:  # masked stores: cache lines that do not rise stay clean
                            tms[i] = t_new
                            mxs[i] = hn
                        hmb = max(hmb, _bits(hn))
            elif use_field:
                for i in range(n):
                    qw, qn, hn = _cell(
                        qxn_[i], qxn_[i + 1], qna[i], qnb[i],
                        fp1[i], fp1[i + 1], fp1[i + 2], fpn[i], fps[i], hs[i], dt_dx,
                        rfs[i] * dt,
                    )  # fmt: skip
                    qxs[i] = qw
                    qys[i] = qn
                    hs[i] = hn
            else:
                for i in range(n):
                    qw, qn, hn = _cell(
                        qxn_[i], qxn_[i + 1], qna[i], qnb[i],
                        fp1[i], fp1[i + 1], fp1[i + 2], fpn[i], fps[i], hs[i], dt_dx, rain_dt,
                    )  # fmt: skip
                    qxs[i] = qw
                    qys[i] = qn
                    hs[i] = hn
            if n > 0:  # the east face of the span's last cell
                q = qxn_[n]
                qxs[n] = q * (fp1[n] if q > zero else fp1[n + 1])
            # north faces in columns the row above needs but this row's span lacks (flux 0
            # there, since both cells are dry; written so the stored fluxes match a full update)
            for c in range(max(v0[u], 0), min(a0, v1[u])):
                q = yrow_n[c]
                qy[u, c] = q * (frow_n[c + 1] if q > zero else frow[c + 1])
            for c in range(max(a1, v0[u], 0), v1[u]):
                q = yrow_n[c]
                qy[u, c] = q * (frow_n[c + 1] if q > zero else frow[c + 1])
            if u == ny - 1:
                b0 = max(v0[ny], 0)
                qlast = yrow_s[b0:]
                fa = frow[b0 + 1 :]
                fo = ones[b0 + 1 :]
                qout = qy[ny, b0:]
                for i in range(v1[ny] - b0):
                    q = qlast[i]
                    qout[i] = q * (fa[i] if q > zero else fo[i])
            if has_nodata:
                zs = z[u, a0:]
                for i in range(n):
                    hs[i] = zero if zs[i] >= nodata_z else hs[i]
            dsum = 0.0
            if has_drain:
                drs = drain[u, a0:]
                for i in range(n):
                    d = min(drs[i] * dt, hs[i])
                    hs[i] -= d
                    dsum += d
            isum = 0.0
            if has_infil:
                ifs = inf_f[u, a0:]
                ifc = inf_fc[u, a0:]
                ifk = inf_k[u, a0:]
                for i in range(n):
                    cap = ifs[i] * dt
                    fi = min(cap, hs[i])
                    hs[i] -= fi
                    isum += fi
                    used = fi / cap if cap > zero else zero
                    fcap = ifc[i]
                    ifs[i] = fcap + (ifs[i] - fcap) * np.exp(-ifk[i] * dt * used)
            if not fused and nthr > 0:
                for i in range(n):
                    hn = hs[i]
                    cross += (
                        1
                        if _level(hn, c0, c1, c2, c3, c4, c5, c6, c7)
                        > _level(mxs[i], c0, c1, c2, c3, c4, c5, c6, c7)
                        else 0
                    )
            # arrival: only where the running maximum crosses a threshold (rare; scalar loop).
            # The fused loop has already raised the maximum, so there the unset (+inf) arrival
            # times are tested instead, in a helper compiled without fastmath (it reads the
            # infinities).
            if nthr > 0 and cross > 0:
                if fused:
                    _arrivals_row(h, arrival, thr, u, t_new, a0, a1)
                else:
                    for c in range(a0, a1):
                        hn = h[u, c]
                        old = maxd[u, c]
                        for k in range(nthr):
                            if old < thr[k] and hn >= thr[k]:
                                arrival[k, u, c] = t_new
            if not fused:
                for i in range(n):
                    hn = hs[i]
                    old = mxs[i]
                    tms[i] = t_new if hn > old else tms[i]
                    mxs[i] = max(hn, old)
                    hmb = max(hmb, _bits(hn))
            hm: Any = _from_bits(hmb)
            if nthr > 0:
                # time above: one byte per cell says how many thresholds the depth is at or
                # above; only where that count changes (rare) is the step's start time taken
                # off (upward crossing) or added (downward) to the threshold's total, so rows
                # of time-above are not read or written between crossings.
                lvs = above[u, a0:]
                nchg = 0
                for i in range(n):
                    lvl = _level(hs[i], c0, c1, c2, c3, c4, c5, c6, c7)
                    nchg += 1 if lvl != lvs[i] else 0
                if nchg > 0:
                    for i in range(n):
                        lvl = _level(hs[i], c0, c1, c2, c3, c4, c5, c6, c7)
                        old_lvl = np.int64(lvs[i])
                        if lvl > old_lvl:
                            for k in range(old_lvl, lvl):
                                tabove[k, u, a0 + i] -= t_old
                        elif lvl < old_lvl:
                            for k in range(lvl, old_lvl):
                                tabove[k, u, a0 + i] += t_old
                        lvs[i] = np.uint8(lvl)
            hmax_row[u] = hm
            drain_row[u] = dsum
            infil_row[u] = isum
            if track:
                lo = a1
                for i in range(n):
                    if hs[i] > zero:
                        lo = a0 + i
                        break
                hi = lo
                for i in range(n - 1, lo - a0 - 1, -1):
                    if hs[i] > zero:
                        hi = a0 + i + 1
                        break
                wlo[u] = lo if hi > lo else 0
                whi[u] = hi if hi > lo else 0


@njit(cache=True)
def wet_spans(
    wlo: Any,
    whi: Any,
    nx: int,
    u0: Any,
    u1: Any,
    v0: Any,
    v1: Any,
) -> tuple[int, int, int]:
    """Active spans from the wet extents: (active cells, first row, last row + 1 to visit).

    Row r's cells ``u0[r] <= c < u1[r]`` cover the wet extents (``wlo``/``whi``) of rows r-1,
    r and r+1, widened by one column each side: every wet cell and its eight neighbours. The y
    faces between rows r-1 and r (row r of ``qy``) span ``v0[r] <= c < v1[r]``, the union of the
    two rows' spans. A dry row far from water gets the empty span 0, 0.
    """
    ny = wlo.shape[0]
    total = 0
    first = ny
    last = -1
    for r in range(ny):
        lo = nx
        hi = 0
        for rr in range(max(r - 1, 0), min(r + 2, ny)):
            if wlo[rr] < whi[rr]:
                lo = min(lo, wlo[rr] - 1)
                hi = max(hi, whi[rr] + 1)
        if lo < hi:
            u0[r] = max(lo, 0)
            u1[r] = min(hi, nx)
            total += u1[r] - u0[r]
            first = min(first, r)
            last = r
        else:
            u0[r] = 0
            u1[r] = 0
    for r in range(ny + 1):
        lo = nx
        hi = 0
        for rr in range(max(r - 1, 0), min(r + 1, ny)):
            if u0[rr] < u1[rr]:
                lo = min(lo, u0[rr])
                hi = max(hi, u1[rr])
        v0[r] = lo if lo < hi else 0
        v1[r] = hi if lo < hi else 0
    # rows the kernels visit: the row above the first span computes the y faces between them,
    # the row below the last writes the y faces above it
    if last < 0:
        return total, 0, 0
    return total, max(first - 1, 0), min(last + 2, ny)


@njit(cache=True)
def clear_dropped_faces(
    qx: AnyArray,
    qy: AnyArray,
    ou0: Any,
    ou1: Any,
    ov0: Any,
    ov1: Any,
    u0: Any,
    u1: Any,
    v0: Any,
    v1: Any,
) -> None:
    """Zero the stored fluxes on faces the old spans covered and the new ones do not.

    A face outside the new spans lies between two dry cells, so a full update would set its flux
    to 0; zeroing it keeps the stored fluxes equal to a full update's.
    """
    ny = u0.shape[0]
    for r in range(ny):
        if ou0[r] < ou1[r]:
            if u0[r] < u1[r]:  # x faces u0..u1 stay; clear the old ones on either side
                for f in range(ou0[r], min(ou1[r] + 1, u0[r])):
                    qx[r, f] = 0.0
                for f in range(max(ou0[r], u1[r] + 1), ou1[r] + 1):
                    qx[r, f] = 0.0
            else:
                for f in range(ou0[r], ou1[r] + 1):
                    qx[r, f] = 0.0
    for r in range(ny + 1):
        for c in range(ov0[r], min(ov1[r], v0[r])):
            qy[r, c] = 0.0
        for c in range(max(ov0[r], v1[r]), ov1[r]):
            qy[r, c] = 0.0


@njit(cache=True)
def add_source_cells(h: AnyArray, rows: Any, cols: Any, wlo: Any, whi: Any) -> None:
    """Widen the wet extents by the point-source cells that now hold water."""
    for k in range(rows.shape[0]):
        r = rows[k]
        c = cols[k]
        if h[r, c] > 0:
            if wlo[r] < whi[r]:
                wlo[r] = min(wlo[r], c)
                whi[r] = max(whi[r], c + 1)
            else:
                wlo[r] = c
                whi[r] = c + 1


@njit(cache=True, parallel=True)
def wet_extents(h: AnyArray, wlo: Any, whi: Any) -> None:
    """First and last+1 column holding water (h > 0) in each row (0, 0 for a dry row)."""
    ny, nx = h.shape
    for r in prange(ny):
        lo = nx
        for c in range(nx):
            if h[r, c] > 0:
                lo = c
                break
        hi = lo
        for c in range(nx - 1, lo - 1, -1):
            if h[r, c] > 0:
                hi = c + 1
                break
        wlo[r] = lo if hi > lo else 0
        whi[r] = hi if hi > lo else 0


class NumbaBackend:
    """The parallel Numba backend (CPU).

    With :attr:`StepParams.track_wet` only the active span of each row is computed (see
    :func:`wet_spans`): the kernels keep the wet extent of every row up to date, point sources
    widen it, and faces that drop out of the spans are zeroed. The answer is the same as a full
    update's (a face between two dry cells carries no flow whatever its old flux); only the dry
    cells far from water are skipped.
    """

    name = "numba"

    def __init__(self, blocks: int | None = None) -> None:
        # rows are swept in this many blocks (default: one per thread, one for a small grid);
        # the answer does not depend on it (tests use it to check exactly that)
        self.blocks = blocks
        self._bounds: AnyArray = np.zeros(2, dtype=np.int64)
        self._xbuf: AnyArray = np.zeros((1, 2, 1))
        self._ybuf: AnyArray = np.zeros((1, 3, 1))
        self._fbuf: AnyArray = np.ones((1, 3, 1))
        self._ones: AnyArray = np.ones(1)
        self._snap: tuple[AnyArray, AnyArray, AnyArray] = (self._ones,) * 3
        self._viol: AnyArray | None = None
        self._rows: AnyArray | None = None
        self._drain_rows: AnyArray | None = None
        self._infil_rows: AnyArray | None = None
        self._gn2_of: AnyArray | None = None
        self._gn2: Any = 0.0
        self._uniform_n = False
        self._full: tuple[AnyArray, AnyArray, AnyArray, AnyArray] | None = None
        self._bufs: list[tuple[AnyArray, AnyArray, AnyArray, AnyArray]] = []
        self._thr8_of: tuple[AnyArray, AnyArray] | None = None
        self._spans: tuple[AnyArray, AnyArray, AnyArray, AnyArray] | None = None
        self._wlo: AnyArray | None = None
        self._whi: AnyArray | None = None
        self._extents_valid = False

    def _thr8(self, s: State) -> AnyArray:
        """The state's thresholds padded to MAX_THRESHOLDS with the dtype's largest number."""
        if self._thr8_of is None or self._thr8_of[0] is not s.thresholds:
            ft = s.thresholds.dtype
            padded = np.full(MAX_THRESHOLDS, np.finfo(ft).max, dtype=ft)
            padded[: s.thresholds.shape[0]] = s.thresholds
            self._thr8_of = (s.thresholds, padded)
        return self._thr8_of[1]

    def _check_uniform_n(self, state: State) -> None:
        """Whether every face has the same g·n² (a scalar Manning's n): then pass the scalar."""
        gx, gy = state.gn2x, state.gn2y
        g0 = gx.flat[0] if gx.size else gy.flat[0]
        self._uniform_n = bool(np.all(gx == g0) and np.all(gy == g0))
        self._gn2 = state.h.dtype.type(g0)
        self._gn2_of = gx

    def prepare(self, state: State) -> None:
        """Allocate the per-row scratch arrays and the span buffers."""
        ny, nx = state.h.shape
        self._viol = np.zeros(ny, dtype=state.h.dtype)
        self._rows = np.zeros(ny, dtype=state.h.dtype)
        self._drain_rows = np.zeros(ny, dtype=np.float64)
        self._infil_rows = np.zeros(ny, dtype=np.float64)
        i64 = np.int64
        self._full = (
            np.zeros(ny, dtype=i64),
            np.full(ny, nx, dtype=i64),
            np.zeros(ny + 1, dtype=i64),
            np.full(ny + 1, nx, dtype=i64),
        )
        self._bufs = [
            tuple(np.zeros(n, dtype=i64) for n in (ny, ny, ny + 1, ny + 1))  # type: ignore[misc]
            for _ in range(2)
        ]
        self._spans = self._full
        self._wlo = np.zeros(ny, dtype=i64)
        self._whi = np.zeros(ny, dtype=i64)
        self._extents_valid = False
        self._alloc_blocks(state, numba.config.NUMBA_NUM_THREADS)  # type: ignore[attr-defined]

    def _alloc_blocks(self, state: State, blocks: int) -> None:
        """Allocate, for ``blocks`` blocks, the fused step's row buffers and the snapshots of the
        rows around each boundary between blocks (as they were before the step)."""
        nx = state.h.shape[1]
        nt = max(blocks, self.blocks or 1)
        ft = state.h.dtype
        i64 = np.int64
        self._bounds = np.zeros(nt + 1, dtype=i64)
        self._xbuf = np.zeros((nt, 2, nx + 1), dtype=ft)
        self._ybuf = np.zeros((nt, 3, nx), dtype=ft)
        self._fbuf = np.ones((nt, 3, nx + 2), dtype=ft)
        self._ones = np.ones(nx + 2, dtype=ft)
        self._snap = (
            np.zeros((nt + 1, 5, nx), dtype=ft),
            np.zeros((nt + 1, 5, nx + 1), dtype=ft),
            np.zeros((nt + 1, 5, nx), dtype=ft),
        )

    def sync(self, state: State) -> None:
        """Host arrays are the state; nothing to do."""

    def state_changed(self, state: State) -> None:
        """Depths were written between steps: find the wet extents anew before the next step
        (water put into a dry cell far from the others would otherwise never be computed)."""
        self._extents_valid = False

    def _track_spans(self, s: State, p: StepParams) -> tuple[int, int, int, Any]:
        """This step's spans from the wet extents (point-source cells of the last step included);
        zero the faces dropped."""
        assert self._wlo is not None and self._whi is not None and self._spans is not None
        wlo, whi = self._wlo, self._whi
        if not self._extents_valid:
            wet_extents(s.h, wlo, whi)
            self._extents_valid = True
        new = self._bufs[0] if self._spans is not self._bufs[0] else self._bufs[1]
        u0, u1, v0, v1 = new
        active, ra, rb = wet_spans(wlo, whi, s.h.shape[1], u0, u1, v0, v1)
        ou0, ou1, ov0, ov1 = self._spans
        clear_dropped_faces(s.qx, s.qy, ou0, ou1, ov0, ov1, u0, u1, v0, v1)
        self._spans = new
        return int(active), int(ra), int(rb), new

    def step(self, state: State, params: StepParams) -> StepResult:
        """Advance ``state`` by one step."""
        s, p = state, params
        if self._viol is None or self._viol.shape[0] != s.h.shape[0]:
            self.prepare(s)
        assert self._viol is not None and self._rows is not None
        assert self._drain_rows is not None and self._infil_rows is not None
        assert self._full is not None and self._wlo is not None and self._whi is not None
        if self._gn2_of is not s.gn2x:
            self._check_uniform_n(s)
        ft = s.h.dtype.type
        dt, inv_dx = ft(p.dt), ft(1.0 / p.dx)
        ny = s.h.shape[0]
        if p.track_wet:
            active, ra, rb, (u0, u1, v0, v1) = self._track_spans(s, p)
        else:
            u0, u1, v0, v1 = self._spans = self._full
            active, ra, rb = s.h.size, 0, ny
            self._extents_valid = False
        # Boundary faces first (perimeter only, NumPy): the limiter needs every face. With all
        # edges closed they stay 0 in the scratch buffers (no kernel writes to those arrays).
        any_open = any(p.bc_kind)
        if any_open:
            boundary_fluxes(s, p)
        threads = numba.get_num_threads()
        small = active < SMALL_GRID and threads > 1
        if small:
            numba.set_num_threads(1)  # waking threads costs more than a small grid's work
        nb = self.blocks or (1 if small else threads)
        if nb > self._xbuf.shape[0]:
            self._alloc_blocks(s, nb)
        nb = block_bounds(u0, u1, ra, rb, self._bounds[: nb + 1])
        sh, sqx, sqy = self._snap
        if nb > 1:
            snapshot_rows(s.h, s.qx, s.qy, self._bounds[: nb + 1], sh, sqx, sqy)
        # the limited fluxes are written over the old ones: s.qx/s.qy stay current
        step_kernel(
            s.h, s.z, s.qx, s.qy, s.qx_new, s.qy_new, s.gn2x, s.gn2y,
            dt, inv_dx, ft(GRAVITY) * dt, ft(p.theta), ft(p.h_flow_min), self._gn2, self._uniform_n,
            s.rain_field, ft(p.rain_rate) * dt, p.use_rain_field,
            s.drain, p.has_drain, s.infil_f, s.infil_fc, s.infil_k, p.has_infil, p.has_nodata,
            ft(p.t_new), s.max_depth, s.time_of_max, s.thresholds, s.arrival, s.time_above,
            s.above, self._thr8(s),
            self._rows, self._drain_rows, self._infil_rows, self._viol, ft(NODATA_Z),
            u0, u1, v0, v1, p.track_wet, self._wlo, self._whi,
            self._bounds, nb, sh, sqx, sqy, self._xbuf, self._ybuf, self._fbuf, self._ones,
        )  # fmt: skip
        if small:
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
        # the kernels wrote the per-row statistics of rows ra..rb-1 only (the others are dry)
        rows = slice(ra, rb)
        busy = rb > ra
        res = StepResult(
            h_max=float(self._rows[rows].max()) if busy else 0.0,
            sources=0.0,
            drained=float(self._drain_rows[rows].sum()) if p.has_drain else 0.0,
            infiltrated=float(self._infil_rows[rows].sum()) if p.has_infil else 0.0,
            outflow=outflow,
            limited=busy and bool(self._viol[rows].max() > 0),
            active_cells=active,
        )
        if p.src_rows.size:
            # point sources enter after the flow update (see add_point_sources); the wet
            # extents the next step's spans come from must hold their cells
            res = with_point_sources(s, p, res)
            if p.track_wet:
                add_source_cells(s.h, p.src_rows, p.src_cols, self._wlo, self._whi)
        return res


register_backend("numba", NumbaBackend)
