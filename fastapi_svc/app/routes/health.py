"""Liveness, readiness and the Prometheus metrics."""

import asyncio

from fastapi import APIRouter, Request, Response
from fastapi.responses import PlainTextResponse
from sqlalchemy import text

from app.deps import RedisDep, SessionDep
from app.errors import unavailable
from app.hardening import JSONRoute
from app.metrics import METRICS_PATH, render_metrics
from app.responses import problems
from app.schemas import Status

router = APIRouter(tags=["health"], route_class=JSONRoute)
READY_TIMEOUT_SECONDS = 4
EXPOSITION = {"schema": {"type": "string"}}


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


@router.get(
    METRICS_PATH,
    operation_id="getMetrics",
    summary="Prometheus metrics of the whole service, every worker process included",
    response_class=PlainTextResponse,
    responses={
        200: {
            "description": "The metrics.",
            "content": {"text/plain": EXPOSITION, "application/openmetrics-text": EXPOSITION},
        }
    },
)
def metrics(request: Request) -> Response:
    """Prometheus text format, or OpenMetrics when `Accept` asks for it. No authentication:
    keep this path off the public ingress."""
    body, content_type = render_metrics(request.headers.get("accept"))
    return Response(body, media_type=content_type)
