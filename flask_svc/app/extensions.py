"""Extension objects, created once and bound to each app in `create_app`."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

from flask_jwt_extended import JWTManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import MetaData
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import DeclarativeBase

# Stable constraint names, so migrations can address them on every database.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


# expire_on_commit=False: objects stay readable after a commit, so a request
# can end its transaction early (SQLite write lock) and still serialize them.
db = SQLAlchemy(model_class=Base, session_options={"expire_on_commit": False})
migrate = Migrate(
    directory=str(Path(__file__).resolve().parent.parent / "migrations"),
    render_as_batch=True,
    compare_type=True,
)
jwt = JWTManager()

# The execution option of a connection whose transaction will write (see begin_write).
WRITES: Final = "writes"


def write_options(dialect_name: str) -> dict[str, Any]:
    """The execution options of a connection whose transaction writes."""
    if dialect_name == "postgresql":
        # The engine reads in autocommit (config.engine_options); a change needs a
        # real transaction. The pool puts the connection back in autocommit at checkin.
        return {"isolation_level": "READ COMMITTED", WRITES: True}
    return {WRITES: True}


def begin_write() -> None:
    """Start the transaction of a change, before its first write (and before any
    locking read); a no-op inside one.

    Reads run without taking locks or, on PostgreSQL, without a transaction at
    all (autocommit), so a change must get its own: on SQLite it begins IMMEDIATE,
    taking the write lock up front (see `_configure_sqlite`); on PostgreSQL a READ
    COMMITTED transaction, so that its statements commit or roll back together.
    The read unit still open (the caller's authentication, say) is committed
    first: it holds no changes (in autocommit the commit costs no round trip), and
    its objects stay loaded (expire_on_commit=False).
    """
    session = db.session()  # this app context's session, behind the scoped proxy
    if session.in_transaction():
        if session.connection().get_execution_options().get(WRITES, False):
            return
        session.commit()
    session.connection(execution_options=write_options(session.get_bind().dialect.name))


def insert_ignoring_conflicts(model: type[Base]) -> Any:
    """INSERT ... ON CONFLICT DO NOTHING on SQLite and PostgreSQL alike."""
    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return insert(model).on_conflict_do_nothing()
