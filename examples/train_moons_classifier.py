"""Train the built-in 2-D classifier of the demo (two moons, 2-16-16-2 ReLU MLP).

Writes ``exactnet/data/moons_classifier.npz`` (weights W0, b0, ... in torch's (out, in)
convention, float32 values, plus the training points X, y). The demo and the tests load
that file, so nothing is trained or downloaded at run time; rerun this script to
regenerate it (deterministic on one machine: fixed seeds, one thread).

    python examples/train_moons_classifier.py [out.npz] [--quick]

``--quick``: 100 training steps instead of 600 (for the tests; the shipped file is the
full run's).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from torch import nn


def two_moons(n: int, noise: float, rng) -> tuple[np.ndarray, np.ndarray]:
    """The two interleaving half circles (as scikit-learn's make_moons), float32."""
    n0 = n // 2
    t0 = rng.uniform(0, np.pi, n0)
    t1 = rng.uniform(0, np.pi, n - n0)
    X = np.concatenate([np.stack([np.cos(t0), np.sin(t0)], 1), np.stack([1 - np.cos(t1), 0.5 - np.sin(t1)], 1)])
    X += rng.normal(0, noise, X.shape)
    y = np.concatenate([np.zeros(n0, int), np.ones(n - n0, int)])
    return X.astype(np.float32), y


def main(out: str | None = None, steps: int = 600) -> None:
    out_path = Path(out or Path(__file__).resolve().parents[1] / "exactnet" / "data" / "moons_classifier.npz")
    threads = torch.get_num_threads()
    torch.manual_seed(0)
    torch.set_num_threads(1)  # one thread: the same float sums, so the same weights, on every run
    try:
        X, y = two_moons(400, 0.12, np.random.default_rng(0))
        model = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 2))
        opt = torch.optim.Adam(model.parameters(), lr=1e-2)
        Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
        for _ in range(steps):
            opt.zero_grad()
            loss = nn.functional.cross_entropy(model(Xt), yt)
            loss.backward()
            opt.step()
        acc = (model(Xt).argmax(1) == yt).float().mean().item()
    finally:
        torch.set_num_threads(threads)
    weights = {}
    for i, m in enumerate([m for m in model if isinstance(m, nn.Linear)]):
        weights[f"W{i}"] = m.weight.detach().numpy().astype(np.float32)
        weights[f"b{i}"] = m.bias.detach().numpy().astype(np.float32)
    np.savez(out_path, X=X, y=y, **weights)
    print(f"training accuracy {acc:.3f}, loss {loss.item():.4f}; wrote {out_path}")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out_pos", nargs="?", metavar="out.npz", help="where to write (default: the package's data file)")
    ap.add_argument("--out", default=None, help="the same as the positional argument")
    ap.add_argument("--quick", action="store_true", help="100 steps (tests)")
    args = ap.parse_args()
    main(args.out or args.out_pos, steps=100 if args.quick else 600)
