"""A JSON parser as strict as the contract: no NaN, no duplicate keys, no deep nesting.

DRF's own parser accepts `NaN`, keeps the last of two equal keys and lets a
deeply nested document raise `RecursionError`; each of these is a 400 here.
The body size is already bounded by `BodySizeLimitMiddleware`.
"""

import json
from collections.abc import Mapping
from typing import IO, Any

from rest_framework.exceptions import ParseError
from rest_framework.parsers import BaseParser

MAX_DEPTH = 64


class _DuplicateKeyError(ValueError):
    pass


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _unique_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for key, value in pairs:
        if key in obj:
            raise _DuplicateKeyError(key)
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
    except _DuplicateKeyError as exc:
        raise ParseError("The request body repeats a key.") from exc
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
