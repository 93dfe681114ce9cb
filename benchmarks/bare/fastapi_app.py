"""The FastAPI ceiling: one JSON endpoint, no middleware, no database; and its floor
for a request that reads the database: one user by primary key through an async
SQLAlchemy session (asyncpg), in autocommit, on a pool of the service's size, with
nothing else (no pre-ping, no token, no middleware).

Served like the service (uvicorn with uvloop and httptools, no access log):
`fastapi_svc/.venv/bin/python -m uvicorn fastapi_app:app --app-dir benchmarks/bare`.
`/users/{id}` needs DATABASE_URL: a database the service has migrated.
"""

import os
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException
from sqlalchemy import make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str]


_url = os.environ.get("DATABASE_URL")
engine = (
    create_async_engine(
        make_url(_url).set(drivername="postgresql+asyncpg"),
        isolation_level="AUTOCOMMIT",
        pool_size=5,
        max_overflow=0,
    )
    if _url
    else None
)
sessionmaker = async_sessionmaker(engine, expire_on_commit=False)


async def get_session() -> AsyncIterator[AsyncSession]:
    async with sessionmaker() as session:
        yield session


@app.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@app.get("/users/{user_id}")
async def user(
    user_id: int, session: Annotated[AsyncSession, Depends(get_session)]
) -> dict[str, object]:
    found = await session.get(User, user_id)
    if found is None:
        raise HTTPException(404)
    return {"id": found.id, "email": found.email}
