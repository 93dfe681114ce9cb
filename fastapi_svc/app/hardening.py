"""What the contract asks of a request that neither FastAPI nor Starlette does.

- Strict bodies: the raw body is parsed here instead of by FastAPI, so that bad JSON
  is a 400 (NaN, duplicate keys, deep nesting, invalid UTF-8) and a body that is not
  JSON is a 415 (FastAPI's documented custom Request/APIRoute idiom).
- The 1 MiB body limit, from Content-Length or counted as a chunked body streams in.
- The bearer token from the Authorization header, its scheme in any case.
"""

import json
import re
from collections.abc import Callable, Coroutine
from typing import Annotated, Any, NoReturn
from urllib.parse import parse_qsl

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BeforeValidator
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app import errors
from app.middleware import send_problem

MAX_JSON_DEPTH = 64
MAX_BODY_BYTES = 1024 * 1024
MAX_HEADER_BYTES = 8 * 1024
# A host name or an IPv6 literal, and an optional port.
HOST = re.compile(r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+)(:[0-9]{1,5})?")
JSON_MEDIA_TYPE = "application/json"
FORM_MEDIA_TYPE = "application/x-www-form-urlencoded"


def _bad_request(detail: str) -> NoReturn:
    raise HTTPException(400, detail=detail)


def media_type(request: Request) -> str | None:
    value = request.headers.get("content-type")
    if value is None:
        return None
    return value.split(";", 1)[0].strip().lower()


def _reject_constant(name: str) -> NoReturn:
    _bad_request("The request body is not valid JSON: NaN and Infinity are not allowed.")


def _object_without_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            _bad_request("The request body is not valid JSON: a key appears twice.")
        result[key] = value
    return result


def _depth_exceeds(value: Any, limit: int) -> bool:
    """Iterative, so that the check itself cannot overflow the stack."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth + 1 > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def parse_json(body: bytes) -> Any:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        _bad_request("The request body is not valid UTF-8.")
    try:
        value = json.loads(
            text,
            parse_constant=_reject_constant,
            object_pairs_hook=_object_without_duplicates,
        )
    except ValueError:  # not JSON, or a number of more digits than Python converts
        _bad_request("The request body is not valid JSON.")
    except RecursionError:
        _bad_request("The request body is nested too deeply.")
    if _depth_exceeds(value, MAX_JSON_DEPTH):
        _bad_request("The request body is nested too deeply.")
    return value


def parse_form(body: bytes) -> list[tuple[str, str]]:
    try:
        text = body.decode("utf-8")
        return parse_qsl(text, keep_blank_values=True, strict_parsing=False, errors="strict")
    except (UnicodeDecodeError, ValueError):
        _bad_request("The request body is not a valid form.")


class JSONRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = parse_json(await self.body())
        return self._json


def unsupported_media_type(expected: str = "application/json") -> NoReturn:
    raise HTTPException(415, detail=f"The request body must be {expected}.")


class JSONRoute(APIRoute):
    """Checks the content type and emptiness of the body before FastAPI reads it."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        body_field = self.body_field
        body_required = body_field is not None and body_field.field_info.is_required()

        async def route_handler(request: Request) -> Response:
            request = JSONRequest(request.scope, request.receive)
            if body_field is not None:
                body = await request.body()
                is_json = media_type(request) == JSON_MEDIA_TYPE
                if body and not is_json:
                    unsupported_media_type()
                if not body and body_required:
                    _bad_request("The request body is empty.")
            return await handler(request)

        return route_handler


class BodyTooLargeError(HTTPException):
    def __init__(self) -> None:
        super().__init__(413, detail="The request body is larger than 1 MiB.")


class RequestLimitsMiddleware:
    """431 for a header over 8 KiB (uvicorn's h11 limits the whole head to 64 KiB); 413
    from Content-Length before reading, and for chunked bodies as the bytes arrive."""

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if any(len(value) > MAX_HEADER_BYTES for _, value in scope["headers"]):
            await send_problem(send, 431, "A request header is larger than 8 KiB.")
            return
        host = Headers(scope=scope).get("host")
        if host is not None and not HOST.fullmatch(host):
            # Links are built from it: a 400, as Django answers a host it cannot read.
            await send_problem(send, 400, "The Host header is invalid.")
            return
        length = Headers(scope=scope).get("content-length")
        if length is not None:
            try:
                too_large = int(length) > self.max_bytes
            except ValueError:
                await send_problem(send, 400, "The Content-Length header is invalid.")
                return
            if too_large:
                await send_problem(send, 413, "The request body is larger than 1 MiB.")
                return
        received = 0
        response_started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLargeError
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLargeError:
            if response_started:
                raise
            await send_problem(send, 413, "The request body is larger than 1 MiB.")


CANONICAL_INTEGER = re.compile(r"0|[1-9][0-9]*")


def canonical_integer(value: object) -> object:
    """A query integer as the contract writes it: `1.0`, `+1`, ` 1` and `` are not one."""
    if isinstance(value, str) and not CANONICAL_INTEGER.fullmatch(value):
        raise ValueError("Must be an integer.")
    return value


QueryInteger = Annotated[int, BeforeValidator(canonical_integer)]


def single_values(*names: str) -> Callable[[Request], Coroutine[Any, Any, None]]:
    """A dependency refusing these query parameters when given more than once (422),
    where FastAPI would take the last."""

    async def check(request: Request) -> None:
        repeated = [name for name in names if len(request.query_params.getlist(name)) > 1]
        if repeated:
            raise RequestValidationError(
                [
                    {"type": "repeated", "loc": ("query", n), "msg": "Given more than once."}
                    for n in repeated
                ]
            )

    return check


# RFC 6750: the scheme (in any case), one space, a b64token; nothing else.
BEARER = re.compile(r"bearer ([A-Za-z0-9._~+/-]+=*)", re.IGNORECASE)


def bearer_token(request: Request) -> str:
    """The token of the one Authorization header; two headers authenticate nobody."""
    values = request.headers.getlist("authorization")
    if not values:
        raise errors.unauthorized()
    match = BEARER.fullmatch(values[0]) if len(values) == 1 else None
    if match is None:
        raise errors.invalid_token()
    return match.group(1)
