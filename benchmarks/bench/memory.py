"""Memory of a server's process tree, sampled with psutil while it is loaded."""

from __future__ import annotations

import contextlib
import statistics
import threading
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType

import psutil

MIB = 1024 * 1024
SAMPLE_SECONDS = 0.25


@dataclass(frozen=True)
class MemorySample:
    """RSS per worker (mean over the workers) and the whole instance's PSS, in MiB.

    PSS counts a page shared by n processes (the code a gunicorn master loaded
    before forking, for one) as 1/n in each, so the instance total is not
    inflated by sharing, as a sum of RSS would be.
    """

    workers: int
    rss_per_worker_mib: float
    rss_max_worker_mib: float
    instance_pss_mib: float


def sample(workers: list[psutil.Process], instance: list[psutil.Process]) -> MemorySample:
    rss: list[int] = []
    for proc in workers:
        with contextlib.suppress(psutil.Error):
            rss.append(proc.memory_info().rss)
    pss = 0
    for proc in instance:
        with contextlib.suppress(psutil.Error):
            pss += proc.memory_full_info().pss
    return MemorySample(
        workers=len(rss),
        rss_per_worker_mib=statistics.fmean(rss) / MIB if rss else 0.0,
        rss_max_worker_mib=max(rss, default=0) / MIB,
        instance_pss_mib=pss / MIB,
    )


class Sampler:
    """Samples in a thread until closed; `peak` is the sample with the most RSS per worker."""

    def __init__(self, snapshot: Callable[[], MemorySample]) -> None:
        self._snapshot = snapshot
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.samples: list[MemorySample] = []

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append(self._snapshot())
            self._stop.wait(SAMPLE_SECONDS)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def peak(self) -> MemorySample:
        if not self.samples:
            return MemorySample(0, 0.0, 0.0, 0.0)
        return max(self.samples, key=lambda s: s.rss_per_worker_mib)
