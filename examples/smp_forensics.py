"""SMP as a forensic feature: tell regression networks apart from their outputs alone.

Two questions, each on random 1-D convolutional regression networks (seeded, float64),
input signals of 64 samples (sums of random sinusoids), output one number:

* **activation**: ReLU against GELU, everything else equal (max pooling off: average
  pooling in both);
* **pooling**: max against average pooling, with a smooth activation (softplus) in both,
  so that the pooling is the only possible source of kinks.

The only thing observed is the network's output along 16 straight paths between random
signals (1,024 steps each). The feature is scale-free: the output's sampled SMP divided
by its total variation along the path (the share of the slope's variation that sits in
kinks), the median over the paths. A threshold on its logarithm is chosen on training
networks and its accuracy reported on held-out networks (new seeds). Our formulation
(docs/definitions.md, "SMP").

Writes a figure of the held-out networks' features and the thresholds, ``smp_forensics.png``
(or ``--png``).

    python examples/smp_forensics.py [--nets 40] [--png FILE] [--quick]
"""

from __future__ import annotations

import argparse
import math

import numpy as np
import torch
from torch import nn

from exactnet.probe.smp import paths_between, sampled_smp

STEPS = 1024
MARGIN = 2


def make_net(activation: str, pooling: str, seed: int) -> nn.Module:
    """Conv1d(1, 8, 5) - act - pool 2 - Conv1d(8, 8, 5) - act - global mean - Linear(8, 1)."""
    act = {"relu": nn.ReLU, "gelu": nn.GELU, "softplus": nn.Softplus}[activation]
    pool = {"max": nn.MaxPool1d, "avg": nn.AvgPool1d}[pooling]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = nn.Sequential(
            nn.Conv1d(1, 8, 5, padding=2),
            act(),
            pool(2),
            nn.Conv1d(8, 8, 5, padding=2),
            act(),
            nn.AdaptiveAvgPool1d(1),
            nn.Flatten(),
            nn.Linear(8, 1),
        )
    return net.double().eval()


def signals(n: int, seed: int) -> torch.Tensor:
    """n signals of 64 samples: sums of 4 random sinusoids."""
    rng = np.random.default_rng(seed)
    t = np.linspace(0, 1, 64)
    freq = rng.uniform(1, 8, (n, 4, 1))
    phase = rng.uniform(0, 2 * np.pi, (n, 4, 1))
    amp = rng.normal(size=(n, 4, 1))
    x = (amp * np.sin(2 * np.pi * freq * t + phase)).sum(axis=1)
    return torch.from_numpy(x).unsqueeze(1)  # (n, 1, 64)


def feature(net: nn.Module, paths: torch.Tensor) -> float:
    """Median over paths of SMP / total variation of the output along the path."""
    n_paths, steps = paths.shape[:2]
    with torch.no_grad():
        y = net(paths.reshape((-1,) + tuple(paths.shape[2:]))).reshape(n_paths, steps).numpy()
    h = 1.0 / (steps - 1 - 2 * MARGIN)
    smp = sampled_smp(y, h, t0=-MARGIN * h, window=(0.0, 1.0))
    inside = y[:, MARGIN : steps - MARGIN]
    variation = np.abs(np.diff(inside, 2, axis=1)).sum(axis=1) / h  # total variation of the slope
    ratio = smp / np.maximum(variation, 1e-300)
    return float(np.median(ratio))


def threshold_accuracy(train: dict[str, list[float]], test: dict[str, list[float]], kinked: str) -> tuple:
    """The threshold on log(feature) that classifies the training networks best (kinked
    above; the widest margin among the best), and its accuracy on the held-out ones."""
    (a, b) = list(train)
    smooth = b if a == kinked else a

    def logs(values):  # a ratio below 1e-12 counts as no kink at all
        return np.log(np.maximum(values, 1e-12))

    cand = np.sort(np.concatenate([logs(train[kinked]), logs(train[smooth])]))
    cuts = np.concatenate([[cand[0] - 1], (cand[1:] + cand[:-1]) / 2, [cand[-1] + 1]])

    def acc(data, cut):
        right = np.sum(logs(data[kinked]) > cut) + np.sum(logs(data[smooth]) <= cut)
        return right / (len(data[kinked]) + len(data[smooth]))

    top = max(acc(train, c) for c in cuts)
    # among the best cuts, the one farthest from every training value (the widest margin)
    best = max((c for c in cuts if acc(train, c) == top), key=lambda c: np.abs(cand - c).min())
    return math.exp(best), acc(train, best), acc(test, best)


def experiment(
    name: str, configs: dict[str, tuple[str, str]], kinked: str, nets: int, paths: torch.Tensor
) -> tuple[dict[str, list[float]], float, float]:
    """Prints the experiment; returns the held-out features, the threshold and the held-out accuracy."""
    feats: dict[str, dict[str, list[float]]] = {"train": {}, "test": {}}
    for split, offset in (("train", 0), ("test", 10_000)):
        for label, (act, pool) in configs.items():
            feats[split][label] = [feature(make_net(act, pool, offset + s), paths) for s in range(nets)]
    cut, train_acc, test_acc = threshold_accuracy(feats["train"], feats["test"], kinked)
    print(f"\n{name}: {nets} training and {nets} held-out networks of each kind")
    for label in configs:
        vals = np.array(feats["test"][label])
        print(
            f"  {label:<22} feature (held-out) median {np.median(vals):.3g}, range {vals.min():.3g} .. {vals.max():.3g}"
        )
    print(f"  threshold {cut:.3g}: training accuracy {train_acc:.3f}, held-out accuracy {test_acc:.3f}")
    return feats["test"], cut, test_acc


def plot(results: dict[str, tuple[dict[str, list[float]], float, float]], path: str) -> None:
    """The held-out features of each kind (below 1e-12 drawn at 1e-12: no kink) and the threshold."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(results), figsize=(5.5 * len(results), 4), dpi=110)
    rng = np.random.default_rng(0)
    for ax, (name, (feats, cut, acc)) in zip(axes, results.items()):
        for k, values in enumerate(feats.values()):
            v = np.maximum(values, 1e-12)
            ax.scatter(k + rng.uniform(-0.15, 0.15, len(v)), v, s=14, alpha=0.7, color=f"C{k}")
        ax.axhline(cut, color="k", ls="--", lw=1, label=f"threshold {cut:.2g} (held-out accuracy {acc:.2f})")
        ax.set_yscale("log")
        ax.set_xticks(range(len(feats)), list(feats))
        ax.set_ylabel("SMP / total variation of the slope (median over paths)")
        ax.set_title(name, fontsize=10)
        ax.legend(fontsize=8, loc="center right")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    print(f"figure: {path}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nets", type=int, default=40, help="training (and held-out) networks of each kind")
    ap.add_argument("--png", default="smp_forensics.png", help="the figure: features and thresholds (PNG or SVG)")
    ap.add_argument("--quick", action="store_true", help="8 networks of each kind (tests)")
    args = ap.parse_args()
    nets = 8 if args.quick else args.nets
    x = signals(32, seed=0)
    paths = paths_between(x[:16], x[16:], STEPS, margin=MARGIN)
    results = {}
    results["activation: ReLU or GELU?"] = experiment(
        "activation (average pooling in both)",
        {"ReLU": ("relu", "avg"), "GELU": ("gelu", "avg")},
        "ReLU",
        nets,
        paths,
    )
    results["pooling: max or average?"] = experiment(
        "pooling (softplus in both)",
        {"max pooling": ("softplus", "max"), "average pooling": ("softplus", "avg")},
        "max pooling",
        nets,
        paths,
    )
    plot(results, args.png)


if __name__ == "__main__":
    main()
