"""``python -m app.serve``: the production server (uvicorn, WEB_CONCURRENCY workers)."""

import signal
import sys
from types import FrameType

import uvicorn
from pydantic import ValidationError

from app.config import get_settings


def _exit_cleanly(_signum: int, _frame: FrameType | None) -> None:
    # uvicorn re-raises the signal after its graceful shutdown; exit 0 instead of dying by it.
    sys.exit(0)


def main() -> int:
    try:
        settings = get_settings()
    except ValidationError as exc:
        message = exc.errors()[0]["msg"].removeprefix("Value error, ")
        print(f"error: refusing to start: {message}", file=sys.stderr)
        return 1
    signal.signal(signal.SIGTERM, _exit_cleanly)
    forwarded = settings.forwarded_allow_ips.strip()
    uvicorn.run(
        "app.main:app",
        host=settings.host,
        port=settings.port,
        workers=settings.web_concurrency,
        # X-Forwarded-For is trusted only from proxies the operator names.
        proxy_headers=bool(forwarded),
        forwarded_allow_ips=forwarded or "",
        timeout_graceful_shutdown=settings.graceful_shutdown_seconds,
        access_log=False,  # the app logs one JSON line per request itself
        server_header=False,
        log_level="info",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
