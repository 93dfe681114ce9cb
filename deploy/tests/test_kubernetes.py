"""deploy/kubernetes: strict schema validation of every manifest and of each
kustomize build, then what every service's manifests must hold."""

from __future__ import annotations

import shlex
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import (
    COMPOSE_FILE,
    KUBERNETES,
    KUBERNETES_VERSION,
    SERVICES,
    load_all,
    load_one,
    run,
    tool,
)

KUSTOMIZATIONS = sorted(KUBERNETES.rglob("kustomization.yaml"))
MANIFESTS = sorted(
    path
    for path in KUBERNETES.rglob("*.yaml")
    if path.name != "kustomization.yaml" and "patches" not in path.parts
)
OVERLAYS = sorted(path.name for path in (KUBERNETES / "overlays").iterdir() if path.is_dir())


def validate(path: Path) -> tuple[int, str]:
    done = run(
        tool("kubernetes-validate"),
        "--strict",
        "--kubernetes-version",
        KUBERNETES_VERSION,
        "--quiet",
        str(path),
    )
    return done.returncode, done.stdout + done.stderr


def kustomize_command() -> list[str] | None:
    """kustomize itself, or the copy built into kubectl; None when neither is there."""
    if shutil.which("kustomize"):
        return ["kustomize", "build"]
    if shutil.which("kubectl"):
        return ["kubectl", "kustomize"]
    return None


def build(folder: Path) -> str:
    command = kustomize_command()
    if command is None:
        pytest.skip("neither kustomize nor kubectl is installed; the files alone are validated")
    done = run(*command, str(folder))
    assert done.returncode == 0, done.stderr
    return done.stdout


def ids(paths: list[Path]) -> list[str]:
    return [str(path.relative_to(KUBERNETES)) for path in paths]


@pytest.mark.parametrize("path", MANIFESTS, ids=ids(MANIFESTS))
def test_manifest_is_valid_for_the_pinned_kubernetes(path: Path) -> None:
    code, output = validate(path)
    assert code == 0, output


def test_strict_validation_rejects_an_unknown_field(tmp_path: Path) -> None:
    # Guards against a validator that silently accepts everything.
    manifest = tmp_path / "service.yaml"
    manifest.write_text(
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: x\n"
        "spec:\n  ports:\n    - port: 80\n      targetPortt: 8080\n"
    )
    code, _ = validate(manifest)
    assert code != 0


@pytest.mark.parametrize("folder", ["base", *[f"overlays/{o}" for o in OVERLAYS]])
def test_kustomize_build_is_valid_for_the_pinned_kubernetes(folder: str, tmp_path: Path) -> None:
    rendered = tmp_path / "rendered.yaml"
    rendered.write_text(build(KUBERNETES / folder))
    code, output = validate(rendered)
    assert code == 0, output


@pytest.mark.parametrize("path", KUSTOMIZATIONS, ids=ids(KUSTOMIZATIONS))
def test_every_path_a_kustomization_names_exists(path: Path) -> None:
    kustomization = load_one(path)
    named = list(kustomization.get("resources", []))
    named += [p["path"] for p in kustomization.get("patches", []) if "path" in p]
    for entry in named:
        assert (path.parent / entry).exists(), f"{path.relative_to(KUBERNETES)}: {entry}"
    listed = {(path.parent / entry).resolve() for entry in named}
    for sibling in path.parent.glob("*.yaml"):
        if sibling.name != "kustomization.yaml":
            assert sibling.resolve() in listed, f"{sibling.name} is not in {path.name}"


def base_resources(service: str) -> dict[str, dict[str, Any]]:
    folder = KUBERNETES / "base" / service
    resources: dict[str, dict[str, Any]] = {}
    for path in folder.glob("*.yaml"):
        if path.name != "kustomization.yaml":
            for doc in load_all(path):
                resources[doc["kind"]] = doc
    return resources


@pytest.mark.parametrize(("service", "port"), [(s, p) for s, (_, p) in SERVICES.items()])
def test_each_service_has_its_full_set_of_resources(service: str, port: int) -> None:
    resources = base_resources(service)
    assert set(resources) >= {
        "ConfigMap",
        "Deployment",
        "Service",
        "HorizontalPodAutoscaler",
        "Job",
    }
    deployment = resources["Deployment"]
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    selector = deployment["spec"]["selector"]["matchLabels"]
    assert selector.items() <= labels.items()
    assert resources["Service"]["spec"]["selector"] == selector
    assert resources["Service"]["spec"]["ports"][0]["targetPort"] == "http"
    target = resources["HorizontalPodAutoscaler"]["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", deployment["metadata"]["name"])
    assert "replicas" not in deployment["spec"], "the HorizontalPodAutoscaler owns replicas"
    assert resources["ConfigMap"]["data"]["PORT"] == str(port)
    assert resources["ConfigMap"]["data"]["HOST"] == "0.0.0.0"  # noqa: S104 - in the pod


@pytest.mark.parametrize(("service", "port"), [(s, p) for s, (_, p) in SERVICES.items()])
def test_deployment_probes_security_resources_and_rollout(service: str, port: int) -> None:
    deployment = base_resources(service)["Deployment"]
    spec = deployment["spec"]
    assert spec["strategy"]["type"] == "RollingUpdate"
    assert spec["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    pod = spec["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["automountServiceAccountToken"] is False
    (container,) = pod["containers"]
    assert container["ports"] == [{"name": "http", "containerPort": port}]
    assert container["livenessProbe"]["httpGet"] == {"path": "/health", "port": "http"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/ready", "port": "http"}
    assert container["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }
    for kind in ("requests", "limits"):
        assert set(container["resources"][kind]) == {"cpu", "memory"}
    assert "command" not in container, "the pod runs the image's own server command"


def secret_keys(container: dict[str, Any]) -> set[str]:
    return {
        entry["name"]
        for entry in container.get("env", [])
        if "secretKeyRef" in entry.get("valueFrom", {})
    }


@pytest.mark.parametrize("service", list(SERVICES))
def test_migration_job_matches_the_compose_prepare_step(service: str) -> None:
    resources = base_resources(service)
    job = resources["Job"]["spec"]["template"]["spec"]
    (migrate,) = job["containers"]
    (server,) = resources["Deployment"]["spec"]["template"]["spec"]["containers"]
    assert job["restartPolicy"] == "Never"
    assert migrate["image"] == server["image"]
    assert migrate["envFrom"] == server["envFrom"]
    assert secret_keys(server) <= secret_keys(migrate)
    assert {"FIRST_ADMIN_EMAIL", "FIRST_ADMIN_PASSWORD"} <= secret_keys(migrate)
    compose = load_one(COMPOSE_FILE)["services"][f"{service}-migrate"]
    assert migrate["command"] == compose["command"], shlex.join(migrate["command"])


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_sets_a_namespace_and_a_tag_for_every_image(overlay: str) -> None:
    kustomization = load_one(KUBERNETES / "overlays" / overlay / "kustomization.yaml")
    assert kustomization["namespace"]
    tagged = {image["name"] for image in kustomization["images"] if image.get("newTag")}
    assert tagged == {f"user-api-{service}" for service in SERVICES}


def test_production_commits_no_secret() -> None:
    kustomization = load_one(KUBERNETES / "overlays" / "production" / "kustomization.yaml")
    assert "secretGenerator" not in kustomization
    for path in (KUBERNETES / "overlays" / "production").rglob("*.yaml"):
        assert all(doc.get("kind") != "Secret" for doc in load_all(path)), path


def references(pod: dict[str, Any]) -> set[tuple[str, str]]:
    """(kind, name) of every ConfigMap and Secret a pod spec reads."""
    found = set()
    for container in pod["containers"]:
        for source in container.get("envFrom", []):
            for key, kind in (("configMapRef", "ConfigMap"), ("secretRef", "Secret")):
                if key in source:
                    found.add((kind, source[key]["name"]))
        for entry in container.get("env", []):
            value = entry.get("valueFrom", {})
            for key, kind in (("configMapKeyRef", "ConfigMap"), ("secretKeyRef", "Secret")):
                if key in value:
                    found.add((kind, value[key]["name"]))
    return found


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_build_is_namespaced_and_its_references_resolve(overlay: str) -> None:
    documents = [d for d in yaml.safe_load_all(build(KUBERNETES / "overlays" / overlay)) if d]
    kustomization = load_one(KUBERNETES / "overlays" / overlay / "kustomization.yaml")
    present = {(d["kind"], d["metadata"]["name"]) for d in documents}
    operator_made = {("Secret", f"user-api-{service}") for service in SERVICES}
    for document in documents:
        if document["kind"] != "Namespace":
            assert document["metadata"]["namespace"] == kustomization["namespace"]
        if document["kind"] in {"Deployment", "Job"}:
            pod = document["spec"]["template"]["spec"]
            for reference in references(pod):
                # Production Secrets come from the operator (deploy/README.md).
                assert reference in present or (
                    overlay == "production" and reference in operator_made
                ), f"{document['metadata']['name']} reads missing {reference}"
            for container in pod["containers"]:
                assert ":" in container["image"], f"{container['image']} has no tag"
