"""Shared by the benchmark scripts (run as ``python benchmarks/<script>.py``, so this
folder is on ``sys.path``)."""

from __future__ import annotations

import time


class Seconds(float):
    """The best of several wall times, in seconds, with their ``spread`` (slowest minus
    fastest) and ``runs`` (how many): the machines are shared and noisy, so both are
    reported."""

    spread: float
    runs: int

    def __new__(cls, times: list[float]) -> Seconds:
        self = super().__new__(cls, min(times))
        self.spread = max(times) - min(times)
        self.runs = len(times)
        return self

    def note(self) -> str:
        return f"best of {self.runs}, spread {self.spread:.3g} s"


def time_best(fn, repeat):
    """(the shortest of ``repeat`` wall times of ``fn()`` as :class:`Seconds`, its last result)."""
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return Seconds(times), out
