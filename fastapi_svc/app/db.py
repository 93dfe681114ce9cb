"""Database engine and sessions: the driver is chosen from the plain DATABASE_URL."""

from typing import Any

from sqlalchemy import URL, event, make_url
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry

from app.config import DEFAULT_DB_POOL_SIZE, DEFAULT_DB_POOL_TIMEOUT_SECONDS

# A dead database must give 503 within 5 seconds, never a hang: connecting and each
# command fail fast, whatever DB_POOL_TIMEOUT says about waiting for a free connection.
CONNECT_TIMEOUT_SECONDS = 2
COMMAND_TIMEOUT_SECONDS = 2
SQLITE_BUSY_TIMEOUT_SECONDS = 5

_POSTGRES_NAMES = {"postgres", "postgresql", "postgresql+psycopg", "postgresql+psycopg2"}


def async_url(database_url: str) -> URL:
    """Map a plain URL (``sqlite:///x.db``, ``postgresql://...``) to its async driver."""
    url = make_url(database_url)
    if url.drivername in _POSTGRES_NAMES or url.drivername == "postgresql+asyncpg":
        return url.set(drivername="postgresql+asyncpg")
    if url.drivername in {"sqlite", "sqlite+pysqlite", "sqlite+aiosqlite"}:
        return url.set(drivername="sqlite+aiosqlite")
    raise ValueError("DATABASE_URL must be a sqlite:// or postgresql:// URL")


def create_engine(
    database_url: str,
    *,
    pool_size: int = DEFAULT_DB_POOL_SIZE,
    pool_timeout: float = DEFAULT_DB_POOL_TIMEOUT_SECONDS,
) -> AsyncEngine:
    """The engine of one worker process: at most ``pool_size`` connections (no overflow),
    a request waits up to ``pool_timeout`` seconds for one, then gets a 503; a pooled
    connection that the database dropped (a restart, an idle timeout) is replaced
    before use (``pool_pre_ping``)."""
    url = async_url(database_url)
    options: dict[str, Any] = {
        "pool_size": pool_size,
        "max_overflow": 0,
        "pool_timeout": pool_timeout,
        "pool_pre_ping": True,
        "hide_parameters": True,  # errors are logged: never with emails or hashes in them
    }
    if url.drivername.startswith("sqlite"):
        engine = create_async_engine(
            url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS}, **options
        )
        event.listen(engine.sync_engine, "connect", _configure_sqlite)
        return engine
    return create_async_engine(
        url,
        connect_args={
            "timeout": CONNECT_TIMEOUT_SECONDS,
            "command_timeout": COMMAND_TIMEOUT_SECONDS,
        },
        **options,
    )


def _sqlite_lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def _configure_sqlite(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
    """WAL, so that the worker processes sharing the file read beside a writer; the
    driver's busy timeout queues writers. The driver begins a transaction at the first
    write, so a read takes no lock."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
    # SQLite's own lower() folds ASCII only; search must fold like str.lower().
    dbapi_connection.create_function("lower", 1, _sqlite_lower, deterministic=True)


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)
