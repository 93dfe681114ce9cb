"""Slow clients meet the deployment's nginx, not the service.

gunicorn's gthread worker spends a thread on each request it is reading, so 40
connections that never finish their headers leave a service on 2 workers of 4 threads
unable to answer anything. The deployment (deploy/nginx, in docker compose) puts nginx
in front of every service: it reads each request whole before passing it on and cuts
such a client off after `client_header_timeout`. Here that very configuration runs in
front of the service under test.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from helpers import wait_until
from servers import REPO_ROOT, RunningServer, free_port

TEMPLATE = REPO_ROOT / "deploy/nginx/templates/user-api.conf.template"
# The port each service keeps behind the proxy in the deployment.
SERVICE_PORTS = {"fastapi": 8001, "django": 8002, "flask": 8003}
SLOW_CLIENTS = 40
HEADER_TIMEOUT = 10  # the template's client_header_timeout


def _nginx() -> str:
    found = shutil.which("nginx") or shutil.which("/usr/sbin/nginx")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("nginx is missing, and CI requires it (.ci/run installs it)")
        pytest.skip("nginx is not installed (apt-get install nginx-light)")
    return found


def _render(upstream: str, ports: dict[int, int]) -> str:
    """What the official image's envsubst step makes of the template, every listening
    port moved to a free one (suites for the three services run side by side)."""
    text = TEMPLATE.read_text(encoding="utf-8")
    for name in ("FASTAPI_UPSTREAM", "DJANGO_UPSTREAM", "FLASK_UPSTREAM"):
        text = text.replace("${" + name + "}", upstream)
    for deployed, free in ports.items():
        text = re.sub(rf"\b{deployed}\b", str(free), text)
    return text


@pytest.fixture
def proxy(server: RunningServer, service_name: str, tmp_path: Path) -> Iterator[int]:
    nginx = _nginx()
    ports = {deployed: free_port() for deployed in SERVICE_PORTS.values()}
    port = ports[SERVICE_PORTS[service_name]]
    (tmp_path / "user-api.conf").write_text(
        _render(f"127.0.0.1:{server.port}", ports), encoding="utf-8"
    )
    temp_paths = "".join(
        f"{kind}_temp_path {tmp_path}/{kind};\n"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    (tmp_path / "nginx.conf").write_text(
        f"daemon off;\npid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log warn;\n"
        "worker_processes 1;\nevents { worker_connections 1024; }\n"
        f"http {{\naccess_log off;\n{temp_paths}include {tmp_path}/user-api.conf;\n}}\n",
        encoding="utf-8",
    )
    process = subprocess.Popen(
        [nginx, "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")],
        stderr=subprocess.PIPE,
    )
    try:
        if not wait_until(lambda: _health(port) == 200, timeout=10):
            process.terminate()
            pytest.fail(f"nginx did not answer: {process.communicate(timeout=10)[1]!r}")
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)


def _health(port: int, timeout: float = 3) -> int | None:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/health", timeout=timeout).status_code
    except httpx.HTTPError:
        return None


def _start_slow_clients(port: int) -> list[socket.socket]:
    clients = []
    for _ in range(SLOW_CLIENTS):
        client = socket.create_connection(("127.0.0.1", port), timeout=HEADER_TIMEOUT + 10)
        client.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        clients.append(client)
    return clients


def _closed_by_peer(client: socket.socket) -> bool:
    try:
        while data := client.recv(4096):
            if not data.startswith(b"HTTP/1.1 408"):
                return False
        return True
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


@pytest.mark.mode_independent
def test_slow_clients_do_not_starve_the_service_behind_the_proxy(proxy: int) -> None:
    clients = _start_slow_clients(proxy)
    try:
        time.sleep(1)  # long enough for a direct server to hand each one a thread
        answers = [_health(proxy) for _ in range(8)]
        assert answers == [200] * 8
        # ...and each slow client is cut off once its header time is up.
        started = time.monotonic()
        assert all(_closed_by_peer(client) for client in clients)
        assert time.monotonic() - started < HEADER_TIMEOUT + 5
    finally:
        for client in clients:
            client.close()
