"""The decision boundary refined step by step: exact snapshots of a classifier through
training.

A 2 -> [16, 16, 16] -> 2 ReLU MLP is trained on two moons (400 points, Adam, lr 1e-3,
mini-batches of 32, 100 epochs: the linear-regions paper's setting), with an exact
snapshot after every ``--every`` epochs (and before the first step). Each snapshot
partitions the data's box exactly and measures the regions near the data and elsewhere,
the decision boundary's pieces and length, and the accuracies. Writes a grid of
snapshots, the curves, an animation (GIF) and the run itself (``.npz``, read back with
``exactnet.load_run``), and prints the table.

``--data digits``: the same for an MLP 64 -> [32, 32] -> 10 on scikit-learn's bundled 8 x 8
digits (1,400 training images, 397 test images, 30 epochs by default), whose snapshots
look along 32 chords between random test images (the exact 1-D engine: regions per chord
and changes of the predicted class along it) and on 2 slices, each the plane through
three test images (exact 2-D partitions of (u, v) in [-0.25, 1.25]^2).

    python examples/regions_training.py [--data moons|...|digits] [--epochs 100] [--every 5] [--out DIR] [--quick]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from exactnet.training import make_dataset, train_classifier


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="moons", help="moons, circles, quantiles, spirals, checker, random or digits")
    ap.add_argument("--level", type=float, default=None, help="intricacy: spiral turns, checker squares per side")
    ap.add_argument("--epochs", type=int, default=100)
    ap.add_argument("--every", type=int, default=5, help="a snapshot every this many epochs")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=None, help="folder for the figures, the GIF and the run")
    ap.add_argument("--quick", action="store_true", help="20 epochs, a snapshot every 5")
    args = ap.parse_args()
    widths: tuple[int, ...] = (16, 16, 16)
    if args.data == "digits":
        from sklearn.datasets import load_digits

        digits = load_digits()
        order = np.random.default_rng(args.seed).permutation(len(digits.target))
        X, y = digits.data[order[:1400]] / 16.0, digits.target[order[:1400]]
        Xt, yt = digits.data[order[1400:]] / 16.0, digits.target[order[1400:]]
        widths = (32, 32)
        if args.epochs == 100:  # the default: digits need fewer epochs
            args.epochs = 30
    else:
        X, y = make_dataset(args.data, 400, level=args.level, seed=args.seed)
        Xt, yt = make_dataset(args.data, 400, level=args.level, seed=args.seed + 10_000)
    if args.quick:
        args.epochs, args.every = (20, 5) if args.data != "digits" else (4, 2)
    epochs = list(range(0, args.epochs + 1, args.every))
    if epochs[-1] != args.epochs:
        epochs.append(args.epochs)
    _, run = train_classifier(
        (X, y), test=(Xt, yt), widths=widths, epochs=args.epochs, snapshots=epochs, seed=args.seed, name=args.data
    )
    print(run.table())
    c = run.curves()
    settled = next(
        (
            int(e)
            for e, p in zip(c["epoch"], c["boundary_pieces"])
            if np.all(c["boundary_pieces"][c["epoch"] >= e] == p)
        ),
        None,
    )
    print(
        f"snapshot time: median {1e3 * np.median(c['seconds'][1:]):.1f} ms; the boundary's piece count is final from "
        f"epoch {settled}; its length goes from {c['boundary_length'][1]:.2f} (epoch {int(c['epoch'][1])}) to "
        f"{c['boundary_length'][-1]:.2f}"
    )
    if "chord_regions_mean" in c:
        print(
            f"per chord: regions {c['chord_regions_mean'][0]:.1f} at initialisation, {c['chord_regions_mean'][-1]:.1f} "
            f"after training; class changes {c['chord_crossings_mean'][0]:.2f}, "
            f"then {c['chord_crossings_mean'][-1]:.2f}"
        )
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        run.plot_grid(path=out / f"training_{args.data}_grid.png", count=8)
        run.plot_curves(path=out / f"training_{args.data}_curves.png")
        run.animate(out / f"training_{args.data}.gif", fps=3)
        run.save(out / f"training_{args.data}.npz")
        print(f"written to {out}: training_{args.data}_grid.png, _curves.png, .gif, .npz")


if __name__ == "__main__":
    main()
