"""2-D partition benchmark: exactnet against regioncam, side by side in one run.

Benchmark nets (docs/definitions.md, seed 0) on [-1, 1]^2. For each: regions and time of
regioncam (``Regioncam(size=1)`` + its layers; float32), of exactnet's result
``exactnet.regions(net, Box(-1, 1))`` in the certified float mode with the region graph's
edges (``len(res.edges)``: the adjacency with the neuron labels), of the linear pieces on
top (a certified test per edge), of the networkx graph (``res.graph``: every region's
polygon, pattern, maps and interior point as node attributes, the neurons and same-map
flag on every edge), and of the exact mode where it is affordable. Prints identical counts
and the ratios: regioncam's time over exactnet's with the edges (``ratio``) and with the
networkx graph too (``ratio+nx``).

    pip install regioncam
    python benchmarks/bench_plane.py [--repeat 3] [--exact-max 3000]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from _timing import time_best

import exactnet
from exactnet import Box
from exactnet.builtin import benchmark_net
from exactnet.compiled import warmup

NETS = [
    "2-16-16-1",
    "2-32-32-1",
    "2-64-64-1",
    "2-32-32-32-32-1",
    "2-128-128-1",
    "2-64-64-64-64-1",
    "2-256-256-1",
    "2-32x8-1",
]


def regioncam_run(net):
    import regioncam

    Ws = [np.ascontiguousarray(layer.weight.T, dtype=np.float32) for layer in net.layers]
    bs = [np.asarray(layer.bias, dtype=np.float32) for layer in net.layers]
    rc = regioncam.Regioncam(size=1.0)
    for W, b in zip(Ws[:-1], bs[:-1]):
        rc.linear(W, b)
        rc.relu()
    rc.linear(Ws[-1], bs[-1])
    return rc.num_faces


def with_edges(res):
    """The result with its region graph's edges (adjacency and neuron labels) computed."""
    _ = res.edges
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--exact-max", type=int, default=3000, help="run the exact mode on nets up to this many regions")
    ap.add_argument("--nets", nargs="*", default=NETS)
    args = ap.parse_args()
    try:
        import regioncam  # noqa: F401

        have_rc = True
    except ImportError:
        have_rc = False
        print("regioncam is not installed (pip install regioncam): exactnet figures only")
    warmup(report=None)  # compile (or load) every kernel
    _ = exactnet.regions(benchmark_net("2-8-8-1", 0), Box(-1, 1)).graph  # import networkx
    head = (
        f"{'net':>18} {'regions':>8} {'regioncam':>10} {'exactnet':>10} {'spread':>8} {'ratio':>6} {'+pieces':>8} "
        f"{'+networkx':>10} {'ratio+nx':>8} {'exact':>9} {'exact/fast':>10}"
    )
    print(head)
    for spec in args.nets:
        net = benchmark_net(spec, 0)
        t_fast, part = time_best(lambda net=net: with_edges(exactnet.regions(net, Box(-1, 1))), args.repeat)
        n = part.num_regions
        t_pieces = t_graph = float("inf")
        for _ in range(args.repeat):  # pieces, then the networkx graph, on fresh results
            part = with_edges(exactnet.regions(net, Box(-1, 1)))
            t0 = time.perf_counter()
            pieces = part.num_pieces
            t1 = time.perf_counter()
            part = with_edges(exactnet.regions(net, Box(-1, 1)))
            t2 = time.perf_counter()
            G = part.graph
            t3 = time.perf_counter()
            t_pieces, t_graph = min(t_pieces, t1 - t0), min(t_graph, t3 - t2)
        assert G.number_of_nodes() == n and pieces <= n
        rc_cell, ratio, ratio_nx = "-", "-", "-"
        if have_rc:
            t_rc, n_rc = time_best(lambda net=net: regioncam_run(net), args.repeat)
            same = "" if n_rc == n else f" (regioncam: {n_rc})"
            rc_cell, ratio = f"{1e3 * t_rc:8.1f}ms", f"{t_rc / t_fast:5.2f}x"
            ratio_nx = f"{t_rc / (t_fast + t_graph):5.2f}x"
            n = f"{n}{same}"
        ex_cell, ex_ratio = "-", "-"
        if part.num_regions <= args.exact_max:
            exactnet.regions(net, Box(-1, 1), exact=True)  # per-network setup once (compiled above)
            t_ex, ex = time_best(
                lambda net=net: with_edges(exactnet.regions(net, Box(-1, 1), exact=True)), max(1, args.repeat // 2)
            )
            assert ex.num_regions == part.num_regions
            ex_cell, ex_ratio = f"{t_ex:8.2f}s", f"{t_ex / t_fast:8.0f}x"
        print(
            f"{spec:>18} {n!s:>8} {rc_cell:>10} {1e3 * t_fast:8.1f}ms {1e3 * t_fast.spread:6.1f}ms {ratio:>6} "
            f"{1e3 * t_pieces:6.1f}ms "
            f"{1e3 * t_graph:8.1f}ms {ratio_nx:>8} {ex_cell:>9} {ex_ratio:>10}"
        )


if __name__ == "__main__":
    main()
