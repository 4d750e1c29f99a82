"""Compiled exact 2-D engine: the algorithm of :mod:`._plane_exact` on numba big integers.

The same refinement of convex polygons by integer lines, with homogeneous integer vertices
(cross products of two lines) and the same decisions, all exact (:mod:`exactnet.regions._bigint`).
Four differences in organisation make it fast:

* regions are processed depth first: a region is cut by layer d's neurons, and each piece
  goes through layers d + 1, ... before the next piece, so memory holds one path of
  maps rather than every region's;
* exact maps are made only where a decision needs them. Every region carries certified
  float maps of its layer (float64 with rigorous error bounds, :func:`_float_preact`);
  a sign they decide is the exact sign. Only a crossing neuron (its exact line is needed)
  or a sign within the bound asks for exact maps: all of the layer's when the parent's
  are exact, else the rows of those units, composed from the deepest exact ancestor. In
  deep networks most regions are never cut again and most layers never need them;
* the pre-activations of layer d + 1 on a piece are updated from those on the previous
  piece of the same parent: the two differ only in the layer-d units whose activation
  differs, z' = z + W[:, k] (f'_k - f_k) z_parent_k (one column per such unit, f the
  activation's factor);
* the exact output maps of a region whose deepest exact ancestor is far up are composed
  from the output side (:func:`_backward_output`): a row vector times the weight
  matrices, with small integers, reusing the deep layers' products of the previous
  region in depth-first order, which nearly always has the same deep patterns.

Zero masks (the neurons vanishing at each vertex, for the non-empty patterns) are kept per
polygon vertex, as the Python engine's ``zero_mask_at`` would find them: a new vertex on an
edge inherits the neurons vanishing along that whole edge, plus the cutting neuron, plus
the neurons identically zero on the region; later neurons add theirs when their signs are
evaluated there.

The Python engine in ``_plane_exact.py`` stays the definition; this kernel is tested
against it field by field. Pools too small, or integers too long for the capacity, make
the kernel stop with GROW or OVERFLOW and the caller retries with more room.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from . import _bigint as B
from ._bigint import (
    acc_add,
    acc_add_mul,
    acc_settle,
    acc_store,
    acc_sub_mul,
    bi_copy,
    bi_mul,
    bi_zero,
)

__all__ = ["run_plane_exact"]

OK = 0
OVERFLOW = 1
GROW = 2
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


@njit(cache=True, nogil=True)
def _preact_full(NP, wo, n_in, n_out, HM, hm, BS, bs, ZM, zm, ACC):
    """(Z, DU, DV) of every unit: Z_j = b_j S + sum_k W_jk A_k, DU_j = sum W_jk B_k, ..."""
    period = max(1, SETTLE_AT // (HM.shape[1] - 2))
    for j in range(n_out):
        row0 = wo + j * n_in
        for m in range(3):
            n = acc_add(ACC, 0, BS, bs + j, False) if m == 0 else 0
            n = _dot(ACC, n, NP, row0, np.int64(1), HM, hm + m, np.int64(3), n_in, period)
            if n < 0 or not acc_store(ACC, 0, n, ZM, zm + 3 * j + m):
                return False
    return True


@njit(cache=True, nogil=True)
def _preact_incremental(NP, wo, n_in, n_out, ZM, zm, ZP, zp, diff_units, diff_f, n_diff, DH, ACC):
    """ZM (rows zm..) += sum over the changed input units k of W[:, k] * DH_k, where DH_k =
    diff_f[k] * (parent pre-activation maps of unit k, rows zp + 3 k ..)."""
    period = max(1, SETTLE_AT // (ZM.shape[1] - 2))
    ok = True
    for q in range(n_diff):
        k = diff_units[q]
        for m in range(3):
            ok &= bi_mul(diff_f, q, ZP, zp + 3 * k + m, DH, 3 * q + m, ACC, 0)
    for j in range(n_out):
        row0 = wo + j * n_in
        for m in range(3):
            n = acc_add(ACC, 0, ZM, zm + 3 * j + m, False)
            n = _dot_units(ACC, n, NP, row0, np.int64(1), diff_units, DH, m, np.int64(3), n_diff, period)
            if n < 0:
                return False
            ok &= acc_store(ACC, 0, n, ZM, zm + 3 * j + m)
    return ok


@njit(cache=True, nogil=True)
def _sibling_diff(
    k,
    dims,
    u_off,
    snum_off,
    sden_row,
    plain,
    is_neuron,
    neuron_bit,
    NP,
    serial,
    zm_serial,
    zm_parent,
    prev_mask,
    reg_pat,
    diff_units,
    diff_f,
    ACC,
):
    """When ZM rows of depth k hold the exact maps of a sibling of the current depth-k
    region (same parent), the layer-(k-1) units whose activation differs between the two
    (diff_units) and their factor differences (diff_f); returns their number, -1 without
    such a sibling, -2 on overflow."""
    if not (zm_serial[k] >= 0 and zm_parent[k] == serial[k - 1]):
        return -1
    uo_in = u_off[k - 1]
    n_diff = 0
    for i in range(dims[k]):
        if not is_neuron[uo_in + i]:
            continue
        bit = neuron_bit[uo_in + i]
        mk = U64(1) << U64(bit % 64)
        now = (reg_pat[k, bit // 64] & mk) != 0
        before = (prev_mask[k, bit // 64] & mk) != 0
        if now != before:
            diff_units[n_diff] = i
            # factor now - factor before: (den - num) or (num - den)
            if plain[k - 1]:
                B.bi_set_small(diff_f, n_diff, 1 if now else -1)
            else:
                if not B.bi_add(NP, sden_row[k - 1], NP, snum_off[k - 1] + i, diff_f, n_diff, True, ACC, np.int64(0)):
                    return -2
                if not now:
                    diff_f[n_diff, 0] = -diff_f[n_diff, 0]
            n_diff += 1
    return n_diff


@njit(cache=True, nogil=True)
def _materialize(
    d,
    dims,
    u_off,
    w_off,
    snum_off,
    sden_row,
    plain,
    is_neuron,
    neuron_bit,
    nwords,
    NP,
    BS,
    bs_off,
    HM,
    hm_off,
    ZM,
    zm_off,
    serial,
    zm_serial,
    zm_parent,
    prev_mask,
    reg_pat,
    diff_units,
    diff_f,
    DH,
    ACC,
    stats,
):
    """Make ZM rows of depths 1..d hold the exact pre-activations of the current path's
    regions (depth 0 always does). A depth whose rows hold a sibling's exact maps (same
    parent) is updated from them: z' = z + W[:, k] (f'_k - f_k) z_parent_k over the
    units k whose activation differs; otherwise h = f * z_parent and z = W h + b in full."""
    e = d
    while zm_serial[e] != serial[e]:
        e -= 1
    for k in range(e + 1, d + 1):
        n_in = dims[k]
        n_out = dims[k + 1]
        uo_in = u_off[k - 1]
        n_diff = _sibling_diff(
            k,
            dims,
            u_off,
            snum_off,
            sden_row,
            plain,
            is_neuron,
            neuron_bit,
            NP,
            serial,
            zm_serial,
            zm_parent,
            prev_mask,
            reg_pat,
            diff_units,
            diff_f,
            ACC,
        )
        if n_diff == -2:
            return False
        sibling = n_diff >= 0
        if sibling and 4 * n_diff < n_in:
            stats[2] += 1
            if not _preact_incremental(
                NP, w_off[k], n_in, n_out, ZM, zm_off[k], ZM, zm_off[k - 1], diff_units, diff_f, n_diff, DH, ACC
            ):
                return False
        else:
            # input maps of layer k on the region: h = f * z_parent (f: 1 or the slope)
            hm, zp = hm_off[k], zm_off[k - 1]
            for i in range(n_in):
                on = True
                if is_neuron[uo_in + i]:
                    bit = neuron_bit[uo_in + i]
                    on = (reg_pat[k, bit // 64] >> U64(bit % 64)) & U64(1) != 0
                for m in range(3):
                    if plain[k - 1]:
                        if on:
                            bi_copy(ZM, zp + 3 * i + m, HM, hm + 3 * i + m)
                        else:
                            bi_zero(HM, hm + 3 * i + m)
                    else:
                        row = sden_row[k - 1] if on else snum_off[k - 1] + i
                        if not bi_mul(ZM, zp + 3 * i + m, NP, row, HM, hm + 3 * i + m, ACC, 0):
                            return False
            stats[1] += 1
            if not _preact_full(NP, w_off[k], n_in, n_out, HM, hm, BS, bs_off[k], ZM, zm_off[k], ACC):
                return False
        zm_serial[k] = serial[k]
        zm_parent[k] = serial[k - 1]
        for w in range(nwords):
            prev_mask[k, w] = reg_pat[k, w]
    return True


@njit(cache=True, nogil=True)
def _layer_bits_equal(kk, dims, u_off, is_neuron, neuron_bit, pat, other):
    """Whether the two patterns agree on layer kk's neurons."""
    uo = u_off[kk]
    for i in range(dims[kk + 1]):
        if is_neuron[uo + i]:
            bit = neuron_bit[uo + i]
            mk = U64(1) << U64(bit % 64)
            if (pat[bit // 64] & mk) != (other[bit // 64] & mk):
                return False
    return True


@njit(cache=True, nogil=True)
def _compose_init(d, j0, nr, dims, w_off, bs_off, NP, BS, RS, rb, stride, CS, cb):
    """R rows r < nr := N_d[j0 + r] (stride apart from row rb), C := BS_d[j0 + r]."""
    for r in range(nr):
        for i in range(dims[d]):
            bi_copy(NP, w_off[d] + (j0 + r) * dims[d] + i, RS, rb + r * stride + i)
        bi_copy(BS, bs_off[d] + j0 + r, CS, cb + r)


@njit(cache=True, nogil=True)
def _compose_gain(
    k, nr, dims, u_off, snum_off, sden_row, plain, is_neuron, neuron_bit, NP, pat, PS, RS, rb, stride, ACC
):
    """R = P G_k: the columns (units of layer k) of P times their gains on the pattern."""
    uo = u_off[k]
    for i in range(dims[k + 1]):
        on = _unit_on(pat, uo, i, is_neuron, neuron_bit)
        for r in range(nr):
            row = rb + r * stride + i
            if plain[k]:
                if on:
                    bi_copy(PS, row, RS, row)
                else:
                    bi_zero(RS, row)
            else:
                g = sden_row[k] if on else snum_off[k] + i
                if not bi_mul(NP, g, PS, row, RS, row, ACC, 0):
                    return False
    return True


@njit(cache=True, nogil=True)
def _compose_step(
    k,
    nr,
    dims,
    u_off,
    w_off,
    bs_off,
    plain,
    is_neuron,
    neuron_bit,
    NP,
    BS,
    pat,
    RS,
    src,
    PS,
    dst,
    stride,
    CS,
    csrc,
    cdst,
    ACC,
):
    """P_k = R_{k+1} N_{k+1} (RS rows from src, PS rows from dst), C_k = C_{k+1} + R_{k+1}
    BS_{k+1}; the columns a plain layer k has off in ``pat`` are not formed."""
    period = max(1, SETTLE_AT // (RS.shape[1] - 2))
    n_k = dims[k + 2]
    n_prev = dims[k + 1]
    uo = u_off[k]
    for r in range(nr):
        n = acc_add(ACC, 0, CS, csrc + r, False)
        n = _dot(ACC, n, BS, bs_off[k + 1], np.int64(1), RS, src + r * stride, np.int64(1), n_k, period)
        if n < 0 or not acc_store(ACC, 0, n, CS, cdst + r):
            return False
        for i in range(n_prev):
            if plain[k] and not _unit_on(pat, uo, i, is_neuron, neuron_bit):
                continue
            n = _dot(ACC, np.int64(0), NP, w_off[k + 1] + i, n_prev, RS, src + r * stride, np.int64(1), n_k, period)
            if n < 0 or not acc_store(ACC, 0, n, PS, dst + r * stride + i):
                return False
    return True


@njit(cache=True, nogil=True)
def _compose_apply(e, nr, dims, RS, rb, stride, CS, cb, ZM, zm_off, DST, db, ACC):
    """DST rows db + 3 r + m = R_r ZM_e (component m) + [m = 0] C_r."""
    period = max(1, SETTLE_AT // (RS.shape[1] - 2))
    zm = zm_off[e]
    for r in range(nr):
        for m in range(3):
            n = acc_add(ACC, 0, CS, cb + r, False) if m == 0 else 0
            n = _dot(ACC, n, RS, rb + r * stride, np.int64(1), ZM, zm + m, np.int64(3), dims[e + 1], period)
            if n < 0 or not acc_store(ACC, 0, n, DST, db + 3 * r + m):
                return False
    return True


@njit(cache=True, nogil=True, inline="always")
def _unit_on(pat, uo, i, is_neuron, neuron_bit):
    if not is_neuron[uo + i]:
        return True
    bit = neuron_bit[uo + i]
    return (pat[bit // 64] >> U64(bit % 64)) & U64(1) != 0


@njit(cache=True, nogil=True)
def _compose_column(k, nr, i, dims, w_off, NP, RS, src, PS, dst, stride, ACC):
    """PS column i of S_k's pre-gain rows: R_{k+1} N_{k+1}[:, i]."""
    period = max(1, SETTLE_AT // (RS.shape[1] - 2))
    n_k = dims[k + 2]
    n_prev = dims[k + 1]
    for r in range(nr):
        n = _dot(ACC, np.int64(0), NP, w_off[k + 1] + i, n_prev, RS, src + r * stride, np.int64(1), n_k, period)
        if n < 0 or not acc_store(ACC, 0, n, PS, dst + r * stride + i):
            return False
    return True


@njit(cache=True, nogil=True)
def _backward_output(
    e,
    d,
    dims,
    u_off,
    w_off,
    snum_off,
    sden_row,
    plain,
    is_neuron,
    neuron_bit,
    NP,
    BS,
    bs_off,
    pat,
    ZM,
    zm_off,
    PS,
    RS,
    CS,
    DR,
    bw_pat,
    bw_low,
    diff_units,
    ACC,
    OUT,
    obase,
    stats,
):
    """The exact output maps of the region (rows obase.. of OUT) from the exact
    pre-activations ZM of depth e < d - 1, composing layers e + 1..d from the output side.

    In integers the layers are ZM_k = N_k G_{k-1} ZM_{k-1} + BS_k (G: the gains sden/snum,
    or 1/0 for plain ReLU layers, of the region's pattern). The states
    S_k = (R_k, C_k) with ZM_d = R_k ZM_k + C_k are R_k = P_k G_k with P_{d-1} = N_d,
    C_{d-1} = BS_d, and P_{k-1} = R_k N_k, C_{k-1} = C_k + R_k BS_k; the output is
    R_e ZM_e + C_e: the same integers as the forward recursion, for n_out sum_k n_k n_{k-1}
    products of integers that grow only with the layers composed, instead of
    3 sum_k n_k n_{k-1} with the maps. Columns a plain layer's gain zeroes are not formed.

    P_k depends only on the pattern of layers k + 1..d-1, and consecutive regions of the
    depth-first order mostly share the deep layers' patterns: the states of the previous
    call (PS, RS, CS for depths bw_low[0]..d-1, pattern bw_pat; P_k's columns valid where
    layer k is on in bw_pat) are reused as far down as the patterns agree. At the first
    layer m that differs, in a few units D, R_m changes only in D, and P_{m-1} and C_{m-1}
    are updated by those columns: |D| n_{m-1} products instead of n_m n_{m-1}."""
    n_out = dims[d + 1]
    stride = RS.shape[0] // (n_out * dims.shape[0])
    low = bw_low[0]
    # the first layer from the output side whose activations differ: states above it hold
    kk = d - 1
    if low <= d - 1:
        while kk >= max(e, low) and _layer_bits_equal(kk, dims, u_off, is_neuron, neuron_bit, pat, bw_pat):
            kk -= 1
    if kk < e:  # every state down to e holds
        return _compose_apply(
            e, n_out, dims, RS, e * n_out * stride, stride, CS, e * n_out, ZM, zm_off, OUT, obase, ACC
        )
    k = kk
    if kk >= low:
        # P_kk holds (its layers above agree) on the columns on in bw_pat: form those the new
        # pattern turns on, and the change of R_kk on the units D that differ
        base = kk * n_out * stride
        uo = u_off[kk]
        n_d = np.int64(0)
        for i in range(dims[kk + 1]):
            now = _unit_on(pat, uo, i, is_neuron, neuron_bit)
            before = _unit_on(bw_pat, uo, i, is_neuron, neuron_bit)
            if now == before:
                continue
            if plain[kk] and now and kk < d - 1:
                if not _compose_column(
                    kk, n_out, i, dims, w_off, NP, RS, (kk + 1) * n_out * stride, PS, base, stride, ACC
                ):
                    return False
            for r in range(n_out):  # DR = R_new - R_old = P (g_new - g_old)
                if plain[kk]:
                    bi_copy(PS, base + r * stride + i, DR, r * stride + n_d)
                    if not now:
                        DR[r * stride + n_d, 0] = -DR[r * stride + n_d, 0]
                else:
                    if not B.bi_add(
                        NP, sden_row[kk], NP, snum_off[kk] + i, DR, r * stride + n_d, True, ACC, np.int64(0)
                    ):
                        return False  # (sden - snum) times P, signed by the direction
                    if not now:
                        DR[r * stride + n_d, 0] = -DR[r * stride + n_d, 0]
                    if not bi_mul(PS, base + r * stride + i, DR, r * stride + n_d, DR, r * stride + n_d, ACC, 0):
                        return False
            diff_units[n_d] = i
            n_d += 1
        if not _compose_gain(
            kk, n_out, dims, u_off, snum_off, sden_row, plain, is_neuron, neuron_bit, NP, pat, PS, RS, base, stride, ACC
        ):
            return False
        k = kk - 1
        if k >= max(e, low) and 4 * n_d < dims[kk + 1]:
            # P_k += DR N_kk on its valid columns (on in bw_pat), C_k += DR BS_kk
            stats[6] += 1
            if not _compose_update(
                k,
                n_out,
                n_d,
                diff_units,
                dims,
                u_off,
                w_off,
                bs_off,
                plain,
                is_neuron,
                neuron_bit,
                NP,
                BS,
                bw_pat,
                DR,
                PS,
                k * n_out * stride,
                stride,
                CS,
                k * n_out,
                ACC,
            ):
                return False
            base = k * n_out * stride
            uo = u_off[k]
            if plain[k]:
                for i in range(dims[k + 1]):
                    if _unit_on(pat, uo, i, is_neuron, neuron_bit) and not _unit_on(
                        bw_pat, uo, i, is_neuron, neuron_bit
                    ):
                        if not _compose_column(
                            k, n_out, i, dims, w_off, NP, RS, (k + 1) * n_out * stride, PS, base, stride, ACC
                        ):
                            return False
            if not _compose_gain(
                k,
                n_out,
                dims,
                u_off,
                snum_off,
                sden_row,
                plain,
                is_neuron,
                neuron_bit,
                NP,
                pat,
                PS,
                RS,
                base,
                stride,
                ACC,
            ):
                return False
            k -= 1
    # the rest in full
    for k2 in range(k, e - 1, -1):
        stats[7] += 1
        base = k2 * n_out * stride
        if k2 == d - 1:
            _compose_init(d, np.int64(0), n_out, dims, w_off, bs_off, NP, BS, PS, base, stride, CS, k2 * n_out)
        elif not _compose_step(
            k2,
            n_out,
            dims,
            u_off,
            w_off,
            bs_off,
            plain,
            is_neuron,
            neuron_bit,
            NP,
            BS,
            pat,
            RS,
            (k2 + 1) * n_out * stride,
            PS,
            base,
            stride,
            CS,
            (k2 + 1) * n_out,
            k2 * n_out,
            ACC,
        ):
            return False
        if not _compose_gain(
            k2, n_out, dims, u_off, snum_off, sden_row, plain, is_neuron, neuron_bit, NP, pat, PS, RS, base, stride, ACC
        ):
            return False
    bw_low[0] = e  # states e..d-1 now belong to this pattern
    for w in range(pat.shape[0]):
        bw_pat[w] = pat[w]
    return _compose_apply(e, n_out, dims, RS, e * n_out * stride, stride, CS, e * n_out, ZM, zm_off, OUT, obase, ACC)


@njit(cache=True, nogil=True)
def _compose_update(
    k,
    nr,
    n_d,
    diff_units,
    dims,
    u_off,
    w_off,
    bs_off,
    plain,
    is_neuron,
    neuron_bit,
    NP,
    BS,
    valid,
    DR,
    PS,
    dst,
    stride,
    CS,
    cdst,
    ACC,
):
    """P_k += DR N_{k+1}[D, :] on the columns valid in pattern ``valid`` (all but those a
    plain layer k has off), C_k += DR BS_{k+1}[D]; DR rows r * stride + q for the units D."""
    period = max(1, SETTLE_AT // (PS.shape[1] - 2))
    n_prev = dims[k + 1]
    uo = u_off[k]
    for r in range(nr):
        n = acc_add(ACC, 0, CS, cdst + r, False)
        n = _dot_units(ACC, n, BS, bs_off[k + 1], np.int64(1), diff_units, DR, r * stride, np.int64(1), n_d, period)
        if n < 0 or not acc_store(ACC, 0, n, CS, cdst + r):
            return False
        for i in range(n_prev):
            if plain[k] and not _unit_on(valid, uo, i, is_neuron, neuron_bit):
                continue
            n = acc_add(ACC, 0, PS, dst + r * stride + i, False)
            n = _dot_units(ACC, n, NP, w_off[k + 1] + i, n_prev, diff_units, DR, r * stride, np.int64(1), n_d, period)
            if n < 0 or not acc_store(ACC, 0, n, PS, dst + r * stride + i):
                return False
    return True


@njit(cache=True, nogil=True)
def _backward_rows(
    e,
    d,
    rows,
    n_rows,
    dims,
    u_off,
    w_off,
    snum_off,
    sden_row,
    plain,
    is_neuron,
    neuron_bit,
    NP,
    BS,
    bs_off,
    pat,
    ZM,
    zm_off,
    PT,
    RT,
    CT,
    ACC,
    ZR,
    zr,
):
    """Exact pre-activation maps of the given units j of layer d (rows zr + 3 j + m of ZR)
    from the exact maps of depth e < d: the composition of :func:`_backward_output` for
    single rows, n_{d-1} + sum_{k<d} n_k n_{k-1} products of small integers per unit."""
    for q in range(n_rows):
        j = rows[q]
        _compose_init(d, j, np.int64(1), dims, w_off, bs_off, NP, BS, PT, np.int64(0), np.int64(0), CT, np.int64(0))
        for k in range(d - 1, e - 1, -1):
            if k < d - 1 and not _compose_step(
                k,
                np.int64(1),
                dims,
                u_off,
                w_off,
                bs_off,
                plain,
                is_neuron,
                neuron_bit,
                NP,
                BS,
                pat,
                RT,
                np.int64(0),
                PT,
                np.int64(0),
                np.int64(0),
                CT,
                np.int64(0),
                np.int64(0),
                ACC,
            ):
                return False
            if not _compose_gain(
                k,
                np.int64(1),
                dims,
                u_off,
                snum_off,
                sden_row,
                plain,
                is_neuron,
                neuron_bit,
                NP,
                pat,
                PT,
                RT,
                np.int64(0),
                np.int64(0),
                ACC,
            ):
                return False
        if not _compose_apply(
            e, np.int64(1), dims, RT, np.int64(0), np.int64(0), CT, np.int64(0), ZM, zm_off, ZR, zr + 3 * j, ACC
        ):
            return False
    return True


#: the counters of ``run_plane_exact(..., stats=)``: how often each path was taken
STAT_NAMES = (
    "float maps",
    "full exact",
    "incremental exact",
    "backward outputs",
    "cut retries",
    "exact rows",
    "output updates",
    "output layers composed",
)
NEED_EXACT = 3  # _cut: a decision needs the exact maps of the region


@njit(cache=True, nogil=True)
def _run(
    dims,
    u_off,
    w_off,
    den_row,
    snum_off,
    sden_row,
    plain,
    linear,
    is_neuron,
    neuron_bit,
    nwords,
    NP,
    BS,
    bs_off,
    VP,
    LP,
    line_creator,
    counts,
    HM,
    hm_off,
    ZM,
    zm_off,
    serial,
    zm_serial,
    zm_parent,
    prev_mask,
    WF,
    wf_off,
    BF,
    SF,
    ZF,
    EZ,
    HF,
    EH,
    s_mant,
    s_exp,
    backward,
    PS,
    RS,
    CS,
    DR,
    bw_pat,
    bw_low,
    reg_nv,
    reg_v,
    reg_l,
    reg_zm,
    reg_pat,
    pc_count,
    pc_off,
    pc_v,
    pc_l,
    pc_zm,
    pc_mask,
    pc_cursor,
    wk_off,
    wk_v,
    wk_l,
    wk_zm,
    wk_mask,
    sig,
    edge_zero,
    pv_sign,
    pv_new,
    diff_units,
    diff_f,
    DH,
    ACC,
    T,
    VF,
    new_zm,
    out_count,
    out_off,
    out_v,
    out_l,
    out_zm,
    out_pat,
    OUT,
    stats,
    ZR,
    row_ok,
    need,
    n_need,
    PT,
    RT,
    CT,
    masks,
):
    """The depth-first exact refinement; returns OK, OVERFLOW or GROW.

    Depth d holds a region (reg_*[d]) with its layer-d pre-activations as certified float
    maps (ZF, EZ rows u_off[d] + j: Z, DU, DV in real units and error bounds) and, when
    some decision needed them, as exact integer maps (ZM rows zm_off[d] + 3 j + m, valid
    when zm_serial[d] == serial[d]); HM rows hm_off[d] + 3 k + m hold the exact input maps
    (A, B, C of h = (A + B u + C v) / S) used to compute them. Non-linear layers keep the
    region's pieces (pc_*[d]) with a cursor. counts = [vertices, lines] used in VP, LP.

    Exact maps are made only where a neuron crosses the region or a float sign test is
    undecided (and for their ancestors); the output maps of a region come from the
    deepest exact ancestor by :func:`_backward_output` (few outputs) or by making the
    whole path exact."""
    n_layers = dims.shape[0] - 1
    maxv = reg_v.shape[1]
    d = np.int64(0)  # int64, not a literal: one specialisation of the functions it is passed to
    fresh = True
    while d >= 0:
        if fresh:
            fresh = False
            n_out = dims[d + 1]
            uo = u_off[d]
            if d > 0:
                serial[d] += 1
            # ---- exact maps right away when a sibling's make them cheap (a few columns)
            cheap = False
            if d > 0 and zm_serial[d - 1] == serial[d - 1]:
                n_diff = _sibling_diff(
                    d,
                    dims,
                    u_off,
                    snum_off,
                    sden_row,
                    plain,
                    is_neuron,
                    neuron_bit,
                    NP,
                    serial,
                    zm_serial,
                    zm_parent,
                    prev_mask,
                    reg_pat,
                    diff_units,
                    diff_f,
                    ACC,
                )
                if n_diff == -2:
                    return OVERFLOW
                cheap = n_diff >= 0 and 4 * n_diff < dims[d]
            if cheap:
                if not _materialize(
                    d,
                    dims,
                    u_off,
                    w_off,
                    snum_off,
                    sden_row,
                    plain,
                    is_neuron,
                    neuron_bit,
                    nwords,
                    NP,
                    BS,
                    bs_off,
                    HM,
                    hm_off,
                    ZM,
                    zm_off,
                    serial,
                    zm_serial,
                    zm_parent,
                    prev_mask,
                    reg_pat,
                    diff_units,
                    diff_f,
                    DH,
                    ACC,
                    stats,
                ):
                    return OVERFLOW
            # ---- the output layer: emit the region with its exact output maps
            if d == n_layers - 1:
                o = out_count[0]
                nv = reg_nv[d]
                if o + 1 >= out_off.shape[0] or out_off[o] + nv > out_v.shape[0] or (o + 1) * 3 * n_out > OUT.shape[0]:
                    return GROW
                e = d
                while zm_serial[e] != serial[e]:
                    e -= 1
                obase = o * 3 * n_out
                if e < d - 1 and backward:
                    stats[3] += 1
                    ok_out = _backward_output(
                        e,
                        d,
                        dims,
                        u_off,
                        w_off,
                        snum_off,
                        sden_row,
                        plain,
                        is_neuron,
                        neuron_bit,
                        NP,
                        BS,
                        bs_off,
                        reg_pat[d],
                        ZM,
                        zm_off,
                        PS,
                        RS,
                        CS,
                        DR,
                        bw_pat,
                        bw_low,
                        diff_units,
                        ACC,
                        OUT,
                        obase,
                        stats,
                    )
                    if not ok_out:
                        return OVERFLOW
                else:
                    if not _materialize(
                        d,
                        dims,
                        u_off,
                        w_off,
                        snum_off,
                        sden_row,
                        plain,
                        is_neuron,
                        neuron_bit,
                        nwords,
                        NP,
                        BS,
                        bs_off,
                        HM,
                        hm_off,
                        ZM,
                        zm_off,
                        serial,
                        zm_serial,
                        zm_parent,
                        prev_mask,
                        reg_pat,
                        diff_units,
                        diff_f,
                        DH,
                        ACC,
                        stats,
                    ):
                        return OVERFLOW
                    zm = zm_off[d]
                    for r in range(3 * n_out):
                        if ZM[zm + r, 1] > OUT.shape[1] - 2:
                            return OVERFLOW
                        bi_copy(ZM, zm + r, OUT, obase + r)
                base = out_off[o]
                for q in range(nv):
                    out_v[base + q] = reg_v[d, q]
                    out_l[base + q] = reg_l[d, q]
                    for w in range(nwords):
                        out_zm[base + q, w] = reg_zm[d, q, w]
                out_off[o + 1] = base + nv
                for w in range(nwords):
                    out_pat[o, w] = reg_pat[d, w]
                out_count[0] = o + 1
                d -= 1
                continue
            # ---- layer d's certified float maps on the region (from the exact ones when made)
            zf = ZF[uo : uo + n_out]
            ez = EZ[uo : uo + n_out]
            if zm_serial[d] == serial[d]:
                _float_from_exact(ZM, zm_off[d], n_out, s_mant[d], s_exp[d], zf, ez)
            else:
                stats[0] += 1
                uo_in = u_off[d - 1]
                _float_preact(
                    WF,
                    wf_off[d],
                    BF,
                    uo,
                    SF,
                    uo_in,
                    dims[d],
                    n_out,
                    ZF[uo_in : uo_in + dims[d]],
                    EZ[uo_in : uo_in + dims[d]],
                    is_neuron,
                    neuron_bit,
                    reg_pat[d],
                    HF,
                    EH,
                    zf,
                    ez,
                )
            # ---- cut by layer d's neurons (a linear layer gives one piece: the region);
            #      first from the float maps, with exact maps of the units whose decisions
            #      need them: all of layer d when the parent's are exact (one layer of
            #      products, and the siblings and descendants build on them), except in the
            #      last hidden layer of a parent with few pieces (its leaves compose their
            #      outputs from the output side anyway); else those units' rows, composed
            #      from the deepest exact ancestor (the second retry cannot need more, and
            #      a third makes the whole layer exact, which decides everything)
            full = zm_serial[d] == serial[d]
            pool = ZM if full else ZR
            for j in range(n_out):
                row_ok[j] = full
            st = NEED_EXACT
            for attempt in range(4):
                st = _cut(
                    d,
                    n_out,
                    uo,
                    is_neuron,
                    neuron_bit,
                    nwords,
                    pool,
                    zm_off[d],
                    VP,
                    LP,
                    line_creator,
                    counts,
                    reg_nv,
                    reg_v,
                    reg_l,
                    reg_zm,
                    pc_count,
                    pc_off,
                    pc_v,
                    pc_l,
                    pc_zm,
                    pc_mask,
                    wk_off,
                    wk_v,
                    wk_l,
                    wk_zm,
                    wk_mask,
                    sig,
                    edge_zero,
                    pv_sign,
                    pv_new,
                    ACC,
                    T,
                    VF,
                    zf,
                    ez,
                    new_zm,
                    row_ok,
                    need,
                    n_need,
                    masks,
                )
                if st != NEED_EXACT:
                    break
                stats[4] += 1
                e = d - 1
                while zm_serial[e] != serial[e]:
                    e -= 1
                if attempt >= 2 or (e == d - 1 and (d < n_layers - 2 or pc_count[d - 1] > 4 or not backward)):
                    if not _materialize(
                        d,
                        dims,
                        u_off,
                        w_off,
                        snum_off,
                        sden_row,
                        plain,
                        is_neuron,
                        neuron_bit,
                        nwords,
                        NP,
                        BS,
                        bs_off,
                        HM,
                        hm_off,
                        ZM,
                        zm_off,
                        serial,
                        zm_serial,
                        zm_parent,
                        prev_mask,
                        reg_pat,
                        diff_units,
                        diff_f,
                        DH,
                        ACC,
                        stats,
                    ):
                        return OVERFLOW
                    _float_from_exact(ZM, zm_off[d], n_out, s_mant[d], s_exp[d], zf, ez)
                    pool = ZM
                    for j in range(n_out):
                        row_ok[j] = True
                else:
                    stats[5] += n_need[0]
                    if not _backward_rows(
                        e,
                        d,
                        need,
                        n_need[0],
                        dims,
                        u_off,
                        w_off,
                        snum_off,
                        sden_row,
                        plain,
                        is_neuron,
                        neuron_bit,
                        NP,
                        BS,
                        bs_off,
                        reg_pat[d],
                        ZM,
                        zm_off,
                        PT,
                        RT,
                        CT,
                        ACC,
                        ZR,
                        zm_off[d],
                    ):
                        return OVERFLOW
                    for q in range(n_need[0]):
                        j = need[q]
                        row_ok[j] = True
                        for m in range(3):
                            f = _ratio(ZR, zm_off[d] + 3 * j + m, s_mant[d], s_exp[d])
                            zf[j, m] = f
                            ez[j, m] = REL_EXACT * abs(f)
            if st != OK:
                return st
            pc_cursor[d] = 0
        # ---- the next piece at depth d, or back up
        if pc_cursor[d] < pc_count[d]:
            p = pc_cursor[d]
            pc_cursor[d] += 1
            a, b = pc_off[d, p], pc_off[d, p + 1]
            nv = b - a
            if nv > maxv:
                return GROW
            for q in range(nv):
                reg_v[d + 1, q] = pc_v[d, a + q]
                reg_l[d + 1, q] = pc_l[d, a + q]
                for w in range(nwords):
                    reg_zm[d + 1, q, w] = pc_zm[d, a + q, w]
            reg_nv[d + 1] = nv
            for w in range(nwords):
                reg_pat[d + 1, w] = reg_pat[d, w] | pc_mask[d, p, w]
            d += 1
            fresh = True
        else:
            d -= 1
    return OK


@njit(cache=True, nogil=True)
def _cut(
    d,
    n_out,
    uo,
    is_neuron,
    neuron_bit,
    nwords,
    ZM,
    zm,
    VP,
    LP,
    line_creator,
    counts,
    reg_nv,
    reg_v,
    reg_l,
    reg_zm,
    pc_count,
    pc_off,
    pc_v,
    pc_l,
    pc_zm,
    pc_mask,
    wk_off,
    wk_v,
    wk_l,
    wk_zm,
    wk_mask,
    sig,
    edge_zero,
    pv_sign,
    pv_new,
    ACC,
    T,
    VF,
    zf,
    ez,
    new_zm,
    row_ok,
    need,
    n_need,
    masks,
):
    """Cut the depth-d region by its crossing neurons, one after the other, into pc_*[d].

    Signs come from the certified float maps (zf, ez) and, where their bound does not
    decide, from the exact maps (rows zm + 3 j.. of ZM) of the units with row_ok[j]. If a
    unit without exact maps has an undecided sign or crosses the region (its exact line is
    needed), nothing is written: the units are listed in need[:n_need[0]] and NEED_EXACT
    returned, for the caller to make those rows and retry.
    sig[j, q]: sign of neuron j at the region's vertex q. wk_*: two work buffers of
    pieces (vertex ids, line ids, zero masks, layer-d mask)."""
    nv = reg_nv[d]
    cap_v = VP.shape[0] // 3
    cap_l = LP.shape[0] // 3
    cap_w = wk_v.shape[1]
    cap_pieces = wk_off.shape[1] - 1
    region_zero = masks[0]
    base_mask = masks[1]
    for w in range(nwords):
        base_mask[w] = 0
    # signs of every neuron at the region's vertices; zero masks
    n_cross = 0
    n_need[0] = 0
    for j in range(n_out):
        if not is_neuron[uo + j]:
            continue
        bit = neuron_bit[uo + j]
        w = bit // 64
        mk = U64(1) << U64(bit % 64)
        pos = False
        neg = False
        undecided = False
        for q in range(nv):
            s, ok = _sign_filtered(zf, ez, j, VF, reg_v[d, q], ZM, zm + 3 * j, VP, ACC, T, row_ok[j])
            if not ok:
                return OVERFLOW
            sig[j, q] = s
            if s == 2:
                undecided = True
            elif s > 0:
                pos = True
            elif s < 0:
                neg = True
            else:
                reg_zm[d, q, w] |= mk
        if undecided or (pos and neg and not row_ok[j]):
            need[n_need[0]] = j
            n_need[0] += 1
        if pos and neg:
            sig[j, nv] = 1  # marks a crossing neuron
            n_cross += 1
        else:
            sig[j, nv] = 0
            if pos:
                base_mask[w] |= mk
    if n_need[0]:
        return NEED_EXACT
    # neurons zero at every vertex (identically zero on the region), and along each edge
    for w in range(nwords):
        region_zero[w] = ~U64(0)
        for q in range(nv):
            region_zero[w] &= reg_zm[d, q, w]
        for q in range(nv):
            edge_zero[q, w] = reg_zm[d, q, w] & reg_zm[d, (q + 1) % nv, w]
    # the pieces: start with the region itself
    cur = 0
    wk_off[cur, 0] = 0
    wk_off[cur, 1] = nv
    for q in range(nv):
        wk_v[cur, q] = reg_v[d, q]
        wk_l[cur, q] = reg_l[d, q]
        for w in range(nwords):
            wk_zm[cur, q, w] = reg_zm[d, q, w]
    for w in range(nwords):
        wk_mask[cur, 0, w] = base_mask[w]
    n_pieces = 1
    if n_cross:
        for j in range(n_out):
            if not is_neuron[uo + j] or sig[j, nv] == 0:
                continue
            bit = neuron_bit[uo + j]
            jw = bit // 64
            jm = U64(1) << U64(bit % 64)
            # the cutting line (DU_j, DV_j, Z_j)
            li = counts[1]
            if li + 1 > cap_l:
                return GROW
            counts[1] += 1
            bi_copy(ZM, zm + 3 * j + 1, LP, 3 * li)
            bi_copy(ZM, zm + 3 * j + 2, LP, 3 * li + 1)
            bi_copy(ZM, zm + 3 * j, LP, 3 * li + 2)
            line_creator[li] = bit
            nxt = 1 - cur
            out_n = 0
            wk_off[nxt, 0] = 0
            for pce in range(n_pieces):
                a0, a1 = wk_off[cur, pce], wk_off[cur, pce + 1]
                m = a1 - a0
                # signs of the line at the piece's vertices (the region's own from sig)
                pos = False
                neg = False
                for q in range(m):
                    v = wk_v[cur, a0 + q]
                    s = 2
                    for q0 in range(nv):
                        if reg_v[d, q0] == v:
                            s = sig[j, q0]
                            break
                    if s == 2:
                        s, ok = _sign_filtered(zf, ez, j, VF, v, ZM, zm + 3 * j, VP, ACC, T, row_ok[j])
                        if not ok:
                            return OVERFLOW
                        if s == 0:
                            wk_zm[cur, a0 + q, jw] |= jm
                    if q >= pv_sign.shape[0]:
                        return GROW
                    pv_sign[q] = s
                    if s > 0:
                        pos = True
                    elif s < 0:
                        neg = True
                if out_n + 2 > cap_pieces or wk_off[nxt, out_n] + 2 * m + 4 > cap_w:
                    return GROW
                if not (pos and neg):
                    # one side: copy the piece, its bit from its side
                    o = wk_off[nxt, out_n]
                    for q in range(m):
                        wk_v[nxt, o + q] = wk_v[cur, a0 + q]
                        wk_l[nxt, o + q] = wk_l[cur, a0 + q]
                        for w in range(nwords):
                            wk_zm[nxt, o + q, w] = wk_zm[cur, a0 + q, w]
                    wk_off[nxt, out_n + 1] = o + m
                    for w in range(nwords):
                        wk_mask[nxt, out_n, w] = wk_mask[cur, pce, w]
                    if pos:
                        wk_mask[nxt, out_n, jw] |= jm
                    out_n += 1
                    continue
                # split: the positive piece first, then the negative one
                for side in (1, -1):
                    o = wk_off[nxt, out_n]
                    cnt = 0
                    for q in range(m):
                        s = pv_sign[q] * side
                        s_next = pv_sign[(q + 1) % m] * side
                        v = wk_v[cur, a0 + q]
                        edge = wk_l[cur, a0 + q]
                        if s >= 0:
                            wk_v[nxt, o + cnt] = v
                            wk_l[nxt, o + cnt] = li if (s == 0 and s_next < 0) else edge
                            for w in range(nwords):
                                wk_zm[nxt, o + cnt, w] = wk_zm[cur, a0 + q, w]
                            cnt += 1
                        if s * s_next < 0:
                            # the new vertex on this edge: one id and one zero mask for both pieces
                            if side == 1:
                                c = counts[0]
                                if c + 1 > cap_v:
                                    return GROW
                                counts[0] += 1
                                if not _cross(LP, edge, li, VP, c, ACC):
                                    return OVERFLOW
                                _set_approx(VP, c, VF)
                                pv_new[q] = c
                                # zero mask: the neurons vanishing along the whole edge (an
                                # edge of the region), those identically zero on it, the
                                # edge's and the cut's neurons, and any earlier cutting
                                # neuron through the point (a line duplicating the edge's)
                                for w in range(nwords):
                                    zmask = region_zero[w]
                                    for q0 in range(nv):
                                        if reg_l[d, q0] == edge:
                                            zmask |= edge_zero[q0, w]
                                            break
                                    eb = line_creator[edge]
                                    if eb >= 0 and eb // 64 == w:
                                        zmask |= U64(1) << U64(eb % 64)
                                    if jw == w:
                                        zmask |= jm
                                    new_zm[q, w] = zmask
                                for j2 in range(j):
                                    if not is_neuron[uo + j2] or sig[j2, nv] == 0:
                                        continue
                                    s2, ok = _sign_filtered(zf, ez, j2, VF, c, ZM, zm + 3 * j2, VP, ACC, T, row_ok[j2])
                                    if not ok:
                                        return OVERFLOW
                                    if s2 == 0:
                                        b2 = neuron_bit[uo + j2]
                                        new_zm[q, b2 // 64] |= U64(1) << U64(b2 % 64)
                            c = pv_new[q]
                            wk_v[nxt, o + cnt] = c
                            wk_l[nxt, o + cnt] = li if s > 0 else edge
                            for w in range(nwords):
                                wk_zm[nxt, o + cnt, w] = new_zm[q, w]
                            cnt += 1
                    wk_off[nxt, out_n + 1] = o + cnt
                    for w in range(nwords):
                        wk_mask[nxt, out_n, w] = wk_mask[cur, pce, w]
                    if side == 1:
                        wk_mask[nxt, out_n, jw] |= jm
                    out_n += 1
            n_pieces = out_n
            cur = nxt
    # the pieces of the region
    total = wk_off[cur, n_pieces]
    if n_pieces + 1 > pc_off.shape[1] or total > pc_v.shape[1]:
        return GROW
    pc_count[d] = n_pieces
    for p in range(n_pieces + 1):
        pc_off[d, p] = wk_off[cur, p]
    for q in range(total):
        pc_v[d, q] = wk_v[cur, q]
        pc_l[d, q] = wk_l[cur, q]
        for w in range(nwords):
            pc_zm[d, q, w] = wk_zm[cur, q, w]
    for p in range(n_pieces):
        for w in range(nwords):
            pc_mask[d, p, w] = wk_mask[cur, p, w]
    return OK


# --------------------------------------------------------------------------- driver
def _bits_estimate(net, data, P_bits: int) -> int:
    """A generous bound on the bits of lines, vertices and evaluations."""
    h = P_bits
    worst = 0
    for layer in net.layers:
        il = layer.integer
        wbits = max(
            [abs(x).bit_length() for row in il.weight_num for x in row]
            + [abs(b).bit_length() for b in il.bias_num]
            + [1]
        )
        sbits = max([abs(x).bit_length() for x in il.slope_num] + [il.slope_den.bit_length(), 1])
        line = h + wbits + math.ceil(math.log2(layer.in_features + 2)) + il.den.bit_length() + 2
        worst = max(worst, line)
        h = line + sbits
    return 4 * worst + 64


def _mant_exp(x: int) -> tuple[float, int]:
    """(m, e) with x = m 2^e within relative 2^-52, m in [2^52, 2^53) (x > 0, any size)."""
    shift = max(0, x.bit_length() - 53)
    return float(x >> shift), shift


class _FloatNet:
    """The network's float64 weights, biases and slopes, flat, for the certified float maps."""

    def __init__(self, net):
        layers = net.layers
        self.w_off = np.concatenate([[0], np.cumsum([l.weight.size for l in layers])[:-1]]).astype(np.int64)
        self.weights = np.ascontiguousarray(np.concatenate([l.weight.reshape(-1) for l in layers]), dtype=np.float64)
        self.biases = np.ascontiguousarray(np.concatenate([l.bias for l in layers]), dtype=np.float64)
        self.slopes = np.ascontiguousarray(np.concatenate([l.negative_slope for l in layers]), dtype=np.float64)


def _float_arrays(net) -> _FloatNet:
    fl = net.__dict__.get("_exactnet_float_net")
    if fl is None:
        fl = net.__dict__["_exactnet_float_net"] = _FloatNet(net)
    return fl


class _Capacities:
    def __init__(self, limbs, vertices=4096, lines=4096, pieces=256, piece_slots=4096, out=4096, out_slots=32768):
        self.limbs, self.vertices, self.lines = limbs, vertices, lines
        self.pieces, self.piece_slots, self.out, self.out_slots = pieces, piece_slots, out, out_slots

    def grown(self):
        return _Capacities(
            self.limbs,
            2 * self.vertices,
            2 * self.lines,
            2 * self.pieces,
            2 * self.piece_slots,
            2 * self.out,
            2 * self.out_slots,
        )


def run_plane_exact(net, P0, P1, P2, Sx, domain_hv, domain_lines, *, backward: bool = True, stats: dict | None = None):
    """Exact regions of ``net`` on the convex polygon (domain_hv, domain_lines), CCW, of the
    plane x = (P0 + P1 u + P2 v) / Sx. Returns a list of ``ExactPlaneRegion`` (with zero
    masks per vertex) or None when the integers would need an unreasonable capacity.

    ``backward``: compose the output maps from the output side when there are at most two
    outputs (``False`` always takes the forward path; both give the same result).
    ``stats``: a dict that receives how often each path was taken (:data:`STAT_NAMES`)."""
    from ._line_exact_kernel import ExactNetData

    data = net.__dict__.get("_exactnet_exact_data")
    if data is None:
        data = net.__dict__["_exactnet_exact_data"] = ExactNetData(net)
    P_bits = max(
        abs(int(v)).bit_length()
        for v in list(P0)
        + list(P1)
        + list(P2)
        + [Sx]
        + [x for t in domain_hv for x in t]
        + [x for t in domain_lines for x in t]
    )
    cap = _Capacities(B.capacity_for_bits(_bits_estimate(net, data, P_bits)))
    for _ in range(12):
        status, result = _attempt(net, data, P0, P1, P2, Sx, domain_hv, domain_lines, cap, backward, stats)
        if status == OK:
            return result
        cap = (
            cap.grown()
            if status == GROW
            else _Capacities(
                2 * cap.limbs, cap.vertices, cap.lines, cap.pieces, cap.piece_slots, cap.out, cap.out_slots
            )
        )
        if cap.limbs > 4096:
            return None
    return None


def _attempt(net, data, P0, P1, P2, Sx, domain_hv, domain_lines, cap, backward, stats_out):

    L = cap.limbs
    dims = data.dims
    n_layers = len(dims) - 1
    nw = data.nwords
    maxw = int(dims.max())
    maxv = net.num_neurons + len(domain_hv) + 8
    # scales: h at depth d is numerators over S_d; z_d over S_d * den_d
    scales, S = [], int(Sx)
    for layer in net.layers:
        scales.append(S)
        il = layer.integer
        S = S * il.den * (1 if layer.is_linear else il.slope_den)
    out_scale = scales[-1] * net.layers[-1].integer.den
    bias_scaled = [b * scales[d] for d, layer in enumerate(net.layers) for b in layer.integer.bias_num]
    bs_off = np.concatenate([[0], np.cumsum(dims[1:])[:-1]]).astype(np.int64)
    try:
        BS = B.to_pool(bias_scaled, L)
        VP = np.zeros((3 * cap.vertices, 2 + L), np.int64)
        LP = np.zeros((3 * cap.lines, 2 + L), np.int64)
        nd = len(domain_hv)
        VP[: 3 * nd] = B.to_pool([x for t in domain_hv for x in t], L)
        LP[: 3 * nd] = B.to_pool([x for t in domain_lines for x in t], L)
        hm_off = np.concatenate([[0], np.cumsum(3 * dims[:-1])]).astype(np.int64)
        zm_off = np.concatenate([[0], np.cumsum(3 * dims[1:])]).astype(np.int64)
        HM = np.zeros((int(hm_off[-1]), 2 + L), np.int64)
        HM[: 3 * dims[0]] = B.to_pool([v for k in range(dims[0]) for v in (P0[k], P1[k], P2[k])], L)
    except OverflowError:
        return OVERFLOW, None
    VF = np.zeros((cap.vertices, 2))
    for v in range(nd):
        _set_approx(VP, v, VF)
    line_creator = np.full(cap.lines, -1, np.int64)
    counts = np.array([nd, nd], np.int64)
    ZM = np.zeros((int(zm_off[-1]), 2 + L), np.int64)
    reg_nv = np.zeros(n_layers + 1, np.int64)
    reg_v = np.zeros((n_layers + 1, maxv), np.int64)
    reg_l = np.zeros((n_layers + 1, maxv), np.int64)
    reg_zm = np.zeros((n_layers + 1, maxv, nw), np.uint64)
    reg_pat = np.zeros((n_layers + 1, nw), np.uint64)
    reg_nv[0] = nd
    reg_v[0, :nd] = np.arange(nd)
    reg_l[0, :nd] = np.arange(nd)
    args = dict(
        pc_count=np.zeros(n_layers, np.int64),
        pc_off=np.zeros((n_layers, cap.pieces + 1), np.int64),
        pc_v=np.zeros((n_layers, cap.piece_slots), np.int64),
        pc_l=np.zeros((n_layers, cap.piece_slots), np.int64),
        pc_zm=np.zeros((n_layers, cap.piece_slots, nw), np.uint64),
        pc_mask=np.zeros((n_layers, cap.pieces, nw), np.uint64),
        pc_cursor=np.zeros(n_layers, np.int64),
        wk_off=np.zeros((2, cap.pieces + 1), np.int64),
        wk_v=np.zeros((2, cap.piece_slots), np.int64),
        wk_l=np.zeros((2, cap.piece_slots), np.int64),
        wk_zm=np.zeros((2, cap.piece_slots, nw), np.uint64),
        wk_mask=np.zeros((2, cap.pieces, nw), np.uint64),
        sig=np.zeros((maxw, maxv + 1), np.int64),
        edge_zero=np.zeros((maxv, nw), np.uint64),
        pv_sign=np.zeros(maxv + 4 * net.num_neurons + 8, np.int64),
        pv_new=np.zeros(maxv + 4 * net.num_neurons + 8, np.int64),
        diff_units=np.zeros(maxw, np.int64),
        diff_f=np.zeros((maxw, 2 + L), np.int64),
        DH=np.zeros((3 * maxw, 2 + L), np.int64),
        ACC=np.zeros((1, 2 * L + data.pool.shape[1] + 8), np.int64),
        T=np.zeros((1, 2 + L), np.int64),
        out_count=np.zeros(1, np.int64),
        out_off=np.zeros(cap.out + 1, np.int64),
        out_v=np.zeros(cap.out_slots, np.int64),
        out_l=np.zeros(cap.out_slots, np.int64),
        out_zm=np.zeros((cap.out_slots, nw), np.uint64),
        out_pat=np.zeros((cap.out, nw), np.uint64),
        OUT=np.zeros((cap.out * 3 * int(dims[-1]), 2 + L), np.int64),
    )
    # depth 0 (the domain) is exact from the start; deeper depths when a decision needs it
    serial = np.zeros(n_layers + 1, np.int64)
    zm_serial = np.full(n_layers + 1, -1, np.int64)
    zm_parent = np.full(n_layers + 1, -1, np.int64)
    prev_mask = np.zeros((n_layers + 1, nw), np.uint64)
    if not _preact_full(data.pool, data.w_off[0], dims[0], dims[1], HM, 0, BS, bs_off[0], ZM, 0, args["ACC"]):
        return OVERFLOW, None
    zm_serial[0] = 0
    # float network and the scales of the exact maps (z_d = ZM / (S_d den_d), as mantissa and exponent)
    fl = _float_arrays(net)
    s_mant = np.zeros(n_layers)
    s_exp = np.zeros(n_layers, np.int64)
    for d, layer in enumerate(net.layers):
        s_mant[d], s_exp[d] = _mant_exp(scales[d] * layer.integer.den)
    ZF = np.zeros((int(data.u_off[-1]), 3))
    EZ = np.zeros((int(data.u_off[-1]), 3))
    _float_from_exact(ZM, 0, dims[1], s_mant[0], s_exp[0], ZF, EZ)
    n_out = int(dims[-1])
    backward = n_out <= 2 and backward  # output maps from the output side: n_out products per weight instead of 3
    PS = np.zeros(((n_layers + 1) * n_out * maxw, 2 + L), np.int64)
    RS = np.zeros_like(PS)
    CS = np.zeros(((n_layers + 1) * n_out, 2 + L), np.int64)
    DR = np.zeros((n_out * maxw, 2 + L), np.int64)
    bw_pat = np.zeros(nw, np.uint64)
    bw_low = np.array([n_layers + 1], np.int64)  # no states yet
    stats = np.zeros(8, np.int64)
    status = _run(
        dims,
        data.u_off,
        data.w_off,
        data.den_row,
        data.snum_off,
        data.sden_row,
        data.plain,
        data.linear,
        data.is_neuron,
        data.neuron_bit,
        nw,
        data.pool,
        BS,
        bs_off,
        VP,
        LP,
        line_creator,
        counts,
        HM,
        hm_off,
        ZM,
        zm_off,
        serial,
        zm_serial,
        zm_parent,
        prev_mask,
        fl.weights,
        fl.w_off,
        fl.biases,
        fl.slopes,
        ZF,
        EZ,
        np.zeros((maxw, 3)),
        np.zeros((maxw, 3)),
        s_mant,
        s_exp,
        backward,
        PS,
        RS,
        CS,
        DR,
        bw_pat,
        bw_low,
        reg_nv,
        reg_v,
        reg_l,
        reg_zm,
        reg_pat,
        args["pc_count"],
        args["pc_off"],
        args["pc_v"],
        args["pc_l"],
        args["pc_zm"],
        args["pc_mask"],
        args["pc_cursor"],
        args["wk_off"],
        args["wk_v"],
        args["wk_l"],
        args["wk_zm"],
        args["wk_mask"],
        args["sig"],
        args["edge_zero"],
        args["pv_sign"],
        args["pv_new"],
        args["diff_units"],
        args["diff_f"],
        args["DH"],
        args["ACC"],
        args["T"],
        VF,
        np.zeros((len(args["pv_new"]), nw), np.uint64),
        args["out_count"],
        args["out_off"],
        args["out_v"],
        args["out_l"],
        args["out_zm"],
        args["out_pat"],
        args["OUT"],
        stats,
        np.zeros_like(ZM),
        np.zeros(maxw, np.bool_),
        np.zeros(maxw, np.int64),
        np.zeros(1, np.int64),
        np.zeros((maxw, 2 + L), np.int64),
        np.zeros((maxw, 2 + L), np.int64),
        np.zeros((1, 2 + L), np.int64),
        np.zeros((2, nw), np.uint64),
    )
    if status != OK:
        return status, None
    if stats_out is not None:
        stats_out.update(zip(STAT_NAMES, stats.tolist()))
    return OK, PooledPlane(net, VP, LP, int(counts[0]), int(counts[1]), args, out_scale)


class PooledPlane:
    """The kernel's exact result in its integer pools; Python integers built on demand.

    Region i's polygon: ``vertex_ids(i)`` / ``line_ids(i)`` into the vertex and line
    pools, its pattern words, zero-mask words per vertex and output maps (rows of OUT)."""

    def __init__(self, net, VP, LP, n_v, n_l, args, out_scale):
        self.net = net
        self.VP, self.LP = VP[: 3 * n_v], LP[: 3 * n_l]
        self.n = int(args["out_count"][0])
        self.off = args["out_off"][: self.n + 1].copy()
        total = int(self.off[-1])
        self.v_ids = args["out_v"][:total].copy()
        self.l_ids = args["out_l"][:total].copy()
        self.zm = args["out_zm"][:total].copy()
        self.pat = args["out_pat"][: self.n].copy()
        n_out = net.output_dim
        self.OUT = args["OUT"][: self.n * 3 * n_out].copy()
        self.out_scale = out_scale
        self._V = self._L = None

    def vertices(self):
        if self._V is None:
            ints = B.pool_ints(self.VP)
            self._V = [tuple(ints[3 * v : 3 * v + 3]) for v in range(len(ints) // 3)]
        return self._V

    def lines(self):
        if self._L is None:
            ints = B.pool_ints(self.LP)
            self._L = [tuple(ints[3 * v : 3 * v + 3]) for v in range(len(ints) // 3)]
        return self._L

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i):
        cache = self.__dict__.setdefault("_cache", {})
        if i not in cache:
            cache[i] = self.region(i)
        return cache[i]

    def __iter__(self):
        return (self[i] for i in range(self.n))

    def region(self, i):
        """The ExactPlaneRegion of region i (Python integers)."""
        from ._plane_exact import ExactPlaneRegion

        a, b = self.off[i], self.off[i + 1]
        V, L = self.vertices(), self.lines()
        verts = [V[v] for v in self.v_ids[a:b]]
        lines = [L[li] for li in self.l_ids[a:b]]
        pat = sum(int(x) << (64 * w) for w, x in enumerate(self.pat[i]))
        n_out = self.net.output_dim
        block = B.pool_ints(self.OUT[i * 3 * n_out : (i + 1) * 3 * n_out])
        out = (
            [block[3 * j] for j in range(n_out)],
            [block[3 * j + 1] for j in range(n_out)],
            [block[3 * j + 2] for j in range(n_out)],
        )
        reg = ExactPlaneRegion(verts, lines, pat, None, out, self.out_scale)
        reg.zero_masks = [sum(int(x) << (64 * w) for w, x in enumerate(row)) for row in self.zm[a:b]]
        return reg

    def num_patterns(self) -> int:
        """Patterns of regions, open edges and vertices (vectorised over the mask words)."""
        n_slots = len(self.v_ids)
        region_of = np.repeat(np.arange(self.n), np.diff(self.off))
        pat = self.pat[region_of]
        nxt = np.arange(n_slots) + 1
        nxt[self.off[1:] - 1] = self.off[:-1]  # wrap around each polygon
        rows = np.concatenate([self.pat, pat & ~self.zm, pat & ~(self.zm & self.zm[nxt])])
        rows = np.ascontiguousarray(rows)
        return len(np.unique(rows.view(np.dtype((np.void, rows.shape[1] * 8))).ravel()))
