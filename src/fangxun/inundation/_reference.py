"""Plain vectorised NumPy twin of the kernels: the ``numpy`` backend, and the reference in tests.

It is written for clarity, not speed: each part of a step is one readable array expression. The
``numba`` backend (:mod:`._kernels`) must agree with it to round-off.

One step (local inertial scheme, Bates et al. 2010; θ-scheme of de Almeida et al. 2012):

1. new unit-width fluxes on every face from the old depths and fluxes, with the friction
   implicit in the new discharge q:
   ``q·[1 + g·n²·Δt·|q⃗| / h_f^(7/3)] = θ·q_old + (1−θ)/2·(q₋ + q₊) − g·h_f·Δt·∂η/∂x``
   with ``h_f = max(η) − max(z)``, θ = 1 where the old flux runs against the surface gradient,
   and ``|q⃗| = √(q² + q⊥²)``, q⊥ the mean of the four perpendicular OLD faces around the face
   (Manning friction acts on the speed, not on one component: with |q| alone a flow at 45° to
   the grid feels 1/√2 of its friction). Implicit in q, not linearised about q_old as in Bates
   et al. 2010: the linearised form flips about Manning's discharge from step to step once Δt
   exceeds the friction time (thin sheet flow), see :mod:`.model`;
2. boundary faces (closed: 0; open: free overfall at critical depth, outflow only; stage: the same
   update against a ghost cell holding the fixed water level);
3. positivity limiter: where a cell's total outflow over the step would exceed its depth, all its
   outgoing fluxes are scaled down by the same factor (the flux is changed, not the depth, so mass
   stays exact);
4. continuity, rain, drainage sink and Horton infiltration (each sink limited to what is there),
   then running maxima, arrival times and time above thresholds;
5. point sources add (or, limited to what is there, remove) water in the updated depths, and the
   statistics of their cells are brought up to date (:func:`add_point_sources`): like rain they
   enter after the fluxes, so the depths the fluxes see, and the Δt that depends on them, are
   the same.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ._backend import (
    CLOSED,
    GRAVITY,
    NODATA_Z,
    OPEN,
    STAGE,
    AnyArray,
    State,
    StepParams,
    StepResult,
    register_backend,
)


def face_flux(
    z_lo: AnyArray,
    h_lo: AnyArray,
    z_hi: AnyArray,
    h_hi: AnyArray,
    q: AnyArray,
    q_prev: AnyArray,
    q_next: AnyArray,
    q_perp: AnyArray,
    gn2: AnyArray,
    dt: float,
    dx: float,
    theta: float,
    h_flow_min: float,
) -> AnyArray:
    """New unit-width discharge (m²/s, positive from the ``lo`` to the ``hi`` cell) on faces.

    ``q_perp`` (m²/s) is the old discharge across the face's direction (mean of the four
    perpendicular faces around it), used only in the friction term's |q⃗|.
    """
    dtype = h_lo.dtype.type
    g = dtype(GRAVITY)
    eta_lo = z_lo + h_lo
    eta_hi = z_hi + h_hi
    h_f = np.maximum(eta_lo, eta_hi) - np.maximum(z_lo, z_hi)
    slope = (eta_hi - eta_lo) / dtype(dx)
    th = np.where(q * slope > 0, dtype(1.0), dtype(theta))
    q_smooth = th * q + (dtype(1.0) - th) * dtype(0.5) * (q_prev + q_next)
    h_c = np.maximum(h_f, dtype(h_flow_min))
    b = dtype(dt) * gn2 / (h_c * h_c * np.cbrt(h_c))
    q_new = implicit_friction(q_smooth - g * h_f * dtype(dt) * slope, b, q_perp)
    return np.where(h_f > dtype(h_flow_min), q_new, dtype(0.0)).astype(h_lo.dtype, copy=False)


def implicit_friction(r: AnyArray, b: AnyArray, qp: AnyArray) -> AnyArray:
    """New discharge q (m²/s) from q·(1 + b·√(q² + qp²)) = r, friction implicit in q.

    ``r``: discharge before friction; ``b = g·n²·Δt/h_f^(7/3)``; ``qp``: the old discharge
    across the face. Two Newton steps from the smaller of the two one-term upper bounds (the
    quadratic for qp = 0, and |r|/(1 + b·|qp|)); see the numba twin ``_kernels.implicit_friction``.
    """
    dtype = r.dtype.type
    one, two = dtype(1.0), dtype(2.0)
    ar = np.abs(r)
    s = (two * ar) / (one + np.sqrt(one + (two * two) * b * ar))
    s = np.minimum(s, ar / (one + b * np.abs(qp)))
    for _ in range(2):
        m = np.sqrt(s * s + qp * qp)
        gv = s + b * s * m - ar
        den = m + b * (s * s + m * m)  # G' = den/m: one division (see the numba twin)
        s = s - (gv * m) / np.where(den > 0, den, one)
    return np.where(r > 0, s, -s)


def boundary_fluxes(s: State, p: StepParams) -> None:
    """Fill the edge faces of ``s.qx_new``/``s.qy_new`` from the boundary conditions."""
    h, z = s.h, s.z
    dtype = h.dtype.type
    g = dtype(GRAVITY)
    hmin = dtype(p.h_flow_min)
    # (flux row/col view, old flux view, edge cell depth, edge cell bed, inner flux, outward sign,
    #  gn2 on the edge faces)
    edges = (
        (s.qy_new[0, :], s.qy[0, :], h[0, :], z[0, :], s.qy[1, :], -1, s.gn2y[0, :]),
        (s.qy_new[-1, :], s.qy[-1, :], h[-1, :], z[-1, :], s.qy[-2, :], 1, s.gn2y[-1, :]),
        (s.qx_new[:, 0], s.qx[:, 0], h[:, 0], z[:, 0], s.qx[:, 1], -1, s.gn2x[:, 0]),
        (s.qx_new[:, -1], s.qx[:, -1], h[:, -1], z[:, -1], s.qx[:, -2], 1, s.gn2x[:, -1]),
    )
    for (out, q_old, h_e, z_e, _q_in, sign, gn2), kind, stage in zip(
        edges, p.bc_kind, p.bc_stage, strict=True
    ):
        if kind == OPEN:
            critical = h_e * np.sqrt(g * h_e)
            out[:] = np.where(h_e > hmin, dtype(sign) * critical, dtype(0.0))
        elif kind == STAGE:
            z_g = z_e
            zeros = np.zeros_like(h_e)  # friction from the normal component at a stage edge
            h_g = np.maximum(dtype(stage) - z_e, dtype(0.0))
            if sign > 0:  # edge cell is "lo", ghost is "hi"
                out[:] = face_flux(
                    z_e, h_e, z_g, h_g, q_old, q_old, q_old, zeros, gn2, p.dt, p.dx, 1.0,
                    p.h_flow_min,
                )  # fmt: skip
            else:
                out[:] = face_flux(
                    z_g, h_g, z_e, h_e, q_old, q_old, q_old, zeros, gn2, p.dt, p.dx, 1.0,
                    p.h_flow_min,
                )  # fmt: skip
            # nodata edge cells take no part (their bed is NODATA_Z, far above any stage)
            out[z_e >= dtype(NODATA_Z)] = 0.0
        else:
            out[:] = 0.0


def limit_outflow(s: State, dt: float, dx: float) -> bool:
    """Scale outgoing fluxes so no cell loses more than it holds; True if any was scaled."""
    h = s.h
    dtype = h.dtype.type
    qx, qy = s.qx_new, s.qy_new
    out = (
        np.maximum(qx[:, 1:], 0)
        + np.maximum(-qx[:, :-1], 0)
        + np.maximum(qy[1:, :], 0)
        + np.maximum(-qy[:-1, :], 0)
    ) * dtype(dt / dx)
    over = out > h
    if not over.any():
        return False
    factor = np.where(over, h / np.where(over, out, dtype(1.0)), dtype(1.0)).astype(h.dtype)
    ones_col = np.ones((h.shape[0], 1), dtype=h.dtype)
    ones_row = np.ones((1, h.shape[1]), dtype=h.dtype)
    fx_lo = np.hstack([ones_col, factor])  # factor of the cell west of each x face
    fx_hi = np.hstack([factor, ones_col])  # ... east of it
    fy_lo = np.vstack([ones_row, factor])
    fy_hi = np.vstack([factor, ones_row])
    qx *= np.where(qx > 0, fx_lo, fx_hi)
    qy *= np.where(qy > 0, fy_lo, fy_hi)
    return True


Window = tuple[int, int, int, int]  # rows r0:r1, cols c0:c1


class NumpyBackend:
    """The plain NumPy backend (reference).

    With :attr:`StepParams.track_wet` the step runs on the smallest window (rectangle) holding
    every wet cell (h > 0) and its neighbours, on views of the state arrays; the window's edges
    that are not grid edges are closed (the faces there lie between dry cells and carry no flow
    in a full update either). The flux buffers are zeroed outside the window they are written in,
    so the stored fluxes equal a full update's.
    """

    name = "numpy"

    def __init__(self) -> None:
        # the window each flux buffer was last written in (outside it the buffer holds zeros)
        self._dirty: dict[int, Window | None] = {}

    def prepare(self, state: State) -> None:
        """Nothing to prepare."""

    def sync(self, state: State) -> None:
        """Host arrays are the state; nothing to do."""

    def state_changed(self, state: State) -> None:
        """Nothing is derived from the depths between steps (the wet window is found anew)."""

    def step(self, state: State, params: StepParams) -> StepResult:
        """Advance ``state`` by one step (see the module docstring)."""
        res = self._flow_step(state, params)
        return with_point_sources(state, params, res)

    def _flow_step(self, state: State, params: StepParams) -> StepResult:
        """The step without the point sources."""
        s, p = state, params
        ny, nx = s.h.shape
        sources = 0.0
        if not p.track_wet:
            self._dirty = {id(s.qx_new): None, id(s.qy_new): None}
            res = self._step(s, p, sources)
            res.active_cells = ny * nx
            return res
        wet = s.h > 0
        rows = np.flatnonzero(wet.any(axis=1))
        cols = np.flatnonzero(wet.any(axis=0))
        if rows.size == 0:
            # nothing holds water: a full update changes nothing but the (zero) fluxes
            for buf in (s.qx, s.qy):
                buf[...] = 0.0
            return StepResult(0.0, sources, 0.0, 0.0, 0.0, False, 0)
        r0, r1 = max(int(rows[0]) - 1, 0), min(int(rows[-1]) + 2, ny)
        c0, c1 = max(int(cols[0]) - 1, 0), min(int(cols[-1]) + 2, nx)
        win = (r0, r1, c0, c1)
        # the buffer about to receive the new fluxes: zero it where it was last written
        for buf, kind in ((s.qx_new, "x"), (s.qy_new, "y")):
            old = self._dirty.get(id(buf), None)
            if old is None:
                buf[...] = 0.0
            else:
                buf[_faces(old, kind)] = 0.0
            self._dirty[id(buf)] = win
        # the old fluxes outside the window are read by no face inside it that can carry flow
        sub = State(
            z=s.z[r0:r1, c0:c1],
            h=s.h[r0:r1, c0:c1],
            qx=s.qx[_faces(win, "x")],
            qy=s.qy[_faces(win, "y")],
            qx_new=s.qx_new[_faces(win, "x")],
            qy_new=s.qy_new[_faces(win, "y")],
            gn2x=s.gn2x[_faces(win, "x")],
            gn2y=s.gn2y[_faces(win, "y")],
            rain_field=s.rain_field[r0:r1, c0:c1] if p.use_rain_field else s.rain_field,
            drain=s.drain[r0:r1, c0:c1],
            infil_f=s.infil_f[r0:r1, c0:c1],
            infil_fc=s.infil_fc[r0:r1, c0:c1],
            infil_k=s.infil_k[r0:r1, c0:c1],
            max_depth=s.max_depth[r0:r1, c0:c1],
            time_of_max=s.time_of_max[r0:r1, c0:c1],
            thresholds=s.thresholds,
            arrival=s.arrival[:, r0:r1, c0:c1],
            time_above=s.time_above[:, r0:r1, c0:c1],
            above=s.above[r0:r1, c0:c1],
            limiter=s.limiter,
        )
        touches = (r0 == 0, r1 == ny, c0 == 0, c1 == nx)  # north, south, west, east
        kinds = tuple(k if t else CLOSED for k, t in zip(p.bc_kind, touches, strict=True))
        sub_p = dataclasses.replace(p, bc_kind=kinds)  # type: ignore[arg-type]
        res = self._step(sub, sub_p, sources)
        # the sub-state swapped its views; swap the full buffers the same way
        s.qx, s.qx_new = s.qx_new, s.qx
        s.qy, s.qy_new = s.qy_new, s.qy
        res.active_cells = (r1 - r0) * (c1 - c0)
        return res

    def _step(self, state: State, params: StepParams, sources: float) -> StepResult:
        """One step on ``state`` (the whole grid or a window of it), sources already added."""
        s, p = state, params
        h, z = s.h, s.z
        dtype = h.dtype.type
        dt = dtype(p.dt)
        inv_dx = dtype(1.0 / p.dx)

        qx, qy, qxn, qyn = s.qx, s.qy, s.qx_new, s.qy_new
        quarter = dtype(0.25)
        # old discharge across each interior face: mean of the four perpendicular faces around it
        qy_at_x = quarter * ((qy[:-1, :-1] + qy[:-1, 1:]) + (qy[1:, :-1] + qy[1:, 1:]))
        qx_at_y = quarter * ((qx[:-1, :-1] + qx[:-1, 1:]) + (qx[1:, :-1] + qx[1:, 1:]))
        qxn[:, 1:-1] = face_flux(
            z[:, :-1], h[:, :-1], z[:, 1:], h[:, 1:], qx[:, 1:-1], qx[:, :-2], qx[:, 2:],
            qy_at_x, s.gn2x[:, 1:-1], p.dt, p.dx, p.theta, p.h_flow_min,
        )  # fmt: skip
        qyn[1:-1, :] = face_flux(
            z[:-1, :], h[:-1, :], z[1:, :], h[1:, :], qy[1:-1, :], qy[:-2, :], qy[2:, :],
            qx_at_y, s.gn2y[1:-1, :], p.dt, p.dx, p.theta, p.h_flow_min,
        )  # fmt: skip
        boundary_fluxes(s, p)
        limited = limit_outflow(s, p.dt, p.dx)

        outflow = (
            float(np.sum(qyn[-1, :], dtype=np.float64))
            - float(np.sum(qyn[0, :], dtype=np.float64))
            + float(np.sum(qxn[:, -1], dtype=np.float64))
            - float(np.sum(qxn[:, 0], dtype=np.float64))
        ) * (float(dt) * float(inv_dx))

        div = (qxn[:, :-1] - qxn[:, 1:]) + (qyn[:-1, :] - qyn[1:, :])
        hn = h + (dt * inv_dx) * div
        rain = s.rain_field if p.use_rain_field else dtype(p.rain_rate)
        hn = hn + rain * dt
        if p.has_nodata:
            hn = np.where(z >= dtype(NODATA_Z), dtype(0.0), hn)
        hn = np.maximum(hn, dtype(0.0))
        drained = 0.0
        if p.has_drain:
            d = np.minimum(s.drain * dt, hn)
            hn = hn - d
            drained = float(np.sum(d, dtype=np.float64))
        infiltrated = 0.0
        if p.has_infil:
            cap = s.infil_f * dt
            inf = np.minimum(cap, hn)
            hn = hn - inf
            infiltrated = float(np.sum(inf, dtype=np.float64))
            used = np.where(cap > 0, inf / np.where(cap > 0, cap, dtype(1.0)), dtype(0.0))
            s.infil_f[...] = s.infil_fc + (s.infil_f - s.infil_fc) * np.exp(-s.infil_k * dt * used)
        h[...] = hn

        t_new = dtype(p.t_new)
        rise = hn > s.max_depth
        s.max_depth[...] = np.where(rise, hn, s.max_depth)
        s.time_of_max[...] = np.where(rise, t_new, s.time_of_max)
        # time above: at a crossing, the step's start time is taken off (up) or added (down)
        t_old = t_new - dt
        level = np.zeros(hn.shape, dtype=np.uint8)
        for k in range(s.thresholds.shape[0]):
            above = hn >= s.thresholds[k]
            s.arrival[k] = np.minimum(s.arrival[k], np.where(above, t_new, dtype(np.inf)))
            level += above.astype(np.uint8)
        for k in range(s.thresholds.shape[0]):
            was, now = s.above > k, level > k
            s.time_above[k] -= np.where(now & ~was, t_old, dtype(0.0))
            s.time_above[k] += np.where(was & ~now, t_old, dtype(0.0))
        s.above[...] = level

        s.qx, s.qx_new = qxn, qx
        s.qy, s.qy_new = qyn, qy
        return StepResult(
            h_max=float(hn.max()),
            sources=sources,
            drained=drained,
            infiltrated=infiltrated,
            outflow=outflow,
            limited=limited,
        )


def _faces(win: Window, kind: str) -> tuple[slice, slice]:
    """Slices of the x-face (``"x"``) or y-face (``"y"``) array for the cells of ``win``."""
    r0, r1, c0, c1 = win
    if kind == "x":
        return slice(r0, r1), slice(c0, c1 + 1)
    return slice(r0, r1 + 1), slice(c0, c1)


def with_point_sources(s: State, p: StepParams, res: StepResult) -> StepResult:
    """``res`` of a step without point sources, completed with them (:func:`add_point_sources`)."""
    if p.src_rows.size == 0:
        return res
    res.sources = add_point_sources(s, p)
    res.h_max = max(res.h_max, float(s.h[p.src_rows, p.src_cols].max()))
    return res


def add_point_sources(s: State, p: StepParams) -> float:
    """Point sources at the end of a step, into the updated depths; net depth added.

    They enter the depth update after the fluxes (as rain does, and as LISFLOOD-FP's
    ``UpdateH`` adds point sources), never the depths the fluxes are computed from: water
    dumped into a cell before its fluxes drives them with a depth the step's Δt never saw
    (``docs/validation.md``, point inflow). The running maximum, its time, the arrival times and
    the time above thresholds of the source cells are brought up to date with the new depths,
    as the step's own pass does for every cell; the largest new depth is returned too, for the
    next Δt.
    """
    if p.src_rows.size == 0:
        return 0.0
    net = apply_sources(s.h, p)
    flat = np.unique(p.src_rows * s.h.shape[1] + p.src_cols)
    rows, cols = np.divmod(flat, s.h.shape[1])
    dtype = s.h.dtype.type
    t_new = dtype(p.t_new)
    t_old = t_new - dtype(p.dt)
    hn = s.h[rows, cols]
    old = s.max_depth[rows, cols]
    rise = hn > old
    s.max_depth[rows, cols] = np.where(rise, hn, old)
    s.time_of_max[rows, cols] = np.where(rise, t_new, s.time_of_max[rows, cols])
    level = np.zeros(hn.shape, dtype=np.uint8)
    was = s.above[rows, cols]
    for k in range(s.thresholds.shape[0]):
        now = hn >= s.thresholds[k]
        arr = s.arrival[k, rows, cols]
        s.arrival[k, rows, cols] = np.where(now & ~(arr <= t_new), t_new, arr)
        level += now.astype(np.uint8)
        up = now & ~(was > k)
        down = (was > k) & ~now
        ta = s.time_above[k, rows, cols]
        ta = np.where(up, ta - t_old, ta)
        s.time_above[k, rows, cols] = np.where(down, ta + t_old, ta)
    s.above[rows, cols] = level
    return net


def apply_sources(h: AnyArray, p: StepParams) -> float:
    """Add point-source depths; withdrawals take at most what the cell holds. Net depth added.

    Where ``p.src_moved`` is given (filled with NaN), the depth each withdrawal that the cell
    could not pay in full actually took goes there; the others moved what they asked.
    """
    if p.src_unique and p.src_rows.size > 1:
        # the same per-cell arithmetic as the loop below, in one vectorised pass
        before = h[p.src_rows, p.src_cols]
        after = np.maximum(before + p.src_depth.astype(h.dtype), 0.0).astype(h.dtype, copy=False)
        h[p.src_rows, p.src_cols] = after
        moved = after.astype(np.float64) - before.astype(np.float64)
        if p.src_moved is not None:
            p.src_moved[:] = np.where(before + p.src_depth.astype(h.dtype) < 0.0, moved, np.nan)
        return float(np.sum(moved))
    total = 0.0
    for i, (r, c, d) in enumerate(zip(p.src_rows, p.src_cols, p.src_depth, strict=True)):
        old = h[r, c]
        new = max(old + h.dtype.type(d), h.dtype.type(0.0))
        h[r, c] = new
        total += float(new) - float(old)
        if p.src_moved is not None and old + h.dtype.type(d) < 0.0:
            p.src_moved[i] = float(new) - float(old)
    return total


register_backend("numpy", NumpyBackend)
