"""Plain NumPy twin of :mod:`._subgrid_kernels`: the ``numpy`` backend of the subgrid model and
the reference in tests. Written for clarity (one array expression per part of a step, the
tables cell by cell); the Numba kernels must agree with it to round-off.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._backend import GRAVITY
from ._reference import implicit_friction
from ._subgrid_kernels import CLOSED_Z, FIVE_THIRDS, THREE_FIFTHS

Arr = np.ndarray[Any, Any]


# ---------------------------------------------------------------------------------- tables


def _levels(lo: float, hi: float, n: int) -> Arr:
    """The table levels: ``lo + k·(hi − lo)/(n − 1)``, the last exactly ``hi``."""
    step = (hi - lo) / (n - 1)
    lv = lo + np.arange(n) * step
    lv[-1] = hi
    return lv


def cell_tables(
    zf: Arr, storage: Arr, catches: Arr, r: int, n_levels: int, a_fine: float
) -> dict[str, Arr]:
    """Cell tables (keys as in :mod:`._subgrid_kernels`), one cell at a time."""
    ny, nx = zf.shape[0] // r, zf.shape[1] // r
    out = {
        "zmin": np.full((ny, nx), CLOSED_Z),
        "zmax": np.full((ny, nx), CLOSED_Z),
        "dl": np.zeros((ny, nx)),
        "afull": np.zeros((ny, nx)),
        "arain": np.zeros((ny, nx)),
        "vol": np.zeros((ny, nx, n_levels)),
        "area": np.zeros((ny, nx, n_levels)),
    }
    for i in range(ny):
        for j in range(nx):
            blk = (slice(i * r, (i + 1) * r), slice(j * r, (j + 1) * r))
            z = zf[blk][storage[blk]]
            if z.size == 0:
                continue
            lo, hi = float(z.min()), float(z.max())
            lv = _levels(lo, hi, n_levels)
            d = lv[:, None] - z[None, :]
            out["zmin"][i, j], out["zmax"][i, j] = lo, hi
            out["dl"][i, j] = (hi - lo) / (n_levels - 1)
            out["afull"][i, j] = z.size * a_fine
            out["arain"][i, j] = int(catches[blk].sum()) * a_fine
            out["vol"][i, j] = np.where(d > 0, d, 0.0).sum(axis=1) * a_fine
            out["area"][i, j] = (d > 0).sum(axis=1) * a_fine
    return out


def _fine_face_beds(zf: Arr, storage: Arr, row: int, c: int) -> tuple[bool, float]:
    """(counts, bed) of the fine face between columns c and c+1 of fine row ``row``."""
    nxf = zf.shape[1]
    in_a, in_b = 0 <= c < nxf, 0 <= c + 1 < nxf
    if not in_a and not in_b:
        return False, np.inf
    if in_a and in_b:
        ok = storage[row, c] and storage[row, c + 1]
        return True, max(zf[row, c], zf[row, c + 1]) if ok else np.inf
    k = c if in_a else c + 1
    return True, zf[row, k] if storage[row, k] else np.inf


def _row_depth(level: float, row: Arr) -> float:
    """Series conveyance depth of one row of fine faces (see ``_subgrid_kernels._row_depth``)."""
    d = level - row
    if not np.all(d > 0.0):
        return 0.0
    return float(np.mean(d ** (-10.0 / 3.0)) ** (-3.0 / 10.0))


def _face_row(rows: list[Arr], n_levels: int) -> dict[str, Any]:
    """Tables of one face: its rows of fine-face beds in parallel, each row in series."""
    rows = [r for r in rows if r.size]
    crests = np.array([r.max() for r in rows])
    open_rows = np.isfinite(crests)
    if not open_rows.any():
        z = np.zeros(n_levels)
        return {"zmin": CLOSED_Z, "zmax": CLOSED_Z, "dl": 0.0, "slope": 0.0,
                "hrep": z, "wet": z, "depth": z}  # fmt: skip
    lo, hi = float(crests[open_rows].min()), float(crests[open_rows].max())
    lv = _levels(lo, hi, n_levels)
    allb = np.concatenate(rows)
    d = np.maximum(lv[:, None] - allb[None, :], 0.0)  # inf beds: 0
    conv = np.array([sum(_row_depth(float(x), r) ** FIVE_THIRDS for r in rows) for x in lv])
    return {
        "zmin": lo,
        "zmax": hi,
        "dl": (hi - lo) / (n_levels - 1),
        "slope": (int(open_rows.sum()) / len(rows)) ** THREE_FIFTHS,
        "hrep": (conv / len(rows)) ** THREE_FIFTHS,
        "wet": (d > 0).sum(axis=1) / allb.size,
        "depth": d.sum(axis=1) / allb.size,
    }


def x_face_tables(
    zf: Arr, storage: Arr, cell_active: Arr, r: int, n_levels: int, offset: int, along: int
) -> dict[str, Arr]:
    """x-face tables (see :func:`._subgrid_kernels.build_x_face_tables`)."""
    ny, nx = cell_active.shape
    keys = ("zmin", "zmax", "dl", "slope")
    out: dict[str, Arr] = {k: np.zeros((ny, nx + 1)) for k in keys}
    for k in ("hrep", "wet", "depth"):
        out[k] = np.zeros((ny, nx + 1, n_levels))
    for i in range(ny):
        for j in range(nx + 1):
            ok = (j == 0 or cell_active[i, j - 1]) and (j == nx or cell_active[i, j])
            rows: list[Arr] = []
            for a in range(i * r, (i + 1) * r):
                beds = []
                if ok:
                    for c in range(j * r - offset, j * r - offset + along):
                        counts, bed = _fine_face_beds(zf, storage, a, c)
                        if counts:
                            beds.append(bed)
                rows.append(np.array(beds, dtype=np.float64))
            row = _face_row(rows, n_levels)
            for k, val in row.items():
                out[k][i, j] = val
    return out


def y_face_tables(
    zf: Arr, storage: Arr, cell_active: Arr, r: int, n_levels: int, offset: int, along: int
) -> dict[str, Arr]:
    """y-face tables: the x-face tables of the transposed terrain, transposed back."""
    t = x_face_tables(zf.T, storage.T, cell_active.T, r, n_levels, offset, along)
    return {k: np.ascontiguousarray(np.swapaxes(v, 0, 1)) for k, v in t.items()}


# ---------------------------------------------------------------------------------- lookups


def _interp(x: Arr, table: Arr) -> Arr:
    """Linear interpolation in uniform tables at fractional index ``x`` (0 <= x <= n−1)."""
    n = table.shape[-1]
    k = np.minimum(x.astype(np.int64), n - 2)
    w = x - k
    t0 = np.take_along_axis(table, k[..., None], axis=-1)[..., 0]
    t1 = np.take_along_axis(table, (k + 1)[..., None], axis=-1)[..., 0]
    out: Arr = t0 + w * (t1 - t0)
    return out


def face_depth(level: Arr, zmin: Arr, zmax: Arr, dl: Arr, hrep: Arr, slope: Arr) -> Arr:
    """Conveyance depth (m) of faces at water levels ``level`` (m)."""
    dt = level.dtype.type
    n = hrep.shape[-1]
    mid = (level > zmin) & (level < zmax)
    x = np.where(mid, (level - zmin) / np.where(mid, dl, dt(1.0)), dt(0.0))
    inside = _interp(x, hrep)
    above = hrep[..., n - 1] + slope * (level - zmax)
    out = np.where(level >= zmax, above, inside)
    return np.where(level <= zmin, dt(0.0), out).astype(level.dtype, copy=False)


def cell_level(v: Arr, zmin: Arr, zmax: Arr, dl: Arr, vol: Arr, afull: Arr) -> Arr:
    """Water level (m) of cells holding volumes ``v`` (m³); inactive cells get their zmin."""
    dt = v.dtype.type
    n = vol.shape[-1]
    active = afull > 0
    k = np.clip((vol <= v[..., None]).sum(axis=-1) - 1, 0, n - 2)
    v0 = np.take_along_axis(vol, k[..., None], axis=-1)[..., 0]
    v1 = np.take_along_axis(vol, (k + 1)[..., None], axis=-1)[..., 0]
    span = np.where(v1 > v0, v1 - v0, dt(1.0))
    inside = zmin + dl * (k.astype(v.dtype) + (v - v0) / span)
    above = zmax + (v - vol[..., n - 1]) / np.where(active, afull, dt(1.0))
    out = np.where(v >= vol[..., n - 1], above, inside)
    out = np.where(v <= 0, zmin, out)
    return np.where(active, out, zmin).astype(v.dtype, copy=False)


def cell_wet_area(level: Arr, zmin: Arr, zmax: Arr, dl: Arr, area: Arr, afull: Arr) -> Arr:
    """Wet area (m²) of cells at water levels ``level`` (m)."""
    dt = level.dtype.type
    mid = (level > zmin) & (level < zmax)
    x = np.where(mid, (level - zmin) / np.where(mid, dl, dt(1.0)), dt(0.0))
    out = np.where(level >= zmax, afull, _interp(x, area))
    return np.where(level <= zmin, dt(0.0), out).astype(level.dtype, copy=False)


# ---------------------------------------------------------------------------------- the step


def _flux(
    q: Arr,
    q_prev: Arr,
    q_next: Arr,
    q_perp: Arr,
    eta_lo: Arr,
    eta_hi: Arr,
    h_f: Arr,
    gn2: Arr,
    dt: float,
    dx: float,
    theta: float,
    hmin: float,
) -> Arr:
    """The regular model's face update (``_reference.face_flux``) with h_f from the tables."""
    ft = q.dtype.type
    g = ft(GRAVITY)
    slope = (eta_hi - eta_lo) / ft(dx)
    th = np.where(q * slope > 0, ft(1.0), ft(theta))
    q_smooth = th * q + (ft(1.0) - th) * ft(0.5) * (q_prev + q_next)
    h_c = np.maximum(h_f, ft(hmin))
    # friction implicit in the new discharge, as the regular model (``_reference.face_flux``)
    b = ft(dt) * gn2 / (h_c * h_c * np.cbrt(h_c))
    q_new = implicit_friction(q_smooth - g * h_f * ft(dt) * slope, b, q_perp)
    out: Arr = np.where(h_f > ft(hmin), q_new, ft(0.0)).astype(q.dtype, copy=False)
    return out


def subgrid_step(  # type: ignore[no-untyped-def]
    v,
    eta,
    qx,
    qy,
    qxn,
    qyn,
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
    bc_kind,
    max_eta,
    time_of_max,
    dt,
    dx,
    theta,
    hmin,
    t_new,
):
    """The NumPy twin of :func:`._subgrid_kernels.subgrid_step` (same arguments and result)."""
    ft = v.dtype.type
    g = ft(GRAVITY)
    quarter = ft(0.25)
    lvl = np.maximum(eta[:, :-1], eta[:, 1:])
    sx = (slice(None), slice(1, -1))
    h_f = face_depth(lvl, x_zmin[sx], x_zmax[sx], x_dl[sx], x_h[sx], x_slope[sx])
    qy_at_x = quarter * ((qy[:-1, :-1] + qy[:-1, 1:]) + (qy[1:, :-1] + qy[1:, 1:]))
    qxn[sx] = _flux(
        qx[sx],
        qx[:, :-2],
        qx[:, 2:],
        qy_at_x,
        eta[:, :-1],
        eta[:, 1:],
        h_f,
        gn2x[sx],
        dt,
        dx,
        theta,
        hmin,
    )
    lvl = np.maximum(eta[:-1, :], eta[1:, :])
    sy = (slice(1, -1), slice(None))
    h_f = face_depth(lvl, y_zmin[sy], y_zmax[sy], y_dl[sy], y_h[sy], y_slope[sy])
    qx_at_y = quarter * ((qx[:-1, :-1] + qx[:-1, 1:]) + (qx[1:, :-1] + qx[1:, 1:]))
    qyn[sy] = _flux(
        qy[sy],
        qy[:-2, :],
        qy[2:, :],
        qx_at_y,
        eta[:-1, :],
        eta[1:, :],
        h_f,
        gn2y[sy],
        dt,
        dx,
        theta,
        hmin,
    )
    # boundaries: (new-flux view, edge levels, face table index, outward sign, kind)
    edges = (
        (qyn, 0, eta[0, :], (0, slice(None)), -1, bc_kind[0]),
        (qyn, 1, eta[-1, :], (-1, slice(None)), 1, bc_kind[1]),
        (qxn, 2, eta[:, 0], (slice(None), 0), -1, bc_kind[2]),
        (qxn, 3, eta[:, -1], (slice(None), -1), 1, bc_kind[3]),
    )
    for buf, side, eta_e, idx, sign, kind in edges:
        if kind != 1:
            buf[idx] = 0.0
            continue
        tab = (
            (y_zmin, y_zmax, y_dl, y_h, y_slope)
            if side < 2
            else (x_zmin, x_zmax, x_dl, x_h, x_slope)
        )
        hb = face_depth(eta_e, *(t[idx] for t in tab))
        buf[idx] = np.where(hb > ft(hmin), ft(sign) * (hb * np.sqrt(g * hb)), ft(0.0))
    # limiter
    scale = ft(dt) * ft(dx)
    zero = ft(0.0)
    out = (
        np.maximum(qxn[:, 1:], zero)
        + np.maximum(-qxn[:, :-1], zero)
        + np.maximum(qyn[1:, :], zero)
        + np.maximum(-qyn[:-1, :], zero)
    ) * scale
    over = out > v
    limited = bool(over.any())
    if limited:
        factor = np.where(over, v / np.where(over, out, ft(1.0)), ft(1.0)).astype(v.dtype)
        one_c = np.ones((v.shape[0], 1), dtype=v.dtype)
        one_r = np.ones((1, v.shape[1]), dtype=v.dtype)
        qxn *= np.where(qxn > 0, np.hstack([one_c, factor]), np.hstack([factor, one_c]))
        qyn *= np.where(qyn > 0, np.vstack([one_r, factor]), np.vstack([factor, one_r]))
    outflow = (
        float(np.sum(qyn[-1, :], dtype=np.float64))
        - float(np.sum(qyn[0, :], dtype=np.float64))
        + float(np.sum(qxn[:, -1], dtype=np.float64))
        - float(np.sum(qxn[:, 0], dtype=np.float64))
    ) * (float(ft(dt)) * float(ft(dx)))
    # continuity
    active = c_afull > 0
    div = (qxn[:, :-1] - qxn[:, 1:]) + (qyn[:-1, :] - qyn[1:, :])
    rate = rain_field if use_field else ft(rain_rate)
    vn = v + scale * div
    vn = vn + rate * ft(dt) * c_arain
    vn = np.where(active, np.maximum(vn, zero), v)
    drained = infiltrated = 0.0
    if has_drain or has_infil:
        lv = cell_level(vn, c_zmin, c_zmax, c_dl, c_vol, c_afull)
        aw = cell_wet_area(lv, c_zmin, c_zmax, c_dl, c_area, c_afull)
        if has_drain:
            d = np.where(active, np.minimum(drain * ft(dt) * aw, vn), zero)
            vn = vn - d
            drained = float(np.sum(d, dtype=np.float64))
        if has_infil:
            cap = infil_f * ft(dt) * aw
            inf = np.where(active, np.minimum(cap, vn), zero)
            vn = vn - inf
            infiltrated = float(np.sum(inf, dtype=np.float64))
            used = np.where(cap > 0, inf / np.where(cap > 0, cap, ft(1.0)), zero)
            new_f = infil_fc + (infil_f - infil_fc) * np.exp(-infil_k * ft(dt) * used)
            infil_f[...] = np.where(active, new_f, infil_f)
    v[...] = vn
    eta[...] = cell_level(vn, c_zmin, c_zmax, c_dl, c_vol, c_afull)
    depth = np.where(active, eta - c_zmin, zero)
    rise = active & (eta > max_eta)
    max_eta[...] = np.where(rise, eta, max_eta)
    time_of_max[...] = np.where(rise, ft(t_new), time_of_max)
    return float(depth.max(initial=0.0)), outflow, drained, infiltrated, limited
