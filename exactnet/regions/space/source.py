"""The n-D engine's cells as the regions of a :class:`~exactnet.regions.Regions` result:
patterns, maps, vertices, facets, volumes, edges, pieces and non-empty patterns, in the
domain's coordinates (undoing the homogenisation for the whole space)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from fractions import Fraction
from functools import cached_property, partial

import numpy as np

from ...net.network import Network
from .._patterns import pack
from ..result import Region
from ._compiled import CompiledCells
from ._engine import Cell, Polytope0, _edges, _Engine, _float_map
from ._faces import faces_of, facet_slots, volume
from ._kernel import KernelCells
from ._maps import ExactMaps, FloatMap

__all__ = ["SpaceSource"]


def output_map(
    engine_net: Network,
    maps: ExactMaps,
    fmaps: dict,
    bits: list[np.ndarray],
    n: int,
    n_out: int,
    whole: bool,
    exact: bool,
) -> tuple[tuple, tuple]:
    """(intercept, gradient) of the first ``n_out`` outputs of ``engine_net`` on the region
    with these on-bits: Fractions (exact) or floats. On the whole space the engine's network
    is homogenised, z = A (x, t), and the intercept is the t column."""
    L = len(engine_net.layers) - 1
    if exact:
        xm = maps.layer(L, tuple(bits))
        grad = tuple(tuple(Fraction(int(xm.num[k, i]), xm.den) for i in range(n)) for k in range(n_out))
        consts = xm.num[:, n] if whole else xm.const
        icpt = tuple(Fraction(int(consts[k]), xm.den) for k in range(n_out))
        return icpt, grad
    fm = _float_map(engine_net, L, bits, fmaps)
    fgrad = tuple(tuple(float(fm.A[k, i]) for i in range(n)) for k in range(n_out))
    fconsts = fm.A[:, n] if whole else fm.c
    return tuple(float(fconsts[k]) for k in range(n_out)), fgrad


def facet_row(a: list[int], b: int, exact: bool) -> tuple[tuple, Fraction | float]:
    """The facet a . x <= b of integer coefficients as a row: divided by their gcd
    (Fractions) in exact mode, by their largest magnitude (floats) in float mode."""
    if exact:
        g = math.gcd(*a, b) or 1
        return tuple(Fraction(v // g) for v in a), Fraction(b // g)
    big = max(abs(v) for v in a + [b]) or 1
    return tuple(float(Fraction(v, big)) for v in a), float(Fraction(b, big))


class SpaceSource:
    """The regions of the n-D engine: ``cells`` (a list, or the compiled kernel's
    :class:`._kernel.CompiledCells`), ``eng`` (the engine: exact maps, rows and vertices on
    demand; the region graph ``eng.adj`` unless ``graph``, the compiled path's edge arrays
    ``(pairs, neuron bits)``, is given)."""

    def __init__(
        self,
        net: Network,
        cells: Sequence[Cell],
        eng: _Engine,
        kind: str,
        domain: dict,
        graph: tuple[np.ndarray, np.ndarray] | None = None,
    ):
        self.net = net  # the network as given (not homogenised)
        self.cells = cells
        self.eng = eng
        self.exact = eng.exact
        self.whole = kind == "space"
        self.dim = net.input_dim
        self.domain = domain
        self.neurons = net.neurons
        self.num_regions = len(cells)
        self._graph = graph
        # the float maps (with bounds) of the last layer per cell, when the compiled kernel
        # computed them (for same_map; the reported maps are numpy's, the same on every path)
        self._kernel_maps: KernelCells | None = cells.kc if isinstance(cells, CompiledCells) else None
        self._fmaps: dict = {}
        self._neuron_units = [np.flatnonzero(layer.is_neuron) for layer in eng.net.layers]

    # ------------------------------------------------------------------ per cell
    def pattern(self, c: Cell) -> np.ndarray:
        parts = [b[u] for b, u in zip(c.bits, self._neuron_units) if len(u)]
        return np.concatenate(parts) if parts else np.zeros(0, dtype=bool)

    def _exact_vertex(self, c: Cell, i: int) -> tuple[np.ndarray, int]:
        return self.eng.exact_vertex(c, i)

    def _coords(self, c: Cell) -> list[tuple]:
        """The cell's vertices in the engine's coordinates (Fractions exact, floats fast)."""
        if self.exact:
            return [tuple(Fraction(int(a), int(d)) for a in row) for row, d in zip(c.V, c.d)]
        return [tuple(float(a) for a in row) for row in c.V]

    def _mean(self, c: Cell, pts: list[tuple]) -> tuple:
        """The mean of the cell's vertices (an interior point): in exact mode over one
        common denominator, L = lcm(d_i), as sum_i N_i (L / d_i) / (k L)."""
        k, m = len(pts), self.eng.m
        if not self.exact:
            return tuple(sum(p[a] for p in pts) / k for a in range(m))
        ds = [int(d) for d in c.d]
        L = math.lcm(*ds)
        scale = [L // d for d in ds]
        return tuple(Fraction(sum(int(row[a]) * f for row, f in zip(c.V, scale)), k * L) for a in range(m))

    def _map(self, c: Cell, exact: bool | None = None) -> tuple[tuple, tuple]:
        """(intercept, gradient) of every output on the cell, in domain coordinates
        (exactly if ``exact``, default: the result's mode)."""
        eng = self.eng
        return output_map(
            eng.net, eng.maps, self._fmaps, c.bits, self.dim, self.net.output_dim, self.whole,
            self.exact if exact is None else exact,
        )  # fmt: skip

    def _facet_rows(self, c: Cell, slots: list[int]) -> tuple:
        out: list[tuple[tuple, Fraction | float]] = []
        n = self.dim
        for s in slots:
            r = self.eng.slot_row(c, c.slots[s])
            slot = c.slots[s]
            side = 1 if slot[0] == "domain" else -slot[2]  # side z >= 0  <=>  -side z <= 0
            # r . (x, 1) (or r . (x, t, 0) on the whole space at t = 1): a . x <= b
            out.append(facet_row([side * int(v) for v in r[:n]], -side * int(r[n]), self.exact))
        return tuple(out)

    def _region(self, i: int, c: Cell) -> Region:
        m = self.eng.m
        icpt, grad = self._map(c)
        pattern = self.pattern(c)
        pts = self._coords(c)
        if not self.whole:
            if m == 1:  # an interval: its ends in increasing order
                order = sorted(range(len(pts)), key=lambda v: pts[v][0])
                pts = [pts[v] for v in order]
                c_inc = c.inc[order]
            else:
                c_inc = c.inc
            interior = self._mean(c, pts)
            facets = facet_slots(c_inc, m)
            inc = c_inc
            return Region(
                i,
                pattern,
                icpt,
                grad,
                tuple(pts),
                interior,
                facets=lambda: self._facet_rows(c, facets),
                measure=lambda: volume(pts, inc, m, exact=self.exact),
            )
        n = self.dim
        t_slot = self._t_zero_slot(c)
        k = len(pts)
        mean = self._mean(c, pts)
        interior = tuple(mean[a] / mean[n] for a in range(n))
        neuron_cols = [s for s, sl in enumerate(c.slots) if sl[0] != "domain"]
        facets_all = facet_slots(c.inc, m)
        facets = [s for s in facets_all if c.slots[s][0] != "domain"]
        at_infinity = np.flatnonzero(c.inc[:, t_slot]) if t_slot is not None else np.zeros(0, dtype=int)
        bounded_verts: tuple | None = None
        measure: Fraction | float | Callable[[], Fraction | float] = float("inf")
        if len(at_infinity) == 1:  # the cone meets t = 0 at the origin only: bounded
            o = int(at_infinity[0])
            others = np.array([v for v in range(k) if v != o])
            _, ws = _edges(c.inc, np.array([o]), others, m)
            verts = [tuple(pts[w][a] / pts[w][n] for a in range(n)) for w in ws]
            vinc = c.inc[ws][:, neuron_cols]
            bounded_verts = tuple(verts)
            measure = partial(volume, verts, vinc, n, exact=self.exact)
        return Region(
            i,
            pattern,
            icpt,
            grad,
            bounded_verts,
            interior,
            facets=lambda: self._facet_rows(c, facets),
            measure=measure,
        )

    def _t_zero_slot(self, c: Cell) -> int | None:
        target = ("domain", 2 * self.dim + 1)  # -t <= 0
        for s, sl in enumerate(c.slots):
            if sl == target:
                return s
        return None

    # ------------------------------------------------------------------ the protocol
    def regions(self) -> tuple[Region, ...]:
        return tuple(self._region(i, c) for i, c in enumerate(self.cells))

    @cached_property
    def _edge_list(self):
        neurons = self.neurons
        if self._graph is not None:
            pairs, bits = self._graph
            return [(a, b, (neurons[k],)) for (a, b), k in zip(pairs.tolist(), bits.tolist())]
        out = []
        idx = {c.cid: i for i, c in enumerate(self.cells)}
        pats = [self.pattern(c) for c in self.cells]
        for cid, nbrs in self.eng.adj.items():
            a = idx[cid]
            for y in nbrs:
                b = idx[y]
                if a < b:
                    flip = np.flatnonzero(pats[a] != pats[b])
                    out.append((a, b, tuple(neurons[f] for f in flip)))
        out.sort()
        return out

    def edges(self) -> list[tuple[int, int, tuple[tuple[int, int], ...]]]:
        return self._edge_list

    def same_map(self) -> list[bool]:
        maps: dict[int, tuple] = {}

        def exact_map(i):
            got = maps.get(i)
            if got is None:
                xm = self.eng.maps.layer(len(self.eng.net.layers) - 1, self._bits(i))
                n_out = self.net.output_dim
                got = (
                    tuple(tuple(Fraction(int(v), xm.den) for v in row) for row in xm.num[:n_out]),
                    tuple(Fraction(int(v), xm.den) for v in xm.const[:n_out]),
                )
                maps[i] = got
            return got

        out = []
        L = len(self.eng.net.layers) - 1
        n_out = self.net.output_dim
        for a, b, _ in self._edge_list:
            if not self.exact or self._kernel_maps is not None:  # a certified float test first
                fa, fb = self._last_float_map(a, L), self._last_float_map(b, L)
                gap = np.abs(fa.A[:n_out] - fb.A[:n_out]) > fa.eA[:n_out] + fb.eA[:n_out]
                gapc = np.abs(fa.c[:n_out] - fb.c[:n_out]) > fa.ec[:n_out] + fb.ec[:n_out]
                if gap.any() or gapc.any():
                    out.append(False)
                    continue
            out.append(exact_map(a) == exact_map(b))
        return out

    def _bits(self, i: int) -> tuple[np.ndarray, ...]:
        """The on-bits of region i, per layer (without building the cell when compiled)."""
        cells = self.cells
        if isinstance(cells, CompiledCells):
            sn = cells.net
            return tuple(cells.kc.bits[i, sn.u_off[l] : sn.u_off[l + 1]] for l in range(len(sn.rows)))
        return tuple(cells[i].bits)

    def _last_float_map(self, i: int, L: int) -> FloatMap:
        kc = self._kernel_maps
        if kc is not None:
            return FloatMap(kc.A[i], kc.c[i], kc.eA[i], kc.ec[i])
        return _float_map(self.eng.net, L, list(self._bits(i)), self._fmaps)

    def num_patterns(self) -> int:
        return len(self.pattern_set())

    def pattern_set(self) -> set[bytes]:
        """The non-empty patterns (:func:`exactnet.regions._patterns.pack`), over every face of every
        cell: a neuron is on at the relative interior of a face iff its pre-activation is
        >= 0 at the face's vertices and > 0 at one of them (signs decided exactly). A
        face's pattern differs from its cell's only where a neuron on in the cell vanishes,
        so only those faces are visited."""
        eng = self.eng
        seen: set[bytes] = set()
        layers = eng.net.layers
        units = self._neuron_units
        for c in self.cells:
            signs = []
            for l in range(len(layers)):
                if not len(units[l]):
                    continue
                xmap = eng.maps.layer(l, tuple(c.bits))
                fmap = None if eng.exact else _float_map(eng.net, l, c.bits, self._fmaps)
                S, _, _ = eng.evaluate(c, np.arange(len(c.V)), l, fmap, xmap, units[l])
                signs.append(S)
            sg = np.concatenate(signs, axis=1) if signs else np.zeros((len(c.V), 0), dtype=np.int8)
            skip = None
            if self.whole:
                t_slot = self._t_zero_slot(c)
                skip = c.inc[:, t_slot] if t_slot is not None else None
            on_cell = (sg >= 0).all(axis=0) & (sg > 0).any(axis=0)
            seen.add(pack(on_cell))
            # a face has another pattern than the cell only inside the zero set of a neuron
            # that is on in the cell (those zero sets are faces, z being >= 0 on the cell)
            tops = {frozenset(np.flatnonzero(sg[:, j] == 0).tolist()) for j in np.flatnonzero(on_cell)}
            done: set[bytes] = set()
            for top in tops:
                if not top:
                    continue
                for face in faces_of(c.inc, sorted(top)):
                    key = face.tobytes()
                    if key in done:
                        continue
                    done.add(key)
                    if skip is not None and skip[face].all():
                        continue  # points at infinity (t = 0) are not points of R^n
                    f = sg[face]
                    on = (f >= 0).all(axis=0) & (f > 0).any(axis=0)
                    seen.add(pack(on))
        return seen

    def exact_polytope(self, i: int) -> Polytope0:
        """Region i as an exact polytope in domain coordinates (for the whole space: its
        cone cut by the box, in the homogenised coordinates (x, t))."""
        c = self.cells[i]
        k = len(c.V)
        N = np.empty((k, self.eng.m), dtype=object)
        d = np.empty(k, dtype=object)
        for v in range(k):
            Nv, dv = self.eng.exact_vertex(c, v)
            N[v] = Nv
            d[v] = dv
        rows = [self.eng.slot_row(c, s) for s in c.slots]
        signed = []
        for s, r in zip(c.slots, rows):
            side = 1 if s[0] == "domain" else -s[2]
            signed.append(np.array([side * int(v) for v in r], dtype=object))
        return Polytope0(N, d, c.inc.copy(), signed)

    def exact_output(self, i: int) -> tuple[tuple, tuple]:
        """(intercept, gradient) of region i's outputs, exactly."""
        return self._map(self.cells[i], exact=True)
