"""1-D engine benchmark: exactnet against regioncam's Regioncam1D, side by side.

Breakpoints of 10,000 random chords of [-1, 1]^2 (both ends uniform on the square's
boundary, coordinates representable in float32 so that both tools get the very same
segments) through the benchmark net 2-32-32-1 (seed 0, docs/definitions.md). Checks that both
find the same breakpoints, prints lines per second of each and the ratio. Then times the
exact mode against the float mode on 2-16-16-1.

    pip install regioncam   # the anchor
    python benchmarks/bench_line.py [--chords 10000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from _timing import time_best

from exactnet import segment_regions_batch
from exactnet.builtin import benchmark_net
from exactnet.regions.line._exact import exact_line


def random_chords(n: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Chords of [-1, 1]^2: two independent uniform points on the boundary, float32-exact."""
    rng = np.random.default_rng(seed)

    def boundary(m):
        s = rng.uniform(0, 8, size=m)  # arc length along the perimeter
        side, u = np.floor(s / 2).astype(int), (s % 2) - 1
        x = np.select([side == 0, side == 1, side == 2], [u, np.ones(m), -u], -np.ones(m))
        y = np.select([side == 0, side == 1, side == 2], [-np.ones(m), u, np.ones(m)], -u)
        return np.stack([x, y], axis=1).astype(np.float32).astype(np.float64)

    P, Q = boundary(n), boundary(n)
    same = (P == Q).all(axis=1)
    Q[same] = -P[same]
    return P, Q


def regioncam_breakpoints(net, P, Q):
    import regioncam

    Ws = [np.ascontiguousarray(layer.weight.T, dtype=np.float32) for layer in net.layers]
    bs = [np.asarray(layer.bias, dtype=np.float32) for layer in net.layers]
    out = []
    for p, q in zip(P, Q):
        rc = regioncam.Regioncam1D.through_points(np.stack([p, q]).astype(np.float32), size=2.0)
        for W, b in zip(Ws[:-1], bs[:-1]):
            rc.linear(W, b)
            rc.relu()
        rc.linear(Ws[-1], bs[-1])
        out.append(rc.inputs)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--chords", type=int, default=10000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--exact-chords", type=int, default=1000)
    args = ap.parse_args()

    net = benchmark_net("2-32-32-1", 0)
    P, Q = random_chords(args.chords)
    segment_regions_batch(net, P[:10], Q[:10])  # compile the kernel
    t1, batch = time_best(lambda: segment_regions_batch(net, P, Q, threads=1), args.repeat)
    t2, _ = time_best(lambda: segment_regions_batch(net, P, Q, threads=2), args.repeat)
    print(
        f"benchmark net 2-32-32-1, {args.chords} chords of [-1,1]^2, {batch.num_regions.mean():.2f} regions per chord"
    )
    for label, t in (("1 thread ", t1), ("2 threads", t2)):
        rate, per_line = args.chords / t, 1e6 * t / args.chords
        print(f"exactnet float (certified), {label}: {rate:12,.0f} lines/s ({per_line:.2f} us/line; {t.note()})")
    print(f"  segments decided by the exact engine: {int(batch.decided_exactly.sum())}")
    try:
        import regioncam  # noqa: F401
    except ImportError:
        print("regioncam is not installed (pip install regioncam): no side-by-side figures")
        rc_time = None
    else:
        rc_time, rc_inputs = time_best(lambda: regioncam_breakpoints(net, P, Q), args.repeat)
        per_line = 1e6 * rc_time / args.chords
        print(f"regioncam 1-D (float32, 1 thread)    : {args.chords / rc_time:12,.0f} lines/s ({per_line:.2f} us/line)")
        print(f"ratio exactnet / regioncam: {rc_time / t1:.2f}x (1 thread), {rc_time / t2:.2f}x (2 threads)")
        # compare breakpoints: regioncam's inputs are positions u along the line with the
        # ends at -|q - p|/2 and +|q - p|/2
        same_count = matched = 0
        worst = 0.0
        for i, u in enumerate(rc_inputs):
            L = float(np.linalg.norm(Q[i] - P[i]))
            t_rc = np.sort(np.asarray(u, dtype=np.float64) / L + 0.5)[1:-1]
            t_ex = batch.breakpoints(i)
            if len(t_rc) == len(t_ex):
                same_count += 1
                d = float(np.max(np.abs(t_rc - t_ex))) if len(t_ex) else 0.0
                worst = max(worst, d)
                matched += d < 1e-4
        print(
            f"breakpoints: same count on {same_count}/{args.chords} chords; all within 1e-4 (float32) on "
            f"{matched}/{args.chords}; largest difference {worst:.2e}"
        )

    # exact mode against the float mode, both batched, one thread
    net16 = benchmark_net("2-16-16-1", 0)
    n = args.exact_chords
    segment_regions_batch(net16, P[:10], Q[:10])
    segment_regions_batch(net16, P[:64], Q[:64], exact=True)  # compile the exact kernel
    tf, fb = time_best(lambda: segment_regions_batch(net16, P[:n], Q[:n], threads=1), args.repeat)
    te, eb = time_best(lambda: segment_regions_batch(net16, P[:n], Q[:n], exact=True), args.repeat)
    Pl, Ql = P[:200].tolist(), Q[:200].tolist()
    tp, raws = time_best(lambda: [exact_line(net16, p, q) for p, q in zip(Pl, Ql)], 1)
    agree = bool((eb.num_regions == fb.num_regions).all() and (eb.num_patterns == fb.num_patterns).all())
    print(
        f"\n2-16-16-1, {n} chords: float {1e6 * tf / n:.2f} us/line; exact (compiled big integers) "
        f"{1e6 * te / n:.1f} us/line = {te / tf:.1f}x the float mode; exact in pure Python "
        f"{1e6 * tp / 200:.0f} us/line = {tp / 200 / (tf / n):.0f}x; same counts: {agree}"
    )


if __name__ == "__main__":
    main()
