"""What the contract asks of a request that neither Flask nor its extensions do.

- Request bodies: the size limit counted as a chunked body is read (Werkzeug
  truncates one silently), the media type, and strict JSON and form parsing
  (`request.get_json()` accepts NaN/Infinity, duplicate keys and any depth).
- The `Bearer` scheme in any case, for Flask-JWT-Extended.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from flask import Request, current_app, g, request
from gunicorn.http.errors import ParseException
from werkzeug.exceptions import NotFound, RequestEntityTooLarge

from .errors import ApiError

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

MAX_DEPTH = 64

log = logging.getLogger(__name__)
JSON_MEDIA_TYPE = "application/json"
FORM_MEDIA_TYPE = "application/x-www-form-urlencoded"


# The methods HTTP defines; any other token a client sends is read as `OTHER`.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class BoundedMethodRequest(Request):
    """Flask answers an unknown method 405 all the same; reading it as `OTHER` keeps the
    metrics (labelled by `request.method`) to a bounded set of labels."""

    def __init__(self, environ: WSGIEnvironment, *args: Any, **kwargs: Any) -> None:
        super().__init__(environ, *args, **kwargs)
        if self.method not in METHODS:
            self.method = "OTHER"


class MalformedBody(ApiError):
    def __init__(self, detail: str) -> None:
        super().__init__(400, detail)


def read_body() -> bytes:
    """The raw body, refusing more than MAX_CONTENT_LENGTH bytes with 413.

    A declared Content-Length over the limit is refused before reading (see
    middleware). A chunked body has no length: it is counted here as it
    streams, since Werkzeug's own limited stream stops silently at the limit
    and would hand over a truncated body.
    """
    cached: bytes | None = g.get("raw_body")
    if cached is not None:
        return cached
    try:
        if request.content_length is not None or not request.environ.get("wsgi.input_terminated"):
            body = request.get_data(cache=True)
        else:
            limit = current_app.config["MAX_CONTENT_LENGTH"]
            stream = request.environ["wsgi.input"]
            buffer = bytearray()
            while chunk := stream.read(64 * 1024):
                buffer += chunk
                if len(buffer) > limit:
                    raise RequestEntityTooLarge()
            body = bytes(buffer)
    except (OSError, ParseException) as error:  # a client gone mid-body, a malformed chunk
        log.info("request body unreadable: %s", type(error).__name__)
        raise MalformedBody("The request body could not be read.") from None
    g.raw_body = body
    return body


def has_body() -> bool:
    if request.content_length:
        return True
    chunked = "chunked" in request.headers.get("Transfer-Encoding", "").lower()
    return chunked and bool(read_body())


def _reject_constant(name: str) -> Any:
    raise MalformedBody("The request body is not valid JSON: NaN and Infinity are not allowed.")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise MalformedBody("The request body is not valid JSON: a key appears twice.")
        result[key] = value
    return result


def _depth_exceeds(value: Any, limit: int) -> bool:
    """Whether nesting is deeper than `limit` (a scalar is 0, each container adds 1)."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = list(item.values())
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth + 1 > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def parse_json(raw: bytes) -> Any:
    if not raw.strip():
        raise MalformedBody("The request body is empty.")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedBody("The request body is not valid UTF-8.") from None
    try:
        data = json.loads(text, parse_constant=_reject_constant, object_pairs_hook=_unique_keys)
    except RecursionError:
        raise MalformedBody("The request body is nested too deeply.") from None
    except ValueError:
        raise MalformedBody("The request body is not valid JSON.") from None
    if _depth_exceeds(data, MAX_DEPTH):
        raise MalformedBody("The request body is nested too deeply.")
    return data


def json_body() -> Any:
    """The JSON body of the request (a missing body is malformed)."""
    if not has_body():
        raise MalformedBody("The request body is empty.")
    if request.mimetype != JSON_MEDIA_TYPE:
        raise ApiError(415, "The request body must be application/json.")
    return parse_json(read_body())


def form_body() -> dict[str, str]:
    """An application/x-www-form-urlencoded body; a repeated field is malformed."""
    try:
        text = read_body().decode("utf-8")
        pairs = parse_qsl(text, keep_blank_values=True, encoding="utf-8", errors="strict")
    except (UnicodeDecodeError, ValueError):
        raise MalformedBody("The form body is not valid UTF-8.") from None
    result: dict[str, str] = {}
    for key, value in pairs:
        if key in result:
            raise MalformedBody("A form field is given more than once.")
        result[key] = value
    return result


def exact_paths() -> None:
    """Werkzeug's router reads `//metrics` as `/metrics`; the contract's paths are exact.
    A Host Werkzeug cannot read becomes "" (and links `http:///...`): a 400, as in Django."""
    if not request.host:
        raise MalformedBody("The Host header is invalid.")
    if str(request.environ.get("PATH_INFO", "")).startswith("//"):
        raise NotFound()


# RFC 6750: the scheme (in any case), one space, a b64token; nothing else.
BEARER = re.compile(r"bearer ([A-Za-z0-9._~+/-]+=*)", re.IGNORECASE)


class AuthorizationSchemeMiddleware:
    """Spell the `Bearer` scheme the way Flask-JWT-Extended compares it.

    HTTP auth schemes are case-insensitive (RFC 9110), the library's check is not; the
    library would also split on any whitespace and take the first of several values.
    """

    def __init__(self, app: WSGIApplication) -> None:
        self.app = app

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        value = environ.get("HTTP_AUTHORIZATION")
        if value is not None:
            match = BEARER.fullmatch(value)
            # A header the library rejects as a token it cannot use.
            environ["HTTP_AUTHORIZATION"] = f"Bearer {match.group(1)}" if match else "Malformed"
        return self.app(environ, start_response)
