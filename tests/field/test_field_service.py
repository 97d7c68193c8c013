"""The field service: a client key is applied once, also when two requests with it race on two
connections (PostgreSQL); tracks are thinned within the tolerance; overdue patrols."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pyproj import Geod
from shapely.geometry import LineString, Point
from sqlalchemy import Engine, func, select, text

from fangxun.audit.service import SystemActor
from fangxun.db import session_scope
from fangxun.db.engine import session_factory
from fangxun.errors import ValidationFailed
from fangxun.field import service
from fangxun.field.models import ClientSubmission
from fangxun.org.models import Unit, UnitKind

SYSTEM = SystemActor(username="field-tests")


def test_a_key_raced_on_two_connections_makes_one_record(engine: Engine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer at a time: there is no race to lose")
    key = str(uuid.uuid4())
    factory = session_factory(engine)
    claimed, results = threading.Event(), {}

    def first() -> None:
        with factory.begin() as session:

            def action() -> str:
                session.add(Unit(code="RACE-1", name_zh="竞争", kind=UnitKind.department))
                claimed.set()
                # Hold the transaction until the second request waits on the key's row lock.
                with engine.connect() as probe:
                    for _ in range(500):
                        waiting = probe.execute(
                            text("SELECT count(*) FROM pg_locks WHERE NOT granted")
                        ).scalar_one()
                        if waiting:
                            break
                        threading.Event().wait(0.01)
                return "/units/race"

            results["first"] = service.apply_once(
                session=session, client_key=key, kind="unit", actor=SYSTEM, action=action
            )

    def second() -> None:
        claimed.wait(10)
        try:
            run_second()
        except BaseException as exc:  # reported by the assertion below, with its message
            results["second_error"] = exc

    def run_second() -> None:
        with factory.begin() as session:
            results["second"] = service.apply_once(
                session=session,
                client_key=key,
                kind="unit",
                actor=SYSTEM,
                action=lambda: pytest.fail("the second request ran the action"),
            )

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert "second_error" not in results, repr(results.get("second_error"))
    assert not results["first"].duplicate
    assert results["second"].duplicate
    assert results["second"].result_url == "/units/race"
    with session_scope(engine) as session:
        assert session.scalar(select(func.count()).where(Unit.code == "RACE-1")) == 1
        assert session.scalar(select(func.count()).select_from(ClientSubmission)) == 1


def test_a_key_applied_by_one_user_is_not_another_kind(engine: Engine) -> None:
    key = str(uuid.uuid4())
    with session_scope(engine) as session:
        service.apply_once(
            session=session, client_key=key, kind="incident", actor=SYSTEM, action=lambda: "/a"
        )
    from fangxun.errors import ConflictError

    with session_scope(engine) as session, pytest.raises(ConflictError, match="another"):
        service.apply_once(
            session=session, client_key=key, kind="drill", actor=SYSTEM, action=lambda: "/b"
        )


_GEOD = Geod(ellps="WGS84")
_lon = st.floats(min_value=113.50, max_value=113.60)
_lat = st.floats(min_value=34.75, max_value=34.85)


@given(st.lists(st.tuples(_lon, _lat), min_size=2, max_size=60, unique=True))
def test_the_thinned_track_stays_within_the_tolerance(fixes: list[tuple[float, float]]) -> None:
    line, length = service.thin_track(fixes)
    kept = line["coordinates"]
    assert kept[0] == pytest.approx(list(fixes[0]), abs=1e-6)
    assert kept[-1] == pytest.approx(list(fixes[-1]), abs=1e-6)
    assert 2 <= len(kept) <= len(fixes)
    # Every fix lies within the tolerance of the thinned line (measured in degrees scaled to
    # metres locally: 1e-5° ≈ 0.9–1.1 m here, so allow a margin of 50 %).
    thinned = LineString(kept)
    metres_per_degree = 111_320.0 * 0.82  # cos(34.8°) bounds the longitude scale from below
    for lon, lat in fixes:
        assert (
            thinned.distance(Point(lon, lat)) * metres_per_degree <= 1.5 * service.TRACK_TOLERANCE_M
        )
    walked = _GEOD.line_length([f[0] for f in fixes], [f[1] for f in fixes])
    assert length <= walked + 1e-6


def test_a_track_standing_still_is_refused() -> None:
    with pytest.raises(ValidationFailed, match="two different positions"):
        service.thin_track([(113.55, 34.81)] * 5)


def test_overdue_patrols(engine: Engine, make_unit: Any) -> None:
    from fangxun.field.schemas import PatrolCreate, PatrolPlanCreate

    office = make_unit("WT", UnitKind.district, name_zh="高新区")
    now = datetime(2026, 7, 20, 12, tzinfo=UTC)
    with session_scope(engine) as session:
        plan = service.create_plan(
            session=session,
            plan_in=PatrolPlanCreate(
                name="贾鲁河巡堤",
                unit_id=office,
                interval_s=86_400,
                starts_at=now - timedelta(days=3),
            ),
            actor=SYSTEM,
        )
        plan_id = plan.id
        # Never walked: due since its start.
        (row,) = service.overdue_patrols(session=session, actor=SYSTEM, now=now)
        assert row.plan_id == plan_id and row.overdue_s == 3 * 86_400
        service.record_patrol(
            session=session,
            patrol_in=PatrolCreate(
                plan_id=plan_id,
                started_at=now - timedelta(hours=2),
                ended_at=now - timedelta(hours=1),
                track=[{"lon": 113.55, "lat": 34.81}, {"lon": 113.56, "lat": 34.81}],
            ),
            actor=SYSTEM,
            data_dir=__import__("pathlib").Path("."),
        )
        assert service.overdue_patrols(session=session, actor=SYSTEM, now=now) == []
        later = service.overdue_patrols(session=session, actor=SYSTEM, now=now + timedelta(days=1))
        assert [r.overdue_s for r in later] == [3600]
