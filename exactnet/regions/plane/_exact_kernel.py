"""Compiled exact 2-D engine: the algorithm of :mod:`._exact` on numba big integers.

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

The Python engine in ``_exact.py`` stays the definition; this kernel is tested
against it field by field. Pools too small, or integers too long for the capacity, make
the kernel stop with GROW or OVERFLOW and the caller retries with more room.
The kernel is split by concept: :mod:`._exact_numbers` (certified floats and exact
evaluation), :mod:`._exact_maps` (a region's exact maps), :mod:`._exact_cut` (cutting a
region by a layer's neurons), :mod:`._exact_walk` (the depth-first walk) and this module
(capacities, retries and the pooled result).
"""

from __future__ import annotations

import math

import numpy as np

from .. import _bigint as B
from .._common import RegionLimitError
from .._flat import engine_data
from .._patterns import words_to_int
from ._exact_maps import _preact_full
from ._exact_numbers import GROW, LIMIT, OK, OVERFLOW, _float_from_exact, _set_approx
from ._exact_walk import STAT_NAMES, WalkNet, WalkOut, WalkPath, WalkPools, WalkWork, _run


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


def run_plane_exact(
    net,
    P0,
    P1,
    P2,
    Sx,
    domain_hv,
    domain_lines,
    *,
    backward: bool = True,
    stats: dict | None = None,
    max_regions: int | None = None,
):
    """Exact regions of ``net`` on the convex polygon (domain_hv, domain_lines), CCW, of the
    plane x = (P0 + P1 u + P2 v) / Sx. Returns a list of ``ExactPlaneRegion`` (with zero
    masks per vertex) or None when the integers would need an unreasonable capacity.

    ``max_regions`` (a positive int, or None for no cap): the walk stops as soon as it has
    emitted more regions than that and :class:`~exactnet.regions.RegionLimitError` is
    raised with the count reached (regions are final when emitted, so this happens exactly
    when the partition has more than ``max_regions`` regions).

    ``backward``: compose the output maps from the output side when there are at most two
    outputs (``False`` always takes the forward path; both give the same result).
    ``stats``: a dict that receives how often each path was taken (:data:`STAT_NAMES`)."""
    data = engine_data(net, "exact")
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
        status, result = _attempt(net, data, P0, P1, P2, Sx, domain_hv, domain_lines, cap, backward, stats, max_regions)
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


def _attempt(net, data, P0, P1, P2, Sx, domain_hv, domain_lines, cap, backward, stats_out, max_regions):

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
    fl = engine_data(net, "float")
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
    net_data = WalkNet(
        exact=data.args(),
        BS=BS,
        bs_off=bs_off,
        WF=fl.weights,
        wf_off=fl.w_off,
        BF=fl.bias,
        SF=fl.slope,
        s_mant=s_mant,
        s_exp=s_exp,
    )
    pools = WalkPools(VP=VP, LP=LP, line_creator=line_creator, counts=counts, VF=VF)
    path = WalkPath(
        HM=HM,
        hm_off=hm_off,
        ZM=ZM,
        zm_off=zm_off,
        serial=serial,
        zm_serial=zm_serial,
        zm_parent=zm_parent,
        prev_mask=prev_mask,
        ZF=ZF,
        EZ=EZ,
        reg_nv=reg_nv,
        reg_v=reg_v,
        reg_l=reg_l,
        reg_zm=reg_zm,
        reg_pat=reg_pat,
        pc_count=args["pc_count"],
        pc_off=args["pc_off"],
        pc_v=args["pc_v"],
        pc_l=args["pc_l"],
        pc_zm=args["pc_zm"],
        pc_mask=args["pc_mask"],
        pc_cursor=args["pc_cursor"],
    )
    work = WalkWork(
        HF=np.zeros((maxw, 3)),
        EH=np.zeros((maxw, 3)),
        PS=PS,
        RS=RS,
        CS=CS,
        DR=DR,
        bw_pat=bw_pat,
        bw_low=bw_low,
        wk_off=args["wk_off"],
        wk_v=args["wk_v"],
        wk_l=args["wk_l"],
        wk_zm=args["wk_zm"],
        wk_mask=args["wk_mask"],
        sig=args["sig"],
        edge_zero=args["edge_zero"],
        pv_sign=args["pv_sign"],
        pv_new=args["pv_new"],
        diff_units=args["diff_units"],
        diff_f=args["diff_f"],
        DH=args["DH"],
        ACC=args["ACC"],
        T=args["T"],
        new_zm=np.zeros((len(args["pv_new"]), nw), np.uint64),
        ZR=np.zeros_like(ZM),
        row_ok=np.zeros(maxw, np.bool_),
        need=np.zeros(maxw, np.int64),
        n_need=np.zeros(1, np.int64),
        PT=np.zeros((maxw, 2 + L), np.int64),
        RT=np.zeros((maxw, 2 + L), np.int64),
        CT=np.zeros((1, 2 + L), np.int64),
        masks=np.zeros((2, nw), np.uint64),
    )
    out = WalkOut(
        out_count=args["out_count"],
        out_off=args["out_off"],
        out_v=args["out_v"],
        out_l=args["out_l"],
        out_zm=args["out_zm"],
        out_pat=args["out_pat"],
        OUT=args["OUT"],
        stats=stats,
    )
    status = _run(
        net_data, pools, path, work, out, backward, np.int64(-1 if max_regions is None else min(max_regions, 2**62))
    )
    if status == LIMIT:
        raise RegionLimitError(int(args["out_count"][0]), max_regions)
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
        from ._exact import ExactPlaneRegion

        a, b = self.off[i], self.off[i + 1]
        V, L = self.vertices(), self.lines()
        verts = [V[v] for v in self.v_ids[a:b]]
        lines = [L[li] for li in self.l_ids[a:b]]
        pat = words_to_int(self.pat[i])
        n_out = self.net.output_dim
        block = B.pool_ints(self.OUT[i * 3 * n_out : (i + 1) * 3 * n_out])
        out = (
            [block[3 * j] for j in range(n_out)],
            [block[3 * j + 1] for j in range(n_out)],
            [block[3 * j + 2] for j in range(n_out)],
        )
        reg = ExactPlaneRegion(verts, lines, pat, None, out, self.out_scale)
        reg.zero_masks = [words_to_int(row) for row in self.zm[a:b]]
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
