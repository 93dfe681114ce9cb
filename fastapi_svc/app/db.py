"""Database engine and sessions: the driver is chosen from the plain DATABASE_URL."""

from collections.abc import AsyncIterator
from typing import Any, Final

from sqlalchemy import URL, Connection, event, make_url
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

# The execution option of a connection whose transaction will write (see begin_write).
WRITES: Final = "writes"

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


def create_engine(
    database_url: str,
    *,
    pool_size: int = DEFAULT_DB_POOL_SIZE,
    pool_timeout: float = DEFAULT_DB_POOL_TIMEOUT_SECONDS,
) -> AsyncEngine:
    """The engine of one worker process: at most ``pool_size`` connections (no overflow),
    a request waits up to ``pool_timeout`` seconds for one, then gets a 503."""
    url = async_url(database_url)
    pool: dict[str, Any] = {"pool_size": pool_size, "max_overflow": 0, "pool_timeout": pool_timeout}
    if url.drivername.startswith("sqlite"):
        engine = create_async_engine(
            url,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS},
            hide_parameters=True,  # errors are logged: never with emails or hashes in them
            **pool,
        )
        _configure_sqlite(engine)
        return engine
    return create_async_engine(
        url,
        connect_args={
            "timeout": CONNECT_TIMEOUT_SECONDS,
            "command_timeout": COMMAND_TIMEOUT_SECONDS,
        },
        # A connection the server dropped (restart, outage) is replaced, not handed out.
        pool_pre_ping=True,
        hide_parameters=True,
        **pool,
    )


def _sqlite_lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def _configure_sqlite(engine: AsyncEngine) -> None:
    """WAL and a busy timeout so that several worker processes share the file.

    Reads begin DEFERRED: they take no lock, and WAL lets them run beside a writer.
    A transaction that writes begins IMMEDIATE (``begin_write``), taking the write
    lock up front and queueing for it up to the busy timeout; a read transaction
    that later writes would instead fail at once (SQLITE_BUSY) whenever another
    worker committed in between."""

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
    def _on_begin(connection: Connection) -> None:
        writes = connection.get_execution_options().get(WRITES, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if writes else "BEGIN DEFERRED")


async def begin_write(session: AsyncSession) -> None:
    """Start the transaction of a change, before touching any object; a no-op inside one.

    On SQLite a read transaction still open (the caller's authentication, say) is
    committed first: it holds no changes, and its objects stay loaded
    (expire_on_commit=False). Elsewhere it is a no-op: PostgreSQL locks rows as they
    are written, so a read transaction goes on to write without more round trips.
    """
    if session.get_bind().dialect.name != "sqlite":
        return
    if session.in_transaction():
        connection = (await session.connection()).sync_connection
        if connection is not None and connection.get_execution_options().get(WRITES, False):
            return
        await session.commit()
    await session.connection(execution_options={WRITES: True})


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


async def session_scope(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    async with sessionmaker() as session:
        yield session
