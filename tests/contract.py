"""The contract (`shared_contract/openapi.yaml`) and the check every response goes through.

`Contract.check_response` is installed as an httpx response hook on every client
the suite uses, so each answer of each test is checked by openapi-core against the
operation's declared status codes, content types, body schemas and headers, and
against the conventions of `shared_contract/README.md` that apply to every response.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
import yaml
from jsonschema import Draft202012Validator
from openapi_core import OpenAPI
from openapi_core.datatypes import RequestParameters
from openapi_core.templating.paths.exceptions import OperationNotFound
from openapi_core.templating.responses.exceptions import ResponseNotFound
from openapi_core.validation.response.validators import (
    V31ResponseHeadersValidator,
    V31ResponseValidator,
)
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from werkzeug.datastructures import Headers, ImmutableMultiDict

CONTRACT_DIR = Path(__file__).resolve().parent.parent / "shared_contract"
OPENAPI_PATH = CONTRACT_DIR / "openapi.yaml"
CONTRACT_URI = "urn:user-api-contract"
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def _text(value: bytes, **_parameters: str) -> str:
    return value.decode()


def _json(value: bytes, **_parameters: str) -> object:
    return json.loads(value)


# Bodies openapi-core has no reader for: problem details are JSON, metrics are text.
MEDIA_TYPE_READERS: dict[str, Callable[[bytes], Any]] = {
    "application/problem+json": _json,
    "application/openmetrics-text": _text,
    "text/plain": _text,
}

SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
}

# Words that would betray a stack trace, SQL or framework internals in a body.
LEAK_MARKERS = (
    "Traceback",
    'File "',
    "sqlalchemy",
    "psycopg",
    "asyncpg",
    "sqlite3.",
    "IntegrityError",
    "OperationalError",
    "SELECT ",
    "INSERT INTO",
    "django.",
    "werkzeug",
    "<html",
    "<!DOCTYPE",
)


class ContractViolation(AssertionError):  # noqa: N818 - reads as an assertion
    """A response that the contract does not allow."""


@dataclass(frozen=True)
class Operation:
    path: str
    method: str
    spec: Mapping[str, Any]

    @property
    def operation_id(self) -> str:
        return str(self.spec.get("operationId", ""))


class _Request:
    """An httpx request as openapi-core reads one."""

    def __init__(self, request: httpx.Request) -> None:
        self.request = request
        self.parameters = RequestParameters(
            query=ImmutableMultiDict(parse_qsl(request.url.query.decode())),
            header=Headers(dict(request.headers)),
        )

    @property
    def host_url(self) -> str:
        return f"{self.request.url.scheme}://{self.request.url.netloc.decode()}"

    @property
    def path(self) -> str:
        return self.request.url.path

    @property
    def method(self) -> str:
        # HEAD is GET without a body (checked as GET with the body left out).
        method = self.request.method.lower()
        return "get" if method == "head" else method

    @property
    def body(self) -> bytes | None:
        return self.request.content or None

    @property
    def content_type(self) -> str:
        return str(self.request.headers.get("content-type", "")).lower()


class _Response:
    """An httpx response as openapi-core reads one."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response

    @property
    def status_code(self) -> int:
        return self.response.status_code

    @property
    def content_type(self) -> str:
        return str(self.response.headers.get("content-type", "")).lower()

    @property
    def headers(self) -> Headers:
        return Headers(dict(self.response.headers))

    @property
    def data(self) -> bytes | None:
        return self.response.content or None


# uvicorn takes the reason phrase from Python's http.HTTPStatus, which spells these
# the RFC 7231 way before Python 3.13 (the contract README lets the phrase be the server's).
OLDER_REASON_PHRASES = {413: "Request Entity Too Large", 422: "Unprocessable Entity"}


class Contract:
    def __init__(self, document: Mapping[str, Any]) -> None:
        self.document = document
        self.openapi = OpenAPI.from_dict(dict(document))
        resource = Resource.from_contents(document, default_specification=DRAFT202012)
        self.problem_validator = Draft202012Validator(
            {"$ref": f"{CONTRACT_URI}#/components/schemas/Problem"},
            registry=Registry().with_resource(CONTRACT_URI, resource),
        )

    @classmethod
    def load(cls, path: Path = OPENAPI_PATH) -> Contract:
        with path.open(encoding="utf-8") as handle:
            return cls(yaml.safe_load(handle))

    @cached_property
    def titles(self) -> dict[int, str]:
        """Each problem status's title, as the contract's shared responses fix them."""
        found: dict[int, str] = {}
        for response in self.document["components"]["responses"].values():
            for media in response.get("content", {}).values():
                for part in media["schema"].get("allOf", []):
                    fixed = part.get("properties", {})
                    if "status" in fixed and "title" in fixed:
                        found[fixed["status"]["const"]] = fixed["title"]["const"]
        return found

    @cached_property
    def response_validator(self) -> V31ResponseValidator:
        return V31ResponseValidator(
            self.openapi.spec, extra_media_type_deserializers=MEDIA_TYPE_READERS
        )

    @cached_property
    def headers_validator(self) -> V31ResponseHeadersValidator:
        return V31ResponseHeadersValidator(
            self.openapi.spec, extra_media_type_deserializers=MEDIA_TYPE_READERS
        )

    @cached_property
    def _path_patterns(self) -> list[tuple[re.Pattern[str], str]]:
        patterns = []
        for template in self.document["paths"]:
            regex = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template))
            patterns.append((re.compile(f"^{regex}$"), template))
        # Literal paths win over templated ones (`/users/me` over `/users/{id}`).
        patterns.sort(key=lambda item: item[1].count("{"))
        return patterns

    def match_path(self, path: str) -> str | None:
        return next((t for pattern, t in self._path_patterns if pattern.match(path)), None)

    def methods(self, template: str) -> set[str]:
        return {m.upper() for m in self.document["paths"][template] if m in HTTP_METHODS}

    def operations(self) -> list[Operation]:
        return [
            Operation(template, method, spec)
            for template, item in self.document["paths"].items()
            for method, spec in item.items()
            if method in HTTP_METHODS
        ]

    @staticmethod
    def is_documentation(path: str) -> bool:
        """`/openapi.json` and `/docs` sit outside the contract's operations."""
        return path in ("/openapi.json", "/docs")

    # -- the check ------------------------------------------------------------

    def check_response(self, response: httpx.Response) -> None:
        """Raise ContractViolation when the response breaks the contract."""
        response.read()
        problems = self.response_problems(response)
        if problems:
            request = response.request
            raise ContractViolation(
                f"{request.method} {request.url.raw_path.decode()} -> {response.status_code}: "
                + "; ".join(problems)
                + f"\nheaders: {dict(response.headers)}\nbody: {response.text[:2000]!r}"
            )

    def response_problems(self, response: httpx.Response) -> list[str]:
        request = response.request
        method = request.method.upper()
        # A CORS preflight is outside the contract's operations and its format: an
        # allowed one is 200, a refused one whatever the framework's CORS library
        # answers (test_headers.py checks their CORS headers).
        if method == "OPTIONS" and request.headers.get("access-control-request-method"):
            return self._header_problems(response)
        problems = self._common_problems(response)
        if self.match_path(request.url.path) is None:
            return problems + self._outside_contract_problems(response, None)
        # HEAD, 204 and 304 carry no body: their status and headers are checked alone.
        bodiless = method == "HEAD" or response.status_code in (204, 304)
        validator = self.headers_validator if bodiless else self.response_validator
        for error in validator.iter_errors(_Request(request), _Response(response)):
            if isinstance(error, OperationNotFound):
                template = self.match_path(request.url.path)
                problems += self._outside_contract_problems(response, template)
            elif isinstance(error, ResponseNotFound):
                problems.append(f"status {response.status_code} is not listed for this operation")
            else:
                problems.append(_explain(error))
        return problems

    def _json_body(self, response: httpx.Response, problems: list[str]) -> object | None:
        try:
            body: object = json.loads(response.content)
        except ValueError:
            problems.append("body is not JSON")
            return None
        return body

    def _header_problems(self, response: httpx.Response) -> list[str]:
        """What every response carries, and no server error."""
        problems: list[str] = []
        for name, value in SECURITY_HEADERS.items():
            if response.headers.get(name) != value:
                problems.append(f"{name} is {response.headers.get(name)!r}, expected {value!r}")
        if not response.headers.get("x-request-id"):
            problems.append("X-Request-ID is missing")
        if response.status_code >= 500 and response.status_code != 503:
            problems.append(f"server error {response.status_code}")
        return problems

    def _common_problems(self, response: httpx.Response) -> list[str]:
        problems = self._header_problems(response)
        status = response.status_code
        if 300 <= status < 400:
            problems.append("redirects are never answered")
        if status == 401 and not response.headers.get("www-authenticate"):
            problems.append("401 without WWW-Authenticate")
        if status in (429, 503) and not response.headers.get("retry-after"):
            problems.append(f"{status} without Retry-After")
        if status == 405 and not response.headers.get("allow"):
            problems.append("405 without Allow")
        if status >= 400 and response.request.method != "HEAD":
            problems += self._problem_body_problems(response)
        if status >= 400 and response.request.method != "HEAD":
            text = response.text
            problems += [f"body leaks {marker!r}" for marker in LEAK_MARKERS if marker in text]
        return problems

    def _problem_body_problems(self, response: httpx.Response) -> list[str]:
        problems: list[str] = []
        media_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
        if media_type != "application/problem+json":
            problems.append(f"error content type is {media_type!r}")
        body = self._json_body(response, problems)
        if body is None:
            return problems
        problems += [f"problem body: {e.message}" for e in self.problem_validator.iter_errors(body)]
        if isinstance(body, dict):
            status, titles = response.status_code, self.titles
            if body.get("status") != status:
                problems.append(f"problem status {body.get('status')!r} != {status}")
            if status in titles and body.get("title") != titles[status]:
                problems.append(f"problem title {body.get('title')!r} != {titles[status]!r}")
            if status in titles and response.reason_phrase not in (
                titles[status],
                OLDER_REASON_PHRASES.get(status),
            ):
                problems.append(f"reason phrase {response.reason_phrase!r} for {status}")
            if ("errors" in body) != (status == 422):
                problems.append("`errors` belongs to 422 answers only, and always there")
        return problems

    def _outside_contract_problems(
        self, response: httpx.Response, template: str | None
    ) -> list[str]:
        status = response.status_code
        method = response.request.method.upper()
        if template is None:
            if method in ("GET", "HEAD") and self.is_documentation(response.request.url.path):
                return [] if status == 200 else [f"documentation answered {status}"]
            if status != 404:
                return [f"unknown route answered {status}, expected 404"]
            return []
        # OPTIONS gets the framework's own answer: 405, or 200 with Allow.
        if status != 405 and not (method == "OPTIONS" and status == 200):
            return [f"{method} is not in the contract for {template}: answered {status}"]
        allowed = {m.strip().upper() for m in response.headers.get("allow", "").split(",")}
        allowed.discard("")
        expected = self.methods(template)
        extra = allowed - expected - {"HEAD", "OPTIONS"}
        if not expected <= allowed or extra:
            return [f"Allow {sorted(allowed)} does not name the contract's {sorted(expected)}"]
        return []


def _explain(error: Exception) -> str:
    """openapi-core's error, with the schema's own messages where it has them."""
    causes = [error, error.__cause__]
    details = [
        str(getattr(detail, "message", detail))
        for cause in causes
        for detail in getattr(cause, "schema_errors", ())
    ]
    return (f"{error}" + (f": {'; '.join(details)}" if details else ""))[:1000]


_CONTRACT: Contract | None = None


def get_contract() -> Contract:
    global _CONTRACT
    if _CONTRACT is None:
        _CONTRACT = Contract.load()
    return _CONTRACT
