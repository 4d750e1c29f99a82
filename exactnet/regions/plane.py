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

import contextlib
import gc
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import cached_property
from typing import TYPE_CHECKING, Any, TypeAlias

import numpy as np

from ..net.network import Network
from ..net.rational import float_or_inf, format_fraction, real_tensor_to_numpy, to_fraction
from ._common import check_max_regions, warn_beyond_float64
from ._plane_exact import (
    ExactMaps,
    ExactPlaneRegion,
    _cross,
    exact_plane,
    line_key,
    vertex_point,
    zero_mask_at,
)

if TYPE_CHECKING:
    import networkx
    from matplotlib.figure import Figure
    from shapely.geometry import Polygon

    from .line import PointLike
    from .tiling import _StitchedSource

    #: a convex polygon of the plane (see :func:`parse_domain`): None ([-1, 1]^2), a box
    #: (u0, u1, v0, v1), a sequence (or an (n, 2) array) of (u, v) vertices, or a shapely
    #: Polygon; numbers may be Fractions (sympy Rationals and strings like "3/4" too)
    DomainLike: TypeAlias = (
        np.ndarray | Sequence[Fraction | float] | Sequence[Sequence[Fraction | float] | np.ndarray] | Polygon | None
    )

__all__ = ["Plane", "Region2D", "Partition", "partition", "parse_domain"]


# --------------------------------------------------------------------------- planes
_IDENTITY = None


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
    def identity(cls) -> Plane:
        """The input plane of a 2-input network: u = x_0, v = x_1."""
        global _IDENTITY
        if _IDENTITY is None:
            _IDENTITY = cls((0, 0), (1, 0), (0, 1))
        return _IDENTITY

    @property
    def float_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """(origin, directions (n, 2)) in float64, computed once."""
        arrs = self.__dict__.get("_float_arrays")
        if arrs is None:
            arrs = (
                np.array([float(q) for q in self.origin]),
                np.array([[float(a), float(b)] for a, b in zip(self.d1, self.d2)]),
            )
            object.__setattr__(self, "_float_arrays", arrs)
        return arrs

    @classmethod
    def through(cls, a: PointLike, b: PointLike, c: PointLike) -> Plane:
        """The plane through three inputs: a at (u, v) = (0, 0), b at (1, 0), c at (0, 1)."""
        a = [to_fraction(v, f"a[{i}]") for i, v in enumerate(_flat(a, "a"))]
        b = [to_fraction(v, f"b[{i}]") for i, v in enumerate(_flat(b, "b"))]
        c = [to_fraction(v, f"c[{i}]") for i, v in enumerate(_flat(c, "c"))]
        if not len(a) == len(b) == len(c):
            raise ValueError("the three points must have the same number of coordinates")
        return cls(tuple(a), tuple(x - y for x, y in zip(b, a)), tuple(x - y for x, y in zip(c, a)))

    def point(self, u: Fraction | float, v: Fraction | float) -> tuple[Fraction | float, ...]:
        """x(u, v) (exact when u, v are)."""
        return tuple(o + u * a + v * b for o, a, b in zip(self.origin, self.d1, self.d2))

    def integers(self) -> tuple[list[int], list[int], list[int], int]:
        """(P0, P1, P2, S) with x(u, v) = (P0 + P1 u + P2 v) / S, all integers."""
        vals = self.origin + self.d1 + self.d2
        S = 1
        for q in vals:
            S = S * q.denominator // math.gcd(S, q.denominator)
        ints = [int(q * S) for q in vals]
        n = len(self.origin)
        return ints[:n], ints[n : 2 * n], ints[2 * n :], S


def _flat(x, name: str):
    x = real_tensor_to_numpy(x, name)
    return list(np.asarray(x, dtype=object).reshape(-1))


# --------------------------------------------------------------------------- domains
_DEFAULT_DOMAIN: list | None = None


def parse_domain(domain: DomainLike) -> list[tuple[Fraction, Fraction]]:
    """A convex polygon as CCW exact vertices, from ``None`` ([-1, 1]^2), a box
    ``(u0, u1, v0, v1)`` with ``u0 < u1`` and ``v0 < v1`` (a box given as hi, lo is
    refused, not reordered), a sequence of (u, v) vertices in either orientation, or a
    shapely Polygon without holes.

    A vertex equal to the one before it (a closing copy of the first included) and a
    vertex in the middle of a straight edge are dropped. Everything else that is not the
    boundary of a convex polygon traversed once is refused with a ``ValueError``: a
    reflex vertex (non-convex), a spike (the boundary doubles back along a line), and a
    boundary that turns left everywhere but winds around more than once (a pentagram,
    whose every turn is convex but whose edges cross)."""
    global _DEFAULT_DOMAIN
    if domain is None:
        if _DEFAULT_DOMAIN is None:
            _DEFAULT_DOMAIN = parse_domain([(-1, -1), (1, -1), (1, 1), (-1, 1)])
        return list(_DEFAULT_DOMAIN)
    elif hasattr(domain, "exterior"):  # shapely Polygon
        if len(getattr(domain, "interiors", ())):
            raise ValueError(
                "the domain polygon has holes; exactnet partitions convex polygons (split yours into convex parts)"
            )
        pts = list(domain.exterior.coords)[:-1]
    else:
        seq = list(domain)
        if len(seq) == 4 and all(np.ndim(v) == 0 for v in seq):
            u0, u1, v0, v1 = (to_fraction(v, f"domain box {k}") for v, k in zip(seq, ("u0", "u1", "v0", "v1")))
            if not (u0 < u1 and v0 < v1):
                raise ValueError(
                    f"the domain box (u0, u1, v0, v1) = ({format_fraction(u0)}, {format_fraction(u1)}, "
                    f"{format_fraction(v0)}, {format_fraction(v1)}) needs u0 < u1 and v0 < v1 (lower bounds "
                    f"first); boxes given as hi, lo are not reordered"
                )
            pts = [(u0, v0), (u1, v0), (u1, v1), (u0, v1)]
        else:
            pts = seq
    try:
        if any(len(p) != 2 for p in pts):
            raise ValueError("domain vertices must be (u, v) pairs")
        verts = [
            (to_fraction(p[0], f"domain vertex {i}"), to_fraction(p[1], f"domain vertex {i}"))
            for i, p in enumerate(pts)
        ]
    except TypeError as err:
        raise ValueError(
            "domain must be None, a box (u0, u1, v0, v1), a list of (u, v) vertices or a shapely Polygon"
        ) from err
    return _convex_ccw(verts)


def _convex_ccw(verts: list[tuple[Fraction, Fraction]]) -> list[tuple[Fraction, Fraction]]:
    """The vertices of a convex polygon, CCW, without repeated or straight-through
    vertices; refuses any other closed polyline (exact arithmetic throughout).

    A closed polyline is the boundary of a convex polygon traversed once exactly when,
    after dropping consecutive repeats and straight-through vertices, every turn is to
    the same side (left after orienting CCW by the signed area) and the edge directions
    go round exactly once: their total turning is 2 pi. The turning is counted exactly as
    the number of times the direction angle, in [0, 2 pi), decreases from one edge to the
    next (each turn is strictly between 0 and pi, so it wraps past angle 0 at most once)."""
    dedup: list[tuple[Fraction, Fraction]] = []
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
    n = len(dedup)
    out = []
    for i in range(n):
        a, b, c = dedup[i - 1], dedup[i], dedup[(i + 1) % n]
        e1, e2 = (b[0] - a[0], b[1] - a[1]), (c[0] - b[0], c[1] - b[1])
        cross = e1[0] * e2[1] - e1[1] * e2[0]
        if cross < 0:
            raise ValueError(
                "the domain polygon is not convex; exactnet partitions convex polygons (split yours into convex parts)"
            )
        if cross > 0:
            out.append(b)
        elif e1[0] * e2[0] + e1[1] * e2[1] < 0:
            raise ValueError(
                f"the domain polygon doubles back on itself at vertex ({float(b[0]):g}, {float(b[1]):g}) "
                f"(a spike); give the vertices of a convex polygon in order"
            )
    if len(out) < 3:
        raise ValueError("the domain polygon is empty (zero area)")
    m = len(out)
    edges = [(out[(i + 1) % m][0] - out[i][0], out[(i + 1) % m][1] - out[i][1]) for i in range(m)]
    windings = sum(_angle_before(edges[(i + 1) % m], edges[i]) for i in range(m))
    if windings != 1:
        raise ValueError(
            f"the domain polygon's boundary winds around {windings} times (its edges cross, like a pentagram's), "
            f"so it is not a convex polygon; give the vertices of a convex polygon in order around it"
        )
    return out


def _angle_before(e, f) -> bool:
    """Whether the direction angle of ``e`` in [0, 2 pi) is smaller than that of ``f``
    (exact, for nonzero non-parallel vectors)."""
    half_e = e[1] < 0 or (e[1] == 0 and e[0] < 0)  # angle in [pi, 2 pi)
    half_f = f[1] < 0 or (f[1] == 0 and f[0] < 0)
    if half_e != half_f:
        return not half_e
    return e[0] * f[1] - e[1] * f[0] > 0  # f is counter-clockwise from e by less than pi


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
    def polygon(self) -> Polygon:
        """The region as a shapely Polygon (float coordinates)."""
        from shapely.geometry import Polygon

        return Polygon([(float(u), float(v)) for u, v in self.vertices])

    def output(self, u: Fraction | float, v: Fraction | float) -> tuple[Fraction | float, ...]:
        return tuple(c + g[0] * u + g[1] * v for c, g in zip(self.intercept, self.gradient))


def _area2(verts) -> Fraction:
    return sum(a[0] * b[1] - b[0] * a[1] for a, b in zip(verts, verts[1:] + verts[:1]))


def _unpack(bits: int, n: int) -> np.ndarray:
    return np.array([(bits >> k) & 1 for k in range(n)], dtype=bool)


class Partition:
    """The partition of a convex polygon of a plane by a network (see the module
    docstring): ``regions`` (:class:`Region2D`), ``graph`` (a ``networkx.Graph``), counts
    ``num_regions``, ``num_pieces``, ``num_patterns``, the domain's ``area``.

    Exact partitions hold Fractions; float ones (the certified kernel) hold floats and
    the same regions, patterns, graph and counts."""

    def __init__(
        self,
        net: Network,
        plane: Plane,
        domain: Sequence[tuple[Fraction, Fraction]],
        source: _ExactSource | _FloatSource | _StitchedSource,
        rebuild: Callable[[], _ExactSource] | None = None,
    ):
        self.network = net
        self.plane = plane
        self.domain = tuple(domain)
        self.exact = source.exact
        self._src = source
        self._rebuild = rebuild  # recomputes the source exactly if a float decision fails

    def _same_map_edges(self):
        try:
            return self._src.same_map_edges()
        except _NeedsExact:
            # an edge whose map change the float bound cannot certify: decide everything
            # exactly (same regions; the exact source numbers its regions its own way)
            self._src = self._rebuild()
            for name in ("regions", "edges"):
                self.__dict__.pop(name, None)
            return self._src.same_map_edges()

    @property
    def num_regions(self) -> int:
        return self._src.num_regions

    @cached_property
    def regions(self) -> tuple[Region2D, ...]:
        with _gc_paused():
            if hasattr(self._src, "all_regions"):
                return self._src.all_regions()
            return tuple(self._src.region(i) for i in range(self.num_regions))

    @cached_property
    def area(self) -> Fraction | float:
        a = _area2(list(self.domain)) / 2
        return a if self.exact else float(a)

    @cached_property
    def edges(self) -> list[tuple[int, int, tuple, tuple]]:
        """Shared edges: (region i, region j, segment endpoints, flipping neurons (layer, unit))."""
        with _gc_paused():
            return self._src.edges()

    @cached_property
    def pieces(self) -> list[list[int]]:
        """Linear pieces: regions joined across edges where the affine map does not change."""
        parent = list(range(self.num_regions))

        def find(i):
            while parent[i] != i:
                parent[i] = parent[parent[i]]
                i = parent[i]
            return i

        same_flags = self._same_map_edges()
        for (a, b, _, _), same in zip(self.edges, same_flags):
            if same:
                parent[find(a)] = find(b)
        comps: dict = {}
        for i in range(self.num_regions):
            comps.setdefault(find(i), []).append(i)
        return sorted(comps.values())

    @cached_property
    def num_pieces(self) -> int:
        if hasattr(self._src, "num_pieces"):
            try:
                return self._src.num_pieces()
            except _NeedsExact:
                self._same_map_edges()
        return len(self.pieces)

    @cached_property
    def num_patterns(self) -> int:
        """Patterns realised in the closed polygon: on regions, edges and vertices."""
        return self._src.num_patterns()

    @cached_property
    def graph(self) -> networkx.Graph:
        """The region graph (networkx.Graph); node attributes: pattern (bool array),
        vertices, area, interior_point, intercept, gradient; edge attributes: neurons
        (tuple of (layer, unit)), segment (two endpoints), same_map (bool)."""
        import networkx as nx

        regions, edges, same_flags = self.regions, self.edges, self._same_map_edges()
        with _gc_paused():
            return _build_graph(nx, regions, edges, same_flags)

    def __repr__(self) -> str:
        mode = "exact" if self.exact else "float"
        return f"Partition({mode}, regions={self.num_regions}, pieces={self.num_pieces}, patterns={self.num_patterns})"

    @cached_property
    def decision_boundary(self) -> list[tuple[tuple, tuple, tuple[int, int]]]:
        """The decision boundary as segments ``(p, q, (i, j))`` inside regions.

        A single output: its zero level set, labelled (0, 0); a region where the output is
        identically zero is listed in :attr:`zero_regions` instead. Several outputs (a
        classifier): the points where classes i < j tie for the maximum,
        {out_i = out_j >= out_k for all k}. Within a region the outputs are affine, so
        each piece is a segment: the line out_i = out_j clipped to the region's polygon
        and to the half-planes out_i >= out_k (exact in exact mode). A segment lying on a
        shared edge is listed once.
        """
        segments, seen = [], set()
        zero = []
        n_out = self.network.output_dim
        for reg in self.regions:
            c, g = reg.intercept, reg.gradient
            pairs = [(0, 0)] if n_out == 1 else [(i, j) for i in range(n_out) for j in range(i + 1, n_out)]
            for i, j in pairs:
                if n_out == 1:
                    line = (g[0][0], g[0][1], c[0])
                else:
                    line = (g[i][0] - g[j][0], g[i][1] - g[j][1], c[i] - c[j])
                if line[0] == 0 and line[1] == 0:
                    if line[2] == 0 and n_out == 1:
                        zero.append(reg.index)
                    continue  # a tie everywhere or nowhere in the region: no line
                halves = [
                    (g[i][0] - g[k][0], g[i][1] - g[k][1], c[i] - c[k])
                    for k in range(n_out)
                    if n_out > 1 and k not in (i, j)
                ]
                seg = _clip_line(line, reg.vertices, halves)
                if seg is None:
                    continue
                key = (tuple(sorted(_round_key(p, self.exact) for p in seg)), (i, j))
                if key not in seen:
                    seen.add(key)
                    segments.append((seg[0], seg[1], (i, j)))
        self.__dict__["zero_regions"] = zero
        return segments

    @cached_property
    def class_cells(self) -> list[tuple[int, int, tuple]]:
        """The decision's cells: ``(region, class, polygon vertices)``, each region cut by
        the half-planes out_class >= out_k (a classifier) or out >= 0 / out <= 0 (class 1 /
        0 for a single output). Exact in exact mode; they tile the domain."""
        cells = []
        n_out = self.network.output_dim
        for reg in self.regions:
            c, g = reg.intercept, reg.gradient
            if n_out == 1:
                options = [(1, [(g[0][0], g[0][1], c[0])]), (0, [(-g[0][0], -g[0][1], -c[0])])]
            else:
                options = [
                    (i, [(g[i][0] - g[k][0], g[i][1] - g[k][1], c[i] - c[k]) for k in range(n_out) if k != i])
                    for i in range(n_out)
                ]
            for cls, halves in options:
                poly = list(reg.vertices)
                for h in halves:
                    poly = _clip_polygon(poly, h)
                    if not poly:
                        break
                if poly and _area2(poly) != 0:
                    cells.append((reg.index, cls, tuple(poly)))
        return cells

    @property
    def zero_regions(self) -> list[int]:
        """Regions on which a single output is identically zero (see decision_boundary)."""
        if "zero_regions" not in self.__dict__:
            _ = self.decision_boundary  # computes the zero regions with it
        return self.__dict__["zero_regions"]

    # ---- pictures and exports
    def plot(self, **kwargs: Any) -> Figure:
        """Draw the partition (see :func:`exactnet.plot.plot_partition`)."""
        from ..plot import plot_partition

        return plot_partition(self, **kwargs)

    def to_geojson(self) -> dict:
        """The regions as a GeoJSON FeatureCollection of polygons (float coordinates),
        with properties index, pattern (a string of 0/1), area, piece, intercept, gradient."""
        piece_of = {r: k for k, comp in enumerate(self.pieces) for r in comp}
        features = []
        for r in self.regions:
            ring = [[float(u), float(v)] for u, v in r.vertices]
            features.append(
                {
                    "type": "Feature",
                    "geometry": {"type": "Polygon", "coordinates": [ring + ring[:1]]},
                    "properties": {
                        "index": r.index,
                        "pattern": "".join("1" if b else "0" for b in r.pattern),
                        "area": float(r.area),
                        "piece": piece_of[r.index],
                        "intercept": [float(x) for x in r.intercept],
                        "gradient": [[float(a), float(b)] for a, b in r.gradient],
                    },
                }
            )
        return {"type": "FeatureCollection", "features": features}

    def write_geojson(self, path: str | os.PathLike[str]) -> None:
        import json

        with open(path, "w") as fh:
            json.dump(self.to_geojson(), fh)

    def write_graphml(self, path: str | os.PathLike[str]) -> None:
        """Write the region graph as GraphML (attributes as strings and numbers:
        pattern "0110...", polygon as WKT, neurons as "layer:unit;...")."""
        import networkx as nx

        G = nx.Graph()
        for r in self.regions:
            G.add_node(
                r.index,
                pattern="".join("1" if b else "0" for b in r.pattern),
                area=float(r.area),
                polygon=r.polygon.wkt,
                interior_u=float(r.interior_point[0]),
                interior_v=float(r.interior_point[1]),
                intercept=" ".join(repr(float(x)) for x in r.intercept),
            )
        for (a, b, seg, labels), same in zip(self.edges, self._same_map_edges()):
            G.add_edge(
                a,
                b,
                neurons=";".join(f"{l}:{k}" for l, k in labels),
                same_map=bool(same),
                segment=f"LINESTRING ({float(seg[0][0])} {float(seg[0][1])}, {float(seg[1][0])} {float(seg[1][1])})",
            )
        nx.write_graphml(G, path)

    def to_dict(self) -> dict:
        """JSON-ready summary; exact coordinates as ``"p/q"`` strings."""
        fmt: Callable[[Any], Any] = format_fraction if self.exact else float
        return {
            "mode": "exact" if self.exact else "float",
            "regions": self.num_regions,
            "pieces": self.num_pieces,
            "patterns": self.num_patterns,
            "edges": [[a, b] for a, b, _, _ in self.edges],
            "area": fmt(self.area),
            "domain": [[fmt(u), fmt(v)] for u, v in self.domain],
        }


class _ExactSource:
    """Partition data from the exact engine's regions (as floats when ``exact=False``:
    the float mode's answer for a degenerate arrangement, decided exactly)."""

    def __init__(self, net: Network, raw: list[ExactPlaneRegion], exact: bool = True):
        self.net = net
        self.raw = raw
        self.exact = exact
        self.num_regions = len(raw)

    def region(self, i: int) -> Region2D:
        r = self.raw[i]
        pts = [vertex_point(v) for v in r.vertices]
        Z, DU, DV = r.out
        S = r.out_scale
        centroid = (sum(p[0] for p in pts) / len(pts), sum(p[1] for p in pts) / len(pts))
        reg = Region2D(
            i,
            tuple(pts),
            _unpack(r.pattern, self.net.num_neurons),
            tuple(Fraction(z, S) for z in Z),
            tuple((Fraction(a, S), Fraction(b, S)) for a, b in zip(DU, DV)),
            _area2(pts) / 2,
            centroid,
        )
        if self.exact:
            return reg
        reg = _float_region(reg)
        if not all(map(math.isfinite, reg.intercept + sum(reg.gradient, ()))):
            warn_beyond_float64("output maps", stacklevel=5)
        return reg

    def edges(self):
        if not hasattr(self, "_edges"):
            self._edges = self._compute_edges()
        return self._edges

    def _compute_edges(self):
        groups: dict = {}
        for r, reg in enumerate(self.raw):
            pts = [vertex_point(v) for v in reg.vertices]
            n = len(pts)
            for i in range(n):
                key = line_key(reg.lines[i])
                a, b, _ = key
                p, q = pts[i], pts[(i + 1) % n]
                tp, tq = -b * p[0] + a * p[1], -b * q[0] + a * q[1]
                groups.setdefault(key, []).append((min(tp, tq), max(tp, tq), r))
        pairs: dict = {}
        for key, items in groups.items():
            items.sort()
            # sweep: overlaps of positive length between segments of different regions
            for k, (t0, t1, r) in enumerate(items):
                for t0b, t1b, rb in items[k + 1 :]:
                    if t0b >= t1:
                        break
                    if rb != r and min(t1, t1b) > max(t0, t0b):
                        pairs.setdefault((min(r, rb), max(r, rb)), (key, max(t0, t0b), min(t1, t1b)))
        neurons = self.net.neurons
        out = []
        for (a, b), (key, lo, hi) in sorted(pairs.items()):
            flip = self.raw[a].pattern ^ self.raw[b].pattern
            labels = tuple(neurons[k] for k in range(len(neurons)) if (flip >> k) & 1)
            seg = (_point_on(key, lo), _point_on(key, hi))
            if not self.exact:
                seg = tuple((float(p[0]), float(p[1])) for p in seg)
            out.append((a, b, seg, labels))
        return out

    def same_map_edges(self):
        if not hasattr(self, "_same"):
            self._same = [self._same_map(a, b) for a, b, _, _ in self.edges()]
        return self._same

    def _same_map(self, a: int, b: int) -> bool:
        ra, rb = self.raw[a], self.raw[b]
        Sa, Sb = ra.out_scale, rb.out_scale
        return all(x * Sb == y * Sa for xs, ys in zip(ra.out, rb.out) for x, y in zip(xs, ys))

    def _pattern_ints(self) -> set:
        if not hasattr(self, "_pats"):
            pats = set()
            for reg in self.raw:
                pats.add(reg.pattern)
                zms = reg.zero_masks or [zero_mask_at(reg, v, self.net) for v in reg.vertices]
                n = len(zms)
                for i in range(n):
                    pats.add(reg.pattern & ~zms[i])  # the vertex
                    pats.add(reg.pattern & ~(zms[i] & zms[(i + 1) % n]))  # the open edge
            self._pats = pats
        return self._pats

    def num_patterns(self) -> int:
        if hasattr(self.raw, "num_patterns"):  # the compiled engine's pooled result
            return self.raw.num_patterns()
        return len(self._pattern_ints())

    def pattern_set(self) -> set:
        """The non-empty patterns as bytes of packed bits (little bit order)."""
        n = self.net.num_neurons
        return {np.packbits(_unpack(p, n), bitorder="little").tobytes() for p in self._pattern_ints()}


class _NeedsExact(Exception):
    """A piece decision the float bound cannot certify: the caller recomputes exactly."""


class _FloatSource:
    """Partition data from the certified float kernel (no degenerate decision was made:
    every edge flips exactly one neuron, and patterns equal regions)."""

    exact = False

    def __init__(self, net: Network, fp, plane: Plane, exact_maps):
        from ._plane_float import _extract

        self.net = net
        self.fp = fp
        self.plane_float = plane.float_arrays  # (origin, directions) in float64
        self._exact_maps = exact_maps  # () -> ExactMaps of the plane, built on first use
        c = fp.counts
        self.offsets, self.verts, self.areas, E = _extract(
            c, fp.vx, fp.he_org, fp.he_next, fp.he_twin, fp.he_face, fp.f_he
        )
        self.edge_pairs = E
        self.num_regions = int(c[2])
        self.pat_words = fp.f_pat[: c[2]]

    @cached_property
    def same(self) -> np.ndarray:
        """Certified same-map flag per edge (computed on first use: pieces are derived)."""
        same = _certified_same_maps(self.net, self.fp, self.edge_pairs)
        if same is None:
            raise _NeedsExact
        return same

    @cached_property
    def _maps(self):
        from ._plane_float import _face_maps

        icp, grad, bad = _face_maps(self.offsets, self.verts, self.fp.vx, self.fp.out_values)
        with np.errstate(over="ignore", invalid="ignore"):  # overflows are caught below
            for f in np.flatnonzero(bad):  # faces too thin for three float vertices
                icp[f], grad[f] = _chain_map(self.net, self.plane_float, self.pat_words[f])
        n = self.num_regions
        overflowed = ~(np.isfinite(icp[:n]).all(axis=1) & np.isfinite(grad[:n]).all(axis=(1, 2)))
        if overflowed.any():
            # a value beyond float64's range on the way: the exact map, rounded (+-inf where
            # the map itself is beyond float64's range)
            maps = self._exact_maps()
            for f in np.flatnonzero(overflowed):
                c, g = maps.output_map(_bits(self.pat_words[f]))
                icp[f] = [float_or_inf(q) for q in c]
                grad[f] = [[float_or_inf(a), float_or_inf(b)] for a, b in g]
            if not (np.isfinite(icp[:n]).all() and np.isfinite(grad[:n]).all()):
                warn_beyond_float64("output maps", stacklevel=5)
        return icp, grad

    def region(self, i: int) -> Region2D:
        vs = self.verts[self.offsets[i] : self.offsets[i + 1]]
        pts = tuple((float(self.fp.vx[v, 0]), float(self.fp.vx[v, 1])) for v in vs)
        icp, grad = self._maps
        words = self.pat_words[i].astype("<u8").view(np.uint8)
        pattern = np.unpackbits(words, bitorder="little")[: self.net.num_neurons].astype(bool)
        centroid = (sum(p[0] for p in pts) / len(pts), sum(p[1] for p in pts) / len(pts))
        return Region2D(
            i, pts, pattern, tuple(icp[i].tolist()), tuple(map(tuple, grad[i].tolist())), float(self.areas[i]), centroid
        )

    def all_regions(self) -> tuple[Region2D, ...]:
        """Every region, built with array operations (the same values as :meth:`region`)."""
        n = self.num_regions
        icp, grad = self._maps
        xy = self.fp.vx[self.verts, :2]
        pts = list(map(tuple, xy.tolist()))
        counts = np.diff(self.offsets)
        centroids = (np.add.reduceat(xy, self.offsets[:-1], axis=0) / counts[:, None]).tolist() if n else []
        words = np.ascontiguousarray(self.pat_words[:n]).astype("<u8").view(np.uint8).reshape(n, -1)
        patterns = np.unpackbits(words, axis=1, bitorder="little")[:, : self.net.num_neurons].astype(bool)
        icps, grads, areas = icp[:n].tolist(), grad[:n].tolist(), self.areas[:n].tolist()
        offs = self.offsets.tolist()
        return tuple(
            Region2D(
                i,
                tuple(pts[offs[i] : offs[i + 1]]),
                patterns[i],
                tuple(icps[i]),
                tuple(map(tuple, grads[i])),
                areas[i],
                tuple(centroids[i]),
            )
            for i in range(n)
        )

    def edges(self):
        fp = self.fp
        neurons = self.net.neurons
        if not len(self.edge_pairs):
            return []
        E = self.edge_pairs
        h = E[:, 2]
        p, q = fp.he_org[h], fp.he_org[fp.he_next[h]]
        P = list(map(tuple, fp.vx[p, :2].tolist()))
        Q = list(map(tuple, fp.vx[q, :2].tolist()))
        labels = [(neurons[k],) for k in fp.he_label[h].tolist()]
        return list(zip(E[:, 0].tolist(), E[:, 1].tolist(), zip(P, Q), labels))

    def same_map_edges(self):
        return self.same.tolist()

    def num_pieces(self) -> int:
        from ._plane_float import _count_components

        return int(_count_components(self.num_regions, self.edge_pairs, self.same))

    def num_patterns(self) -> int:
        return self.num_regions


def _build_graph(nx, regions, edges, same_flags):
    G = nx.Graph()
    G.add_nodes_from(
        (
            r.index,
            dict(
                pattern=r.pattern,
                vertices=r.vertices,
                area=r.area,
                interior_point=r.interior_point,
                intercept=r.intercept,
                gradient=r.gradient,
            ),
        )
        for r in regions
    )
    G.add_edges_from(
        (a, b, dict(neurons=labels, segment=seg, same_map=same)) for (a, b, seg, labels), same in zip(edges, same_flags)
    )
    return G


@contextlib.contextmanager
def _gc_paused():
    """Pause the cyclic garbage collector while millions of small acyclic objects (tuples,
    dicts of a large partition) are built: its generational passes would otherwise
    rescan them all, several times over."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _round_key(p, exact: bool):
    return p if exact else (round(float(p[0]), 12), round(float(p[1]), 12))


def _clip_line(line, vertices, halves):
    """The segment of the line a u + b v + c = 0 inside the convex polygon (CCW vertices)
    and the half-planes a' u + b' v + c' >= 0, or None if it has no positive length.
    Exact with Fractions, float with floats."""
    a, b, c = line
    # parametrise the line: a point p0 and the direction d = (-b, a)
    if a != 0:
        p0 = (-c / a, 0 * c)
    else:
        p0 = (0 * c, -c / b)
    d = (-b, a)
    lo, hi = None, None  # interval of the parameter s, p = p0 + s d
    n = len(vertices)
    constraints = []
    for k in range(n):  # inside: left of every edge (CCW)
        (x1, y1), (x2, y2) = vertices[k], vertices[(k + 1) % n]
        ea, eb = -(y2 - y1), x2 - x1
        constraints.append((ea, eb, -(ea * x1 + eb * y1)))
    constraints.extend(halves)
    for ea, eb, ec in constraints:
        # ea (p0 + s d)_u + eb (p0 + s d)_v + ec >= 0  <=>  alpha s + beta >= 0
        alpha = ea * d[0] + eb * d[1]
        beta = ea * p0[0] + eb * p0[1] + ec
        if alpha == 0:
            if beta < 0:
                return None
            continue
        s = -beta / alpha
        if alpha > 0:
            lo = s if lo is None or s > lo else lo
        else:
            hi = s if hi is None or s < hi else hi
    if lo is None or hi is None or not hi > lo:
        return None
    return ((p0[0] + lo * d[0], p0[1] + lo * d[1]), (p0[0] + hi * d[0], p0[1] + hi * d[1]))


def _clip_polygon(poly, half):
    """The part of a convex polygon (CCW vertices) where a u + b v + c >= 0."""
    a, b, c = half
    out = []
    n = len(poly)
    vals = [a * p[0] + b * p[1] + c for p in poly]
    for i in range(n):
        p, q = poly[i], poly[(i + 1) % n]
        vp, vq = vals[i], vals[(i + 1) % n]
        if vp >= 0:
            out.append(p)
        if (vp > 0 and vq < 0) or (vp < 0 and vq > 0):
            t = vp / (vp - vq)
            out.append((p[0] + t * (q[0] - p[0]), p[1] + t * (q[1] - p[1])))
    return out if len(out) >= 3 else []


def _float_region(r: Region2D) -> Region2D:
    f = float_or_inf  # output maps beyond float64's range become +-inf
    return Region2D(
        r.index,
        tuple((f(u), f(v)) for u, v in r.vertices),
        r.pattern,
        tuple(map(f, r.intercept)),
        tuple((f(a), f(b)) for a, b in r.gradient),
        f(r.area),
        tuple(map(f, r.interior_point)),
    )


def _point_on(key, t):
    """The point of line key (a, b, c) at parameter t = -b x + a y."""
    a, b, c = key
    # solve a x + b y = -c, -b x + a y = t
    d = Fraction(a * a + b * b)
    return ((-a * c - b * t) / d, (a * t - b * c) / d)


# --------------------------------------------------------------------------- API
#: from this many neurons on, exact partitions use the compiled big-integer engine; smaller
#: ones use the Python engine, which needs no compilation (the compiled engine's first use
#: compiles for about a minute). Measured warm, best of 3, Python / compiled: 2-16-16-1
#: 0.065 / 0.068 s, 2-32-32-1 0.23 / 0.17 s, 2-16x4-1 0.22 / 0.15 s, 2-48-48-1 0.84 /
#: 0.52 s, 2-24x4-1 0.35 / 0.16 s, 2-16x8-1 0.57 / 0.18 s: below 96 neurons the compiled
#: engine saves under a tenth of a second.
COMPILED_EXACT_MIN_NEURONS = 96


def partition(
    net: Network,
    domain: DomainLike = None,
    *,
    plane: Plane | None = None,
    exact: bool = False,
    max_regions: int | None = None,
) -> Partition:
    """The linear regions of ``net`` on a convex polygon, with the region graph.

    ``domain``: None ([-1, 1]^2), a box (u0, u1, v0, v1), a list of (u, v) vertices or a
    shapely Polygon, in the coordinates of ``plane`` (default: the input plane of a
    2-input network; for other networks pass ``Plane(origin, d1, d2)`` or
    ``Plane.through(a, b, c)``). ``exact=True``: integer arithmetic, Fractions out.
    Default: the certified float kernel, the same regions, graph and counts, floats out;
    a degenerate arrangement (a neuron exactly through a vertex, along an edge, or
    several through one point) is decided exactly. ``max_regions`` (a positive integer,
    or None for no cap) caps the work: a partition with more regions raises
    ``RuntimeError``.
    """
    if not isinstance(net, Network):
        raise TypeError(
            f"net must be an exactnet.Network, got {type(net).__name__}; lower torch models with exactnet.from_torch"
        )
    max_regions = check_max_regions(max_regions)
    if plane is None:
        if net.input_dim != 2:
            raise ValueError(
                f"the network takes {net.input_dim} inputs: pass plane=Plane(origin, d1, d2) or "
                f"Plane.through(a, b, c) to choose a 2-D slice of its input space"
            )
        plane = Plane.identity()
    elif len(plane.origin) != net.input_dim:
        raise ValueError(f"plane has {len(plane.origin)} coordinates but the network takes {net.input_dim} inputs")
    verts = parse_domain(domain)

    def exact_source():
        hv, lines = _domain_integers(verts)
        raw = None
        if net.num_neurons >= COMPILED_EXACT_MIN_NEURONS and max_regions is None:
            from ._plane_exact_kernel import run_plane_exact

            raw = run_plane_exact(net, *plane.integers(), hv, lines)
        if raw is None:
            raw = exact_plane(net, *plane.integers(), hv, lines, max_regions=max_regions)
        return _ExactSource(net, raw, exact=exact)

    if not exact:
        src = _float_source(net, plane, verts, max_regions)
        if src is not None:
            return Partition(net, plane, verts, src, rebuild=exact_source)
    return Partition(net, plane, verts, exact_source())


def _bits(words) -> int:
    return sum(int(w) << (64 * i) for i, w in enumerate(words))


def _float_source(net, plane, verts, max_regions):
    """The certified float partition, or None when an exact zero (a degenerate
    arrangement) or a hidden value beyond the kernel's safe range (overflow) calls for
    the exact engine."""
    from ._plane_float import run_plane

    n_dom = len(verts)
    state = {"zero": False}
    exact_data = {}

    def exact():  # built only if some sign needs an exact decision
        if not exact_data:
            exact_data["hv"], exact_data["lines"] = _domain_integers(verts)
            exact_data["maps"] = ExactMaps(net, *plane.integers())
        return exact_data["hv"], exact_data["lines"], exact_data["maps"]

    def vertex_exact(fp, v):
        hv, lines, maps = exact()
        if v < n_dom:
            return hv[v]
        edge_label, edge_face, cut_label, cut_face = (int(x) for x in fp.v_info[v])
        if edge_label < 0:
            L1 = lines[-edge_label - 1]
        else:
            L1 = maps.neuron_line(edge_label, _bits(fp.f_pat[edge_face]))
        L2 = maps.neuron_line(cut_label, _bits(fp.f_pat[cut_face]))
        return _cross(L1, L2)

    def decide(fp, layer, unit, bit, v):
        maps = exact()[2]
        X = vertex_exact(fp, v)
        face = int(fp.he_face[fp.v_he[v]])
        sign = maps.sign_at(layer, unit, _bits(fp.f_pat[face]), X)
        if sign == 0:
            state["zero"] = True
        return sign

    uv = np.array([[float(u), float(v)] for u, v in verts])
    origin, directions = plane.float_arrays
    with np.errstate(over="ignore", invalid="ignore"):  # overflows end the float kernel: checked below
        fp = run_plane(net, uv, origin, directions, decide, max_faces=max_regions)
    if state["zero"] or fp.exact_zero or fp.overflow:
        return None
    return _FloatSource(net, fp, plane, lambda: exact()[2])


def _chain_map(net: Network, plane_float, words):
    """Float affine map (intercept (n_out,), gradient (n_out, 2)) of the outputs on the
    region with the given pattern words, by composing the layers."""
    origin, directions = plane_float
    pattern = np.unpackbits(words.astype("<u8").view(np.uint8), bitorder="little")
    c, J = origin.copy(), directions.copy()
    bit = 0
    for layer in net.layers:
        c = layer.weight @ c + layer.bias
        J = layer.weight @ J
        if not layer.is_linear:
            s = layer.negative_slope.copy()
            k = int(layer.is_neuron.sum())
            s[layer.is_neuron] = np.where(pattern[bit : bit + k], 1.0, layer.negative_slope[layer.is_neuron])
            bit += k
            c, J = c * s, J * s[:, None]
    return c, J


class _NetArrays:
    """The network flattened for the 2-D float kernels (cached on the network)."""

    def __init__(self, net: Network):
        from ._plane_float import U

        layers = net.layers
        self.layer_rows = np.array([l.out_features for l in layers], np.int64)
        self.layer_cols = np.array([l.in_features for l in layers], np.int64)
        self.w_off = np.concatenate([[0], np.cumsum([l.weight.size for l in layers])[:-1]]).astype(np.int64)
        self.weights = np.concatenate([l.weight.reshape(-1) for l in layers])
        self.slopes = np.concatenate([l.negative_slope for l in layers])
        self.s_off = np.concatenate([[0], np.cumsum(self.layer_rows)[:-1]]).astype(np.int64)
        nbit, bit = [], 0
        for l in layers:
            idx = np.full(l.out_features, -1, np.int64)
            k = int(l.is_neuron.sum())
            idx[l.is_neuron] = np.arange(bit, bit + k)
            bit += k
            nbit.append(idx)
        self.nbit = np.concatenate(nbit)  # bit of every unit (layer-major), -1 for linear units
        neurons = np.array(net.neurons, dtype=np.int64).reshape(-1, 2)
        self.bit_layer = neurons[:, 0].copy() if len(neurons) else np.zeros(0, np.int64)
        self.bit_unit = neurons[:, 1].copy() if len(neurons) else np.zeros(0, np.int64)
        # per layer m: the rounding of applying slopes and W_{m+1} (gamma_{n+1} + 4u)
        n = self.layer_rows.astype(float)
        self.gammas = (n + 1) * U / (1 - (n + 1) * U) + 4 * U


def _certified_same_maps(net: Network, fp, edge_pairs: np.ndarray):
    """For every edge (one flipping neuron), whether the outputs' affine map is the same
    on both sides (see ``_plane_float._same_maps``); None when not certified."""
    from ._plane_float import _same_maps

    if len(edge_pairs) == 0:
        return np.zeros(0, dtype=bool)
    A = net.__dict__.get("_exactnet_plane_arrays")
    if A is None:
        A = net.__dict__["_exactnet_plane_arrays"] = _NetArrays(net)
    edge_bit = fp.he_label[edge_pairs[:, 2]]
    same, ok = _same_maps(
        np.ascontiguousarray(edge_pairs[:, 0]),
        edge_bit,
        A.bit_layer,
        A.bit_unit,
        fp.f_pat,
        A.layer_rows,
        A.layer_cols,
        A.w_off,
        A.weights,
        A.slopes,
        A.s_off,
        A.nbit,
        A.gammas,
    )
    return same if ok else None
