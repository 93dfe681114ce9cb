import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.test import Client

CONTRACT = Path(__file__).resolve().parents[2] / "shared_contract" / "openapi.yaml"
METHODS = {"get", "post", "put", "patch", "delete"}


def operations(document: dict[str, Any]) -> dict[tuple[str, str], tuple[str, set[str]]]:
    found = {}
    for path, item in document["paths"].items():
        for method, op in item.items():
            if method in METHODS:
                key = (re.sub(r"\{[^}]+\}", "{}", path), method)
                found[key] = (op["operationId"], {str(code) for code in op["responses"]})
    return found


@pytest.mark.skipif(not CONTRACT.exists(), reason="the contract lives beside this service")
def test_generated_document_has_the_contracts_operations_and_statuses() -> None:
    response = Client().get("/openapi.json")
    assert response.status_code == 200
    served = response.json()
    assert served["openapi"].startswith("3.1")
    contract = yaml.safe_load(CONTRACT.read_text())
    assert operations(served) == operations(contract)


def test_docs_are_served_without_a_cdn() -> None:
    response = Client().get("/docs")
    assert response.status_code == 200
    urls = re.findall(r"""(?:src|href)=["']([^"']+)["']""", response.content.decode())
    assert urls
    assert all(not url.startswith(("http://", "https://", "//")) for url in urls)
    for url in urls:
        assert Client().get(url).status_code == 200, url
