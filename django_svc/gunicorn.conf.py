"""gunicorn settings, from the same environment variables as the other services."""

import os
import signal
import threading
from types import FrameType
from typing import Any

from config import telemetry
from config.settings import MAX_BODY_BYTES

# Before the application (and prometheus_client with it) loads: every worker then
# writes its metrics to this directory, and /metrics adds them up.
METRICS_DIR = telemetry.prepare_multiprocess_dir()

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8002')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = "gthread"
# A thread holds one database connection for its whole request. On PostgreSQL the
# worker's threads share a pool of DB_POOL_SIZE (default 5) connections: threads beyond
# that wait up to DB_POOL_TIMEOUT for one, then answer 503.
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
# SIGTERM: requests in flight get this long to finish, then the master exits 0.
graceful_timeout = 20
timeout = 30
# Each worker listens on its own SO_REUSEPORT socket and the kernel spreads new
# connections over them: on one shared socket the worker that wakes first can take every
# waiting connection while its sibling idles. REUSE_PORT=0 goes back to the shared one.
reuse_port = os.environ.get("REUSE_PORT", "1") != "0"
# gunicorn's default, kept on purpose: with reuse_port the kernel, not this cap, spreads
# the connections, and a lower cap would leave those it gave this worker waiting.
worker_connections = 1000
# An idle keep-alive connection is closed after this long; behind a load balancer
# it must outlast the balancer's own idle timeout (60 s on AWS ALB).
keepalive = int(os.environ.get("KEEP_ALIVE_SECONDS", "75"))
# The application logs its own JSON line per request.
accesslog = None
# No control socket: every gunicorn of a user would bind ~/.gunicorn/gunicorn.ctl (two
# servers collide there), and an image whose HOME is read-only logs an error at start.
control_socket_disable = True
errorlog = "-"
# Load the app in the master so that a bad configuration (for example no
# JWT_SECRET_KEY in production) stops the server at once with its message.
preload_app = True
wsgi_app = "config.wsgi"
# X-Forwarded-* are trusted from these proxies only (none by default).
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "")

# After SIGTERM a worker keeps accepting for this long before its graceful
# shutdown starts, so that requests clients had already sent (still in the
# listen queue) are served instead of reset.
DRAIN_SECONDS = float(os.environ.get("GUNICORN_DRAIN_SECONDS", "1"))


def post_worker_init(worker: Any) -> None:
    begin_shutdown = worker.handle_exit

    def handle_term(signum: int, frame: FrameType | None) -> None:
        threading.Timer(DRAIN_SECONDS, begin_shutdown, args=(signum, frame)).start()

    signal.signal(signal.SIGTERM, handle_term)


def post_fork(server: Any, worker: Any) -> None:
    # The tracer provider's export thread belongs in the worker, not the master.
    telemetry.configure_tracing()


def pre_request(worker: Any, req: Any) -> None:
    # A body over the limit is refused unread, and gunicorn then closes the connection
    # (it drains at most 64 KiB): say so in the answer (`Connection: close`), or the
    # client sends its next request down a connection that is about to close. A chunked
    # body's length is unknown until it is read, so those connections close too.
    headers = dict(req.headers)
    length = headers.get("CONTENT-LENGTH", "")
    if "TRANSFER-ENCODING" in headers or (length.isdigit() and int(length) > MAX_BODY_BYTES):
        req.must_close = True


def child_exit(server: Any, worker: Any) -> None:
    telemetry.mark_worker_dead(worker.pid)


def on_exit(server: Any) -> None:
    telemetry.remove_multiprocess_dir(METRICS_DIR)
