"""The result of a 2-D partition: :class:`Partition`, with its regions
(:class:`~.region.Region2D`), counts, region graph, linear pieces, decision boundary,
class cells, pictures and exports. The definitions are those of
:mod:`exactnet.regions.plane` (docs/definitions.md, "Linear regions")."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from fractions import Fraction
from functools import cached_property
from typing import TYPE_CHECKING, Any

from ...net.network import Network
from ...net.rational import format_fraction
from .._common import build_graph, gc_paused
from .domain import Plane
from .region import Region2D, area2, clip_line, clip_polygon
from .sources import _ExactSource, _FloatSource, _NeedsExact

if TYPE_CHECKING:
    import networkx
    from matplotlib.figure import Figure

    from ..tiling import _StitchedSource


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
        with gc_paused():
            if hasattr(self._src, "all_regions"):
                return self._src.all_regions()
            return tuple(self._src.region(i) for i in range(self.num_regions))

    @cached_property
    def area(self) -> Fraction | float:
        a = area2(list(self.domain)) / 2
        return a if self.exact else float(a)

    @cached_property
    def edges(self) -> list[tuple[int, int, tuple, tuple]]:
        """Shared edges: (region i, region j, segment endpoints, flipping neurons (layer, unit))."""
        with gc_paused():
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
        regions, edges, same_flags = self.regions, self.edges, self._same_map_edges()
        return _build_graph(regions, edges, same_flags)

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
                seg = clip_line(line, reg.vertices, halves)
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
                    poly = clip_polygon(poly, h)
                    if not poly:
                        break
                if poly and area2(poly) != 0:
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
        from ...plot import plot_partition

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


def _build_graph(regions, edges, same_flags) -> networkx.Graph:
    return build_graph(
        (
            (
                r.index,
                {
                    "pattern": r.pattern,
                    "vertices": r.vertices,
                    "area": r.area,
                    "interior_point": r.interior_point,
                    "intercept": r.intercept,
                    "gradient": r.gradient,
                },
            )
            for r in regions
        ),
        (
            (a, b, {"neurons": labels, "segment": seg, "same_map": same})
            for (a, b, seg, labels), same in zip(edges, same_flags)
        ),
    )


def _round_key(p, exact: bool):
    return p if exact else (round(float(p[0]), 12), round(float(p[1]), 12))
