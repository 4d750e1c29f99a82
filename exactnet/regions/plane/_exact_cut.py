"""Cutting a region of the compiled exact 2-D kernel by the neurons of one layer: the signs
at its vertices (certified floats, else exact), the new vertices and edges of each piece,
and the zero masks of the vertices.
"""

from __future__ import annotations

from numba import njit

from .._bigint import (
    bi_copy,
)
from ._exact_numbers import GROW, NEED_EXACT, OK, OVERFLOW, U64, _cross, _set_approx, _sign_filtered


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
