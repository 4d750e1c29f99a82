"""N1 benchmark: exactnet's exact N1 against pymfe and problexity, side by side, and at scale.

Parts (``--part``, default ``values,scale``):

* ``values``: two overlapping Gaussian classes (n in {1000, 4000}, p in {64, 256}, seeded);
  every library gets the same X, y. Columns: pymfe's N1 (``MFE(features=["n1"])``, Gower
  distances, one MST) against ``exactnet.n1(X, y, metric="gower")``; problexity's N1
  (raw Euclidean) against ``exactnet.n1(X, y)``, with the value problexity's formula gives
  on exactnet's exact tree (cross-class edges / 2n instead of distinct boundary points,
  ../shared/spec/separability.md), which is problexity's number. Times are the best of
  ``--repeat`` runs (spread printed), ratios = the anchor's time / exactnet's.
* ``scale``: exact N1 at n = 20,000, p = 512 (ten Gaussian clusters) on the CPU, in a fresh
  process: wall time and peak resident memory (the goal: at most 60 s and 2 GiB on the
  2-core machines).
* ``gpu``: exact N1 at n = 50,000, p = 4,096 on a CUDA device (time, peak GPU and CPU
  memory) and the tree against the CPU's at n = 20,000, p = 512.

    pip install pymfe problexity
    python benchmarks/bench_separability.py [--part values,scale] [--repeat 3]
    python benchmarks/bench_separability.py --part gpu      # where torch sees a GPU
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from _timing import time_best

from exactnet import n1


def two_classes(n: int, p: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two overlapping Gaussian classes: the label is the sign of a noisy first feature."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p))
    y = (X[:, 0] + 0.5 * rng.standard_normal(n) > 0).astype(int)
    return X, y


def clusters(n: int, p: int, seed: int = 0, classes: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """Ten Gaussian clusters, one per class (a representation-like point set)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, n)
    centres = rng.standard_normal((classes, p)).astype(np.float32) * 0.6
    X = centres[y] + rng.standard_normal((n, p), dtype=np.float32)
    return X.astype(np.float64), y


def pymfe_n1(X: np.ndarray, y: np.ndarray) -> float:
    from pymfe.mfe import MFE

    mfe = MFE(groups=["complexity"], features=["n1"], suppress_warnings=True)
    mfe.fit(X, y, suppress_warnings=True)
    names, values = mfe.extract(suppress_warnings=True)
    return float(values[names.index("n1")])


def problexity_formula(X: np.ndarray, y: np.ndarray) -> float:
    """problexity's count on the exact tree: cross-class edges / (2 n)."""
    from exactnet.probe.separability import mst_edges

    edges = mst_edges(X)
    return float(np.sum(y[edges[:, 0]] != y[edges[:, 1]]) / 2 / len(y))


def part_values(repeat: int) -> None:
    import problexity

    print(
        "| n | p | pymfe N1 | exactnet N1 (Gower) | pymfe s | exactnet s | ratio | problexity N1 |"
        " its formula on the exact tree | exactnet N1 (Euclidean) | problexity s | exactnet s | ratio |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    n1(*two_classes(50, 4))  # compile (or load) the kernels outside the timings
    n1(*two_classes(50, 4), metric="gower")
    for n in (1000, 4000):
        for p in (64, 256):
            X, y = two_classes(n, p)
            t_mfe, v_mfe = time_best(lambda X=X, y=y: pymfe_n1(X, y), repeat)
            t_gow, r_gow = time_best(lambda X=X, y=y: n1(X, y, metric="gower"), repeat)
            t_prx, v_prx = time_best(lambda X=X, y=y: problexity.classification.n1(X, y), repeat)
            t_euc, r_euc = time_best(lambda X=X, y=y: n1(X, y), repeat)
            formula = problexity_formula(X, y)
            print(
                f"| {n} | {p} | {v_mfe:.6g} | {r_gow.value:.6g} | {t_mfe:.3f} | {t_gow:.3f} | {t_mfe / t_gow:.1f}x |"
                f" {v_prx:.6g} | {formula:.6g} | {r_euc.value:.6g} | {t_prx:.3f} | {t_euc:.3f} |"
                f" {t_prx / t_euc:.1f}x |",
                flush=True,
            )
            print(
                f"<!-- spreads: pymfe {t_mfe.note()}; exactnet Gower {t_gow.note()}; problexity {t_prx.note()};"
                f" exactnet Euclidean {t_euc.note()} -->",
                flush=True,
            )


def _scale_child(n: int, p: int, device: str | None) -> None:
    """One measurement in this (fresh) process; prints a JSON line."""
    X, y = clusters(n, p)
    n1(*clusters(60, 8), device=device)  # compile (or load) the kernels first
    base = _current_rss_gib()
    if device is not None:
        import torch

        torch.cuda.reset_peak_memory_stats()
    t = time.perf_counter()
    res = n1(X, y, device=device)
    seconds = time.perf_counter() - t
    out = {
        "n": n, "p": p, "device": device or "cpu", "seconds": seconds, "n1": res.value, "boundary": res.boundary,
        "peak_rss_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
        "rss_before_gib": base, "data_gib": X.nbytes / 2**30,
    }  # fmt: skip
    if device is not None:
        import torch

        out["peak_gpu_gib"] = torch.cuda.max_memory_allocated() / 2**30
    print(json.dumps(out), flush=True)


def _current_rss_gib() -> float:
    with open("/proc/self/status") as fh:
        kib = next(int(line.split()[1]) for line in fh if line.startswith("VmRSS:"))
    return kib / 2**20


def _run_child(n: int, p: int, device: str | None) -> dict:
    cmd = [sys.executable, __file__, "--child", f"{n},{p},{device or ''}"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1]
    return json.loads(out)


def part_scale(repeat: int) -> None:
    runs = [_run_child(20_000, 512, None) for _ in range(repeat)]
    secs = [r["seconds"] for r in runs]
    r = runs[0]
    print(
        f"exact N1, n = 20,000, p = 512, CPU: best {min(secs):.1f} s (spread {max(secs) - min(secs):.1f} s over "
        f"{len(secs)} fresh processes), peak RSS {max(x['peak_rss_gib'] for x in runs):.2f} GiB "
        f"of the whole process (data {r['data_gib']:.2f} GiB, resident before the call {r['rss_before_gib']:.2f} GiB); "
        f"N1 = {r['n1']:.5f}",
        flush=True,
    )


def part_gpu() -> None:
    import torch

    from exactnet.probe._mst import minimum_spanning_tree

    X, _ = clusters(20_000, 512)
    t = time.perf_counter()
    cpu = minimum_spanning_tree(X)
    t_cpu = time.perf_counter() - t
    t = time.perf_counter()
    gpu = minimum_spanning_tree(X, device=torch.device("cuda"))
    t_gpu = time.perf_counter() - t
    same = bool(np.array_equal(cpu.edges, gpu.edges))
    print(f"n = 20,000, p = 512: CPU {t_cpu:.1f} s, CUDA {t_gpu:.1f} s, same tree: {same}", flush=True)
    print(f"  CPU stats {cpu.stats}\n  GPU stats {gpu.stats}", flush=True)
    r = _run_child(50_000, 4096, "cuda")
    print(
        f"exact N1, n = 50,000, p = 4,096, CUDA: {r['seconds']:.1f} s, peak GPU {r['peak_gpu_gib']:.2f} GiB, "
        f"peak RSS {r['peak_rss_gib']:.2f} GiB (data {r['data_gib']:.2f} GiB); N1 = {r['n1']:.5f}",
        flush=True,
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--part", default="values,scale", help="values, scale, gpu (comma-separated)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        n, p, device = args.child.split(",")
        _scale_child(int(n), int(p), device or None)
        return
    parts = args.part.split(",")
    if "values" in parts:
        part_values(args.repeat)
    if "scale" in parts:
        part_scale(args.repeat)
    if "gpu" in parts:
        part_gpu()


if __name__ == "__main__":
    main()
