"""The verification archive: observed crossings and forecast warnings kept as events by every
evaluation, and their scores per point and colour (hits, false alarms, lead)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session
from warn_helpers import World, observe, run

from fangxun.config import Settings
from fangxun.forecast.models import ForecastPointResult, ForecastRun, RainSource, RunStatus
from fangxun.warnings import verification
from fangxun.warnings.config import WarningRules
from fangxun.warnings.models import VerificationEvent, VerificationKind

T0 = datetime(2026, 7, 20, 8, 0, tzinfo=UTC)
THR = {"blue": 0.15, "yellow": 0.27, "orange": 0.40, "red": 0.50}


def _forecast(session: Session, point_ids: list[int]) -> None:
    """A run issued at T0 that brings each point to orange in 40 min (peak 0.45 m)."""
    fr = ForecastRun(
        status=RunStatus.done,
        rain_source=RainSource.design,
        params={},
        members=1,
        horizon_s=3 * 3600,
        created_by="t",
        issued_at=T0,
        finished_at=T0,
    )
    session.add(fr)
    session.flush()
    for pid in point_ids:
        session.add(
            ForecastPointResult(
                run_id=fr.id,
                point_id=pid,
                row=0,
                col=0,
                times_s=[0, 3600],
                depth_m=[0, 0.45],
                peak_depth_m=0.45,
                peak_time_s=3000,
                time_to_threshold_s={
                    "blue": 800.0,
                    "yellow": 1440.0,
                    "orange": 2400.0,
                    "red": None,
                },
                probability={"blue": 1.0, "yellow": 1.0, "orange": 1.0, "red": 0.0},
                member_peaks_m=[0.45],
                thresholds_m=THR,
            )
        )
    session.flush()


def test_crossings_and_warnings_are_kept_and_scored_per_point_and_colour(
    db_session: Session, settings: Settings, world: World
) -> None:
    rules = WarningRules(
        enabled=["ponding", "predicted_ponding"],
        approval_auto_colours=["blue", "yellow", "orange", "red"],
    )
    s = settings.model_copy(update={"warning_rules": rules})
    a, b = world.point_a.id, world.point_b.id
    _forecast(db_session, [a, b])
    run(db_session, s, T0)  # forecast warnings at both points (orange)
    # Point A's sensor: wet at +30 min, orange at +45 min, dry at +3 h. Point B stays dry.
    for minutes, depth in ((30, 0.20), (45, 0.45), (60, 0.44), (180, 0.0)):
        at = T0 + timedelta(minutes=minutes)
        observe(db_session, world.depth_a, [(at, depth)])
        observe(db_session, world.depth_b, [(at, 0.0)])
        run(db_session, s, at)
    events = list(db_session.scalars(select(VerificationEvent).order_by(VerificationEvent.id)))
    kinds = [(e.kind, e.hazard_point_id, e.colour) for e in events]
    assert (VerificationKind.warning, a, "orange") in kinds
    assert (VerificationKind.warning, b, "orange") in kinds
    crossings = [(e.colour, e.at) for e in events if e.kind is VerificationKind.crossing]
    assert crossings == [
        ("blue", T0 + timedelta(minutes=30)),
        ("yellow", T0 + timedelta(minutes=45)),
        ("orange", T0 + timedelta(minutes=45)),
    ]
    assert [e.at for e in events if e.kind is VerificationKind.dry] == [T0 + timedelta(minutes=180)]
    rows = {r["point_id"]: r["scores"] for r in verification.by_point(session=db_session)}
    orange_a = rows[a]["orange"]
    assert (orange_a["hits"], orange_a["crossings"], orange_a["false_alarms"]) == (1, 1, 0)
    assert orange_a["lead_s_median"] == 45 * 60
    orange_b = rows[b]["orange"]
    assert (orange_b["crossings"], orange_b["warnings"], orange_b["false_alarms"]) == (0, 1, 1)
    everyone = rows[None]["orange"]
    assert (everyone["pod"], everyone["far"]) == (1.0, 0.5)


def test_score_counts_a_late_warning_within_the_tolerance_and_not_a_lifted_one() -> None:
    t = T0
    crossings = [verification.Crossing(1, "red", t), verification.Crossing(2, "red", t)]
    spans = [
        verification.Span(1, "red", t + timedelta(minutes=5), None, 1),  # late, within 10 min
        verification.Span(2, "red", t - timedelta(hours=1), t - timedelta(minutes=30), 2),
    ]
    s = verification.score(crossings, spans, tolerance_s=600.0)["red"]
    assert (s["hits"], s["misses"], s["leads_s"]) == (1, 1, [-300.0])
    # Lifted 30 min before the water came: a false alarm, and the crossing a miss.
    assert s["false_alarms"] == 1
