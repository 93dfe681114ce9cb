"""Every worker does its share: kept-alive connections opened at once are spread over
the worker processes, not left to whichever wakes first (gunicorn's `reuse_port`: each
worker on its own SO_REUSEPORT socket). uvicorn shares one socket between its workers;
a socket per worker gained nothing there (benchmarks/results/profiles.md)."""

from __future__ import annotations

import http.client
import uuid
from collections import Counter

import pytest

from conftest import ServerFactory
from helpers import log_entry, wait_until
from servers import RunningServer

CONNECTIONS = 16
ROUNDS = 3
# Of 16 connections, at least this many on each worker: by chance (a fair hash) a worker
# gets fewer about once in 2,000 rounds; one shared socket gives 16:0 or 15:1.
FAIR_SHARE = 2


def _serving_pids(server: RunningServer) -> Counter[int]:
    """Open CONNECTIONS kept-alive connections at once; the worker pid behind each."""
    connections = [
        http.client.HTTPConnection("127.0.0.1", server.port, timeout=10) for _ in range(CONNECTIONS)
    ]
    request_ids = [f"share-{uuid.uuid4().hex}" for _ in connections]
    try:
        for conn in connections:
            conn.connect()
        for conn, request_id in zip(connections, request_ids, strict=True):
            conn.request("GET", "/health", headers={"X-Request-ID": request_id})
        for conn in connections:
            response = conn.getresponse()
            response.read()
            assert response.status == 200
    finally:
        for conn in connections:
            conn.close()
    return Counter(int(log_entry(server, rid)["pid"]) for rid in request_ids)


@pytest.mark.own_server
@pytest.mark.mode_independent
@pytest.mark.services("django", "flask")
def test_connections_opened_at_once_are_spread_over_the_workers(
    server_factory: ServerFactory,
) -> None:
    with server_factory(extra_env={"WEB_CONCURRENCY": "2"}) as server:
        # Each worker binds its own socket as it boots: wait until both serve.
        assert wait_until(lambda: len(_serving_pids(server)) == 2, timeout=30)
        for _ in range(ROUNDS):
            pids = _serving_pids(server)
            assert len(pids) == 2, pids
            assert min(pids.values()) >= FAIR_SHARE, pids
