"""Engine and schema migrations. One URL picks the backend: sqlite:///PATH (the embedded
default) or postgresql+psycopg://USER@HOST:PORT/DB; the code above this module is the same."""

from __future__ import annotations

import logging
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from sea.errors import SeaError

log = logging.getLogger("sea.collector")

MIGRATIONS = Path(__file__).with_name("migrations")
# One collector at a time upgrades a shared PostgreSQL; the others wait on this lock.
_PG_MIGRATION_LOCK = 0x5EA_C011


class DatabaseError(SeaError):
    """The database URL is invalid or the database cannot be reached."""


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    # WAL: readers never block the writer; busy_timeout: concurrent writers wait, not fail.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def make_engine(url: str) -> Engine:
    """An engine for `url`; postgresql:// URLs use psycopg 3."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    try:
        parsed = sa.engine.make_url(url)
        backend = parsed.get_backend_name()
    except sa.exc.ArgumentError as exc:
        raise DatabaseError(f"db: not a database URL: {url!r} ({exc})") from exc
    if backend not in ("sqlite", "postgresql"):
        raise DatabaseError(f"db: {backend} is not supported (use sqlite:///PATH or "
                            "postgresql://USER@HOST:PORT/DB)")
    # pool_pre_ping: a restarted database costs one failed check, not a failed upload.
    # Up to 40 connections: as many as Starlette's thread pool runs handlers at once.
    pool = {} if parsed.database in (None, "", ":memory:") else {"pool_size": 5, "max_overflow": 35}
    engine = sa.create_engine(url, pool_pre_ping=True, **pool)
    if backend == "sqlite":
        sa.event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def migrate(engine: Engine) -> str:
    """Upgrade the schema to the newest revision shipped with the package; returns it."""
    from alembic import command
    from alembic.config import Config
    from alembic.runtime.migration import MigrationContext

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    try:
        with engine.begin() as connection:
            if engine.dialect.name == "postgresql":
                connection.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"),
                                   {"k": _PG_MIGRATION_LOCK})
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
            revision = MigrationContext.configure(connection).get_current_revision()
    except sa.exc.OperationalError as exc:
        raise DatabaseError(f"db: cannot reach {engine.url.render_as_string()} "
                            f"({_first_line(exc.orig or exc)})") from exc
    log.debug("database %s at schema revision %s", engine.url.render_as_string(), revision)
    return revision


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
