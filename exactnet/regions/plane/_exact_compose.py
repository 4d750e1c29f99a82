"""Output maps composed from the output side in the compiled exact 2-D kernel: a row vector
times the weight matrices, with small integers, reusing the deep layers' products of the
previous region in depth-first order.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .. import _bigint as B
from .._bigint import (
    acc_add,
    acc_store,
    bi_copy,
    bi_mul,
    bi_zero,
)
from ._exact_maps import _layer_bits_equal, _unit_on
from ._exact_numbers import SETTLE_AT, _dot, _dot_units


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
