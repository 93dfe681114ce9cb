"""PNG charts of a run: requests per second, latency, memory (matplotlib, no display)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import matplotlib as mpl

# No display: the backend is chosen before pyplot is imported.
mpl.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure

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


def _bars(results: Results) -> Iterator[tuple[str, ServiceResult, list[float], list[Scenario]]]:
    """Per service, its scenarios and the x of each one's bar, grouped by scenario."""
    scenarios = _scenario_names(results)
    step = WIDTH / max(1, len(results.services))
    for i, (service, result) in enumerate(results.services.items()):
        xs, found = [], []
        for j, scenario in enumerate(scenarios):
            if (measured := result.scenarios.get(scenario)) is not None:
                xs.append(j - WIDTH / 2 + step * (i + 0.5))
                found.append(measured)
        yield service, result, xs, found


def _figure() -> tuple[Figure, Axes]:
    return plt.subplots(figsize=(10, 5))


def _save(
    figure: Figure, axes: Axes, results: Results, *, title: str, ylabel: str, path: Path
) -> None:
    scenarios = _scenario_names(results)
    axes.set_xticks(range(len(scenarios)), scenarios)
    axes.set_ylabel(ylabel)
    axes.set_title(title)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def _grouped(
    results: Results,
    value: Callable[[ServiceResult, Scenario], float],
    *,
    title: str,
    ylabel: str,
    path: Path,
    log: bool = True,
) -> None:
    figure, axes = _figure()
    step = WIDTH / max(1, len(results.services))
    for service, result, xs, found in _bars(results):
        bars = axes.bar(xs, [value(result, s) for s in found], step, label=name(service))
        axes.bar_label(bars, fmt=_label, fontsize=7, padding=2)
    if log:
        axes.set_yscale("log")
    axes.legend()
    _save(figure, axes, results, title=title, ylabel=ylabel, path=path)


def _latency(results: Results, path: Path) -> None:
    figure, axes = _figure()
    step = WIDTH / max(1, len(results.services))
    for service, _result, xs, found in _bars(results):
        # p99 as the full bar, p50 as the darker part at its foot.
        tall = axes.bar(
            xs, [s.p99_ms for s in found], step, alpha=0.45, label=f"{name(service)} p99"
        )
        axes.bar(xs, [s.p50_ms for s in found], step, color=tall.patches[0].get_facecolor(),
                 alpha=1.0, label=f"{name(service)} p50")  # fmt: skip
    axes.set_yscale("log")
    axes.legend(ncol=3, fontsize=8)
    _save(
        figure,
        axes,
        results,
        title="Latency: p50 (solid) and p99 (light)",
        ylabel="latency, ms (log)",
        path=path,
    )


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
