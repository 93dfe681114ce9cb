"""Cross-cutting HTTP behaviour: request id and log line, 503s."""

import logging
import re
import time
import uuid
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.utils.functional import LazyObject

from api.errors import UNAVAILABLE_ERRORS, service_unavailable

GetResponse = Callable[[HttpRequest], HttpResponseBase]

REQUEST_ID_PATTERN = re.compile(r"[A-Za-z0-9._:-]{1,128}")
request_logger = logging.getLogger("user_api.request")


class RequestLogMiddleware:
    """Sets `X-Request-ID` on every response and logs one JSON line per request.

    Only the method, path (no query string), status, duration and user id are
    logged: never a body, a password or a token.
    """

    def __init__(self, get_response: GetResponse) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        started = time.perf_counter()
        sent = request.headers.get("X-Request-ID", "")
        request_id = sent if REQUEST_ID_PATTERN.fullmatch(sent) else str(uuid.uuid4())
        request.request_id = request_id  # type: ignore[attr-defined]
        response = self.get_response(request)
        response["X-Request-ID"] = request_id
        user = request.__dict__.get("user")
        user_id = None
        if user is not None and not isinstance(user, LazyObject):
            user_id = getattr(user, "pk", None)
        request_logger.info(
            "request",
            extra={
                "request_id": request_id,
                "method": request.method,
                "path": request.path,
                "status": response.status_code,
                "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                "user_id": user_id,
            },
        )
        return response


class AdminReferrerPolicyMiddleware:
    """`Referrer-Policy: same-origin` on the admin's pages (`no-referrer` everywhere else).

    The admin's forms post to their own origin; under `no-referrer` a browser sends
    `Origin: null` with them, which Django's CSRF check refuses. Placed after
    SecurityMiddleware, whose `setdefault` then keeps this value.
    """

    def __init__(self, get_response: GetResponse) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        if request.path.startswith("/admin/"):
            response["Referrer-Policy"] = "same-origin"
        return response


class ServiceUnavailableMiddleware:
    """A database or Redis outage outside DRF views (admin, ...) is a 503 problem too."""

    def __init__(self, get_response: GetResponse) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, UNAVAILABLE_ERRORS):
            return service_unavailable()
        return None
