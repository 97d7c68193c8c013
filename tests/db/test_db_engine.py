"""Engine set-up, session scope and the UTC timestamp type."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.orm import Session

from fangxun.db import make_engine, session_scope, utcnow
from fangxun.errors import ConfigError
from fangxun.org.models import Person, Unit, UnitKind

SHANGHAI = timezone(timedelta(hours=8))


def test_sqlite_pragmas(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'sub' / 'x.db'}")
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar_one() == 1
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar_one() == "wal"
        assert (tmp_path / "sub").is_dir()
    finally:
        engine.dispose()


def test_in_memory_sqlite_shares_one_database() -> None:
    engine = make_engine("sqlite://")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (x INTEGER)")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM t").scalar_one() == 0
    engine.dispose()


@pytest.mark.parametrize(
    "url", ["mysql://u@h/db", "postgresql+psycopg2://u@h/db", "not a url at all"]
)
def test_unusable_urls_name_the_setting(url: str) -> None:
    with pytest.raises(ConfigError, match="FANGXUN_DATABASE_URL"):
        make_engine(url)


def _unit(code: str) -> Unit:
    return Unit(code=code, name_zh=code, kind=UnitKind.district)


def test_session_scope_commits_on_success_and_rolls_back_on_error(engine: Engine) -> None:
    with session_scope(engine) as session:
        session.add(_unit("kept"))
    with pytest.raises(RuntimeError), session_scope(engine) as session:
        session.add(_unit("dropped"))
        session.flush()
        raise RuntimeError("boom")
    with session_scope(engine) as session:
        codes = set(session.scalars(select(Unit.code)))
    assert codes == {"kept"}


def test_foreign_keys_are_enforced(db_session: Session) -> None:
    db_session.add(Person(name="nobody", unit_id=999_999))
    with pytest.raises(IntegrityError):
        db_session.flush()


def test_utc_datetime_round_trip(db_session: Session) -> None:
    local = datetime(2021, 7, 20, 16, 0, tzinfo=SHANGHAI)
    unit = _unit("tz")
    unit.created_at = local
    db_session.add(unit)
    db_session.commit()
    db_session.expire_all()
    loaded = db_session.scalars(select(Unit).where(Unit.code == "tz")).one()
    assert loaded.created_at == local
    assert loaded.created_at.tzinfo is not None
    assert loaded.created_at.utcoffset() == timedelta(0)
    assert loaded.created_at.hour == 8
    # Comparisons in SQL use UTC too.
    found = db_session.scalar(
        select(Unit.code).where(Unit.created_at == datetime(2021, 7, 20, 8, 0, tzinfo=UTC))
    )
    assert found == "tz"


def test_naive_datetimes_are_refused(db_session: Session) -> None:
    unit = _unit("naive")
    unit.created_at = datetime(2021, 7, 20, 16, 0)
    db_session.add(unit)
    with pytest.raises(StatementError, match="naive datetime"):
        db_session.flush()


def test_utcnow_is_aware() -> None:
    now = utcnow()
    assert now.tzinfo is UTC


def test_select_one(engine: Engine) -> None:
    with engine.connect() as conn:
        assert conn.execute(text("SELECT 1")).scalar_one() == 1
