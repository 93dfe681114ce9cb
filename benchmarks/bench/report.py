"""The Markdown report (results/report.md) and the table in the root README."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path

from bench import wire
from bench.results import Results, Scenario, ServiceResult
from bench.scenarios import SERVER_VARIANTS

NAMES = {"fastapi": "FastAPI", "django": "Django", "flask": "Flask"}
SERVERS = {
    "fastapi": "uvicorn (uvloop, httptools), one process per worker",
    "django": "gunicorn gthread, 4 threads per worker",
    "flask": "gunicorn gthread, 4 threads per worker",
}
# Targets, as ratios within one run on one machine.
# `me` reads the user and the deny-list in one statement: near the bare app's one read.
ME_OF_BARE_READ = 0.8
LOGIN_OF_CEILING = 0.85
TAIL_RATIO = 5.0
# The published claims checked against this run.
CLAIMED_MIB = {"fastapi": 45, "django": 85, "flask": 38}
# "3–5x faster": holds where FastAPI is at least 3x as fast.
CLAIMED_MIN_SPEEDUP = 3.0
IO_BOUND = ("me", "me-64", "me-256", "list", "refresh")
MEMORY_TOLERANCE = 0.25
# A scenario whose best run is more than this times its worst measured chance (which
# worker took which connection, a busy machine) as much as the code.
SPREAD_FLAG = 1.25
README_START = "<!-- bench:start -->"
README_END = "<!-- bench:end -->"


def name(service: str) -> str:
    return NAMES.get(service, service)


def verdict(ok: bool) -> str:
    return "met" if ok else "**unmet**"


def fmt(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{value:,.{digits}f}"


def ratio(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


REFERENCES = ("bare", "bare-read", "bare-drf-read")


def _worst_tail(result: ServiceResult) -> Scenario | None:
    """The service scenario with the longest tail; the bare apps are references, not targets."""
    own = [s for s in result.scenarios.values() if s.name not in REFERENCES]
    return max(own, key=lambda s: s.tail_ratio, default=None)


def spread_flagged(scenario: Scenario) -> bool:
    low, high = scenario.rps_spread
    return low > 0 and high / low > SPREAD_FLAG


def spread_cell(scenario: Scenario) -> str:
    low, high = scenario.rps_spread
    cell = f"{fmt(low)}–{fmt(high)}"
    return f"{cell} **spread**" if spread_flagged(scenario) else cell


def _errors(result: ServiceResult) -> int:
    return sum(s.errors for s in result.scenarios.values())


def target_rows(results: Results) -> list[list[str]]:
    rows = []
    for service, result in results.services.items():
        me = result.ratio("me", "bare-read")
        drf = result.ratio("me", "bare-drf-read")
        login = result.login_fraction
        worst = _worst_tail(result)
        errors = _errors(result)
        rows.append(
            [
                name(service),
                ratio(result.ratio("me", "bare")),
                ratio(result.ratio("bare-read", "bare")),
                f"{ratio(me)} {verdict(me is not None and me >= ME_OF_BARE_READ)}",
                f"{ratio(drf)} {verdict(drf >= ME_OF_BARE_READ)}" if drf is not None else "–",
                f"{ratio(login)} {verdict(login is not None and login >= LOGIN_OF_CEILING)}",
                (
                    f"{worst.tail_ratio:.1f} ({worst.name}) "
                    f"{verdict(worst.tail_ratio <= TAIL_RATIO)}"
                    if worst
                    else "–"
                ),
                f"{errors} {verdict(errors == 0)}",
            ]
        )
    return rows


# At most this many database round trips per request (the statements, and what is named
# and justified in profiles.md).
ROUND_TRIP_TARGETS = {"me": 2, "list": 3, "refresh": 5}


def round_trip_rows(results: Results) -> list[list[str]]:
    rows = []
    for service, result in results.services.items():
        if not result.round_trips:
            continue
        cells = [name(service)]
        for scenario, target in ROUND_TRIP_TARGETS.items():
            found = result.round_trips.get(scenario)
            cells.append("–" if found is None else f"{found:g} {verdict(found <= target)}")
        rows.append(cells)
    return rows


def round_trip_lines(results: Results) -> list[str]:
    rows = round_trip_rows(results)
    if not rows:
        return []
    header = ["service", *(f"{s} ≤ {n}" for s, n in ROUND_TRIP_TARGETS.items())]
    return [
        "Database round trips per request on PostgreSQL, counted on the wire (the "
        "server's ReadyForQuery messages, through a proxy: `bench/wire.py`), each the "
        f"mean of {wire.REQUESTS} requests in a row on one kept-alive connection:",
        "",
        *section("round-trips", table(header, rows)),
        "",
    ]


def service_section(result: ServiceResult) -> list[str]:
    lines = [f"### {name(result.service)}", ""]
    rows = []
    for scenario in result.scenarios.values():
        idle = result.bare_idle if scenario.name in REFERENCES else result.idle
        rows.append(
            [
                scenario.title,
                str(scenario.connections),
                fmt(scenario.rps),
                spread_cell(scenario),
                fmt(scenario.p50_ms, 2),
                fmt(scenario.p99_ms, 2),
                fmt(scenario.tail_ratio),
                str(scenario.errors),
                fmt(scenario.median("cpu_ms_per_request"), 2),
                fmt(idle.rss_per_worker_mib),
                fmt(scenario.median("rss_per_worker_mib")),
            ]
        )
    lines += table(
        [
            "scenario",
            "connections",
            "req/s",
            "req/s range",
            "p50 ms",
            "p99 ms",
            "p99/p50",
            "errors",
            "server CPU ms/req",
            "RSS/worker idle MiB",
            "RSS/worker load MiB",
        ],
        rows,
    )
    ratios = [
        f"me/bare {ratio(result.ratio('me', 'bare'))}",
        f"bare+read/bare {ratio(result.ratio('bare-read', 'bare'))}",
        f"me/bare+read {ratio(result.ratio('me', 'bare-read'))}",
        f"health/bare {ratio(result.ratio('health', 'bare'))}",
        f"list/bare {ratio(result.ratio('list', 'bare'))}",
        f"refresh/me {ratio(result.ratio('refresh', 'me'))}",
        f"login/argon2 ceiling {ratio(result.login_fraction)}",
    ]
    lines += ["", "Ratios: " + ", ".join(ratios) + ".", ""]
    return lines


def argon2_rows(results: Results) -> list[list[str]]:
    rows = []
    for service, result in results.services.items():
        ceiling = result.argon2
        if ceiling is None:
            continue
        p = ceiling.parameters
        login = result.scenarios.get("login")
        rows.append(
            [
                name(service),
                f"{p.get('algorithm')} m={p.get('memory_kib')} KiB, t={p.get('time_cost')}, "
                f"p={p.get('parallelism')}",
                fmt(ceiling.per_core, 2),
                f"{fmt(ceiling.all_cores, 2)} ({ceiling.cores} cores"
                + "".join(f"; {fmt(rate, 2)}" for rate in ceiling.all_cores_runs)
                + ")",
                fmt(login.rps if login else None, 2),
                fmt(login.sustained_rps if login else None, 2),
                ratio(result.login_fraction),
            ]
        )
    return rows


def _rps(results: Results, service: str, scenario: str) -> float | None:
    result = results.services.get(service)
    found = result.scenarios.get(scenario) if result else None
    return found.rps if found else None


def _speedup(results: Results, scenario: str, other: str) -> float | None:
    fast, slow = _rps(results, "fastapi", scenario), _rps(results, other, scenario)
    return fast / slow if fast and slow else None


def comparison_rows(results: Results) -> list[list[str]]:
    names = [s for s in results.services if s in NAMES]
    scenarios: list[Scenario] = []
    for result in results.services.values():
        scenarios += [
            s for s in result.scenarios.values() if s.name not in {x.name for x in scenarios}
        ]
    rows = []
    for scenario in scenarios:
        row = [scenario.title]
        for service in names:
            found = results.services[service].scenarios.get(scenario.name)
            row.append(f"{fmt(found.rps)} / {fmt(found.p99_ms, 1)}" if found else "–")
        row += [
            ratio(_speedup(results, scenario.name, "django")),
            ratio(_speedup(results, scenario.name, "flask")),
        ]
        rows.append(row)
    return rows


def memory_rows(results: Results) -> list[list[str]]:
    rows = []
    for service, result in results.services.items():
        peak = max((s.median("rss_per_worker_mib") for s in result.scenarios.values()), default=0)
        rows.append(
            [
                name(service),
                fmt(result.bare_idle.rss_per_worker_mib),
                fmt(result.idle.rss_per_worker_mib),
                fmt(result.idle.instance_pss_mib),
                fmt(peak),
                str(CLAIMED_MIB.get(service, "–")),
            ]
        )
    return rows


def _verdict(holds: Sequence[bool]) -> str:
    return "holds" if all(holds) else "partly holds" if any(holds) else "does not hold"


def server_claim(results: Results) -> list[str]:
    """Each service's `me` under another server, over `me` under its own."""
    parts, holds = [], []
    for service, result in results.services.items():
        for other in SERVER_VARIANTS.get(service, ()):
            speedup = result.ratio(other.scenario.name, "me")
            if speedup is None:
                continue
            holds.append(speedup > 1)
            server = other.scenario.title.rpartition(", ")[2]
            parts.append(f"{name(service)} on {server} ×{speedup:.2f}")
    if not parts:
        return []
    return [
        '- **"another server (async, or Granian in Rust) makes a framework faster"** '
        f'(the seed\'s "Django on uvicorn (async)" row, and Granian for each): '
        f"{_verdict(holds)} here. `me` under the other server over `me` under the "
        "service's own: " + ", ".join(parts) + "."
    ]


def claims(results: Results) -> list[str]:
    lines = []
    # 1. Speed-up on I/O-bound work.
    speedups = {
        (scenario, other): _speedup(results, scenario, other)
        for scenario in IO_BOUND
        for other in ("django", "flask")
    }
    known = [v for v in speedups.values() if v is not None]
    if known:
        state = _verdict([v >= CLAIMED_MIN_SPEEDUP for v in known])
        detail = ", ".join(
            f"{scenario} ×{v:.2f} vs {name(other)}"
            for (scenario, other), v in speedups.items()
            if v is not None
        )
        lines.append(
            f'- **"FastAPI is 3–5x faster than Django/Flask for I/O-bound work"**: {state} '
            f"here. FastAPI's req/s over the other's, on the database-bound scenarios: {detail}."
        )
    # 2. Memory per instance.
    parts, holds = [], []
    for service, claimed in CLAIMED_MIB.items():
        result = results.services.get(service)
        if result is None:
            continue
        measured = result.idle.rss_per_worker_mib
        holds.append(abs(measured - claimed) <= MEMORY_TOLERANCE * claimed)
        parts.append(
            f"{name(service)} {measured:.0f} MiB per worker (claimed {claimed}), "
            f"{result.idle.instance_pss_mib:.0f} MiB PSS for the whole instance"
        )
    if parts:
        state = _verdict(holds)
        lines.append(
            f'- **"memory per instance 45/85/38 MB (FastAPI/Django/Flask)"**: {state} '
            f"(within ±{MEMORY_TOLERANCE:.0%}, idle RSS of one worker): " + "; ".join(parts) + "."
        )
    # 3. Tail latency.
    parts, holds = [], []
    for service, result in results.services.items():
        worst = _worst_tail(result)
        if worst is None:
            continue
        holds.append(worst.tail_ratio <= TAIL_RATIO)
        parts.append(
            f"{name(service)} worst p99/p50 {worst.tail_ratio:.1f} ({worst.name}, "
            f"p99 {worst.p99_ms:.1f} ms)"
        )
    if parts:
        state = _verdict(holds)
        lines.append(
            f"- **p99 latencies stay within {TAIL_RATIO:g}× p50**: {state}: "
            + "; ".join(parts)
            + "."
        )
    return lines + server_claim(results)


def section(name: str, lines: list[str]) -> list[str]:
    """Lines the docs site includes by name (pymdownx.snippets); invisible in the report."""
    return [f"<!-- --8<-- [start:{name}] -->", *lines, f"<!-- --8<-- [end:{name}] -->"]


def render(results: Results, *, profiles: bool = False) -> str:
    m, s = results.machine, results.settings
    lines = [
        "# Benchmarks",
        "",
        "<!-- --8<-- [start:setup] -->",
        f"Taken {m['date']} on {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB, "
        f"{m['os']}; PostgreSQL {m['postgres']}, {m['wrk']}; load average before "
        f"{', '.join(map(str, m['load_average_before']))}, after "
        f"{', '.join(map(str, m.get('load_average_after', [])))}.",
        "",
        f"Every server runs {s['workers']} workers (`WEB_CONCURRENCY`): FastAPI on "
        f"{SERVERS['fastapi']}; Django and Flask on {SERVERS['django']} (each service's "
        f"`gunicorn.conf.py`). The bare app of each framework runs on the same server with "
        f"the same settings. Each service runs with `APP_ENV=production` on a fresh "
        f"PostgreSQL database with {s['users']} users registered through the API. wrk "
        f"keeps {s['connections']} connections open (one per wrk thread) over loopback: "
        f"{s['warmup']:g} s warm-up, then {s['repeats']} runs of {s['duration']:g} s; the "
        "tables show the median run (errors: the sum over all runs) and the range of all "
        f"runs, marked **spread** where the best run beats the worst by more than "
        f"{SPREAD_FLAG:g} times. wrk, PostgreSQL and the server share the same cores.",
        "<!-- --8<-- [end:setup] -->",
        "",
        "Re-run with `make bench` (durations: `BENCH_ARGS='--duration 20 --repeats 5'`). "
        "Numbers from a machine that is busy with other work are noisy; the ratios within "
        "one run (me/bare, login/argon2) are steadier than absolute requests per second.",
        "",
        "## Targets",
        "",
        *section(
            "targets",
            table(
                [
                    "service",
                    "me / bare",
                    "bare + one read / bare",
                    f"me ≥ {ME_OF_BARE_READ:.0%} of (bare + one read)",
                    f"me ≥ {ME_OF_BARE_READ:.0%} of bare DRF read",
                    f"login ≥ {LOGIN_OF_CEILING:.0%} of argon2 ceiling",
                    f"p99 ≤ {TAIL_RATIO:g}× p50 (worst service scenario)",
                    "errors",
                ],
                target_rows(results),
            ),
        ),
        "",
        "The first two columns are references, not targets. *bare + one read* is the "
        "same minimal app reading one user by primary key through the framework's usual "
        "ORM, in autocommit, on a pool of the service's size, on the service's database "
        "after the service has stopped: the most a request that goes to the database once "
        "can reach. `me` goes to it once too (the user and the access-token deny-list in "
        "one statement, so deactivation, demotion and logout act at once), and should reach "
        f"{ME_OF_BARE_READ:.0%} of its rate. For Django, *bare DRF read* is that read "
        "through a DRF `RetrieveAPIView` with authentication off: what the Django service "
        "pays for DRF's view, serializer and renderer is in both, so this ratio is the "
        "price of the rest."
        + (
            " Why the rest of the gap is where it is: [profiles.md](profiles.md)."
            if profiles
            else ""
        ),
        "",
        *round_trip_lines(results),
        "## Per service",
        "",
        "Server CPU ms/req is the CPU time of the server's processes (every thread) over a "
        "run, divided by the requests it answered: what a request costs the server, which "
        "depends less than req/s on the share of the cores other work left it (contention "
        "still raises it).",
        "",
    ]
    for result in results.services.values():
        lines += service_section(result)
    lines += [
        "## argon2 ceiling",
        "",
        "Password verifications per second with each service's own hasher and parameters "
        "(read back from a hash it made), on one core alone and on every core at once (one "
        "process pinned to each core), the latter measured just before each login run "
        "while the server idles (the median, then each). Login is a fraction of the ceiling "
        "taken beside it: the median over the login runs. A login takes about a second "
        "under load, so the requests still in flight when a run stops are a few percent of "
        "it: the fraction uses the sustained rate, connections over mean latency (Little's "
        "law), shown next to wrk's completed requests per second.",
        "",
        *table(
            [
                "service",
                "parameters",
                "verifies/s, one core",
                "all cores",
                "login req/s (completed)",
                "login req/s (sustained)",
                "login / ceiling",
            ],
            argon2_rows(results),
        ),
        "",
        "## FastAPI vs Django vs Flask",
        "",
        *section(
            "comparison",
            table(
                [
                    "scenario",
                    *[f"{name(x)} req/s / p99 ms" for x in results.services if x in NAMES],
                    "FastAPI/Django",
                    "FastAPI/Flask",
                ],
                comparison_rows(results),
            ),
        ),
        "",
        "## Memory",
        "",
        "RSS of one worker process (mean of the workers) idle, after start-up, and the peak "
        "under load (the median run's peak, highest scenario); PSS of the whole instance "
        "(master and workers, shared pages split between them) idle.",
        "",
        *section(
            "memory",
            table(
                [
                    "service",
                    "bare app RSS/worker MiB",
                    "RSS/worker idle MiB",
                    "instance PSS idle MiB",
                    "RSS/worker peak MiB",
                    "claimed MB",
                ],
                memory_rows(results),
            ),
        ),
        "",
        *login_burst_lines(results),
        "## Which claims hold",
        "",
        *section("claims", claims(results)),
        "",
        "## Plots",
        "",
        "![Requests per second](throughput.png)",
        "",
        "![Latency](latency.png)",
        "",
        "![Memory](memory.png)",
        "",
    ]
    if profiles:
        lines += [
            "Profiles of the services under load and what was fixed: [profiles.md](profiles.md).",
            "",
        ]
    return "\n".join(lines)


# The memory limit of each service's container in the Kubernetes manifests.
POD_LIMIT_MIB = 1024


def login_burst_lines(results: Results) -> list[str]:
    rows = [
        [
            name(service),
            str(burst.logins),
            fmt(burst.seconds),
            ", ".join(f"{n} × {code}" for code, n in sorted(burst.statuses.items())),
            fmt(burst.instance_pss_peak_mib, 0),
            fmt(burst.worker_rss_peak_mib, 0),
            verdict(burst.instance_pss_peak_mib <= POD_LIMIT_MIB),
        ]
        for service, result in results.services.items()
        if (burst := result.login_burst) is not None
    ]
    if not rows:
        return []
    return [
        "Under a burst of logins sent all at once (argon2 takes 64 MiB per hash; each "
        "service lets at most as many hashes run at once per worker as it has cores), the "
        "peak of the whole instance (PSS of master and workers) and of its largest worker:",
        "",
        *table(
            [
                "service",
                "logins at once",
                "seconds",
                "answers",
                "instance PSS peak MiB",
                "largest worker RSS MiB",
                f"within the {POD_LIMIT_MIB} MiB pod limit",
            ],
            rows,
        ),
        "",
    ]


def readme_block(results: Results, report_link: str) -> str:
    m, s = results.machine, results.settings
    names = [x for x in results.services if x in NAMES]
    rows = comparison_rows(results)
    load = m["load_average_before"][0]
    lines = [
        f"Taken {m['date']} on {m['cpu']} ({m['cores']} cores, {m['memory_gib']} GiB, "
        f"load average {load} at the start), "
        f"{s['workers']} workers per server, {s['connections']} connections, median of "
        f"{s['repeats']} runs of {s['duration']:g} s, PostgreSQL {m['postgres']}. "
        f"Requests per second / p99 latency in ms; full report, targets and plots in "
        f"[{report_link}]({report_link}).",
        "",
        *table(["scenario", *[name(x) for x in names], "FastAPI/Django", "FastAPI/Flask"], rows),
    ]
    return "\n".join(lines)


def update_readme(readme: Path, block: str) -> bool:
    """Replace what sits between the markers; False when the README has no markers."""
    text = readme.read_text()
    pattern = re.compile(re.escape(README_START) + r".*?" + re.escape(README_END), re.DOTALL)
    if not pattern.search(text):
        return False
    replacement = f"{README_START}\n{block}\n{README_END}"
    readme.write_text(pattern.sub(lambda _match: replacement, text, count=1))
    return True
