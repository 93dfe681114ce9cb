"""What a benchmark run found, kept as JSON (results.json) so the report can be rebuilt."""

from __future__ import annotations

import json
import statistics
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench.load import WrkResult
from bench.memory import MemorySample


@dataclass(frozen=True)
class Run:
    """One measured wrk run, with the memory peak sampled during it."""

    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    mean_ms: float
    requests: int
    non_2xx: int
    socket_errors: int
    statuses: dict[str, int]
    rss_per_worker_mib: float
    instance_pss_mib: float
    # The server's CPU time over the run divided by its requests: unlike requests per
    # second, it does not depend on how much CPU other work on the machine left over.
    cpu_ms_per_request: float

    @classmethod
    def of(cls, result: WrkResult, peak: MemorySample, cpu_seconds: float) -> Run:
        return cls(
            rps=result.rps,
            p50_ms=result.p50_ms,
            p90_ms=result.p90_ms,
            p99_ms=result.p99_ms,
            max_ms=result.max_ms,
            mean_ms=result.mean_ms,
            requests=result.requests,
            non_2xx=result.non_2xx,
            socket_errors=result.socket_errors,
            statuses=result.statuses,
            rss_per_worker_mib=peak.rss_per_worker_mib,
            instance_pss_mib=peak.instance_pss_mib,
            cpu_ms_per_request=1000 * cpu_seconds / result.requests if result.requests else 0.0,
        )

    @property
    def errors(self) -> int:
        return self.non_2xx + self.socket_errors


@dataclass(frozen=True)
class Scenario:
    """The repeats of one scenario against one server; the report shows their median."""

    name: str
    title: str
    connections: int
    runs: list[Run]

    def median(self, attribute: str) -> float:
        values = [float(getattr(run, attribute)) for run in self.runs]
        return statistics.median(values) if values else 0.0

    @property
    def rps(self) -> float:
        return self.median("rps")

    @property
    def p50_ms(self) -> float:
        return self.median("p50_ms")

    @property
    def p99_ms(self) -> float:
        return self.median("p99_ms")

    @property
    def sustained_rps(self) -> float:
        """Connections over mean latency (Little's law: wrk keeps every connection busy).

        Unlike requests completed over the run's length, it does not lose the requests
        still in flight when the run stops, which for a slow request (login, about a
        second) is several percent of a run.
        """
        mean = self.median("mean_ms")
        return self.connections * 1000 / mean if mean else 0.0

    @property
    def tail_ratio(self) -> float:
        return self.p99_ms / self.p50_ms if self.p50_ms else 0.0

    @property
    def errors(self) -> int:
        """Every error of every repeat: one is one too many."""
        return sum(run.errors for run in self.runs)

    @property
    def ok(self) -> int:
        return sum(n for run in self.runs for code, n in run.statuses.items() if code[0] == "2")

    @property
    def rps_spread(self) -> tuple[float, float]:
        values = [run.rps for run in self.runs] or [0.0]
        return min(values), max(values)


@dataclass(frozen=True)
class Argon2Ceiling:
    parameters: dict[str, Any]
    per_core: float
    all_cores: float
    cores: int
    # Every core at once, measured just before each login run (the median is all_cores).
    all_cores_runs: list[float] = field(default_factory=list)


@dataclass(frozen=True)
class LoginBurst:
    """Logins sent all at once, with the instance's memory sampled until all are answered."""

    logins: int
    seconds: float
    statuses: dict[str, int]
    instance_pss_peak_mib: float
    worker_rss_peak_mib: float


@dataclass(frozen=True)
class ServiceResult:
    service: str
    versions: dict[str, str]
    idle: MemorySample
    bare_idle: MemorySample
    scenarios: dict[str, Scenario]
    argon2: Argon2Ceiling | None = None
    login_burst: LoginBurst | None = None
    # Database round trips per request on the wire, by scenario (bench/wire.py).
    round_trips: dict[str, float] = field(default_factory=dict)

    def ratio(self, numerator: str, denominator: str) -> float | None:
        top, bottom = self.scenarios.get(numerator), self.scenarios.get(denominator)
        if top is None or bottom is None or not bottom.rps:
            return None
        return top.rps / bottom.rps

    @property
    def login_fraction(self) -> float | None:
        login = self.scenarios.get("login")
        ceiling = self.argon2
        if login is None or ceiling is None or not ceiling.all_cores:
            return None
        if len(ceiling.all_cores_runs) == len(login.runs) and all(ceiling.all_cores_runs):
            # Each login run against the ceiling taken beside it: the machine's load drifts.
            return statistics.median(
                login.connections * 1000 / run.mean_ms / rate if run.mean_ms else 0.0
                for run, rate in zip(login.runs, ceiling.all_cores_runs, strict=True)
            )
        return login.sustained_rps / ceiling.all_cores


@dataclass(frozen=True)
class Results:
    settings: dict[str, Any]
    machine: dict[str, Any]
    services: dict[str, ServiceResult] = field(default_factory=dict)

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self), indent=2) + "\n")

    @classmethod
    def load(cls, path: Path) -> Results:
        return from_dict(json.loads(path.read_text()))


def from_dict(data: dict[str, Any]) -> Results:
    services = {}
    for name, raw in data["services"].items():
        scenarios = {
            key: Scenario(
                s["name"], s["title"], s["connections"], [Run(**run) for run in s["runs"]]
            )
            for key, s in raw["scenarios"].items()
        }
        argon2 = Argon2Ceiling(**raw["argon2"]) if raw.get("argon2") else None
        services[name] = ServiceResult(
            service=raw["service"],
            versions=raw["versions"],
            idle=MemorySample(**raw["idle"]),
            bare_idle=MemorySample(**raw["bare_idle"]),
            scenarios=scenarios,
            argon2=argon2,
            login_burst=LoginBurst(**raw["login_burst"]) if raw.get("login_burst") else None,
            round_trips=raw.get("round_trips", {}),
        )
    return Results(settings=data["settings"], machine=data["machine"], services=services)
