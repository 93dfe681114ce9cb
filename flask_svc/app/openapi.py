"""The OpenAPI contract this service implements, loaded from its own copy.

Flask has no schema generator of its own; the service serves the
hand-written contract (`app/openapi.yaml`, a copy of the shared one, which a
test keeps identical) and the tests check the routes against it.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import yaml

CONTRACT_PATH = Path(__file__).resolve().parent / "openapi.yaml"


@cache
def load_contract() -> dict[str, Any]:
    with CONTRACT_PATH.open(encoding="utf-8") as stream:
        document: dict[str, Any] = yaml.safe_load(stream)
    return document
