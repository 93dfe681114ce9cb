"""wrk runs: one bounded run over loopback, its numbers read back from the Lua `done()` line."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

LUA_DIR = Path(__file__).resolve().parent.parent / "lua"
RESULT_PREFIX = "BENCH_RESULT "
# Long enough that a queued login (argon2) is measured, not dropped as a timeout.
REQUEST_TIMEOUT_SECONDS = 30


@dataclass(frozen=True)
class WrkResult:
    requests: int
    seconds: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    mean_ms: float
    max_ms: float
    socket_errors: int
    statuses: dict[str, int] = field(default_factory=dict)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def ok(self) -> int:
        return sum(n for code, n in self.statuses.items() if code.startswith("2"))

    @property
    def non_2xx(self) -> int:
        return sum(n for code, n in self.statuses.items() if not code.startswith("2"))

    @property
    def errors(self) -> int:
        return self.non_2xx + self.socket_errors

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "rps": self.rps, "errors": self.errors}


def parse_output(stdout: str) -> WrkResult:
    """The JSON line that lua/common.lua's done() prints."""
    for line in stdout.splitlines():
        if line.startswith(RESULT_PREFIX):
            data = json.loads(line.removeprefix(RESULT_PREFIX))
            break
    else:
        raise ValueError(f"no {RESULT_PREFIX.strip()} line in wrk's output:\n{stdout[-2000:]}")
    latency, errors = data["latency_us"], data["errors"]
    return WrkResult(
        requests=int(data["requests"]),
        seconds=data["duration_us"] / 1e6,
        p50_ms=latency["p50"] / 1000,
        p90_ms=latency["p90"] / 1000,
        p99_ms=latency["p99"] / 1000,
        mean_ms=latency["mean"] / 1000,
        max_ms=latency["max"] / 1000,
        # "status" counts answers >= 400, already in `statuses`.
        socket_errors=sum(int(errors[k]) for k in ("connect", "read", "write", "timeout")),
        statuses={str(code): int(n) for code, n in data["statuses"].items()},
    )


def script_text(name: str) -> str:
    return (LUA_DIR / "common.lua").read_text() + "\n" + (LUA_DIR / f"{name}.lua").read_text()


def wrk_binary() -> str:
    found = shutil.which("wrk")
    if found is None:
        raise RuntimeError("wrk is not installed (Debian: apt-get install wrk)")
    return found


def run_wrk(
    url: str,
    *,
    script: str,
    args: Sequence[str],
    connections: int,
    seconds: float,
    log_path: Path | None = None,
) -> WrkResult:
    """`connections` connections, one per wrk thread, for `seconds`; loopback only."""
    host = httpx.URL(url).host
    if host not in {"127.0.0.1", "localhost", "::1"}:
        raise ValueError(f"refusing to load anything but loopback: {url}")
    with tempfile.NamedTemporaryFile("w", suffix=".lua", prefix=f"bench-{script}-") as lua:
        lua.write(script_text(script))
        lua.flush()
        command = [
            wrk_binary(),
            "--threads",
            str(connections),
            "--connections",
            str(connections),
            "--duration",
            f"{max(1, round(seconds))}s",
            "--timeout",
            f"{REQUEST_TIMEOUT_SECONDS}s",
            "--latency",
            "--script",
            lua.name,
            url,
            "--",
            *args,
        ]
        completed = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=seconds + REQUEST_TIMEOUT_SECONDS + 30,
            check=False,
        )
    if log_path is not None:
        with log_path.open("a") as log:
            log.write(f"$ wrk ... {url} ({script})\n{completed.stdout}{completed.stderr}\n")
    if completed.returncode != 0:
        raise RuntimeError(f"wrk exited {completed.returncode}: {completed.stderr[-2000:]}")
    return parse_output(completed.stdout)
