"""The contract itself, and each service's published description of it."""

from __future__ import annotations

import re
from urllib.parse import urljoin

import httpx
from openapi_spec_validator import validate
from openapi_spec_validator.readers import read_from_filename

from contract import HTTP_METHODS, OPENAPI_PATH, get_contract
from helpers import Api


def test_contract_is_valid_openapi_3_1() -> None:
    document, _ = read_from_filename(str(OPENAPI_PATH))
    assert str(document["openapi"]).startswith("3.1")
    validate(document)


def test_every_operation_has_an_id_and_request_bodies_are_closed() -> None:
    contract = get_contract()
    ids = [op.operation_id for op in contract.operations()]
    assert all(ids), "every operation needs an operationId"
    assert len(ids) == len(set(ids))
    schemas = contract.document["components"]["schemas"]
    for op in contract.operations():
        body = op.spec.get("requestBody")
        if not body:
            continue
        for media in body["content"].values():
            ref = media["schema"]["$ref"].rsplit("/", 1)[-1]
            assert schemas[ref].get("additionalProperties") is False, ref


def _operations(document: dict[str, object]) -> dict[tuple[str, str], tuple[str, set[str]]]:
    found: dict[tuple[str, str], tuple[str, set[str]]] = {}
    paths = document["paths"]
    assert isinstance(paths, dict)
    for path, item in paths.items():
        for method, op in item.items():
            if method not in HTTP_METHODS or method in ("head", "options"):
                continue
            # Path parameter names may differ (`{id}` vs `{user_id}`); shapes may not.
            key = (re.sub(r"\{[^}]+\}", "{}", path), method)
            found[key] = (op.get("operationId", ""), {str(s) for s in op.get("responses", {})})
    return found


def test_service_openapi_matches_the_contract(api: Api) -> None:
    response = api.client.get("/openapi.json")
    assert response.status_code == 200
    media_type = response.headers["content-type"].split(";")[0]
    assert media_type in ("application/json", "application/vnd.oai.openapi+json")
    published = response.json()
    assert str(published["openapi"]).startswith("3.1")
    contract = _operations(dict(get_contract().document))
    served = _operations(published)
    ignored = {("/openapi.json", "get"), ("/docs", "get")}
    served = {k: v for k, v in served.items() if k not in ignored}
    assert sorted(served) == sorted(contract), "paths and methods differ"
    for key, (operation_id, statuses) in contract.items():
        served_id, served_statuses = served[key]
        assert served_id == operation_id, key
        assert served_statuses == statuses, (key, sorted(served_statuses), sorted(statuses))


def test_docs_is_swagger_ui_without_a_cdn(api: Api) -> None:
    response = api.client.get("/docs")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    html = response.text
    assert "swagger" in html.lower()
    assets = re.findall(r"""(?:src|href)=["']([^"'#]+)["']""", html)
    assert assets, "Swagger UI needs its script and style sheet"
    # The assets are served by the service itself (they are not part of the
    # contract, so this client does not validate them).
    with httpx.Client(base_url=api.base_url, timeout=30) as plain:
        for url in assets:
            assert not url.startswith(("http://", "https://", "//")), f"external asset {url}"
            if url.startswith("data:"):
                continue
            asset = plain.get(urljoin("/docs", url))
            assert asset.status_code == 200, url
