"""Train the built-in 2-D classifier of the demo (two moons, 2-16-16-2 ReLU MLP).

Writes ``exactnet/data/moons_classifier.npz`` (weights W0, b0, ... in torch's (out, in)
convention, float32 values, plus the training points X, y). The demo and the tests load
that file, so nothing is trained or downloaded at run time; rerun this script to
regenerate it (deterministic on one machine: fixed seeds, one thread).

    python examples/train_moons_classifier.py [out.npz]
"""

from __future__ import annotations

import sys
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


def main(out=None):
    out = Path(out or Path(__file__).resolve().parents[1] / "exactnet" / "data" / "moons_classifier.npz")
    torch.manual_seed(0)
    torch.set_num_threads(1)
    X, y = two_moons(400, 0.12, np.random.default_rng(0))
    model = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 2))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    for _ in range(600):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(Xt), yt)
        loss.backward()
        opt.step()
    acc = (model(Xt).argmax(1) == yt).float().mean().item()
    weights = {}
    for i, m in enumerate([m for m in model if isinstance(m, nn.Linear)]):
        weights[f"W{i}"] = m.weight.detach().numpy().astype(np.float32)
        weights[f"b{i}"] = m.bias.detach().numpy().astype(np.float32)
    np.savez(out, X=X, y=y, **weights)
    print(f"training accuracy {acc:.3f}, loss {loss.item():.4f}; wrote {out}")


if __name__ == "__main__":
    main(*sys.argv[1:])
