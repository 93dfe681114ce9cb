"""A small Dockerfile reader: enough to list stages, instructions and COPY sources.

Docker's own parser is not on PyPI; this one follows its rules for the parts
the checks need: line continuations, comments, heredocs, JSON (exec) form.
"""

from __future__ import annotations

import fnmatch
import json
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

HEREDOC = re.compile(r"<<(-?)[\"']?([A-Za-z_][A-Za-z0-9_]*)[\"']?")


@dataclass
class Instruction:
    keyword: str  # upper case: FROM, RUN, COPY, ...
    arguments: str
    line: int

    def words(self) -> list[str]:
        """The arguments as a list, from the exec (JSON) form or split like a shell."""
        text = self.arguments.strip()
        if text.startswith("["):
            try:
                parsed = json.loads(text)
            except json.JSONDecodeError:
                pass
            else:
                if isinstance(parsed, list) and all(isinstance(w, str) for w in parsed):
                    return parsed
        try:
            return shlex.split(text, posix=True)
        except ValueError:  # an unbalanced quote in shell text: words are enough
            return text.split()


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)


def parse(text: str) -> list[Stage]:
    """The stages of a Dockerfile; instructions before the first FROM (ARG) are dropped."""
    stages: list[Stage] = []
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        start = index
        line = lines[index]
        index += 1
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        logical = line
        while logical.rstrip().endswith("\\") and index < len(lines):
            logical = logical.rstrip()[:-1]
            following = lines[index]
            index += 1
            if following.lstrip().startswith("#"):
                continue  # comments inside a continued instruction are dropped
            logical += " " + following.strip()
        for dash, word in HEREDOC.findall(logical):
            body = []
            while index < len(lines):
                candidate = lines[index]
                index += 1
                if (candidate.strip() if dash else candidate) == word:
                    break
                body.append(candidate)
            logical += "\n" + "\n".join(body)
        keyword, _, arguments = logical.strip().partition(" ")
        instruction = Instruction(keyword.upper(), arguments.strip(), start + 1)
        if instruction.keyword == "FROM":
            words = [w for w in instruction.words() if not w.startswith("--")]
            name = words[2] if len(words) >= 3 and words[1].lower() == "as" else None
            stages.append(Stage(base=words[0], name=name))
        elif stages:
            stages[-1].instructions.append(instruction)
    return stages


def lineage(stages: list[Stage], stage: Stage) -> list[Stage]:
    """The stage and the earlier stages it is built FROM, nearest first."""
    chain = [stage]
    names = {s.name: s for s in stages if s.name}
    while chain[-1].base in names and names[chain[-1].base] not in chain:
        chain.append(names[chain[-1].base])
    return chain


def last(stages: list[Stage], stage: Stage, keyword: str) -> Instruction | None:
    """The instruction in force in a stage, inherited from its parent stages if needed."""
    for current in lineage(stages, stage):
        found = [i for i in current.instructions if i.keyword == keyword]
        if found:
            return found[-1]
    return None


@dataclass
class CopySource:
    instruction: Instruction
    source: str


def copy_sources(stages: list[Stage]) -> list[CopySource]:
    """Every COPY/ADD source taken from the build context (not --from another stage)."""
    sources = []
    for stage in stages:
        for instruction in stage.instructions:
            if instruction.keyword not in {"COPY", "ADD"} or "<<" in instruction.arguments:
                continue
            words = instruction.words()
            flags = [w for w in words if w.startswith("--")]
            if any(f.startswith("--from") for f in flags):
                continue
            paths = [w for w in words if not w.startswith("--")]
            for source in paths[:-1]:
                if instruction.keyword == "ADD" and re.match(r"^[a-z]+://|^git@", source):
                    continue
                sources.append(CopySource(instruction, source))
    return sources


def exists_in_context(context: Path, source: str) -> bool:
    relative = source.lstrip("/") or "."
    if any(c in relative for c in "*?["):
        return any(context.glob(relative))
    return (context / relative).exists()


def dockerignore_patterns(context: Path) -> list[str]:
    path = context / ".dockerignore"
    if not path.exists():
        return []
    patterns = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            negated = line.startswith("!")
            cleaned = line.lstrip("!").strip().lstrip("/").rstrip("/")
            patterns.append(("!" if negated else "") + cleaned)
    return patterns


def ignored(patterns: list[str], source: str) -> bool:
    """Whether .dockerignore leaves the source out of the build context.

    Like Docker, the last matching pattern decides, and excluding a folder
    excludes what is in it. `**` is treated as `*` (fnmatch's `*` crosses `/`).
    """
    relative = source.lstrip("/").rstrip("/")
    if relative in {"", "."}:
        return False
    parts = relative.split("/")
    candidates = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    excluded = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        glob = pattern.lstrip("!").replace("**", "*")
        if any(fnmatch.fnmatchcase(candidate, glob) for candidate in candidates):
            excluded = not negated
    return excluded
