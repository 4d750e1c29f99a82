"""Partitions in tiles, through any ``concurrent.futures.Executor``.

The domain is cut into tiles (a grid over its bounding box, each cell clipped to the
convex domain, so every tile is a convex polygon); each tile is partitioned on its own,
by any executor: a ``ProcessPoolExecutor`` on one machine, Dask's
``client.get_executor()`` or Ray's on a cluster, or ``None`` (in this process). The tile
results are stitched into one :class:`~exactnet.regions.plane.Partition`:

* a region cut by tile borders appears in several tiles with the same activation
  pattern; the set where a pattern is realised is convex (Serra et al. 2018), so the
  pieces with one pattern are exactly one region, whose polygon is the convex hull of
  the pieces' vertices;
* adjacency inside a tile comes from the tile's graph; across tile borders from the
  border segments that pieces of different tiles share (found per border line). In float
  mode, where rounded coordinates cannot tell nearly coincident lines apart, a side is
  kept only if the neurons flipping across it have one exact line, and two maps equal
  within rounding count as one only if they are equal exactly (both decided in
  rationals from the patterns);
* non-empty patterns are the union of the tiles' (every point of the domain lies in a
  tile).

The result equals the untiled partition: same regions, polygons, graph, counts.
"""

from __future__ import annotations

import math
from concurrent.futures import Executor
from fractions import Fraction
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

from ..net.network import Network
from ._common import RegionLimitError, check_max_regions
from ._patterns import pack, unpack_bytes
from .plane import Partition, Plane, Region2D, parse_domain
from .plane.compute import compute_partition
from .plane.region import area2, clip_polygon

if TYPE_CHECKING:
    from .plane.domain import DomainLike

__all__ = ["partition_tiled", "tile_domain"]


def tile_domain(domain: DomainLike, tiles: int | tuple[int, int]) -> list[list[tuple[Fraction, Fraction]]]:
    """Convex tiles covering the domain: a ``tiles`` (nu, nv) grid over its bounding box
    (cut positions are exact rationals), each cell clipped to the domain; empty cells are
    dropped."""
    verts = parse_domain(domain)
    nu, nv = (tiles, tiles) if isinstance(tiles, int) else tiles
    if nu < 1 or nv < 1:
        raise ValueError(f"tiles must be positive, got {tiles}")
    us = [p[0] for p in verts]
    vs = [p[1] for p in verts]
    u0, u1, v0, v1 = min(us), max(us), min(vs), max(vs)
    cu = [u0 + (u1 - u0) * Fraction(i, nu) for i in range(nu + 1)]
    cv = [v0 + (v1 - v0) * Fraction(j, nv) for j in range(nv + 1)]
    out = []
    for i in range(nu):
        for j in range(nv):
            poly: list = list(verts)
            for half in ((1, 0, -cu[i]), (-1, 0, cu[i + 1]), (0, 1, -cv[j]), (0, -1, cv[j + 1])):
                poly = clip_polygon(poly, half)
                if not poly:
                    break
            if poly and area2(poly) > 0:
                out.append(_dedupe(poly))
    return out


def _dedupe(poly):
    out = []
    for p in poly:
        if not out or p != out[-1]:
            out.append(p)
    if len(out) > 1 and out[0] == out[-1]:
        out.pop()
    return out


def _tile_job(net: Network, tile, plane: Plane, exact: bool, max_regions: int | None = None):
    """Partition one tile; returns plain data (picklable, compact)."""
    part = compute_partition(net, tile, plane=plane, exact=exact, max_regions=max_regions)
    # first: an uncertified piece decision switches the partition to its exact source,
    # which numbers regions its own way
    same = list(part._same_map_edges())
    regions = [(r.vertices, pack(r.pattern), r.intercept, r.gradient) for r in part.regions]
    edges = [(a, b) for a, b, _, _ in part.edges]
    return {"regions": regions, "edges": edges, "same": same, "patterns": _pattern_set(part)}


def _pattern_set(part: Partition) -> set:
    """The non-empty patterns of a tile's partition (bytes of packed bits)."""
    src = part._src
    if hasattr(src, "pattern_set"):
        return src.pattern_set()
    # certified float partitions: every non-empty pattern is a region's
    return {pack(r.pattern) for r in part.regions}


def partition_tiled(
    net: Network,
    domain: DomainLike = None,
    *,
    tiles: int | tuple[int, int] = (2, 2),
    executor: Executor | None = None,
    plane: Plane | None = None,
    exact: bool = False,
    progress: bool = False,
    max_regions: int | None = None,
) -> Partition:
    """The partition of ``domain`` computed tile by tile through ``executor`` and stitched
    (see the module docstring); equal to ``partition(net, domain, ...)``. ``max_regions``
    caps every tile and the stitched partition (:class:`~exactnet.regions.RegionLimitError`)."""
    max_regions = check_max_regions(max_regions)
    if plane is None:
        if net.input_dim != 2:
            raise ValueError(f"the network takes {net.input_dim} inputs: pass plane=Plane(...)")
        plane = Plane.identity()
    tile_list = tile_domain(domain, tiles)
    if executor is None:
        results = [_tile_job(net, t, plane, exact, max_regions) for t in tile_list]
    else:
        futures = [executor.submit(_tile_job, net, t, plane, exact, max_regions) for t in tile_list]
        if progress:
            from concurrent.futures import as_completed

            from tqdm.auto import tqdm

            for _ in tqdm(as_completed(futures), total=len(futures), desc="tiles", unit="tile"):
                pass
        results = [f.result() for f in futures]
    stitched = _StitchedSource(net, tile_list, results, exact, plane)
    if max_regions is not None and stitched.num_regions > max_regions:
        raise RegionLimitError(stitched.num_regions, max_regions)
    return Partition(net, plane, parse_domain(domain), stitched)


class _StitchedSource:
    """Partition data stitched from tiles (see the module docstring)."""

    def __init__(self, net: Network, tiles, results, exact: bool, plane: Plane):
        self.net = net
        self.exact = exact
        self.plane = plane
        pieces: dict = {}  # pattern -> list of (tile, local index)
        for t, res in enumerate(results):
            for i, reg in enumerate(res["regions"]):
                pieces.setdefault(reg[1], []).append((t, i))
        self.patterns = sorted(pieces)
        index = {p: k for k, p in enumerate(self.patterns)}
        self.local = {(t, i): index[reg[1]] for t, res in enumerate(results) for i, reg in enumerate(res["regions"])}
        self.results = results
        self.tiles = tiles
        self.pieces = pieces
        self.num_regions = len(self.patterns)

    def region(self, k: int) -> Region2D:
        cache = self.__dict__.setdefault("_regions", {})
        if k not in cache:
            cache[k] = self._region(k)
        return cache[k]

    def _region(self, k: int) -> Region2D:
        pat = self.patterns[k]
        pts = [p for t, i in self.pieces[pat] for p in self.results[t]["regions"][i][0]]
        hull = _convex_hull(pts)
        t, i = self.pieces[pat][0]
        _, _, intercept, gradient = self.results[t]["regions"][i]
        bits = unpack_bytes(pat, self.net.num_neurons)
        n = len(hull)
        centroid = (sum(p[0] for p in hull) / n, sum(p[1] for p in hull) / n)
        return Region2D(k, tuple(hull), bits, intercept, gradient, area2(hull) / 2, centroid)

    @cached_property
    def _edges(self):
        neurons = self.net.neurons
        pairs: dict = {}
        # inside tiles
        for t, res in enumerate(self.results):
            for (a, b), same in zip(res["edges"], res["same"]):
                ka, kb = self.local[(t, a)], self.local[(t, b)]
                if ka != kb:
                    pairs.setdefault((min(ka, kb), max(ka, kb)), same)
        # across tile borders: pieces' edges on a common line, overlapping, in different tiles
        groups: dict = {}
        for t, res in enumerate(self.results):
            for i, reg in enumerate(res["regions"]):
                verts = reg[0]
                m = len(verts)
                for q in range(m):
                    p0, p1 = verts[q], verts[(q + 1) % m]
                    key = _line_key(p0, p1, self.exact)
                    if key is None:
                        continue
                    a, b, _ = key
                    s0, s1 = -b * p0[0] + a * p0[1], -b * p1[0] + a * p1[1]
                    groups.setdefault(key, []).append((min(s0, s1), max(s0, s1), t, i))
        for items in groups.values():
            items.sort()
            # float coordinates: an overlap must exceed rounding (relative 1e-12)
            tol = 0 if self.exact else 1e-12 * (1 + max(abs(x) for it in items for x in it[:2]))
            for k, (s0, s1, t, i) in enumerate(items):
                for s0b, s1b, tb, ib in items[k + 1 :]:
                    if s0b >= s1 - tol:
                        break
                    if tb != t and min(s1, s1b) - max(s0, s0b) > tol:
                        ka, kb = self.local[(t, i)], self.local[(tb, ib)]
                        if ka != kb and (min(ka, kb), max(ka, kb)) not in pairs and self._may_share_a_side(ka, kb):
                            pairs[(min(ka, kb), max(ka, kb))] = self._same_map(t, i, tb, ib)
        out, same = [], []
        for (a, b), flag in sorted(pairs.items()):
            pa = unpack_bytes(self.patterns[a], len(neurons))
            pb = unpack_bytes(self.patterns[b], len(neurons))
            flip = np.flatnonzero(pa != pb)
            out.append((a, b, self._shared_segment(a, b), tuple(neurons[k] for k in flip)))
            same.append(flag)
        return out, same

    @cached_property
    def _exact_maps(self):
        from .plane._exact import ExactMaps

        return ExactMaps(self.net, *self.plane.integers())

    def _bits(self, k: int) -> int:
        """Region k's pattern as the int over ``net.neurons`` that the exact maps take."""
        return int.from_bytes(self.patterns[k], "little")  # pack's bit k is neuron k

    def _may_share_a_side(self, ka: int, kb: int) -> bool:
        """Float coordinates cannot tell nearly coincident lines apart. Two regions share a
        side only if every neuron that flips between them vanishes on it, so all of those
        neurons have one exact line: checked in rationals when more than one flips (one
        flipping neuron is the generic case, and its line is the side's)."""
        if self.exact:
            return True
        n = self.net.num_neurons
        flip = np.flatnonzero(unpack_bytes(self.patterns[ka], n) != unpack_bytes(self.patterns[kb], n))
        if len(flip) <= 1:
            return True
        bits = self._bits(ka)
        first = self._exact_maps.neuron_line(int(flip[0]), bits)
        for j in flip[1:]:
            line = self._exact_maps.neuron_line(int(j), bits)
            # the same line: (a, b, c) proportional
            if any(first[p] * line[q] != first[q] * line[p] for p in range(3) for q in range(p + 1, 3)):
                return False
        return True

    def _same_map(self, t, i, tb, ib) -> bool:
        _, _, ca, ga = self.results[t]["regions"][i]
        _, _, cb, gb = self.results[tb]["regions"][ib]
        if self.exact:
            return tuple(ca) == tuple(cb) and tuple(ga) == tuple(gb)
        scale = 1 + max(abs(x) for x in tuple(ca) + tuple(cb))
        close = all(math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-9 * scale) for x, y in zip(ca, cb)) and all(
            math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-9 * scale) for g, h in zip(ga, gb) for x, y in zip(g, h)
        )
        if not close:
            return False
        # equal within rounding: the same map only if the exact maps are equal (rare: a
        # degenerate network), decided in rationals from the two patterns
        ka, kb = self.local[(t, i)], self.local[(tb, ib)]
        return self._exact_maps.output_map(self._bits(ka)) == self._exact_maps.output_map(self._bits(kb))

    def _shared_segment(self, a, b):
        """The common boundary of regions a and b (hull vertices on both boundaries)."""
        ra, rb = self.region(a), self.region(b)
        on_both = [p for p in ra.vertices if _on_boundary(p, rb.vertices)] + [
            p for p in rb.vertices if _on_boundary(p, ra.vertices)
        ]
        if len(on_both) < 2:
            return (on_both[0], on_both[0]) if on_both else (ra.interior_point, rb.interior_point)
        # the two extreme points of the collinear set
        p0 = on_both[0]
        far = max(on_both, key=lambda p: (p[0] - p0[0]) ** 2 + (p[1] - p0[1]) ** 2)
        other = max(on_both, key=lambda p: (p[0] - far[0]) ** 2 + (p[1] - far[1]) ** 2)
        return (far, other)

    def edges(self):
        return self._edges[0]

    def same_map_edges(self):
        return self._edges[1]

    def num_patterns(self) -> int:
        pats = set()
        for res in self.results:
            pats |= res["patterns"]
        return len(pats)


def _line_key(p0, p1, exact: bool):
    """Canonical line through p0, p1 (exact) or its rounded version (float)."""
    a, b = p0[1] - p1[1], p1[0] - p0[0]
    c = -(a * p0[0] + b * p0[1])
    if a == 0 and b == 0:
        return None
    if exact:
        den = 1
        for q in (a, b, c):
            den = den * q.denominator // math.gcd(den, q.denominator)
        ai, bi, ci = int(a * den), int(b * den), int(c * den)
        g = math.gcd(math.gcd(ai, bi), ci) or 1
        ai, bi, ci = ai // g, bi // g, ci // g
        if ai < 0 or (ai == 0 and bi < 0):
            ai, bi, ci = -ai, -bi, -ci
        return (ai, bi, ci)
    n = math.hypot(a, b)
    a, b, c = a / n, b / n, c / n
    if a < 0 or (a == 0 and b < 0):
        a, b, c = -a, -b, -c
    return (round(a, 9), round(b, 9), round(c, 9))


def _cross(o, a, b):
    return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])


def _convex_hull(points):
    """Convex hull, CCW, without collinear points (Andrew's monotone chain)."""
    pts = sorted(set(points))
    if len(pts) <= 2:
        return pts
    lower, upper = [], []
    for p in pts:
        while len(lower) >= 2 and _cross(lower[-2], lower[-1], p) <= 0:
            lower.pop()
        lower.append(p)
    for p in reversed(pts):
        while len(upper) >= 2 and _cross(upper[-2], upper[-1], p) <= 0:
            upper.pop()
        upper.append(p)
    return lower[:-1] + upper[:-1]


def _on_boundary(p, poly) -> bool:
    n = len(poly)
    for i in range(n):
        a, b = poly[i], poly[(i + 1) % n]
        if (
            _cross(a, b, p) == 0
            and min(a[0], b[0]) <= p[0] <= max(a[0], b[0])
            and min(a[1], b[1]) <= p[1] <= max(a[1], b[1])
        ):
            return True
    return False
