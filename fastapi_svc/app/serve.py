"""``python -m app.serve``: the production server (uvicorn, WEB_CONCURRENCY workers).

On SIGTERM the workers keep accepting for a moment, so that connections the kernel
has already queued are served rather than reset, then finish what is in flight
(up to GRACEFUL_SHUTDOWN_SECONDS) and the process exits 0.

With several workers, the supervisor gives them one empty PROMETHEUS_MULTIPROC_DIR
(see app.telemetry) and removes it when it stops."""

import signal
import socket
import sys
import threading
import time
from types import FrameType

import uvicorn
from pydantic import ValidationError
from uvicorn.supervisors import Multiprocess

from app import telemetry
from app.config import Settings, get_settings

DRAIN_SECONDS = 1.0


class DrainingMultiprocess(Multiprocess):
    """uvicorn's supervisor, draining on SIGTERM, and giving each worker a socket of its
    own (SO_REUSEPORT, where the platform has it; uvicorn has no option for it): the
    kernel spreads new connections over them, where on one shared socket the worker
    that wakes first can take every waiting connection while its sibling idles."""

    def __init__(self, config: uvicorn.Config, sockets: list[socket.socket]) -> None:
        self.started_sockets: list[socket.socket] = []
        super().__init__(config, sockets)
        self.known_pids: set[int] = set()

    @property
    def sockets(self) -> list[socket.socket]:
        # uvicorn reads this once for each worker it starts.
        if not self.reuse_port:
            return self.shared_sockets
        sock = reuse_port_socket(self.config)
        self.started_sockets.append(sock)
        return [sock]

    @sockets.setter
    def sockets(self, value: list[socket.socket]) -> None:
        self.shared_sockets = value
        self.reuse_port = not value

    def close_started_sockets(self) -> None:
        # The workers hold their own copies: one left open here would stay in the
        # kernel's group after its worker died, and take connections nobody accepts.
        while self.started_sockets:
            self.started_sockets.pop().close()

    def init_processes(self) -> None:
        super().init_processes()
        self.close_started_sockets()

    def handle_term(self) -> None:
        time.sleep(DRAIN_SECONDS)
        super().handle_term()

    def keep_subprocess_alive(self) -> None:
        # Runs every half second after the signal handlers: a worker gone since the
        # last round (died, restarted, SIGTTOU) is dead for the metrics too.
        super().keep_subprocess_alive()
        self.close_started_sockets()  # of workers started since (restarts, SIGTTIN, SIGHUP)
        alive = {process.pid for process in self.processes if process.pid is not None}
        for pid in self.known_pids - alive:
            telemetry.mark_worker_dead(pid)
        self.known_pids = alive


class DrainingServer(uvicorn.Server):
    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if sig == signal.SIGTERM and not self.should_exit:
            threading.Timer(DRAIN_SECONDS, super().handle_exit, (sig, frame)).start()
            return
        super().handle_exit(sig, frame)


def reuse_port_socket(config: uvicorn.Config) -> socket.socket:
    """A listening socket on the configured address that others may bind too."""
    family = socket.AF_INET6 if ":" in config.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((config.host, config.port))
    sock.listen(config.backlog)
    sock.set_inheritable(True)
    return sock


def _exit_cleanly(_signum: int, _frame: FrameType | None) -> None:
    # uvicorn re-raises the signal after its graceful shutdown; exit 0 instead of dying by it.
    sys.exit(0)


def server_config(settings: Settings) -> uvicorn.Config:
    forwarded = settings.forwarded_allow_ips.strip()
    return uvicorn.Config(
        "app.main:app",
        host=settings.host,
        port=settings.port,
        workers=settings.web_concurrency,
        # X-Forwarded-For is trusted only from proxies the operator names.
        proxy_headers=bool(forwarded),
        forwarded_allow_ips=forwarded or "",
        timeout_graceful_shutdown=settings.graceful_shutdown_seconds,
        timeout_keep_alive=settings.keep_alive_seconds,
        # h11 bounds a request's head (httptools takes headers of any size).
        http="h11",
        h11_max_incomplete_event_size=64 * 1024,
        access_log=False,  # the app logs one JSON line per request itself
        server_header=False,
        log_level="info",
    )


def main() -> int:
    try:
        settings = get_settings()
    except ValidationError as exc:
        message = exc.errors()[0]["msg"].removeprefix("Value error, ")
        print(f"error: refusing to start: {message}", file=sys.stderr)
        return 1
    config = server_config(settings)
    if config.workers > 1:
        # What uvicorn.run does for several workers, with the draining supervisor: one
        # socket bound here when the workers share it, else one bound per worker.
        reuse_port = settings.reuse_port and hasattr(socket, "SO_REUSEPORT")
        sockets = [] if reuse_port else [config.bind_socket()]
        metrics_dir = telemetry.prepare_multiprocess_dir()
        try:
            DrainingMultiprocess(config, sockets=sockets).run()
        finally:
            for sock in sockets:
                sock.close()
            telemetry.remove_multiprocess_dir(metrics_dir)
        return 0
    signal.signal(signal.SIGTERM, _exit_cleanly)
    server = DrainingServer(config)
    server.run()
    return 0 if server.started else 3


if __name__ == "__main__":
    sys.exit(main())
