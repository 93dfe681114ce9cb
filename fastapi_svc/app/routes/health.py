"""Liveness and readiness."""

import asyncio

from fastapi import APIRouter
from sqlalchemy import text

from app.deps import RedisDep, SessionDep
from app.errors import unavailable
from app.responses import problems
from app.routing import JSONRoute
from app.schemas import Status

router = APIRouter(tags=["health"], route_class=JSONRoute)
READY_TIMEOUT_SECONDS = 4


@router.get("/health", operation_id="getHealth", response_model=Status)
async def health() -> Status:
    """Liveness: touches nothing outside the process."""
    return Status()


@router.get("/ready", operation_id="getReadiness", response_model=Status, responses=problems(503))
async def ready(session: SessionDep, redis: RedisDep) -> Status:
    """Readiness: the database (and Redis, when configured) answers."""
    try:
        async with asyncio.timeout(READY_TIMEOUT_SECONDS):
            await session.execute(text("SELECT 1"))
            if redis is not None:
                await redis.ping()
    except TimeoutError:
        raise unavailable() from None
    return Status()
