"""gunicorn settings, from the same environment variables as the app.

Run from this folder: `.venv/bin/gunicorn 'app:create_app()'`.
"""

import os
import sys

from app.config import ConfigError, check_secret

# Refuse to start with a clear message before any worker boots.
try:
    check_secret(os.environ.get("APP_ENV", "development"), os.environ.get("JWT_SECRET_KEY"))
except ConfigError as error:
    sys.exit(f"error: {error}")

_host = os.environ.get("HOST", "127.0.0.1")
_port = os.environ.get("PORT", "8003")
bind = [f"[{_host}]:{_port}" if ":" in _host else f"{_host}:{_port}"]
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
# Threads let a worker serve other requests while one waits on argon2 or the database.
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
timeout = 30
# SIGTERM: finish the requests in flight (up to this many seconds), then exit 0.
graceful_timeout = 20
keepalive = 5
# Only proxies named in FORWARDED_ALLOW_IPS are trusted for X-Forwarded-Proto
# (gunicorn's own default trusts 127.0.0.1); the client address is handled in
# the app (app/middleware.py) from the same variable.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "")
# The app logs one JSON line per request itself; gunicorn's access log is off.
accesslog = None
errorlog = "-"
loglevel = "info"
