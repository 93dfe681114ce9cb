"""gunicorn settings, from the same environment variables as the app.

Run from this folder: `.venv/bin/gunicorn 'app:create_app()'`.
"""

import os
import sys
from typing import Any

from app import telemetry
from app.config import MAX_BODY_BYTES, ConfigError, from_environ

# Refuse to start with a clear message before any worker boots.
try:
    from_environ()
except ConfigError as error:
    sys.exit(f"error: {error}")

# Before any worker loads the application (and prometheus_client with it): every
# worker then writes its metrics to this directory, and /metrics adds them up. The
# application is loaded in each worker after the fork (no preload_app), so each
# worker also sets up its own tracer provider there (app.telemetry).
METRICS_DIR = telemetry.prepare_multiprocess_dir()

_host = os.environ.get("HOST", "127.0.0.1")
_port = os.environ.get("PORT", "8003")
bind = [f"[{_host}]:{_port}" if ":" in _host else f"{_host}:{_port}"]
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
# Threads let a worker serve other requests while one waits on argon2 or the database.
# They share the worker's pool of DB_POOL_SIZE (default 5) connections, a request
# holding one for each transaction (never while hashing): a thread that finds none
# free waits up to DB_POOL_TIMEOUT for one, then answers 503.
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
timeout = 30
# SIGTERM: finish the requests in flight (up to this many seconds), then exit 0.
graceful_timeout = 20
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
# Only proxies named in FORWARDED_ALLOW_IPS are trusted for X-Forwarded-Proto
# (gunicorn's own default trusts 127.0.0.1); the client address is handled in
# the app (app/middleware.py) from the same variable.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "")
# The app logs one JSON line per request itself; gunicorn's access log is off.
accesslog = None
# No control socket: every gunicorn of a user would bind ~/.gunicorn/gunicorn.ctl (two
# servers collide there), and an image whose HOME is read-only logs an error at start.
control_socket_disable = True
errorlog = "-"
loglevel = "info"


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
