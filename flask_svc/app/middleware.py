"""Per-request behaviour around every view: request id, security headers, CORS, access log."""

from __future__ import annotations

import ipaddress
import logging
import re
import sys
import time
import uuid
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from flask import Flask, Response, current_app, g, request
from flask_cors import CORS
from pythonjsonlogger.json import JsonFormatter
from werkzeug.exceptions import RequestEntityTooLarge

from . import hardening

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}

access_log = logging.getLogger("app.access")


class TrustedProxyMiddleware:
    """Take the client address from X-Forwarded-For only when the peer is a trusted proxy.

    Like uvicorn's `forwarded_allow_ips`: the right-most address not itself
    trusted is the client. With no trusted proxies the TCP peer is the client.
    """

    def __init__(self, app: WSGIApplication, trusted: list[str]) -> None:
        self.app = app
        self.trust_all = "*" in trusted
        self.networks = []
        for item in trusted:
            if item != "*":
                try:
                    self.networks.append(ipaddress.ip_network(item, strict=False))
                except ValueError:
                    continue

    def _trusted(self, address: str) -> bool:
        if self.trust_all:
            return True
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.networks)

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        peer = environ.get("REMOTE_ADDR", "")
        forwarded = environ.get("HTTP_X_FORWARDED_FOR")
        if forwarded and self._trusted(peer):
            hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
            for hop in reversed(hops):
                if not self._trusted(hop):
                    environ["REMOTE_ADDR"] = hop
                    break
        return self.app(environ, start_response)


def _setup_access_log() -> None:
    if not access_log.handlers:
        handler = logging.StreamHandler(sys.stdout)
        # python-json-logger: time, level, logger, message, then the request's fields.
        handler.setFormatter(
            JsonFormatter(
                "{asctime}{levelname}{name}{process}{message}",
                style="{",
                rename_fields={
                    "asctime": "time",
                    "levelname": "level",
                    "name": "logger",
                    "process": "pid",
                },
                datefmt="%Y-%m-%dT%H:%M:%S%z",
            )
        )
        access_log.addHandler(handler)
        access_log.setLevel(logging.INFO)
        access_log.propagate = False


def start_request() -> Response | None:
    g.started = time.perf_counter()
    incoming = request.headers.get("X-Request-ID", "")
    g.request_id = incoming if REQUEST_ID.fullmatch(incoming) else str(uuid.uuid4())
    # A declared length over the limit is refused before anything else looks at
    # the request; a chunked body is counted as it is read (see hardening).
    limit = current_app.config["MAX_CONTENT_LENGTH"]
    if request.content_length is not None and request.content_length > limit:
        raise RequestEntityTooLarge()
    return None


def finish_request(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    request_id = g.get("request_id") or str(uuid.uuid4())
    response.headers["X-Request-ID"] = request_id
    if current_app.config["CORS_ALLOWED_ORIGINS"]:
        # The answer depends on the Origin (Flask-CORS says so only when it lists several).
        response.vary.add("Origin")
    started = g.get("started", time.perf_counter())
    fields: dict[str, Any] = {
        "request_id": request_id,
        "method": request.method,
        "path": request.path,
        "status": response.status_code,
        "duration_ms": round((time.perf_counter() - started) * 1000, 2),
    }
    if g.get("user_id") is not None:
        fields["user_id"] = g.user_id
    access_log.info("request", extra=fields)
    return response


def init_app(app: Flask) -> None:
    _setup_access_log()
    # Flask-CORS: only the listed origins get CORS headers; Flask answers OPTIONS.
    CORS(
        app,
        origins=app.config["CORS_ALLOWED_ORIGINS"],
        methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"],
        allow_headers=["Authorization", "Content-Type", "X-Request-ID"],
        expose_headers=["X-Request-ID"],
        max_age=600,
    )
    app.before_request(start_request)
    app.before_request(hardening.exact_paths)
    app.after_request(finish_request)
    app.wsgi_app = hardening.AuthorizationSchemeMiddleware(app.wsgi_app)  # type: ignore[method-assign]
    if app.config["FORWARDED_ALLOW_IPS"]:
        app.wsgi_app = TrustedProxyMiddleware(  # type: ignore[method-assign]
            app.wsgi_app, app.config["FORWARDED_ALLOW_IPS"]
        )
