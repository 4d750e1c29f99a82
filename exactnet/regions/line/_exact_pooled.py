"""Running the compiled exact 1-D kernel on a batch of segments: its working pools, retries
with more room or more limbs, and the pooled result (:class:`PooledLine`) that reads like
the Python engine's :class:`~._exact.ExactLine`.
"""

from __future__ import annotations

import numpy as np

from .. import _bigint as B
from .._patterns import words_to_int
from ._exact_kernel import OK, ExactLineOut, ExactLineSegments, ExactLineWork, ExactNetData, _run, _summaries


class PooledLine:
    """Exact result of one segment held in the kernel's integer pools.

    Offers the interface of :class:`._exact.ExactLine` (``points``, ``patterns``,
    ``out_alpha``, ``out_beta``, ``out_scale``, ``zero_masks``, the counts,
    ``slope_jumps``, ``piece_starts``); the Python integers are built on first use.
    """

    def __init__(self, res, seg, r0, p0, m):
        self._res, self._seg, self._r0, self._p0 = res, seg, r0, m and p0
        self.num_regions = m
        self.num_pieces = int(res["pieces"][seg])
        self.num_patterns = int(res["patterns"][seg])
        self._cache = {}

    def _ints(self, key, rows):
        if key not in self._cache:
            self._cache[key] = B.pool_ints(self._res[key], rows)
        return self._cache[key]

    @property
    def points(self):
        p0, m = self._p0, self.num_regions
        v = self._ints("out_pts", range(2 * p0, 2 * (p0 + m + 1)))
        return list(zip(v[0::2], v[1::2]))

    def _rows(self, key):
        n_out = self._res["n_out"]
        r0, m = self._r0, self.num_regions
        v = self._ints(key, range(r0 * n_out, (r0 + m) * n_out))
        return [v[i * n_out : (i + 1) * n_out] for i in range(m)]

    @property
    def out_alpha(self):
        return self._rows("out_a")

    @property
    def out_beta(self):
        return self._rows("out_b")

    @property
    def out_scale(self):
        return B.pool_ints(self._res["out_scale"], [self._seg])[0]

    @property
    def patterns(self):
        words = self._res["out_pat"][self._r0 : self._r0 + self.num_regions]
        return [words_to_int(row) for row in words]

    @property
    def zero_masks(self):
        words = self._res["out_zm"][self._p0 : self._p0 + self.num_regions + 1]
        return [words_to_int(row) for row in words]

    def breakpoints(self):
        from fractions import Fraction

        return tuple(Fraction(n, d) for n, d in self.points[1:-1])

    def piece_starts(self):
        return self._res["piece_start"][self._r0 : self._r0 + self.num_regions].tolist()

    def slope_jumps(self, k):
        b = self.out_beta
        return [b[i][k] - b[i - 1][k] for i in range(1, len(b))]

    def smp_numerator(self, k):
        return B.pool_ints(self._res["smp"], [self._seg * self._res["n_out"] + k])[0]


def _alloc(data: ExactNetData, limbs: int, cap_iv: int, cap_pts: int):
    w, nw = data.max_width, data.nwords
    pool = lambda rows: np.zeros((rows, 2 + limbs), np.int64)  # noqa: E731
    return ExactLineWork(
        PTS=pool(2 * cap_pts),
        A=pool(cap_iv * w),
        B2=pool(cap_iv * w),
        NA=pool(cap_iv * w),
        NB=pool(cap_iv * w),
        Z=pool(w),
        DZ=pool(w),
        BS=pool(w),
        S=pool(1),
        T=pool(8),
        DA=pool(w),
        DB=pool(w),
        # the accumulator holds any product of two pool integers (network pool included)
        ACC=np.zeros((2, limbs + max(limbs, data.pool.shape[1] - 2) + 8), np.int64),
        period=max(1, B.ACC_SAFE_PRODUCTS // max(limbs, data.pool.shape[1] - 2)),
        sgn=np.zeros(w, np.int64),
        flips=np.zeros((cap_iv, w), np.int64),
        nflips=np.zeros(cap_iv, np.int64),
        nflips2=np.zeros(cap_iv, np.int64),
        flips2=np.zeros((cap_iv, w), np.int64),
        pat=np.zeros((cap_iv, nw), np.uint64),
        npat=np.zeros((cap_iv, nw), np.uint64),
        zm=np.zeros((cap_pts, nw), np.uint64),
        order=np.zeros(cap_iv + 1, np.int64),
        norder=np.zeros(cap_iv + 1, np.int64),
        cr=np.zeros(w, np.int64),
    )


def run_exact(net, segments, data: ExactNetData | None = None, limbs: int | None = None):
    """Exact regions of many segments [(alpha, beta, scale), ...] (integer form).

    Returns (lines, overflowed): a PooledLine per segment (None for the segments whose
    integers outgrew the capacity, listed in ``overflowed``).
    """
    data = data or ExactNetData(net)
    n_seg = len(segments)
    n_out, nw = data.n_out, data.nwords
    in_bits = max(max(abs(v).bit_length() for v in a + b + [s]) for a, b, s in segments)
    if limbs is None:
        est = 2 * (in_bits + len(net.layers) * (data.bits + 8) + data.log_widths) + 64
        limbs = B.capacity_for_bits(est)
    alpha0 = B.to_pool([v for a, _, _ in segments for v in a], limbs)
    beta0 = B.to_pool([v for _, b, _ in segments for v in b], limbs)
    scale0 = B.to_pool([s for _, _, s in segments], limbs)
    segs = ExactLineSegments(alpha0=alpha0, beta0=beta0, scale0=scale0)
    cap_iv, cap_pts = 64, 128
    work = _alloc(data, limbs, cap_iv, cap_pts)
    cap_out = max(64, 16 * n_seg)
    out = dict(
        out_pts=np.zeros((2 * (cap_out + n_seg), 2 + limbs), np.int64),
        out_a=np.zeros((cap_out * n_out, 2 + limbs), np.int64),
        out_b=np.zeros((cap_out * n_out, 2 + limbs), np.int64),
        out_pat=np.zeros((cap_out, nw), np.uint64),
        out_zm=np.zeros((cap_out + n_seg, nw), np.uint64),
    )
    out_scale = np.zeros((n_seg, 2 + limbs), np.int64)
    status = np.zeros(n_seg, np.int64)
    count = np.zeros(n_seg, np.int64)
    seg = pos = ppos = 0
    while True:
        results = ExactLineOut(
            seg_status=status,
            seg_regions=count,
            out_pts=out["out_pts"],
            out_a=out["out_a"],
            out_b=out["out_b"],
            out_pat=out["out_pat"],
            out_zm=out["out_zm"],
            out_scale=out_scale,
        )
        seg, pos, ppos, code = _run(segs, seg, n_seg, data.args(), work, results, pos, ppos)
        if code == OK:
            break
        # a pool was too small: grow working pools and outputs, resume at `seg`
        cap_iv, cap_pts = 2 * cap_iv, 2 * cap_pts
        work = _alloc(data, limbs, cap_iv, cap_pts)
        for k, v in out.items():
            grown = np.zeros((2 * v.shape[0],) + v.shape[1:], v.dtype)
            grown[: v.shape[0]] = v
            out[k] = grown
    piece_start = np.zeros(max(pos, 1), np.bool_)
    smp = np.zeros((n_seg * n_out, 2 + limbs), np.int64)
    pieces, patterns, ok = _summaries(
        count, n_out, nw, out["out_b"], out["out_pat"], out["out_zm"], piece_start, smp, work.T, work.ACC
    )
    if not ok:  # an SMP sum outgrew the capacity: recompute everything with more room
        return run_exact(net, segments, data, 2 * limbs)
    res = dict(
        out, out_scale=out_scale, pieces=pieces, patterns=patterns, piece_start=piece_start, smp=smp, n_out=n_out
    )
    lines: list = []
    overflowed = []
    r0 = p0 = 0
    for s in range(n_seg):
        if status[s] == OK:
            m = int(count[s])
            lines.append(PooledLine(res, s, r0, p0, m))
            r0 += m
            p0 += m + 1
        else:
            lines.append(None)
            overflowed.append(s)
    return lines, overflowed
