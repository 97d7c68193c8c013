"""Migrations from an empty database on SQLite and PostgreSQL, and that they match the models."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from fangxun.db import make_engine
from fangxun.db.migrate import (
    current_revision,
    downgrade_engine,
    head_revision,
    upgrade,
    upgrade_engine,
)
from fangxun.db.models_registry import Base

EXPECTED_TABLES = {
    "alembic_version",
    "audit_entry",
    "org_auth_token",
    "org_login_attempt",
    "org_person",
    "org_unit",
    "org_user",
}


@pytest.mark.parametrize(
    "empty_database_url",
    ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
    indirect=True,
)
def test_upgrade_from_empty_matches_models_and_downgrades(empty_database_url: str) -> None:
    engine = make_engine(empty_database_url)
    try:
        assert current_revision(engine) is None
        assert inspect(engine).get_table_names() == []
        upgrade(empty_database_url)
        assert current_revision(engine) == head_revision()
        assert set(inspect(engine).get_table_names()) >= EXPECTED_TABLES
        with engine.connect() as conn:
            diff = compare_metadata(
                MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata
            )
        assert diff == [], f"models and migrations differ: {diff}"
        # Idempotent, and reversible to empty and back.
        upgrade_engine(engine)
        downgrade_engine(engine, "base")
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        upgrade_engine(engine)
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()


def test_migration_chain_is_linear() -> None:
    from alembic.script import ScriptDirectory

    from fangxun.db.migrate import alembic_config

    script = ScriptDirectory.from_config(alembic_config())
    assert len(script.get_heads()) == 1, (
        "several heads: give the new revision the right down_revision"
    )


@pytest.mark.postgres
def test_postgres_schema_isolation(postgres_schema_url: str) -> None:
    # The per-test schema holds the tables; the public schema stays untouched.
    engine = make_engine(postgres_schema_url)
    try:
        upgrade_engine(engine)
        with engine.connect() as conn:
            schema = conn.exec_driver_sql("SELECT current_schema()").scalar_one()
        assert schema.startswith("fx_test_")
        assert "org_unit" in inspect(engine).get_table_names(schema=schema)
        assert "org_unit" not in inspect(engine).get_table_names(schema="public")
    finally:
        engine.dispose()
