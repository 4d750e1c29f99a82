"""Exact maps of a region in the compiled exact 2-D kernel: a layer's pre-activations in full
or updated from a sibling through the units whose activation differs, and the rows of
some units made on demand from the deepest exact ancestor.
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
from ._exact_numbers import SETTLE_AT, U64, _dot, _dot_units


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


@njit(cache=True, nogil=True, inline="always")
def _unit_on(pat, uo, i, is_neuron, neuron_bit):
    if not is_neuron[uo + i]:
        return True
    bit = neuron_bit[uo + i]
    return (pat[bit // 64] >> U64(bit % 64)) & U64(1) != 0
