"""OpenAPI response declarations shared by the routes (the contract's status codes)."""

from typing import Any

PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
VALIDATION_PROBLEM_REF = {"$ref": "#/components/schemas/ValidationProblem"}
RETRY_AFTER = {"Retry-After": {"required": True, "schema": {"type": "string"}}}
WWW_AUTHENTICATE = {"WWW-Authenticate": {"required": True, "schema": {"type": "string"}}}

_DESCRIPTIONS = {
    400: "The body is not well-formed JSON.",
    401: "No token, a rejected token, or bad credentials.",
    403: "Authenticated, but not an admin.",
    404: "No such user.",
    409: "The email is taken, or an admin would change their own account so.",
    413: "The body is over 1 MiB.",
    415: "The body is not JSON.",
    422: "A field rule is broken, a field is unknown or of the wrong type.",
    429: "Too many failed password checks (logins, password changes).",
    503: "The database (or Redis, when configured) cannot be reached.",
}
_HEADERS: dict[int, dict[str, Any]] = {
    401: WWW_AUTHENTICATE,
    429: RETRY_AFTER,
    503: RETRY_AFTER,
}


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    result: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        schema = VALIDATION_PROBLEM_REF if status == 422 else PROBLEM_REF
        entry: dict[str, Any] = {
            "description": _DESCRIPTIONS[status],
            "content": {"application/problem+json": {"schema": schema}},
        }
        if status in _HEADERS:
            entry["headers"] = _HEADERS[status]
        result[status] = entry
    return result


BODY_ERRORS = (400, 413, 415, 422)
