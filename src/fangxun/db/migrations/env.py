"""Alembic environment for Fangxun, driven by :mod:`fangxun.db.migrate` (no alembic.ini needed).

The connection comes from ``config.attributes``: an ``engine`` (tests, CLI) or a ``url``;
failing both, ``FANGXUN_DATABASE_URL`` via the settings.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, Engine

from fangxun.db.engine import make_engine
from fangxun.db.models_registry import Base

config = context.config
target_metadata = Base.metadata


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things: batch mode copies the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )


def _engine() -> tuple[Engine, bool]:
    engine = config.attributes.get("engine")
    if isinstance(engine, Engine):
        return engine, False
    url = config.attributes.get("url")
    if not isinstance(url, str):
        from fangxun.config import get_settings

        url = get_settings().database_url
    return make_engine(url), True


def run_migrations_offline() -> None:
    """Emit SQL to stdout instead of running it (``alembic upgrade --sql``)."""
    url = config.attributes.get("url")
    if not isinstance(url, str):
        from fangxun.config import get_settings

        url = get_settings().database_url
    context.configure(url=url, target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Run the migrations on a live connection, in one transaction."""
    connection = config.attributes.get("connection")
    if isinstance(connection, Connection):
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine, owned = _engine()
    try:
        with engine.connect() as conn:
            _configure(conn)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        if owned:
            engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
