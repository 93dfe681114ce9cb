"""Database engine and sessions: the driver is chosen from the plain DATABASE_URL."""

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import AsyncIterator
from typing import Any, Final

from sqlalchemy import URL, Connection, event, make_url
from sqlalchemy.engine.interfaces import DBAPIConnection, Dialect
from sqlalchemy.exc import InvalidatePoolError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import AsyncAdaptedQueuePool, ConnectionPoolEntry, PoolProxiedConnection
from sqlalchemy.util.concurrency import await_
from sqlalchemy.util.queue import AsyncAdaptedQueue, Empty

from app.config import DEFAULT_DB_POOL_SIZE, DEFAULT_DB_POOL_TIMEOUT_SECONDS

# A dead database must give 503 within 5 seconds, never a hang: connecting and each
# command fail fast, whatever DB_POOL_TIMEOUT says about waiting for a free connection.
CONNECT_TIMEOUT_SECONDS = 2
COMMAND_TIMEOUT_SECONDS = 2
SQLITE_BUSY_TIMEOUT_SECONDS = 5

# A pooled PostgreSQL connection idle for longer than this is pinged before use.
IDLE_PING_SECONDS = 1.0

# The execution option of a connection whose transaction will write (see begin_write).
WRITES: Final = "writes"
# PostgreSQL reads run in autocommit; a connection that writes gets a real transaction.
_POSTGRES_WRITE_ISOLATION = "READ COMMITTED"
_CHECKED_IN_AT = "checked_in_at"

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
    idle_ping_seconds: float = IDLE_PING_SECONDS,
) -> AsyncEngine:
    """The engine of one worker process: at most ``pool_size`` connections (no overflow),
    a request waits up to ``pool_timeout`` seconds for one, then gets a 503.

    On PostgreSQL connections are in autocommit: a read sends its statements and nothing
    else; ``begin_write`` opens the transaction of a change. A pooled connection is
    pinged only when it has been idle for more than ``idle_ping_seconds``."""
    url = async_url(database_url)
    pool: dict[str, Any] = {
        "poolclass": FairQueuePool,
        "pool_size": pool_size,
        "max_overflow": 0,
        "pool_timeout": pool_timeout,
    }
    if url.drivername.startswith("sqlite"):
        engine = create_async_engine(
            url,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS},
            hide_parameters=True,  # errors are logged: never with emails or hashes in them
            **pool,
        )
        _configure_sqlite(engine)
        return engine
    engine = create_async_engine(
        url,
        connect_args={
            "timeout": CONNECT_TIMEOUT_SECONDS,
            "command_timeout": COMMAND_TIMEOUT_SECONDS,
        },
        # A read sends no BEGIN and no ROLLBACK (two round trips); a change gets its
        # transaction from begin_write.
        isolation_level="AUTOCOMMIT",
        hide_parameters=True,
        **pool,
    )
    _ping_when_idle(engine, idle_ping_seconds)
    return engine


def _ping_when_idle(engine: AsyncEngine, idle_seconds: float) -> None:
    """Replace, before use, a pooled connection that the server dropped while it sat idle.

    Not a pre-ping of every checkout: a connection in steady use was working a moment
    ago, and pinging it would cost a round trip per request for nothing. One that sat
    idle may have been dropped by a restart or an idle timeout without the client
    seeing it. A connection that dies unnoticed while in steady use fails its statement
    instead; SQLAlchemy takes that as a disconnect and invalidates every pooled
    connection older than the failure, so only that request answers 503."""
    dialect = engine.sync_engine.dialect

    @event.listens_for(engine.sync_engine.pool, "checkin")
    def _on_checkin(_dbapi_connection: DBAPIConnection | None, record: ConnectionPoolEntry) -> None:
        record.info[_CHECKED_IN_AT] = time.monotonic()

    @event.listens_for(engine.sync_engine.pool, "checkout")
    def _on_checkout(
        dbapi_connection: DBAPIConnection,
        record: ConnectionPoolEntry,
        _proxy: PoolProxiedConnection,
    ) -> None:
        # asyncpg notices at once when the server closes the socket (restart, outage,
        # terminated backend): such a connection is replaced without a round trip.
        if dbapi_connection.driver_connection.is_closed():
            raise InvalidatePoolError("the server closed this pooled connection")
        # A brand-new connection has no check-in time (the pool clears ``info`` when it
        # replaces a connection): nothing to check.
        checked_in_at = record.info.get(_CHECKED_IN_AT)
        if checked_in_at is None or time.monotonic() - checked_in_at <= idle_seconds:
            return
        try:
            dialect.do_ping(dbapi_connection)
        except Exception as exc:
            # The pool replaces this connection and, as pool_pre_ping does, every other
            # one opened before now: a restart drops them all.
            raise InvalidatePoolError(f"ping of an idle connection failed: {exc}") from exc


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


def write_options(dialect: Dialect) -> dict[str, Any]:
    """The execution options of a connection whose transaction writes: on SQLite its
    BEGIN is IMMEDIATE (``_configure_sqlite``); on PostgreSQL it leaves autocommit for a
    real transaction, so that the statements of one change commit together."""
    if dialect.name == "sqlite":
        return {WRITES: True}
    return {"isolation_level": _POSTGRES_WRITE_ISOLATION, WRITES: True}


async def begin_write(session: AsyncSession) -> None:
    """Start the transaction of a change, before its first write or locking read;
    a no-op inside one.

    What the session has read so far (the caller's authentication, say) is committed
    first: it holds no changes, and its objects stay loaded (expire_on_commit=False).
    On SQLite that ends a DEFERRED read transaction, on PostgreSQL an autocommit unit
    (no round trip). The connection procured next has ``write_options``; SQLAlchemy
    resets its isolation level when it goes back to the pool, so the next request on
    it reads in autocommit again.
    """
    if session.in_transaction():
        connection = (await session.connection()).sync_connection
        if connection is not None and connection.get_execution_options().get(WRITES, False):
            return
        await session.commit()
    await session.connection(execution_options=write_options(session.get_bind().dialect))


class FairQueue(AsyncAdaptedQueue[ConnectionPoolEntry]):
    """The pool's queue of idle connections, serving waiters first come first served.

    SQLAlchemy's asyncio queue lets a task that asks just as a connection comes back
    take it ahead of those already waiting, and a waiter that loses goes to the back:
    under sustained load a few requests waited the whole pool timeout and answered 503
    while others went through in milliseconds. Here a connection coming back goes
    straight to the longest waiter, and nobody takes one from the queue while anyone
    waits."""

    def __init__(self, maxsize: int = 0, use_lifo: bool = False) -> None:
        super().__init__(maxsize, use_lifo)
        self._waiters: deque[asyncio.Future[ConnectionPoolEntry]] = deque()

    def put_nowait(self, item: ConnectionPoolEntry) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(item)
                return
        super().put_nowait(item)

    def get(self, block: bool = True, timeout: float | None = None) -> ConnectionPoolEntry:
        if not self._waiters:
            try:
                return self.get_nowait()
            except Empty:
                if not block:
                    raise
        elif not block:
            raise Empty
        return await_(self._wait(seconds=timeout))

    async def _wait(self, *, seconds: float | None) -> ConnectionPoolEntry:
        waiter: asyncio.Future[ConnectionPoolEntry] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            async with asyncio.timeout(seconds):
                return await waiter
        except BaseException as error:
            if waiter.done() and not waiter.cancelled():
                # A connection was handed over just as the wait ended: pass it on.
                self.put_nowait(waiter.result())
            if isinstance(error, TimeoutError):
                raise Empty from None
            raise
        finally:
            with contextlib.suppress(ValueError):
                self._waiters.remove(waiter)


class FairQueuePool(AsyncAdaptedQueuePool):
    """SQLAlchemy's asyncio pool, its idle connections in a FairQueue."""

    _queue_class = FairQueue


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


async def session_scope(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    async with sessionmaker() as session:
        yield session
