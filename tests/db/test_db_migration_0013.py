"""Migration 0013 on existing data (SQLite and PostgreSQL): what-if runs made before purposes
existed become scenarios, and a datastream frozen by a future-dated reading gets its newest
reading that is not flagged ``future`` back as its latest value (issue 20 items 1 and 4)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import MetaData, select, text

from fangxun.db import make_engine
from fangxun.db.migrate import upgrade_engine

T = datetime(2026, 7, 20, 8, 0, tzinfo=UTC)
FUTURE = datetime(2099, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    "empty_database_url",
    ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
    indirect=True,
)
def test_0013_marks_old_what_ifs_and_unfreezes_latest_values(empty_database_url: str) -> None:
    engine = make_engine(empty_database_url)
    try:
        upgrade_engine(engine, "0012")
        meta = MetaData()
        meta.reflect(engine)
        t = meta.tables

        def stamped(table: str, row: dict[str, object]) -> dict[str, object]:
            """``row`` with the table's required time stamps."""
            times = {c.name: T for c in t[table].c if c.name in ("created_at", "updated_at")}
            return {**times, **row}

        station = {"id": 1, "code": "PD1", "name_zh": "PD1", "kind": "ponding"}
        station |= {"lon": 113.5, "lat": 34.8, "is_active": True}
        prop = {"id": 1, "code": "ponding_depth", "name_zh": "积水", "name_en": "Ponding"}
        prop |= {"si_unit": "m"}
        stream = {"id": 1, "code": "PD1-depth", "name": "d", "station_id": 1}
        stream |= {"observed_property_id": 1, "unit": "cm"}
        # Frozen: the cached latest is the 2099 reading, flagged future (8).
        stream |= {"last_time": FUTURE, "last_value": 0.8, "last_flags": 8}
        obs = {"datastream_id": 1, "received_at": T}
        with engine.begin() as conn:
            for table, row in (
                ("mon_station", station),
                ("mon_observed_property", prop),
                ("mon_datastream", stream),
            ):
                conn.execute(t[table].insert(), stamped(table, row))
            conn.execute(
                t["mon_observation"].insert(),
                [
                    {**obs, "phenomenon_time": T, "value": 0.05, "flags": 0},
                    {**obs, "phenomenon_time": FUTURE, "value": 0.8, "flags": 8},
                ],
            )
            run = {"status": "done", "params": {}, "members": 1, "horizon_s": 3600.0}
            run |= {"progress": 1.0, "created_at": T, "created_by": "t", "issued_at": T}
            for i, source in enumerate(("design", "series", "nowcast"), start=1):
                conn.execute(t["forecast_run"].insert(), {**run, "id": i, "rain_source": source})
        upgrade_engine(engine)
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT rain_source, purpose FROM forecast_run")).all()
            assert dict(rows) == {
                "design": "scenario",
                "series": "scenario",
                "nowcast": "operational",
            }
            ds = MetaData()
            ds.reflect(engine, only=["mon_datastream"])
            row = conn.execute(
                select(ds.tables["mon_datastream"].c["last_value", "last_flags"])
            ).one()
            assert tuple(row) == (0.05, 0)
            times = conn.execute(
                text(
                    "SELECT COUNT(*) FROM mon_datastream d JOIN mon_observation o "
                    "ON o.datastream_id = d.id AND o.phenomenon_time = d.last_time"
                )
            ).scalar_one()
            assert times == 1
            wide = conn.execute(text("SELECT COUNT(*) FROM org_user WHERE district_wide")).scalar()
            assert wide == 0
    finally:
        engine.dispose()
