"""Intricate inputs and linear regions: one architecture trained on data of graded
intricacy, its exact region counts against the data's intricacy.

The linear-regions paper reports that "intricate inputs hinder the capacity to express
linear regions". Here 2 -> [16, 16, 16] -> 2 ReLU MLPs (Adam, lr 1e-3, mini-batches of 32,
100 epochs: the paper's setting) are trained on 400 points of each data set, with several
seeds:

* moons, circles, Gaussian quantiles (2 and 4 classes of radius);
* spirals with 1, 2 and 3 turns; checkerboards of 2, 4 and 8 squares per side;
* the same uniform points with random labels.

Each data set is moved and scaled (one factor for both axes) into [-1, 1]^2, so that the
boxes have about the same size. The intricacy of a data set is its exact N1 (the fraction
of points joined to another class on a minimum spanning tree). After training, the exact
partition of the data's box
(grown by a quarter on each side) gives the regions in total, near the data (within twice
the median nearest-neighbour distance of a training point) and elsewhere. The table gives
the mean and the spread over the seeds, the count at initialisation (the same seeded
weights on the same box) and the regions gained in training; the figures draw each final
partition, and the counts against N1. Each data set has its own box, so the gain over
initialisation is the comparison that does not depend on the box's size.

    python examples/regions_intricacy.py [--seeds 3] [--png-dir DIR] [--quick]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from exactnet.training import intricacy, make_dataset, train_classifier
from exactnet.training.pictures import plot_snapshot

CASES = [
    ("moons", None), ("circles", None), ("quantiles", 2), ("quantiles", 4),
    ("spirals", 1), ("spirals", 2), ("spirals", 3),
    ("checker", 2), ("checker", 4), ("checker", 8), ("random", None),
]  # fmt: skip


def label(name: str, level: float | None) -> str:
    knob = {"quantiles": "classes", "spirals": "turns", "checker": "squares"}.get(name)
    return name if level is None or knob is None else f"{name} {level:g} {knob}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=100)
    ap.add_argument("--png-dir", default=None, help="write intricacy_partitions.png and intricacy_counts.png here")
    ap.add_argument("--quick", action="store_true", help="4 data sets, 1 seed, 20 epochs")
    args = ap.parse_args()
    cases = CASES
    if args.quick:
        cases = [("moons", None), ("spirals", 3), ("checker", 8), ("random", None)]
        args.seeds, args.epochs = 1, 20
    rows = []
    finals = {}
    for name, level in cases:
        per_seed = []
        for seed in range(args.seeds):
            X, y = make_dataset(name, 400, level=level, seed=seed)
            Xt, yt = make_dataset(name, 400, level=level, seed=seed + 10_000)
            centre, half = (X.max(axis=0) + X.min(axis=0)) / 2, (X.max(axis=0) - X.min(axis=0)).max() / 2
            X, Xt = (X - centre) / half, (Xt - centre) / half  # every data set in [-1, 1]^2, aspect kept
            _, run = train_classifier(
                (X, y),
                test=(Xt, yt),
                epochs=args.epochs,
                snapshots=[0, args.epochs],
                seed=seed,
                name=label(name, level),
            )
            start, end = run.snapshots
            per_seed.append(
                (
                    intricacy(X, y),
                    end.num_regions,
                    end.near,
                    end.elsewhere,
                    start.num_regions,
                    end.train_accuracy,
                    end.num_regions - start.num_regions,
                )  # fmt: skip
            )
            if seed == 0:
                finals[label(name, level)] = (end, (X, y))
        a = np.array(per_seed)
        rows.append((label(name, level), a.mean(axis=0), a.min(axis=0), a.max(axis=0)))
    print(f"2-16-16-16-2, {args.epochs} epochs, {args.seeds} seed(s): mean (min .. max over seeds)")
    print(
        f"{'data':<22} {'N1':>18} {'regions':>18} {'near data':>18} {'elsewhere':>18} {'at init':>8} "
        f"{'gained':>8} {'train acc':>9}"
    )
    for name, mean, lo, hi in rows:
        cells = [f"{mean[k]:>6.0f} ({lo[k]:.0f}..{hi[k]:.0f})" for k in (1, 2, 3)]
        print(
            f"{name:<22} {mean[0]:>5.3f} ({lo[0]:.3f}..{hi[0]:.3f}) {cells[0]:>18} {cells[1]:>18} {cells[2]:>18} "
            f"{mean[4]:>8.0f} {mean[6]:>+8.0f} {mean[5]:>9.3f}"
        )
    n1 = np.array([r[1][0] for r in rows])
    for k, what in ((1, "regions"), (2, "near the data"), (6, "regions gained in training")):
        counts = np.array([r[1][k] for r in rows])
        rho = np.corrcoef(np.argsort(np.argsort(n1)), np.argsort(np.argsort(counts)))[0, 1]
        print(f"Spearman correlation of N1 and {what}: {rho:+.2f}")
    if args.png_dir:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        out = Path(args.png_dir)
        out.mkdir(parents=True, exist_ok=True)
        ncols = min(4, len(finals))
        nrows = -(-len(finals) // ncols)
        fig, axes = plt.subplots(nrows, ncols, figsize=(3.3 * ncols, 3.5 * nrows), squeeze=False)
        for ax in axes.ravel()[len(finals) :]:
            ax.axis("off")
        for ax, (name, (snap, data)) in zip(axes.ravel(), finals.items()):
            plot_snapshot(snap, ax, data=data, title=f"{name}: {snap.num_regions} regions ({snap.near} near)")
        fig.suptitle(f"after {args.epochs} epochs (seed 0): regions, predicted class, decision boundary", fontsize=10)
        fig.tight_layout()
        fig.savefig(out / "intricacy_partitions.png", dpi=100)
        fig, ax = plt.subplots(figsize=(6.5, 4.2))
        for k, (what, marker) in enumerate((("all regions", "o"), ("near the data", "s"))):
            mean = np.array([r[1][k + 1] for r in rows])
            err = np.array([[r[1][k + 1] - r[2][k + 1], r[3][k + 1] - r[1][k + 1]] for r in rows]).T
            xerr = np.array([[r[1][0] - r[2][0], r[3][0] - r[1][0]] for r in rows]).T
            ax.errorbar(n1, mean, yerr=err, xerr=xerr, fmt=marker, capsize=3, label=what)
        for (name, mean, _, _), x in zip(rows, n1):
            ax.annotate(name, (x, mean[1]), fontsize=6, xytext=(3, 3), textcoords="offset points")
        ax.set_xlabel("intricacy of the data: N1 (exact)")
        ax.set_ylabel(f"linear regions after {args.epochs} epochs")
        ax.set_title(f"2-16-16-16-2: region counts against intricacy ({args.seeds} seeds, min..max)", fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(out / "intricacy_counts.png", dpi=110)
        print(f"figures: {out / 'intricacy_partitions.png'}, {out / 'intricacy_counts.png'}")


if __name__ == "__main__":
    main()
