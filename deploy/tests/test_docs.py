"""The READMEs' links lead somewhere, and the idiom map covers every concern."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from conftest import REPO, SERVICES, tool

# [text](target) outside code spans; images and reference links are not used.
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")
CODE_SPAN = re.compile(r"(`+).+?\1")
CODE_BLOCK = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)

# Every concern README.md's "Where each concern lives" table must map, per service.
CONCERNS = (
    "settings",
    "models",
    "schemas / serializers",
    "passwords and JWTs",
    "services (users)",
    "token pairs: issue, rotate, revoke",
    "routes / views",
    "errors",
    "observability",
    "migrations",
    "admin command",
    "tests",
    "container",
)


def markdown_files() -> list[Path]:
    listed = subprocess.run(
        [tool("git"), "ls-files", "*.md"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split()
    return [REPO / name for name in listed]


def links(text: str) -> list[str]:
    text = CODE_SPAN.sub("", CODE_BLOCK.sub("", text))
    return LINK.findall(text)


def anchors(markdown: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    headings = re.findall(r"^#+\s+(.+?)\s*$", markdown.read_text(encoding="utf-8"), re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", h.lower()).replace(" ", "-") for h in headings}


@pytest.mark.parametrize("markdown", markdown_files(), ids=lambda p: str(p.relative_to(REPO)))
def test_relative_links_resolve(markdown: Path) -> None:
    broken = []
    for target in links(markdown.read_text(encoding="utf-8")):
        if re.match(r"[a-z]+:", target):  # http(s), mailto: not followed offline
            continue
        path, _, fragment = target.partition("#")
        resolved = (markdown.parent / path).resolve() if path else markdown
        if not resolved.exists() or (
            fragment and resolved.suffix == ".md" and fragment not in anchors(resolved)
        ):
            broken.append(target)
    assert broken == [], f"{markdown.relative_to(REPO)}: broken links {broken}"


def test_idiom_map_covers_every_concern_in_every_service() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Where each concern lives", 1)[1].split("\n## ", 1)[0]
    rows = {
        cells[0]: cells[1:]
        for line in section.splitlines()
        if line.startswith("|")
        for cells in [[c.strip() for c in line.strip("|").split("|")]]
    }
    folders = [folder for folder, _ in SERVICES.values()]
    for concern in CONCERNS:
        assert concern in rows, f"the idiom map has no row for {concern!r}"
        for folder, cell in zip(folders, rows[concern], strict=True):
            targets = links(cell)
            assert targets, f"{concern!r}: no link for {folder}"
            assert all(t.startswith(f"{folder}/") for t in targets), (concern, folder, targets)
