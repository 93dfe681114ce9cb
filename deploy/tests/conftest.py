"""Shared paths and helpers for the deployment checks."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

DEPLOY = Path(__file__).resolve().parent.parent
REPO = DEPLOY.parent
KUBERNETES = DEPLOY / "kubernetes"
COMPOSE_FILE = REPO / "docker-compose.yml"
ENV_EXAMPLE = REPO / ".env.example"

# Kubernetes release the manifests are validated against: the oldest one the
# manifests promise to work on (kubernetes-validate ships its schemas).
KUBERNETES_VERSION = "1.34.0"

# service -> (folder, port)
SERVICES: dict[str, tuple[str, int]] = {
    "fastapi": ("fastapi_svc", 8001),
    "django": ("django_svc", 8002),
    "flask": ("flask_svc", 8003),
}


def tool(name: str) -> str:
    """The console script installed next to this interpreter, else one on PATH."""
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return str(beside)
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed: pip install -r deploy/requirements-dev.txt")
    return found


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, check=False, timeout=300)


def load_all(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as stream:
        return [doc for doc in yaml.safe_load_all(stream) if doc is not None]


def load_one(path: Path) -> dict[str, Any]:
    docs = load_all(path)
    assert len(docs) == 1, f"{path} holds {len(docs)} documents, expected one"
    return docs[0]


@pytest.fixture(scope="session")
def compose() -> dict[str, Any]:
    return load_one(COMPOSE_FILE)
