"""Exact linear regions in 2-D and 3-D, and what sampling finds of them.

Sampling studies count linear regions by the distinct activation patterns at sample
points (Hanin & Rolnick, ICML 2019; regioncam's and most papers' pictures). The count is a
lower bound: a region that no point falls in is missed, and regions of ReLU networks
range over many orders of magnitude in size. This script computes the exact partitions
and measures what sampling misses:

* **2-D**: the built-in moons classifier (2-16-16-2) on its window: the exact partition
  (``exactnet.regions`` on a ``Box``, the certified 2-D engine, checked against the
  rational engine), its decision boundary, its region graph (networkx, drawn at the
  regions' interior points), and the coverage of sampled grids of 10^2 to 10^6 points
  (``exactnet.regions.sampling.sample_patterns(...).compare``);
* **3-D**: a He-initialised 3-16-16-1 network (seeded) on [-1, 1]^3 (the n-D engine):
  the exact count against the distinct patterns at 10^2 to 10^6 uniform points, the
  region volumes, and two cross-checks: every region of an exact 2-D slice, and every
  region along random chords (the exact 1-D engine), has a pattern of the 3-D partition.

Prints the counts and the checks; writes ``regions_exact.png`` (or ``--out``).

    python examples/regions_exact.py [--out FILE] [--quick]

``--quick``: samples up to 10^4 points and a 3-12-12-1 network (seconds, for the tests).
"""

from __future__ import annotations

import argparse

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import networkx as nx
import numpy as np

import exactnet
from exactnet import Box, Polygon, Segment
from exactnet.builtin import MOONS_DOMAIN, he_network, moons_classifier
from exactnet.plot import plot_partition
from exactnet.regions.plane import Plane
from exactnet.regions.sampling import sample_patterns


def pattern_keys(patterns: np.ndarray) -> set[bytes]:
    return {np.packbits(p.astype(bool)).tobytes() for p in patterns}


def two_d(sizes: list[int]):
    net, X, y = moons_classifier()
    x0, x1, y0, y1 = MOONS_DOMAIN
    box = Box([x0, y0], [x1, y1])
    res = exactnet.regions(net, box)
    exact = exactnet.regions(net, box, exact=True)
    assert (exact.num_regions, exact.num_pieces, exact.num_patterns) == (
        res.num_regions,
        res.num_pieces,
        res.num_patterns,
    ), "the certified and the rational engines disagree"
    print(f"{net.name} on [{x0}, {x1}] x [{y0}, {y1}]: {res.num_regions} regions, {res.num_pieces} linear pieces,")
    print(f"  {res.num_patterns} non-empty patterns (the rational engine agrees)")
    print(f"  region graph: {res.graph.number_of_nodes()} nodes, {res.graph.number_of_edges()} edges;")
    print(f"  decision boundary: {len(res.decision_boundary)} segments, length {res.decision_boundary_length:.3f}")
    part = res.engine_result
    coverage = []
    for n in sizes:
        est = sample_patterns(net, (x0, x1, y0, y1), n=n, method="grid")
        c = est.compare(part)
        coverage.append((n, c["found"], c["coverage"], c["missed_area_fraction"]))
    areas = np.array([float(r.measure) for r in res.regions]) / ((x1 - x0) * (y1 - y0))
    return net, X, y, res, coverage, areas


def three_d(widths: list[int], sizes: list[int], chords: int):
    net = he_network([3, *widths, 1], seed=0)
    res = exactnet.regions(net, Box([-1, -1, -1], [1, 1, 1]))
    print(f"{net.name} on [-1, 1]^3: {res.num_regions} regions, {res.num_pieces} linear pieces")
    keys = pattern_keys(np.array([r.pattern for r in res.regions]))
    rng = np.random.default_rng(1)
    sampled = []
    for n in sizes:
        points = rng.uniform(-1, 1, size=(n, 3))
        sampled.append((n, len(pattern_keys(net.pattern(points)))))
    volumes = np.array([float(r.measure) for r in res.regions]) / 8.0

    # cross-checks: a slice (the 2-D engine) and chords (the 1-D engine) see only 3-D patterns
    plane = Plane((0.0, 0.0, 0.137), (1.0, 0.0, 0.0), (0.0, 1.0, 0.0))
    slice_res = exactnet.regions(net, Polygon((-1, 1, -1, 1), plane))
    slice_keys = pattern_keys(np.array([r.pattern for r in slice_res.regions]))
    assert slice_keys <= keys, "a slice region's pattern is missing from the 3-D partition"
    chord_regions = 0
    for _ in range(chords):
        a, b = rng.uniform(-1, 1, size=(2, 3))
        line = exactnet.regions(net, Segment(a, b))
        chord_regions += line.num_regions
        assert pattern_keys(np.array([r.pattern for r in line.regions])) <= keys
    print(
        f"  cross-checks: the slice z = 0.137 ({slice_res.num_regions} regions) and {chords} random chords "
        f"({chord_regions} regions) show only patterns of the 3-D partition"
    )
    return net, res, sampled, volumes, slice_res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="regions_exact.png", help="the figure (PNG or SVG)")
    ap.add_argument("--quick", action="store_true", help="samples up to 10^4 points, a smaller 3-D network")
    args = ap.parse_args()
    top = 4 if args.quick else 6
    sizes = [10**k for k in range(2, top + 1)]
    net2, X, y, res2, coverage, areas = two_d(sizes)
    net3, res3, sampled, volumes, slice_res = three_d([12, 12] if args.quick else [16, 16], sizes, chords=20)

    print("\nsampling against the exact count")
    print(f"{'points':>9} {'2-D found':>10} {'coverage':>9} {'area missed':>12} {'3-D found':>10} {'of':>6}")
    for (n, found, cov, missed), (_, found3) in zip(coverage, sampled):
        print(f"{n:>9,} {found:>10} {cov:>9.3f} {missed:>12.2e} {found3:>10} {res3.num_regions:>6}")
    print(
        f"smallest region: {areas.min():.1e} of the 2-D window, {volumes.min():.1e} of the 3-D box; "
        f"median {np.median(areas):.1e} and {np.median(volumes):.1e}"
    )

    fig, axes = plt.subplots(2, 3, figsize=(16, 10), dpi=100)
    ax = axes[0, 0]
    plot_partition(res2.engine_result, color_by="pattern", points=X, labels=y, ax=ax)
    ax.set_title(f"{net2.name}: {res2.num_regions} exact regions,\ndecision boundary in black")
    ax = axes[0, 1]
    pos = {i: tuple(map(float, r.interior_point)) for i, r in enumerate(res2.regions)}
    nx.draw_networkx(res2.graph, pos=pos, ax=ax, node_size=6, width=0.4, with_labels=False, node_color="C0")
    ax.set_xlim(MOONS_DOMAIN[0], MOONS_DOMAIN[1])
    ax.set_ylim(MOONS_DOMAIN[2], MOONS_DOMAIN[3])
    ax.set_aspect("equal")
    ax.set_title(
        f"region graph: {res2.graph.number_of_nodes()} regions, {res2.graph.number_of_edges()} adjacencies\n"
        "(nodes at the regions' interior points)"
    )
    ax = axes[0, 2]
    ns = [c[0] for c in coverage]
    ax.semilogx(ns, [c[2] for c in coverage], "o-", label="regions found (share)")
    ax.semilogx(ns, [1 - c[3] for c in coverage], "s--", label="area of the regions found (share)")
    ax.axhline(1.0, color="k", lw=0.8)
    ax.set_xlabel("grid points")
    ax.set_ylim(0, 1.05)
    ax.set_title("2-D: what a sampled grid finds")
    ax.legend(loc="lower right")
    ax = axes[1, 0]
    ax.semilogx([s[0] for s in sampled], [s[1] for s in sampled], "o-", label="distinct sampled patterns")
    ax.axhline(res3.num_regions, color="k", ls="--", label=f"exact: {res3.num_regions} regions")
    ax.set_xlabel("uniform points in [-1, 1]^3")
    ax.set_title(f"3-D: {net3.name}")
    ax.legend(loc="lower right")
    ax = axes[1, 1]
    bins = np.logspace(np.log10(min(areas.min(), volumes.min())) - 0.5, 0, 40)
    ax.hist(areas, bins=bins, alpha=0.6, label="2-D areas (share of the window)")
    ax.hist(volumes, bins=bins, alpha=0.6, label="3-D volumes (share of the box)")
    ax.axvline(1 / sizes[-1], color="k", ls=":", label=f"1 / {sizes[-1]:,} points")
    ax.set_xscale("log")
    ax.set_xlabel("region size (exact)")
    ax.set_ylabel("regions")
    ax.set_title("why sampling misses regions: their sizes span many decades")
    ax.legend(fontsize=8)
    ax = axes[1, 2]
    slice_res.plot(ax=ax)
    ax.set_title(f"3-D network, exact slice z = 0.137: {slice_res.num_regions} regions")
    fig.tight_layout()
    fig.savefig(args.out)
    print(f"figure: {args.out}")


if __name__ == "__main__":
    main()
