"""How SMP propagates through random convolutional networks: the propagation model
(:mod:`exactnet.probe.smp_model`, our derivation) against measurements.

Three random (seeded, float64) networks on synthetic data (Gaussian-smoothed noise):

* ``1-D CNN`` on signals of 64 samples: Conv1d(1, 8, 5) - ReLU - Conv1d(8, 8, 5) - ReLU -
  MaxPool1d(2) - Conv1d(8, 8, 5) - ReLU - MaxPool1d(2) - Linear(96, 16) - ReLU -
  Linear(16, 1);
* ``2-D CNN, pool then ReLU`` on 24 x 24 images: Conv2d(1, 8, 3) - MaxPool2d(2) - ReLU -
  Conv2d(8, 8, 3) - MaxPool2d(2) - ReLU - Conv2d(8, 8, 3) - ReLU - Linear(32, 4);
* ``2-D CNN, ReLU then pool``: the same with each ReLU before its pooling.

Along straight paths between pairs of inputs, every layer's output SMP is measured
(sampled, at a step fine enough to resolve the kinks of deep units: 16,384 steps by
default) and predicted from the statistics of the layer's input (one step). The tables
give the means over the layer's elements, the figure both per layer. ``--exact-check``
also compares the measurement with the exact SMP of the 1-D CNN (the exact 1-D engine,
float mode) along 2 paths.

    python examples/smp_propagation.py [--paths 8] [--steps 16384] [--png FILE] [--json FILE] [--quick]
"""

from __future__ import annotations

import argparse
import json

import numpy as np
import torch
from torch import nn

from exactnet.probe.data import smooth_images, smooth_signals
from exactnet.probe.smp import exact_smp, paths_between
from exactnet.probe.smp_model import SMPPropagation, smp_propagation


def cnn_1d() -> nn.Sequential:
    return nn.Sequential(
        nn.Conv1d(1, 8, 5), nn.ReLU(), nn.Conv1d(8, 8, 5), nn.ReLU(), nn.MaxPool1d(2),
        nn.Conv1d(8, 8, 5), nn.ReLU(), nn.MaxPool1d(2), nn.Flatten(), nn.Linear(96, 16), nn.ReLU(), nn.Linear(16, 1),
    )  # fmt: skip


def cnn_2d(relu_first: bool) -> nn.Sequential:
    def block(c_in: int) -> list[nn.Module]:
        pair = [nn.ReLU(), nn.MaxPool2d(2)] if relu_first else [nn.MaxPool2d(2), nn.ReLU()]
        return [nn.Conv2d(c_in, 8, 3), *pair]

    return nn.Sequential(*block(1), *block(8), nn.Conv2d(8, 8, 3), nn.ReLU(), nn.Flatten(), nn.Linear(32, 4))


def seeded(make, seed: int) -> nn.Sequential:
    torch.manual_seed(seed)
    return make().double().eval()


def experiments(paths: int, steps: int) -> list[tuple[nn.Sequential, SMPPropagation]]:
    signals = smooth_signals(2 * paths, 64, width=3.0, seed=1)
    images = smooth_images(2 * paths, 24, width=2.0, seed=2)
    runs = [
        ("1-D CNN", seeded(cnn_1d, 0), signals),
        ("2-D CNN, pool then ReLU", seeded(lambda: cnn_2d(False), 0), images),
        ("2-D CNN, ReLU then pool", seeded(lambda: cnn_2d(True), 0), images),
    ]
    out = []
    for name, net, data in runs:
        res = smp_propagation(net, paths_between(data[:paths], data[paths:], steps), name=name, progress=False)
        print(res.table(), "\n", flush=True)
        out.append((net, res))
    return out


def summary(results: list[SMPPropagation]) -> None:
    """The range of predicted / measured per kind of layer, over the layers with kinks."""
    print("predicted / measured, by kind of layer (layers whose input has kinks, or ReLUs):")
    for kind in ("relu", "max_pool", "linear"):
        ratios = [
            (res.model, r.name, r.ratio)
            for res in results
            for r in res.rows
            if r.kind == kind and r.measured > 0 and "Flatten" not in r.name
        ]
        vals = np.array([v for _, _, v in ratios])
        print(f"  {kind:<9} {len(vals)} layers: {vals.min():.3f} .. {vals.max():.3f} (median {np.median(vals):.3f})")


def exact_check(net: nn.Sequential, paths: int, steps: int) -> None:
    """The measured SMP of the 1-D CNN's ReLU outputs and last layer against the exact
    SMP from the 1-D engine along the first 2 paths."""
    from exactnet import from_torch

    signals = smooth_signals(2 * paths, 64, width=3.0, seed=1)
    a, b = signals[:2], signals[paths : paths + 2]
    res = smp_propagation(net, paths_between(a, b, steps), progress=False)
    lowered = from_torch(net, input_shape=(1, 64))
    exact = [exact_smp(lowered, a[p].flatten().tolist(), b[p].flatten().tolist(), exact=False) for p in range(2)]
    # the lowered network's layers: each affine map with the ReLU after it (the pools are
    # lowered into extra ReLU layers); the first ReLU and the output map one to one
    first = float(np.mean([e.layers[0].mean_post for e in exact]))
    last = float(np.mean([e.layers[-1].mean_post for e in exact]))
    print(
        f"exact check (2 paths, {steps} steps): first ReLU measured {res.rows[1].measured:.5f}, exact {first:.5f}; "
        f"output measured {res.rows[-1].measured:.5f}, exact {last:.5f}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--paths", type=int, default=8)
    ap.add_argument("--steps", type=int, default=16384)
    ap.add_argument("--png", default=None, help="save the figure (predicted and measured per layer)")
    ap.add_argument("--json", default=None, help="save the three results as JSON")
    ap.add_argument("--exact-check", action="store_true")
    ap.add_argument("--quick", action="store_true", help="4 paths x 2,048 steps")
    args = ap.parse_args()
    if args.quick:
        args.paths, args.steps = 4, 2048
    runs = experiments(args.paths, args.steps)
    results = [res for _, res in runs]
    summary(results)
    if args.exact_check:
        exact_check(runs[0][0], args.paths, args.steps)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({res.model: res.to_json() for res in results}, fh, indent=1)
    if args.png:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(1, len(results), figsize=(5.2 * len(results), 4.2))
        for ax, res in zip(axes, results):
            res.plot(ax=ax, title=f"{res.model} ({res.paths} paths x {res.steps} steps)")
        fig.suptitle("SMP per layer: measured, and predicted from the layer before (our model)", fontsize=11)
        fig.tight_layout()
        fig.savefig(args.png, dpi=110)
        print(f"figure: {args.png}")


if __name__ == "__main__":
    main()
