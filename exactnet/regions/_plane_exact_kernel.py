"""Compiled exact 2-D engine: the algorithm of :mod:`._plane_exact` on numba big integers.

The same refinement of convex polygons by integer lines, with homogeneous integer vertices
(cross products of two lines) and the same decisions, all exact (:mod:`exactnet._bigint`).
Two differences in organisation make it fast:

* regions are processed depth first: a region is cut by layer d's neurons, and each piece
  goes through layers d + 1, ... before the next piece, so memory holds one path of
  maps rather than every region's;
* the pre-activations of layer d + 1 on a piece are updated from those on the previous
  piece of the same parent: the two differ only in the layer-d units whose activation
  differs, z' = z + W[:, k] (f'_k - f_k) z_parent_k (one column per such unit, f the
  activation's factor).

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

from .. import _bigint as B
from .._bigint import (
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
def _approx(X, r):
    """A float within relative 2^-47 of the big integer X[r] (its top three limbs; the
    truncation is below 2^-48 relative, the three roundings below 2^-51); inf if huge."""
    n = X[r, 1]
    if n == 0:
        return 0.0
    lo = max(0, n - 3)
    v = 0.0
    for k in range(n - 1, lo - 1, -1):
        v = v * 16777216.0 + X[r, 2 + k]
    v = v * 2.0 ** (24 * lo)
    return v if X[r, 0] > 0 else -v


#: |sign filter error| <= FILTER * (|a X| + |b Y| + |c W|): three products of numbers
#: within 2^-47 and a sum of three, with ample room
FILTER = 2.0**-44


@njit(cache=True, nogil=True)
def _sign_filtered(zf, j, VF, v, ZM, zrow, VP, ACC, T):
    """sign(DU X + DV Y + Z W), from float approximations when their bound decides it,
    else exactly; identical to the exact evaluation."""
    t1 = zf[j, 1] * VF[v, 0]
    t2 = zf[j, 2] * VF[v, 1]
    t3 = zf[j, 0] * VF[v, 2]
    s = t1 + t2 + t3
    bound = FILTER * (abs(t1) + abs(t2) + abs(t3))
    if s > bound:
        return 1, True
    if s < -bound:
        return -1, True
    return _eval(ZM, zrow, VP, v, ACC, T)


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
    for r in range(3):
        VF[v, r] = _approx(VP, 3 * v + r)


@njit(cache=True, nogil=True)
def _preact_full(NP, wo, n_in, n_out, HM, hm, BS, bs, ZM, zm, ACC):
    """(Z, DU, DV) of every unit: Z_j = b_j S + sum_k W_jk A_k, DU_j = sum W_jk B_k, ..."""
    for j in range(n_out):
        row0 = wo + j * n_in
        for m in range(3):
            n = acc_add(ACC, 0, BS, bs + j, False) if m == 0 else 0
            for k in range(n_in):
                n = max(n, acc_add_mul(ACC, 0, NP, row0 + k, HM, hm + 3 * k + m))
                if (k + 1) % 256 == 0:
                    n = acc_settle(ACC, 0, n)
                    if n < 0:
                        return False
            if not acc_store(ACC, 0, n, ZM, zm + 3 * j + m):
                return False
    return True


@njit(cache=True, nogil=True)
def _preact_incremental(NP, wo, n_in, n_out, ZM, zm, ZP, zp, diff_units, diff_f, n_diff, DH, ACC):
    """ZM (rows zm..) += sum over the changed input units k of W[:, k] * DH_k, where DH_k =
    diff_f[k] * (parent pre-activation maps of unit k, rows zp + 3 k ..)."""
    ok = True
    for q in range(n_diff):
        k = diff_units[q]
        for m in range(3):
            ok &= bi_mul(ZP, zp + 3 * k + m, diff_f, q, DH, 3 * q + m, ACC, 0)
    for j in range(n_out):
        row0 = wo + j * n_in
        for m in range(3):
            n = acc_add(ACC, 0, ZM, zm + 3 * j + m, False)
            for q in range(n_diff):
                n = max(n, acc_add_mul(ACC, 0, NP, row0 + diff_units[q], DH, 3 * q + m))
            ok &= acc_store(ACC, 0, n, ZM, zm + 3 * j + m)
    return ok


@njit(cache=True, nogil=True)
def _run(
    dims, u_off, w_off, den_row, snum_off, sden_row, plain, linear, is_neuron, neuron_bit, nwords, NP,
    BS, bs_off, VP, LP, line_creator, counts,
    HM, hm_off, ZM, zm_off, has_prev, prev_mask,
    reg_nv, reg_v, reg_l, reg_zm, reg_pat,
    pc_count, pc_off, pc_v, pc_l, pc_zm, pc_mask, pc_cursor,
    wk_off, wk_v, wk_l, wk_zm, wk_mask, sig, edge_zero, pv_sign, pv_new, diff_units, diff_f, DH, ACC, T, VF, zf,
    new_zm, out_count, out_off, out_v, out_l, out_zm, out_pat, OUT,
):
    """The depth-first exact refinement; returns OK, OVERFLOW or GROW.

    Depth d holds a region (reg_*[d]) whose input maps are HM rows hm_off[d] + 3 k + m
    (m = 0, 1, 2: the A, B, C of h = (A + B u + C v) / S), its layer-d pre-activations ZM
    rows zm_off[d] + 3 j + m (Z, DU, DV), and, for non-linear layers, its pieces
    (pc_*[d]) with a cursor. counts = [vertices, lines] used in VP, LP."""
    n_layers = dims.shape[0] - 1
    maxv = reg_v.shape[1]
    d = 0
    fresh = True
    while d >= 0:
        if fresh:
            fresh = False
            n_in = dims[d]
            n_out = dims[d + 1]
            hm, zm = hm_off[d], zm_off[d]
            # ---- layer d's pre-activations on the region, incrementally from the previous
            #      piece of the same parent when there is one
            n_diff = 0
            if has_prev[d] and d > 0:
                uo_in = u_off[d - 1]
                for k in range(n_in):
                    if not is_neuron[uo_in + k]:
                        continue
                    bit = neuron_bit[uo_in + k]
                    mk = U64(1) << U64(bit % 64)
                    now = (reg_pat[d, bit // 64] & mk) != 0
                    before = (prev_mask[d, bit // 64] & mk) != 0
                    if now != before:
                        diff_units[n_diff] = k
                        # factor now - factor before: (den - num) or (num - den)
                        ok = True
                        if plain[d - 1]:
                            B.bi_set_small(diff_f, n_diff, 1 if now else -1)
                        else:
                            ok = B.bi_add(NP, sden_row[d - 1], NP, snum_off[d - 1] + k, diff_f, n_diff, True, ACC, 0)
                            if not now:
                                diff_f[n_diff, 0] = -diff_f[n_diff, 0]
                        if not ok:
                            return OVERFLOW
                        n_diff += 1
            if has_prev[d] and d > 0 and 4 * n_diff < n_in:
                if not _preact_incremental(NP, w_off[d], n_in, n_out, ZM, zm, ZM, zm_off[d - 1],
                                           diff_units, diff_f, n_diff, DH, ACC):
                    return OVERFLOW
            else:
                if not _preact_full(NP, w_off[d], n_in, n_out, HM, hm, BS, bs_off[d], ZM, zm, ACC):
                    return OVERFLOW
            has_prev[d] = True
            for w in range(nwords):
                prev_mask[d, w] = reg_pat[d, w]
            # ---- the output layer: emit the region
            if d == n_layers - 1:
                o = out_count[0]
                nv = reg_nv[d]
                if o + 1 >= out_off.shape[0] or out_off[o] + nv > out_v.shape[0] or (o + 1) * 3 * n_out > OUT.shape[0]:
                    return GROW
                base = out_off[o]
                for q in range(nv):
                    out_v[base + q] = reg_v[d, q]
                    out_l[base + q] = reg_l[d, q]
                    for w in range(nwords):
                        out_zm[base + q, w] = reg_zm[d, q, w]
                out_off[o + 1] = base + nv
                for w in range(nwords):
                    out_pat[o, w] = reg_pat[d, w]
                for r in range(3 * n_out):
                    if ZM[zm + r, 1] > OUT.shape[1] - 2:
                        return OVERFLOW
                    bi_copy(ZM, zm + r, OUT, o * 3 * n_out + r)
                out_count[0] = o + 1
                d -= 1
                continue
            # ---- cut by layer d's neurons (a linear layer gives one piece: the region)
            st = _cut(d, n_out, u_off[d], is_neuron, neuron_bit, nwords, ZM, zm, VP, LP, line_creator, counts,
                      reg_nv, reg_v, reg_l, reg_zm, pc_count, pc_off, pc_v, pc_l, pc_zm, pc_mask,
                      wk_off, wk_v, wk_l, wk_zm, wk_mask, sig, edge_zero, pv_sign, pv_new, ACC, T, VF, zf, new_zm)
            if st != OK:
                return st
            pc_cursor[d] = 0
            has_prev[d + 1] = False
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
            # input maps of layer d + 1 on the piece: h = f * z (f: 1 or the slope)
            uo = u_off[d]
            hm1, zm = hm_off[d + 1], zm_off[d]
            for j in range(dims[d + 1]):
                on = True
                if is_neuron[uo + j]:
                    bit = neuron_bit[uo + j]
                    on = (pc_mask[d, p, bit // 64] >> U64(bit % 64)) & U64(1) != 0
                for m in range(3):
                    if plain[d]:
                        if on:
                            bi_copy(ZM, zm + 3 * j + m, HM, hm1 + 3 * j + m)
                        else:
                            bi_zero(HM, hm1 + 3 * j + m)
                    else:
                        row = sden_row[d] if on else snum_off[d] + j
                        if not bi_mul(ZM, zm + 3 * j + m, NP, row, HM, hm1 + 3 * j + m, ACC, 0):
                            return OVERFLOW
            d += 1
            fresh = True
        else:
            d -= 1
    return OK


@njit(cache=True, nogil=True)
def _cut(d, n_out, uo, is_neuron, neuron_bit, nwords, ZM, zm, VP, LP, line_creator, counts,
         reg_nv, reg_v, reg_l, reg_zm, pc_count, pc_off, pc_v, pc_l, pc_zm, pc_mask,
         wk_off, wk_v, wk_l, wk_zm, wk_mask, sig, edge_zero, pv_sign, pv_new, ACC, T, VF, zf, new_zm):
    """Cut the depth-d region by its crossing neurons, one after the other, into pc_*[d].

    sig[j, q]: sign of neuron j at the region's vertex q. wk_*: two work buffers of
    pieces (vertex ids, line ids, zero masks, layer-d mask)."""
    nv = reg_nv[d]
    cap_v = VP.shape[0] // 3
    cap_l = LP.shape[0] // 3
    cap_w = wk_v.shape[1]
    cap_pieces = wk_off.shape[1] - 1
    region_zero = np.empty(nwords, np.uint64)
    base_mask = np.zeros(nwords, np.uint64)
    # float approximations of the layer's lines, for the sign filter
    for j in range(n_out):
        for m in range(3):
            zf[j, m] = _approx(ZM, zm + 3 * j + m)
    # signs of every neuron at the region's vertices; zero masks
    n_cross = 0
    for j in range(n_out):
        if not is_neuron[uo + j]:
            continue
        bit = neuron_bit[uo + j]
        w = bit // 64
        mk = U64(1) << U64(bit % 64)
        pos = False
        neg = False
        for q in range(nv):
            s, ok = _sign_filtered(zf, j, VF, reg_v[d, q], ZM, zm + 3 * j, VP, ACC, T)
            if not ok:
                return OVERFLOW
            sig[j, q] = s
            if s > 0:
                pos = True
            elif s < 0:
                neg = True
            else:
                reg_zm[d, q, w] |= mk
        if pos and neg:
            sig[j, nv] = 1  # marks a crossing neuron
            n_cross += 1
        else:
            sig[j, nv] = 0
            if pos:
                base_mask[w] |= mk
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
                        s, ok = _sign_filtered(zf, j, VF, v, ZM, zm + 3 * j, VP, ACC, T)
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
                                    s2, ok = _sign_filtered(zf, j2, VF, c, ZM, zm + 3 * j2, VP, ACC, T)
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
        wbits = max([abs(x).bit_length() for row in il.weight_num for x in row] + [abs(b).bit_length() for b in il.bias_num] + [1])
        sbits = max([abs(x).bit_length() for x in il.slope_num] + [il.slope_den.bit_length(), 1])
        line = h + wbits + math.ceil(math.log2(layer.in_features + 2)) + il.den.bit_length() + 2
        worst = max(worst, line)
        h = line + sbits
    return 4 * worst + 64


class _Capacities:
    def __init__(self, limbs, vertices=4096, lines=4096, pieces=256, piece_slots=4096, out=4096, out_slots=32768):
        self.limbs, self.vertices, self.lines = limbs, vertices, lines
        self.pieces, self.piece_slots, self.out, self.out_slots = pieces, piece_slots, out, out_slots

    def grown(self):
        return _Capacities(self.limbs, 2 * self.vertices, 2 * self.lines, 2 * self.pieces, 2 * self.piece_slots,
                           2 * self.out, 2 * self.out_slots)


def run_plane_exact(net, P0, P1, P2, Sx, domain_hv, domain_lines):
    """Exact regions of ``net`` on the convex polygon (domain_hv, domain_lines), CCW, of the
    plane x = (P0 + P1 u + P2 v) / Sx. Returns a list of ``ExactPlaneRegion`` (with zero
    masks per vertex) or None when the integers would need an unreasonable capacity."""
    from ._line_exact_kernel import ExactNetData

    data = net.__dict__.get("_exactnet_exact_data")
    if data is None:
        data = net.__dict__["_exactnet_exact_data"] = ExactNetData(net)
    P_bits = max(abs(int(v)).bit_length() for v in list(P0) + list(P1) + list(P2) + [Sx] + [x for t in domain_hv for x in t] + [x for t in domain_lines for x in t])
    cap = _Capacities(B.capacity_for_bits(_bits_estimate(net, data, P_bits)))
    for _ in range(12):
        status, result = _attempt(net, data, P0, P1, P2, Sx, domain_hv, domain_lines, cap)
        if status == OK:
            return result
        cap = cap.grown() if status == GROW else _Capacities(2 * cap.limbs, cap.vertices, cap.lines, cap.pieces,
                                                             cap.piece_slots, cap.out, cap.out_slots)
        if cap.limbs > 4096:
            return None
    return None


def _attempt(net, data, P0, P1, P2, Sx, domain_hv, domain_lines, cap):

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
    VF = np.zeros((cap.vertices, 3))
    for v in range(nd):
        _set_approx(VP, v, VF)
    zf = np.zeros((maxw, 3))
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
        pc_count=np.zeros(n_layers, np.int64), pc_off=np.zeros((n_layers, cap.pieces + 1), np.int64),
        pc_v=np.zeros((n_layers, cap.piece_slots), np.int64), pc_l=np.zeros((n_layers, cap.piece_slots), np.int64),
        pc_zm=np.zeros((n_layers, cap.piece_slots, nw), np.uint64), pc_mask=np.zeros((n_layers, cap.pieces, nw), np.uint64),
        pc_cursor=np.zeros(n_layers, np.int64),
        wk_off=np.zeros((2, cap.pieces + 1), np.int64), wk_v=np.zeros((2, cap.piece_slots), np.int64),
        wk_l=np.zeros((2, cap.piece_slots), np.int64), wk_zm=np.zeros((2, cap.piece_slots, nw), np.uint64),
        wk_mask=np.zeros((2, cap.pieces, nw), np.uint64),
        sig=np.zeros((maxw, maxv + 1), np.int64), edge_zero=np.zeros((maxv, nw), np.uint64),
        pv_sign=np.zeros(maxv + 4 * net.num_neurons + 8, np.int64), pv_new=np.zeros(maxv + 4 * net.num_neurons + 8, np.int64),
        diff_units=np.zeros(maxw, np.int64), diff_f=np.zeros((maxw, 2 + L), np.int64),
        DH=np.zeros((3 * maxw, 2 + L), np.int64),
        ACC=np.zeros((1, 2 * L + data.pool.shape[1] + 8), np.int64), T=np.zeros((1, 2 + L), np.int64),
        out_count=np.zeros(1, np.int64), out_off=np.zeros(cap.out + 1, np.int64),
        out_v=np.zeros(cap.out_slots, np.int64), out_l=np.zeros(cap.out_slots, np.int64),
        out_zm=np.zeros((cap.out_slots, nw), np.uint64), out_pat=np.zeros((cap.out, nw), np.uint64),
        OUT=np.zeros((cap.out * 3 * int(dims[-1]), 2 + L), np.int64),
    )
    has_prev = np.zeros(n_layers + 1, np.bool_)
    prev_mask = np.zeros((n_layers + 1, nw), np.uint64)
    status = _run(
        dims, data.u_off, data.w_off, data.den_row, data.snum_off, data.sden_row, data.plain, data.linear,
        data.is_neuron, data.neuron_bit, nw, data.pool, BS, bs_off, VP, LP, line_creator, counts,
        HM, hm_off, ZM, zm_off, has_prev, prev_mask, reg_nv, reg_v, reg_l, reg_zm, reg_pat,
        args["pc_count"], args["pc_off"], args["pc_v"], args["pc_l"], args["pc_zm"], args["pc_mask"], args["pc_cursor"],
        args["wk_off"], args["wk_v"], args["wk_l"], args["wk_zm"], args["wk_mask"], args["sig"], args["edge_zero"],
        args["pv_sign"], args["pv_new"], args["diff_units"], args["diff_f"], args["DH"], args["ACC"], args["T"], VF, zf,
        np.zeros((len(args["pv_new"]), nw), np.uint64), args["out_count"], args["out_off"], args["out_v"], args["out_l"], args["out_zm"], args["out_pat"], args["OUT"],
    )
    if status != OK:
        return status, None
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
        out = ([block[3 * j] for j in range(n_out)], [block[3 * j + 1] for j in range(n_out)],
               [block[3 * j + 2] for j in range(n_out)])
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
