"""Drainage what-ifs as scenario runs beside the operational forecast (issue 24).

A what-if (:class:`~fangxun.drainage.service.DrainageWhatIf`: a pump station off, every inlet
blocked by a factor, the river at its guarantee level) is a forecast run of purpose
``scenario`` (never in force, never warns) that repeats the operational run in force — the same
rain request, horizon and members — with the what-if applied to the network
(``params["drainage_whatif"]``) and the run it is compared with in ``params["compare_to"]``.

:func:`whatif_changes` lists the hazard points whose warning colour differs between the two:
a point's colour in a run is the highest colour whose threshold the control member's peak depth
reaches (the same peak the forecast page ranks by), or none.

Keyword-only functions; they never commit.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from fangxun.config import Settings
from fangxun.errors import ValidationFailed
from fangxun.forecast import service as forecast
from fangxun.forecast.models import ForecastRun, RunPurpose, RunStatus
from fangxun.forecast.schemas import ForecastRunCreate, PointForecastRead
from fangxun.org.permissions import Actor

from .service import DrainageWhatIf, active_network

#: Warning colours, lowest first (the forecast's).
COLOURS: tuple[str, ...] = ("blue", "yellow", "orange", "red")


@dataclass(frozen=True)
class PointChange:
    """A hazard point whose warning colour the what-if changes (colours None = below blue)."""

    point_id: int
    code: str
    name: str
    base_colour: str | None
    whatif_colour: str | None
    base_peak_cm: float
    whatif_peak_cm: float

    @property
    def worse(self) -> bool:
        """The what-if raises the colour."""
        return _rank(self.whatif_colour) > _rank(self.base_colour)


@dataclass
class WhatIfComparison:
    """A what-if run against the run it repeats."""

    run_id: int
    base_run_id: int
    whatif: dict[str, Any]
    status: str
    changes: list[PointChange] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (``changes`` with ``worse``)."""
        return {
            "run_id": self.run_id,
            "base_run_id": self.base_run_id,
            "whatif": self.whatif,
            "status": self.status,
            "changes": [asdict(c) | {"worse": c.worse} for c in self.changes],
        }


def _rank(colour: str | None) -> int:
    return -1 if colour is None else COLOURS.index(colour)


def point_colour(point: PointForecastRead) -> str | None:
    """The highest colour whose threshold the point's (control) peak depth reaches, or None."""
    reached = [
        c
        for c in COLOURS
        if c in point.thresholds_cm and point.peak_depth_cm >= point.thresholds_cm[c]
    ]
    return reached[-1] if reached else None


def start_whatif(
    *,
    session: Session,
    settings: Settings,
    actor: Actor,
    whatif: DrainageWhatIf,
    base_run_id: int | None = None,
) -> ForecastRun:
    """Queue a scenario run repeating ``base_run_id`` (default: the operational run in force)
    with ``whatif`` applied; run it with :func:`fangxun.forecast.flows.execute_run`.

    Raises :class:`ValidationFailed` without a network, without a run to repeat, or for an empty
    what-if; :class:`fangxun.errors.PermissionDeniedError` for a role that may not run forecasts.
    """
    if not (whatif.pumps_off or whatif.inlet_factor is not None or whatif.river_at_guarantee):
        raise ValidationFailed("a what-if needs a pump station off, an inlet factor or the river")
    if isinstance(whatif.inlet_factor, float) and not 0.0 <= whatif.inlet_factor <= 1.0:
        raise ValidationFailed(f"inlet factor must be from 0 to 1, got {whatif.inlet_factor}")
    if active_network(session=session) is None:
        raise ValidationFailed("a drainage what-if needs an imported network")
    base = (
        forecast.current_run(session=session)
        if base_run_id is None
        else forecast.get_run(session=session, run_id=base_run_id)
    )
    if base is None:
        raise ValidationFailed("no operational forecast in force to compare a what-if with")
    run_in = ForecastRunCreate.model_validate(
        {
            "rain": base.params["rain"],
            "purpose": RunPurpose.scenario,
            "horizon_s": base.horizon_s,
            "members": base.members,
            "seed": base.params.get("seed"),
            "warm_start": base.params.get("warm_start", True),
        }
    )
    run = forecast.create_run(session=session, run_in=run_in, actor=actor, settings=settings)
    run.params = {
        **run.params,
        "drainage_whatif": _as_params(whatif),
        "compare_to": base.id,
    }
    session.flush()
    return run


def _as_params(whatif: DrainageWhatIf) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if whatif.pumps_off:
        out["pumps_off"] = list(whatif.pumps_off)
    if whatif.inlet_factor is not None:
        out["inlet_factor"] = whatif.inlet_factor
    if whatif.river_at_guarantee:
        out["river_at_guarantee"] = True
    return out


def whatif_changes(*, session: Session, run_id: int, actor: Actor) -> WhatIfComparison:
    """The points (in the actor's jurisdiction) whose colour the what-if run ``run_id`` changes
    against the run it repeats, worst first; empty until both runs are done."""
    run = forecast.get_run(session=session, run_id=run_id)
    whatif = run.params.get("drainage_whatif")
    base_id = run.params.get("compare_to")
    if whatif is None or base_id is None:
        raise ValidationFailed(f"forecast run {run_id} is not a drainage what-if")
    base = forecast.get_run(session=session, run_id=int(base_id))
    out = WhatIfComparison(run.id, base.id, dict(whatif), run.status.value)
    if run.status != RunStatus.done or base.status != RunStatus.done:
        return out
    before = {
        p.point_id: p for p in forecast.point_results(session=session, run_id=base.id, actor=actor)
    }
    for p in forecast.point_results(session=session, run_id=run.id, actor=actor):
        b = before.get(p.point_id)
        if b is None:
            continue
        c0, c1 = point_colour(b), point_colour(p)
        if c0 != c1:
            out.changes.append(
                PointChange(p.point_id, p.code, p.name, c0, c1, b.peak_depth_cm, p.peak_depth_cm)
            )
    out.changes.sort(key=lambda c: (-_rank(c.whatif_colour), -c.whatif_peak_cm))
    return out


def recent_whatifs(
    *, session: Session, actor: Actor, base_run_id: int, limit: int = 5
) -> list[WhatIfComparison]:
    """The latest what-if runs repeating ``base_run_id``, newest first, with their changes."""
    runs = forecast.list_runs(session=session, purpose=RunPurpose.scenario, limit=50)
    mine = [
        r
        for r in runs
        if r.params.get("drainage_whatif") is not None and r.params.get("compare_to") == base_run_id
    ]
    return [whatif_changes(session=session, run_id=r.id, actor=actor) for r in mine[:limit]]
