"""Compiled exact 1-D engine: the algorithm of :mod:`._exact` on numba big integers.

Same layer-by-layer interval refinement, same integer numerators over a common positive
scale, same decisions, all exact (:mod:`exactnet.regions._bigint`: no rounding anywhere). The
Python engine in ``_exact.py`` stays the readable definition; this kernel is tested
against it and is what ``exact=True`` runs. A segment whose integers outgrow the chosen
capacity is reported as OVERFLOW and recomputed with a larger one (and finally by the
Python engine).

Pools (see ``_bigint``): rows of int64 arrays, one big integer per row.
Running it on batches (pools, retries, the pooled result) is :mod:`._exact_pooled`.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numba import njit

from .. import _bigint as B
from .._bigint import (
    acc_add,
    acc_add_mul,
    acc_settle,
    acc_store,
    acc_sub_mul,
    bi_add,
    bi_cmp_mag,
    bi_copy,
    bi_mul,
    bi_set_small,
    bi_zero,
)

OK = 0


OVERFLOW = 1  # an integer outgrew the capacity: retry with more limbs


NEED_ROWS = 2  # a working pool is too small: grow it and retry this segment


class ExactLineNet(NamedTuple):
    """The network's integers as :func:`_run` takes them (:meth:`ExactNetData.args`)."""

    # widths, unit offsets, and the rows in the pool NP of each layer's weights, biases,
    # denominator, slope numerators and slope denominator
    dims: np.ndarray
    u_off: np.ndarray
    w_off: np.ndarray
    b_off: np.ndarray
    den_row: np.ndarray
    snum_off: np.ndarray
    sden_row: np.ndarray
    # plain-ReLU and linear layers, which units are neurons and their pattern bits
    plain: np.ndarray
    linear: np.ndarray
    is_neuron: np.ndarray
    neuron_bit: np.ndarray
    nwords: int
    # the integer pool
    NP: np.ndarray


class ExactLineSegments(NamedTuple):
    """The segments in integer form: n0 rows per segment of alpha0, beta0, one of scale0."""

    # start and direction numerators, and the common denominator
    alpha0: np.ndarray
    beta0: np.ndarray
    scale0: np.ndarray


class ExactLineWork(NamedTuple):
    """The working pools and scratch of :func:`_run` (contents meaningless between calls)."""

    # points (num, den rows), maps h = A + B2 t per interval and their next-layer versions
    # NA, NB (maxw rows per interval), pre-activations Z, DZ, scaled biases BS, scale S,
    # scratch T, flipped-unit differences DA, DB, the accumulator and its settle period
    PTS: np.ndarray
    A: np.ndarray
    B2: np.ndarray
    NA: np.ndarray
    NB: np.ndarray
    Z: np.ndarray
    DZ: np.ndarray
    BS: np.ndarray
    S: np.ndarray
    T: np.ndarray
    DA: np.ndarray
    DB: np.ndarray
    ACC: np.ndarray
    period: int
    # right-end signs; flipped units per interval (this layer's and the next's); patterns
    # per interval (both); zero masks per point; interval ends (both); crossing units
    sgn: np.ndarray
    flips: np.ndarray
    nflips: np.ndarray
    nflips2: np.ndarray
    flips2: np.ndarray
    pat: np.ndarray
    npat: np.ndarray
    zm: np.ndarray
    order: np.ndarray
    norder: np.ndarray
    cr: np.ndarray


class ExactLineOut(NamedTuple):
    """What :func:`_run` writes: per segment its status and region count, and the regions."""

    # per segment: OK or OVERFLOW, number of regions
    seg_status: np.ndarray
    seg_regions: np.ndarray
    # per point: num, den rows and zero masks; per region: n_out rows of out_a, out_b and
    # the pattern; per segment: the output scale
    out_pts: np.ndarray
    out_a: np.ndarray
    out_b: np.ndarray
    out_pat: np.ndarray
    out_zm: np.ndarray
    out_scale: np.ndarray


class ExactNetData:
    """The network's integers in one pool, with offsets, for the kernel."""

    def __init__(self, net):
        layers = net.layers
        ints: list[int] = []
        self.dims = np.array([net.input_dim] + [l.out_features for l in layers], dtype=np.int64)
        L = len(layers)
        self.w_off = np.zeros(L, np.int64)
        self.b_off = np.zeros(L, np.int64)
        self.den_row = np.zeros(L, np.int64)
        self.snum_off = np.zeros(L, np.int64)
        self.sden_row = np.zeros(L, np.int64)
        self.plain = np.zeros(L, np.bool_)
        self.linear = np.zeros(L, np.bool_)
        isn, nbit = [], []
        bit = 0
        for i, layer in enumerate(layers):
            il = layer.integer
            self.w_off[i] = len(ints)
            for row in il.weight_num:
                ints.extend(row)
            self.b_off[i] = len(ints)
            ints.extend(il.bias_num)
            self.den_row[i] = len(ints)
            ints.append(il.den)
            self.snum_off[i] = len(ints)
            ints.extend(il.slope_num)
            self.sden_row[i] = len(ints)
            ints.append(il.slope_den)
            self.plain[i] = il.plain_relu
            self.linear[i] = layer.is_linear
            isn.extend(il.is_neuron)
            idx = np.full(layer.out_features, -1, np.int64)
            k = len(il.neuron_units)
            idx[list(il.neuron_units)] = np.arange(bit, bit + k)
            bit += k
            nbit.append(idx)
        self.u_off = np.concatenate([[0], np.cumsum(self.dims[1:])]).astype(np.int64)
        self.is_neuron = np.array(isn, dtype=np.bool_)
        self.neuron_bit = np.concatenate(nbit)
        self.num_neurons = bit
        self.nwords = max(1, (bit + 63) // 64)
        self.max_width = int(self.dims.max())
        self.n_out = int(self.dims[-1])
        self.bits = max(1, max(abs(v).bit_length() for v in ints))
        self.pool = B.to_pool(ints, B.capacity_for_bits(self.bits))
        self.log_widths = int(sum(math.ceil(math.log2(d + 1)) + 1 for d in self.dims))

    def args(self) -> ExactLineNet:
        """The network's arrays as :func:`_run` takes them."""
        return ExactLineNet(
            dims=self.dims,
            u_off=self.u_off,
            w_off=self.w_off,
            b_off=self.b_off,
            den_row=self.den_row,
            snum_off=self.snum_off,
            sden_row=self.sden_row,
            plain=self.plain,
            linear=self.linear,
            is_neuron=self.is_neuron,
            neuron_bit=self.neuron_bit,
            nwords=self.nwords,
            NP=self.pool,
        )


@njit(cache=True, nogil=True)
def _eval_sign(Zp, zr, DZp, dzr, num_p, nr, den_p, dr, T, t0, ACC):
    """sign(z den + dz num) for t = num/den (den > 0); row t0 of T is scratch."""
    n1 = acc_add_mul(ACC, 0, Zp, zr, den_p, dr)
    n2 = acc_add_mul(ACC, 0, DZp, dzr, num_p, nr)
    ok = acc_store(ACC, 0, max(n1, n2), T, t0)
    return T[t0, 0], ok


@njit(cache=True, nogil=True)
def _cmp_frac(P, a, b, T, t0, ACC):
    """Compare points a and b of pool P (rows 2a, 2a+1: num, den > 0): -1, 0, 1."""
    n1 = acc_add_mul(ACC, 0, P, 2 * a, P, 2 * b + 1)
    n2 = acc_sub_mul(ACC, 0, P, 2 * b, P, 2 * a + 1)
    ok = acc_store(ACC, 0, max(n1, n2), T, t0)
    return T[t0, 0], ok


@njit(cache=True, nogil=True)
def _preact_full(NP, wo, n_in, n_out, A, B2, base, BS, Z, DZ, ACC, period):
    """z_j = b_j S + sum_k W_jk a_k and dz_j = sum_k W_jk b_k for every unit j (a, b: rows
    base + k of A, B2), each accumulated and normalised once."""
    ok = True
    for j in range(n_out):
        row0 = wo + j * n_in
        n = acc_add(ACC, 0, BS, j, False)
        m = 0
        for k in range(n_in):
            n = max(n, acc_add_mul(ACC, 0, NP, row0 + k, A, base + k))
            m = max(m, acc_add_mul(ACC, 1, NP, row0 + k, B2, base + k))
            if (k + 1) % period == 0:
                n = acc_settle(ACC, 0, n)
                m = acc_settle(ACC, 1, m)
                if n < 0 or m < 0:
                    return False
        ok &= acc_store(ACC, 0, n, Z, j)
        ok &= acc_store(ACC, 1, m, DZ, j)
    return ok


@njit(cache=True, nogil=True)
def _preact_flips(NP, wo, n_in, n_out, A, B2, base, prev, flip_units, nf, DA, DB, Z, DZ, ACC):
    """z += sum over the flipped units k of W[:, k] (h_i[k] - h_{i-1}[k]) (and dz likewise)."""
    ok = True
    for f in range(nf):
        k = flip_units[f]
        n = acc_add(ACC, 0, A, base + k, False)
        n = max(n, acc_add(ACC, 0, A, prev + k, True))
        ok &= acc_store(ACC, 0, n, DA, f)
        n = acc_add(ACC, 0, B2, base + k, False)
        n = max(n, acc_add(ACC, 0, B2, prev + k, True))
        ok &= acc_store(ACC, 0, n, DB, f)
    for j in range(n_out):
        n = acc_add(ACC, 0, Z, j, False)
        m = acc_add(ACC, 1, DZ, j, False)
        for f in range(nf):
            wr = wo + j * n_in + flip_units[f]
            n = max(n, acc_add_mul(ACC, 0, NP, wr, DA, f))
            m = max(m, acc_add_mul(ACC, 1, NP, wr, DB, f))
        ok &= acc_store(ACC, 0, n, Z, j)
        ok &= acc_store(ACC, 1, m, DZ, j)
    return ok


@njit(cache=True, nogil=True, inline="always")
def _relu_copy(plain, Z, j, NP, factor_row, DST, row, ACC):
    """DST[row] = Z[j] * factor (a plain ReLU layer's factors are 1 or 0: copy)."""
    if plain:
        bi_copy(Z, j, DST, row)
        return True
    return bi_mul(Z, j, NP, factor_row, DST, row, ACC, 0)


@njit(cache=True, nogil=True)
def _run(segs, first, stop, net, work, out, out_pos, pts_pos):
    """Exact refinement of segments first..stop-1 (see the module docstring).

    ``segs`` (:class:`ExactLineSegments`): alpha0/beta0 hold n0 rows per segment (integer
    start and direction), scale0 one row (the common denominator); ``net``
    (:class:`ExactLineNet`): the network; ``work`` (:class:`ExactLineWork`): the working
    pools; ``out`` (:class:`ExactLineOut`): the results, written from region out_pos and
    point pts_pos on. Each segment with status OK writes its m regions to out_a, out_b
    (n_out rows each), out_pat, and its m + 1 points (num, den rows) with their zero
    masks to out_pts, out_zm, and its output scale to out_scale[seg]. Returns
    (next segment, out_pos, pts_pos, code): code NEED_ROWS when a pool is too small
    (the caller grows it and resumes at that segment).
    """
    (alpha0, beta0, scale0) = segs
    (dims, u_off, w_off, b_off, den_row, snum_off, sden_row, plain, linear, is_neuron, neuron_bit, nwords, NP) = net
    (
        PTS,
        A,
        B2,
        NA,
        NB,
        Z,
        DZ,
        BS,
        S,
        T,
        DA,
        DB,
        ACC,
        period,
        sgn,
        flips,
        nflips,
        nflips2,
        flips2,
        pat,
        npat,
        zm,
        order,
        norder,
        cr,
    ) = work
    (seg_status, seg_regions, out_pts, out_a, out_b, out_pat, out_zm, out_scale) = out
    n_layers = dims.shape[0] - 1
    n0 = dims[0]
    maxw = sgn.shape[0]
    cap_iv = nflips.shape[0]
    cap_pts = PTS.shape[0] // 2
    for seg in range(first, stop):
        ok = True
        st = OK
        ACC[:, :] = 0  # a failed segment may leave digits behind
        # points: id 0 is t = 0/1, id 1 is t = 1/1
        bi_set_small(PTS, np.int64(0), np.int64(0))
        bi_set_small(PTS, np.int64(1), np.int64(1))
        bi_set_small(PTS, np.int64(2), np.int64(1))
        bi_set_small(PTS, np.int64(3), np.int64(1))
        n_pts = 2
        for w in range(nwords):
            zm[0, w] = 0
            zm[1, w] = 0
            pat[0, w] = 0
        m = 1
        order[0] = 0
        order[1] = 1
        for k in range(n0):
            bi_copy(alpha0, seg * n0 + k, A, k)
            bi_copy(beta0, seg * n0 + k, B2, k)
        nflips[0] = -1
        bi_copy(scale0, seg, S, 0)
        for layer in range(n_layers):
            n_in = dims[layer]
            n_out = dims[layer + 1]
            wo = w_off[layer]
            uo = u_off[layer]
            pl = plain[layer]
            last = layer == n_layers - 1
            for j in range(n_out):
                ok &= bi_mul(NP, b_off[layer] + j, S, 0, BS, j, ACC, 0)
            nm = 0
            n_order = 1
            norder[0] = order[0]
            for i in range(m):
                # ---- pre-activations Z, DZ on interval i: from scratch, or from interval
                #      i - 1 plus one column per unit that flipped between them
                if nflips[i] < 0:
                    ok &= _preact_full(NP, wo, n_in, n_out, A, B2, i * maxw, BS, Z, DZ, ACC, period)
                else:
                    ok &= _preact_flips(
                        NP, wo, n_in, n_out, A, B2, i * maxw, (i - 1) * maxw, flips[i], nflips[i], DA, DB, Z, DZ, ACC
                    )
                if not ok:
                    break
                if last:
                    if (out_pos + i + 1) * n_out > out_a.shape[0]:
                        st = NEED_ROWS
                        break
                    for j in range(n_out):
                        if Z[j, 1] > out_a.shape[1] - 2 or DZ[j, 1] > out_b.shape[1] - 2:
                            ok = False
                        else:
                            bi_copy(Z, j, out_a, (out_pos + i) * n_out + j)
                            bi_copy(DZ, j, out_b, (out_pos + i) * n_out + j)
                    continue
                if linear[layer]:
                    for j in range(n_out):
                        bi_copy(Z, j, NA, i * maxw + j)
                        bi_copy(DZ, j, NB, i * maxw + j)
                    for w in range(nwords):
                        npat[i, w] = pat[i, w]
                    nflips2[i] = -1
                    continue
                # ---- classify every neuron on interval i = (order[i], order[i + 1])
                p_lo = order[i]
                p_hi = order[i + 1]
                if nm + n_out + 1 > cap_iv or n_pts + n_out > cap_pts:
                    st = NEED_ROWS
                    break
                for w in range(nwords):
                    npat[nm, w] = pat[i, w]
                nc = 0
                for j in range(n_out):
                    row = nm * maxw + j
                    if not is_neuron[uo + j]:
                        ok &= _relu_copy(pl, Z, j, NP, sden_row[layer], NA, row, ACC)
                        ok &= _relu_copy(pl, DZ, j, NP, sden_row[layer], NB, row, ACC)
                        continue
                    zs = Z[j, 0]
                    ds = DZ[j, 0]
                    # sign at the left end: at t = 0 it is sign(z); further right, the sign
                    # found at the left neighbour's right end (z is continuous)
                    a = zs if i == 0 else sgn[j]
                    # sign at the right end: a cheap exact test, else evaluate
                    if zs > 0 and (ds >= 0 or bi_cmp_mag(Z, j, DZ, j) > 0):
                        b = 1
                    elif zs < 0 and (ds <= 0 or bi_cmp_mag(Z, j, DZ, j) > 0):
                        b = -1
                    elif zs == 0 and ds == 0:
                        b = 0
                    elif p_hi == 1:
                        ok &= bi_add(Z, j, DZ, j, T, np.int64(3), False, ACC, np.int64(0))
                        b = T[3, 0]
                    else:
                        b, o1 = _eval_sign(Z, j, DZ, j, PTS, 2 * p_hi, PTS, 2 * p_hi + 1, T, 3, ACC)
                        ok &= o1
                    sgn[j] = b
                    bit = neuron_bit[uo + j]
                    wd = bit // 64
                    mk = np.uint64(1) << np.uint64(bit % 64)
                    if a == 0:
                        zm[p_lo, wd] |= mk
                    if b == 0:
                        zm[p_hi, wd] |= mk
                    if a > 0 or (a == 0 and b > 0):
                        npat[nm, wd] |= mk
                        ok &= _relu_copy(pl, Z, j, NP, sden_row[layer], NA, row, ACC)
                        ok &= _relu_copy(pl, DZ, j, NP, sden_row[layer], NB, row, ACC)
                    elif pl:
                        bi_zero(NA, row)
                        bi_zero(NB, row)
                    else:
                        ok &= bi_mul(Z, j, NP, snum_off[layer] + j, NA, row, ACC, 0)
                        ok &= bi_mul(DZ, j, NP, snum_off[layer] + j, NB, row, ACC, 0)
                    if a * b < 0:
                        # the root t = -z/dz becomes point n_pts + nc (den > 0)
                        q = n_pts + nc
                        bi_copy(Z, j, PTS, 2 * q)
                        bi_copy(DZ, j, PTS, 2 * q + 1)
                        if ds > 0:
                            PTS[2 * q, 0] = -PTS[2 * q, 0]
                        else:
                            PTS[2 * q + 1, 0] = -PTS[2 * q + 1, 0]
                        cr[nc] = j
                        # insertion sort by exact comparison
                        c = nc
                        while c > 0:
                            cmpv, o1 = _cmp_frac(PTS, n_pts + c - 1, n_pts + c, T, 3, ACC)
                            ok &= o1
                            if cmpv <= 0:
                                break
                            for rr in range(2):
                                bi_copy(PTS, 2 * (n_pts + c) + rr, T, 5)
                                bi_copy(PTS, 2 * (n_pts + c - 1) + rr, PTS, 2 * (n_pts + c) + rr)
                                bi_copy(T, 5, PTS, 2 * (n_pts + c - 1) + rr)
                            tmp = cr[c - 1]
                            cr[c - 1] = cr[c]
                            cr[c] = tmp
                            c -= 1
                        nc += 1
                nflips2[nm] = -1
                nm += 1
                if not ok:
                    break
                # ---- one sub-interval per group of equal roots: copy the previous one
                #      and flip the group's neurons
                g = 0
                while g < nc:
                    h = g + 1
                    while h < nc:
                        cmpv, o1 = _cmp_frac(PTS, n_pts + g, n_pts + h, T, 3, ACC)
                        ok &= o1
                        if cmpv != 0:
                            break
                        h += 1
                    o = nm
                    for jj in range(n_out):
                        bi_copy(NA, (o - 1) * maxw + jj, NA, o * maxw + jj)
                        bi_copy(NB, (o - 1) * maxw + jj, NB, o * maxw + jj)
                    pid = n_pts + g
                    for w in range(nwords):
                        npat[o, w] = npat[o - 1, w]
                        zm[pid, w] = 0
                    for c in range(g, h):
                        j = cr[c]
                        bit = neuron_bit[uo + j]
                        wd = bit // 64
                        mk = np.uint64(1) << np.uint64(bit % 64)
                        was_on = (npat[o, wd] & mk) != 0
                        npat[o, wd] ^= mk
                        zm[pid, wd] |= mk
                        row = o * maxw + j
                        if was_on:
                            if pl:
                                bi_zero(NA, row)
                                bi_zero(NB, row)
                            else:
                                ok &= bi_mul(Z, j, NP, snum_off[layer] + j, NA, row, ACC, 0)
                                ok &= bi_mul(DZ, j, NP, snum_off[layer] + j, NB, row, ACC, 0)
                        else:
                            ok &= _relu_copy(pl, Z, j, NP, sden_row[layer], NA, row, ACC)
                            ok &= _relu_copy(pl, DZ, j, NP, sden_row[layer], NB, row, ACC)
                        flips2[o, c - g] = j
                    nflips2[o] = h - g
                    norder[n_order] = pid
                    n_order += 1
                    nm += 1
                    g = h
                n_pts += nc
                norder[n_order] = p_hi
                n_order += 1
            if st != OK or not ok or last:
                break
            A, NA = NA, A
            B2, NB = NB, B2
            pat, npat = npat, pat
            nflips, nflips2 = nflips2, nflips
            flips, flips2 = flips2, flips
            if not linear[layer]:
                order, norder = norder, order
                m = nm
            # scale: S <- S * den (* slope_den after a nonlinear layer)
            ok &= bi_mul(S, 0, NP, den_row[layer], T, 4, ACC, 0)
            bi_copy(T, 4, S, 0)
            if not linear[layer]:
                ok &= bi_mul(S, 0, NP, sden_row[layer], T, 4, ACC, 0)
                bi_copy(T, 4, S, 0)
        if st == NEED_ROWS:
            return seg, out_pos, pts_pos, NEED_ROWS
        if ok:
            if pts_pos + m + 1 > out_pts.shape[0] // 2 or out_pos + m > out_pat.shape[0]:
                return seg, out_pos, pts_pos, NEED_ROWS
            for q in range(m + 1):
                pid = order[q]
                if PTS[2 * pid, 1] > out_pts.shape[1] - 2 or PTS[2 * pid + 1, 1] > out_pts.shape[1] - 2:
                    ok = False
                    break
                bi_copy(PTS, 2 * pid, out_pts, 2 * (pts_pos + q))
                bi_copy(PTS, 2 * pid + 1, out_pts, 2 * (pts_pos + q) + 1)
                for w in range(nwords):
                    out_zm[pts_pos + q, w] = zm[pid, w]
            # outputs are numerators over S * den of the last layer
            ok &= bi_mul(S, 0, NP, den_row[n_layers - 1], T, 4, ACC, 0)
            if ok and T[4, 1] <= out_scale.shape[1] - 2:
                bi_copy(T, 4, out_scale, seg)
            else:
                ok = False
        if not ok:
            seg_status[seg] = OVERFLOW
            seg_regions[seg] = 0
            continue
        for q in range(m):
            for w in range(nwords):
                out_pat[out_pos + q, w] = pat[q, w]
        seg_status[seg] = OK
        seg_regions[seg] = m
        out_pos += m
        pts_pos += m + 1
    return stop, out_pos, pts_pos, OK


@njit(cache=True, nogil=True)
def _summaries(count, n_out, nwords, out_b, out_pat, out_zm, piece_start, smp, T, ACC):
    """Per segment: pieces, non-empty patterns; per region: piece starts; per segment and
    output: the exact SMP numerator sum |slope jumps| (over the segment's output scale).

    count[s] regions per segment (0 for segments not computed here)."""
    n_seg = count.shape[0]
    pieces = np.zeros(n_seg, np.int64)
    patterns = np.zeros(n_seg, np.int64)
    r0 = 0
    p0 = 0
    ok = True
    for s in range(n_seg):
        m = count[s]
        if m == 0:
            continue
        pc = 1
        piece_start[r0] = True
        for k in range(n_out):
            bi_zero(smp, s * n_out + k)
        for r in range(r0 + 1, r0 + m):
            same = True
            for k in range(n_out):
                ok &= bi_add(out_b, r * n_out + k, out_b, (r - 1) * n_out + k, T, np.int64(0), True, ACC, np.int64(0))
                if T[0, 0] != 0:
                    same = False
                    T[0, 0] = 1  # |jump|
                    ok &= bi_add(smp, s * n_out + k, T, np.int64(0), smp, s * n_out + k, False, ACC, np.int64(0))
            piece_start[r] = not same
            if not same:
                pc += 1
        pieces[s] = pc
        # non-empty patterns: a point adds one when a neuron vanishing there is active on
        # its left and one (maybe another) is active on its right; an end adds one when a
        # neuron vanishing there is active on the adjacent region
        pt = m
        for q in range(m + 1):
            left = False
            right = False
            for w in range(nwords):
                z = out_zm[p0 + q, w]
                if q > 0 and (z & out_pat[r0 + q - 1, w]) != 0:
                    left = True
                if q < m and (z & out_pat[r0 + q, w]) != 0:
                    right = True
            if q == 0 or q == m:
                pt += left or right
            else:
                pt += left and right
        patterns[s] = pt
        r0 += m
        p0 += m + 1
    return pieces, patterns, ok
