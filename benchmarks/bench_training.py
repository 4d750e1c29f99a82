"""Cost of exact snapshots during training (issue 14's goal: a snapshot of a 2-16-16-16-2
classifier at most 50 ms, so that 100 snapshots add under 10 s to training).

Trains the paper's setting (2 -> [16, 16, 16] -> 2, Adam, lr 1e-3, mini-batches of 32,
two moons of 400 points) for ``--epochs`` epochs with a snapshot after every epoch (and
before the first), ``--repeat`` times with fresh seeds. Prints, over all snapshots but
each run's first (which loads the compiled kernels): the best, median, 90th percentile
and largest time of one snapshot, how many took over 50 ms (those are Python's full
garbage-collection passes landing in a snapshot: about 200 ms each, a few per run), and
the snapshots' share of the run; then the same run
without snapshots, for the time training alone takes. No anchor does exact snapshots, so
there is no ratio here.

    python benchmarks/bench_training.py [--epochs 100] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from exactnet.training import make_dataset, train_classifier


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--epochs", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    X, y = make_dataset("moons", 400, seed=0)
    Xt, yt = make_dataset("moons", 400, seed=1)
    times, regions, totals, firsts = [], [], [], []
    for seed in range(args.repeat):
        t = time.perf_counter()
        _, run = train_classifier((X, y), test=(Xt, yt), epochs=args.epochs, snapshots=args.epochs + 1, seed=seed)
        totals.append(time.perf_counter() - t)
        secs = [s.seconds for s in run.snapshots]
        firsts.append(secs[0])
        times += secs[1:]
        regions += [s.num_regions for s in run.snapshots]
    plain = []
    for seed in range(args.repeat):
        t = time.perf_counter()
        train_classifier((X, y), epochs=args.epochs, snapshots=[args.epochs], seed=seed)
        plain.append(time.perf_counter() - t)
    ms = 1e3 * np.array(times)
    per_run = sum(times) / args.repeat + np.mean(firsts)
    print(
        f"2-16-16-16-2 on two moons, {args.epochs} epochs, {args.epochs + 1} snapshots per run, {args.repeat} runs "
        f"({len(times)} snapshots timed; {min(regions)} to {max(regions)} regions):\n"
        f"  one snapshot: best {ms.min():.1f} ms, median {np.median(ms):.1f} ms, 90th percentile "
        f"{np.percentile(ms, 90):.1f} ms, largest {ms.max():.1f} ms (first of each run, loading the kernels: "
        f"{1e3 * min(firsts):.0f} to {1e3 * max(firsts):.0f} ms); {int(np.sum(ms > 50))} of {len(ms)} over 50 ms\n"
        f"  a run with snapshots: best {min(totals):.2f} s (spread {max(totals) - min(totals):.2f} s), of which "
        f"snapshots {per_run:.2f} s; without them: best {min(plain):.2f} s (spread {max(plain) - min(plain):.2f} s)",
        flush=True,
    )


if __name__ == "__main__":
    main()
