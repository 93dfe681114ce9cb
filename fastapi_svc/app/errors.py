"""RFC 9457 problem details for every error, from the API or from the framework."""

import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any

import redis.exceptions
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.responses import Response
from starlette.types import Scope

logger = logging.getLogger("app.errors")

PROBLEM_MEDIA_TYPE = "application/problem+json"
RETRY_AFTER_UNAVAILABLE = "5"
MAX_FIELD_ERRORS = 20

# RFC 9110 phrases (not the older spellings of Python's http module).
TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    431: "Request Header Fields Too Large",
    422: "Unprocessable Content",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}

DEFAULT_DETAILS = {
    400: "The request is malformed.",
    401: "Not authenticated.",
    403: "Admin privileges required.",
    404: "The requested resource was not found.",
    405: "The method is not allowed for this resource.",
    409: "A user with this email already exists.",
    413: "The request body is larger than 1 MiB.",
    415: "The request body must be application/json.",
    422: "The request body is invalid.",
    429: "Too many failed login attempts. Try again later.",
    500: "An unexpected error occurred.",
    503: "Service temporarily unavailable.",
}

# Fixed detail strings of the contract.
INCORRECT_CREDENTIALS = "Incorrect email or password."
NOT_AUTHENTICATED = "Not authenticated."
INVALID_TOKEN = "Invalid or expired token."
ADMIN_REQUIRED = "Admin privileges required."
EMAIL_TAKEN = "A user with this email already exists."
THROTTLED = "Too many failed login attempts. Try again later."
UNAVAILABLE = "Service temporarily unavailable."
CURRENT_PASSWORD_INCORRECT = "The current password is incorrect."
INVALID_LINK_TOKEN = "The token is invalid or has expired."
EMAIL_NOT_VERIFIED = "The email address is not verified."
EMAIL_ALREADY_VERIFIED = "The email address is already verified."
OWN_ACCOUNT = "Admins cannot deactivate, demote or delete their own account."
LAST_ADMIN = "The last active admin cannot delete their own account."

WWW_AUTHENTICATE = {"WWW-Authenticate": "Bearer"}
WWW_AUTHENTICATE_INVALID = {"WWW-Authenticate": 'Bearer error="invalid_token"'}


class FieldError(dict[str, str]):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(field=field, message=message)


# --8<-- [start:problem]
def problem_body(
    status: int, detail: str | None = None, errors: Sequence[Mapping[str, str]] | None = None
) -> bytes:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": TITLES.get(status, "Error"),
        "status": status,
        "detail": detail or DEFAULT_DETAILS.get(status, "The request failed."),
    }
    if errors is not None:
        body["errors"] = [dict(e) for e in errors[:MAX_FIELD_ERRORS]]
    return json.dumps(body, ensure_ascii=False).encode()


def problem_response(
    status: int,
    detail: str | None = None,
    *,
    errors: Sequence[Mapping[str, str]] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    return Response(
        problem_body(status, detail, errors),
        status_code=status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=dict(headers or {}),
    )
    # --8<-- [end:problem]


class EmailTakenError(Exception):
    """Another account has this email: a 409."""


class InvalidTokenError(Exception):
    """A token that is not, or no longer, valid: a 401."""


class IncorrectPasswordError(Exception):
    """The current password given to confirm a change is wrong: a 422."""


class InvalidLinkTokenError(Exception):
    """A reset or verification token that is unknown, expired, used or superseded."""


class EmailNotVerifiedError(Exception):
    """The right password, with REQUIRE_VERIFIED_EMAIL, for an unverified address."""


class EmailAlreadyVerifiedError(Exception):
    pass


class APIProblem(Exception):
    """Raised anywhere in the app to answer with a problem body."""

    def __init__(
        self,
        status: int,
        detail: str | None = None,
        *,
        errors: Sequence[Mapping[str, str]] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.errors = errors
        self.headers = dict(headers or {})


def unauthorized(detail: str = NOT_AUTHENTICATED, *, invalid_token: bool = False) -> APIProblem:
    headers = WWW_AUTHENTICATE_INVALID if invalid_token else WWW_AUTHENTICATE
    return APIProblem(401, detail, headers=headers)


def invalid_token() -> APIProblem:
    return unauthorized(INVALID_TOKEN, invalid_token=True)


def throttled(retry_after: int) -> APIProblem:
    return APIProblem(429, THROTTLED, headers={"Retry-After": str(retry_after)})


def validation_problem(field: str, message: str) -> APIProblem:
    return APIProblem(422, errors=[FieldError(field, message)])


def unavailable() -> APIProblem:
    return APIProblem(503, UNAVAILABLE, headers={"Retry-After": RETRY_AFTER_UNAVAILABLE})


def _field_name(loc: Sequence[int | str]) -> str:
    # ("body", "age") -> "age"; ("query", "limit") -> "limit"; ("body",) -> "body"
    parts = [str(p) for p in loc]
    if len(parts) > 1 and parts[0] in {"body", "query", "path", "header"}:
        parts = parts[1:]
    return ".".join(parts) or "body"


# The contract README's field messages, by Pydantic error type; a custom validator's
# message is the table's own text already.
FIELD_MESSAGES = {
    "missing": "Field required.",
    "extra_forbidden": "Unknown field.",
    "string_type": "Must be a string.",
    "int_type": "Must be an integer.",
    "int_parsing": "Must be an integer.",
    "int_from_float": "Must be an integer.",
    "bool_type": "Must be true or false.",
    "literal_error": "Must be true or false.",
    "model_type": "Must be a JSON object.",
    "model_attributes_type": "Must be a JSON object.",
    "dict_type": "Must be a JSON object.",
    "greater_than_equal": "Must be at least {ge}.",
    "less_than_equal": "Must be at most {le}.",
    "string_too_short": "Must be at least {min_length} characters.",
    "string_too_long": "Must be at most {max_length} characters.",
    "repeated": "Given more than once.",
}


def _message(error: Mapping[str, Any]) -> str:
    kind, ctx = error.get("type", ""), error.get("ctx", {})
    if kind == "value_error":
        return str(error.get("msg", "")).removeprefix("Value error, ")
    if kind.endswith("_type") and error.get("input", "") is None:
        return "Must not be null."
    if kind == "string_too_short" and ctx.get("min_length") == 1:
        return "Must not be empty."
    return FIELD_MESSAGES.get(kind, "Invalid value.").format(**ctx)


def field_errors(raw: Sequence[Mapping[str, Any]]) -> list[FieldError]:
    return [FieldError(_field_name(e.get("loc", ())), _message(e)) for e in raw]


def allowed_methods(app: FastAPI, scope: Scope) -> list[str]:
    path = scope.get("path", "")
    methods: set[str] = set()
    for path_regex, route_methods in app.state.route_methods:
        if path_regex.match(path):
            methods |= route_methods
    if "GET" in methods:
        methods.add("HEAD")
    return sorted(methods)


async def _api_problem_handler(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, APIProblem)
    return problem_response(exc.status, exc.detail, errors=exc.errors, headers=exc.headers)


# --8<-- [start:domain]
async def _domain_error_handler(_request: Request, exc: Exception) -> Response:
    problem = {
        EmailTakenError: APIProblem(409, EMAIL_TAKEN),
        InvalidTokenError: invalid_token(),
        IncorrectPasswordError: validation_problem("current_password", CURRENT_PASSWORD_INCORRECT),
        InvalidLinkTokenError: validation_problem("token", INVALID_LINK_TOKEN),
        EmailNotVerifiedError: APIProblem(403, EMAIL_NOT_VERIFIED),
        EmailAlreadyVerifiedError: APIProblem(409, EMAIL_ALREADY_VERIFIED),
    }[type(exc)]
    return await _api_problem_handler(_request, problem)
    # --8<-- [end:domain]


async def _validation_handler(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    raw = exc.errors()
    errors = field_errors(raw)
    in_body = any(e.get("loc", ("body",))[:1] == ("body",) for e in raw)
    detail = "The request body is invalid." if in_body else "The query parameters are invalid."
    return problem_response(422, detail, errors=errors)


async def _http_exception_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    status = exc.status_code
    headers = dict(exc.headers or {})
    if status == 405:
        app = request.app
        assert isinstance(app, FastAPI)
        headers["Allow"] = ", ".join(allowed_methods(app, request.scope))
    detail = exc.detail if status in {400, 413, 415} and exc.detail != TITLES.get(status) else None
    if status not in TITLES:
        status = 500 if status >= 500 else 400
    return problem_response(status, detail, headers=headers)


async def _unavailable_handler(_request: Request, exc: Exception) -> Response:
    logger.warning("dependency unavailable: %s: %s", type(exc).__name__, exc)
    problem = unavailable()
    return problem_response(problem.status, problem.detail, headers=problem.headers)


async def _disconnect_handler(request: Request, _exc: Exception) -> Response:
    # Nobody is left to answer; the status only goes to the log line and the metrics.
    logger.info("client disconnected before its request body was read: %s", request.url.path)
    return problem_response(400, "The request body could not be read.")


async def _unexpected_handler(_request: Request, exc: Exception) -> Response:
    logger.error("unhandled error", exc_info=exc)
    return problem_response(500)


DOMAIN_ERRORS = (
    EmailTakenError,
    InvalidTokenError,
    IncorrectPasswordError,
    InvalidLinkTokenError,
    EmailNotVerifiedError,
    EmailAlreadyVerifiedError,
)

UNAVAILABLE_ERRORS: tuple[type[Exception], ...] = (
    OperationalError,
    InterfaceError,
    PoolTimeoutError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    ConnectionError,
    TimeoutError,
    OSError,
)


# --8<-- [start:handlers]
def register_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(APIProblem, _api_problem_handler)
    for domain_error in DOMAIN_ERRORS:
        app.add_exception_handler(domain_error, _domain_error_handler)
    app.add_exception_handler(RequestValidationError, _validation_handler)
    app.add_exception_handler(StarletteHTTPException, _http_exception_handler)
    for error in UNAVAILABLE_ERRORS:
        app.add_exception_handler(error, _unavailable_handler)
    app.add_exception_handler(ClientDisconnect, _disconnect_handler)
    app.add_exception_handler(Exception, _unexpected_handler)
    # --8<-- [end:handlers]
