"""Linear regions of a network on a convex polygon (the 2-D engine) and the region graph.

The polygon lies in the input plane of a 2-input network, or in a 2-D affine slice of a
higher-dimensional input space, x(u, v) = origin + u d1 + v d2 (:class:`Plane`), with the
polygon given in (u, v) coordinates. Definitions (regions.md):

* **region**: a maximal set with nonempty interior on which the activation pattern is
  constant (a convex polygon); a neuron identically zero on it does not split it;
* **region graph**: a ``networkx.Graph`` with a node per region and an edge between two
  regions sharing a segment of positive length, labelled with the neurons (layer, unit)
  that flip across it;
* **linear piece**: a connected component of the graph restricted to edges across which
  the affine map of the outputs does not change;
* **non-empty patterns**: the patterns realised by at least one point of the closed
  polygon, including those realised only on an edge or at a vertex.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from functools import cached_property
from typing import Sequence

import numpy as np

from .._rational import format_fraction, to_fraction
from ..net.network import Network
from ._plane_exact import ExactPlaneRegion, exact_plane, line_key, vertex_point, zero_mask_at

__all__ = ["Plane", "Region2D", "Partition", "partition", "parse_domain"]


# --------------------------------------------------------------------------- planes
@dataclass(frozen=True)
class Plane:
    """The affine plane x(u, v) = origin + u d1 + v d2 of input space (rational entries)."""

    origin: tuple
    d1: tuple
    d2: tuple

    def __post_init__(self):
        for name in ("origin", "d1", "d2"):
            vals = tuple(to_fraction(v, f"{name}[{i}]") for i, v in enumerate(getattr(self, name)))
            object.__setattr__(self, name, vals)
        n = len(self.origin)
        if not (len(self.d1) == len(self.d2) == n) or n == 0:
            raise ValueError(f"origin, d1 and d2 must have the same length; got {n}, {len(self.d1)}, {len(self.d2)}")
        # d1, d2 linearly independent: some 2x2 minor is nonzero
        if all(self.d1[i] * self.d2[k] == self.d1[k] * self.d2[i] for i in range(n) for k in range(i + 1, n)) and n > 1:
            raise ValueError("d1 and d2 are parallel (or zero): they must span a plane")
        if n == 1:
            raise ValueError("a plane needs an input space of dimension >= 2")

    @classmethod
    def identity(cls) -> "Plane":
        """The input plane of a 2-input network: u = x_0, v = x_1."""
        return cls((0, 0), (1, 0), (0, 1))

    @classmethod
    def through(cls, a, b, c) -> "Plane":
        """The plane through three inputs: a at (u, v) = (0, 0), b at (1, 0), c at (0, 1)."""
        a = [to_fraction(v, f"a[{i}]") for i, v in enumerate(_flat(a))]
        b = [to_fraction(v, f"b[{i}]") for i, v in enumerate(_flat(b))]
        c = [to_fraction(v, f"c[{i}]") for i, v in enumerate(_flat(c))]
        if not len(a) == len(b) == len(c):
            raise ValueError("the three points must have the same number of coordinates")
        return cls(tuple(a), tuple(x - y for x, y in zip(b, a)), tuple(x - y for x, y in zip(c, a)))

    def point(self, u, v):
        """x(u, v) (exact when u, v are)."""
        return tuple(o + u * a + v * b for o, a, b in zip(self.origin, self.d1, self.d2))

    def integers(self):
        """(P0, P1, P2, S) with x(u, v) = (P0 + P1 u + P2 v) / S, all integers."""
        vals = self.origin + self.d1 + self.d2
        S = 1
        for q in vals:
            S = S * q.denominator // math.gcd(S, q.denominator)
        ints = [int(q * S) for q in vals]
        n = len(self.origin)
        return ints[:n], ints[n : 2 * n], ints[2 * n :], S


def _flat(x):
    if hasattr(x, "detach"):
        x = x.detach().cpu().double().numpy()
    return list(np.asarray(x, dtype=object).reshape(-1))


# --------------------------------------------------------------------------- domains
def parse_domain(domain) -> list[tuple[Fraction, Fraction]]:
    """A convex polygon as CCW exact vertices, from ``None`` ([-1, 1]^2), a box
    ``(u0, u1, v0, v1)``, a sequence of (u, v) vertices, or a shapely Polygon.

    Collinear and repeated vertices are removed; a non-convex or empty polygon raises."""
    if domain is None:
        pts = [(-1, -1), (1, -1), (1, 1), (-1, 1)]
    elif hasattr(domain, "exterior"):  # shapely Polygon
        pts = list(domain.exterior.coords)[:-1]
    else:
        seq = list(domain)
        if len(seq) == 4 and all(np.ndim(v) == 0 for v in seq):
            u0, u1, v0, v1 = seq
            pts = [(u0, v0), (u1, v0), (u1, v1), (u0, v1)]
        else:
            pts = seq
    try:
        verts = [(to_fraction(p[0], "domain vertex"), to_fraction(p[1], "domain vertex")) for p in pts]
    except (TypeError, IndexError) as err:
        raise ValueError("domain must be None, a box (u0, u1, v0, v1), a list of (u, v) vertices or a shapely Polygon") from err
    if any(len(p) != 2 for p in pts):
        raise ValueError("domain vertices must be (u, v) pairs")
    # drop repeats
    dedup = []
    for p in verts:
        if not dedup or p != dedup[-1]:
            dedup.append(p)
    if len(dedup) > 1 and dedup[0] == dedup[-1]:
        dedup.pop()
    area2 = sum(a[0] * b[1] - b[0] * a[1] for a, b in zip(dedup, dedup[1:] + dedup[:1]))
    if area2 == 0:
        raise ValueError("the domain polygon is empty (zero area): give at least three non-collinear vertices")
    if area2 < 0:
        dedup.reverse()
    # drop collinear vertices, then check convexity (all turns left)
    out = []
    n = len(dedup)
    for i in range(n):
        a, b, c = dedup[i - 1], dedup[i], dedup[(i + 1) % n]
        cross = (b[0] - a[0]) * (c[1] - b[1]) - (b[1] - a[1]) * (c[0] - b[0])
        if cross < 0:
            raise ValueError("the domain polygon is not convex; exactnet partitions convex polygons (split yours into convex parts)")
        if cross > 0:
            out.append(b)
    if len(out) < 3:
        raise ValueError("the domain polygon is empty (zero area)")
    return out


def _domain_integers(verts):
    """Homogeneous vertices and integer edge lines of a CCW polygon with rational vertices."""
    hv = []
    for u, v in verts:
        W = u.denominator * v.denominator // math.gcd(u.denominator, v.denominator)
        hv.append((int(u * W), int(v * W), W))
    lines = []
    n = len(verts)
    for i in range(n):
        (x1, y1), (x2, y2) = verts[i], verts[(i + 1) % n]
        a, b, c = y1 - y2, x2 - x1, x1 * y2 - x2 * y1
        D = 1
        for q in (a, b, c):
            D = D * q.denominator // math.gcd(D, q.denominator)
        lines.append((int(a * D), int(b * D), int(c * D)))
    return hv, lines


# --------------------------------------------------------------------------- results
@dataclass(frozen=True)
class Region2D:
    """A region: its polygon (CCW vertices in (u, v)), activation pattern, and the affine
    map of every output, output_k(u, v) = intercept[k] + gradient[k][0] u + gradient[k][1] v."""

    index: int
    vertices: tuple
    pattern: np.ndarray
    intercept: tuple
    gradient: tuple
    area: Fraction | float
    interior_point: tuple

    @property
    def polygon(self):
        """The region as a shapely Polygon (float coordinates)."""
        from shapely.geometry import Polygon

        return Polygon([(float(u), float(v)) for u, v in self.vertices])

    def output(self, u, v):
        return tuple(c + g[0] * u + g[1] * v for c, g in zip(self.intercept, self.gradient))


def _area2(verts) -> Fraction:
    return sum(a[0] * b[1] - b[0] * a[1] for a, b in zip(verts, verts[1:] + verts[:1]))


def _unpack(bits: int, n: int) -> np.ndarray:
    return np.array([(bits >> k) & 1 for k in range(n)], dtype=bool)


class Partition:
    """The exact partition of a convex polygon of a plane by a network (see the module
    docstring). ``regions`` are :class:`Region2D`; ``graph`` a ``networkx.Graph``;
    counts ``num_regions``, ``num_pieces``, ``num_patterns``; ``area`` of the domain."""

    def __init__(self, net: Network, plane: Plane, domain, raw: list[ExactPlaneRegion], *, exact: bool):
        self.network = net
        self.plane = plane
        self.domain = tuple(domain)
        self.exact = exact
        self._raw = raw

    # ---- regions
    @cached_property
    def regions(self) -> tuple[Region2D, ...]:
        n = self.network.num_neurons
        conv = (lambda q: q) if self.exact else float
        out = []
        for i, r in enumerate(self._raw):
            pts = [vertex_point(v) for v in r.vertices]
            Z, DU, DV = r.out
            S = r.out_scale
            centroid = (sum(p[0] for p in pts) / len(pts), sum(p[1] for p in pts) / len(pts))
            out.append(
                Region2D(
                    i,
                    tuple((conv(u), conv(v)) for u, v in pts),
                    _unpack(r.pattern, n),
                    tuple(conv(Fraction(z, S)) for z in Z),
                    tuple((conv(Fraction(a, S)), conv(Fraction(b, S))) for a, b in zip(DU, DV)),
                    conv(_area2(pts) / 2),
                    (conv(centroid[0]), conv(centroid[1])),
                )
            )
        return tuple(out)

    @property
    def num_regions(self) -> int:
        return len(self._raw)

    @cached_property
    def area(self) -> Fraction | float:
        a = _area2(list(self.domain)) / 2
        return a if self.exact else float(a)

    # ---- edges, graph, pieces, patterns
    @cached_property
    def _segments(self):
        """Every polygon edge as (line key, t0, t1, region, edge index) with t along the line."""
        segs = []
        for r, reg in enumerate(self._raw):
            n = len(reg.vertices)
            pts = [vertex_point(v) for v in reg.vertices]
            for i in range(n):
                key = line_key(reg.lines[i])
                a, b, _ = key
                p, q = pts[i], pts[(i + 1) % n]
                tp, tq = -b * p[0] + a * p[1], -b * q[0] + a * q[1]
                segs.append((key, min(tp, tq), max(tp, tq), r, i))
        return segs

    @cached_property
    def edges(self) -> list[tuple[int, int, tuple, tuple]]:
        """Shared edges: (region i, region j, segment endpoints (exact), flipping neurons)."""
        groups: dict = {}
        for key, t0, t1, r, i in self._segments:
            groups.setdefault(key, []).append((t0, t1, r, i))
        pairs: dict = {}
        for key, items in groups.items():
            items.sort()
            # sweep: overlaps of positive length between segments of different regions
            for k, (t0, t1, r, i) in enumerate(items):
                for t0b, t1b, rb, ib in items[k + 1 :]:
                    if t0b >= t1:
                        break
                    if rb != r and min(t1, t1b) > max(t0, t0b):
                        lo, hi = max(t0, t0b), min(t1, t1b)
                        pr = (min(r, rb), max(r, rb))
                        pairs.setdefault(pr, []).append((key, lo, hi))
        neurons = self.network.neurons
        out = []
        for (a, b), spans in sorted(pairs.items()):
            flip = self._raw[a].pattern ^ self._raw[b].pattern
            labels = tuple(neurons[k] for k in range(len(neurons)) if (flip >> k) & 1)
            key, lo, hi = spans[0]
            out.append((a, b, tuple(_point_on(key, t) for t in (lo, hi)), labels))
        return out

    @cached_property
    def graph(self):
        """The region graph (networkx.Graph); node attributes: pattern (bool array),
        vertices, area, interior_point, intercept, gradient; edge attributes: neurons
        (tuple of (layer, unit)), segment (two endpoints), same_map (bool)."""
        import networkx as nx

        G = nx.Graph()
        for reg in self.regions:
            G.add_node(reg.index, pattern=reg.pattern, vertices=reg.vertices, area=reg.area,
                       interior_point=reg.interior_point, intercept=reg.intercept, gradient=reg.gradient)
        for a, b, seg, labels in self.edges:
            seg_out = seg if self.exact else tuple((float(p[0]), float(p[1])) for p in seg)
            G.add_edge(a, b, neurons=labels, segment=seg_out, same_map=self._same_map(a, b))
        return G

    def _same_map(self, a: int, b: int) -> bool:
        ra, rb = self._raw[a], self._raw[b]
        Sa, Sb = ra.out_scale, rb.out_scale
        return all(x * Sb == y * Sa for xs, ys in zip(ra.out, rb.out) for x, y in zip(xs, ys))

    @cached_property
    def pieces(self) -> list[list[int]]:
        """Linear pieces: regions joined across edges where the affine map does not change."""
        parent = list(range(self.num_regions))

        def find(i):
            while parent[i] != i:
                parent[i] = parent[parent[i]]
                i = parent[i]
            return i

        for a, b, _, _ in self.edges:
            if self._same_map(a, b):
                parent[find(a)] = find(b)
        comps: dict = {}
        for i in range(self.num_regions):
            comps.setdefault(find(i), []).append(i)
        return sorted(comps.values())

    @property
    def num_pieces(self) -> int:
        return len(self.pieces)

    @cached_property
    def num_patterns(self) -> int:
        """Patterns realised in the closed polygon: on regions, edges and vertices."""
        net = self.network
        pats = set()
        for reg in self._raw:
            pats.add(reg.pattern)
            zms = [zero_mask_at(reg, v, net) for v in reg.vertices]
            n = len(zms)
            for i in range(n):
                pats.add(reg.pattern & ~zms[i])  # the vertex
                pats.add(reg.pattern & ~(zms[i] & zms[(i + 1) % n]))  # the open edge
        return len(pats)

    def __repr__(self) -> str:
        mode = "exact" if self.exact else "float"
        return f"Partition({mode}, regions={self.num_regions}, pieces={self.num_pieces}, patterns={self.num_patterns})"

    # ---- lookups
    def region_of(self, u, v) -> int | None:
        """Index of a region containing (u, v) in its closure (None outside the domain)."""
        for i, reg in enumerate(self._raw):
            X, Y = to_fraction(u, "u"), to_fraction(v, "v")
            if all(_side(line, X, Y, reg) >= 0 for line in _oriented_lines(reg)):
                return i
        return None

    def to_dict(self) -> dict:
        """JSON-ready summary; exact coordinates as ``"p/q"`` strings."""
        fmt = format_fraction if self.exact else float
        return {
            "mode": "exact" if self.exact else "float",
            "regions": self.num_regions,
            "pieces": self.num_pieces,
            "patterns": self.num_patterns,
            "edges": [[a, b] for a, b, _, _ in self.edges],
            "area": fmt(self.area) if self.exact else float(self.area),
            "domain": [[fmt(u), fmt(v)] for u, v in self.domain],
        }


def _point_on(key, t):
    """The point of line key (a, b, c) at parameter t = -b x + a y."""
    a, b, c = key
    # solve a x + b y = -c, -b x + a y = t
    d = Fraction(a * a + b * b)
    return ((-a * c - b * t) / d, (a * t - b * c) / d)


def _oriented_lines(reg: ExactPlaneRegion):
    """Edge lines oriented so that the region's interior is on the positive side."""
    pts = [vertex_point(v) for v in reg.vertices]
    cx = sum(p[0] for p in pts) / len(pts)
    cy = sum(p[1] for p in pts) / len(pts)
    out = []
    for a, b, c in reg.lines:
        s = a * cx + b * cy + c
        out.append((a, b, c) if s > 0 else (-a, -b, -c))
    return out


def _side(line, X, Y, reg):
    a, b, c = line
    v = a * X + b * Y + c
    return (v > 0) - (v < 0)


# --------------------------------------------------------------------------- API
def partition(
    net: Network,
    domain=None,
    *,
    plane: Plane | None = None,
    exact: bool = True,
    max_regions: int | None = None,
) -> Partition:
    """The linear regions of ``net`` on a convex polygon.

    ``domain``: None ([-1, 1]^2), a box (u0, u1, v0, v1), a list of (u, v) vertices or a
    shapely Polygon, in the coordinates of ``plane`` (default: the input plane of a
    2-input network; for other networks pass ``Plane(origin, d1, d2)`` or
    ``Plane.through(a, b, c)``). ``max_regions`` caps the work with a clear error.
    """
    if not isinstance(net, Network):
        raise TypeError(f"net must be an exactnet.Network, got {type(net).__name__}; lower torch models with exactnet.from_torch")
    if plane is None:
        if net.input_dim != 2:
            raise ValueError(
                f"the network takes {net.input_dim} inputs: pass plane=Plane(origin, d1, d2) or "
                f"Plane.through(a, b, c) to choose a 2-D slice of its input space"
            )
        plane = Plane.identity()
    elif len(plane.origin) != net.input_dim:
        raise ValueError(f"plane has {len(plane.origin)} coordinates but the network takes {net.input_dim} inputs")
    if not exact:
        raise NotImplementedError(
            "the certified float 2-D engine is not built yet (issue 3); pass exact=True"
        )
    verts = parse_domain(domain)
    hv, lines = _domain_integers(verts)
    P0, P1, P2, S = plane.integers()
    raw = exact_plane(net, P0, P1, P2, S, hv, lines, max_regions=max_regions)
    return Partition(net, plane, verts, raw, exact=exact)
