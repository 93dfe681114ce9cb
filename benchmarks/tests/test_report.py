"""The report and the README block, from results made up for the purpose."""

from __future__ import annotations

import json
from dataclasses import asdict, replace
from pathlib import Path

from bench import report
from bench.memory import MemorySample
from bench.profiling import summarise
from bench.results import (
    Argon2Ceiling,
    LoginBurst,
    Results,
    Run,
    Scenario,
    ServiceResult,
    from_dict,
)

MACHINE = {
    "date": "2026-01-01 00:00 UTC",
    "cpu": "Test CPU",
    "cores": 2,
    "memory_gib": 8.0,
    "os": "Linux",
    "postgres": "15",
    "wrk": "wrk 4.1.0",
    "load_average_before": [0.1, 0.1, 0.1],
    "load_average_after": [0.2, 0.2, 0.2],
}
SETTINGS = {"duration": 10, "warmup": 3, "repeats": 3, "connections": 16, "workers": 2, "users": 32}


def run(rps: float, p50: float = 2.0, p99: float = 6.0, errors: int = 0) -> Run:
    statuses = {"200": int(rps * 10)} | ({"503": errors} if errors else {})
    # Each of the 16 connections always busy: mean latency = 16 / rps.
    mean = 16 * 1000 / rps
    return Run(rps, p50, p50, p99, p99, mean, int(rps * 10), errors, 0, statuses, 50.0, 120.0, 1.5)


def service(name: str, *, bare: float, me: float, login: float, ceiling: float) -> ServiceResult:
    def scenario(key: str, rps: float, p50: float = 2.0, p99: float = 6.0) -> Scenario:
        runs = [run(rps * factor, p50, p99) for factor in (0.9, 1.0, 1.2)]
        return Scenario(key, key, 16, runs)

    return ServiceResult(
        service=name,
        versions={"python": "3.11"},
        idle=MemorySample(2, 45.0, 46.0, 100.0),
        bare_idle=MemorySample(2, 30.0, 31.0, 70.0),
        scenarios={
            "bare": scenario("bare", bare),
            # A reference like the bare app: its long tail is no target.
            "bare-read": scenario("bare-read", bare / 4, p50=2.0, p99=40.0),
            **({"bare-drf-read": scenario("bare-drf-read", bare / 5)} if name == "django" else {}),
            "me": scenario("me", me, p50=2.0, p99=30.0),
            "list": scenario("list", me / 2),
            "refresh": scenario("refresh", me / 3),
            "login": scenario("login", login),
        },
        argon2=Argon2Ceiling({"algorithm": "argon2id"}, ceiling / 2, ceiling, 2),
    )


def results() -> Results:
    return Results(
        settings=SETTINGS,
        machine=MACHINE,
        services={
            "fastapi": service("fastapi", bare=4000, me=2400, login=9.0, ceiling=10.0),
            "django": service("django", bare=3000, me=600, login=5.0, ceiling=10.0),
        },
    )


def test_targets_are_marked_met_or_unmet() -> None:
    rows = {row[0]: row for row in report.target_rows(results())}
    # me/bare: 2400/4000 for FastAPI, 600/3000 for Django (the median of the repeats).
    assert (rows["FastAPI"][1], rows["Django"][1]) == ("0.60", "0.20")
    # The floor one read leaves (1000/4000), and me against it (2400/1000, 600/750).
    assert rows["FastAPI"][2] == "0.25"
    assert (rows["FastAPI"][3], rows["Django"][3]) == ("2.40 met", "0.80 met")
    # The bare DRF read, Django's only (600/600).
    assert (rows["FastAPI"][4], rows["Django"][4]) == ("–", "1.00 met")
    assert rows["FastAPI"][5] == "0.90 met"
    assert rows["Django"][5] == "0.50 **unmet**"
    assert rows["FastAPI"][6] == "15.0 (me) **unmet**"


def test_claims_compare_fastapi_with_the_others() -> None:
    text = "\n".join(report.claims(results()))
    assert "3–5x faster" in text
    assert "me ×4.00 vs Django" in text
    assert "holds here" in text


def test_render_mentions_every_service_and_the_machine() -> None:
    text = report.render(results())
    assert "Test CPU" in text
    assert "### FastAPI" in text
    assert "### Django" in text
    assert "![Requests per second](throughput.png)" in text


def test_results_survive_a_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "results.json"
    results().save(path)
    assert Results.load(path) == results()


def test_readme_block_is_replaced_between_the_markers(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(f"# Title\n\n{report.README_START}\nold\n{report.README_END}\n\nafter\n")
    assert report.update_readme(readme, "new table")
    assert readme.read_text() == (
        f"# Title\n\n{report.README_START}\nnew table\n{report.README_END}\n\nafter\n"
    )


def test_readme_without_markers_is_left_alone(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("# Title\n")
    assert not report.update_readme(readme, "new table")
    assert readme.read_text() == "# Title\n"


def test_profile_summary_ranks_functions_by_own_and_total_time() -> None:
    collapsed = (
        "process 1:main (app/main.py:1);handle (app/views.py:10);encode (jwt/api.py:5) 30\n"
        "process 1:main (app/main.py:1);handle (app/views.py:10) 10\n"
        "process 1:main (app/main.py:1);query (app/db.py:3) 60\n"
    )
    summary = summarise(collapsed)
    assert summary.startswith("100 samples")
    own = summary.split("total time:")[0]
    assert own.index("query (db.py:3)") < own.index("encode (api.py:5)")
    assert "   40.0%  handle (views.py:10)" in summary


def test_sustained_rate_counts_the_requests_still_in_flight() -> None:
    # Four connections, each request a second: 4 req/s, though a 10 s run that loses the
    # four requests in flight at its end completes only 3.6 per second.
    runs = [Run(3.6, 1000, 1000, 1100, 1100, 1000, 36, 0, 0, {"200": 36}, 200, 400, 300)]
    assert Scenario("login", "login", 4, runs).sustained_rps == 4.0


def test_each_login_run_is_set_against_the_ceiling_taken_beside_it() -> None:
    runs = [
        Run(4, 900, 900, 990, 990, 1000, 40, 0, 0, {"200": 40}, 200, 400, 300),
        Run(2, 1800, 1800, 1900, 1900, 2000, 20, 0, 0, {"200": 20}, 200, 400, 300),
        Run(4, 900, 900, 990, 990, 1000, 40, 0, 0, {"200": 40}, 200, 400, 300),
    ]
    result = ServiceResult(
        service="flask",
        versions={},
        idle=MemorySample(2, 45.0, 46.0, 100.0),
        bare_idle=MemorySample(2, 30.0, 31.0, 70.0),
        scenarios={"login": Scenario("login", "login", 4, runs)},
        # The machine was busier during the second run: a lower ceiling beside it.
        argon2=Argon2Ceiling({}, 2.5, 4.0, 2, [4.0, 2.0, 5.0]),
    )
    # Per run: 4/4.0, 2/2.0, 4/5.0; the median is 1.0.
    assert result.login_fraction == 1.0


def test_a_scenario_whose_runs_differ_by_more_than_a_quarter_is_flagged() -> None:
    steady = Scenario("me", "me", 16, [run(1000), run(1100), run(1240)])
    lucky = Scenario("me", "me", 16, [run(1000), run(1300), run(1100)])
    assert not report.spread_flagged(steady)
    assert report.spread_flagged(lucky)
    assert report.spread_cell(lucky) == "1,000.0–1,300.0 **spread**"
    assert "**spread**" in report.render(results(), profiles=False)


def test_the_login_burst_peak_is_set_against_the_pod_limit() -> None:
    made_up = results()
    burst = LoginBurst(60, 8.5, {"200": 60}, 700.0, 300.0)
    made_up.services["fastapi"] = replace(made_up.services["fastapi"], login_burst=burst)
    text = report.render(made_up, profiles=False)
    assert "| FastAPI | 60 | 8.5 | 60 × 200 | 700 | 300 | met |" in text
    assert (
        from_dict(json.loads(json.dumps(asdict(made_up)))).services["fastapi"].login_burst == burst
    )


def test_other_servers_are_set_against_the_services_own() -> None:
    found = results()
    fastapi = found.services["fastapi"]
    me = fastapi.scenarios["me"]
    fastapi.scenarios["me-granian"] = Scenario("me-granian", "me on Granian", 16, me.runs)
    text = "\n".join(report.claims(found))
    assert "another server (async, or Granian in Rust)" in text
    assert "FastAPI on Granian ×1.00" in text
