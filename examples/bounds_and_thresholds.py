"""The theory, checked exactly: region-count bounds against exact counts, and the fewest
ReLU neurons that write a 1-D piecewise-linear function.

* **Bounds** (``exactnet.theory.bounds``): for 2-input networks of width 8 and depth 1 to
  4, the exact number of regions on the whole plane (``exactnet.regions(net, None)``,
  unbounded regions included) of He-initialised networks (10 seeds), against Zaslavsky,
  Montufar 2014 (lower), Serra et al. 2018 Thm 6 (lower) and Thm 1 (upper). The lower
  bounds are what *some* network reaches; random networks sit far below them (Hanin &
  Rolnick, ICML 2019). In 1-D, width 4, the sawtooth networks reach Serra Thm 5's maximum
  prod(n_l + 1) exactly.
* **Thresholds** (``exactnet.theory.thresholds``, ``proofs/neuron_threshold.md``): a
  1-D piecewise-linear function with n breakpoints needs n or n + 1 neurons in one hidden
  layer (an exact subset-sum test on its slope jumps decides which), and
  ``minimal_network`` writes it with that many; the script checks, with the exact 1-D
  engine, that the network's breakpoints and values are the function's. With depth, p
  pieces need far fewer neurons: L layers of width w with (w + 1)^L >= p
  (``min_width_for_depth``), attained by sawtooth networks.

Prints the tables and writes ``bounds_and_thresholds.png`` (or ``--out``).

    python examples/bounds_and_thresholds.py [--out FILE] [--quick]

``--quick``: depths 1 to 3 with 3 seeds (seconds, for the tests).
"""

from __future__ import annotations

import argparse
from fractions import Fraction

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

import exactnet
from exactnet import Network, Segment
from exactnet.builtin import he_network
from exactnet.theory import (
    PiecewiseLinear1D,
    all_bounds,
    min_width_for_depth,
    minimal_network,
    minimal_neurons,
    sawtooth_network,
    sawtooth_segment,
    serra_thm5_1d,
    zigzag,
)

BOUND_LABELS = {
    "serra_thm1_upper": "Serra Thm 1 (upper)",
    "serra_thm6_lower": "Serra Thm 6 (lower)",
    "montufar2014_lower": "Montufar 2014 (lower)",
    "zaslavsky": "Zaslavsky (1 layer: the maximum)",
}


def bounds_table(depths: list[int], seeds: int, width: int = 8):
    rows = []
    print(f"2-input networks of width {width}: exact regions of the whole plane against the bounds")
    print(f"{'depth':>5} {'random (min / mean / max)':>27} " + " ".join(f"{v:>22}" for v in BOUND_LABELS.values()))
    for depth in depths:
        widths = [width] * depth
        counts = [exactnet.regions(he_network([2, *widths, 1], s), None).num_regions for s in range(seeds)]
        bounds = all_bounds(2, widths)
        assert all(c <= bounds["serra_thm1_upper"] for c in counts)
        rows.append((depth, counts, bounds))
        cells = " ".join(f"{'' if bounds[k] is None else f'{bounds[k]:,}':>22}" for k in BOUND_LABELS)
        print(f"{depth:>5} {min(counts):>9} / {np.mean(counts):>7.1f} / {max(counts):>5} {cells}")
    saw = []
    print("\n1-input networks of width 4: sawtooth networks reach Serra Thm 5's maximum exactly")
    for depth in depths:
        widths = [4] * depth
        a, b = sawtooth_segment(widths)
        count = exactnet.regions(sawtooth_network(widths), Segment([a], [b]), exact=True).num_regions
        random = [exactnet.regions(he_network([1, *widths, 1], s), None).num_regions for s in range(seeds)]
        saw.append((depth, count, serra_thm5_1d(widths), float(np.mean(random))))
        print(f"depth {depth}: sawtooth {count}, Thm 5 {serra_thm5_1d(widths)}, random mean {np.mean(random):.1f}")
        assert count == serra_thm5_1d(widths)
    return rows, saw


def check_network(f: PiecewiseLinear1D, net: Network) -> None:
    """The network's exact breakpoints and values on a segment around f's are f's."""
    lo, hi = f.breakpoints[0] - 1, f.breakpoints[-1] + 1
    line = exactnet.segment_regions(net, [lo], [hi], exact=True)
    xs = [lo + t * (hi - lo) for t in line.breakpoints]
    assert tuple(xs) == f.breakpoints, (xs, f.breakpoints)
    for x in (lo, *f.breakpoints, hi):
        assert net.forward_exact([x])[0] == f(x)


def thresholds():
    # n breakpoints; the zig-zag's slope jumps have a subset summing to the right slope, so
    # n neurons write it; the second function's do not, so it needs n + 1
    functions = {
        "zig-zag (5 breakpoints)": zigzag(5),
        "5 breakpoints, no subset": PiecewiseLinear1D.from_points(
            [Fraction(v) for v in (-2, -1, 0, 1, 2, 3, 4)], [Fraction(v) for v in (0, 1, -1, 2, 0, 3, 4)], domain=None
        ),
    }
    out = {}
    print("\nthe fewest neurons in one hidden layer")
    for name, f in functions.items():
        k = minimal_neurons(f)
        net = minimal_network(f)
        assert net.num_neurons == k == f.num_breakpoints + (name != "zig-zag (5 breakpoints)")
        check_network(f, net)
        out[name] = (f, net, k)
        print(
            f"{name}: {f.num_breakpoints} breakpoints, {k} neurons "
            "(the network's exact breakpoints and values are the function's)"
        )
    pieces = [2**k for k in range(2, 13)]
    depth_curves = {L: [L * min_width_for_depth(L, p) for p in pieces] for L in (1, 2, 3, 4)}
    print("\nneurons for p pieces on R, by depth (uniform width, attained by sawtooth networks)")
    print(f"{'p':>6} " + " ".join(f"{'L = ' + str(L):>7}" for L in depth_curves))
    for i, p in enumerate(pieces):
        print(f"{p:>6} " + " ".join(f"{depth_curves[L][i]:>7}" for L in depth_curves))
    return out, pieces, depth_curves


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="bounds_and_thresholds.png", help="the figure (PNG or SVG)")
    ap.add_argument("--quick", action="store_true", help="depths 1 to 3, 3 seeds")
    args = ap.parse_args()
    depths = [1, 2, 3] if args.quick else [1, 2, 3, 4]
    rows, saw = bounds_table(depths, seeds=3 if args.quick else 10)
    functions, pieces, depth_curves = thresholds()

    fig, axes = plt.subplots(1, 4, figsize=(20, 4.8), dpi=100)
    ax = axes[0]
    for depth, counts, _ in rows:
        ax.scatter([depth] * len(counts), counts, color="C0", s=12, alpha=0.6)
    ax.plot([r[0] for r in rows], [np.mean(r[1]) for r in rows], "o-", color="C0", label="random networks (exact)")
    for k, (key, label) in enumerate(BOUND_LABELS.items()):
        pts = [(r[0], r[2][key]) for r in rows if r[2][key] is not None]
        ax.plot(*zip(*pts), "s--" if "upper" in key else "^:", color=f"C{k + 1}", label=label)
    ax.set_yscale("log")
    ax.set_xticks(depths)
    ax.set_xlabel("hidden layers (width 8)")
    ax.set_ylabel("regions of the whole plane")
    ax.set_title("2 inputs: exact counts against the bounds")
    ax.legend(fontsize=8)
    ax = axes[1]
    ax.plot([s[0] for s in saw], [s[2] for s in saw], "s--", color="C1", label="Serra Thm 5: prod(n_l + 1)")
    ax.plot([s[0] for s in saw], [s[1] for s in saw], "o", color="k", label="sawtooth networks (exact)")
    ax.plot([s[0] for s in saw], [s[3] for s in saw], "o-", color="C0", label="random networks (exact mean)")
    ax.set_yscale("log")
    ax.set_xticks(depths)
    ax.set_xlabel("hidden layers (width 4)")
    ax.set_ylabel("regions of the line")
    ax.set_title("1 input: the maximum is reached")
    ax.legend(fontsize=8)
    ax = axes[2]
    for k, (name, (f, net, neurons)) in enumerate(functions.items()):
        lo, hi = float(f.breakpoints[0]) - 0.5, float(f.breakpoints[-1]) + 0.5
        xs = np.linspace(lo, hi, 400)
        ys = net.forward(xs[:, None])[:, 0]
        ax.plot(xs, ys + 4 * k, color=f"C{k}", label=f"{name}: {neurons} neurons")
        bx = [float(x) for x in f.breakpoints]
        ax.plot(bx, [float(f(x)) + 4 * k for x in f.breakpoints], "o", color=f"C{k}", ms=4)
    ax.set_title("the fewest neurons, one hidden layer\n(network output; dots: the function's breakpoints)")
    ax.legend(fontsize=8)
    ax = axes[3]
    for L, neurons in depth_curves.items():
        ax.loglog(pieces, neurons, "o-", label=f"{L} hidden layer{'s' if L > 1 else ''}")
    ax.set_xlabel("affine pieces p")
    ax.set_ylabel("neurons")
    ax.set_title("neurons for p pieces: depth pays")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(args.out)
    print(f"figure: {args.out}")


if __name__ == "__main__":
    main()
