"""Migration 0018: a fresh database has the standard observed properties, without the demo."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from fangxun.audit.service import SystemActor
from fangxun.monitoring import service
from fangxun.monitoring.models import ObservedProperty, StationKind
from fangxun.monitoring.schemas import DatastreamCreate, StationCreate

SYSTEM = SystemActor(username="setup-test")


def test_fresh_database_registers_a_rain_gauge_without_the_demo(db_session: Session) -> None:
    codes = set(db_session.scalars(select(ObservedProperty.code)))
    assert codes == {p.code for p in service.DEFAULT_PROPERTIES}
    service.create_station(
        session=db_session,
        station_in=StationCreate(
            code="RG-X1", name_zh="测试雨量站", kind=StationKind.rain_gauge, lon=117.3, lat=31.8
        ),
        actor=SYSTEM,
    )
    for code, interval in (("RG-X1-p5", 300), ("RG-X1-p60", 3600)):
        ds = service.create_datastream(
            session=db_session,
            datastream_in=DatastreamCreate(
                code=code, name=code, station_code="RG-X1", observed_property="rainfall",
                unit="mm", interval_s=interval,
            ),
            actor=SYSTEM,
        )  # fmt: skip
        assert ds.observed_property.code == "rainfall"
    service.create_datastream(
        session=db_session,
        datastream_in=DatastreamCreate(
            code="RG-X1-pt", name="pt", station_code="RG-X1",
            observed_property="rainfall_accumulated", unit="mm",
        ),
        actor=SYSTEM,
    )  # fmt: skip


def test_migrated_rows_match_the_service_defaults(db_session: Session) -> None:
    # The migration's frozen copy and the service defaults agree, so the demo seed adds nothing.
    for spec in service.DEFAULT_PROPERTIES:
        row = db_session.scalar(select(ObservedProperty).where(ObservedProperty.code == spec.code))
        assert row is not None
        for key, value in spec.model_dump().items():
            assert getattr(row, key) == value, (spec.code, key)
    before = db_session.scalar(select(ObservedProperty.id).order_by(ObservedProperty.id.desc()))
    have = service.ensure_observed_properties(session=db_session)
    assert set(have) == {p.code for p in service.DEFAULT_PROPERTIES}
    after = db_session.scalar(select(ObservedProperty.id).order_by(ObservedProperty.id.desc()))
    assert before == after
