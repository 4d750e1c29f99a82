"""SMP benchmark: batched sampled SMP against a per-path loop, and exact against sampled.

1. ``batched``: the sampled SMP of every activation of ResNet-18 (random init, seeded) along
   ``--paths`` paths of ``--steps`` samples between random images (``--image-size``),
   channel means per layer. exactnet's :func:`layerwise_smp` (lazy paths computed batch
   by batch, one capture of every path, second differences and peaks vectorised over
   paths and units) against two per-path loops, each a forward pass per path: one applies
   the definition unit by unit in numpy (the straightforward implementation), the other
   exactnet's :func:`sampled_smp` to one path's units at once. All give the same values
   (checked); the batched time is the best of ``--repeat``. ``--loop-paths K`` times the
   loops on the first K paths and scales their time by paths / K (a per-path loop's time
   is linear in the paths), checking their values against the batched run on those K.
2. ``exact``: the exact SMP of every unit of 2-32-32-1 (:func:`exact_smp`, rationals)
   along 16 random segments of [-1, 1]^2, against the sampled SMP of the same torch
   network (float64) at 512, 4,096 and 16,384 steps: the largest relative difference of
   the layer means, and the times.

    python benchmarks/bench_smp.py [--part batched,exact] [--paths 16] [--steps 128] [--image-size 64]
    python benchmarks/bench_smp.py --part batched --paths 256 --steps 512 --image-size 224 --device cuda --loop-paths 32
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from _timing import time_best

from exactnet import from_torch
from exactnet.probe import capture
from exactnet.probe._device import full_float32
from exactnet.probe.data import random_images, torchvision_model
from exactnet.probe.smp import LazyPaths, exact_smp, layerwise_smp, paths_between, sampled_smp


def _runs(mask: np.ndarray) -> list[np.ndarray]:
    """The maximal runs of True in ``mask``, as index arrays."""
    edges = np.flatnonzero(np.diff(np.r_[0, mask.astype(np.int8), 0]))
    return [np.arange(a, b) for a, b in zip(edges[::2], edges[1::2])]


def smp_one_unit(g: np.ndarray, h: float, eps: float, scale: float, margin: int = 2) -> float:
    """The definition (docs/definitions.md, "SMP") for one unit along one path, in plain
    numpy: the rounding floor 64 eps scale, the curvature level (the lower median |D| over
    all samples, or over the runs of more than 16 smooth samples, above the floor and
    within a quarter of |D_i| of both neighbours, when larger), the threshold 10 x that
    level or the floor, runs of at most 4 samples above it, located by their centre of
    mass inside [0, 1]."""
    S = g[2:] - 2 * g[1:-1] + g[:-2]
    D = np.abs(S)
    floor = 64 * eps * scale
    step = np.abs(np.diff(S))
    calm = np.zeros(len(D), dtype=bool)
    calm[1:-1] = (D[1:-1] > floor) & (step[1:] <= 0.25 * D[1:-1]) & (step[:-1] <= 0.25 * D[1:-1])
    smooth = [run for run in _runs(calm) if len(run) > 16]
    level = np.sort(D)[(len(D) - 1) // 2]
    if smooth:
        values = np.sort(D[np.concatenate(smooth)])
        level = max(level, values[(len(values) - 1) // 2])
    tau = max(10.0 * level, floor)
    t = (np.arange(1, len(D) + 1) - margin) * h  # D_i sits at sample i + 1
    total = 0.0
    for run in _runs(D > tau):
        if len(run) <= 4:
            mass = D[run].sum()
            if 0.0 <= (D[run] * t[run]).sum() / mass <= 1.0:
                total += mass
    return total / h


def per_path_captures(model, paths, count, device) -> list[dict]:
    """Every activation's output rows, one path at a time (a forward pass per path)."""
    with full_float32():  # as layerwise_smp: float32 products and convolutions in float32, not TF32
        return [
            capture(model, paths[p], max_samples=None, batch_size=paths.samples_per_path, device=device,
                    progress=False, sides=("output",))
            for p in range(count)
        ]  # fmt: skip


def per_path_loop(model, paths, count, h, eps, device, per_unit: bool) -> dict[str, float]:
    """Layer means of the sampled SMP over the first ``count`` paths, one path at a time:
    ``per_unit`` applies the definition unit by unit in numpy (:func:`smp_one_unit`),
    otherwise exactnet's :func:`sampled_smp` takes one path's units at once."""
    per_path = per_path_captures(model, paths, count, device)
    out = {}
    for name in per_path[0]:
        scale = max(float(caps[name].output.abs().max()) for caps in per_path)  # the layer's, as SMPScore's
        values = []
        for caps in per_path:
            rows = caps[name].output.numpy()  # (samples, units)
            if per_unit:
                values += [smp_one_unit(rows[:, u], h, eps, scale) for u in range(rows.shape[1])]
            else:
                smp = sampled_smp(np.ascontiguousarray(rows.T), h, eps=eps, scale=scale, t0=-2 * h, window=(0.0, 1.0))
                values += list(smp)
        out[name] = float(np.mean(values))
    return out


def part_batched(args) -> None:
    model = torchvision_model("resnet18", seed=0)
    if args.device:
        model = model.to(args.device)
    imgs = random_images(2 * args.paths, args.image_size, seed=1)
    if args.device:
        imgs = imgs.to(args.device)
    paths = paths_between(imgs[: args.paths], imgs[args.paths :], args.steps, lazy=True)
    loop_paths = min(args.loop_paths or args.paths, args.paths)
    h = 1 / (args.steps - 1)
    eps = float(torch.finfo(torch.float32).eps)

    def run(p):
        return layerwise_smp(model, p, reduction="channel_mean", batch_size=512, device=args.device, progress=False)

    def batched(p):
        return {row.name: row.values["smp_mean"] for row in run(p).layers}

    sampled_smp(np.zeros((1, 8)), 0.1)  # compile the CPU kernel before any timing
    t_batch, res = time_best(lambda: run(paths), args.repeat)
    fast = {row.name: row.values["smp_mean"] for row in res.layers}
    scoring = sum(row.seconds for row in res.layers)
    print(
        f"ResNet-18, {args.paths} paths x {args.steps} steps of {args.image_size} x {args.image_size} images "
        f"(lazy paths), {len(fast)} activation call sites, device {args.device or 'cpu'}: batched layerwise_smp "
        f"{t_batch:.2f} s ({t_batch.note()}); in the last run the capture (forward passes) took "
        f"{res.capture_seconds:.2f} s and the SMP of all layers {scoring:.2f} s",
        flush=True,
    )
    subset = LazyPaths(paths.start[:loop_paths], paths.end[:loop_paths], args.steps)
    same = batched(subset) if loop_paths < args.paths else fast
    scale_up = args.paths / loop_paths
    for per_unit, label in ((False, "per-path loop, units vectorised"), (True, "per-path, per-unit loop")):
        t_loop, slow = time_best(lambda u=per_unit: per_path_loop(model, subset, loop_paths, h, eps, args.device, u), 1)
        diffs = {k: abs(same[k] - slow[k]) / max(abs(slow[k]), 1e-300) for k in slow}
        where = max(diffs, key=diffs.__getitem__)
        worst = diffs[where]
        total = t_loop * scale_up
        extrapolated = f" ({loop_paths} paths timed, x {scale_up:g})" if loop_paths < args.paths else ""
        print(
            f"  {label}: {total:.2f} s{extrapolated}: batched is {total / t_batch:.1f}x faster; largest relative "
            f"difference of the layer means {worst:.2e} ({where})",
            flush=True,
        )


def part_exact(args) -> None:
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(2, 32), torch.nn.ReLU(), torch.nn.Linear(32, 32), torch.nn.ReLU(), torch.nn.Linear(32, 1)
    ).double()
    net = from_torch(model)
    rng = np.random.default_rng(0)
    ends = [(rng.uniform(-1, 1, 2), rng.uniform(-1, 1, 2)) for _ in range(16)]
    t = time.perf_counter()
    exact = [exact_smp(net, a.tolist(), b.tolist()) for a, b in ends]
    t_exact = time.perf_counter() - t
    means = np.array([[layer.mean_post for layer in e.layers[:2]] for e in exact]).mean(axis=0)
    print(f"2-32-32-1, 16 segments: exact SMP of every unit (rationals) {t_exact:.2f} s", flush=True)
    a = torch.tensor(np.array([e[0] for e in ends]))
    b = torch.tensor(np.array([e[1] for e in ends]))
    for steps in (512, 4096, 16384):
        t = time.perf_counter()
        res = layerwise_smp(model, paths_between(a, b, steps), reduction="flatten", progress=False)
        t_s = time.perf_counter() - t
        sampled = np.array([row.values["smp_mean"] for row in res.layers])
        rel = np.abs(sampled - means) / means
        print(
            f"  sampled at {steps} steps: {t_s:.2f} s, layer means {np.array2string(sampled, precision=6)} against "
            f"exact {np.array2string(means, precision=6)}: largest relative difference {rel.max():.2e}",
            flush=True,
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--part", default="batched,exact")
    ap.add_argument("--paths", type=int, default=16)
    ap.add_argument("--steps", type=int, default=128)
    ap.add_argument("--image-size", type=int, default=64)
    ap.add_argument("--device", default=None)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--loop-paths", type=int, default=None, help="time the per-path loops on this many paths")
    args = ap.parse_args()
    parts = args.part.split(",")
    if "batched" in parts:
        part_batched(args)
    if "exact" in parts:
        part_exact(args)


if __name__ == "__main__":
    main()
