"""Database engine and sessions: the driver is chosen from the plain DATABASE_URL."""

from collections.abc import AsyncIterator
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

# A dead database must give 503 within 5 seconds, never a hang.
CONNECT_TIMEOUT_SECONDS = 2
COMMAND_TIMEOUT_SECONDS = 2
POOL_TIMEOUT_SECONDS = 2
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


def is_sqlite(engine: AsyncEngine) -> bool:
    return engine.dialect.name == "sqlite"


def create_engine(database_url: str) -> AsyncEngine:
    url = async_url(database_url)
    if url.drivername.startswith("sqlite"):
        engine = create_async_engine(
            url,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS},
            pool_pre_ping=True,
            hide_parameters=True,  # errors are logged: never with emails or hashes in them
        )
        _configure_sqlite(engine)
        return engine
    return create_async_engine(
        url,
        connect_args={
            "timeout": CONNECT_TIMEOUT_SECONDS,
            "command_timeout": COMMAND_TIMEOUT_SECONDS,
        },
        pool_pre_ping=True,
        hide_parameters=True,
        pool_timeout=POOL_TIMEOUT_SECONDS,
        pool_size=5,
        max_overflow=10,
    )


def _sqlite_lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def _configure_sqlite(engine: AsyncEngine) -> None:
    """WAL and a busy timeout so several worker processes can write; BEGIN IMMEDIATE
    so that a write transaction takes the lock up front instead of failing midway."""

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
        # Hand transaction control to SQLAlchemy's "begin" event below.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_SECONDS * 1000}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()
        # SQLite's own lower() folds ASCII only; search must fold like str.lower().
        dbapi_connection.create_function("lower", 1, _sqlite_lower, deterministic=True)

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


async def session_scope(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    async with sessionmaker() as session:
        yield session
