"""The scenarios' connection counts: the run's, a cap (login), or fixed (the sweep)."""

from __future__ import annotations

from bench.scenarios import ALL, CONCURRENCY_SWEEP, LOGIN_CONNECTIONS


def test_the_concurrency_sweep_keeps_its_own_connection_counts() -> None:
    for n in CONCURRENCY_SWEEP:
        sweep = ALL[f"me-{n}"]
        assert sweep.path == ALL["me"].path
        assert sweep.connections(16) == n
        assert sweep.connections(4) == n


def test_other_scenarios_take_the_runs_count_or_their_cap() -> None:
    assert ALL["me"].connections(16) == 16
    assert ALL["login"].connections(64) == LOGIN_CONNECTIONS
