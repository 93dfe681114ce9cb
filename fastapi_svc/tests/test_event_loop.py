"""Work that cannot block stays on the event loop: handing it to the thread pool costs a
thread hop per request, more than the work itself (seen profiling `make bench`)."""

from collections.abc import Callable
from typing import Any

import pytest
from fastapi import routing
from fastapi.dependencies import utils
from httpx import AsyncClient
from starlette.concurrency import run_in_threadpool

from .helpers import bearer, login, register


@pytest.fixture
def thread_pool_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the callables that FastAPI runs in the thread pool from now on."""
    calls: list[str] = []

    async def counting(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        calls.append(getattr(func, "__name__", repr(func)))
        return await run_in_threadpool(func, *args, **kwargs)

    monkeypatch.setattr(utils, "run_in_threadpool", counting)
    monkeypatch.setattr(routing, "run_in_threadpool", counting)
    return calls


async def test_authenticated_request_uses_no_thread(
    client: AsyncClient, thread_pool_calls: list[str]
) -> None:
    user = await register(client)
    tokens = await login(client, user["email"])
    thread_pool_calls.clear()  # registration and login hash passwords in threads, rightly
    response = await client.get("/api/v1/users/me", headers=bearer(tokens))
    assert response.status_code == 200
    refreshed = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
    )
    assert refreshed.status_code == 200
    assert thread_pool_calls == []
