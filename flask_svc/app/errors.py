"""RFC 9457 problem details: one body for every 4xx and 5xx, registered once."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import redis.exceptions
import sqlalchemy.exc
from flask import Flask, Response, json
from werkzeug.exceptions import HTTPException
from werkzeug.routing import RoutingException

log = logging.getLogger(__name__)

TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Content Too Large",
    415: "Unsupported Media Type",
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

NOT_AUTHENTICATED = "Not authenticated."
INVALID_TOKEN = "Invalid or expired token."
BAD_CREDENTIALS = "Incorrect email or password."
ADMIN_REQUIRED = "Admin privileges required."
EMAIL_TAKEN = "A user with this email already exists."
THROTTLED = "Too many failed login attempts. Try again later."
UNAVAILABLE = "Service temporarily unavailable."
OWN_ACCOUNT = "Admins cannot deactivate, demote or delete their own account."
LAST_ADMIN = "The last active admin cannot delete their own account."
CURRENT_PASSWORD_INCORRECT = "The current password is incorrect."
INVALID_LINK_TOKEN = "The token is invalid or has expired."
EMAIL_NOT_VERIFIED = "The email address is not verified."
EMAIL_ALREADY_VERIFIED = "The email address is already verified."

BEARER = "Bearer"
BEARER_INVALID = 'Bearer error="invalid_token"'

FieldError = dict[str, str]
MAX_FIELD_ERRORS = 20


class EmailTakenError(Exception):
    """Another account has this email: a 409."""


class InvalidTokenError(Exception):
    """A token that is not, or no longer, valid: a 401."""


class IncorrectPasswordError(Exception):
    """The current password given to confirm a change is wrong: a 422."""


class InvalidLinkTokenError(Exception):
    """A reset or verification token that is unknown, expired, used or superseded: a 422."""


class EmailNotVerifiedError(Exception):
    """The right password, with REQUIRE_VERIFIED_EMAIL, for an unverified address: a 403."""


class EmailAlreadyVerifiedError(Exception):
    """A verification mail asked for an address already verified: a 409."""


class ApiError(Exception):
    """An error answered as a problem body with the given status."""

    def __init__(
        self,
        status: int,
        detail: str | None = None,
        *,
        errors: Sequence[FieldError] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail or DEFAULT_DETAILS.get(status, ""))
        self.status = status
        self.detail = detail or DEFAULT_DETAILS.get(status, TITLES.get(status, "Error"))
        self.errors = list(errors) if errors is not None else None
        self.headers = dict(headers or {})


class ValidationFailed(ApiError):
    def __init__(self, errors: Sequence[FieldError], detail: str | None = None) -> None:
        super().__init__(422, detail or DEFAULT_DETAILS[422], errors=errors)


def throttled(retry_after: int) -> ApiError:
    return ApiError(429, THROTTLED, headers={"Retry-After": str(retry_after)})


def unauthorized(detail: str = INVALID_TOKEN, *, token_sent: bool = True) -> ApiError:
    return ApiError(
        401, detail, headers={"WWW-Authenticate": BEARER_INVALID if token_sent else BEARER}
    )


# --8<-- [start:problem]
def problem(
    status: int,
    detail: str | None = None,
    *,
    errors: Sequence[FieldError] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": TITLES.get(status, "Error"),
        "status": status,
        "detail": detail or DEFAULT_DETAILS.get(status, "The request failed."),
    }
    if errors is not None:
        body["errors"] = list(errors)[:MAX_FIELD_ERRORS]
    response = Response(json.dumps(body), mimetype="application/problem+json")
    # The RFC 9110 reason phrase (Werkzeug's table has older spellings).
    response.status = f"{status} {TITLES[status]}" if status in TITLES else str(status)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response
    # --8<-- [end:problem]


def no_content() -> Response:
    response = Response(status=204)
    del response.headers["Content-Type"]
    return response


def handle_api_error(error: ApiError) -> Response:
    return problem(error.status, error.detail, errors=error.errors, headers=error.headers)


def handle_http_exception(error: HTTPException) -> Response:
    # A redirect is never answered: paths are exact (e.g. merged slashes).
    if isinstance(error, RoutingException) or error.code is None or error.code < 400:
        return problem(404)
    headers = {}
    if error.code == 405:
        allow = dict(error.get_headers()).get("Allow")
        if allow:
            headers["Allow"] = allow
    if error.code == 401:
        headers["WWW-Authenticate"] = BEARER
    if error.code not in TITLES:
        log.info("mapping HTTP %s to 400", error.code)
        return problem(400)
    return problem(error.code, headers=headers)


def handle_unavailable(error: Exception) -> Response:
    log.warning("dependency unavailable: %s", type(error).__name__)
    return problem(503, UNAVAILABLE, headers={"Retry-After": "5"})


def handle_unexpected(error: Exception) -> Response:
    log.exception("unhandled error", exc_info=error)
    return problem(500)


UNAVAILABLE_ERRORS: tuple[type[Exception], ...] = (
    sqlalchemy.exc.OperationalError,
    sqlalchemy.exc.InterfaceError,
    sqlalchemy.exc.TimeoutError,
    sqlalchemy.exc.DisconnectionError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    redis.exceptions.BusyLoadingError,
)


# --8<-- [start:domain]
def handle_domain_error(error: Exception) -> Response:
    return handle_api_error(
        {
            EmailTakenError: ApiError(409, EMAIL_TAKEN),
            InvalidTokenError: unauthorized(),
            IncorrectPasswordError: ValidationFailed(
                [{"field": "current_password", "message": CURRENT_PASSWORD_INCORRECT}]
            ),
            InvalidLinkTokenError: ValidationFailed(
                [{"field": "token", "message": INVALID_LINK_TOKEN}]
            ),
            EmailNotVerifiedError: ApiError(403, EMAIL_NOT_VERIFIED),
            EmailAlreadyVerifiedError: ApiError(409, EMAIL_ALREADY_VERIFIED),
        }[type(error)]
    )
    # --8<-- [end:domain]


# --8<-- [start:handlers]
def init_app(app: Flask) -> None:
    app.register_error_handler(ApiError, handle_api_error)
    for domain_error in (
        EmailTakenError,
        InvalidTokenError,
        IncorrectPasswordError,
        InvalidLinkTokenError,
        EmailNotVerifiedError,
        EmailAlreadyVerifiedError,
    ):
        app.register_error_handler(domain_error, handle_domain_error)
    app.register_error_handler(HTTPException, handle_http_exception)
    for error_class in UNAVAILABLE_ERRORS:
        app.register_error_handler(error_class, handle_unavailable)
    app.register_error_handler(Exception, handle_unexpected)
    # --8<-- [end:handlers]
