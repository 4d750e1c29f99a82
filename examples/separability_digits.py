"""Class separability through the layers, through training, with fewer samples and with
another architecture: the questions of Ho, "Complexity of Representations in Deep
Learning" (ICPR 2022, arXiv 2209.00525), asked of two small networks on scikit-learn's
bundled digits (no download).

A small CNN (``digits-cnn``) and an MLP (``digits-mlp``) are trained with Adam on 10%, 30%
and 100% of a fixed training split (1,257 images); after each epoch checkpoint the
representation of every ReLU layer on the held-out test split (540 images) is measured
with :func:`exactnet.probe.layerwise_separability`: exact N1, F1, N2, N3, the linear-probe
accuracy and GDV. Prints one table per question and draws one figure:

* row 1: N1 per layer after each checkpoint (100% of the data), for each network;
* row 2: N1 per layer at the end of training for each training-set size, and the test
  accuracy of every run;
* row 3: the other measures per layer at the end (100%), both networks (relative depth).

    python examples/separability_digits.py [--out FIG.png] [--json OUT.json] [--quick]

``--quick``: two checkpoints and one training-set size less (for the tests).
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch
from torch import nn

from exactnet.probe import layerwise_separability, layerwise_table, plot_layerwise
from exactnet.probe.data import digits_data, model_by_name


def split(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """The digits in a fixed stratified 70/30 train/test split."""
    from sklearn.model_selection import train_test_split

    x, y = digits_data()
    idx_train, idx_test = train_test_split(np.arange(len(y)), test_size=0.3, stratify=y.numpy(), random_state=seed)
    return x[idx_train], y[idx_train], x[idx_test], y[idx_test]


def subset(x: torch.Tensor, y: torch.Tensor, fraction: float, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """A stratified fraction of the training split (the same images for every network)."""
    if fraction >= 1:
        return x, y
    from sklearn.model_selection import train_test_split

    keep, _ = train_test_split(np.arange(len(y)), train_size=fraction, stratify=y.numpy(), random_state=seed)
    return x[np.sort(keep)], y[np.sort(keep)]


def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    with torch.no_grad():
        return float((model(x).argmax(1) == y).float().mean())


def run(arch: str, fraction: float, checkpoints: list[int], data, seed: int = 0) -> tuple[dict, float]:
    """Train ``arch`` on ``fraction`` of the training split; the separability of every
    layer on the test split at each checkpoint epoch: ({epoch: result}, test accuracy)."""
    x_train, y_train, x_test, y_test = data
    xs, ys = subset(x_train, y_train, fraction, seed)
    model = model_by_name(arch, seed=seed).train()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    gen = torch.Generator().manual_seed(seed)
    results = {}
    for epoch in range(max(checkpoints) + 1):
        if epoch in checkpoints:
            model.eval()
            res = layerwise_separability(
                model, x_test, labels=y_test, reduction="flatten", samples=None, progress=False, name=arch
            )
            results[epoch] = res
            model.train()
        if epoch == max(checkpoints):
            break
        order = torch.randperm(len(ys), generator=gen)
        for start in range(0, len(ys), 32):
            batch = order[start : start + 32]
            opt.zero_grad()
            nn.functional.cross_entropy(model(xs[batch]), ys[batch]).backward()
            opt.step()
    model.eval()
    return results, accuracy(model, x_test, y_test)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="separability_digits.png", help="the figure (PNG or SVG)")
    ap.add_argument("--json", help="write every result as JSON")
    ap.add_argument("--quick", action="store_true", help="fewer checkpoints and sizes (tests)")
    args = ap.parse_args()
    threads = torch.get_num_threads()
    torch.manual_seed(0)
    torch.set_num_threads(1)  # the same numbers on every machine
    try:
        t0 = time.perf_counter()
        data = split()
        checkpoints = [0, 2, 6] if args.quick else [0, 1, 2, 4, 8, 16]
        fractions = [0.1, 1.0] if args.quick else [0.1, 0.3, 1.0]
        runs: dict[tuple[str, float], tuple[dict, float]] = {}
        for arch in ("digits-cnn", "digits-mlp"):
            for fraction in fractions:
                runs[arch, fraction] = run(arch, fraction, checkpoints, data)
        last = checkpoints[-1]
        for arch in ("digits-cnn", "digits-mlp"):
            epochs = {f"epoch {e}": r for e, r in runs[arch, 1.0][0].items()}
            print(f"\n{arch}, 100% of the training data: through training\n{layerwise_table(epochs, key='n1')}")
            sizes = {f"{int(f * 100)}%": runs[arch, f][0][last] for f in fractions}
            print(f"\n{arch}, epoch {last}: with fewer training samples\n{layerwise_table(sizes, key='n1')}")
            print(
                "test accuracy: " + ", ".join(f"{int(f * 100)}% of the data {runs[arch, f][1]:.3f}" for f in fractions)
            )
        for arch in ("digits-cnn", "digits-mlp"):
            print(f"\n{arch}, epoch {last}, 100%: every measure\n{runs[arch, 1.0][0][last].table()}")
        draw(runs, checkpoints, fractions, args.out)
        if args.json:
            doc = {
                f"{arch} {int(f * 100)}%": {
                    "test_accuracy": acc,
                    "epochs": {str(e): r.to_json() for e, r in res.items()},
                }
                for (arch, f), (res, acc) in runs.items()
            }
            with open(args.json, "w") as fh:
                json.dump(doc, fh, indent=1, default=float)
        print(f"\nfigure: {args.out} ({time.perf_counter() - t0:.0f} s)")
    finally:
        torch.set_num_threads(threads)


def draw(runs, checkpoints, fractions, out) -> None:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    archs = ("digits-cnn", "digits-mlp")
    fig, axes = plt.subplots(3, 2, figsize=(11, 11))
    last = checkpoints[-1]
    for col, arch in enumerate(archs):
        epochs = {f"epoch {e}": r for e, r in runs[arch, 1.0][0].items()}
        plot_layerwise(epochs, key="n1", ax=axes[0, col], normalized_depth=False, labels=list(epochs))
        axes[0, col].set_title(f"{arch}: N1 through training (100% of the data)")
        sizes = {f"{int(f * 100)}% (test acc. {runs[arch, f][1]:.2f})": runs[arch, f][0][last] for f in fractions}
        plot_layerwise(sizes, key="n1", ax=axes[1, col], normalized_depth=False, labels=list(sizes))
        axes[1, col].set_title(f"{arch}: N1 after {last} epochs, by training-set size")
    ends = {arch: runs[arch, 1.0][0][last] for arch in archs}
    for col, (key, label) in enumerate([("n3", "N3 (1-NN error)"), ("probe", "linear-probe accuracy")]):
        plot_layerwise(ends, key=key, ax=axes[2, col], normalized_depth=True, labels=list(ends))
        axes[2, col].set_title(f"{label} after {last} epochs, both networks")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
