"""The n-D engine: a convex polytope cut layer by layer into the network's linear regions,
with the region graph tracked through every cut.

Each cell is a convex polytope held by its vertices and their incidence with the cell's
constraints (a double description). Cutting a cell by an affine function z:

* the sign of z at every vertex decides the cut (exactly: see :mod:`._maps`);
* the new vertices are the points where z = 0 on the edges joining a vertex with z > 0 to
  one with z < 0. Two vertices u, w span an edge iff no third vertex lies on every
  constraint tight at both (the combinatorial adjacency test of the double description
  method; Fukuda & Prodon, "Double description method revisited", 1996, Prop. 7). The test
  holds for degenerate polytopes (more than n constraints through a vertex);
* the constraint z >= 0 (z <= 0) is added to each side.

Layers are processed in order and, on each cell, the neurons of one layer that cut it in
increasing index order. The region graph is kept through the cuts: when a cell X is cut,
the face X shares with a neighbour Y is read from the more refined of the two (its facet
on the shared constraint), and X's children keep Y as a neighbour where that face has a
vertex strictly on their side (or lies in z = 0). All cells cut by the same neurons in the
same order meet face to face, which is why the finer facet is the shared face.

Fast mode: vertices in float64 with a bound on their distance to the exact vertex; a sign
is used when the value is farther from zero than its bound, and decided exactly otherwise
(the exact vertex is solved from its tight constraints). Exact mode: vertices in
homogeneous integer coordinates, every sign exact.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np

from ...net.network import Network
from .._common import RegionLimitError
from .._patterns import pack
from ._maps import (
    UNIT_ROUNDOFF,
    ExactMap,
    ExactMaps,
    FloatMap,
    float_first_map,
    float_next_map,
    solve_vertex,
)

__all__ = ["RegionLimitError", "Polytope0", "Cell", "enumerate_cells"]


# a slot (a constraint of a cell): ("domain", k) for the k-th constraint of the domain, or
# (layer, unit, side) for side * z_{layer, unit} >= 0
Slot = tuple


@dataclass
class Polytope0:
    """The starting polytope: exact homogeneous vertices (N_i, d_i), their incidence with the
    domain's constraints, and the constraints as integer rows r with r . (x, 1) <= 0."""

    N: np.ndarray  # (k, m) object ints
    d: np.ndarray  # (k,) object ints > 0
    inc: np.ndarray  # (k, s) bool
    rows: list[np.ndarray]  # s rows of m + 1 ints


@dataclass(eq=False)
class Cell:
    """A cell during the enumeration (see the module docstring)."""

    cid: int
    # (the fields typed Any are arrays in one mode and None in the other, or None between layers)
    V: np.ndarray  # (k, m): float coordinates (fast) or integer numerators (exact)
    d: Any  # (k,) homogeneous denominators (exact mode), else None
    err: Any  # (k,) bound on |V - exact| (fast mode, max norm), else None
    xv: Any  # (k,) exact vertices found so far (fast mode): (N, d) or None
    inc: np.ndarray  # (k, s) bool
    slots: list[Slot]
    bits: list[np.ndarray] = field(default_factory=list)  # on-bits of each finished layer
    S: Any = None  # (k, units) signs of the current layer's units, during a layer
    H: Any = None  # (k, units) values (float or exact integers)
    B: Any = None  # (k, units) bounds of H (fast), inf where decided exactly
    slot_units: Any = None  # cached: (layer, unit) of every slot as two int arrays (-1 for the domain)


class _Engine:
    def __init__(
        self,
        net: Network,
        start: Polytope0,
        exact: bool,
        max_regions: int | None,
        progress,
        keep_slots: frozenset = frozenset(),
    ):
        self.net = net
        self.keep_slots = keep_slots  # domain constraints kept even when not facets
        self.exact = exact
        self.m = start.N.shape[1]
        self.max_regions = max_regions
        self.maps = ExactMaps(net)
        self.domain_rows = start.rows
        self.adj: dict[int, dict[int, int]] = {}
        self.progress_of: dict[int, tuple[int, int]] = {}
        self._ids = itertools.count()
        self.progress = progress
        #: signs decided exactly to be 0 in fast mode: a vertex on a further hyperplane
        self.exact_zeros = 0
        k = start.N.shape[0]
        if exact:
            V, d, err, xv = start.N.copy(), start.d.copy(), None, None
        else:
            V = np.array([[_q_to_float(int(a), int(dd)) for a in row] for row, dd in zip(start.N, start.d)])
            err = np.abs(V).max(axis=1) * (2 * UNIT_ROUNDOFF) + 1e-290
            d = None
            xv = np.empty(k, dtype=object)
            for i in range(k):
                xv[i] = (start.N[i].copy(), int(start.d[i]))
        self.first = Cell(
            next(self._ids), V, d, err, xv, start.inc.copy(), [("domain", i) for i in range(len(start.rows))]
        )
        self.adj[self.first.cid] = {}

    # ------------------------------------------------------------------ exact rows
    def slot_row(self, cell: Cell, slot: Slot) -> np.ndarray:
        """An integer row r (m + 1 entries) with r . (x, 1) = 0 on the slot's hyperplane."""
        if slot[0] == "domain":
            return self.domain_rows[slot[1]]
        l, j, _ = slot
        return self.maps.layer(l, tuple(cell.bits)).row(j)

    def exact_vertex(self, cell: Cell, i: int) -> tuple[np.ndarray, int]:
        if self.exact:
            return cell.V[i], int(cell.d[i])
        got = cell.xv[i]
        if got is None:
            rows = [self.slot_row(cell, s) for s, t in zip(cell.slots, cell.inc[i]) if t]
            got = solve_vertex(rows, self.m)
            cell.xv[i] = got
        return got

    # ------------------------------------------------------------------ signs
    def evaluate(
        self,
        cell: Cell,
        idx: np.ndarray,
        layer: int,
        fmap: FloatMap | None,
        xmap: ExactMap,
        units: np.ndarray | None = None,
    ):
        """Signs, values and bounds of the map's units (all, or ``units``) at the vertices
        ``idx`` of ``cell``: (S int8, H, B)."""
        if self.exact:
            num = xmap.num if units is None else xmap.num[units]
            const = xmap.const if units is None else xmap.const[units]
            H = cell.V[idx].dot(num.T) + np.outer(cell.d[idx], const)
            S = (H > 0).astype(np.int8) - (H < 0).astype(np.int8)  # exact comparisons of Python ints
            return S, H, None
        assert fmap is not None  # fast mode
        A = fmap.A if units is None else fmap.A[units]
        c = fmap.c if units is None else fmap.c[units]
        eA = fmap.eA if units is None else fmap.eA[units]
        ec = fmap.ec if units is None else fmap.ec[units]
        V = cell.V[idx]
        err = cell.err[idx]
        absV = np.abs(V)
        with np.errstate(all="ignore"):
            H = V @ A.T + c
            B = (
                err[:, None] * (np.abs(A) + eA).sum(axis=1)[None, :]
                + absV @ eA.T
                + ec
                + _gamma_m(self.m) * (absV @ np.abs(A).T + np.abs(c))
            ) * (1 + 16 * UNIT_ROUNDOFF) + 1e-290
            S = np.where(H > B, 1, np.where(H < -B, -1, 0)).astype(np.int8)
            unsure = ~(np.abs(H) > B)
        # a vertex on a constraint of this layer's unit u has z_u = 0 exactly
        uu = np.arange(A.shape[0]) if units is None else np.asarray(units)
        s_layer, s_unit = _slot_units(cell)
        here = np.flatnonzero(s_layer == layer)
        if len(here):
            col_of = np.full(int(max(uu.max(), s_unit[here].max())) + 1, -1)
            col_of[uu] = np.arange(len(uu))
            cols = col_of[s_unit[here]]
            keep = cols >= 0
            if keep.any():
                rows, q = np.nonzero(cell.inc[np.ix_(idx, here[keep])])
                c_ = cols[keep][q]
                S[rows, c_] = 0
                H[rows, c_] = 0.0
                B[rows, c_] = 0.0
                unsure[rows, c_] = False
        if unsure.any():
            for a, b in zip(*np.nonzero(unsure)):
                N, d = self.exact_vertex(cell, int(idx[a]))
                r = xmap.row(int(uu[b]))
                v = int(np.dot(r[:-1], N)) + int(r[-1]) * d
                S[a, b] = (v > 0) - (v < 0)
                self.exact_zeros += v == 0
                B[a, b] = np.inf
        return S, H, B

    # ------------------------------------------------------------------ the cut
    def split(self, cell: Cell, j: int, l: int, fmap: FloatMap | None, xmap: ExactMap) -> tuple[Cell, Cell]:
        s = cell.S[:, j]
        pos, neg, zero = np.flatnonzero(s > 0), np.flatnonzero(s < 0), np.flatnonzero(s == 0)
        us, ws = _edges(cell.inc, pos, neg, self.m)
        m = self.m
        n_new = len(us)
        inc_new = cell.inc[us] & cell.inc[ws]
        if self.exact:
            hu = cell.H[us, j]
            hw = cell.H[ws, j]
            Vn = cell.V[ws] * hu[:, None] - cell.V[us] * hw[:, None]
            dn = cell.d[ws] * hu - cell.d[us] * hw
            Vn, dn = _reduce(Vn, dn)
            errn = xvn = None
        else:
            Vn = np.empty((n_new, m))
            errn = np.empty(n_new)
            xvn = np.empty(n_new, dtype=object)
            sure = np.isfinite(cell.B[us, j]) & np.isfinite(cell.B[ws, j])
            if sure.any():
                u, w = us[sure], ws[sure]
                Vn[sure], errn[sure] = _interpolate(
                    cell.V[u],
                    cell.V[w],
                    cell.err[u],
                    cell.err[w],
                    cell.H[u, j],
                    cell.H[w, j],
                    cell.B[u, j],
                    cell.B[w, j],
                )
            for t in np.flatnonzero(~sure):  # an end decided exactly: the new vertex too
                u, w = int(us[t]), int(ws[t])
                Nu, du = self.exact_vertex(cell, u)
                Nw, dw = self.exact_vertex(cell, w)
                r = xmap.row(j)
                Hu = int(np.dot(r[:-1], Nu)) + int(r[-1]) * du
                Hw = int(np.dot(r[:-1], Nw)) + int(r[-1]) * dw
                Nn, dd = _reduce((Nw * Hu - Nu * Hw)[None, :], np.array([dw * Hu - du * Hw], dtype=object))
                xvn[t] = (Nn[0], int(dd[0]))
                Vn[t] = [_q_to_float(int(a), int(dd[0])) for a in Nn[0]]
                errn[t] = np.abs(Vn[t]).max() * 2 * UNIT_ROUNDOFF + 1e-290
        # the current layer's signs at the new vertices (z_j = 0 there by construction)
        n_units = cell.S.shape[1]
        others = np.delete(np.arange(n_units), j)
        s_layer, s_unit = _slot_units(cell)
        tmp = Cell(
            -1,
            Vn,
            dn if self.exact else None,
            errn,
            xvn,
            np.concatenate([inc_new, np.ones((n_new, 1), dtype=bool)], axis=1),
            cell.slots + [(l, j, 1)],
            cell.bits,
            slot_units=(np.append(s_layer, l), np.append(s_unit, j)),
        )
        Sn = np.zeros((n_new, n_units), dtype=np.int8)
        Hn = np.zeros((n_new, n_units), dtype=object if self.exact else float)
        Bn = None if self.exact else np.zeros((n_new, n_units))
        if n_new and len(others):
            So, Ho, Bo = self.evaluate(tmp, np.arange(n_new), l, fmap, xmap, others)
            Sn[:, others], Hn[:, others] = So, Ho
            if Bn is not None:
                Bn[:, others] = Bo
        children = []
        for side, keep in ((1, pos), (-1, neg)):
            old = np.concatenate([keep, zero])
            k_old = len(old)
            inc = np.zeros((k_old + n_new, len(cell.slots) + 1), dtype=bool)
            inc[:k_old, :-1] = cell.inc[old]
            inc[k_old:, :-1] = inc_new
            inc[len(keep) :, -1] = True  # zero and new vertices lie on z_j = 0
            V = np.concatenate([cell.V[old], Vn]) if n_new else cell.V[old]
            child = Cell(
                next(self._ids),
                V,
                np.concatenate([cell.d[old], dn]) if self.exact else None,
                None if self.exact else np.concatenate([cell.err[old], errn]),
                None if self.exact else np.concatenate([cell.xv[old], xvn]),
                inc,
                cell.slots + [(l, j, side)],
                list(cell.bits),
                np.concatenate([cell.S[old], Sn]),
                np.concatenate([cell.H[old], Hn]),
                None if self.exact else np.concatenate([cell.B[old], Bn]),
            )
            children.append(child)
        plus, minus = children
        remap_p = _prune(plus, m, self.keep_slots)
        remap_m = _prune(minus, m, self.keep_slots)
        new_slot = len(cell.slots)
        # the region graph
        nbrs = self.adj.pop(cell.cid)
        self.adj[plus.cid] = {minus.cid: remap_p[new_slot]}
        self.adj[minus.cid] = {plus.cid: remap_m[new_slot]}
        mine = self.progress_of.get(cell.cid, (-1, 0))
        self.progress_of[plus.cid] = self.progress_of[minus.cid] = (l, j + 1)  # finer than siblings not yet cut
        ys = list(nbrs)
        sxs = np.fromiter(nbrs.values(), dtype=np.int64, count=len(ys))
        # the faces read from this cell, all at once: vertices of the cell on each link's slot
        faces = cell.inc[:, sxs]
        ups = (faces & (s > 0)[:, None]).any(axis=0)
        downs = (faces & (s < 0)[:, None]).any(axis=0)
        progress_of = self.progress_of
        adj_p, adj_m = self.adj[plus.cid], self.adj[minus.cid]
        for k, y in enumerate(ys):
            other = self.adj[y]
            sy = other.pop(cell.cid)
            up, down = ups[k], downs[k]
            if progress_of.get(y, (-1, 0)) > mine:
                # y is finer (done with this layer, or a sibling already cut by j): the shared
                # face is its facet, and its signs of unit j are those of z_j there
                ycell = self.cells[y]
                sg = ycell.S[ycell.inc[:, sy], j].tolist()  # a few values: Python is quicker here
                up, down = 1 in sg, -1 in sg
            sx = int(sxs[k])
            if up or not down:  # (neither: z_j = 0 on the whole face, which both sides share)
                adj_p[y] = remap_p[sx]
                other[plus.cid] = sy
            if down or not up:
                adj_m[y] = remap_m[sx]
                other[minus.cid] = sy
        return plus, minus

    # ------------------------------------------------------------------ the layers
    def subtree(self, cell: Cell, layer: int) -> list[Cell]:
        """Cut a cell that went through the layers before ``layer`` (``cell.bits`` holds
        their on-bits) through the others; the region graph ``adj`` is the subtree's."""
        cell.cid = next(self._ids)
        self.first = cell
        self.adj = {cell.cid: {}}
        self.progress_of = {}
        return self.run(layer)

    def run(self, start_layer: int = 0) -> list[Cell]:
        net = self.net
        cells = [self.first]
        self.cells = {self.first.cid: self.first}
        fmaps: dict[int, FloatMap] = {}
        bar = self.progress
        for l in range(start_layer, len(net.layers)):
            layer = net.layers[l]
            units = np.flatnonzero(layer.is_neuron)
            done: list[Cell] = []
            for ci, cell in enumerate(cells):
                if not len(units):
                    cell.bits.append(np.zeros(layer.out_features, dtype=bool))
                    self.progress_of[cell.cid] = (l, 1 << 30)
                    done.append(cell)
                    continue
                # the exact map: built now in exact mode, on first use (an uncertain sign) in fast mode
                xmap: Any = self.maps.layer(l, tuple(cell.bits)) if self.exact else _LazyMap(self.maps, l, cell.bits)
                fmap = None if self.exact else _float_map(net, l, cell.bits, fmaps)
                cell.S, cell.H, cell.B = self.evaluate(cell, np.arange(len(cell.V)), l, fmap, xmap)
                self.progress_of[cell.cid] = (l, 0)
                pieces = [cell]
                mixed = {cell.cid: _mixed(cell.S)}  # per piece: the units cutting it
                cutters = units[mixed[cell.cid][units]]
                for j in cutters:
                    nxt = []
                    for p in pieces:
                        if mixed[p.cid][j]:
                            a, b = self.split(p, int(j), l, fmap, xmap)
                            del self.cells[p.cid]
                            self.progress_of.pop(p.cid, None)
                            self.cells[a.cid] = a
                            self.cells[b.cid] = b
                            mixed[a.cid] = _mixed(a.S)
                            mixed[b.cid] = _mixed(b.S)
                            nxt += [a, b]
                        else:
                            nxt.append(p)
                    for p in nxt:
                        self.progress_of[p.cid] = (l, int(j) + 1)
                    pieces = nxt
                    if self.max_regions is not None:
                        count = len(done) + len(pieces) + (len(cells) - 1 - ci)
                        if count > self.max_regions:
                            raise RegionLimitError(count, self.max_regions)
                for p in pieces:
                    on = np.zeros(layer.out_features, dtype=bool)
                    if len(units):
                        S = p.S[:, units]
                        on[units] = (S >= 0).all(axis=0) & (S > 0).any(axis=0)
                    p.bits.append(on)
                    self.progress_of[p.cid] = (l, 1 << 30)
                    p.H = p.B = None  # the signs S stay until the layer is done (see split)
                    done.append(p)
                if bar is not None:
                    bar.update(1)
            for p in done:
                p.S = None
            cells = done
            if bar is not None and l + 1 < len(net.layers):
                bar.reset(total=len(cells))
                bar.set_description(f"regions: layer {l + 2}/{len(net.layers)}")
        return cells


def _float_map(net: Network, l: int, bits: list[np.ndarray], cache: dict) -> FloatMap:
    """The float map (with error bounds) of layer ``l`` given the on-bits of the layers
    before it, cached by those bits."""
    key = (l,) + tuple(pack(b) for b in bits[:l])
    got = cache.get(key)
    if got is None:
        if l == 0:
            got = float_first_map(net.layers[0])
        else:
            prev = _float_map(net, l - 1, bits, cache)
            got = float_next_map(prev, bits[l - 1], net.layers[l - 1], net.layers[l])
        cache[key] = got
    return got


def _gamma_m(m: int) -> float:
    ku = (m + 3) * UNIT_ROUNDOFF
    return ku / (1 - ku)


def _q_to_float(a: int, d: int) -> float:
    return float(Fraction(a, d))


def _reduce(N: np.ndarray, d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Homogeneous integer vectors with d > 0 and the gcd of every row divided out."""
    N = N.copy()
    d = d.copy()
    for i in range(len(d)):
        g = abs(int(d[i]))
        for v in N[i]:
            if g == 1:
                break
            g = math.gcd(g, int(v))
        if d[i] < 0:
            g = -g
        if g not in (1,):
            N[i] = N[i] // g
            d[i] = d[i] // g
    return N, d


def _interpolate(u, w, eu, ew, hu, hw, bu, bw):
    """The points where z = 0 on the segments [u, w] (rows; z(u) = hu > bu >= 0,
    z(w) = hw < -bw), with bounds on their distance to the exact points: the exact parameter
    t* = h*u / (h*u - h*w) lies between the values at the ends of the intervals (t is
    increasing in both), and |v - v*| <= max(eu, ew) + |t - t*| |w - u| + rounding."""
    with np.errstate(all="ignore"):
        t = hu / (hu - hw)
        a_lo, a_hi = hu - bu, hu + bu
        b_lo, b_hi = hw - bw, hw + bw
        t_lo = a_lo / (a_lo - b_lo)
        t_hi = a_hi / (a_hi - b_hi)
        et = np.maximum(np.abs(t - t_lo), np.abs(t_hi - t)) * (1 + 8 * UNIT_ROUNDOFF) + 4 * UNIT_ROUNDOFF
        diff = w - u
        v = u + t[:, None] * diff
        span = np.abs(diff).max(axis=1)
        e = np.maximum(eu, ew) + et * span + 4 * UNIT_ROUNDOFF * (np.abs(u).max(axis=1) + span)
        e = e * (1 + 8 * UNIT_ROUNDOFF) + 1e-290
    e = np.where(np.isfinite(e), e, np.inf)
    return v, e


def _edges(inc: np.ndarray, pos: np.ndarray, neg: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray]:
    """The edges (u, w), u in pos, w in neg, of the polytope with this vertex-constraint
    incidence: at least m - 1 common constraints and no third vertex on all of them."""
    packed = np.packbits(inc, axis=1)
    P, N = packed[pos], packed[neg]
    common = P[:, None, :] & N[None, :, :]  # (p, q, bytes)
    counts = np.bitwise_count(common).sum(axis=2, dtype=np.int64)
    cand_u, cand_w = np.nonzero(counts >= m - 1)
    if len(cand_u) == 0:
        return pos[:0], neg[:0]
    C = common[cand_u, cand_w]  # (c, bytes)
    # vertices z with C subset of inc(z): (C & ~inc(z)) == 0 in every byte
    covered = ((C[:, None, :] & ~packed[None, :, :]) == 0).all(axis=2).sum(axis=1)
    keep = covered == 2  # only u and w themselves
    return pos[cand_u[keep]], neg[cand_w[keep]]


class _LazyMap:
    """An exact layer map composed on first use (the fast mode needs it only for signs its
    bound cannot certify)."""

    def __init__(self, maps: ExactMaps, l: int, bits: list[np.ndarray]):
        self._args = (maps, l, tuple(bits))
        self._map: ExactMap | None = None

    def row(self, j: int) -> np.ndarray:
        if self._map is None:
            maps, l, bits = self._args
            self._map = maps.layer(l, bits)
        return self._map.row(j)


def _mixed(S: np.ndarray) -> np.ndarray:
    """Per unit: whether its signs at the vertices include both > 0 and < 0 (it cuts the cell)."""
    return np.asarray((S > 0).any(axis=0) & (S < 0).any(axis=0))


def _slot_units(cell: Cell) -> tuple[np.ndarray, np.ndarray]:
    """(layer, unit) of every slot of the cell as int arrays, -1 for the domain's (cached)."""
    got = cell.slot_units
    if got is None or len(got[0]) != len(cell.slots):
        lay = np.array([-1 if sl[0] == "domain" else sl[0] for sl in cell.slots], dtype=np.int64)
        uni = np.array([-1 if sl[0] == "domain" else sl[1] for sl in cell.slots], dtype=np.int64)
        got = cell.slot_units = (lay, uni)
    return got


class _Identity(dict):
    """The slot map of a cell that kept every slot."""

    def __missing__(self, key: int) -> int:
        return key


def _prune(cell: Cell, m: int, always: frozenset = frozenset()) -> dict[int, int]:
    """Drop the constraints touching fewer than m vertices (they cannot be facets), except
    those in ``always``; the map from old slot indices to new ones."""
    counts = cell.inc.sum(axis=0)
    if counts.min() >= m:
        return _Identity()
    keep = np.flatnonzero((counts >= m) | np.array([s in always for s in cell.slots], dtype=bool))
    if len(keep) < len(cell.slots):
        cell.inc = cell.inc[:, keep]
        cell.slots = [cell.slots[k] for k in keep]
        cell.slot_units = None
    return {int(k): i for i, k in enumerate(keep)}


def enumerate_cells(
    net: Network,
    start: Polytope0,
    *,
    exact: bool,
    max_regions: int | None,
    progress: bool = False,
    keep_slots: frozenset = frozenset(),
) -> tuple[list[Cell], _Engine]:
    """Cut ``start`` into the regions of ``net``: the final cells and the engine (holding the
    region graph ``adj`` and the exact maps)."""
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=1, desc=f"regions: layer 1/{len(net.layers)}", unit="cell")
    eng = _Engine(net, start, exact, max_regions, bar, keep_slots)
    try:
        cells = eng.run()
    finally:
        if bar is not None:
            bar.close()
    return cells, eng
