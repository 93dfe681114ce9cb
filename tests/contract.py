"""The contract (`shared_contract/openapi.yaml`) and the check every response goes through.

`Contract.check_response` is installed as an httpx response hook on every client
the suite uses, so each answer of each test is compared with the operation's
declared status codes, content types, body schemas and required headers, plus
the conventions of `shared_contract/README.md` that apply to every response.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import yaml
from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

CONTRACT_DIR = Path(__file__).resolve().parent.parent / "shared_contract"
OPENAPI_PATH = CONTRACT_DIR / "openapi.yaml"
CONTRACT_URI = "urn:user-api-contract"
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")

# RFC 9110 reason phrases, as fixed by the contract README.
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

SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
}

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"const": "about:blank"},
        "title": {"type": "string"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "message"],
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
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

RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$",
)


def is_json(media_type: str) -> bool:
    return media_type == "application/json" or media_type.endswith("+json")


class ContractViolation(AssertionError):  # noqa: N818 - reads as an assertion
    """A response that the contract does not allow."""


def _pointer(*parts: str) -> str:
    return "".join("/" + p.replace("~", "~0").replace("/", "~1") for p in parts)


def _format_checker() -> FormatChecker:
    checker = FormatChecker(formats=())

    @checker.checks("date-time", raises=ValueError)
    def _date_time(value: object) -> bool:
        if not isinstance(value, str):
            return True
        if not RFC3339.match(value):
            raise ValueError(f"not RFC 3339: {value!r}")
        datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
        return True

    @checker.checks("uri")
    def _uri(value: object) -> bool:
        if not isinstance(value, str):
            return True
        parts = urlsplit(value)
        return bool(parts.scheme and parts.netloc)

    @checker.checks("email")
    def _email(value: object) -> bool:
        return not isinstance(value, str) or value.count("@") == 1

    return checker


@dataclass(frozen=True)
class Operation:
    path: str
    method: str
    pointer: str
    spec: Mapping[str, Any]

    @property
    def operation_id(self) -> str:
        return str(self.spec.get("operationId", ""))


class Contract:
    def __init__(self, document: Mapping[str, Any]) -> None:
        self.document = document
        resource = Resource.from_contents(document, default_specification=DRAFT202012)
        self.registry: Registry[Any] = Registry().with_resource(CONTRACT_URI, resource)
        self.format_checker = _format_checker()
        self._validators: dict[str, Draft202012Validator] = {}

    @classmethod
    def load(cls, path: Path = OPENAPI_PATH) -> Contract:
        with path.open(encoding="utf-8") as handle:
            return cls(yaml.safe_load(handle))

    # -- lookup ---------------------------------------------------------------

    @cached_property
    def paths(self) -> dict[str, Mapping[str, Any]]:
        return dict(self.document.get("paths", {}))

    @cached_property
    def _path_patterns(self) -> list[tuple[re.Pattern[str], str]]:
        patterns = []
        for template in self.paths:
            regex = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template))
            patterns.append((re.compile(f"^{regex}$"), template))
        # Literal paths win over templated ones (`/users/me` over `/users/{id}`).
        patterns.sort(key=lambda item: item[1].count("{"))
        return patterns

    @staticmethod
    def is_documentation(path: str) -> bool:
        """`/openapi.json` and `/docs` sit outside the contract's operations."""
        return path in ("/openapi.json", "/docs")

    def match_path(self, path: str) -> str | None:
        for pattern, template in self._path_patterns:
            if pattern.match(path):
                return template
        return None

    def methods(self, template: str) -> set[str]:
        return {m.upper() for m in self.paths[template] if m in HTTP_METHODS}

    def operation(self, template: str, method: str) -> Operation | None:
        method = method.lower()
        if method == "head":
            method = "get"
        spec = self.paths[template].get(method)
        if spec is None:
            return None
        return Operation(template, method, _pointer("paths", template, method), spec)

    def operations(self) -> list[Operation]:
        found = []
        for template in self.paths:
            for method in self.paths[template]:
                if method in HTTP_METHODS:
                    op = self.operation(template, method)
                    assert op is not None
                    found.append(op)
        return found

    def resolve(self, node: Mapping[str, Any], pointer: str) -> tuple[Mapping[str, Any], str]:
        """Follow local `$ref`s of a non-schema object (a response, a header)."""
        while "$ref" in node:
            ref = str(node["$ref"])
            assert ref.startswith("#/"), ref
            pointer = ref[1:]
            target: Any = self.document
            for part in ref[2:].split("/"):
                target = target[part.replace("~1", "/").replace("~0", "~")]
            node = target
        return node, pointer

    def validator(self, pointer: str) -> Draft202012Validator:
        if pointer not in self._validators:
            self._validators[pointer] = Draft202012Validator(
                {"$ref": f"{CONTRACT_URI}#{pointer}"},
                registry=self.registry,
                format_checker=self.format_checker,
            )
        return self._validators[pointer]

    def validate(self, pointer: str, instance: object) -> list[str]:
        errors: list[ValidationError] = sorted(
            self.validator(pointer).iter_errors(instance), key=lambda e: list(e.path)
        )
        return [f"{list(e.absolute_path)}: {e.message}" for e in errors]

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
        path = request.url.path
        status = response.status_code
        # A CORS preflight is outside the contract's operations and its format: an
        # allowed one is 200, a refused one whatever the framework's CORS library
        # answers (test_headers.py checks their CORS headers).
        if method == "OPTIONS" and request.headers.get("access-control-request-method"):
            return self._header_problems(response)
        problems = self._common_problems(response)

        template = self.match_path(path)
        operation = self.operation(template, method) if template else None
        if template is None or operation is None:
            problems += self._outside_contract_problems(response, template)
            return problems

        responses = operation.spec.get("responses", {})
        key = str(status)
        if key not in responses:
            if "default" not in responses:
                return [
                    *problems,
                    f"status {status} is not listed for {operation.operation_id} "
                    f"(listed: {sorted(responses)})",
                ]
            key = "default"
        declared, pointer = self.resolve(
            responses[key], operation.pointer + _pointer("responses", key)
        )

        for name, header in declared.get("headers", {}).items():
            header_spec, header_pointer = self.resolve(header, pointer + _pointer("headers", name))
            value = response.headers.get(name)
            if value is None:
                if header_spec.get("required"):
                    problems.append(f"required header {name} is missing")
                continue
            if "schema" in header_spec:
                problems += [
                    f"header {name}: {msg}"
                    for msg in self.validate(header_pointer + "/schema", value)
                ]

        content = declared.get("content")
        has_body = method != "HEAD" and status not in (204, 304)
        if not content:
            if has_body and response.content:
                problems.append(f"no body declared, got {len(response.content)} bytes")
            return problems
        if not has_body:
            return problems
        media_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
        if media_type not in content:
            return [*problems, f"content type {media_type!r} not in {sorted(content)}"]
        if is_json(media_type):
            body = self._json_body(response, problems)
            if body is None:
                return problems
        else:
            # Text, such as the Prometheus exposition: its schema is a string.
            body = response.text
        schema_pointer = pointer + _pointer("content", media_type, "schema")
        problems += self.validate(schema_pointer, body)
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
        validator = Draft202012Validator(PROBLEM_SCHEMA)
        problems += [f"problem body: {e.message}" for e in validator.iter_errors(body)]
        if isinstance(body, dict):
            status = response.status_code
            if body.get("status") != status:
                problems.append(f"problem status {body.get('status')!r} != {status}")
            if status in TITLES and body.get("title") != TITLES[status]:
                problems.append(f"problem title {body.get('title')!r} != {TITLES[status]!r}")
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


_CONTRACT: Contract | None = None


def get_contract() -> Contract:
    global _CONTRACT
    if _CONTRACT is None:
        _CONTRACT = Contract.load()
    return _CONTRACT
