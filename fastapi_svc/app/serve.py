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
    def __init__(self, config: uvicorn.Config, sockets: list[socket.socket]) -> None:
        super().__init__(config, sockets)
        self.known_pids: set[int] = set()

    def handle_term(self) -> None:
        time.sleep(DRAIN_SECONDS)
        super().handle_term()

    def keep_subprocess_alive(self) -> None:
        # Runs every half second after the signal handlers: a worker gone since the
        # last round (died, restarted, SIGTTOU) is dead for the metrics too.
        super().keep_subprocess_alive()
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
        # What uvicorn.run does for several workers, with the draining supervisor. The
        # workers share one socket: a socket per worker (SO_REUSEPORT) gained nothing in a
        # side-by-side run (benchmarks/results/profiles.md), so uvicorn's way stays.
        sock = config.bind_socket()
        metrics_dir = telemetry.prepare_multiprocess_dir()
        try:
            DrainingMultiprocess(config, sockets=[sock]).run()
        finally:
            sock.close()
            telemetry.remove_multiprocess_dir(metrics_dir)
        return 0
    signal.signal(signal.SIGTERM, _exit_cleanly)
    server = DrainingServer(config)
    server.run()
    return 0 if server.started else 3


if __name__ == "__main__":
    sys.exit(main())
