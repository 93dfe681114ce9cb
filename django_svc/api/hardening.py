"""What the contract asks of a request that neither Django nor DRF does.

- A JSON parser as strict as the contract: DRF's own accepts `NaN`, keeps the
  last of two equal keys and lets a deeply nested document raise
  `RecursionError`; each of these is a 400 here.
- The 1 MiB body limit, by `Content-Length` or counted as a chunked body
  streams (`BodySizeLimitMiddleware`, before the parser runs).
"""

import io
import json
import logging
from collections.abc import Mapping
from typing import IO, Any

from django.conf import settings
from django.core.handlers.wsgi import LimitedStream
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from gunicorn.http.errors import ParseException
from rest_framework.exceptions import ParseError
from rest_framework.parsers import BaseParser

from api.errors import problem_response
from config.middleware import GetResponse

MAX_DEPTH = 64

log = logging.getLogger(__name__)


class _StrictJSONError(ValueError):
    """Valid for Python's json module, not for the contract."""


def _reject_constant(name: str) -> Any:
    raise _StrictJSONError("The request body is not valid JSON: NaN and Infinity are not allowed.")


def _unique_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for key, value in pairs:
        if key in obj:
            raise _StrictJSONError("The request body is not valid JSON: a key appears twice.")
        obj[key] = value
    return obj


def _depth(value: Any) -> int:
    """Nesting depth: a scalar is 0, each array or object adds one (iterative)."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict | list):
            level += 1
            deepest = max(deepest, level)
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, level) for child in children)
    return deepest


def loads_strict(raw: bytes) -> Any:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ParseError("The request body is not valid UTF-8.") from exc
    if not text.strip():
        raise ParseError("The request body is empty.")
    try:
        data = json.loads(text, object_pairs_hook=_unique_object, parse_constant=_reject_constant)
    except _StrictJSONError as exc:
        raise ParseError(str(exc)) from exc
    except (ValueError, RecursionError) as exc:
        raise ParseError("The request body is not valid JSON.") from exc
    if _depth(data) > MAX_DEPTH:
        raise ParseError("The request body is nested too deeply.")
    return data


class StrictJSONParser(BaseParser):
    media_type = "application/json"

    def parse(
        self,
        stream: IO[Any],
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        charset = ""
        if media_type and "charset=" in media_type.lower():
            charset = media_type.lower().split("charset=", 1)[1].split(";", 1)[0].strip(' "')
        if charset and charset not in {"utf-8", "utf8"}:
            raise ParseError("The request body must be UTF-8.")
        return loads_strict(stream.read())


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
            try:
                while len(buffer) <= self.limit:
                    chunk = source.read(min(65536, self.limit + 1 - len(buffer)))
                    if not chunk:
                        break
                    buffer.extend(chunk)
            except (OSError, ParseException) as error:  # a client gone mid-body, a bad chunk
                log.info("request body unreadable: %s", type(error).__name__)
                return problem_response(400, "The request body could not be read.")
            if len(buffer) > self.limit:
                return self._too_large()
            data = bytes(buffer)
            request._stream = LimitedStream(io.BytesIO(data), len(data))  # type: ignore[assignment]
            request.META["CONTENT_LENGTH"] = str(len(data))
        return self.get_response(request)
