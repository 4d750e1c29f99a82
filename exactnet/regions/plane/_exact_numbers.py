"""Numerics of the compiled exact 2-D kernel: status codes, certified floats taken from
exact big integers, float pre-activations with error bounds, exact evaluation of a map at a
vertex, cross products of lines, and settled dot products of big integers.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .._bigint import (
    acc_add_mul,
    acc_settle,
    acc_store,
    acc_sub_mul,
)

OK = 0


OVERFLOW = 1


GROW = 2
NEED_EXACT = 3  # _cut: a decision needs the exact maps of the region
LIMIT = 4  # the walk reached more regions than max_regions (out_count holds how many)


U64 = np.uint64


@njit(cache=True, nogil=True, inline="always")
def _top(X, r):
    """(v, lo) with X[r] = v 2^(24 lo) within relative 2^-47: v from the top three limbs
    (the truncation is below 2^-48 relative, the three roundings below 2^-51)."""
    n = X[r, 1]
    if n == 0:
        return 0.0, 0
    lo = max(0, n - 3)
    v = 0.0
    for k in range(n - 1, lo - 1, -1):
        v = v * 16777216.0 + X[r, 2 + k]
    return (v if X[r, 0] > 0 else -v), lo


@njit(cache=True, nogil=True, inline="always")
def _ratio(X, r, mant, expo):
    """X[r] / (mant 2^expo) as a float, within relative 2^-46 (no overflow for any size)."""
    v, lo = _top(X, r)
    return math.ldexp(v / mant, 24 * lo - expo)


#: the float maps of :func:`_float_preact` and the approximations of exact ones bound the
#: value of a map at a vertex; sign tests within the bound go exact (see _sign_filtered)
REL_EXACT = 2.0**-45  # |error| of a float taken from an exact integer, relative


SLACK = 2.0**-43  # vertex approximation (2^-45 relative) and the rounding of the sum


TINY = 2.0**-1000  # absolute slack for underflow


@njit(cache=True, nogil=True, inline="always")
def _sign_filtered(zf, ez, j, VF, v, ZM, zrow, VP, ACC, T, exact):
    """sign(z_j) at vertex v: from the float map zf[j] = (Z, DU, DV) with absolute error
    bounds ez[j] at the float vertex VF[v] = (u, v) when the bound decides it; else exactly
    (``exact``: the map's exact rows zrow.. are valid) or 2 (undecided). Returns (sign, ok);
    ok is False on integer overflow."""
    x = VF[v, 0]
    y = VF[v, 1]
    t0 = zf[j, 0]
    t1 = zf[j, 1] * x
    t2 = zf[j, 2] * y
    s = t0 + t1 + t2
    bound = (
        (ez[j, 0] + ez[j, 1] * abs(x) + ez[j, 2] * abs(y)) * (1.0 + 2.0**-40)
        + SLACK * (abs(t0) + abs(t1) + abs(t2))
        + TINY * (1.0 + abs(zf[j, 1]) + abs(zf[j, 2]) + ez[j, 1] + ez[j, 2])
    )
    if s > bound:
        return 1, True
    if s < -bound:
        return -1, True
    if not exact:
        return 2, True
    return _eval(ZM, zrow, VP, v, ACC, T)


@njit(cache=True, nogil=True)
def _float_from_exact(ZM, zm, n, mant, expo, zf, ez):
    """zf[j, m] = ZM[zm + 3 j + m] / scale (scale = mant 2^expo), ez its error bound."""
    for j in range(n):
        for m in range(3):
            f = _ratio(ZM, zm + 3 * j + m, mant, expo)
            zf[j, m] = f
            ez[j, m] = REL_EXACT * abs(f)


@njit(cache=True, nogil=True)
def _float_preact(WF, wf, BF, bf, SF, sf, n_in, n_out, zfp, ezp, is_neuron, neuron_bit, pat, HF, EH, zf, ez):
    """Certified float maps of a layer on a region: z = W h + b with h_k = g_k z_k of the
    previous layer (g = 1 on, the slope off), in real units, and absolute error bounds.

    With the float weights within relative 2^-53 of the exact ones (2^-1075 absolute when
    subnormal), gamma = (n + 4) 2^-52:
    |h* - h| <= |g| e_z + 2^-52 |h| + 2^-1070 (|z| + e_z),
    |z* - z| <= (1 + 2 gamma) (sum_k |W_jk| (e_h + gamma |h_k|) + gamma |b_j|) + 2^-1070 sum_k (|h_k| + e_h) + TINY,
    which covers the rounding of the weights, the products and the sums (Higham, *Accuracy
    and Stability of Numerical Algorithms*, 2nd ed., 2002, sec. 3.1)."""
    gamma = (n_in + 4) * 2.0**-52
    sab0 = 0.0
    sab1 = 0.0
    sab2 = 0.0
    for k in range(n_in):
        g = 1.0
        if is_neuron[sf + k]:
            bit = neuron_bit[sf + k]
            if ((pat[bit // 64] >> U64(bit % 64)) & U64(1)) == 0:
                g = SF[sf + k]
        for m in range(3):
            z = zfp[k, m]
            h = g * z
            HF[k, m] = h
            EH[k, m] = abs(g) * ezp[k, m] + 2.0**-52 * abs(h) + 2.0**-1070 * (abs(z) + ezp[k, m]) + gamma * abs(h)
        sab0 += abs(HF[k, 0]) + EH[k, 0]
        sab1 += abs(HF[k, 1]) + EH[k, 1]
        sab2 += abs(HF[k, 2]) + EH[k, 2]
    grow = 1.0 + 2.0 * gamma
    for j in range(n_out):
        row = wf + j * n_in
        b = BF[bf + j]
        s0 = b
        s1 = 0.0
        s2 = 0.0
        e0 = gamma * abs(b)
        e1 = 0.0
        e2 = 0.0
        for k in range(n_in):
            w = WF[row + k]
            aw = abs(w)
            s0 += w * HF[k, 0]
            s1 += w * HF[k, 1]
            s2 += w * HF[k, 2]
            e0 += aw * EH[k, 0]
            e1 += aw * EH[k, 1]
            e2 += aw * EH[k, 2]
        zf[j, 0] = s0
        zf[j, 1] = s1
        zf[j, 2] = s2
        ez[j, 0] = grow * e0 + 2.0**-1070 * sab0 + TINY
        ez[j, 1] = grow * e1 + 2.0**-1070 * sab1 + TINY
        ez[j, 2] = grow * e2 + 2.0**-1070 * sab2 + TINY


@njit(cache=True, nogil=True)
def _eval(ZM, zrow, VP, v, ACC, T):
    """sign(DU X + DV Y + Z W) of the map (Z, DU, DV) in rows zrow.. at vertex v."""
    n = acc_add_mul(ACC, 0, ZM, zrow + 1, VP, 3 * v)
    n = max(n, acc_add_mul(ACC, 0, ZM, zrow + 2, VP, 3 * v + 1))
    n = max(n, acc_add_mul(ACC, 0, ZM, zrow, VP, 3 * v + 2))
    ok = acc_store(ACC, 0, n, T, 0)
    return T[0, 0], ok


@njit(cache=True, nogil=True)
def _cross(LP, l1, l2, VP, v, ACC):
    """VP[v] = homogeneous intersection (X, Y, W > 0) of lines l1 = (a, b, c), l2."""
    ok = True
    n = max(acc_add_mul(ACC, 0, LP, 3 * l1 + 1, LP, 3 * l2 + 2), acc_sub_mul(ACC, 0, LP, 3 * l2 + 1, LP, 3 * l1 + 2))
    ok &= acc_store(ACC, 0, n, VP, 3 * v)
    n = max(acc_add_mul(ACC, 0, LP, 3 * l1 + 2, LP, 3 * l2), acc_sub_mul(ACC, 0, LP, 3 * l2 + 2, LP, 3 * l1))
    ok &= acc_store(ACC, 0, n, VP, 3 * v + 1)
    n = max(acc_add_mul(ACC, 0, LP, 3 * l1, LP, 3 * l2 + 1), acc_sub_mul(ACC, 0, LP, 3 * l2, LP, 3 * l1 + 1))
    ok &= acc_store(ACC, 0, n, VP, 3 * v + 2)
    if VP[3 * v + 2, 0] == 0:
        return False
    if VP[3 * v + 2, 0] < 0:
        for r in range(3):
            VP[3 * v + r, 0] = -VP[3 * v + r, 0]
    return ok


@njit(cache=True, nogil=True)
def _set_approx(VP, v, VF):
    """VF[v] = (X / W, Y / W): the vertex's plane coordinates within relative 2^-45."""
    vw, lw = _top(VP, 3 * v + 2)
    for r in range(2):
        vx, lx = _top(VP, 3 * v + r)
        VF[v, r] = math.ldexp(vx / vw, 24 * (lx - lw))


#: limb products per accumulator digit between settlements (it takes 2^14 safely): a dot
#: product settles every SETTLE_AT // limbs terms, limbs the capacity of its operands
SETTLE_AT = 8192


@njit(cache=True, nogil=True)
def _dot(ACC, n, A, a0, da, B, b0, db, count, period):
    """Accumulate sum_t A[a0 + t da] B[b0 + t db], t < count, into ACC slot 0 (current size
    n), settling every ``period`` terms; returns the size, or -1 when a settle overflows."""
    left = period
    for t in range(count):
        n = max(n, acc_add_mul(ACC, 0, A, a0 + t * da, B, b0 + t * db))
        left -= 1
        if left == 0:
            n = acc_settle(ACC, 0, n)
            left = period
            if n < 0:
                return -1
    return n


@njit(cache=True, nogil=True)
def _dot_units(ACC, n, A, a0, da, units, B, b0, db, count, period):
    """As :func:`_dot` over sum_q A[a0 + units[q] da] B[b0 + q db], q < count."""
    left = period
    for q in range(count):
        n = max(n, acc_add_mul(ACC, 0, A, a0 + units[q] * da, B, b0 + q * db))
        left -= 1
        if left == 0:
            n = acc_settle(ACC, 0, n)
            left = period
            if n < 0:
                return -1
    return n
