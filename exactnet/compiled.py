"""exactnet's compiled kernels (numba): what is compiled, and compiling it ahead of time.

Each kernel is compiled on its first call, for the argument types it is called with, and
kept in numba's on-disk cache, so later processes load it instead of compiling again.
The cache is the ``__pycache__`` folder beside each module, or, where the package folder
cannot be written (a read-only installation), numba's per-user cache folder
(``$XDG_CACHE_HOME/numba`` or ``~/.cache/numba``); ``NUMBA_CACHE_DIR`` overrides both.
Every kernel has one compiled specialisation for all networks: its arguments are arrays
and int64 scalars whose types do not depend on the network.

Compile times on first use (2-core machine, empty cache): the certified float 1-D and
2-D engines a few seconds each, the exact big-integer 2-D kernel (used for networks of
96 neurons or more) about 40 s. :func:`warmup` (``exactnet warmup``) compiles everything
at once, for those who want no compile pause later.
"""

from __future__ import annotations

import importlib
import sys
import time
from collections.abc import Callable

__all__ = ["KERNEL_MODULES", "compiled_signatures", "warmup"]

#: modules that define numba kernels
KERNEL_MODULES = (
    "exactnet.regions._bigint",
    "exactnet.regions.line._float_kernel",
    "exactnet.regions.line._exact_kernel",
    "exactnet.regions.plane._float_kernel",
    "exactnet.regions.plane._float_results",
    "exactnet.regions.plane._exact_numbers",
    "exactnet.regions.plane._exact_maps",
    "exactnet.regions.plane._exact_compose",
    "exactnet.regions.plane._exact_cut",
    "exactnet.regions.plane._exact_walk",
    "exactnet.probe._assignment",
    "exactnet.probe._mst_kernels",
    "exactnet.probe._smp_kernel",
)


def compiled_signatures() -> dict[str, int]:
    """``{module.function: number of compiled specialisations}`` for every kernel of the
    modules of :data:`KERNEL_MODULES` imported so far (0 for those not called yet)."""
    from numba.core.registry import CPUDispatcher

    out = {}
    for name in KERNEL_MODULES:
        module = sys.modules.get(name)
        if module is None:
            continue
        for attr, obj in vars(module).items():
            if isinstance(obj, CPUDispatcher) and obj.__module__ == name:
                out[f"{name}.{attr}"] = len(obj.signatures)
    return out


def _engines() -> list[tuple[str, Callable[[], object]]]:
    import numpy as np

    from .builtin import benchmark_net
    from .regions.line import segment_regions, segment_regions_batch
    from .regions.plane import COMPILED_EXACT_MIN_NEURONS, partition

    small = benchmark_net("2-8-8-1", 0)
    rng = np.random.default_rng(0)
    starts, ends = rng.uniform(-1, 1, (32, 2)), rng.uniform(-1, 1, (32, 2))
    # the compiled exact 2-D kernel runs from COMPILED_EXACT_MIN_NEURONS neurons on
    wide = benchmark_net(f"2-{COMPILED_EXACT_MIN_NEURONS}-1", 0)

    def plane_float() -> None:
        part = partition(small)
        part.regions, part.num_pieces, part.edges  # noqa: B018 -- each compiles a kernel

    def affinity() -> None:
        from .probe.affinity import affinity_score

        X = rng.standard_normal((96, 3))
        affinity_score(X, np.maximum(X, 0))

    def spanning_tree() -> None:
        from .probe._mst import minimum_spanning_tree

        X = rng.standard_normal((64, 3))
        minimum_spanning_tree(X, k=2)
        minimum_spanning_tree(X, "gower", k=2)

    def sampled_smp() -> None:
        from .probe.smp import sampled_smp

        sampled_smp(np.abs(rng.standard_normal((4, 40))), 0.025, window=(0.0, 1.0))

    return [
        ("1-D certified float engine", lambda: segment_regions(small, [-1, -1], [1, 1])),
        ("1-D exact kernel", lambda: segment_regions_batch(small, starts, ends, exact=True)),
        ("2-D certified float engine", plane_float),
        ("2-D exact kernel", lambda: partition(wide, (0, 0.01, 0, 0.01), exact=True).num_regions),
        ("exact W2 assignment", affinity),
        ("exact minimum spanning tree (N1)", spanning_tree),
        ("sampled SMP", sampled_smp),
    ]


def warmup(*, report: Callable[[str], None] | None = print) -> dict[str, float]:
    """Compile every kernel now (or load it from numba's cache) by running each engine on
    a small problem; returns the seconds each engine took. ``report`` is called with a
    line per engine (``None``: silent)."""
    seconds = {}
    for label, run in _engines():
        t0 = time.perf_counter()
        run()
        seconds[label] = time.perf_counter() - t0
        if report is not None:
            report(f"{label}: {seconds[label]:.1f} s")
    for name in KERNEL_MODULES:  # every kernel module is loaded now
        importlib.import_module(name)
    return seconds
