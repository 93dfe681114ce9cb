"""The database or Redis goes away under a running service, and comes back."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
import redis

import servers
from conftest import ServerFactory, Target
from helpers import ME, TOKEN, Api, bearer, problem, wait_until
from servers import Settings
from tcp_proxy import TcpProxy, tcp_proxy

# These tests bring their own PostgreSQL database and Redis, whatever the run's mode.
pytestmark = pytest.mark.mode_independent

UNAVAILABLE = "Service temporarily unavailable."
BOUND = 5.0  # the contract's bound for a 503 answer


def _unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert problem(response)["detail"] == UNAVAILABLE
    assert response.headers["retry-after"] == "5"


def _timed(client: httpx.Client, method: str, path: str, **kwargs: object) -> httpx.Response:
    """One request that must be answered within the contract's bound."""
    started = time.monotonic()
    response = client.request(method, path, timeout=BOUND + 1, **kwargs)  # type: ignore[arg-type]
    assert time.monotonic() - started <= BOUND, f"{method} {path} took too long"
    return response


@pytest.fixture
def postgres_proxy() -> Iterator[TcpProxy]:
    if not servers.postgres_available():
        pytest.skip("no PostgreSQL reachable (CONTRACT_POSTGRES_URL)")
    url = httpx.URL(servers.postgres_admin_url())
    with tcp_proxy(url.host or "127.0.0.1", url.port or 5432) as proxy:
        yield proxy


def test_database_outage_and_recovery(
    server_factory: ServerFactory, postgres_proxy: TcpProxy
) -> None:
    settings = Settings()
    with (
        servers.postgres_database(via_port=postgres_proxy.port) as database_url,
        server_factory(settings=settings, database_url=database_url, redis_url=None) as server,
    ):
        # A new connection per request: every worker meets the outage and the recovery.
        api = Api.of(server, keep_alive=False)
        account = api.register()
        postgres_proxy.cut()
        try:
            for _ in range(4):  # both workers, each with its own pool
                health = _timed(api.client, "GET", "/health")
                assert health.status_code == 200
                _unavailable(_timed(api.client, "GET", "/ready"))
                _unavailable(_timed(api.client, "GET", ME, headers=bearer(account.access)))
                _unavailable(
                    _timed(
                        api.client,
                        "POST",
                        TOKEN,
                        data={"username": account.email, "password": account.password},
                    )
                )
            _unavailable(
                _timed(
                    api.client,
                    "POST",
                    "/api/v1/users",
                    json={"email": "down@example.com", "password": "long enough", "name": "Down"},
                )
            )
        finally:
            postgres_proxy.restore()
        assert wait_until(
            lambda: api.client.get("/ready").status_code == 200, timeout=30, interval=0.5
        ), server.logs()
        for _ in range(4):
            assert api.me(account.access).status_code == 200
            assert api.login_response(account.email, account.password).status_code == 200
        api.client.close()


@pytest.fixture
def redis_proxy(target: Target) -> Iterator[tuple[TcpProxy, str]]:
    url = target.redis_url or "redis://127.0.0.1:6379/14"
    parsed = httpx.URL(url)
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=2)
        client.ping()
        client.close()
    except redis.RedisError:
        pytest.skip(f"no Redis reachable at {url}")
    with tcp_proxy(parsed.host or "127.0.0.1", parsed.port or 6379) as proxy:
        yield proxy, str(parsed.copy_with(port=proxy.port))


def test_redis_outage_fails_closed(
    server_factory: ServerFactory, redis_proxy: tuple[TcpProxy, str]
) -> None:
    proxy, redis_url = redis_proxy
    with server_factory(redis_url=redis_url) as server:
        # A new connection per request: every worker meets the outage and the recovery.
        api = Api.of(server, keep_alive=False)
        revoked = api.register()
        assert api.logout(revoked.access).status_code == 204
        valid = api.register()
        proxy.cut()
        try:
            for _ in range(4):
                assert _timed(api.client, "GET", "/health").status_code == 200
                _unavailable(_timed(api.client, "GET", "/ready"))
                # Never a revoked token accepted: the deny-list cannot be read.
                _unavailable(_timed(api.client, "GET", ME, headers=bearer(revoked.access)))
                _unavailable(_timed(api.client, "GET", ME, headers=bearer(valid.access)))
                _unavailable(
                    _timed(
                        api.client,
                        "POST",
                        TOKEN,
                        data={"username": valid.email, "password": "wrong password!"},
                    )
                )
        finally:
            proxy.restore()
        assert wait_until(
            lambda: api.client.get("/ready").status_code == 200, timeout=30, interval=0.5
        ), server.logs()
        for _ in range(4):
            assert api.me(revoked.access).status_code == 401
            assert api.me(valid.access).status_code == 200
        api.client.close()
