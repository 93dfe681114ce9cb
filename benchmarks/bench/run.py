"""One benchmark run: for each service, its bare app, then the service on a fresh
PostgreSQL database with seeded users, then the bare app reading that database, then
the argon2 ceiling with its parameters."""

from __future__ import annotations

import json
import os
import secrets
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import httpx

from bench import profiling, seed, servers, wire
from bench.load import run_wrk, wrk_binary
from bench.machine import service_versions
from bench.memory import MemorySample, Sampler, sample
from bench.results import Argon2Ceiling, LoginBurst, Run, Scenario, ServiceResult
from bench.scenarios import (
    ALL,
    BARE,
    BARE_DRF_READ,
    BARE_READ,
    DRF_SERVICES,
    SERVER_VARIANTS,
    SERVICE_SCENARIOS,
    Context,
)
from bench.scenarios import Scenario as ScenarioSpec

PROBE = Path(__file__).resolve().parent.parent / "probes" / "argon2_rate.py"
IDLE_SETTLE_SECONDS = 1.0
# Access tokens outlive the whole run.
ACCESS_TOKEN_MINUTES = 240


@dataclass(frozen=True)
class Options:
    services: list[str]
    scenarios: list[str]
    duration: float
    warmup: float
    repeats: int
    connections: int
    workers: int
    users: int
    ceiling_seconds: float
    postgres_url: str
    output: Path
    profile: list[str] = field(default_factory=list)

    @property
    def logs(self) -> Path:
        return self.output / "logs"


_BEGAN = time.monotonic()


def say(message: str) -> None:
    print(f"[{time.monotonic() - _BEGAN:5.0f} s] {message}", flush=True)


def idle_memory(server: servers.Server) -> MemorySample:
    time.sleep(IDLE_SETTLE_SECONDS)
    return sample(server.workers(), server.processes())


def measure(
    server: servers.Server,
    spec: ScenarioSpec,
    context: Context,
    options: Options,
    before_run: Callable[[], None] | None = None,
) -> Scenario:
    url = server.base_url + spec.path
    log = options.logs / f"{server.name}-wrk.log"
    connections = spec.connections(options.connections)
    if options.warmup > 0:
        run_wrk(
            url,
            script=spec.script,
            args=spec.args(context),
            connections=connections,
            seconds=options.warmup,
            log_path=log,
        )
    runs: list[Run] = []
    for repeat in range(options.repeats):
        if before_run is not None:
            before_run()
        args = spec.args(context)
        workers, instance = server.workers(), server.processes()
        profilers = []
        if spec.name in options.profile and repeat == 0:
            profilers = [
                profiling.record(
                    worker.pid,
                    seconds=options.duration,
                    output=options.output / "profiles" / f"{server.name}-{spec.name}-{i}.txt",
                )
                for i, worker in enumerate(workers)
            ]
        cpu_before = server.cpu_seconds()
        with Sampler(partial(sample, workers, instance)) as sampler:
            result = run_wrk(
                url,
                script=spec.script,
                args=args,
                connections=connections,
                seconds=options.duration,
                log_path=log,
            )
        for profiler in profilers:
            profiler.wait(timeout=60)
        run = Run.of(result, sampler.peak, server.cpu_seconds() - cpu_before)
        runs.append(run)
        say(
            f"  {server.name:14} {spec.name:8} {repeat + 1}/{options.repeats}: "
            f"{run.rps:9.1f} req/s  p50 {run.p50_ms:8.2f} ms  p99 {run.p99_ms:8.2f} ms  "
            f"errors {run.errors}  {run.cpu_ms_per_request:6.2f} CPU ms/request  "
            f"{run.rss_per_worker_mib:6.1f} MiB/worker"
        )
    if spec.name in options.profile:
        _summarise_profiles(options.output / "profiles", f"{server.name}-{spec.name}")
    return Scenario(spec.name, spec.title, connections, runs)


def _summarise_profiles(folder: Path, stem: str) -> None:
    collapsed = "".join(p.read_text() for p in sorted(folder.glob(f"{stem}-*.txt")))
    (folder / f"{stem}-summary.txt").write_text(profiling.summarise(collapsed))


def bench_bare(
    service: str,
    options: Options,
    secret: str,
    spec: ScenarioSpec = BARE,
    database_url: str | None = None,
) -> tuple[MemorySample, Scenario]:
    port = servers.free_port()
    cwd, command = servers.bare_command(service, port=port, workers=options.workers)
    env = servers.server_env(
        port=port,
        workers=options.workers,
        database_url=database_url,
        extra={"APP_ENV": "production", "JWT_SECRET_KEY": secret},
    )
    with servers.serve(
        f"{service}-{spec.name}",
        cwd=cwd,
        command=command,
        env=env,
        port=port,
        ready_path=spec.path,
        log_path=options.logs / f"{service}-{spec.name}.log",
    ) as server:
        idle = idle_memory(server)
        return idle, measure(server, spec, Context(connections=options.connections), options)


# A burst of logins at once: argon2 takes 64 MiB per hash, so this is where an instance
# peaks (each service caps its hashes in flight at the worker's cores).
LOGIN_BURST = 60
# Correct logins per account in one burst, below LOGIN_MAX_FAILURES (an attempt counts
# until its password proves right).
LOGINS_PER_ACCOUNT = 4


def login_burst(server: servers.Server, accounts: list[seed.Account]) -> LoginBurst:
    logins = min(LOGIN_BURST, LOGINS_PER_ACCOUNT * len(accounts))
    forms = [accounts[i % len(accounts)].login_form() for i in range(logins)]

    def login(form: str) -> str:
        response = httpx.post(
            f"{server.base_url}{seed.TOKEN}",
            content=form,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            timeout=120,
        )
        return str(response.status_code)

    workers, instance = server.workers(), server.processes()
    with Sampler(partial(sample, workers, instance)) as sampler, ThreadPoolExecutor(logins) as pool:
        started = time.monotonic()
        statuses = Counter(pool.map(login, forms))
        seconds = time.monotonic() - started
    peak = max(sampler.samples, key=lambda s: s.instance_pss_mib)
    say(
        f"  {server.name}: {logins} logins at once in {seconds:.1f} s, "
        f"{peak.instance_pss_mib:.0f} MiB PSS"
    )
    return LoginBurst(
        logins=logins,
        seconds=round(seconds, 2),
        statuses=dict(statuses),
        instance_pss_peak_mib=round(peak.instance_pss_mib, 1),
        worker_rss_peak_mib=round(max(s.rss_max_worker_mib for s in sampler.samples), 1),
    )


def count_round_trips(
    service: str, env: dict[str, str], database_url: str, user: seed.Account, log: Path
) -> dict[str, float]:
    """Database round trips per `me`, admin list and refresh, counted on the wire: the
    service again, on its own database, through a proxy that counts them (bench/wire.py).
    `user` must be an admin, for the list."""
    with wire.counting_proxy(database_url) as (counter, proxied_url):
        port = servers.free_port()
        cwd, command = servers.service_command(service)
        with (
            servers.serve(
                f"{service}-round-trips",
                cwd=cwd,
                command=command,
                env={**env, "PORT": str(port), "DATABASE_URL": proxied_url},
                port=port,
                ready_path="/ready",
                log_path=log,
            ) as server,
            httpx.Client(base_url=server.base_url, timeout=30) as client,
        ):
            tokens = seed.login(client, user)
            bearer = {"Authorization": f"Bearer {tokens.access}"}
            refresh = [tokens.refresh]

            def rotate() -> httpx.Response:
                response = client.post("/api/v1/auth/refresh", json={"refresh_token": refresh[0]})
                refresh[0] = response.json()["refresh_token"]
                return response

            requests: dict[str, Callable[[], httpx.Response]] = {
                "me": lambda: client.get("/api/v1/users/me", headers=bearer),
                "list": lambda: client.get(f"/api/v1/users?search={seed.SEARCH}", headers=bearer),
                "refresh": rotate,
            }
            found = {}
            for name, send in requests.items():
                for _ in range(wire.WARMUP):
                    send().raise_for_status()
                before = counter.count
                for _ in range(wire.REQUESTS):
                    send().raise_for_status()
                found[name] = (counter.count - before) / wire.REQUESTS
    say(f"  {service}: database round trips per request: {found}")
    return found


def bench_variants(
    service: str, options: Options, env: dict[str, str], context: Context
) -> dict[str, Scenario]:
    """`me` with the service under each other server (bench.scenarios.SERVER_VARIANTS), on
    the same database and tokens, once the service's own server has stopped."""
    found = {}
    for variant in SERVER_VARIANTS.get(service, ()):
        spec = variant.scenario
        if spec.name not in options.scenarios:
            continue
        port = servers.free_port()
        with servers.serve(
            f"{service}-{spec.name}",
            cwd=servers.REPO_ROOT / f"{service}_svc",
            command=variant.argv(port=port, workers=options.workers),
            env={**env, "PORT": str(port)},
            port=port,
            ready_path="/ready",
            log_path=options.logs / f"{service}-{spec.name}.log",
        ) as server:
            found[spec.name] = measure(server, spec, context, options)
    return found


def bench_service(
    service: str, options: Options, secret: str
) -> tuple[MemorySample, dict[str, Scenario], list[float], LoginBurst | None, dict[str, float]]:
    """The service's scenarios; before each login run, the argon2 ceiling on every core
    (the server idle meanwhile), so that each login run has a ceiling taken beside it."""
    admin = seed.Account(
        f"bench-admin-{secrets.token_hex(4)}@example.com", secrets.token_urlsafe(16)
    )
    wanted = [spec for spec in SERVICE_SCENARIOS if spec.name in options.scenarios]
    found: dict[str, Scenario] = {}
    ceilings: list[float] = []
    burst = None

    def measure_ceiling() -> None:
        if options.ceiling_seconds > 0:
            ceilings.append(all_cores_rate(service, options, secret))
            say(f"  {service}: argon2 {ceilings[-1]:.2f} verifies/s on every core")

    with servers.postgres_database(options.postgres_url, f"bench_{service}") as database_url:
        port = servers.free_port()
        env = servers.server_env(
            port=port,
            workers=options.workers,
            database_url=database_url,
            extra={
                "APP_ENV": "production",
                "JWT_SECRET_KEY": secret,
                "FIRST_ADMIN_EMAIL": admin.email,
                "FIRST_ADMIN_PASSWORD": admin.password,
                "ACCESS_TOKEN_MINUTES": str(ACCESS_TOKEN_MINUTES),
            },
        )
        cwd, command = servers.service_command(service)
        with (
            servers.serve(
                service,
                cwd=cwd,
                command=command,
                env=env,
                port=port,
                ready_path="/ready",
                log_path=options.logs / f"{service}.log",
            ) as server,
            httpx.Client(base_url=server.base_url, timeout=120) as client,
        ):
            say(f"  {service}: ready")
            idle = idle_memory(server)
            started = time.monotonic()
            accounts = seed.accounts(options.users)
            seed.register(client, accounts)
            context = Context(
                client=client,
                connections=options.connections,
                accounts=accounts,
                tokens=seed.login_all(client, accounts[: options.connections]),
                admin=seed.login(client, admin),
            )
            say(f"  {service}: seeded {len(accounts)} users in {time.monotonic() - started:.1f} s")
            for spec in wanted:
                before_run = measure_ceiling if spec.name == "login" else None
                found[spec.name] = measure(server, spec, context, options, before_run)
            if "login" in options.scenarios:
                burst = login_burst(server, accounts)
        # On the service's database, once the service has stopped.
        found |= bench_variants(service, options, env, context)
        round_trips = count_round_trips(
            service, env, database_url, admin, options.logs / f"{service}-round-trips.log"
        )
        references = [BARE_READ, *([BARE_DRF_READ] if service in DRF_SERVICES else [])]
        for reference in references:
            if reference.name in options.scenarios:
                _, found[reference.name] = bench_bare(
                    service, options, secret, reference, database_url
                )
    return idle, found, ceilings, burst, round_trips


@dataclass(frozen=True)
class ProbeResult:
    parameters: dict[str, Any]
    rate: float


def _probe(service: str, cpus: list[int], seconds: float, env: dict[str, str]) -> list[ProbeResult]:
    """Verifications per second on each of `cpus`, all measured over the same interval."""
    command = [".venv/bin/python", str(PROBE), service, "--seconds", str(seconds)]
    processes = [
        subprocess.Popen(
            [*command, "--cpu", str(cpu)],
            cwd=servers.folder(service),
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for cpu in cpus
    ]
    try:
        for process in processes:
            assert process.stdout is not None
            if process.stdout.readline().strip() != "ready":
                raise RuntimeError(f"argon2 probe for {service} failed to start")
        for process in processes:
            assert process.stdin is not None
            process.stdin.write("go\n")
            process.stdin.flush()
        found = []
        for process in processes:
            out, _ = process.communicate(timeout=seconds + 120)
            if process.returncode != 0:
                raise RuntimeError(f"argon2 probe for {service} exited {process.returncode}")
            data = json.loads(out)
            found.append(ProbeResult(data["parameters"], data["verifies"] / data["seconds"]))
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
    return found


def _probe_env(options: Options, secret: str) -> dict[str, str]:
    extra = {"APP_ENV": "production", "JWT_SECRET_KEY": secret}
    return servers.server_env(port=0, workers=options.workers, database_url=None, extra=extra)


def all_cores_rate(service: str, options: Options, secret: str) -> float:
    """Verifications per second on every core at once, one probe pinned to each."""
    cpus = sorted(os.sched_getaffinity(0))
    every = _probe(service, cpus, options.ceiling_seconds, _probe_env(options, secret))
    return sum(result.rate for result in every)


def argon2_ceiling(
    service: str, options: Options, secret: str, all_cores: list[float]
) -> Argon2Ceiling:
    """One core alone; every core at once unless measured beside the login runs."""
    cpus = sorted(os.sched_getaffinity(0))
    one = _probe(service, cpus[:1], options.ceiling_seconds, _probe_env(options, secret))
    runs = all_cores or [all_cores_rate(service, options, secret)]
    return Argon2Ceiling(
        parameters=one[0].parameters,
        per_core=one[0].rate,
        all_cores=statistics.median(runs),
        cores=len(cpus),
        all_cores_runs=runs,
    )


def bench(service: str, options: Options) -> ServiceResult:
    secret = secrets.token_urlsafe(48)
    say(f"== {service}")
    bare_idle = MemorySample(0, 0.0, 0.0, 0.0)
    scenarios: dict[str, Scenario] = {}
    if "bare" in options.scenarios:
        bare_idle, scenarios["bare"] = bench_bare(service, options, secret)
    idle, found, ceilings, burst, round_trips = bench_service(service, options, secret)
    scenarios.update(found)
    ceiling = None
    if options.ceiling_seconds > 0:
        ceiling = argon2_ceiling(service, options, secret, ceilings)
        say(
            f"  {service}: argon2 {ceiling.per_core:.2f} verifies/s on one core, "
            f"{ceiling.all_cores:.2f} on {ceiling.cores}"
        )
    return ServiceResult(
        service=service,
        versions=service_versions(service),
        idle=idle,
        bare_idle=bare_idle,
        scenarios={name: scenarios[name] for name in ALL if name in scenarios},
        argon2=ceiling,
        login_burst=burst,
        round_trips=round_trips,
    )


def check_tools(services: list[str]) -> None:
    """Fail at once, not after minutes of running, when something the run needs is missing."""
    try:
        wrk_binary()
    except RuntimeError as error:
        sys.exit(f"error: {error}")
    for service in services:
        if not (servers.folder(service) / ".venv" / "bin" / "python").exists():
            sys.exit(f"error: {service}_svc/.venv is missing (make {service}_svc/.venv/.installed)")
