"""One error body for everything: RFC 9457 problem details.

DRF's exception handler and Django's own error views (404, 500, 400, 403,
CSRF) all end in `problem_response`, so no framework default leaks out.
"""

import json
import logging
from collections.abc import Mapping
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.db import DatabaseError, InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse
from redis.exceptions import RedisError
from rest_framework import exceptions as drf_exceptions

log = logging.getLogger(__name__)

# RFC 9110 reason phrases, spelled as the contract fixes them.
TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    406: "Not Acceptable",
    409: "Conflict",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    422: "Unprocessable Content",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}

NOT_AUTHENTICATED = "Not authenticated."
INVALID_TOKEN = "Invalid or expired token."
ADMIN_REQUIRED = "Admin privileges required."
BAD_CREDENTIALS = "Incorrect email or password."
EMAIL_TAKEN = "A user with this email already exists."
THROTTLED = "Too many failed login attempts. Try again later."
UNAVAILABLE = "Service temporarily unavailable."
INVALID_BODY = "The request body is invalid."
INVALID_QUERY = "The query parameters are invalid."
NOT_FOUND = "The requested resource was not found."
MAX_FIELD_ERRORS = 20
CURRENT_PASSWORD_INCORRECT = "The current password is incorrect."
INVALID_LINK_TOKEN = "The token is invalid or has expired."
EMAIL_NOT_VERIFIED = "The email address is not verified."
EMAIL_ALREADY_VERIFIED = "The email address is already verified."
OWN_ACCOUNT = "Admins cannot deactivate, demote or delete their own account."
LAST_ADMIN = "The last active admin cannot delete their own account."


# --8<-- [start:problem]
def problem_response(
    status: int,
    detail: str,
    *,
    errors: list[dict[str, str]] | None = None,
    headers: Mapping[str, str] | None = None,
) -> HttpResponse:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
    }
    if errors is not None:
        body["errors"] = errors[:MAX_FIELD_ERRORS]
    response = HttpResponse(
        json.dumps(body),
        status=status,
        reason=TITLES.get(status),
        content_type="application/problem+json",
    )
    for name, value in (headers or {}).items():
        response[name] = value
    return response
    # --8<-- [end:problem]


def service_unavailable() -> HttpResponse:
    return problem_response(503, UNAVAILABLE, headers={"Retry-After": "5"})


# --- the services' domain errors ----------------------------------------------


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


# --- DRF -------------------------------------------------------------------


class ProblemError(drf_exceptions.APIException):
    """An API error with a fixed status, detail and optional headers."""

    def __init__(self, status: int, detail: str, headers: Mapping[str, str] | None = None):
        super().__init__(detail)
        self.status_code = status
        self.extra_headers = dict(headers or {})


def throttled(retry_after: int) -> ProblemError:
    return ProblemError(429, THROTTLED, {"Retry-After": str(retry_after)})


class UnprocessableError(drf_exceptions.APIException):
    """A 422 that names its fields (for rules checked outside a serializer)."""

    status_code = 422

    def __init__(self, field: str, message: str) -> None:
        super().__init__({field: [message]})


UNAVAILABLE_ERRORS = (OperationalError, InterfaceError, RedisError)


def _flatten(detail: Any, prefix: str = "") -> list[dict[str, str]]:
    """DRF's nested `{field: [messages]}` as the contract's `[{field, message}]`."""
    if isinstance(detail, Mapping):
        out: list[dict[str, str]] = []
        for key, value in detail.items():
            name = "body" if key in {"non_field_errors", "__all__"} else str(key)
            out.extend(_flatten(value, f"{prefix}.{name}" if prefix else name))
        return out
    if isinstance(detail, list):
        if all(isinstance(item, str) for item in detail):
            return [{"field": prefix or "body", "message": str(item)} for item in detail]
        out = []
        for index, item in enumerate(detail):
            out.extend(_flatten(item, f"{prefix}.{index}" if prefix else str(index)))
        return out
    return [{"field": prefix or "body", "message": str(detail)}]


# --8<-- [start:handler]
def exception_handler(exc: Exception, context: Mapping[str, Any]) -> HttpResponse | None:
    """DRF's `EXCEPTION_HANDLER`: every API error becomes a problem body."""
    if isinstance(exc, EmailTakenError):
        exc = ProblemError(409, EMAIL_TAKEN)
    elif isinstance(exc, InvalidTokenError):
        exc = ProblemError(401, INVALID_TOKEN, {"WWW-Authenticate": 'Bearer error="invalid_token"'})
    elif isinstance(exc, IncorrectPasswordError):
        exc = UnprocessableError("current_password", CURRENT_PASSWORD_INCORRECT)
    elif isinstance(exc, InvalidLinkTokenError):
        exc = UnprocessableError("token", INVALID_LINK_TOKEN)
    elif isinstance(exc, EmailNotVerifiedError):
        exc = ProblemError(403, EMAIL_NOT_VERIFIED)
    elif isinstance(exc, EmailAlreadyVerifiedError):
        exc = ProblemError(409, EMAIL_ALREADY_VERIFIED)
    if isinstance(exc, UNAVAILABLE_ERRORS):
        return service_unavailable()
    if isinstance(exc, DatabaseError):
        return None  # a real bug: let Django's 500 handler answer
    if not isinstance(exc, drf_exceptions.APIException):
        return None

    headers: dict[str, str] = {}
    status = exc.status_code
    if isinstance(exc, drf_exceptions.ValidationError | UnprocessableError):
        # DRF answers 400 with a field dict; the contract wants 422 and a list.
        # A GET has no body: what it gets wrong is its query string.
        request = context.get("request")
        detail = INVALID_QUERY if request is not None and request.method == "GET" else INVALID_BODY
        return problem_response(422, detail, errors=_flatten(exc.detail))
    if isinstance(exc, drf_exceptions.NotAuthenticated):
        detail = NOT_AUTHENTICATED
    elif isinstance(exc, drf_exceptions.AuthenticationFailed):
        detail = INVALID_TOKEN
    elif isinstance(exc, drf_exceptions.PermissionDenied):
        detail = ADMIN_REQUIRED
    elif isinstance(exc, drf_exceptions.ParseError):
        detail = str(exc.detail)  # our own parser's and views' sentences, never the input
    elif isinstance(exc, drf_exceptions.UnsupportedMediaType):
        request = context.get("request")
        accepted = [p.media_type for p in getattr(request, "parsers", [])] or ["application/json"]
        detail = f"The request body must be {' or '.join(accepted)}."
    elif isinstance(exc, drf_exceptions.MethodNotAllowed):
        detail = "The method is not allowed for this resource."
    elif isinstance(exc, drf_exceptions.NotFound):
        detail = NOT_FOUND
    elif isinstance(exc, ProblemError):
        detail = str(exc.detail)
        headers.update(exc.extra_headers)
    else:
        detail = str(exc.detail) if isinstance(exc.detail, str) else "The request failed."

    if status == 401:
        request = context.get("request")
        sent = request is not None and "HTTP_AUTHORIZATION" in request.META
        headers.setdefault("WWW-Authenticate", 'Bearer error="invalid_token"' if sent else "Bearer")
    return problem_response(status, detail, headers=headers)
    # --8<-- [end:handler]


# --- Django's own error views ------------------------------------------------


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if isinstance(exception, RequestDataTooBig):
        return problem_response(413, "The request body is larger than 1 MiB.")
    return problem_response(400, "The request is malformed.")


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return problem_response(403, "The request is not allowed.")


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return problem_response(404, NOT_FOUND)


def server_error(request: HttpRequest) -> HttpResponse:
    return problem_response(500, "An unexpected error occurred.")


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    # The admin's forms are the only CSRF-checked views: say why one was refused.
    log.warning("CSRF check failed on %s: %s", request.path, reason)
    return problem_response(403, "The request is not allowed.")
