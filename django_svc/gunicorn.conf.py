"""gunicorn settings, from the same environment variables as the other services."""

import os
import signal
import threading
from types import FrameType
from typing import Any

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8002')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
# SIGTERM: requests in flight get this long to finish, then the master exits 0.
graceful_timeout = 20
timeout = 30
# The application logs its own JSON line per request.
accesslog = None
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
