"""`python -m bench`: benchmark the services, write the report, plots and results.json.

Durations and sizes come from the options below or from BENCH_* environment
variables (`BENCH_DURATION=20 make bench`); `--smoke` is a few seconds per
scenario, for CI.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from bench import machine, plots, report, run, servers
from bench.results import Results
from bench.scenarios import ALL

BENCH_DIR = Path(__file__).resolve().parent.parent
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
SMOKE = {"duration": 3.0, "warmup": 0.0, "repeats": 1, "users": 8, "ceiling_seconds": 1.0}


def _env(key: str, default: str) -> str:
    return os.environ.get(f"BENCH_{key}", default)


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--services",
        nargs="+",
        choices=servers.SERVICES,
        default=_env("SERVICES", " ".join(servers.SERVICES)).split(),
    )
    parser.add_argument(
        "--scenarios",
        nargs="+",
        choices=list(ALL),
        default=_env("SCENARIOS", " ".join(ALL)).split(),
    )
    parser.add_argument(
        "--duration",
        type=float,
        default=float(_env("DURATION", "10")),
        help="seconds per measured run",
    )
    parser.add_argument(
        "--warmup",
        type=float,
        default=float(_env("WARMUP", "3")),
        help="seconds of load before the measured runs of each scenario",
    )
    parser.add_argument("--repeats", type=int, default=int(_env("REPEATS", "3")))
    parser.add_argument(
        "--connections",
        type=int,
        default=int(_env("CONNECTIONS", "16")),
        help="wrk connections, one per wrk thread",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=int(_env("WORKERS", "2")),
        help="WEB_CONCURRENCY of every server",
    )
    parser.add_argument(
        "--users",
        type=int,
        default=int(_env("USERS", "32")),
        help="users registered before the scenarios",
    )
    parser.add_argument(
        "--ceiling-seconds",
        type=float,
        default=float(_env("CEILING_SECONDS", "5")),
        help="seconds per argon2 measurement (0: skip it)",
    )
    parser.add_argument(
        "--postgres-url", default=os.environ.get("POSTGRES_URL", DEFAULT_POSTGRES_URL)
    )
    parser.add_argument("--output", type=Path, default=BENCH_DIR / "results")
    parser.add_argument(
        "--profile",
        nargs="*",
        default=[],
        choices=list(ALL),
        help="py-spy the workers during the first run of these scenarios",
    )
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="a few seconds per scenario and one run: checks the harness",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="exit 1 when a scenario got no success or an unexpected status",
    )
    parser.add_argument(
        "--update-readme",
        action="store_true",
        help="put the summary table between the markers in the root README",
    )
    args = parser.parse_args(argv)
    if args.smoke:
        for key, value in SMOKE.items():
            setattr(args, key, value)
        args.connections = min(args.connections, 4)
    return args  # fmt: skip


def problems(results: Results) -> list[str]:
    """What --check refuses: a scenario with no success, or a status the contract would not
    give under load (503 is the documented answer when the database cannot keep up)."""
    found = []
    for service, result in results.services.items():
        for scenario in result.scenarios.values():
            if scenario.ok == 0:
                found.append(f"{service} {scenario.name}: no successful request")
            unexpected = {
                code: n
                for run_ in scenario.runs
                for code, n in run_.statuses.items()
                if code[0] != "2" and code != "503"
            }
            if unexpected:
                found.append(f"{service} {scenario.name}: unexpected statuses {unexpected}")
    return found


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    run.check_tools(args.services)
    options = run.Options(
        services=args.services,
        scenarios=args.scenarios,
        duration=args.duration,
        warmup=args.warmup,
        repeats=args.repeats,
        connections=args.connections,
        workers=args.workers,
        users=args.users,
        ceiling_seconds=args.ceiling_seconds,
        postgres_url=args.postgres_url,
        output=args.output.resolve(),
        profile=args.profile,
    )
    options.logs.mkdir(parents=True, exist_ok=True)
    for old in options.logs.glob("*.log"):
        old.unlink()
    began = time.monotonic()
    settings = {
        key: getattr(options, key)
        for key in ("duration", "warmup", "repeats", "connections", "workers", "users")
    }
    results = Results(settings=settings, machine=machine.describe(options.postgres_url))
    for service in options.services:
        results.services[service] = run.bench(service, options)
    results.machine["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    results.machine["wall_seconds"] = round(time.monotonic() - began)

    results.save(options.output / "results.json")
    plots.draw(results, options.output)
    profiles = (options.output / "profiles.md").exists()
    (options.output / "report.md").write_text(report.render(results, profiles=profiles))
    print(f"report: {options.output / 'report.md'} ({results.machine['wall_seconds']} s)")
    if args.update_readme:
        readme = servers.REPO_ROOT / "README.md"
        link = os.path.relpath(options.output / "report.md", readme.parent)
        if not report.update_readme(readme, report.readme_block(results, link)):
            print(f"warning: no {report.README_START} block in {readme}", file=sys.stderr)
    if args.check and (found := problems(results)):
        print("\n".join(["check failed:", *found]), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
