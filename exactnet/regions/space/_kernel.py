"""The n-D engine's compiled fast path: the cutting of :mod:`._engine` in certified float64,
compiled with numba, for arrangements in general position.

Same cells, same order, same vertices (the same float formulas and error bounds) as the
Python engine's fast mode, under one condition checked as it goes: every sign it needs is
certified by its bound. A vertex then lies on exactly the constraints it was built from,
every polytope is simple (n constraints through each vertex), every constraint touching a
cell is one of its facets, and two vertices span an edge iff they share n - 1
constraints. When a sign is not certified (a hyperplane through a vertex, duplicated
neurons, a plane along a face: any degeneracy) the kernel stops and says so, and the caller
runs the Python engine, which decides such signs exactly. No sign is ever guessed.

Constraints are numbered globally: the domain's first (0 .. n_dom - 1), then unit j of
layer l as ``n_dom + u_off[l] + j``; a vertex's incidence is a bitset over those numbers
(``n_words`` uint64 words). The order of the cuts (layers in order, a cell's units in
increasing index) is the Python engine's, so the global numbering is also its slot order.

The region graph is read from the patterns afterwards (:func:`region_edges`): in general
position the only region across a cell's facet on neuron (l, j) is the one whose pattern
differs from the cell's in that neuron alone (every other pre-activation is continuous and
nonzero on the facet's relative interior; activation regions are convex, so one pattern is
one region).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit
from numba.typed import List

from ...net.network import Network
from ._maps import UNIT_ROUNDOFF

__all__ = ["SpaceNet", "KernelCells", "space_net", "run_kernel", "region_edges", "OK", "LIMIT"]

OK, UNCERTAIN, LIMIT = 0, 1, 2
_U = UNIT_ROUNDOFF
_TINY = 1e-290


class SpaceNet(NamedTuple):
    """The network as the compiled n-D kernel reads it (float64, with error bounds of the
    float weights against the exact ones). L layers, U units numbered layer by layer."""

    m: int  # input dimension
    n_dom: int  # constraints of the domain
    n_words: int  # uint64 words of an incidence bitset
    rows: np.ndarray  # (L,) int64: units of each layer
    w_off: np.ndarray  # (L + 1,) int64: offsets of each layer's weights in W
    u_off: np.ndarray  # (L + 1,) int64: offsets of each layer's units
    W: np.ndarray  # every W_l row-major, concatenated
    eW: np.ndarray  # |W - W*| entrywise
    b: np.ndarray  # (U,)
    eb: np.ndarray  # (U,)
    slope: np.ndarray  # (U,) slope of a unit when off (1 for a linear unit)
    e_slope: np.ndarray  # (U,) |slope - slope*|
    is_neuron: np.ndarray  # (U,) bool
    gamma: np.ndarray  # (L,) gamma_{cols_l + 1}: rounding of W_l h
    gamma_m: float  # gamma_{m + 1}: rounding of a value A x + c


def _rounding(values: np.ndarray, exact: bool) -> np.ndarray:
    if exact:
        return np.zeros_like(values)
    return np.abs(values) * (2 * _U) + _TINY


def _gamma(k: int) -> float:
    ku = (k + 2) * _U
    return ku / (1 - ku)


def space_net(net: Network, n_dom: int) -> SpaceNet:
    """``net`` flattened for the kernel, with ``n_dom`` domain constraints."""
    layers = net.layers
    m = net.input_dim
    rows = np.array([layer.out_features for layer in layers], dtype=np.int64)
    sizes = [layer.weight.size for layer in layers]
    slopes, e_slopes = [], []
    for layer in layers:
        lin = ~layer.is_neuron
        slopes.append(np.where(lin, 1.0, layer.negative_slope))
        e = _rounding(layer.negative_slope, layer.float_is_exact)
        e_slopes.append(np.where(lin, 0.0, e))
    total = int(rows.sum())
    return SpaceNet(
        m=m,
        n_dom=n_dom,
        n_words=max(1, (n_dom + total + 63) // 64),
        rows=rows,
        w_off=np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64),
        u_off=np.concatenate([[0], np.cumsum(rows)]).astype(np.int64),
        W=np.ascontiguousarray(np.concatenate([layer.weight.reshape(-1) for layer in layers]), dtype=np.float64),
        eW=np.concatenate([_rounding(layer.weight, layer.float_is_exact).reshape(-1) for layer in layers]),
        b=np.ascontiguousarray(np.concatenate([layer.bias for layer in layers]), dtype=np.float64),
        eb=np.concatenate([_rounding(layer.bias, layer.float_is_exact) for layer in layers]),
        slope=np.concatenate(slopes).astype(np.float64),
        e_slope=np.concatenate(e_slopes).astype(np.float64),
        is_neuron=np.concatenate([layer.is_neuron for layer in layers]).astype(np.bool_),
        gamma=np.array([_gamma(layer.weight.shape[1] + 1) for layer in layers], dtype=np.float64),
        gamma_m=(m + 3) * _U / (1 - (m + 3) * _U),
    )


# ---------------------------------------------------------------------- maps
@njit(cache=True, nogil=True)
def _first_map(net, m):
    r = net.rows[0]
    A = net.W[: r * m].copy().reshape(r, m)
    eA = net.eW[: r * m].copy().reshape(r, m)
    return A, net.b[:r].copy(), eA, net.eb[:r].copy()


@njit(cache=True, nogil=True)
def _next_map(net, l, bits, A, c, eA, ec):
    """The float map of layer l + 1 from layer l's (A, c, eA, ec) and the on-bits of layer
    l's units (``bits`` over all units): the bounds of ``_maps.float_next_map``."""
    m = A.shape[1]
    r0 = net.rows[l]
    r1 = net.rows[l + 1]
    u0 = net.u_off[l]
    H = np.empty((r0, m))
    eH = np.empty((r0, m))
    hc = np.empty(r0)
    ehc = np.empty(r0)
    for j in range(r0):
        u = u0 + j
        if bits[u] or not net.is_neuron[u]:
            s, es = 1.0, 0.0
        else:
            s, es = net.slope[u], net.e_slope[u]
        for k in range(m):
            h = s * A[j, k]
            H[j, k] = h
            eH[j, k] = abs(s) * eA[j, k] + es * (abs(A[j, k]) + eA[j, k]) + _U * abs(h)
        h = s * c[j]
        hc[j] = h
        ehc[j] = abs(s) * ec[j] + es * (abs(c[j]) + ec[j]) + _U * abs(h)
    w0 = net.w_off[l + 1]
    g = net.gamma[l + 1]
    inflate = 1.0 + 16.0 * _U
    A2 = np.empty((r1, m))
    eA2 = np.empty((r1, m))
    c2 = np.empty(r1)
    ec2 = np.empty(r1)
    ub = net.u_off[l + 1]
    for i in range(r1):
        for k in range(m):
            acc = 0.0
            err = 0.0
            mag = 0.0
            for j in range(r0):
                w = net.W[w0 + i * r0 + j]
                ew = net.eW[w0 + i * r0 + j]
                acc += w * H[j, k]
                err += abs(w) * eH[j, k] + ew * (abs(H[j, k]) + eH[j, k])
                mag += abs(w) * abs(H[j, k])
            A2[i, k] = acc
            eA2[i, k] = (err + g * mag) * inflate + _TINY
        acc = 0.0
        err = 0.0
        mag = 0.0
        for j in range(r0):
            w = net.W[w0 + i * r0 + j]
            ew = net.eW[w0 + i * r0 + j]
            acc += w * hc[j]
            err += abs(w) * ehc[j] + ew * (abs(hc[j]) + ehc[j])
            mag += abs(w) * abs(hc[j])
        bi = net.b[ub + i]
        c2[i] = acc + bi
        ec2[i] = (err + g * (mag + abs(bi)) + net.eb[ub + i]) * inflate + _TINY
    return A2, c2, eA2, ec2


@njit(cache=True, nogil=True)
def _map_of(net, l, bits):
    """The float map of layer l on a cell with these on-bits (composed from layer 0)."""
    A, c, eA, ec = _first_map(net, net.m)
    for k in range(l):
        A, c, eA, ec = _next_map(net, k, bits, A, c, eA, ec)
    return A, c, eA, ec


# ---------------------------------------------------------------------- values and cuts
@njit(cache=True, nogil=True)
def _values(net, V, E, I, A, c, eA, ec, u0, skip, H, B, S):
    """Values H, bounds B and signs S of the layer's neuron units (first unit ``u0``) at
    the vertices V, all units but ``skip``; 0 for a unit whose constraint the vertex lies on
    (incidence I). False when a sign is not certified. The bound is
    ``_engine._Engine.evaluate``'s."""
    k, m = V.shape
    r = A.shape[0]
    inflate = 1.0 + 16.0 * _U
    gm = net.gamma_m
    g0 = net.n_dom + u0
    for i in range(k):
        for u in range(r):
            if u == skip or not net.is_neuron[u0 + u]:
                continue
            g = g0 + u
            if I[i, g // 64] & (np.uint64(1) << np.uint64(g % 64)):
                H[i, u] = 0.0
                B[i, u] = 0.0
                S[i, u] = 0
                continue
            h = c[u]
            rowsum = 0.0
            veA = 0.0
            vA = 0.0
            for q in range(m):
                a = A[u, q]
                v = V[i, q]
                h += v * a
                rowsum += abs(a) + eA[u, q]
                veA += abs(v) * eA[u, q]
                vA += abs(v) * abs(a)
            bound = (E[i] * rowsum + veA + ec[u] + gm * (vA + abs(c[u]))) * inflate + _TINY
            H[i, u] = h
            B[i, u] = bound
            if h > bound:
                S[i, u] = 1
            elif h < -bound:
                S[i, u] = -1
            else:
                return False
    return True


@njit(cache=True, nogil=True, inline="always")
def _popcount(x):
    x = x - ((x >> np.uint64(1)) & np.uint64(0x5555555555555555))
    x = (x & np.uint64(0x3333333333333333)) + ((x >> np.uint64(2)) & np.uint64(0x3333333333333333))
    x = (x + (x >> np.uint64(4))) & np.uint64(0x0F0F0F0F0F0F0F0F)
    return (x * np.uint64(0x0101010101010101)) >> np.uint64(56)


@njit(cache=True, nogil=True)
def _split(net, l, j, V, E, I, H, B, S, A, c, eA, ec):
    """Cut a piece by unit j of layer l (mixed signs): the (plus, minus) children as
    (V, E, I, H, B, S), and whether every sign at the new vertices was certified."""
    k, m = V.shape
    r = H.shape[1]
    nw = I.shape[1]
    npos = 0
    for i in range(k):
        if S[i, j] > 0:
            npos += 1
    pos = np.empty(npos, dtype=np.int64)
    neg = np.empty(k - npos, dtype=np.int64)
    a = 0
    b = 0
    for i in range(k):
        if S[i, j] > 0:
            pos[a] = i
            a += 1
        else:
            neg[b] = i
            b += 1
    # edges: a positive and a negative vertex sharing m - 1 constraints
    eu = np.empty(npos * (k - npos), dtype=np.int64)
    ew = np.empty(npos * (k - npos), dtype=np.int64)
    ne = 0
    for p in pos:
        for q in neg:
            cnt = 0
            for w in range(nw):
                cnt += _popcount(I[p, w] & I[q, w])
            if cnt == m - 1:
                eu[ne] = p
                ew[ne] = q
                ne += 1
    Vn = np.empty((ne, m))
    En = np.empty(ne)
    In = np.empty((ne, nw), dtype=np.uint64)
    gid = net.n_dom + net.u_off[l] + j
    word, bit = gid // 64, np.uint64(gid % 64)
    for t in range(ne):
        p = eu[t]
        q = ew[t]
        hu = H[p, j]
        hw = H[q, j]
        bu = B[p, j]
        bw = B[q, j]
        tt = hu / (hu - hw)
        a_lo = hu - bu
        a_hi = hu + bu
        b_lo = hw - bw
        b_hi = hw + bw
        t_lo = a_lo / (a_lo - b_lo)
        t_hi = a_hi / (a_hi - b_hi)
        et = max(abs(tt - t_lo), abs(t_hi - tt)) * (1 + 8 * _U) + 4 * _U
        span = 0.0
        big = 0.0
        for q2 in range(m):
            d = V[q, q2] - V[p, q2]
            Vn[t, q2] = V[p, q2] + tt * d
            span = max(span, abs(d))
            big = max(big, abs(V[p, q2]))
        e = max(E[p], E[q]) + et * span + 4 * _U * (big + span)
        e = e * (1 + 8 * _U) + _TINY
        En[t] = e if np.isfinite(e) else np.inf
        for w in range(nw):
            In[t, w] = I[p, w] & I[q, w]
        In[t, word] |= np.uint64(1) << bit
    Hn = np.zeros((ne, r))
    Bn = np.zeros((ne, r))
    Sn = np.zeros((ne, r), dtype=np.int8)
    ok = _values(net, Vn, En, In, A, c, eA, ec, net.u_off[l], j, Hn, Bn, Sn)
    out = List()
    for keep in (pos, neg):
        kk = len(keep)
        Vc = np.empty((kk + ne, m))
        Ec = np.empty(kk + ne)
        Ic = np.empty((kk + ne, nw), dtype=np.uint64)
        Hc = np.empty((kk + ne, r))
        Bc = np.empty((kk + ne, r))
        Sc = np.empty((kk + ne, r), dtype=np.int8)
        for i in range(kk):
            src = keep[i]
            Vc[i] = V[src]
            Ec[i] = E[src]
            Ic[i] = I[src]
            Hc[i] = H[src]
            Bc[i] = B[src]
            Sc[i] = S[src]
        Vc[kk:] = Vn
        Ec[kk:] = En
        Ic[kk:] = In
        Hc[kk:] = Hn
        Bc[kk:] = Bn
        Sc[kk:] = Sn
        out.append((Vc, Ec, Ic, Hc, Bc, Sc))
    return out[0], out[1], ok


@njit(cache=True, nogil=True)
def _mixed(S, j):
    p = False
    n = False
    for i in range(S.shape[0]):
        if S[i, j] > 0:
            p = True
        elif S[i, j] < 0:
            n = True
    return p and n


@njit(cache=True, nogil=True)
def _cut_cell(net, V, E, I, l, A, c, eA, ec, outside_count, limit):
    """Cut one cell by the neurons of layer l: (status, count, pieces as (V, E, I, S)).
    UNCERTAIN: a sign the bound could not certify (the pieces are then meaningless)."""
    r = net.rows[l]
    u0 = net.u_off[l]
    k = V.shape[0]
    H = np.zeros((k, r))
    B = np.zeros((k, r))
    S = np.zeros((k, r), dtype=np.int8)
    pieces = List()
    pieces.append((V, E, I, H, B, S))
    if not _values(net, V, E, I, A, c, eA, ec, u0, -1, H, B, S):
        return UNCERTAIN, 0, pieces
    for j in range(r):
        if not net.is_neuron[u0 + j]:
            continue
        nxt = List()
        for pc in pieces:
            if _mixed(pc[5], j):
                plus, minus, ok = _split(net, l, j, pc[0], pc[1], pc[2], pc[3], pc[4], pc[5], A, c, eA, ec)
                if not ok:
                    return UNCERTAIN, 0, pieces
                nxt.append(plus)
                nxt.append(minus)
            else:
                nxt.append(pc)
        pieces = nxt
        if limit >= 0 and outside_count + len(pieces) > limit:
            return LIMIT, outside_count + len(pieces), pieces
    return OK, len(pieces), pieces


@njit(cache=True, nogil=True)
def _kernel(net, seedV, seedE, seedI, seed_start, seed_bits, layer0, stop_layer, limit, already):
    """Cut every seed cell (at the start of layer ``layer0``) through the layers before
    ``stop_layer``, depth first (so in the Python engine's order). Returns (status, count,
    cells, failed, failed_at): the finished cells, each with the float map of its last
    layer; ``failed`` the cells (at the start of a layer) where the float bound left a sign
    undecided, left for the Python engine, whose cells belong before ``cells[failed_at[i]]``.
    ``already``: cells found elsewhere (for the limit)."""
    stack = List()
    for s in range(len(seed_start) - 2, -1, -1):
        a, b = seed_start[s], seed_start[s + 1]
        bits = seed_bits[s].copy()
        A, c, eA, ec = _map_of(net, layer0, bits)
        stack.append((seedV[a:b].copy(), seedE[a:b].copy(), seedI[a:b].copy(), bits, layer0, A, c, eA, ec))
    out_cells = List()
    failed = List()
    failed_at = List()
    out_cells.append(stack[0])  # gives the lists their item type (a cell is a stack entry)
    out_cells.pop()
    failed.append(stack[0])
    failed.pop()
    failed_at.append(0)
    failed_at.pop()
    while len(stack):
        cell = stack.pop()
        V, E, I, bits, l, A, c, eA, ec = cell
        u0 = net.u_off[l]
        outside = already + len(out_cells) + len(failed) + len(stack)
        status, count, pieces = _cut_cell(net, V, E, I, l, A, c, eA, ec, outside, limit)
        if status == LIMIT:
            return LIMIT, count, out_cells, failed, failed_at
        if status == UNCERTAIN:
            failed.append(cell)
            failed_at.append(len(out_cells))
            continue
        done = List()
        for pc in pieces:
            Sp = pc[5]
            nb = bits.copy()
            for u in range(net.rows[l]):
                if net.is_neuron[u0 + u]:
                    on = False
                    for i in range(Sp.shape[0]):
                        if Sp[i, u] > 0:
                            on = True
                            break
                    nb[u0 + u] = on
            if l + 1 < stop_layer:
                A2, c2, eA2, ec2 = _next_map(net, l, nb, A, c, eA, ec)
                done.append((pc[0], pc[1], pc[2], nb, l + 1, A2, c2, eA2, ec2))
            else:
                done.append((pc[0], pc[1], pc[2], nb, l + 1, A, c, eA, ec))
        if l + 1 < stop_layer:
            for t in range(len(done) - 1, -1, -1):
                stack.append(done[t])
        else:
            for t in range(len(done)):
                out_cells.append(done[t])
    return OK, len(out_cells), out_cells, failed, failed_at


@njit(cache=True, nogil=True)
def _pool(cells, m, nw, U):
    n = len(cells)
    starts = np.zeros(n + 1, dtype=np.int64)
    for i in range(n):
        starts[i + 1] = starts[i] + cells[i][0].shape[0]
    nv = starts[n]
    V = np.empty((nv, m))
    E = np.empty(nv)
    I = np.empty((nv, nw), dtype=np.uint64)
    bits = np.zeros((n, U), dtype=np.bool_)
    r = cells[0][5].shape[0] if n else 0
    A = np.empty((n, r, m))
    c = np.empty((n, r))
    eA = np.empty((n, r, m))
    ec = np.empty((n, r))
    for i in range(n):
        cell = cells[i]
        a = starts[i]
        V[a : starts[i + 1]] = cell[0]
        E[a : starts[i + 1]] = cell[1]
        I[a : starts[i + 1]] = cell[2]
        bits[i] = cell[3]
        if cell[5].shape[0] == r:
            A[i] = cell[5]
            c[i] = cell[6]
            eA[i] = cell[7]
            ec[i] = cell[8]
    return V, E, I, starts, bits, A, c, eA, ec


class KernelCells(NamedTuple):
    """Cells from the kernel, pooled: cell i has the vertices ``starts[i]:starts[i + 1]`` of
    V (float64), E (bounds on their distance to the exact vertices) and I (incidence
    bitsets), the on-bits ``bits[i]`` over every unit, and the float map (A, c, eA, ec) of
    the last layer it went through."""

    V: np.ndarray
    E: np.ndarray
    I: np.ndarray
    starts: np.ndarray
    bits: np.ndarray
    A: np.ndarray
    c: np.ndarray
    eA: np.ndarray
    ec: np.ndarray


def run_kernel(
    net: SpaceNet,
    seeds: KernelCells,
    layer0: int,
    stop_layer: int,
    limit: int,
    already: int,
) -> tuple[int, int, KernelCells, list[tuple[int, int, KernelCells]]]:
    """Cut the seed cells (starting layer ``layer0``) through the layers before
    ``stop_layer``: (status, count, cells, failed). ``status`` is OK or LIMIT (more than
    ``limit`` cells, ``already`` of them found elsewhere; ``count`` is the count reached).
    ``failed``: (position, layer, cell) for each cell where the float bound left a sign
    undecided, at the start of that layer; its cells (for the Python engine to find) go
    before ``cells[position]``."""
    status, count, cells, failed, failed_at = _kernel(
        net, seeds.V, seeds.E, seeds.I, seeds.starts, seeds.bits, layer0, stop_layer, limit, already
    )
    todo = [(int(failed_at[i]), int(failed[i][4]), _pooled(List([failed[i]]), net)) for i in range(len(failed))]
    return status, count, _pooled(cells, net), todo


def _pooled(cells, net: SpaceNet) -> KernelCells:
    if not len(cells):
        m, U, nw = net.m, len(net.b), net.n_words
        return KernelCells(
            np.zeros((0, m)), np.zeros(0), np.zeros((0, nw), dtype=np.uint64), np.zeros(1, dtype=np.int64),
            np.zeros((0, U), dtype=np.bool_),
            np.zeros((0, 0, m)), np.zeros((0, 0)), np.zeros((0, 0, m)), np.zeros((0, 0)),
        )  # fmt: skip
    return KernelCells(*_pool(cells, net.m, net.n_words, len(net.b)))


# ---------------------------------------------------------------------- the region graph
@njit(cache=True, nogil=True)
def _find(P, order, key):
    lo = 0
    hi = len(order)
    nw = P.shape[1]
    while lo < hi:
        mid = (lo + hi) // 2
        row = order[mid]
        c = 0
        for w in range(nw):
            if P[row, w] < key[w]:
                c = -1
                break
            if P[row, w] > key[w]:
                c = 1
                break
        if c == 0:
            return row
        if c < 0:
            lo = mid + 1
        else:
            hi = mid
    return -1


@njit(cache=True, nogil=True)
def _graph(P, order, I, starts, gid_bit, n_dom):
    """Edges (a < b, neuron bit) from the packed patterns P (sorted by ``order``): each
    cell's neuron facets, the neighbour the pattern with that bit flipped. ok is False if
    a flipped pattern is not a cell's."""
    n = P.shape[0]
    nw_i = I.shape[1]
    unions = np.zeros((n, nw_i), dtype=np.uint64)
    total = 0
    for a in range(n):
        for v in range(starts[a], starts[a + 1]):
            for w in range(nw_i):
                unions[a, w] |= I[v, w]
        for w in range(nw_i):
            total += _popcount(unions[a, w])
    out = np.empty((total, 3), dtype=np.int64)
    ne = 0
    key = np.empty(P.shape[1], dtype=np.uint64)
    for a in range(n):
        for w in range(nw_i):
            x = unions[a, w]
            while x:
                low = x & (~x + np.uint64(1))
                g = w * 64 + int(_popcount(low - np.uint64(1)))
                x ^= low
                if g < n_dom:
                    continue
                kbit = gid_bit[g - n_dom]
                if kbit < 0:
                    continue
                key[:] = P[a]
                key[kbit // 64] ^= np.uint64(1) << np.uint64(kbit % 64)
                b = _find(P, order, key)
                if b < 0:
                    return False, out[:0]
                if a < b:
                    out[ne, 0] = a
                    out[ne, 1] = b
                    out[ne, 2] = kbit
                    ne += 1
    return True, out[:ne]


def region_edges(cells: KernelCells, net: SpaceNet, neuron_bit: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """The region graph of cells in general position: ``(pairs, neurons)`` with ``pairs``
    (E, 2) sorted (a < b) and ``neurons`` (E,) the neuron (pattern index) flipping across
    each edge; None if a facet's pattern is not a cell's (never in general position)."""
    nb = int(neuron_bit.max()) + 1 if len(neuron_bit) and neuron_bit.max() >= 0 else 0
    words = max(1, (nb + 63) // 64)
    cols = np.flatnonzero(neuron_bit >= 0)
    pat = np.zeros((len(cells.bits), words * 64), dtype=np.uint8)
    pat[:, neuron_bit[cols]] = cells.bits[:, cols]
    P = np.ascontiguousarray(
        np.packbits(pat, axis=1, bitorder="little").view("<u8").astype(np.uint64).reshape(len(pat), words)
    )
    order = np.lexsort(P.T[::-1]).astype(np.int64)
    ok, found = _graph(P, order, cells.I, cells.starts, neuron_bit.astype(np.int64), net.n_dom)
    if not ok:
        return None
    idx = np.lexsort((found[:, 1], found[:, 0]))
    return found[idx, :2], found[idx, 2]
