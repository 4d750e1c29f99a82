"""Scale-out of the n-D engine: a box cut into tiles, each tile's regions computed as one job
through any ``concurrent.futures.Executor`` (a ``ProcessPoolExecutor`` on one machine,
Dask's ``client.get_executor()`` on a cluster, or ``None``: in this process), and the tiles
stitched into the single-process result.

Tiles: the box is cut into ``tiles`` equal slabs (exact rational cut positions) along each
of its first k axes, with k the largest number (at least 1, at most the dimension) such
that ``tiles ** k <= 64`` (:data:`MAX_TILES`): a 2-cut splits up to six axes (64 tiles), a
4-cut three (64), an 8-cut two, a 100-cut one (100 tiles). A tuple gives the cuts of the
first axes explicitly (``(4, 2)``: 4 along x0, 2 along x1, none along the others).

Stitching (exact in both modes):

* regions: the set where an activation pattern is realised is convex (its closure is the
  box cut by one half-space per neuron), so the pieces with one pattern are exactly one
  region. A pattern met in one tile only is a region inside that tile: its piece is the
  region. A pattern met in several tiles is rebuilt exactly: the bounding box of its tiles
  cut (:func:`~exactnet.regions.space.domain._cut_exact`) by the neuron facets of all its
  pieces. Every facet of the region is either a neuron facet of some piece (where it
  crosses a tile's interior), or lies on a face of that bounding box (a box face, or a tile
  plane carrying a neuron's hyperplane: the region then lies on one side of it);
* edges: a tile's region graph mapped to patterns, plus pieces of different patterns in
  two tiles on either side of a tile plane whose facets on that plane meet in an
  (n-1)-dimensional set (decided exactly by cutting one facet by the other's constraints
  inside the plane); this happens exactly when a neuron's hyperplane lies on the tile
  plane;
* non-empty patterns: the union of the tiles' (a point of a tile boundary lies in every
  tile that contains it, and the tiles cover the box), computed when first asked for, by a
  second job per tile (they cost more than the regions).

The result has the protocol of :class:`~exactnet.regions.space.source.SpaceSource`, so
``Regions(space_tiled(...), network=net)`` equals ``exactnet.regions(net, Box(lo, hi))``:
same patterns, edges and labels, counts, exact vertices and volumes (exact mode).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from concurrent.futures import Executor
from fractions import Fraction
from functools import cached_property
from typing import Any

import numpy as np

from ...net.network import Network
from ...net.rational import format_fraction
from .._common import RegionLimitError, check_max_regions
from .._patterns import pack
from ..result import Region
from ._compiled import enumerate_space
from ._engine import Polytope0, _float_map
from ._faces import facet_slots, volume
from ._maps import ExactMaps, solve_vertex
from .domain import _box_start, _cut_exact
from .source import SpaceSource, facet_row, output_map

__all__ = ["MAX_TILES", "space_tiled", "tile_box"]

#: an int ``tiles`` splits as many leading axes as keep the number of tiles at most this
MAX_TILES = 64


# ---------------------------------------------------------------------- tiles
def _cuts(tiles: int | Sequence[int], n: int) -> list[int]:
    """Cuts per axis (1 for an axis not split)."""
    if isinstance(tiles, bool):
        raise ValueError(f"tiles must be a positive integer or a tuple of them, got {tiles}")
    if isinstance(tiles, (int, np.integer)):
        t = int(tiles)
        if t < 1:
            raise ValueError(f"tiles must be a positive integer, got {tiles}")
        k = 1
        while k < n and t ** (k + 1) <= MAX_TILES:
            k += 1
        return [t] * min(k, n) + [1] * (n - min(k, n))
    counts = [int(c) for c in tiles]
    if len(counts) > n or any(c < 1 for c in counts) or any(isinstance(c, bool) for c in tiles):
        raise ValueError(
            f"tiles must be a positive integer or at most {n} positive integers (one per axis); got {tiles}"
        )
    return counts + [1] * (n - len(counts))


def tile_box(
    lo: Sequence[Fraction], hi: Sequence[Fraction], tiles: int | Sequence[int]
) -> list[tuple[tuple[int, ...], tuple[Fraction, ...], tuple[Fraction, ...]]]:
    """The tiles of the box lo <= x <= hi: ``(grid index, tile lo, tile hi)`` for every tile
    (see the module docstring for how ``tiles`` splits the axes); exact cut positions."""
    n = len(lo)
    counts = _cuts(tiles, n)
    planes = [[lo[a] + (hi[a] - lo[a]) * Fraction(i, counts[a]) for i in range(counts[a] + 1)] for a in range(n)]
    out = []
    for idx in itertools.product(*(range(c) for c in counts)):
        tlo = tuple(planes[a][i] for a, i in enumerate(idx))
        thi = tuple(planes[a][i + 1] for a, i in enumerate(idx))
        out.append((tuple(idx), tlo, thi))
    return out


# ---------------------------------------------------------------------- one tile (a job)
def _tile_job(
    net: Network,
    lo: tuple[Fraction, ...],
    hi: tuple[Fraction, ...],
    inner: tuple[bool, ...],
    exact: bool,
    max_regions: int | None,
) -> dict[str, Any]:
    """The regions of one tile as plain picklable data (ints, Fractions, numpy arrays, bytes).

    ``inner[k]``: whether the tile's k-th box constraint (2a: x_a <= hi_a, 2a + 1:
    x_a >= lo_a) lies inside the whole box (a tile plane). The cell's facets on tile planes
    that carry a neuron's hyperplane are listed (``on_planes``) with their exact vertices:
    the stitching intersects them to find edges across the plane. Everything else exact
    (the cells' constraint rows, the other vertices) is left to the stitched source, which
    computes it from the slots and bits when a region asks for it. The tile is cut in the
    fast mode in both modes: its decisions are exact, and so are the regions and graph."""

    cells, eng, graph = enumerate_space(net, _box_start(lo, hi), exact=False, max_regions=max_regions)
    src = SpaceSource(net, cells, eng, "box", {}, graph)
    m = eng.m
    out_cells = []
    for c in cells:
        pattern = src.pattern(c)
        # facets of the cell on tile planes carrying a neuron's hyperplane (only there can
        # it meet a region of another pattern across the plane): {box constraint: vertices}
        on_planes: dict[int, list[int]] = {}
        # (none in general position, where the compiled path ran: a hyperplane on a tile
        # plane would vanish at the tile's vertices there, which sends a tile to the
        # Python engine)
        planes = [] if graph is not None else [col for col, s in enumerate(c.slots) if s[0] == "domain" and inner[s[1]]]
        facet_sets: set[frozenset] = set()
        if planes:
            facet_sets = {frozenset(np.flatnonzero(c.inc[:, f]).tolist()) for f in facet_slots(c.inc, m)}
        for col in planes:
            vs = frozenset(np.flatnonzero(c.inc[:, col]).tolist())
            k_ = int(c.slots[col][1])
            plane = hi[k_ // 2] if k_ % 2 == 0 else lo[k_ // 2]
            if vs in facet_sets and _neuron_on_plane(eng, c, k_ // 2, plane):
                on_planes[k_] = sorted(vs)
        k = len(c.V)
        xv = np.empty(k, dtype=object)
        for v in range(k):
            xv[v] = None if c.xv[v] is None else (c.xv[v][0], int(c.xv[v][1]))
        for vs_list in on_planes.values():
            for v in vs_list:
                N, d = eng.exact_vertex(c, v)
                xv[v] = (N, int(d))
        out_cells.append(
            {
                "key": pack(pattern),
                "pattern": pattern,
                "bits": [np.asarray(b, dtype=bool) for b in c.bits],
                "V": c.V,
                "xv": xv,
                "inc": c.inc,
                "slots": list(c.slots),
                "on_planes": on_planes,
            }
        )
    edges = [(a, b) for a, b, _ in src.edges()]
    # the non-empty patterns (every face of every cell) cost more than the cells: on request
    return {"cells": out_cells, "edges": edges, "patterns": None}


def _tile_patterns(net: Network, lo: tuple[Fraction, ...], hi: tuple[Fraction, ...], exact: bool) -> set[bytes]:
    """The non-empty patterns of one tile (a job of its own, run when they are asked for)."""
    cells, eng, graph = enumerate_space(net, _box_start(lo, hi), exact=exact, max_regions=None)
    return SpaceSource(net, cells, eng, "box", {}, graph).pattern_set()


def _neuron_on_plane(eng: Any, c: Any, a: int, plane: Fraction) -> bool:
    """Whether some neuron's hyperplane on cell c (its local map, exactly) is x_a = plane.

    Two regions of different patterns meeting in an (n-1)-dimensional set of a tile plane
    have one: the first neuron (in layer order) whose bit differs has the same affine map on
    both (the bits before it agree), <= 0 on one and >= 0 on the other, so it vanishes on
    the common face and its hyperplane is the tile plane."""
    p, q = plane.numerator, plane.denominator
    for l, layer in enumerate(eng.net.layers):
        units = np.flatnonzero(layer.is_neuron)
        if not len(units):
            continue
        xm = eng.maps.layer(l, tuple(c.bits))
        num, const = xm.num[units], xm.const[units]
        others = np.delete(num, a, axis=1)
        flat = (others == 0).all(axis=1) if others.shape[1] else np.ones(len(units), dtype=bool)
        root = num[:, a] * p + const * q == 0
        if (flat & root & (num[:, a] != 0)).any():
            return True
    return False


# ---------------------------------------------------------------------- the entry point
def space_tiled(
    net: Network,
    lo: Sequence[Fraction],
    hi: Sequence[Fraction],
    *,
    tiles: int | Sequence[int] = 2,
    executor: Executor | None = None,
    exact: bool = False,
    max_regions: int | None = None,
) -> TiledSpaceSource:
    """The regions of ``net`` on the box lo <= x <= hi computed tile by tile (one job per tile
    through ``executor``, or in this process when it is None) and stitched (see the module
    docstring). Returns a source: ``Regions(space_tiled(...), network=net)`` is the result,
    equal to the single-process one. ``max_regions`` caps every tile and the stitched count
    (:class:`~exactnet.regions.RegionLimitError`)."""
    max_regions = check_max_regions(max_regions)
    n = net.input_dim
    lo_q = tuple(Fraction(v) for v in lo)
    hi_q = tuple(Fraction(v) for v in hi)
    if len(lo_q) != n or len(hi_q) != n:
        raise ValueError(f"lo and hi need {n} entries (the network's inputs); got {len(lo_q)} and {len(hi_q)}")
    for a, (p, q) in enumerate(zip(lo_q, hi_q)):
        if not p < q:
            raise ValueError(f"lo[{a}] = {p} is not below hi[{a}] = {q}")
    grid = tile_box(lo_q, hi_q, tiles)
    jobs = []
    for _, tlo, thi in grid:
        inner = []
        for a in range(n):
            inner += [thi[a] != hi_q[a], tlo[a] != lo_q[a]]
        jobs.append((net, tlo, thi, tuple(inner), bool(exact), max_regions))
    if executor is None:
        results = [_tile_job(*job) for job in jobs]
    else:
        futures = [executor.submit(_tile_job, *job) for job in jobs]
        try:
            results = [f.result() for f in futures]
        except BaseException:
            for f in futures:
                f.cancel()
            raise
    src = TiledSpaceSource(net, lo_q, hi_q, grid, results, bool(exact), executor)
    if max_regions is not None and src.num_regions > max_regions:
        raise RegionLimitError(src.num_regions, max_regions)
    return src


# ---------------------------------------------------------------------- the stitched source
def _primitive(row: np.ndarray) -> tuple[int, ...]:
    vals = [int(v) for v in row]
    g = math.gcd(*vals) or 1
    return tuple(v // g for v in vals)


class TiledSpaceSource:
    """Tile results stitched into one partition of the box (the protocol of
    :class:`~exactnet.regions.space.source.SpaceSource`)."""

    def __init__(
        self,
        net: Network,
        lo: tuple[Fraction, ...],
        hi: tuple[Fraction, ...],
        grid: list[tuple[tuple[int, ...], tuple[Fraction, ...], tuple[Fraction, ...]]],
        results: list[dict[str, Any]],
        exact: bool,
        executor: Executor | None = None,
    ):
        self.net = net
        self.exact = exact
        self.executor = executor  # for the non-empty patterns, one job per tile on request
        self.dim = net.input_dim
        self.domain = {
            "kind": "box",
            "lo": [format_fraction(Fraction(v)) for v in lo],
            "hi": [format_fraction(Fraction(v)) for v in hi],
        }
        self.neurons = net.neurons
        self.grid = grid
        self.results = results
        self._maps = ExactMaps(net)
        self._fmaps: dict = {}
        self._xv: dict[tuple[int, int, int], tuple[np.ndarray, int]] = {}
        self._row_cache: dict[tuple[int, int], list[np.ndarray]] = {}
        self._box_rows: dict[int, list[np.ndarray]] = {}
        self._polytopes: dict[int, Polytope0] = {}
        # regions: patterns in order of first appearance (tile order, then the tile's order)
        pieces: dict[bytes, list[tuple[int, int]]] = {}
        for t, res in enumerate(results):
            for i, cell in enumerate(res["cells"]):
                pieces.setdefault(cell["key"], []).append((t, i))
        self.keys = list(pieces)
        self.pieces = [pieces[k] for k in self.keys]
        self._of = {k: r for r, k in enumerate(self.keys)}
        self.num_regions = len(self.keys)

    # ------------------------------------------------------------------ per region
    def _cell(self, t: int, i: int) -> dict[str, Any]:
        return self.results[t]["cells"][i]

    def _first(self, r: int) -> dict[str, Any]:
        t, i = self.pieces[r][0]
        return self._cell(t, i)

    def _rows(self, t: int, i: int) -> list[np.ndarray]:
        """The exact constraint rows of piece (t, i), one per slot, signed so that
        ``row . (x, 1) <= 0`` on the piece (computed on first use from its slots and bits)."""
        got = self._row_cache.get((t, i))
        if got is None:
            cell = self._cell(t, i)
            box = self._box_rows.get(t)
            if box is None:
                _, tlo, thi = self.grid[t]
                box = self._box_rows[t] = _box_start(tlo, thi).rows
            bits = tuple(cell["bits"])
            got = []
            for s in cell["slots"]:
                if s[0] == "domain":
                    got.append(box[s[1]])
                else:
                    l, j, side = s  # side * z_j >= 0 on the piece
                    r = self._maps.layer(l, bits).row(j)
                    got.append(np.array([-side * int(v) for v in r], dtype=object))
            self._row_cache[(t, i)] = got
        return got

    def _exact_vertex(self, t: int, i: int, v: int) -> tuple[np.ndarray, int]:
        cell = self._cell(t, i)
        got = cell["xv"][v]
        if got is None:
            got = self._xv.get((t, i, v))
            if got is None:
                rows = [r for r, on in zip(self._rows(t, i), cell["inc"][v]) if on]
                got = self._xv[(t, i, v)] = solve_vertex(rows, self.dim)
        return got

    def exact_polytope(self, r: int) -> Polytope0:
        """Region r as an exact polytope (vertices, incidence, rows r . (x, 1) <= 0)."""
        got = self._polytopes.get(r)
        if got is not None:
            return got
        if len(self.pieces[r]) == 1:
            t, i = self.pieces[r][0]
            cell = self._cell(t, i)
            k = len(cell["inc"])
            N = np.empty((k, self.dim), dtype=object)
            d = np.empty(k, dtype=object)
            for v in range(k):
                N[v], d[v] = self._exact_vertex(t, i, v)
            got = Polytope0(N, d, cell["inc"].copy(), list(self._rows(t, i)))
        else:
            got = self._rebuild(r)
        self._polytopes[r] = got
        return got

    def _rebuild(self, r: int) -> Polytope0:
        """The region of a pattern met in several tiles: the bounding box of those tiles cut
        by the neuron facets of every piece (module docstring)."""
        n = self.dim
        blo = [min(self.grid[t][1][a] for t, _ in self.pieces[r]) for a in range(n)]
        bhi = [max(self.grid[t][2][a] for t, _ in self.pieces[r]) for a in range(n)]
        rows: set[tuple[int, ...]] = set()
        for t, i in self.pieces[r]:
            cell = self._cell(t, i)
            piece_rows = self._rows(t, i)
            for s in facet_slots(cell["inc"], n):
                if cell["slots"][s][0] != "domain":
                    rows.add(_primitive(piece_rows[s]))
        P = _box_start(blo, bhi)
        for row in sorted(rows):
            cut = _cut_exact(P, np.array(row, dtype=object))
            if cut is None:  # cannot happen: every row holds on the region, which has interior
                raise AssertionError("internal error: a region's facets leave no interior")
            P = cut
        return P

    def _geometry(self, r: int) -> tuple[list[tuple], np.ndarray, list[np.ndarray]]:
        """(vertices in output numbers, incidence, signed rows) of region r."""
        pts: list[tuple]
        if len(self.pieces[r]) == 1 and not self.exact:
            t, i = self.pieces[r][0]
            cell = self._cell(t, i)
            pts = [tuple(float(a) for a in row) for row in cell["V"]]
            return pts, cell["inc"], self._rows(t, i)
        P = self.exact_polytope(r)
        if self.exact:
            pts = [tuple(Fraction(int(a), int(d)) for a in row) for row, d in zip(P.N, P.d)]
        else:
            pts = [tuple(float(Fraction(int(a), int(d))) for a in row) for row, d in zip(P.N, P.d)]
        return pts, P.inc, P.rows

    def _facet_rows(self, rows: list[np.ndarray], slots: list[int]) -> tuple:
        out: list[tuple[tuple, Fraction | float]] = []
        n = self.dim
        for s in slots:
            r = rows[s]
            out.append(facet_row([int(v) for v in r[:n]], -int(r[n]), self.exact))
        return tuple(out)

    def _map(self, r: int, exact: bool) -> tuple[tuple, tuple]:
        """(intercept, gradient) of every output on region r."""
        bits = self._first(r)["bits"]
        return output_map(self.net, self._maps, self._fmaps, bits, self.dim, self.net.output_dim, False, exact)

    def _region(self, r: int) -> Region:
        m = self.dim
        pts, inc, rows = self._geometry(r)
        if m == 1:  # an interval: its ends in increasing order
            order = sorted(range(len(pts)), key=lambda v: pts[v][0])
            pts = [pts[v] for v in order]
            inc = inc[order]
        zero = Fraction(0) if self.exact else 0.0
        k = len(pts)
        interior = tuple(sum((p[a] for p in pts), zero) / k for a in range(m))
        facets = facet_slots(inc, m)
        icpt, grad = self._map(r, self.exact)
        exact = self.exact
        return Region(
            r,
            self._first(r)["pattern"],
            icpt,
            grad,
            tuple(pts),
            interior,
            facets=lambda: self._facet_rows(rows, facets),
            measure=lambda: volume(pts, inc, m, exact=exact),
        )

    # ------------------------------------------------------------------ the protocol
    def regions(self) -> tuple[Region, ...]:
        return tuple(self._region(r) for r in range(self.num_regions))

    @cached_property
    def _pairs(self) -> set[tuple[int, int]]:
        pairs: set[tuple[int, int]] = set()
        for res in self.results:
            cells = res["cells"]
            for a, b in res["edges"]:
                ra, rb = self._of[cells[a]["key"]], self._of[cells[b]["key"]]
                if ra != rb:
                    pairs.add((min(ra, rb), max(ra, rb)))
        pairs |= self._across_planes(pairs)
        return pairs

    def _across_planes(self, known: set[tuple[int, int]]) -> set[tuple[int, int]]:
        """Pairs of regions with pieces in two tiles on either side of a tile plane whose
        facets on that plane meet in an (n-1)-dimensional set."""
        n = self.dim
        at = {idx: t for t, (idx, _, _) in enumerate(self.grid)}
        found: set[tuple[int, int]] = set()
        for t, (idx, _, thi) in enumerate(self.grid):
            for a in range(n):
                nb = at.get(idx[:a] + (idx[a] + 1,) + idx[a + 1 :])
                if nb is None:
                    continue
                c = thi[a]
                low = [(i, cell) for i, cell in enumerate(self.results[t]["cells"]) if 2 * a in cell["on_planes"]]
                high = [(j, cell) for j, cell in enumerate(self.results[nb]["cells"]) if 2 * a + 1 in cell["on_planes"]]
                if not low or not high:
                    continue
                flo = [self._plane_facet(t, i, 2 * a, a, c) for i, _ in low]
                fhi = [self._plane_facet(nb, j, 2 * a + 1, a, c) for j, _ in high]
                for (_, ci), (plo, blo) in zip(low, flo):
                    ri = self._of[ci["key"]]
                    for (_, cj), (phi, bhi) in zip(high, fhi):
                        rj = self._of[cj["key"]]
                        pair = (min(ri, rj), max(ri, rj))
                        if ri == rj or pair in known or pair in found:
                            continue
                        if not all(max(x0, y0) < min(x1, y1) for (x0, x1), (y0, y1) in zip(blo, bhi)):
                            continue
                        if _overlap(plo, phi):
                            found.add(pair)
        return found

    def _plane_facet(
        self, t: int, i: int, col: int, a: int, c: Fraction
    ) -> tuple[Polytope0 | None, list[tuple[Fraction, Fraction]]]:
        """The facet of piece (t, i) on the tile plane x_a = c (the tile's box constraint
        ``col``) as an exact polytope in the other n - 1 coordinates, with its bounding box."""
        cell = self._cell(t, i)
        verts = cell["on_planes"][col]
        n = self.dim
        pts = [self._exact_vertex(t, i, v) for v in verts]
        others = [k for k in range(n) if k != a]
        bbox = []
        for k in others:
            vals = [Fraction(int(N[k]), int(d)) for N, d in pts]
            bbox.append((min(vals), max(vals)))
        if n == 1:
            return None, bbox
        rows, cols = [], []
        for s, row in enumerate(self._rows(t, i)):
            sub = _restrict(row, a, c)
            if all(v == 0 for v in sub[:-1]):
                continue  # parallel to the plane (the plane itself, or the opposite face)
            rows.append(sub)
            cols.append(s)
        N = np.empty((len(pts), n - 1), dtype=object)
        d = np.empty(len(pts), dtype=object)
        for v, (Nv, dv) in enumerate(pts):
            N[v] = [Nv[k] for k in others]
            d[v] = dv
        inc = cell["inc"][np.ix_(verts, cols)] if cols else np.zeros((len(verts), 0), dtype=bool)
        return Polytope0(N, d, inc, rows), bbox

    @cached_property
    def _edge_list(self) -> list[tuple[int, int, tuple[tuple[int, int], ...]]]:
        neurons = self.neurons
        out = []
        for a, b in sorted(self._pairs):
            pa, pb = self._first(a)["pattern"], self._first(b)["pattern"]
            out.append((a, b, tuple(neurons[f] for f in np.flatnonzero(pa != pb))))
        return out

    def edges(self) -> list[tuple[int, int, tuple[tuple[int, int], ...]]]:
        return self._edge_list

    def same_map(self) -> list[bool]:
        L = len(self.net.layers) - 1
        n_out = self.net.output_dim
        out = []
        for a, b, _ in self._edge_list:
            if not self.exact:
                fa = _float_map(self.net, L, self._first(a)["bits"], self._fmaps)
                fb = _float_map(self.net, L, self._first(b)["bits"], self._fmaps)
                gap = np.abs(fa.A[:n_out] - fb.A[:n_out]) > fa.eA[:n_out] + fb.eA[:n_out]
                gapc = np.abs(fa.c[:n_out] - fb.c[:n_out]) > fa.ec[:n_out] + fb.ec[:n_out]
                if gap.any() or gapc.any():
                    out.append(False)
                    continue
            out.append(self._map(a, True) == self._map(b, True))
        return out

    def num_patterns(self) -> int:
        """The union of the tiles' non-empty patterns, computed by one job per tile through
        the executor (in this process when there is none, or it has been shut down)."""
        jobs = [(self.net, tlo, thi, self.exact) for _, tlo, thi in self.grid]
        sets: list[set[bytes]] | None = None
        if self.executor is not None:
            try:
                futures = [self.executor.submit(_tile_patterns, *job) for job in jobs]
            except RuntimeError:  # "cannot schedule new futures after shutdown"
                futures = []
            if futures:
                sets = [f.result() for f in futures]
        if sets is None:
            sets = [_tile_patterns(*job) for job in jobs]
        seen: set[bytes] = set()
        for got in sets:
            seen |= got
        return len(seen)

    def exact_output(self, r: int) -> tuple[tuple, tuple]:
        """(intercept, gradient) of region r's outputs, exactly."""
        return self._map(r, True)


def _restrict(row: np.ndarray, a: int, c: Fraction) -> np.ndarray:
    """The integer row r . (x, 1) on the plane x_a = c, in the other coordinates (a positive
    multiple)."""
    q = c.denominator
    m = len(row) - 1
    vals = [q * int(row[k]) for k in range(m) if k != a] + [q * int(row[m]) + int(row[a]) * c.numerator]
    return np.array(vals, dtype=object)


def _overlap(P: Polytope0 | None, Q: Polytope0 | None) -> bool:
    """Whether two full-dimensional polytopes (of the same plane) meet in a set with
    interior: P cut by Q's constraints keeps an interior (exact). In dimension 0 (points of
    a line) the facets are the point itself."""
    if P is None or Q is None:
        return True
    for row in Q.rows:
        got = _cut_exact(P, row)
        if got is None:
            return False
        P = got
    return True
