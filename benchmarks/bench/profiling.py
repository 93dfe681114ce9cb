"""py-spy on the workers of a loaded server: where their time goes, by function.

`py-spy record --format raw` writes collapsed stacks ("frame;frame;frame count");
`summarise` turns them into the functions that are on CPU most, by own time
(the innermost frame) and by total time (anywhere in the stack).
"""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

PY_SPY = Path(sys.executable).parent / "py-spy"
RATE = 200


def record(pid: int, *, seconds: float, output: Path) -> subprocess.Popen[bytes]:
    """Start sampling `pid` for `seconds`; wait on the returned process."""
    output.parent.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(
        [
            str(PY_SPY),
            "record",
            "--pid",
            str(pid),
            "--duration",
            str(max(1, round(seconds))),
            "--rate",
            str(RATE),
            "--nonblocking",
            "--format",
            "raw",
            "--output",
            str(output),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _short(frame: str) -> str:
    # "function (path/to/module.py:123)" -> "function (module.py:123)"
    name, _, where = frame.partition(" (")
    return f"{name} ({Path(where.rstrip(')')).name})" if where else name


def summarise(collapsed: str, top: int = 25) -> str:
    own: Counter[str] = Counter()
    total: Counter[str] = Counter()
    samples = 0
    for line in collapsed.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_short(f) for f in stack.split(";") if f]
        samples += count
        if frames:
            own[frames[-1]] += count
        for frame in set(frames):
            total[frame] += count
    if not samples:
        return "no samples\n"
    lines = [f"{samples} samples of running threads", "", "own time:"]
    lines += [f"  {100 * n / samples:5.1f}%  {f}" for f, n in own.most_common(top)]
    lines += ["", "total time:"]
    lines += [f"  {100 * n / samples:5.1f}%  {f}" for f, n in total.most_common(top)]
    return "\n".join(lines) + "\n"
