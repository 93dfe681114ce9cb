"""docker-compose.yml: the compose specification's schema, then what it must hold."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from conftest import COMPOSE_FILE, ENV_EXAMPLE, REPO, SERVICES, run, tool

# ${NAME}, ${NAME:-default}, ${NAME:?error}; `$${` is an escaped dollar for the
# container's shell, not an interpolation.
INTERPOLATION = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)")


def check_jsonschema(path: Path) -> tuple[int, str]:
    done = run(tool("check-jsonschema"), "--builtin-schema", "vendor.compose-spec", str(path))
    return done.returncode, done.stdout + done.stderr


def test_compose_file_matches_the_compose_specification() -> None:
    code, output = check_jsonschema(COMPOSE_FILE)
    assert code == 0, output


def test_the_schema_check_rejects_an_invalid_file(tmp_path: Path) -> None:
    # Guards against a validator that silently accepts everything.
    broken = tmp_path / "docker-compose.yml"
    broken.write_text("services:\n  web:\n    image: x\n    ports: 8001\n    restartt: always\n")
    code, _ = check_jsonschema(broken)
    assert code != 0


def test_every_build_context_and_dockerfile_exists(compose: dict[str, Any]) -> None:
    missing = []
    for name, service in compose["services"].items():
        build = service.get("build")
        if build is None:
            continue
        context = REPO / (build if isinstance(build, str) else build.get("context", "."))
        dockerfile = (
            "Dockerfile" if isinstance(build, str) else build.get("dockerfile", "Dockerfile")
        )
        if not context.is_dir():
            missing.append(f"{name}: build context {context.relative_to(REPO)}")
        elif not (context / dockerfile).is_file():
            missing.append(f"{name}: {(context / dockerfile).relative_to(REPO)}")
    assert not missing, "missing: " + "; ".join(missing)


def test_every_bind_mount_source_exists(compose: dict[str, Any]) -> None:
    named = set(compose.get("volumes") or {})
    for name, service in compose["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0] if isinstance(volume, str) else volume.get("source")
            if source in named:
                continue
            assert source.startswith("."), f"{name}: {source} is neither relative nor named"
            assert (REPO / source).exists(), f"{name}: bind mount source {source} does not exist"


def test_backing_services_have_health_checks_and_named_volumes(compose: dict[str, Any]) -> None:
    declared = set(compose.get("volumes") or {})
    for name in ("postgres", "redis"):
        service = compose["services"][name]
        assert service["healthcheck"]["test"], name
        volumes = [v.split(":", 1)[0] for v in service["volumes"] if isinstance(v, str)]
        assert any(v in declared for v in volumes), f"{name} keeps its data in no named volume"


@pytest.mark.parametrize("name", list(SERVICES))
def test_each_service_waits_for_its_migration_and_healthy_backing_services(
    compose: dict[str, Any], name: str
) -> None:
    services = compose["services"]
    app, migrate = services[name], services[f"{name}-migrate"]
    assert app["depends_on"] == {
        "postgres": {"condition": "service_healthy"},
        "redis": {"condition": "service_healthy"},
        f"{name}-migrate": {"condition": "service_completed_successfully"},
    }
    assert migrate["depends_on"] == {
        "postgres": {"condition": "service_healthy"},
        "redis": {"condition": "service_healthy"},
    }
    # The one-shot step and the server run the same image; only the server loops.
    assert migrate["image"] == app["image"]
    assert migrate["build"] == app["build"]
    assert migrate["restart"] == "no"
    assert "command" not in app, "the server runs the image's own CMD"


@pytest.mark.parametrize(("name", "port"), [(n, p) for n, (_, p) in SERVICES.items()])
def test_each_service_listens_on_its_port_with_its_own_database(
    compose: dict[str, Any], name: str, port: int
) -> None:
    app = compose["services"][name]
    # Reached through the proxy only, which publishes on loopback (`/metrics` answers
    # without a token).
    assert "ports" not in app
    assert app["expose"] == [str(port)]
    assert f"127.0.0.1:{port}:{port}" in compose["services"]["proxy"]["ports"]
    assert compose["services"]["proxy"]["environment"][f"{name.upper()}_UPSTREAM"] == (
        f"{name}:{port}"
    )
    env = app["environment"]
    assert env["PORT"] == str(port)
    assert env["HOST"] == "0.0.0.0"  # noqa: S104 - listening inside the container
    assert env["DATABASE_URL"].endswith(f"@postgres:5432/{name}")
    assert compose["services"][f"{name}-migrate"]["environment"] == env


def test_services_use_distinct_redis_databases(compose: dict[str, Any]) -> None:
    urls = [compose["services"][name]["environment"]["REDIS_URL"] for name in SERVICES]
    assert len(set(urls)) == len(urls)


def test_init_script_creates_every_service_database(compose: dict[str, Any]) -> None:
    mounts = [v for v in compose["services"]["postgres"]["volumes"] if "initdb" in v]
    assert len(mounts) == 1
    script = (REPO / mounts[0].split(":", 1)[0]).read_text(encoding="utf-8")
    for name in SERVICES:
        assert f"CREATE DATABASE {name};" in script


def test_every_interpolated_variable_is_documented_in_env_example() -> None:
    used = set(INTERPOLATION.findall(COMPOSE_FILE.read_text(encoding="utf-8")))
    documented = {
        line.split("=", 1)[0]
        for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines()
        if line and not line.startswith("#")
    }
    assert used - documented == set()
    assert documented - used == set(), "documented but never passed on"


def test_env_example_lines_are_plain_key_value_pairs() -> None:
    # `docker compose` reads KEY=VALUE lines; a stray space or quote breaks it.
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            assert re.fullmatch(r"[A-Z_][A-Z0-9_]*=[^\s'\"]*", line), line


def test_secrets_are_not_committed() -> None:
    text = COMPOSE_FILE.read_text(encoding="utf-8")
    for secret in ("POSTGRES_PASSWORD", "REDIS_PASSWORD"):
        assert re.search(rf"{secret}: \$\{{{secret}:\?", text), f"{secret} must come from .env"
    for service in ("FASTAPI", "DJANGO", "FLASK"):
        secret = f"{service}_JWT_SECRET_KEY"
        found = re.search(rf"JWT_SECRET_KEY: \$\{{{secret}:\?", text)
        assert found, f"{secret} must come from .env"


def test_services_with_separate_databases_never_share_a_signing_key(
    compose: dict[str, Any],
) -> None:
    services = compose["services"]
    keys = {name: services[name]["environment"]["JWT_SECRET_KEY"] for name in SERVICES}
    issuers = {name: services[name]["environment"]["JWT_ISSUER"] for name in SERVICES}
    assert len(set(keys.values())) == len(SERVICES), keys
    assert len(set(issuers.values())) == len(SERVICES), issuers


def test_base_images_are_pinned_to_a_release(compose: dict[str, Any]) -> None:
    # A moving tag (`python:3.11-slim`, `postgres:17`) changes under a rebuild.
    images = [s["image"] for s in compose["services"].values() if "/" not in s.get("image", "/")]
    images = [i for i in images if not i.endswith(":local")]
    for dockerfile in REPO.glob("*_svc/Dockerfile"):
        images += re.findall(r"^FROM (\S+)", dockerfile.read_text(encoding="utf-8"), re.M)
    assert images
    for image in images:
        assert re.search(r":\d+\.\d+(\.\d+)?-", image), f"{image} is not pinned to a release"


def test_the_proxy_is_the_one_trusted_forwarder(compose: dict[str, Any]) -> None:
    address = compose["services"]["proxy"]["networks"]["default"]["ipv4_address"]
    for name in SERVICES:
        assert compose["services"][name]["environment"]["FORWARDED_ALLOW_IPS"] == address
