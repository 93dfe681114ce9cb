"""The services' Dockerfiles: hadolint, every COPY source, and the image rules.

The rules: multi-stage, a slim final image without build tools, a non-root
user, a HEALTHCHECK, the production server (workers from WEB_CONCURRENCY) as
the command, and migrations never in that command.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import REPO, SERVICES, run, tool
from dockerfile_parser import (
    Stage,
    copy_sources,
    dockerignore_patterns,
    exists_in_context,
    ignored,
    last,
    lineage,
    parse,
)

FOLDERS = [folder for folder, _ in SERVICES.values()]
PORTS = dict(SERVICES.values())

# Compilers and headers belong in the builder stage only.
BUILD_TOOLS = re.compile(
    r"\b(build-essential|build-base|gcc|g\+\+|clang|make|cmake|cargo|rustc|"
    r"[a-z0-9.+-]+-dev|[a-z0-9.+-]+-devel)\b"
)
INSTALL = re.compile(r"\b(apt-get|apt|apk|yum|dnf|microdnf)\b[^;&|]*\b(install|add)\b")
MIGRATION = re.compile(r"\b(alembic|migrate|db upgrade|bootstrap-admin)\b")
ROOT_USERS = {"root", "0", "0:0", "root:root"}


def dockerfile(folder: str) -> Path:
    path = REPO / folder / "Dockerfile"
    if not path.is_file():
        pytest.fail(f"{folder}/Dockerfile does not exist")
    return path


def stages_of(folder: str) -> list[Stage]:
    return parse(dockerfile(folder).read_text(encoding="utf-8"))


@pytest.mark.parametrize("folder", FOLDERS)
def test_hadolint_passes(folder: str) -> None:
    done = run(tool("hadolint"), "--no-color", str(dockerfile(folder)))
    assert done.returncode == 0, done.stdout + done.stderr


def test_hadolint_reports_a_bad_dockerfile(tmp_path: Path) -> None:
    # Guards against a wrapper that runs nothing and exits 0.
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN cd /app && pip install flask\n")
    done = run(tool("hadolint"), "--no-color", str(bad))
    assert done.returncode != 0
    assert "DL3007" in done.stdout


@pytest.mark.parametrize("folder", FOLDERS)
def test_every_copy_source_exists_in_the_build_context(folder: str) -> None:
    context = REPO / folder
    stages = stages_of(folder)
    patterns = dockerignore_patterns(context)
    problems = []
    for copy in copy_sources(stages):
        where = f"line {copy.instruction.line}: {copy.instruction.keyword} {copy.source}"
        if copy.source.startswith("..") or "/../" in copy.source:
            problems.append(f"{where} reaches outside the build context")
        elif not exists_in_context(context, copy.source):
            problems.append(f"{where} does not exist in {folder}/")
        elif ignored(patterns, copy.source):
            problems.append(f"{where} is excluded by {folder}/.dockerignore")
    assert not problems, "; ".join(problems)


@pytest.mark.parametrize("folder", FOLDERS)
def test_copy_from_names_an_earlier_stage(folder: str) -> None:
    stages = stages_of(folder)
    for position, stage in enumerate(stages):
        earlier = {s.name for s in stages[:position] if s.name} | {str(n) for n in range(position)}
        for instruction in stage.instructions:
            match = re.search(r"--from=(\S+)", instruction.arguments)
            if instruction.keyword == "COPY" and match and ":" not in match.group(1):
                assert match.group(1) in earlier, f"line {instruction.line}"


@pytest.mark.parametrize("folder", FOLDERS)
def test_multi_stage_with_a_slim_final_image(folder: str) -> None:
    stages = stages_of(folder)
    assert len(stages) >= 2, "a builder stage and a final stage"
    root = lineage(stages, stages[-1])[-1]
    assert re.search(r"slim|alpine|distroless", root.base), f"final image from {root.base}"


@pytest.mark.parametrize("folder", FOLDERS)
def test_no_build_tools_in_the_final_image(folder: str) -> None:
    stages = stages_of(folder)
    for stage in lineage(stages, stages[-1]):
        for instruction in stage.instructions:
            if instruction.keyword != "RUN" or not INSTALL.search(instruction.arguments):
                continue
            found = BUILD_TOOLS.findall(instruction.arguments)
            assert not found, f"line {instruction.line} installs {found} in the final image"


@pytest.mark.parametrize("folder", FOLDERS)
def test_final_image_runs_as_a_non_root_user(folder: str) -> None:
    stages = stages_of(folder)
    user = last(stages, stages[-1], "USER")
    assert user is not None, "no USER: the server would run as root"
    assert user.arguments.strip() not in ROOT_USERS


@pytest.mark.parametrize("folder", FOLDERS)
def test_final_image_has_a_healthcheck(folder: str) -> None:
    stages = stages_of(folder)
    check = last(stages, stages[-1], "HEALTHCHECK")
    assert check is not None
    assert check.arguments.strip().upper() != "NONE"
    assert "/health" in check.arguments


@pytest.mark.parametrize("folder", FOLDERS)
def test_final_image_serves_from_app_on_its_port(folder: str) -> None:
    stages = stages_of(folder)
    workdir = last(stages, stages[-1], "WORKDIR")
    assert workdir is not None
    assert workdir.arguments.strip() == "/app"
    exposed = [
        word
        for stage in lineage(stages, stages[-1])
        for i in stage.instructions
        if i.keyword == "EXPOSE"
        for word in i.words()
    ]
    assert str(PORTS[folder]) in {word.split("/")[0] for word in exposed}
    env = " ".join(
        i.arguments
        for stage in lineage(stages, stages[-1])
        for i in stage.instructions
        if i.keyword == "ENV"
    )
    assert re.search(r"\bHOST[= ]\"?0\.0\.0\.0\b", env), "ENV HOST=0.0.0.0 in the image"


@pytest.mark.parametrize("folder", FOLDERS)
def test_command_is_the_production_server_without_migrations(folder: str) -> None:
    stages = stages_of(folder)
    command = " ".join(
        i.arguments
        for keyword in ("ENTRYPOINT", "CMD")
        if (i := last(stages, stages[-1], keyword)) is not None
    )
    assert command, "no CMD or ENTRYPOINT"
    assert re.search(r"gunicorn|app\.serve|uvicorn", command), command
    assert not MIGRATION.search(command), "migrations run as a separate step, not per start"
    # The worker count comes from WEB_CONCURRENCY, read by the server's settings.
    assert not re.search(r"(--workers|\s-w)\s*=?\s*\d", command), command


@pytest.mark.parametrize("folder", FOLDERS)
def test_a_virtualenv_is_on_path_in_the_final_image(folder: str) -> None:
    # The prepare and serve commands (compose, Kubernetes Job) name `python`,
    # `alembic`, `flask`, `gunicorn` without a folder: a venv must be on PATH.
    stages = stages_of(folder)
    venvs = []
    for stage in stages:
        workdir = "/"
        for instruction in stage.instructions:
            if instruction.keyword == "WORKDIR":
                workdir = str(Path(workdir, instruction.arguments.strip()))
            elif instruction.keyword == "RUN":
                for target in re.findall(r"-m\s+venv\s+(?:--\S+\s+)*(\S+)", instruction.arguments):
                    venvs.append(str(Path(workdir, target)))
    if not venvs:
        return  # installed into the image's own Python, already on PATH
    env = " ".join(
        i.arguments
        for stage in lineage(stages, stages[-1])
        for i in stage.instructions
        if i.keyword == "ENV"
    )
    paths = re.findall(r"\bPATH[= ]\"?([^\s\"]+)", env)
    entries = {entry.rstrip("/") for value in paths for entry in value.split(":")}
    assert any(f"{venv}/bin" in entries for venv in venvs), f"{venvs} not on PATH {paths}"
