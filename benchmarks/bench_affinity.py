"""Affinity-score benchmark: exactnet against the reference pipeline, side by side.

The reference pipeline is what AffScoreDeep's ``rho_aff`` does (docs/definitions.md): unbiased
covariances + 1e-6 I, ``A = S (S Sigma_X S)^{-1/2} S`` with ``S = sqrtm(Sigma_Y)`` (scipy
``sqrtm``, twice) and a pseudo-inverse, the squared-distance matrix, POT's exact
``ot.emd2``. Both get identical X, Y (n = 2048 samples, d in {64, 256, 1024}) for three
layer kinds:

* ``relu``: X a correlated Gaussian with a shift, Y = relu(X) (what a ReLU layer sees);
* ``gelu``: the same through GELU;
* ``independent``: X and Y independent Gaussians (the hardest assignment problem).

Prints per-layer seconds of each (best of ``--repeat``), the ratio and the scores'
difference.

    pip install pot
    python benchmarks/bench_affinity.py [--n 2048] [--dims 64,256,1024] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from _timing import time_best

from exactnet import affinity_score


def reference_score(X: np.ndarray, Y: np.ndarray) -> float:
    """AffScoreDeep's rho_aff on the CPU with scipy sqrtm (samples as rows here)."""
    import ot
    from scipy.linalg import sqrtm

    d = X.shape[1]
    mx, my = X.mean(0), Y.mean(0)
    Sx = np.cov(X.T) + 1e-6 * np.eye(d)
    Sy = np.cov(Y.T) + 1e-6 * np.eye(d)
    S = np.real(sqrtm(Sy))
    A = np.real(S @ np.linalg.pinv(np.real(sqrtm(S @ Sx @ S))) @ S)
    TX = (X - mx) @ A.T + my
    C = ot.dist(TX, Y)  # squared Euclidean
    n = X.shape[0]
    w = np.full(n, 1.0 / n)
    cost = ot.emd2(w, w, C, numItermax=10**7)
    return float(1 - np.sqrt(cost / (2 * np.trace(Sy))))


def layer(kind: str, n: int, d: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    mix = rng.standard_normal((d, d)) / np.sqrt(d)
    X = rng.standard_normal((n, d)) @ mix + 0.3 * rng.standard_normal(d)
    if kind == "relu":
        return X, np.maximum(X, 0)
    if kind == "gelu":
        return X, torch.nn.functional.gelu(torch.from_numpy(X)).numpy()
    return X, rng.standard_normal((n, d)) @ mix


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=2048)
    ap.add_argument("--dims", default="64,256,1024")
    ap.add_argument("--kinds", default="relu,gelu,independent")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    print(f"n = {args.n}, torch threads = {torch.get_num_threads()}; seconds per layer, best of {args.repeat}")
    print(
        f"{'layer':>12} {'d':>5} {'reference s':>12} {'exactnet s':>11} {'spread':>7} {'ratio':>7} {'score':>10} "
        f"{'|diff|':>9}"
    )
    ratios = []
    for d in (int(v) for v in args.dims.split(",")):
        for kind in args.kinds.split(","):
            X, Y = layer(kind, args.n, d, seed=d)
            t_ref, s_ref = time_best(lambda X=X, Y=Y: reference_score(X, Y), args.repeat)
            # the reference's absolute ridge, for a like-for-like comparison
            t_ours, s_ours = time_best(lambda X=X, Y=Y: affinity_score(X, Y, ridge_mode="absolute"), args.repeat)
            ratios.append(t_ref / t_ours)
            print(
                f"{kind:>12} {d:>5} {t_ref:>12.3f} {t_ours:>11.3f} {t_ours.spread:>7.3f} {t_ref / t_ours:>6.1f}x "
                f"{s_ours:>10.6f} "
                f"{abs(s_ours - s_ref):>9.1e}"
            )
    print(f"ratio: min {min(ratios):.1f}x, geometric mean {float(np.exp(np.mean(np.log(ratios)))):.1f}x")


if __name__ == "__main__":
    main()
