"""PNG charts of a run: requests per second, latency, memory (matplotlib, no display)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import matplotlib as mpl

# No display: the backend is chosen before pyplot is imported.
mpl.use("Agg")
import matplotlib.pyplot as plt

from bench.report import name
from bench.results import Results, Scenario, ServiceResult

WIDTH = 0.8


def _label(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:.1f}"


def _scenario_names(results: Results) -> list[str]:
    found: list[str] = []
    for result in results.services.values():
        found += [s for s in result.scenarios if s not in found]
    return found


def _grouped(
    results: Results,
    value: Callable[[ServiceResult, Scenario], float],
    *,
    title: str,
    ylabel: str,
    path: Path,
    log: bool = True,
) -> None:
    scenarios = _scenario_names(results)
    services = list(results.services)
    figure, axes = plt.subplots(figsize=(10, 5))
    step = WIDTH / max(1, len(services))
    for i, service in enumerate(services):
        result = results.services[service]
        xs, ys = [], []
        for j, scenario in enumerate(scenarios):
            found = result.scenarios.get(scenario)
            if found is not None:
                xs.append(j - WIDTH / 2 + step * (i + 0.5))
                ys.append(value(result, found))
        bars = axes.bar(xs, ys, step, label=name(service))
        axes.bar_label(bars, fmt=_label, fontsize=7, padding=2)
    axes.set_xticks(range(len(scenarios)), scenarios)
    axes.set_ylabel(ylabel)
    axes.set_title(title)
    if log:
        axes.set_yscale("log")
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def _latency(results: Results, path: Path) -> None:
    scenarios = _scenario_names(results)
    services = list(results.services)
    figure, axes = plt.subplots(figsize=(10, 5))
    step = WIDTH / max(1, len(services))
    for i, service in enumerate(services):
        result = results.services[service]
        xs, p50, p99 = [], [], []
        for j, scenario in enumerate(scenarios):
            found = result.scenarios.get(scenario)
            if found is not None:
                xs.append(j - WIDTH / 2 + step * (i + 0.5))
                p50.append(found.p50_ms)
                p99.append(found.p99_ms)
        # p99 as the full bar, p50 as the darker part at its foot.
        tall = axes.bar(xs, p99, step, alpha=0.45, label=f"{name(service)} p99")
        axes.bar(xs, p50, step, color=tall.patches[0].get_facecolor(), alpha=1.0,
                 label=f"{name(service)} p50")  # fmt: skip
    axes.set_xticks(range(len(scenarios)), scenarios)
    axes.set_ylabel("latency, ms (log)")
    axes.set_title("Latency: p50 (solid) and p99 (light)")
    axes.set_yscale("log")
    axes.legend(ncol=3, fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def draw(results: Results, folder: Path) -> list[Path]:
    throughput, latency, memory = (
        folder / "throughput.png",
        folder / "latency.png",
        folder / "memory.png",
    )
    _grouped(
        results,
        lambda _result, scenario: scenario.rps,
        title="Requests per second (median run)",
        ylabel="req/s (log)",
        path=throughput,
    )
    _latency(results, latency)
    _grouped(
        results,
        lambda _result, scenario: scenario.median("rss_per_worker_mib"),
        title="RSS per worker under load, MiB",
        ylabel="MiB",
        path=memory,
        log=False,
    )
    return [throughput, latency, memory]
