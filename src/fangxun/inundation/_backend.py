"""Backend protocol and registry: the seam between :class:`~.model.Model` and the kernels.

The model validates inputs, prepares a :class:`State` (plain NumPy arrays in the model's dtype)
and, for every time step, hands a :class:`StepParams` to ``backend.step``. A backend advances the
state by one step in place and returns a :class:`StepResult` of float64 volumes. Backends register
themselves by name (``numpy``, ``numba``; a GPU backend would add ``cuda`` here, keeping device
copies of the arrays and copying back in :meth:`Backend.sync`) so the model class never changes
when one is added.

Conventions of the state arrays (all in the model dtype):

* ``z``: bed elevation (m) relative to the grid's lowest active cell (a shifted datum keeps
  float32 resolution in the water surface); nodata cells hold :data:`NODATA_Z`, so that no face
  touching them ever has a positive flow depth.
* ``h``: depth at cell centres (m).
* ``qx`` (rows, cols+1): unit-width discharge on west/east faces, m²/s, positive eastward
  (towards increasing column). Face ``c`` lies between columns ``c-1`` and ``c``.
* ``qy`` (rows+1, cols): unit-width discharge on north/south faces, m²/s, positive southward
  (towards increasing row). Face ``r`` lies between rows ``r-1`` and ``r``.
* ``qx_new``/``qy_new``: scratch buffers of the same shapes for the step's unlimited fluxes; after
  a step, ``qx``/``qy`` hold the current (limited) fluxes, whichever buffers a backend used.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

GRAVITY = 9.81
"""Gravitational acceleration, m/s²."""

NODATA_Z = 1.0e6
"""Bed elevation (m, shifted datum) given to nodata cells: no face next to them can carry flow."""

MAX_THRESHOLDS = 8
"""Depth thresholds a model tracks at most (the kernels compare against a fixed number)."""

CLOSED, OPEN, STAGE = 0, 1, 2
"""Boundary codes per edge."""

EDGES = ("north", "south", "west", "east")
"""Order of edges in :attr:`StepParams.bc_kind` and :attr:`StepParams.bc_stage`."""

AnyArray = npt.NDArray[np.floating]


@dataclass
class State:
    """The arrays a backend advances (see the module docstring for their meaning)."""

    z: AnyArray
    h: AnyArray
    qx: AnyArray
    qy: AnyArray
    qx_new: AnyArray
    qy_new: AnyArray
    gn2x: AnyArray  # g·n² on x faces (rows, cols+1), m²/s²·s²/m^(2/3)
    gn2y: AnyArray  # g·n² on y faces (rows+1, cols)
    rain_field: AnyArray  # (rows, cols) m/s, used when StepParams.use_rain_field
    drain: AnyArray  # (rows, cols) sink capacity m/s (zeros when none)
    infil_f: AnyArray  # (rows, cols) current Horton capacity m/s (state)
    infil_fc: AnyArray  # (rows, cols) final capacity m/s
    infil_k: AnyArray  # (rows, cols) decay constant 1/s
    max_depth: AnyArray  # (rows, cols) m
    time_of_max: AnyArray  # (rows, cols) s
    thresholds: AnyArray  # (k,) m
    arrival: AnyArray  # (k, rows, cols) s, inf until reached
    # Time above thresholds[k], accumulated at crossings only (no per-step traffic): while a
    # cell is at or above it, the entry holds the total so far minus the time it crossed
    # upwards; the model adds the current time there when it reads it out.
    time_above: AnyArray  # (k, rows, cols) s
    above: AnyArray  # (rows, cols) uint8: how many thresholds the depth is at or above
    limiter: AnyArray  # (rows+2, cols+2) scratch: outflow factor per cell, border of ones


@dataclass
class StepParams:
    """Scalars of one step. Volumes are handed back in :class:`StepResult`."""

    dt: float  # s
    dx: float  # m
    theta: float  # de Almeida θ (1 = no smoothing)
    h_flow_min: float  # m: faces with a flow depth at or below this carry no flow
    rain_rate: float  # m/s, uniform rain (used when not use_rain_field)
    use_rain_field: bool
    has_drain: bool
    has_infil: bool
    has_nodata: bool
    t_new: float  # s, time at the end of the step (for max/arrival bookkeeping)
    bc_kind: tuple[int, int, int, int]  # per EDGES
    bc_stage: tuple[float, float, float, float]  # water-surface elevation, shifted datum (m)
    src_rows: npt.NDArray[np.int64]  # point sources
    src_cols: npt.NDArray[np.int64]
    src_depth: npt.NDArray[np.float64]  # depth change (m) each source asks for this step
    # Skip cells far from water (no rain this step, no stage edge): the backend computes only
    # the wet cells and their neighbours, with the same answer as a full update.
    track_wet: bool = False
    src_unique: bool = False  # no cell appears twice among the point sources
    # When given (filled with NaN), the depth (m) each withdrawal that its cell could not pay in
    # full actually took is written here, one entry per source; NaN: it moved what it asked.
    src_moved: npt.NDArray[np.float64] | None = None


@dataclass
class StepResult:
    """What one step did, as float64 volumes per unit cell area (m; multiply by the cell area)."""

    h_max: float  # m, largest depth after the step (for the next Δt)
    sources: float  # net depth added by point sources (withdrawals limited to what was there)
    drained: float  # depth removed by the drainage sink
    infiltrated: float  # depth removed by infiltration
    outflow: float  # depth·(cell) that left through the boundary (negative: came in)
    limited: bool  # whether the positivity limiter had to scale any outflow
    active_cells: int = -1  # cells the step computed (-1: not counted)


class Backend(Protocol):
    """What the model needs from a backend."""

    name: str

    def prepare(self, state: State) -> None:
        """Called once before stepping (e.g. compile kernels, copy to a device)."""

    def step(self, state: State, params: StepParams) -> StepResult:
        """Advance ``state`` by one step of ``params.dt`` in place."""
        ...

    def sync(self, state: State) -> None:
        """Make the host arrays of ``state`` current (no-op on CPU backends)."""

    def state_changed(self, state: State) -> None:
        """The model wrote depths between steps (an exchange): drop what was derived from them
        (wet extents; a device backend would copy the host arrays over)."""


_REGISTRY: dict[str, Callable[[], Backend]] = {}


def register_backend(name: str, factory: Callable[[], Backend]) -> None:
    """Register a backend factory under ``name`` (replacing any previous one)."""
    _REGISTRY[name] = factory


def get_backend(name: str) -> Backend:
    """A new backend instance by name; ValueError listing the known names if unknown."""
    # Importing here registers the built-in backends without a circular import at module load.
    from . import _kernels, _reference  # noqa: F401

    try:
        factory = _REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY))
        raise ValueError(f"unknown backend {name!r}; known backends: {known}") from None
    return factory()


def available_backends() -> list[str]:
    """Names of the registered backends."""
    from . import _kernels, _reference  # noqa: F401

    return sorted(_REGISTRY)
