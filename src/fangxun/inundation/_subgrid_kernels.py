"""Numba kernels of the subgrid model: table building and the local inertial step.

Plain loops over plain arrays (no fastmath: the NumPy twin in :mod:`._subgrid_reference` must
agree to round-off, and NaN/inf-free tables are compared exactly in tests). The meaning of each
table and of the step is documented in :mod:`.subgrid`; here only the arithmetic.

Table layout (float64 while building; the model casts to its dtype):

* cells ``(ny, nx)``: ``zmin``, ``zmax``, ``dl`` (level spacing), ``afull`` (storage area, m²),
  ``arain`` (area that catches rain, m²); ``(ny, nx, N)``: ``vol`` (m³) and ``area`` (wet m²) at
  the levels ``zmin + k·dl``;
* faces ``(ny, nx + 1)`` (x) and ``(ny + 1, nx)`` (y): ``zmin``, ``zmax``, ``dl``, ``slope``
  (d h_rep / d level above ``zmax``); ``(…, N)``: ``hrep`` (conveyance depth, m), ``wet``
  (wet fraction of the face width) and ``depth`` (mean depth = wet cross-section / width, m).
  A closed face has ``zmin = zmax = CLOSED_Z`` and carries nothing.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ._backend import NODATA_Z
from ._kernels import implicit_friction

CLOSED_Z = NODATA_Z
"""Bed level (m) that marks a closed face or an inactive cell (above any water level)."""

FIVE_THIRDS = 5.0 / 3.0
THREE_FIFTHS = 3.0 / 5.0


# ---------------------------------------------------------------------------------- tables


@njit(cache=True)
def build_cell_tables(
    zf: np.ndarray,  # (nyf, nxf) fine elevation, padded to a multiple of r
    storage: np.ndarray,  # (nyf, nxf) bool: holds water (not nodata, not blocked)
    catches: np.ndarray,  # (nyf, nxf) bool: catches rain (not nodata)
    r: int,
    n_levels: int,
    a_fine: float,
    zmin: np.ndarray,
    zmax: np.ndarray,
    dl: np.ndarray,
    afull: np.ndarray,
    arain: np.ndarray,
    vol: np.ndarray,
    area: np.ndarray,
) -> None:
    """Fill the cell tables (see the module docstring) from the fine pixels of each cell."""
    ny, nx = zmin.shape
    for i in range(ny):
        for j in range(nx):
            lo = np.inf
            hi = -np.inf
            n_store = 0
            n_rain = 0
            for a in range(i * r, (i + 1) * r):
                for b in range(j * r, (j + 1) * r):
                    if catches[a, b]:
                        n_rain += 1
                    if storage[a, b]:
                        n_store += 1
                        z = zf[a, b]
                        lo = min(lo, z)
                        hi = max(hi, z)
            if n_store == 0:
                zmin[i, j] = CLOSED_Z
                zmax[i, j] = CLOSED_Z
                dl[i, j] = 0.0
                afull[i, j] = 0.0
                arain[i, j] = 0.0
                for k in range(n_levels):
                    vol[i, j, k] = 0.0
                    area[i, j, k] = 0.0
                continue
            zmin[i, j] = lo
            zmax[i, j] = hi
            step = (hi - lo) / (n_levels - 1)
            dl[i, j] = step
            afull[i, j] = n_store * a_fine
            arain[i, j] = n_rain * a_fine
            for k in range(n_levels):
                level = hi if k == n_levels - 1 else lo + k * step
                v = 0.0
                w = 0
                for a in range(i * r, (i + 1) * r):
                    for b in range(j * r, (j + 1) * r):
                        if storage[a, b] and zf[a, b] < level:
                            v += level - zf[a, b]
                            w += 1
                vol[i, j, k] = v * a_fine
                area[i, j, k] = w * a_fine


@njit(cache=True)
def _row_depth(level: float, beds: np.ndarray, row: int, n: int) -> float:
    """Conveyance depth (m) of one fine row of faces in series at ``level`` (m).

    Steady Manning flow through segments in series loses head as Σ q²n²/h^(10/3): the row
    carries what a uniform depth (mean h^(-10/3))^(-3/10) carries, 0 if any face is dry.
    """
    acc = 0.0
    for p in range(n):
        d = level - beds[row, p]
        if not d > 0.0:
            return 0.0
        acc += d ** (-10.0 / 3.0)
    depth: float = (acc / n) ** (-3.0 / 10.0)
    return depth


@njit(cache=True)
def _fill_face(
    beds: np.ndarray,  # (rows, positions) fine-face beds, inf where closed
    row_len: np.ndarray,  # faces counted per row
    n_levels: int,
    out_zmin: np.ndarray,
    out_zmax: np.ndarray,
    out_dl: np.ndarray,
    out_slope: np.ndarray,
    out_h: np.ndarray,
    out_wet: np.ndarray,
    out_depth: np.ndarray,
    i: int,
    j: int,
) -> None:
    """Tables of one face from the beds of its fine faces: rows across the face in parallel,
    the faces along each row in series (:func:`_row_depth`)."""
    n_rows = 0
    n_beds = 0
    n_open_rows = 0
    lo = np.inf
    hi = -np.inf
    for a in range(beds.shape[0]):
        if row_len[a] == 0:
            continue
        n_rows += 1
        n_beds += row_len[a]
        crest = -np.inf
        for p in range(row_len[a]):
            crest = max(crest, beds[a, p])
        if crest < np.inf:
            n_open_rows += 1
            lo = min(lo, crest)
            hi = max(hi, crest)
    if n_open_rows == 0:
        out_zmin[i, j] = CLOSED_Z
        out_zmax[i, j] = CLOSED_Z
        out_dl[i, j] = 0.0
        out_slope[i, j] = 0.0
        for k in range(n_levels):
            out_h[i, j, k] = 0.0
            out_wet[i, j, k] = 0.0
            out_depth[i, j, k] = 0.0
        return
    step = (hi - lo) / (n_levels - 1)
    out_zmin[i, j] = lo
    out_zmax[i, j] = hi
    out_dl[i, j] = step
    out_slope[i, j] = (n_open_rows / n_rows) ** THREE_FIFTHS
    for k in range(n_levels):
        level = hi if k == n_levels - 1 else lo + k * step
        conv = 0.0
        dsum = 0.0
        w = 0
        for a in range(beds.shape[0]):
            if row_len[a] == 0:
                continue
            hr = _row_depth(level, beds, a, row_len[a])
            if hr > 0.0:
                conv += hr**FIVE_THIRDS
            for p in range(row_len[a]):
                d = level - beds[a, p]
                if d > 0.0:
                    dsum += d
                    w += 1
        out_h[i, j, k] = (conv / n_rows) ** THREE_FIFTHS
        out_wet[i, j, k] = w / n_beds
        out_depth[i, j, k] = dsum / n_beds


@njit(cache=True)
def build_x_face_tables(
    zf: np.ndarray,
    storage: np.ndarray,
    offset: int,  # the strip starts ``offset`` fine faces before the coarse face line
    along: int,  # fine faces along each row of the strip
    cell_active: np.ndarray,  # (ny, nx) bool
    r: int,
    n_levels: int,
    zmin: np.ndarray,
    zmax: np.ndarray,
    dl: np.ndarray,
    slope: np.ndarray,
    hrep: np.ndarray,
    wet: np.ndarray,
    depth: np.ndarray,
) -> None:
    """Tables of the x faces (between columns) from the fine faces of the strip across each.

    The strip of coarse face ``j`` runs from the centre of cell ``j − 1`` to the centre of cell
    ``j``: fine faces between fine columns ``c`` and ``c + 1`` for ``c`` in
    ``[j·r − r + r//2, j·r + r//2)``, in every fine row of the coarse row. A fine face's bed is
    the higher of its two pixels (as the regular model's ``max(z)``); a blocked or nodata pixel
    closes it; a pixel outside the grid takes the inside one's bed (boundary faces).
    """
    nxf = zf.shape[1]
    ny, nxp1 = zmin.shape
    nx = nxp1 - 1
    beds = np.empty((r, r))
    row_len = np.zeros(r, dtype=np.int64)
    for i in range(ny):
        for j in range(nxp1):
            ok = (j == 0 or cell_active[i, j - 1]) and (j == nx or cell_active[i, j])
            for a in range(i * r, (i + 1) * r):
                n = 0
                if ok:
                    for c in range(j * r - offset, j * r - offset + along):
                        in_a = 0 <= c < nxf
                        in_b = 0 <= c + 1 < nxf
                        if not in_a and not in_b:
                            continue
                        bed = np.inf
                        if in_a and in_b:
                            if storage[a, c] and storage[a, c + 1]:
                                bed = max(zf[a, c], zf[a, c + 1])
                        elif in_a:
                            if storage[a, c]:
                                bed = zf[a, c]
                        elif storage[a, c + 1]:
                            bed = zf[a, c + 1]
                        beds[a - i * r, n] = bed
                        n += 1
                row_len[a - i * r] = n
            _fill_face(beds, row_len, n_levels, zmin, zmax, dl, slope, hrep, wet, depth, i, j)


@njit(cache=True)
def build_y_face_tables(
    zf: np.ndarray,
    storage: np.ndarray,
    offset: int,  # the strip starts ``offset`` fine faces before the coarse face line
    along: int,  # fine faces along each row of the strip
    cell_active: np.ndarray,
    r: int,
    n_levels: int,
    zmin: np.ndarray,
    zmax: np.ndarray,
    dl: np.ndarray,
    slope: np.ndarray,
    hrep: np.ndarray,
    wet: np.ndarray,
    depth: np.ndarray,
) -> None:
    """Tables of the y faces (between rows): :func:`build_x_face_tables` transposed."""
    nyf = zf.shape[0]
    nyp1, nx = zmin.shape
    ny = nyp1 - 1
    beds = np.empty((r, r))
    row_len = np.zeros(r, dtype=np.int64)
    for i in range(nyp1):
        for j in range(nx):
            ok = (i == 0 or cell_active[i - 1, j]) and (i == ny or cell_active[i, j])
            for b in range(j * r, (j + 1) * r):
                n = 0
                if ok:
                    for c in range(i * r - offset, i * r - offset + along):
                        in_a = 0 <= c < nyf
                        in_b = 0 <= c + 1 < nyf
                        if not in_a and not in_b:
                            continue
                        bed = np.inf
                        if in_a and in_b:
                            if storage[c, b] and storage[c + 1, b]:
                                bed = max(zf[c, b], zf[c + 1, b])
                        elif in_a:
                            if storage[c, b]:
                                bed = zf[c, b]
                        elif storage[c + 1, b]:
                            bed = zf[c + 1, b]
                        beds[b - j * r, n] = bed
                        n += 1
                row_len[b - j * r] = n
            _fill_face(beds, row_len, n_levels, zmin, zmax, dl, slope, hrep, wet, depth, i, j)


# ---------------------------------------------------------------------------------- lookups


@njit(inline="always")
def face_depth(level, zmin, zmax, dl, hrep, i, j, slope):  # type: ignore[no-untyped-def]
    """Conveyance depth (m) of face (i, j) at water level ``level`` (m) from its tables."""
    n = hrep.shape[2]
    if level <= zmin:
        return level * 0.0
    if level >= zmax:
        return hrep[i, j, n - 1] + slope * (level - zmax)
    x = (level - zmin) / dl
    k = int(x)
    if k > n - 2:
        k = n - 2
    w = x - k
    return hrep[i, j, k] + w * (hrep[i, j, k + 1] - hrep[i, j, k])


@njit(inline="always")
def cell_level(v, zmin, zmax, dl, vol, i, j, afull):  # type: ignore[no-untyped-def]
    """Water level (m) of cell (i, j) holding volume ``v`` (m³) from its tables."""
    n = vol.shape[2]
    if v <= 0.0:
        return zmin
    if v >= vol[i, j, n - 1]:
        return zmax + (v - vol[i, j, n - 1]) / afull
    lo = 0
    hi = n - 1
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if vol[i, j, mid] <= v:
            lo = mid
        else:
            hi = mid
    return zmin + dl * (lo + (v - vol[i, j, lo]) / (vol[i, j, lo + 1] - vol[i, j, lo]))


@njit(inline="always")
def cell_wet_area(level, zmin, zmax, dl, area, i, j, afull):  # type: ignore[no-untyped-def]
    """Wet area (m²) of cell (i, j) at water level ``level`` (m) from its tables."""
    n = area.shape[2]
    if level <= zmin:
        return afull * 0.0
    if level >= zmax:
        return afull
    x = (level - zmin) / dl
    k = int(x)
    if k > n - 2:
        k = n - 2
    w = x - k
    return area[i, j, k] + w * (area[i, j, k + 1] - area[i, j, k])


@njit(cache=True)
def levels_from_volumes(
    v: np.ndarray,
    zmin: np.ndarray,
    zmax: np.ndarray,
    dl: np.ndarray,
    vol: np.ndarray,
    afull: np.ndarray,
    out: np.ndarray,
) -> None:
    """``out[i, j]`` = level of cell (i, j) holding ``v[i, j]`` (inactive cells: their zmin)."""
    ny, nx = v.shape
    for i in range(ny):
        for j in range(nx):
            if afull[i, j] > 0.0:
                out[i, j] = cell_level(
                    v[i, j], zmin[i, j], zmax[i, j], dl[i, j], vol, i, j, afull[i, j]
                )
            else:
                out[i, j] = zmin[i, j]


# ---------------------------------------------------------------------------------- the step


@njit(inline="always")
def _flux(q, q_prev, q_next, q_perp, eta_lo, eta_hi, h_f, gn2, dt, dx, theta, hmin, g):  # type: ignore[no-untyped-def]
    """New unit-width discharge on one face (the regular model's arithmetic, h_f from tables)."""
    if not h_f > hmin:
        return q * 0.0
    slope = (eta_hi - eta_lo) / dx
    th = 1.0 if q * slope > 0 else theta
    th = q * 0.0 + th
    q_smooth = th * q + (1.0 - th) * 0.5 * (q_prev + q_next)
    h_c = max(h_f, hmin)
    # friction implicit in the new discharge, as the regular model (``_kernels.implicit_friction``)
    b = dt * gn2 / (h_c * h_c * np.cbrt(h_c))
    return implicit_friction(q_smooth - g * h_f * dt * slope, b, q_perp, q * 0.0 + 1.0)


@njit(cache=True)
def subgrid_step(  # type: ignore[no-untyped-def]  # noqa: C901  fused kernel: one pass per step
    v,
    eta,  # (ny, nx) volume m³ (state), level m (derived, updated here)
    qx,
    qy,
    qxn,
    qyn,  # old and new unit-width fluxes
    gn2x,
    gn2y,
    c_zmin,
    c_zmax,
    c_dl,
    c_vol,
    c_area,
    c_afull,
    c_arain,
    x_zmin,
    x_zmax,
    x_dl,
    x_h,
    x_slope,
    y_zmin,
    y_zmax,
    y_dl,
    y_h,
    y_slope,
    rain_field,
    use_field,
    rain_rate,
    drain,
    has_drain,
    infil_f,
    infil_fc,
    infil_k,
    has_infil,
    bc_kind,  # (4,) int: north, south, west, east (0 closed, 1 open)
    max_eta,
    time_of_max,
    dt,
    dx,
    theta,
    hmin,
    t_new,
):
    """One subgrid step without the point sources (they enter after it; see :mod:`.subgrid`).

    Returns (largest depth above a cell's lowest pixel m, outflow m³, drained m³, infiltrated
    m³, limited).
    """
    ny, nx = v.shape
    ft = v.dtype.type
    g = ft(9.81)
    dt_ = ft(dt)
    dx_ = ft(dx)
    th_ = ft(theta)
    hmin_ = ft(hmin)
    quarter = ft(0.25)
    zero_ = ft(0.0)
    rr = ft(rain_rate)
    # 0. the window of wet cells (V > 0) widened by one; without rain nothing outside it can
    # change (its faces lie between dry cells), so every loop below runs on the window only.
    if use_field or rr > zero_:
        r0, r1, c0, c1 = 0, ny - 1, 0, nx - 1
    else:
        r0, r1, c0, c1 = ny, -1, nx, -1
        for i in range(ny):
            for j in range(nx):
                if v[i, j] > zero_:
                    r0 = min(r0, i)
                    r1 = max(r1, i)
                    c0 = min(c0, j)
                    c1 = max(c1, j)
        if r1 < 0:  # all dry, no rain: nothing moves
            qxn[:, :] = zero_
            qyn[:, :] = zero_
            return 0.0, 0.0, 0.0, 0.0, False
        r0, r1 = max(r0 - 1, 0), min(r1 + 1, ny - 1)
        c0, c1 = max(c0 - 1, 0), min(c1 + 1, nx - 1)
        if r0 > 0 or c0 > 0 or r1 < ny - 1 or c1 < nx - 1:
            qxn[:, :] = zero_
            qyn[:, :] = zero_
    # 1. interior faces. Between two dry cells the limiter would zero any flux (it leaves a
    # cell that holds nothing), so those faces are set to 0 directly: same answer, and dry
    # parts of a district cost a compare per face.
    for i in range(r0, r1 + 1):
        for j in range(max(c0 + 1, 1), c1 + 1):
            if v[i, j - 1] <= zero_ and v[i, j] <= zero_:
                qxn[i, j] = zero_
                continue
            lvl = max(eta[i, j - 1], eta[i, j])
            h_f = face_depth(lvl, x_zmin[i, j], x_zmax[i, j], x_dl[i, j], x_h, i, j, x_slope[i, j])
            q_perp = quarter * ((qy[i, j - 1] + qy[i, j]) + (qy[i + 1, j - 1] + qy[i + 1, j]))
            qxn[i, j] = _flux(
                qx[i, j],
                qx[i, j - 1],
                qx[i, j + 1],
                q_perp,
                eta[i, j - 1],
                eta[i, j],
                h_f,
                gn2x[i, j],
                dt_,
                dx_,
                th_,
                hmin_,
                g,
            )
    for i in range(max(r0 + 1, 1), r1 + 1):
        for j in range(c0, c1 + 1):
            if v[i - 1, j] <= zero_ and v[i, j] <= zero_:
                qyn[i, j] = zero_
                continue
            lvl = max(eta[i - 1, j], eta[i, j])
            h_f = face_depth(lvl, y_zmin[i, j], y_zmax[i, j], y_dl[i, j], y_h, i, j, y_slope[i, j])
            q_perp = quarter * ((qx[i - 1, j] + qx[i - 1, j + 1]) + (qx[i, j] + qx[i, j + 1]))
            qyn[i, j] = _flux(
                qy[i, j],
                qy[i - 1, j],
                qy[i + 1, j],
                q_perp,
                eta[i - 1, j],
                eta[i, j],
                h_f,
                gn2y[i, j],
                dt_,
                dx_,
                th_,
                hmin_,
                g,
            )
    # 2. boundary faces: closed or free overfall at critical depth
    for j in range(nx):
        for side in range(2):
            fi = 0 if side == 0 else ny
            ci = 0 if side == 0 else ny - 1
            sign = ft(-1.0) if side == 0 else ft(1.0)
            val = ft(0.0)
            if bc_kind[side] == 1:
                hb = face_depth(
                    eta[ci, j],
                    y_zmin[fi, j],
                    y_zmax[fi, j],
                    y_dl[fi, j],
                    y_h,
                    fi,
                    j,
                    y_slope[fi, j],
                )
                if hb > hmin_:
                    val = sign * (hb * np.sqrt(g * hb))
            qyn[fi, j] = val
    for i in range(ny):
        for side in range(2):
            fj = 0 if side == 0 else nx
            cj = 0 if side == 0 else nx - 1
            sign = ft(-1.0) if side == 0 else ft(1.0)
            val = ft(0.0)
            if bc_kind[2 + side] == 1:
                hb = face_depth(
                    eta[i, cj],
                    x_zmin[i, fj],
                    x_zmax[i, fj],
                    x_dl[i, fj],
                    x_h,
                    i,
                    fj,
                    x_slope[i, fj],
                )
                if hb > hmin_:
                    val = sign * (hb * np.sqrt(g * hb))
            qxn[i, fj] = val
    # 3. positivity limiter: one factor per cell
    factor = np.ones((ny, nx), dtype=v.dtype)
    limited = False
    scale = dt_ * dx_
    for i in range(r0, r1 + 1):
        for j in range(c0, c1 + 1):
            out = (
                max(qxn[i, j + 1], ft(0.0))
                + max(-qxn[i, j], ft(0.0))
                + max(qyn[i + 1, j], ft(0.0))
                + max(-qyn[i, j], ft(0.0))
            ) * scale
            if out > v[i, j]:
                factor[i, j] = v[i, j] / out
                limited = True
    if limited:
        for i in range(r0, r1 + 1):
            for j in range(c0, c1 + 2):
                q = qxn[i, j]
                if q > 0 and j > 0:
                    qxn[i, j] = q * factor[i, j - 1]
                elif q < 0 and j < nx:
                    qxn[i, j] = q * factor[i, j]
        for i in range(r0, r1 + 2):
            for j in range(c0, c1 + 1):
                q = qyn[i, j]
                if q > 0 and i > 0:
                    qyn[i, j] = q * factor[i - 1, j]
                elif q < 0 and i < ny:
                    qyn[i, j] = q * factor[i, j]
    outflow = 0.0
    for j in range(nx):
        outflow += float(qyn[ny, j]) - float(qyn[0, j])
    for i in range(ny):
        outflow += float(qxn[i, nx]) - float(qxn[i, 0])
    outflow *= float(dt_) * float(dx_)
    # 4. continuity, rain, sinks on the wet area, maxima
    drained = 0.0
    infiltrated = 0.0
    h_max = 0.0
    t_n = ft(t_new)
    for i in range(r0, r1 + 1):
        for j in range(c0, c1 + 1):
            if not c_afull[i, j] > 0.0:
                continue
            div = (qxn[i, j] - qxn[i, j + 1]) + (qyn[i, j] - qyn[i + 1, j])
            rate = rain_field[i, j] if use_field else rr
            vn = v[i, j] + scale * div
            vn = vn + rate * dt_ * c_arain[i, j]
            vn = max(vn, ft(0.0))
            if has_drain or has_infil:
                lvl = cell_level(
                    vn, c_zmin[i, j], c_zmax[i, j], c_dl[i, j], c_vol, i, j, c_afull[i, j]
                )
                aw = cell_wet_area(
                    lvl, c_zmin[i, j], c_zmax[i, j], c_dl[i, j], c_area, i, j, c_afull[i, j]
                )
                if has_drain:
                    d = min(drain[i, j] * dt_ * aw, vn)
                    vn = vn - d
                    drained += float(d)
                if has_infil:
                    f = infil_f[i, j]
                    cap = f * dt_ * aw
                    inf = min(cap, vn)
                    vn = vn - inf
                    infiltrated += float(inf)
                    used = inf / cap if cap > 0 else ft(0.0)
                    infil_f[i, j] = infil_fc[i, j] + (f - infil_fc[i, j]) * np.exp(
                        -infil_k[i, j] * dt_ * used
                    )
            v[i, j] = vn
            lvl = cell_level(vn, c_zmin[i, j], c_zmax[i, j], c_dl[i, j], c_vol, i, j, c_afull[i, j])
            eta[i, j] = lvl
            depth = float(lvl - c_zmin[i, j])
            if depth > h_max:
                h_max = depth
            if lvl > max_eta[i, j]:
                max_eta[i, j] = lvl
                time_of_max[i, j] = t_n
    return h_max, outflow, drained, infiltrated, limited
