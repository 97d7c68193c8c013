"""Options of the surface models, and the fields they compute, declared once with their units.

:class:`NumericsConfig` says how a model steps, :class:`OutputConfig` what it records. Both are
frozen and check themselves when made, so a model (:class:`~.model.Model`,
:class:`~.subgrid.SubgridModel`) receives options that are already valid. The models still take
the same options as keywords (``Model(grid, alpha=0.5)``); :func:`split_options` sorts those into
the two configs.

:data:`FIELDS` lists the arrays a model keeps, as Landlab's components declare theirs in
``_info``: where each lives, its unit and what it means.

>>> NumericsConfig(alpha=0.5).theta
0.95
>>> NumericsConfig(alpha=1.5)
Traceback (most recent call last):
...
ValueError: alpha must be in (0, 1], got 1.5
>>> numerics, outputs = split_options(NumericsConfig(), OutputConfig(), {"alpha": 0.4})
>>> numerics.alpha, outputs.output_interval_s
(0.4, 60.0)
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, TypedDict

from ._backend import MAX_THRESHOLDS


def positive(value: Any, what: str, *, allow_zero: bool = False) -> float:
    """``value`` as a finite float > 0 (>= 0 with ``allow_zero``); ValueError naming ``what``."""
    try:
        v = float(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{what} must be a number, got {value!r}") from exc
    if not math.isfinite(v) or v < 0.0 or (v == 0.0 and not allow_zero):
        raise ValueError(f"{what} must be a finite number {'>=' if allow_zero else '>'} 0, got {v}")
    return v


@dataclass(frozen=True)
class NumericsConfig:
    """How a model steps (the scheme is in :mod:`.model`'s docstring).

    Attributes:
        alpha: Courant number in Δt = α·Δx/√(g·h_max), in (0, 1]; stable for α < √(θ/2).
        theta: de Almeida θ in [0, 1] (1 = no flux averaging).
        max_dt_s: largest step (s), used when the grid is (nearly) dry.
        fixed_dt_s: a fixed step (s) instead of the adaptive one (for converged references).
        flow_depth_min_m: faces with a flow depth at or below this (m) carry no flow.
        track_wet: compute only the wet region (and its neighbours) while no rain falls; the
            answer is the same (regular grid only).
    """

    alpha: float = 0.65
    theta: float = 0.95
    max_dt_s: float = 10.0
    fixed_dt_s: float | None = None
    flow_depth_min_m: float = 1e-5
    track_wet: bool = True

    def __post_init__(self) -> None:
        alpha = positive(self.alpha, "alpha")
        if alpha > 1.0:
            raise ValueError(f"alpha must be in (0, 1], got {alpha}")
        theta = positive(self.theta, "theta", allow_zero=True)
        if theta > 1.0:
            raise ValueError(f"theta must be in [0, 1], got {theta}")
        fixed = None if self.fixed_dt_s is None else positive(self.fixed_dt_s, "fixed_dt_s")
        _set(self, alpha=alpha, theta=theta, fixed_dt_s=fixed, track_wet=bool(self.track_wet))
        _set(self, max_dt_s=positive(self.max_dt_s, "max_dt_s"))
        _set(self, flow_depth_min_m=positive(self.flow_depth_min_m, "flow_depth_min_m"))


@dataclass(frozen=True)
class OutputConfig:
    """What a model records.

    Attributes:
        depth_thresholds_m: depths (m), strictly increasing, at most
            :data:`MAX_THRESHOLDS`, for arrival times, time above and flooded areas.
        output_interval_s: how often (s) gauges, flooded area and mass balance are recorded.
        wet_threshold_m: depth (m) from which a cell counts as wet (gauge speed, flooded area).
    """

    depth_thresholds_m: Sequence[float] = (0.15, 0.27, 0.40, 0.50)
    output_interval_s: float = 60.0
    wet_threshold_m: float = 1e-3

    def __post_init__(self) -> None:
        thresholds = tuple(
            positive(t, f"depth_thresholds_m[{i}]") for i, t in enumerate(self.depth_thresholds_m)
        )
        if any(b <= a for a, b in itertools.pairwise(thresholds)):
            raise ValueError(
                f"depth_thresholds_m must be strictly increasing, got {list(thresholds)}"
            )
        if len(thresholds) > MAX_THRESHOLDS:
            raise ValueError(
                f"at most {MAX_THRESHOLDS} depth_thresholds_m are tracked, got {len(thresholds)}"
            )
        _set(self, depth_thresholds_m=thresholds)
        _set(self, output_interval_s=positive(self.output_interval_s, "output_interval_s"))
        _set(self, wet_threshold_m=positive(self.wet_threshold_m, "wet_threshold_m"))


def _set(config: Any, **values: Any) -> None:
    """Store normalised values on a frozen dataclass while it checks itself."""
    for name, value in values.items():
        object.__setattr__(config, name, value)


class ModelOptions(TypedDict, total=False):
    """The options a model also takes as keywords (each a field of one of the two configs)."""

    alpha: float
    theta: float
    max_dt_s: float
    fixed_dt_s: float | None
    flow_depth_min_m: float
    track_wet: bool
    depth_thresholds_m: Sequence[float]
    output_interval_s: float
    wet_threshold_m: float


_NUMERICS = frozenset(f.name for f in dataclasses.fields(NumericsConfig))
_OUTPUTS = frozenset(f.name for f in dataclasses.fields(OutputConfig))


def split_options(
    numerics: NumericsConfig | None, outputs: OutputConfig | None, options: Mapping[str, Any]
) -> tuple[NumericsConfig, OutputConfig]:
    """The two configs, with the keyword ``options`` laid over them (ValueError if unknown)."""
    unknown = sorted(set(options) - _NUMERICS - _OUTPUTS)
    if unknown:
        raise ValueError(f"unknown option(s) {unknown}; options are {sorted(_NUMERICS | _OUTPUTS)}")
    num = numerics if numerics is not None else NumericsConfig()
    out = outputs if outputs is not None else OutputConfig()
    num_opts = {k: v for k, v in options.items() if k in _NUMERICS}
    out_opts = {k: v for k, v in options.items() if k in _OUTPUTS}
    return (
        dataclasses.replace(num, **num_opts) if num_opts else num,
        dataclasses.replace(out, **out_opts) if out_opts else out,
    )


class Field(NamedTuple):
    """One array a model keeps."""

    at: str  # "cell", "x face" (rows, cols+1), "y face" (rows+1, cols), "threshold × cell"
    units: str
    doc: str


FIELDS: dict[str, Field] = {
    "z": Field("cell", "m", "bed elevation above the lowest active cell (nodata: 1e6)"),
    "h": Field("cell", "m", "water depth"),
    "qx": Field("x face", "m²/s", "unit-width discharge, positive eastward"),
    "qy": Field("y face", "m²/s", "unit-width discharge, positive southward"),
    "gn2x": Field("x face", "m^(1/3)", "g·n² (Manning's n as the mean of the two cells)"),
    "gn2y": Field("y face", "m^(1/3)", "g·n² (Manning's n as the mean of the two cells)"),
    "rain_field": Field("cell", "m/s", "rain rate of a gridded rain (1 × 1 when uniform)"),
    "drain": Field("cell", "m/s", "drainage sink capacity"),
    "infil_f": Field("cell", "m/s", "current Horton infiltration capacity"),
    "infil_fc": Field("cell", "m/s", "final Horton infiltration capacity"),
    "infil_k": Field("cell", "1/s", "Horton decay constant"),
    "max_depth": Field("cell", "m", "largest depth so far"),
    "time_of_max": Field("cell", "s", "time the largest depth was reached"),
    "arrival": Field("threshold × cell", "s", "first time each threshold was reached (inf: not)"),
    "time_above": Field(
        "threshold × cell", "s", "time above each threshold, less the last upward crossing's"
    ),
    "above": Field("cell", "1", "how many thresholds the depth is at or above (uint8)"),
}
"""The state arrays of :class:`~.model.Model` (``_backend.State``), with where and in what."""
