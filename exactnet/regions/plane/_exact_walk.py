"""The depth-first walk of the compiled exact 2-D kernel: every region goes through the
layers below it before its siblings, carrying certified float maps and asking for exact maps
only where a decision needs them; the counters of each path.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from .._bigint import bi_copy
from ..line._exact_kernel import ExactLineNet
from ._exact_compose import _backward_output, _backward_rows
from ._exact_cut import _cut
from ._exact_maps import _materialize, _sibling_diff
from ._exact_numbers import GROW, LIMIT, NEED_EXACT, OK, OVERFLOW, REL_EXACT, _float_from_exact, _float_preact, _ratio

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


class WalkNet(NamedTuple):
    """The network's constant data for the walk: exact integers, certified floats, scales."""

    # the exact network (ExactNetData.args()): widths, unit, weight and bias offsets,
    # denominator and slope rows in the integer pool NP, plain-ReLU and linear layers,
    # neurons, pattern bits
    exact: ExactLineNet
    # the biases over each layer's scale (pool BS, layer d from row bs_off[d])
    BS: np.ndarray
    bs_off: np.ndarray
    # the float network (FlatNetwork): weights (layer d from wf_off[d]), biases, slopes
    WF: np.ndarray
    wf_off: np.ndarray
    BF: np.ndarray
    SF: np.ndarray
    # the scales S_d den_d of the exact maps of layer d, as mantissa and exponent
    s_mant: np.ndarray
    s_exp: np.ndarray


class WalkPools(NamedTuple):
    """The vertex and line pools the walk adds to (shared by every region)."""

    # homogeneous vertices and lines (3 pool rows each), counts = [vertices, lines], the
    # neuron that made each line (-1: a domain edge), float approximations of the vertices
    VP: np.ndarray
    LP: np.ndarray
    line_creator: np.ndarray
    counts: np.ndarray
    VF: np.ndarray


class WalkPath(NamedTuple):
    """The state of the depth-first path: per depth, the region, its maps and its pieces."""

    # exact input maps (HM rows hm_off[d] + 3 k + m) and pre-activation maps (ZM rows
    # zm_off[d] + 3 j + m, valid when zm_serial[d] == serial[d]), the parent serial and
    # pattern words they were made for
    HM: np.ndarray
    hm_off: np.ndarray
    ZM: np.ndarray
    zm_off: np.ndarray
    serial: np.ndarray
    zm_serial: np.ndarray
    zm_parent: np.ndarray
    prev_mask: np.ndarray
    # certified float maps of each layer (rows u_off[d] + j: Z, DU, DV) and their bounds
    ZF: np.ndarray
    EZ: np.ndarray
    # the region at each depth: vertex count, vertex ids, line ids, zero masks, pattern
    reg_nv: np.ndarray
    reg_v: np.ndarray
    reg_l: np.ndarray
    reg_zm: np.ndarray
    reg_pat: np.ndarray
    # its pieces (count, offsets, vertex ids, line ids, zero masks, layer mask) and the next one
    pc_count: np.ndarray
    pc_off: np.ndarray
    pc_v: np.ndarray
    pc_l: np.ndarray
    pc_zm: np.ndarray
    pc_mask: np.ndarray
    pc_cursor: np.ndarray


class WalkWork(NamedTuple):
    """Scratch arrays of the walk (only bw_* and PS, RS, CS carry state, from one region to the next)."""

    # float maps of a layer's inputs and their bounds (:func:`_float_preact`)
    HF: np.ndarray
    EH: np.ndarray
    # states of the output-side composition, reused by the next region (:func:`_backward_output`)
    PS: np.ndarray
    RS: np.ndarray
    CS: np.ndarray
    DR: np.ndarray
    bw_pat: np.ndarray
    bw_low: np.ndarray
    # two work buffers of pieces, vertex signs, edge zero masks, per-vertex scratch (:func:`_cut`)
    wk_off: np.ndarray
    wk_v: np.ndarray
    wk_l: np.ndarray
    wk_zm: np.ndarray
    wk_mask: np.ndarray
    sig: np.ndarray
    edge_zero: np.ndarray
    pv_sign: np.ndarray
    pv_new: np.ndarray
    # sibling updates (units whose activation differs and their factor differences), big-integer scratch
    diff_units: np.ndarray
    diff_f: np.ndarray
    DH: np.ndarray
    ACC: np.ndarray
    T: np.ndarray
    new_zm: np.ndarray
    # exact rows of single units (ZR), which rows are exact, the units that need them, composition states
    ZR: np.ndarray
    row_ok: np.ndarray
    need: np.ndarray
    n_need: np.ndarray
    PT: np.ndarray
    RT: np.ndarray
    CT: np.ndarray
    masks: np.ndarray


class WalkOut(NamedTuple):
    """The emitted regions and the counters of each path."""

    # region count, vertex offsets, vertex ids, line ids, zero masks per vertex, patterns,
    # exact output maps (3 n_out rows of OUT per region)
    out_count: np.ndarray
    out_off: np.ndarray
    out_v: np.ndarray
    out_l: np.ndarray
    out_zm: np.ndarray
    out_pat: np.ndarray
    OUT: np.ndarray
    # how often each path was taken (:data:`STAT_NAMES`)
    stats: np.ndarray


@njit(cache=True, nogil=True)
def _run(net, pools, path, work, out, backward, max_regions):
    """The depth-first exact refinement; returns OK, OVERFLOW, GROW or LIMIT (more than
    ``max_regions`` regions emitted, out.out_count[0] of them; ``max_regions`` < 0: no cap).

    ``net`` (:class:`WalkNet`): the network; ``pools`` (:class:`WalkPools`): the vertex and
    line pools; ``path`` (:class:`WalkPath`): the state of the path; ``work``
    (:class:`WalkWork`): scratch; ``out`` (:class:`WalkOut`): the regions and counters.
    ``backward``: output maps from the output side when the exact ancestor is far up.

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
    (dims, u_off, w_off, _, den_row, snum_off, sden_row, plain, linear, is_neuron, neuron_bit, nwords, NP) = net.exact
    (_, BS, bs_off, WF, wf_off, BF, SF, s_mant, s_exp) = net
    (VP, LP, line_creator, counts, VF) = pools
    (
        HM,
        hm_off,
        ZM,
        zm_off,
        serial,
        zm_serial,
        zm_parent,
        prev_mask,
        ZF,
        EZ,
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
    ) = path
    (
        HF,
        EH,
        PS,
        RS,
        CS,
        DR,
        bw_pat,
        bw_low,
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
        new_zm,
        ZR,
        row_ok,
        need,
        n_need,
        PT,
        RT,
        CT,
        masks,
    ) = work
    (out_count, out_off, out_v, out_l, out_zm, out_pat, OUT, stats) = out
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
                if 0 <= max_regions < o + 1:  # regions are final when emitted: stop at once
                    return LIMIT
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
