"""How each service is prepared and served, and throwaway databases to serve it from.

Every service is run exactly as an operator would: the prepare commands
(migrations, bootstrap admin), then the serve command, with the service folder
as working directory and its own virtualenv, configured only by environment
variables.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg
from psycopg import sql

from inbox import inbox

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
TEST_ORIGIN = "http://allowed.example.test"
MAX_FAILURES = 5
START_TIMEOUT = 90.0
STOP_TIMEOUT = 30.0


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    folder: str
    prepare: tuple[tuple[str, ...], ...]
    serve: tuple[str, ...]

    @property
    def cwd(self) -> Path:
        return REPO_ROOT / self.folder

    def is_installed(self) -> bool:
        return (self.cwd / ".venv" / "bin" / "python").exists()


# --8<-- [start:services]
SERVICES: dict[str, ServiceSpec] = {
    "fastapi": ServiceSpec(
        "fastapi",
        "fastapi_svc",
        prepare=(
            (".venv/bin/alembic", "upgrade", "head"),
            (".venv/bin/python", "-m", "app.cli", "bootstrap-admin"),
        ),
        serve=(".venv/bin/python", "-m", "app.serve"),
    ),
    "django": ServiceSpec(
        "django",
        "django_svc",
        prepare=(
            (".venv/bin/python", "manage.py", "migrate", "--noinput"),
            (".venv/bin/python", "manage.py", "bootstrap_admin"),
        ),
        serve=(".venv/bin/gunicorn", "config.wsgi"),
    ),
    "flask": ServiceSpec(
        "flask",
        "flask_svc",
        prepare=(
            (".venv/bin/flask", "--app", "app", "db", "upgrade"),
            (".venv/bin/flask", "--app", "app", "bootstrap-admin"),
        ),
        serve=(".venv/bin/gunicorn", "app:create_app()"),
    ),
}
# --8<-- [end:services]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- databases ---------------------------------------------------------------


def postgres_admin_url() -> str:
    return os.environ.get("CONTRACT_POSTGRES_URL", DEFAULT_POSTGRES_URL)


def postgres_available() -> bool:
    try:
        with psycopg.connect(postgres_admin_url(), connect_timeout=3):
            return True
    except psycopg.Error:
        return False


def _with_database(url: str, name: str, *, port: int | None = None) -> str:
    parts = httpx.URL(url)
    netloc_port = port if port is not None else parts.port
    return str(parts.copy_with(path=f"/{name}", port=netloc_port))


@contextlib.contextmanager
def postgres_database(*, via_port: int | None = None) -> Iterator[str]:
    """A freshly created PostgreSQL database, dropped afterwards; yields its URL.

    With `via_port`, the URL points at that local port (a proxy in front of the
    server) instead of the server itself.
    """
    admin_url = postgres_admin_url()
    name = f"contract_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield _with_database(admin_url, name, port=via_port)
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@contextlib.contextmanager
def sqlite_database() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="contract-sqlite-") as folder:
        yield f"sqlite:///{folder}/db.sqlite3"


@contextlib.contextmanager
def fresh_database(kind: str) -> Iterator[str]:
    if kind == "postgres":
        with postgres_database() as url:
            yield url
    else:
        with sqlite_database() as url:
            yield url


# -- servers -----------------------------------------------------------------


@dataclass
class Settings:
    """What the suite knows about a server it started."""

    secret: str = field(default_factory=lambda: secrets.token_urlsafe(48))
    admin_email: str = field(default_factory=lambda: f"admin-{uuid.uuid4().hex[:12]}@example.com")
    admin_password: str = field(default_factory=lambda: secrets.token_urlsafe(18))
    origin: str = TEST_ORIGIN
    max_failures: int = MAX_FAILURES
    window_seconds: int = 60
    access_minutes: int = 15


@dataclass
class RunningServer:
    service: ServiceSpec
    base_url: str
    port: int
    env: dict[str, str]
    settings: Settings
    process: subprocess.Popen[bytes]
    stdout_path: Path
    stderr_path: Path
    exit_code: int | None = None

    def logs(self) -> str:
        out = self.stdout_path.read_text(errors="replace")
        err = self.stderr_path.read_text(errors="replace")
        return f"--- stdout ---\n{out[-6000:]}\n--- stderr ---\n{err[-6000:]}"

    def stdout_lines(self) -> list[str]:
        return self.stdout_path.read_text(errors="replace").splitlines()

    def terminate(self, timeout: float = STOP_TIMEOUT) -> int:
        """SIGTERM the server and wait for it; returns the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            self.exit_code = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise
        return self.exit_code

    def kill(self) -> None:
        if self.process.poll() is None:
            # The server runs in its own process group: end its workers too.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
        self.exit_code = self.process.wait(timeout=STOP_TIMEOUT)


def base_env(
    service: ServiceSpec,
    *,
    database_url: str,
    port: int,
    settings: Settings,
    redis_url: str | None,
    extra: Mapping[str, str | None] | None = None,
) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        # Nothing from the suite's own environment may configure the service.
        if not key.startswith(("CONTRACT_", "VIRTUAL_ENV", "PYTEST"))
        and key not in {"DATABASE_URL", "REDIS_URL", "JWT_SECRET_KEY", "APP_ENV"}
    }
    env.update(
        {
            "DATABASE_URL": database_url,
            # Cheap password hashing: the suite registers and logs in thousands of users.
            "APP_ENV": "test",
            "HOST": "127.0.0.1",
            "PORT": str(port),
            "WEB_CONCURRENCY": "2",
            "JWT_SECRET_KEY": settings.secret,
            "FIRST_ADMIN_EMAIL": settings.admin_email,
            "FIRST_ADMIN_PASSWORD": settings.admin_password,
            "CORS_ALLOWED_ORIGINS": settings.origin,
            "LOGIN_MAX_FAILURES": str(settings.max_failures),
            "LOGIN_FAILURE_WINDOW_SECONDS": str(settings.window_seconds),
            "ACCESS_TOKEN_MINUTES": str(settings.access_minutes),
            # The suite's own SMTP server, which the mail tests read.
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(inbox().port),
            "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        }
    )
    if redis_url:
        env["REDIS_URL"] = redis_url
    for key, value in (extra or {}).items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def prepare(service: ServiceSpec, env: Mapping[str, str], log_dir: Path) -> None:
    for index, command in enumerate(service.prepare):
        log = log_dir / f"prepare-{index}.log"
        with log.open("wb") as out:
            result = subprocess.run(
                command,
                cwd=service.cwd,
                env=dict(env),
                stdout=out,
                stderr=subprocess.STDOUT,
                timeout=180,
                check=False,
            )
        if result.returncode != 0:
            raise RuntimeError(
                f"{service.name}: {' '.join(command)} exited {result.returncode}\n"
                + log.read_text(errors="replace")[-6000:]
            )


def spawn(service: ServiceSpec, env: Mapping[str, str], log_dir: Path) -> subprocess.Popen[bytes]:
    stdout = (log_dir / "stdout.log").open("wb")
    stderr = (log_dir / "stderr.log").open("wb")
    try:
        return subprocess.Popen(
            service.serve,
            cwd=service.cwd,
            env=dict(env),
            stdout=stdout,
            stderr=stderr,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    finally:
        stdout.close()
        stderr.close()


def wait_ready(server: RunningServer, timeout: float = START_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(
                f"{server.service.name} exited {server.process.returncode} at start\n"
                + server.logs()
            )
        try:
            response = httpx.get(f"{server.base_url}/ready", timeout=5)
            if response.status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    server.kill()
    raise RuntimeError(f"{server.service.name} not ready in {timeout} s\n" + server.logs())


PORT_ATTEMPTS = 3


def start(
    service: ServiceSpec, env: Mapping[str, str], settings: Settings, log_dir: Path
) -> RunningServer:
    """Serve and wait until ready. A free port is only free when `free_port` looks:
    another process may bind it first, so a server that finds its address in use is
    started again on another port."""
    for attempt in range(1, PORT_ATTEMPTS + 1):
        port = int(env["PORT"])
        server = RunningServer(
            service=service,
            base_url=f"http://127.0.0.1:{port}",
            port=port,
            env=dict(env),
            settings=settings,
            process=spawn(service, env, log_dir),
            stdout_path=log_dir / "stdout.log",
            stderr_path=log_dir / "stderr.log",
        )
        try:
            wait_ready(server)
            return server
        except RuntimeError:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(server.process.pid, signal.SIGKILL)
            logs = server.stderr_path.read_text(errors="replace")
            # uvicorn's words, then gunicorn's.
            taken = "Address already in use" in logs or "Connection in use" in logs
            if not taken or attempt == PORT_ATTEMPTS:
                raise
            env = {**env, "PORT": str(free_port())}
    raise AssertionError("unreachable")


@contextlib.contextmanager
def run_server(
    service: ServiceSpec,
    *,
    database_url: str,
    settings: Settings | None = None,
    redis_url: str | None = None,
    extra_env: Mapping[str, str | None] | None = None,
    log_dir: Path | None = None,
    check_exit: bool = True,
    run_prepare: bool = True,
) -> Iterator[RunningServer]:
    """Prepare and serve one service; SIGTERM it at the end and check it exits 0."""
    settings = settings or Settings()
    port = free_port()
    env = base_env(
        service,
        database_url=database_url,
        port=port,
        settings=settings,
        redis_url=redis_url,
        extra=extra_env,
    )
    log_dir = Path(log_dir or tempfile.mkdtemp(prefix=f"contract-{service.name}-"))
    log_dir.mkdir(parents=True, exist_ok=True)
    if run_prepare:
        prepare(service, env, log_dir)
    server = start(service, env, settings, log_dir)
    failed = False
    try:
        yield server
    except BaseException:
        failed = True
        raise
    finally:
        code = server.exit_code
        if code is None:
            try:
                code = server.terminate()
            finally:
                # Whatever happened, leave no worker of this server behind.
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(server.process.pid, signal.SIGKILL)
        if check_exit and code != 0 and not failed:
            raise RuntimeError(
                f"{service.name} exited {code} on SIGTERM (expected 0)\n" + server.logs()
            )
