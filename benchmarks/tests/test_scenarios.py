"""The scenarios: their connection counts (the run's, a cap, or fixed) and the other servers."""

from __future__ import annotations

from bench.scenarios import ALL, CONCURRENCY_SWEEP, LOGIN_CONNECTIONS, SERVER_VARIANTS


def test_the_concurrency_sweep_keeps_its_own_connection_counts() -> None:
    for n in CONCURRENCY_SWEEP:
        sweep = ALL[f"me-{n}"]
        assert sweep.path == ALL["me"].path
        assert sweep.connections(16) == n
        assert sweep.connections(4) == n


def test_other_scenarios_take_the_runs_count_or_their_cap() -> None:
    assert ALL["me"].connections(16) == 16
    assert ALL["login"].connections(64) == LOGIN_CONNECTIONS


def test_each_other_server_serves_me_on_the_given_port_with_the_given_workers() -> None:
    for service, variants in SERVER_VARIANTS.items():
        for variant in variants:
            argv = variant.argv(port=8123, workers=3)
            assert argv[0].startswith(".venv/bin/"), (service, argv)
            assert {"8123", "3"} <= set(argv), (service, argv)
            assert ALL[variant.scenario.name].path == ALL["me"].path
