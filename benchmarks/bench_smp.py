"""SMP benchmark: batched sampled SMP against a per-path loop, and exact against sampled.

1. ``batched``: the sampled SMP of every activation of ResNet-18 (random init, seeded) along
   ``--paths`` paths of ``--steps`` samples between random images (``--image-size``),
   channel means per layer. exactnet's :func:`layerwise_smp` (one capture of every path,
   second differences and peaks vectorised over paths and units) against a per-path
   loop: the same capture path by path, then the definition applied unit by unit in numpy
   (the straightforward implementation). Both give the same values (checked); times are
   the best of ``--repeat``.
2. ``exact``: the exact SMP of every unit of 2-32-32-1 (:func:`exact_smp`, rationals)
   along 16 random segments of [-1, 1]^2, against the sampled SMP of the same torch
   network (float64) at 512, 4,096 and 16,384 steps: the largest relative difference of
   the layer means, and the times.

    python benchmarks/bench_smp.py [--part batched,exact] [--paths 16] [--steps 128] [--image-size 64]
    python benchmarks/bench_smp.py --part batched --paths 256 --steps 512 --image-size 224 --device cuda
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
from exactnet.probe.data import random_images, torchvision_model
from exactnet.probe.smp import exact_smp, layerwise_smp, paths_between


def smp_one_unit(g: np.ndarray, h: float, eps: float, scale: float, margin: int = 2) -> float:
    """The definition (docs/definitions.md, "SMP") for one unit along one path, in plain
    numpy: threshold 10 x the median |D| (the lower middle value, as torch's) or 64 eps
    scale, runs of at most 4 samples, located by their centre of mass inside [0, 1]."""
    D = np.abs(g[2:] - 2 * g[1:-1] + g[:-2])
    tau = max(10.0 * np.sort(D)[(len(D) - 1) // 2], 64 * eps * scale)
    t = (np.arange(1, len(D) + 1) - margin) * h  # D_i sits at sample i + 1
    total, run = 0.0, []
    for i, value in enumerate(list(D) + [0.0]):
        if value > tau:
            run.append(i)
            continue
        if run and len(run) <= 4:
            mass = D[run].sum()
            if 0.0 <= (D[run] * t[run]).sum() / mass <= 1.0:
                total += mass
        run = []
    return total / h


def per_path_loop(model, paths, h, eps, device) -> dict[str, float]:
    """Layer means of the sampled SMP, one path at a time, one unit at a time."""
    sums: dict[str, float] = {}
    counts: dict[str, int] = {}
    per_path = [
        capture(model, paths[p], max_samples=None, batch_size=len(paths[p]), device=device, progress=False)
        for p in range(len(paths))
    ]
    for name in per_path[0]:
        scale = max(float(caps[name].output.abs().max()) for caps in per_path)  # the layer's, as SMPScore's
        for caps in per_path:
            out = caps[name].output.numpy()
            for unit in range(out.shape[1]):
                sums[name] = sums.get(name, 0.0) + smp_one_unit(out[:, unit], h, eps, scale)
                counts[name] = counts.get(name, 0) + 1
    return {name: sums[name] / counts[name] for name in sums}


def part_batched(args) -> None:
    model = torchvision_model("resnet18", seed=0)
    if args.device:
        model = model.to(args.device)
    imgs = random_images(2 * args.paths, args.image_size, seed=1)
    paths = paths_between(imgs[: args.paths], imgs[args.paths :], args.steps)
    h = 1 / (args.steps - 1)
    eps = float(torch.finfo(torch.float32).eps)

    def batched():
        res = layerwise_smp(model, paths, reduction="channel_mean", batch_size=512, device=args.device, progress=False)
        return {row.name: row.values["smp_mean"] for row in res.layers}

    t_batch, fast = time_best(batched, args.repeat)
    t_loop, slow = time_best(lambda: per_path_loop(model, paths, h, eps, args.device), 1)
    worst = max(abs(fast[k] - slow[k]) / max(abs(slow[k]), 1e-300) for k in slow)
    print(
        f"ResNet-18, {args.paths} paths x {args.steps} steps of {args.image_size} x {args.image_size} images, "
        f"{len(fast)} activation call sites, device {args.device or 'cpu'}:\n"
        f"  batched layerwise_smp {t_batch:.2f} s ({t_batch.note()}), per-path loop {t_loop:.2f} s: "
        f"{t_loop / t_batch:.1f}x; largest relative difference of the layer means {worst:.2e}",
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
    args = ap.parse_args()
    parts = args.part.split(",")
    if "batched" in parts:
        part_batched(args)
    if "exact" in parts:
        part_exact(args)


if __name__ == "__main__":
    main()
