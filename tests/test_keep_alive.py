"""Kept-alive connections: the server closes an idle one only after its
keep-alive timeout (`KEEP_ALIVE_SECONDS`), cleanly, and a client that keeps
connections alive loses no request on either side of that timeout."""

from __future__ import annotations

import http.client
import time

import pytest

from conftest import ServerFactory
from helpers import ME, Api
from servers import RunningServer

KEEP_ALIVE_SECONDS = 2
UNDER = KEEP_ALIVE_SECONDS - 0.7
# gunicorn looks for expired keep-alive connections once a second.
OVER = KEEP_ALIVE_SECONDS + 1.5


def _get(conn: http.client.HTTPConnection, path: str = "/health") -> None:
    conn.request("GET", path)
    response = conn.getresponse()
    response.read()
    assert response.status == 200
    assert not response.will_close


@pytest.mark.mode_independent
def test_the_default_outlasts_a_load_balancers_idle_timeout(server: RunningServer) -> None:
    # The frameworks' own defaults (2 s in gunicorn, 5 s in uvicorn) are shorter than
    # any load balancer's idle timeout; the services keep an idle connection longer.
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        _get(conn)
        sock = conn.sock
        time.sleep(6.5)
        _get(conn)
        assert conn.sock is sock
    finally:
        conn.close()


@pytest.mark.mode_independent
def test_idle_gaps_just_under_and_over_the_timeout_lose_no_request(
    server_factory: ServerFactory,
) -> None:
    with server_factory(extra_env={"KEEP_ALIVE_SECONDS": str(KEEP_ALIVE_SECONDS)}) as server:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        try:
            _get(conn)
            sock = conn.sock
            assert sock is not None
            time.sleep(UNDER)
            _get(conn)  # still open: served on the same connection
            assert conn.sock is sock
            time.sleep(OVER)
            # Closed by the server with a FIN, not a reset, and nothing sent before it.
            assert sock.recv(1) == b""
        finally:
            conn.close()

        api = Api.of(server)
        try:
            account = api.register(name="Kept Alive")
            for gap in (UNDER, OVER, UNDER, OVER):
                time.sleep(gap)
                assert api.me(account.access).status_code == 200
                assert api.client.get(ME, headers=account.headers).json()["id"] == account.id
        finally:
            api.client.close()
