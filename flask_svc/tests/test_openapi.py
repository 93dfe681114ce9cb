"""The served contract is this service's copy (kept identical to the shared one by
`make check-drift`), and the routes are exactly its operations."""

from __future__ import annotations

import re

import yaml
from flask import Flask
from flask.testing import FlaskClient

from app.openapi import CONTRACT_PATH, load_contract


def test_openapi_json_serves_the_contract(client: FlaskClient) -> None:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    assert response.get_json() == yaml.safe_load(CONTRACT_PATH.read_text(encoding="utf-8"))


def test_routes_are_exactly_the_contract_operations(app: Flask) -> None:
    contract = {
        (path, method.upper())
        for path, item in load_contract()["paths"].items()
        for method in item
        if method in ("get", "post", "put", "patch", "delete")
    }
    served = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("docs."):
            continue
        path = re.sub(r"<(?:user_id:)?(\w+)>", r"{\1}", rule.rule)
        served |= {
            (path, method) for method in rule.methods or () if method not in ("HEAD", "OPTIONS")
        }
    assert served == contract


def test_docs_are_served_without_a_cdn(client: FlaskClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "SwaggerUIBundle" in html
    assert "http://" not in html
    assert "https://" not in html
    assets = re.findall(r'(?:src|href)="(/docs/assets/[^"]+)"', html)
    assert len(assets) >= 4
    for asset in assets:
        assert client.get(asset).status_code == 200, asset
    assert client.get("/docs/assets/../app.py").status_code == 404
    assert client.get("/docs/").status_code == 404
