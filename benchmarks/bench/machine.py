"""What the numbers were taken on: CPU, cores, memory, versions, how busy the machine was."""

from __future__ import annotations

import json
import os
import platform
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil
import psycopg

from bench.servers import folder

# The packages that decide each service's speed, reported with the numbers.
PACKAGES = {
    "fastapi": ["fastapi", "starlette", "pydantic", "uvicorn", "uvloop", "httptools",
                "sqlalchemy", "asyncpg", "pwdlib", "argon2-cffi"],
    "django": ["django", "djangorestframework", "djangorestframework-simplejwt", "gunicorn",
               "psycopg", "argon2-cffi"],
    "flask": ["flask", "werkzeug", "flask-sqlalchemy", "flask-jwt-extended", "sqlalchemy",
              "gunicorn", "psycopg", "argon2-cffi"],
}  # fmt: skip

_VERSIONS = """
import importlib.metadata as m, json, sys
found = {}
for name in sys.argv[1:]:
    try:
        found[name] = m.version(name)
    except m.PackageNotFoundError:
        pass
found["python"] = sys.version.split()[0]
print(json.dumps(found))
"""


def cpu_model() -> str:
    with Path("/proc/cpuinfo").open() as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def service_versions(service: str) -> dict[str, str]:
    completed = subprocess.run(
        [".venv/bin/python", "-c", _VERSIONS, *PACKAGES[service]],
        cwd=folder(service),
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    versions: dict[str, str] = json.loads(completed.stdout)
    return versions


def _first_line(command: list[str]) -> str:
    try:
        completed = subprocess.run(command, capture_output=True, text=True, timeout=10)
    except OSError:
        return "unknown"
    return (completed.stdout or completed.stderr).splitlines()[0].strip()


def postgres_version(admin_url: str) -> str:
    with psycopg.connect(admin_url) as conn:
        row = conn.execute("SHOW server_version").fetchone()
    return str(row[0]) if row else "unknown"


def describe(admin_url: str) -> dict[str, Any]:
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": cpu_model(),
        "cores": os.cpu_count() or 1,
        "usable_cores": len(os.sched_getaffinity(0)),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "postgres": postgres_version(admin_url),
        "wrk": _first_line(["wrk", "-v"]).split(" [")[0],
        "load_average_before": [round(x, 2) for x in os.getloadavg()],
    }
