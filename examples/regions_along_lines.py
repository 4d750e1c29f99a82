"""Linear regions along lines: random initialisation against the worst case.

Reproduces known 1-D statements on linear regions with exact counts:

* Hanin & Rolnick (ICML 2019), Kogan et al. (arXiv 2512.08091): at He initialisation with
  nonzero biases, a 1-input network has on average about 1 + N regions on a long segment
  (N neurons), whatever the depth;
* Serra et al. (ICML 2018), Thm 5: the maximum is prod(n_l + 1), reached by the sawtooth
  networks of ``exactnet.theory.sawtooth_network``.

Writes ``regions_along_lines.png`` (or the path given as the first argument).

    python examples/regions_along_lines.py [out.png] [--quick]

``--quick``: 10 seeds per architecture instead of 30 (for the tests).
"""

from __future__ import annotations

import argparse
import math

import matplotlib.pyplot as plt
import numpy as np

from exactnet import segment_regions, segment_regions_batch
from exactnet.builtin import he_network
from exactnet.theory import sawtooth_network, sawtooth_segment

BIAS_STD = math.sqrt(0.1)  # bias variance 0.1


def main(out: str = "regions_along_lines.png", seeds: int = 30) -> None:
    architectures = [[8], [16], [32], [8, 8], [16, 16], [8, 8, 8], [16, 16, 16], [32, 32], [8] * 6, [16] * 4]
    rows = []
    for widths in architectures:
        nets = [he_network([1, *widths, 1], s, bias_std=BIAS_STD) for s in range(seeds)]
        counts = [segment_regions(net, [-50.0], [50.0]).num_regions for net in nets]
        n = sum(widths)
        rows.append(
            (
                widths,
                n,
                float(np.mean(counts)),
                float(np.std(counts) / math.sqrt(seeds)),
                math.prod(w + 1 for w in widths),
            )
        )
    print(f"{'hidden widths':>16} {'N':>4} {'mean regions':>13} {'1 + N':>6} {'prod(n_l+1)':>12}")
    for widths, n, mean, se, worst in rows:
        print(f"{str(widths):>16} {n:>4} {mean:>8.1f} ± {se:<3.1f} {1 + n:>6} {worst:>12}")

    # the worst case, exactly: sawtooth networks
    saw = []
    for widths in ([3], [3, 3], [4, 3], [3, 3, 3], [4, 4, 4]):
        a, b = sawtooth_segment(widths)
        res = segment_regions(sawtooth_network(widths), [a], [b], exact=True)
        saw.append((widths, res.num_regions, math.prod(w + 1 for w in widths)))
        print(f"sawtooth {widths}: {res.num_regions} regions (exact), prod(n_l + 1) = {saw[-1][2]}")

    # the same statistic over many segments in one certified float batch
    net = he_network([1, 16, 16, 16, 1], 0, bias_std=BIAS_STD)
    starts = np.random.default_rng(1).uniform(-50, -40, size=(2000, 1))
    batch = segment_regions_batch(net, starts, -starts)
    print(f"one 1-16-16-16-1 net, 2000 long segments: mean {batch.num_regions.mean():.1f} regions (1 + N = 49)")

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2), dpi=110)
    ns = np.array([r[1] for r in rows])
    ax1.errorbar(ns, [r[2] for r in rows], yerr=[2 * r[3] for r in rows], fmt="o", label="mean over seeds (exact)")
    ax1.plot([0, ns.max() + 5], [1, ns.max() + 6], "k--", lw=1, label="1 + N")
    ax1.set_xlabel("number of neurons N")
    ax1.set_ylabel("regions on [-50, 50]")
    ax1.set_title("He initialisation: about 1 + N regions", fontsize=10)
    ax1.legend(fontsize=8)
    labels = [str(w) for w, _, _ in saw]
    x = np.arange(len(saw))
    ax2.bar(x - 0.2, [c for _, c, _ in saw], 0.4, label="sawtooth network (exact count)")
    ax2.bar(x + 0.2, [p for _, _, p in saw], 0.4, label="prod(n_l + 1)")
    ax2.set_xticks(x, labels, fontsize=8)
    ax2.set_yscale("log")
    ax2.set_title("Serra et al. Thm 5: the maximum is attained", fontsize=10)
    ax2.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out)
    print(f"figure: {out}")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out_pos", nargs="?", metavar="out.png", help="the figure (default regions_along_lines.png)")
    ap.add_argument("--out", default=None, help="the same as the positional argument")
    ap.add_argument("--quick", action="store_true", help="10 seeds per architecture (tests)")
    args = ap.parse_args()
    main(args.out or args.out_pos or "regions_along_lines.png", seeds=10 if args.quick else 30)
