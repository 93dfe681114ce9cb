"""Starting and stopping what is measured: each service, and each framework's bare app.

A service is started by the Makefile's own `run-<service>` target, so it is
prepared (migrations, bootstrap admin) and served exactly as `make run` does;
only the environment differs. A bare app is served by the same server with the
same settings: uvicorn configured as `app/serve.py` configures it, or gunicorn
with the service's own `gunicorn.conf.py`.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil
import psycopg
from psycopg import sql

REPO_ROOT = Path(__file__).resolve().parents[2]
BARE_DIR = REPO_ROOT / "benchmarks" / "bare"
SERVICES = ("fastapi", "django", "flask")
HOST = "127.0.0.1"
START_TIMEOUT = 120.0
STOP_TIMEOUT = 30.0
# Processes in a server's tree that serve no requests.
_HELPERS = ("multiprocessing.resource_tracker", "multiprocessing.semaphore_tracker")


def folder(service: str) -> Path:
    return REPO_ROOT / f"{service}_svc"


def service_command(service: str) -> tuple[Path, tuple[str, ...]]:
    """`make run-<service>`; `-o` keeps make from rebuilding the venv under running servers."""
    return REPO_ROOT, (
        "make",
        "--no-print-directory",
        "-o",
        f"{service}_svc/.venv/.installed",
        f"run-{service}",
    )


def bare_command(service: str, *, port: int, workers: int) -> tuple[Path, tuple[str, ...]]:
    if service == "fastapi":
        # The settings app/serve.py gives uvicorn (uvloop and httptools are picked as there).
        return folder(service), (
            ".venv/bin/python",
            "-m",
            "uvicorn",
            "fastapi_app:app",
            "--app-dir",
            str(BARE_DIR),
            "--host",
            HOST,
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--no-access-log",
            "--no-server-header",
            "--log-level",
            "warning",
        )
    # gunicorn reads ./gunicorn.conf.py (workers, gthread, threads) from the service folder.
    app = {"django": "django_app:application", "flask": "flask_app:app"}[service]
    return folder(service), (".venv/bin/gunicorn", "--pythonpath", str(BARE_DIR), app)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def postgres_database(admin_url: str, prefix: str) -> Iterator[str]:
    """A new database on the server at `admin_url`, dropped afterwards; yields its URL."""
    name = f"{prefix}_{os.urandom(6).hex()}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield str(httpx.URL(admin_url).copy_with(path=f"/{name}"))
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@dataclass
class Server:
    name: str
    base_url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def root(self) -> psutil.Process:
        """The server's master process (below `make` when make started it)."""
        proc = psutil.Process(self.process.pid)
        while proc.name() == "make" and (children := proc.children()):
            proc = children[0]
        return proc

    def processes(self) -> list[psutil.Process]:
        root = self.root()
        return [root, *root.children(recursive=True)]

    def workers(self) -> list[psutil.Process]:
        """The processes that serve requests: the leaves of the tree, helpers left out."""
        found = []
        for proc in self.processes():
            with contextlib.suppress(psutil.Error):
                if proc.children():
                    continue
                if any(helper in " ".join(proc.cmdline()) for helper in _HELPERS):
                    continue
                found.append(proc)
        return found

    def cpu_seconds(self) -> float:
        """User and system CPU the server's processes have used so far, every thread counted."""
        total = 0.0
        for proc in self.processes():
            with contextlib.suppress(psutil.Error):
                times = proc.cpu_times()
                total += times.user + times.system
        return total

    def log_tail(self, chars: int = 4000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:]


def _wait_ready(server: Server, path: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"{server.name} exited at start:\n{server.log_tail()}")
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(server.base_url + path, timeout=5).status_code == 200:
                return
        time.sleep(0.2)
    raise RuntimeError(f"{server.name} not ready within {timeout:.0f} s:\n{server.log_tail()}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    # The server runs in its own process group: SIGTERM reaches make, master and workers.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=STOP_TIMEOUT)
    deadline = time.monotonic() + STOP_TIMEOUT
    while time.monotonic() < deadline:
        try:
            os.killpg(process.pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.2)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=STOP_TIMEOUT)


@contextlib.contextmanager
def serve(
    name: str,
    *,
    cwd: Path,
    command: tuple[str, ...],
    env: Mapping[str, str],
    port: int,
    ready_path: str,
    log_path: Path,
) -> Iterator[Server]:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command,
            cwd=cwd,
            env=dict(env),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    server = Server(name, f"http://{HOST}:{port}", process, log_path)
    try:
        _wait_ready(server, ready_path, START_TIMEOUT)
        yield server
    finally:
        _stop(process)


def server_env(
    *, port: int, workers: int, database_url: str | None, extra: Mapping[str, str]
) -> dict[str, str]:
    """The environment every server gets: nothing of the caller's own configuration."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "REDIS_URL", "VIRTUAL_ENV", "PYTHONPATH"}
        and not key.startswith(("FIRST_ADMIN_", "JWT_", "MAKE", "MFLAGS"))
    }
    env.update({"HOST": HOST, "PORT": str(port), "WEB_CONCURRENCY": str(workers), **extra})
    if database_url:
        env["DATABASE_URL"] = database_url
    return env
