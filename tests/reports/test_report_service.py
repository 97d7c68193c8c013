"""Storm events and per-point statistics from the database, cause suggestions and confirmation,
and the review's rectifications, on the crafted district of ``conftest.py`` (SQLite and
PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from report_helpers import (
    SYSTEM,
    T0,
    Crafted,
    depth_pd1,
    depth_pd2,
    rain_mm,
)
from sqlalchemy import select
from sqlalchemy.orm import Session

from factories import make_unit
from fangxun.audit.models import AuditEntry
from fangxun.config import Settings
from fangxun.errors import NotFoundError, PermissionDeniedError, ValidationFailed
from fangxun.forecast.service import storm_formula
from fangxun.hazards.models import Rectification
from fangxun.monitoring.models import Datastream, Observation
from fangxun.org import service as org_service
from fangxun.org.models import Role
from fangxun.org.schemas import UserCreate
from fangxun.reports import service
from fangxun.reports.models import EventStatus

H = 3600.0


def _detect(session: Session, settings: Settings) -> service.StormEvent:
    events = service.detect_events(
        session=session, settings=settings, actor=SYSTEM, now=T0 + timedelta(days=1)
    )
    assert len(events) == 1
    return events[0]


def test_detect_the_storm_and_its_rain_figures(
    db_session: Session, crafted: Crafted, settings: Settings
) -> None:
    event = _detect(db_session, settings)
    mm = np.array([rain_mm(k) for k in range(1, 97)])
    assert event.start == T0 + timedelta(hours=1)  # start of the first rainy interval
    assert event.end == T0 + timedelta(hours=3)
    assert event.status is EventStatus.closed
    assert event.total_m * 1000 == pytest.approx(mm.sum()) == pytest.approx(84.0)
    assert event.max_1h_m * 1000 == pytest.approx(max(mm[k : k + 12].sum() for k in range(85)))
    assert event.max_3h_m * 1000 == pytest.approx(84.0)
    # 84 mm in 12 h is a 大暴雨 by the 12-hour grades (≥ 70 mm), a 暴雨 by the 24-hour ones.
    assert event.grade == "heavy_rainstorm"
    # Return period: the largest over the formula's durations, computed here from the formula.
    f = storm_formula(settings)
    expected = max(
        10 ** ((mm_d / (d / 60) * (d / 60 + f.b) ** f.n / f.a - 1) / f.c)
        for d, mm_d in ((1800, 30.0), (3600, 60.0), (7200, 84.0), (10800, 84.0))
    )
    assert event.return_period_years == pytest.approx(expected)
    # Detecting again updates the same event; an open event while the rain may go on.
    again = service.detect_events(
        session=db_session, settings=settings, actor=SYSTEM, now=T0 + timedelta(hours=4)
    )
    assert [e.id for e in again] == [event.id] and again[0].status is EventStatus.open
    assert service.list_events(session=db_session) == [event]
    with pytest.raises(NotFoundError):
        service.get_event(session=db_session, event_id=event.id + 99)
    with pytest.raises(ValidationFailed, match="end is before start"):
        service.detect_events(
            session=db_session,
            settings=settings,
            actor=SYSTEM,
            start=T0,
            end=T0 - timedelta(hours=1),
        )


def _dense_above(f: object, start: float, end: float, thr: float) -> float:
    # Independent of the service: a fine grid over the closed-form depth (5-minute samples are
    # linear pieces of these functions, so the two agree to the grid spacing).
    t = np.arange(start, end, 1.0)
    d = np.array([f(x) for x in t])  # type: ignore[operator]
    return float((d >= thr).sum())


def test_point_statistics_on_the_crafted_series(
    db_session: Session, crafted: Crafted, settings: Settings
) -> None:
    event = _detect(db_session, settings)
    pts = service.point_statistics(session=db_session, settings=settings, event=event, actor=None)
    by = {p.code: p for p in pts}
    assert [p.code for p in pts] == ["HP-PD1", "HP-PD2", "HP-PD3"]  # worst first
    assert [p.rank for p in pts] == [1, 2, 3]
    p1, p2, p3 = by["HP-PD1"], by["HP-PD2"], by["HP-PD3"]
    assert p1.max_depth_m == pytest.approx(0.5) and p1.max_at == T0 + timedelta(hours=2.5)
    end = 8 * H  # the last sample
    assert p1.above_ponding_s == pytest.approx(_dense_above(depth_pd1, H, end, 0.15), abs=2)
    assert p1.above_ponding_s == pytest.approx((4.25 - 1.45) * H)
    for colour, thr in (("yellow", 0.27), ("orange", 0.40), ("red", 0.50)):
        assert p1.above_s[colour] == pytest.approx(_dense_above(depth_pd1, H, end, thr), abs=2)
    assert p1.drain_s == pytest.approx(0.9 * 2.5 * H)
    assert p2.above_ponding_s == pytest.approx(_dense_above(depth_pd2, H, end, 0.15), abs=2)
    assert p2.drain_s is None  # still 25 cm at the last sample
    assert p3.max_depth_m == pytest.approx(0.05) and not p3.ponded(0.15)
    assert p1.incidents == 1 and p2.incidents == 0
    assert p1.forecast is not None and p1.forecast.peak_m == pytest.approx(0.4)
    assert p1.forecast.error_m == pytest.approx(-0.1)
    assert p2.forecast is None
    if crafted.warnings_table:
        assert p1.warnings is not None and p1.warnings.count == 1
        # Blue (15 cm) observed at 1.45 h, warned at 80 min: 7 minutes ahead.
        assert p1.warnings.lead_s == pytest.approx((1.45 * 60 - 80) * 60)
        assert p2.warnings is not None and p2.warnings.count == 0


def test_cause_suggestions_from_the_data(
    db_session: Session, crafted: Crafted, settings: Settings
) -> None:
    event = _detect(db_session, settings)
    pts = {
        p.code: p
        for p in service.point_statistics(
            session=db_session, settings=settings, event=event, actor=None
        )
    }
    s1 = [
        s.cause
        for s in service.suggest(
            session=db_session, settings=settings, event=event, ps=pts["HP-PD1"]
        )
    ]
    s2 = [
        s.cause
        for s in service.suggest(
            session=db_session, settings=settings, event=event, ps=pts["HP-PD2"]
        )
    ]
    # 30 mm in 30 min (60 mm/h) beats the design intensity of the configured formula.
    capacity = storm_formula(settings).intensity_mm_h(
        settings.forecast_drainage_duration_s, settings.forecast_drainage_return_period_years
    )
    assert capacity < 60.0
    # PD1: the power failed at 1.5 h while the water rose; it drained in time.
    assert s1 == ["pump_failure", "drainage_capacity", "terrain_low_point"]
    # PD2: never drained, no pump, river below the outfall → blocked inlets.
    assert s2 == ["drainage_capacity", "blocked_inlets", "terrain_low_point"]
    assert (
        service.suggest(session=db_session, settings=settings, event=event, ps=pts["HP-PD3"]) == []
    )


def test_confirm_cause_and_create_rectifications(
    db_session: Session, crafted: Crafted, settings: Settings
) -> None:
    event = _detect(db_session, settings)
    with pytest.raises(ValidationFailed, match="unknown cause"):
        service.confirm_cause(
            session=db_session,
            settings=settings,
            event_id=event.id,
            point_id=crafted.points["PD1"],
            cause="aliens",
            evidence=None,
            actor=SYSTEM,
        )
    viewer = org_service.create_user(
        session=db_session,
        user_in=UserCreate(
            username="viewer-rv", password="correct-horse-battery", role=Role.viewer
        ),
        actor=SYSTEM,
    )
    with pytest.raises(PermissionDeniedError):
        service.confirm_cause(
            session=db_session,
            settings=settings,
            event_id=event.id,
            point_id=crafted.points["PD1"],
            cause="pump_failure",
            evidence=None,
            actor=viewer,
        )
    row = service.confirm_cause(
        session=db_session,
        settings=settings,
        event_id=event.id,
        point_id=crafted.points["PD1"],
        cause="other",
        evidence="  ",
        actor=SYSTEM,
    )
    row = service.confirm_cause(
        session=db_session,
        settings=settings,
        event_id=event.id,
        point_id=crafted.points["PD1"],
        cause="pump_failure",
        evidence="现场核实：配电柜进水",
        actor=SYSTEM,
    )
    assert row.cause == "pump_failure" and row.suggestions[0]["cause"] == "pump_failure"
    audits = db_session.scalars(
        select(AuditEntry).where(AuditEntry.object_type == "report_point_cause")
    ).all()
    assert [a.action.value for a in audits] == ["create", "update"]
    service.confirm_cause(
        session=db_session,
        settings=settings,
        event_id=event.id,
        point_id=crafted.points["PD2"],
        cause="blocked_inlets",
        evidence=None,
        actor=SYSTEM,
    )
    db_session.refresh(event)
    now = T0 + timedelta(days=1)
    out = service.create_rectifications(
        session=db_session, settings=settings, event_id=event.id, actor=SYSTEM, now=now
    )
    assert len(out.created) == 2 and out.skipped == []
    rects = {r.point_id: r for r in db_session.scalars(select(Rectification))}
    r1 = rects[crafted.points["PD1"]]
    assert "泵站故障" in r1.finding and "50 cm" in r1.finding and "配电柜进水" in r1.finding
    assert r1.responsible_person_id == crafted.person
    assert r1.deadline == now + timedelta(seconds=settings.report_rectification_deadline_s)
    assert event.status is EventStatus.reviewed
    # Running the review again opens nothing twice.
    again = service.create_rectifications(
        session=db_session, settings=settings, event_id=event.id, actor=SYSTEM, now=now
    )
    assert again.created == []
    progress = service.review_progress(session=db_session, events=[event], now=now)
    assert [(u.unit_name, u.total, u.closed, u.overdue) for u in progress] == [
        ("报表街道", 2, 0, 0)
    ]
    late = service.review_progress(session=db_session, events=[event], now=now + timedelta(days=60))
    assert late[0].overdue == 2
    season = service.season_summary(
        session=db_session,
        settings=settings,
        actor=None,
        start=T0 - timedelta(days=30),
        end=T0 + timedelta(days=30),
    )
    assert [e.id for e in season.events] == [event.id]
    assert [(p.code, p.events_ponded) for p in season.points][:2] == [("HP-PD1", 1), ("HP-PD2", 1)]


def test_unit_user_sees_only_its_points(
    db_session: Session, crafted: Crafted, settings: Settings
) -> None:
    event = _detect(db_session, settings)
    other = make_unit(
        db_session, "OTHER", "street_office", crafted.district, name_zh="别处", actor=SYSTEM
    )
    outsider = org_service.create_user(
        session=db_session,
        user_in=UserCreate(
            username="outsider", password="correct-horse-battery", role=Role.unit, unit_id=other.id
        ),
        actor=SYSTEM,
    )
    assert (
        service.point_statistics(session=db_session, settings=settings, event=event, actor=outsider)
        == []
    )
    with pytest.raises(NotFoundError):
        service.confirm_cause(
            session=db_session,
            settings=settings,
            event_id=event.id,
            point_id=crafted.points["PD1"],
            cause="other",
            evidence=None,
            actor=outsider,
        )


def test_rain_that_bridges_a_gap_joins_two_events(
    db_session: Session, crafted: Crafted, settings: Settings
) -> None:
    from report_helpers import _obs

    _obs(db_session, "RG1-rain", [(T0 + timedelta(hours=10), 0.020)])  # 7 h after the storm
    db_session.flush()
    now = T0 + timedelta(days=1)
    first, second = service.detect_events(
        session=db_session, settings=settings, actor=SYSTEM, now=now
    )
    assert second.start == T0 + timedelta(hours=10) - timedelta(minutes=5)
    assert second.total_m == pytest.approx(0.020)
    # A 1 mm report at 6.5 h, where the gauge had reported 0.
    dry = db_session.scalars(
        select(Observation)
        .where(Observation.phenomenon_time == T0 + timedelta(hours=6.5))
        .join(Datastream, Datastream.id == Observation.datastream_id)
        .where(Datastream.code == "RG1-rain")
    ).one()
    assert dry.value == 0.0
    dry.value = 0.001
    db_session.flush()
    (joined,) = service.detect_events(session=db_session, settings=settings, actor=SYSTEM, now=now)
    assert joined.id == first.id and joined.end == T0 + timedelta(hours=10)
    assert joined.total_m == pytest.approx(0.084 + 0.001 + 0.020)
    assert [e.id for e in service.list_events(session=db_session)] == [first.id]
    deleted = db_session.scalars(
        select(AuditEntry).where(
            AuditEntry.object_type == "report_storm_event", AuditEntry.action == "delete"
        )
    ).all()
    assert [a.object_id for a in deleted] == [str(second.id)]
