"""Full non-linearity signature of a torchvision model, and the per-layer scores against
the reference pipeline on the very same captured layers.

Random-init ResNet-18 (seed 987) on 2048 random 224 x 224 inputs by default: capture
(streaming, batches of 64), then for every activation call site the exactnet score and
the reference pipeline's (scipy ``sqrtm`` twice + pseudo-inverse + POT ``ot.emd2``, see
``bench_affinity.py``) on identical X, Y. Prints the per-layer table, the ratio, the wall
time of the whole signature and the peak resident memory of the process.

    pip install pot
    python benchmarks/bench_signature.py [--model resnet18] [--samples 2048] [--image-size 224]
        [--device cpu|cuda] [--no-reference]
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.dirname(__file__))

from bench_affinity import reference_score

from exactnet import affinity_score
from exactnet.probe import capture
from exactnet.probe.data import random_images, torchvision_model


def peak_rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="resnet18")
    ap.add_argument("--samples", type=int, default=2048)
    ap.add_argument("--image-size", type=int, default=224)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--no-reference", action="store_true", help="skip the reference pipeline")
    args = ap.parse_args(argv)

    t_start = time.perf_counter()
    model = torchvision_model(args.model, seed=987)
    images = random_images(args.samples, args.image_size, seed=987)
    t0 = time.perf_counter()
    caps = capture(
        model,
        images,
        max_samples=args.samples,
        batch_size=args.batch_size,
        seed=987,
        device=args.device,
        progress=False,
    )
    t_capture = time.perf_counter() - t0
    print(
        f"{args.model}, {args.samples} random inputs of 3 x {args.image_size} x {args.image_size}, "
        f"device {args.device}, torch threads {torch.get_num_threads()}"
    )
    print(f"capture: {len(caps)} activation call sites in {t_capture:.1f} s")
    print(
        f"{'#':>3} {'layer':<18} {'d':>5} {'n':>5} {'exactnet s':>10} {'reference s':>11} {'ratio':>6} "
        f"{'score':>9} {'|diff|':>8}"
    )
    # warm-up: load the compiled kernels and POT once, outside the timings
    rng = np.random.default_rng(0)
    Xw = rng.standard_normal((64, 4))
    affinity_score(Xw, np.maximum(Xw, 0))
    if not args.no_reference:
        reference_score(Xw, np.maximum(Xw, 0))
    t_ours_total = t_ref_total = 0.0
    worst = 0.0
    for k, (name, cap) in enumerate(caps.items()):
        n, d = cap.input.shape
        shrink = "ledoit-wolf" if d >= n else False
        t = time.perf_counter()
        score = affinity_score(cap.input, cap.output, shrinkage=shrink, ridge_mode="absolute", device=args.device)
        t_ours = time.perf_counter() - t
        t_ours_total += t_ours
        line = f"{k:>3} {name:<18} {d:>5} {n:>5} {t_ours:>10.3f} "
        if args.no_reference or shrink:
            print(line + f"{'-':>11} {'-':>6} {score:>9.6f}")
            continue
        X, Y = cap.input.numpy(), cap.output.numpy()
        t = time.perf_counter()
        ref = reference_score(X, Y)
        t_ref = time.perf_counter() - t
        t_ref_total += t_ref
        worst = max(worst, abs(ref - score))
        print(line + f"{t_ref:>11.3f} {t_ref / t_ours:>5.1f}x {score:>9.6f} {abs(ref - score):>8.1e}")
    wall = time.perf_counter() - t_start
    print(
        f"signature wall time (model, data, capture, scores): {wall - t_ref_total:.1f} s "
        f"(capture {t_capture:.1f} s, scores {t_ours_total:.1f} s)"
    )
    if t_ref_total:
        print(
            f"scores: exactnet {t_ours_total:.2f} s, reference pipeline {t_ref_total:.2f} s, "
            f"ratio {t_ref_total / t_ours_total:.1f}x, largest score difference {worst:.1e}"
        )
    print(f"peak resident memory of this process: {peak_rss_gib():.2f} GiB")


if __name__ == "__main__":
    main()
