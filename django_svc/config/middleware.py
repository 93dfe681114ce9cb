"""Cross-cutting HTTP behaviour: request id and log line, body size, 503s."""

import io
import logging
import re
import time
import uuid
from collections.abc import Callable

from django.conf import settings
from django.core.handlers.wsgi import LimitedStream
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.utils.functional import LazyObject

from config.errors import UNAVAILABLE_ERRORS, problem_response, service_unavailable

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


class BodySizeLimitMiddleware:
    """413 for bodies over 1 MiB, by `Content-Length` or counted as a chunked body streams.

    DRF's parsers read the stream directly and never look at
    `DATA_UPLOAD_MAX_MEMORY_SIZE`, and Django's WSGI request reads a chunked
    body (no `Content-Length`) as empty; this buffers at most limit + 1 bytes
    of such a body and hands the rest of the stack an ordinary sized one.
    """

    def __init__(self, get_response: GetResponse) -> None:
        self.get_response = get_response
        self.limit: int = settings.MAX_BODY_BYTES

    def _too_large(self) -> HttpResponse:
        return problem_response(413, "The request body is larger than 1 MiB.")

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        raw_length = request.META.get("CONTENT_LENGTH") or ""
        chunked = "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower()
        if raw_length and not chunked:
            if not raw_length.isdigit():
                return problem_response(400, "The Content-Length header is malformed.")
            if int(raw_length) > self.limit:
                return self._too_large()
        elif chunked and "wsgi.input" in request.META:
            source = request.META["wsgi.input"]
            buffer = bytearray()
            while len(buffer) <= self.limit:
                chunk = source.read(min(65536, self.limit + 1 - len(buffer)))
                if not chunk:
                    break
                buffer.extend(chunk)
            if len(buffer) > self.limit:
                return self._too_large()
            data = bytes(buffer)
            request._stream = LimitedStream(io.BytesIO(data), len(data))  # type: ignore[assignment]
            request.META["CONTENT_LENGTH"] = str(len(data))
        return self.get_response(request)


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
