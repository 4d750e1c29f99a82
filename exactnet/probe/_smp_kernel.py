"""Compiled kernel (numba) of the sampled SMP on the CPU (:func:`exactnet.probe.smp.sampled_smp`):
one pass per row for the second differences, the median, the runs above the threshold and
their locations (the torch code does the same on CUDA)."""

from __future__ import annotations

import numpy as np
from numba import njit, prange

__all__ = ["smp_rows"]


@njit(cache=True, nogil=True, parallel=True)
def smp_rows(g, h, threshold, max_width, eps, scale, t0, lo, hi, use_window, out):
    """SMP_h of every row of g (rows, samples): second differences |D_i|, the threshold
    max(threshold x C, 64 eps scale[r]) with C the curvature level (the lower median |D|
    over all samples or over the smooth stretches, whichever is larger,
    :func:`exactnet.probe.smp.sampled_smp`), runs of at most ``max_width``
    samples above it, located (centre of mass, D_i at t0 + (i + 1) h) in [lo, hi] when
    ``use_window``; the sum of their |D_i| over h."""
    rows, n = g.shape
    m = n - 2
    for r in prange(rows):
        S = np.empty(m)  # signed second differences
        D = np.empty(m)
        for i in range(m):
            S[i] = g[r, i + 2] - 2.0 * g[r, i + 1] + g[r, i]
            D[i] = abs(S[i])
        # the curvature level: the lower median of |D| over all samples, or over the
        # smooth stretches (runs of more than 4 max_width smooth samples: above the
        # rounding floor, within a quarter of |D_i| of both neighbours) when larger
        floor = 64.0 * eps * scale[r]
        smooth = np.empty(m)
        count = 0
        i = 0
        while i < m:
            j = i
            while (
                j < m and 0 < j < m - 1 and D[j] > floor
                and abs(S[j + 1] - S[j]) <= 0.25 * D[j] and abs(S[j] - S[j - 1]) <= 0.25 * D[j]
            ):  # fmt: skip
                j += 1
            if j - i > 4 * max_width:
                for k in range(i, j):
                    smooth[count] = D[k]
                    count += 1
            i = j + 1
        mid = (m - 1) // 2
        level = np.partition(D.copy(), mid)[mid]  # the median over all samples: rounding noise
        if count > 0:
            mid = (count - 1) // 2
            level = max(level, np.partition(smooth[:count], mid)[mid])
        tau = max(threshold * level, floor)
        total = 0.0
        i = 0
        while i < m:
            if D[i] <= tau:
                i += 1
                continue
            j = i
            mass = 0.0
            moment = 0.0
            while j < m and D[j] > tau:
                mass += D[j]
                moment += D[j] * (t0 + h * (j + 1))
                j += 1
            if j - i <= max_width:
                where = moment / mass
                if not use_window or (lo <= where <= hi):
                    total += mass
            i = j
        out[r] = total / h
