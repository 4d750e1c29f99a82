"""Shared by the benchmark scripts (run as ``python benchmarks/<script>.py``, so this
folder is on ``sys.path``)."""

from __future__ import annotations

import time


def time_best(fn, repeat):
    """(the shortest of ``repeat`` wall times of ``fn()``, its last result)."""
    best, out = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out
