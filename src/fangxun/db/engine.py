"""Engine and session scope. Services never commit; the edge (request, CLI command) does, here."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

from fangxun.errors import ConfigError

#: How long SQLite waits for another process's write lock before failing, ms.
SQLITE_BUSY_TIMEOUT_MS = 10_000
#: How long to wait for a PostgreSQL connection unless the URL says otherwise, s.
PG_CONNECT_TIMEOUT_S = 10


def _sqlite_on_connect(dbapi_conn: Any, _record: Any, *, wal: bool) -> None:
    cursor = dbapi_conn.cursor()
    try:
        # SQLite ignores foreign keys unless asked, per connection.
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        if wal:
            # WAL lets the web server read while a CLI command or ingest writes.
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
    finally:
        cursor.close()


def make_engine(url: str, *, echo: bool = False) -> Engine:
    """Create an engine for ``url`` (``sqlite:///path`` or ``postgresql+psycopg://...``).

    For a SQLite file the parent directory is created; foreign keys, a busy timeout and WAL are
    switched on for every connection. Raises :class:`ConfigError` for an unusable URL.
    """
    try:
        parsed = make_url(url)
    except Exception as exc:  # sqlalchemy raises ArgumentError with a terse message
        raise ConfigError(f"FANGXUN_DATABASE_URL: cannot parse {url!r}: {exc}") from exc

    backend = parsed.get_backend_name()
    if backend == "sqlite":
        database = parsed.database or ""
        in_memory = database in ("", ":memory:") or database.startswith("file::memory:")
        kwargs: dict[str, Any] = {"connect_args": {"check_same_thread": False}}
        if in_memory:
            # One shared connection, or every new connection would see an empty database.
            kwargs["poolclass"] = StaticPool
        else:
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed, echo=echo, **kwargs)
        wal = not in_memory

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, record: Any) -> None:
            _sqlite_on_connect(dbapi_conn, record, wal=wal)

        return engine
    if backend == "postgresql":
        if parsed.get_driver_name() != "psycopg":
            raise ConfigError(
                "FANGXUN_DATABASE_URL: use the psycopg 3 driver ('postgresql+psycopg://...'), "
                f"not {parsed.drivername!r}"
            )
        connect_args: dict[str, Any] = {}
        if "connect_timeout" not in parsed.query:
            # Fail a health check or a command within seconds when the server is unreachable.
            connect_args["connect_timeout"] = PG_CONNECT_TIMEOUT_S
        return create_engine(parsed, echo=echo, pool_pre_ping=True, connect_args=connect_args)
    raise ConfigError(
        f"FANGXUN_DATABASE_URL: unsupported database {backend!r} (use sqlite or postgresql+psycopg)"
    )


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """A session factory bound to ``engine``; objects stay readable after commit."""
    return sessionmaker(bind=engine, expire_on_commit=False, autoflush=True)


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """One unit of work: commit when the block succeeds, roll back when it raises, always close."""
    session = session_factory(engine)()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def ping(engine: Engine) -> None:
    """Ask the database a ``SELECT 1``; the driver's error when it does not answer."""
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))
