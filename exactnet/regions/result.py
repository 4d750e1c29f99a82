"""One result for every dimension: :class:`Regions` (the partition of a domain) made of
:class:`Region` values, with the same names for a segment, a polygon, a box, a polytope
and the whole input space.

Coordinates are those of the domain: the parameter t of a segment (x = start + t (end -
start)), (u, v) of a plane slice, x itself for boxes, polytopes and the whole space. Every
region carries its activation pattern, the affine map of every output,
``output_k(x) = intercept[k] + gradient[k] . x``, its geometry (``vertices``, ``facets``:
the irredundant H-representation ``a . x <= b``), an ``interior_point`` and its
``measure`` (length, area or volume; exact in exact mode, ``inf`` when unbounded). The
definitions (region, linear piece, non-empty pattern, region graph) are in
docs/definitions.md, "Linear regions".
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Sequence
from fractions import Fraction
from functools import cached_property
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

from ..net.rational import format_fraction

if TYPE_CHECKING:
    import networkx
    from matplotlib.axes import Axes

    from ..net.network import Network

__all__ = ["ExactPolytopes", "Region", "RegionSource", "Regions"]

Number = Fraction | float

FORMAT = "exactnet.regions"
FORMAT_VERSION = 1


class RegionSource(Protocol):
    """What :class:`Regions` reads from an engine's answer: the 1-D and 2-D engines'
    results, the n-D engine's cells, the stitched tiles, or a stored JSON result."""

    @property
    def dim(self) -> int: ...
    @property
    def exact(self) -> bool: ...
    @property
    def domain(self) -> dict: ...
    @property
    def neurons(self) -> Sequence[tuple[int, int]]: ...
    @property
    def num_regions(self) -> int: ...

    def regions(self) -> tuple[Region, ...]: ...
    def edges(self) -> list[tuple[int, int, tuple[tuple[int, int], ...]]]: ...
    def same_map(self) -> list[bool]: ...
    def num_patterns(self) -> int: ...


@runtime_checkable
class ExactPolytopes(Protocol):
    """A source that gives each region as an exact polytope with its exact output map
    (the n-D engine and the tiles: what the n-D decision boundary is computed from)."""

    def exact_polytope(self, i: int) -> Any: ...
    def exact_output(self, i: int) -> tuple[tuple, tuple]: ...


class Region:
    """One linear region (see the module docstring). ``measure`` and ``facets`` are
    computed on first use; ``vertices`` is None for an unbounded region."""

    def __init__(
        self,
        index: int,
        pattern: np.ndarray,
        intercept: tuple,
        gradient: tuple,
        vertices: tuple | None,
        interior_point: tuple,
        *,
        facets: tuple | Callable[[], tuple],
        measure: Number | Callable[[], Number],
    ):
        self.index = index
        # geometry, Any: tuples of Fractions (exact) or floats; vertices None when unbounded
        self.pattern = pattern
        self.intercept = intercept
        self.gradient = gradient
        self.vertices: Any = vertices
        self.interior_point = interior_point
        self._facets = facets
        self._measure = measure

    @property
    def bounded(self) -> bool:
        return self.vertices is not None

    @cached_property
    def facets(self) -> tuple[tuple[tuple, Number], ...]:
        """The irredundant H-representation: rows ``(a, b)`` with ``a . x <= b``."""
        f = self._facets
        return f() if callable(f) else f

    @cached_property
    def measure(self) -> Number:
        """Length, area or volume in the domain's coordinates (``inf`` if unbounded)."""
        m = self._measure
        return m() if callable(m) else m

    def output(self, x: Sequence[Number]) -> tuple[Number, ...]:
        """The outputs at x (a point of the region, in domain coordinates)."""
        return tuple(c + sum(g * xi for g, xi in zip(grad, x)) for c, grad in zip(self.intercept, self.gradient))

    def contains(self, x: Sequence[Number]) -> bool:
        """Whether x satisfies every facet inequality (the closed region)."""
        return all(sum(a * xi for a, xi in zip(row, x)) <= b for row, b in self.facets)

    def __repr__(self) -> str:
        return f"Region({self.index}, active={int(self.pattern.sum())}/{len(self.pattern)}, bounded={self.bounded})"


class Regions:
    """The linear regions of a network on a domain (see the module docstring).

    ``num_regions``, ``num_pieces`` and ``num_patterns`` are the three counts;
    ``regions`` the :class:`Region` values; ``edges`` the pairs of regions sharing a facet
    with the neurons (layer, unit) that flip across it; ``pieces`` the linear pieces (lists
    of region indices); ``graph`` the region graph (a ``networkx.Graph``);
    ``decision_boundary``; ``to_json``/``from_json``; ``plot`` (1-D and 2-D)."""

    def __init__(self, source: RegionSource, *, network: Network | None):
        self._src = source
        self.network = network
        self.dim: int = source.dim
        self.exact: bool = source.exact
        self.domain: dict = source.domain
        self.neurons: tuple[tuple[int, int], ...] = tuple((int(a), int(b)) for a, b in source.neurons)
        #: the engine's own result where it has extras of its own: a ``SegmentRegions``
        #: (breakpoints, kinks, SMP along a segment) or a 2-D ``Partition`` (class cells,
        #: GeoJSON); None for the n-D engine and for results read from JSON
        self.engine_result: Any = getattr(source, "engine_result", None)

    # ------------------------------------------------------------------ counts
    @property
    def num_regions(self) -> int:
        return self._src.num_regions

    @cached_property
    def num_pieces(self) -> int:
        return len(self.pieces)

    @cached_property
    def num_patterns(self) -> int:
        """Patterns realised by some point of the closed domain, on regions and on every
        lower-dimensional face (never mixed up with the number of regions)."""
        return self._src.num_patterns()

    # ------------------------------------------------------------------ regions and graph
    @cached_property
    def regions(self) -> tuple[Region, ...]:
        return self._src.regions()

    @cached_property
    def edges(self) -> list[tuple[int, int, tuple[tuple[int, int], ...]]]:
        """``(i, j, neurons)`` for regions i < j sharing a facet; ``neurons``: the (layer,
        unit) whose sign flips across it."""
        return self._src.edges()

    @cached_property
    def same_map(self) -> list[bool]:
        """Per edge, whether both regions have the same affine map (decided exactly)."""
        return self._src.same_map()

    @cached_property
    def pieces(self) -> list[list[int]]:
        """Linear pieces: regions joined across edges where the affine map does not change
        (sorted lists of region indices, sorted by first index)."""
        parent = list(range(self.num_regions))

        def find(i: int) -> int:
            while parent[i] != i:
                parent[i] = parent[parent[i]]
                i = parent[i]
            return i

        for (a, b, _), same in zip(self.edges, self.same_map):
            if same:
                parent[find(a)] = find(b)
        comps: dict[int, list[int]] = {}
        for i in range(self.num_regions):
            comps.setdefault(find(i), []).append(i)
        return sorted(comps.values())

    @cached_property
    def graph(self) -> networkx.Graph:
        """The region graph: nodes are region indices with attributes ``pattern``,
        ``intercept``, ``gradient``, ``vertices``, ``interior_point``; edges join regions
        sharing a facet, with attributes ``neurons`` and ``same_map``."""
        from ._common import build_graph

        return build_graph(
            (
                (
                    r.index,
                    {
                        "pattern": r.pattern,
                        "intercept": r.intercept,
                        "gradient": r.gradient,
                        "vertices": r.vertices,
                        "interior_point": r.interior_point,
                    },
                )
                for r in self.regions
            ),
            ((a, b, {"neurons": nr, "same_map": s}) for (a, b, nr), s in zip(self.edges, self.same_map)),
        )

    def locate(self, x: Sequence[Number]) -> int:
        """The index of a region whose closure contains x (domain coordinates)."""
        for r in self.regions:
            if r.contains(x):
                return r.index
        raise ValueError(f"the point {tuple(x)} is not in the domain")

    # ------------------------------------------------------------------ decision boundary
    @cached_property
    def decision_boundary(self) -> list[tuple[int, tuple[int, int], tuple]]:
        """The decision boundary as pieces ``(region, (i, j), vertices)``: inside each
        region, the set where outputs i < j tie for the maximum (one output: its zero set,
        labelled (0, 0)). A piece is a point (1-D), a segment (2-D) or an (n-1)-polytope
        given by its vertices (n-D; None for an unbounded piece of the whole space); exact
        in exact mode. Regions where a
        single output is identically zero are listed in ``zero_regions``."""
        from ._boundary import decision_boundary

        return decision_boundary(self)

    @cached_property
    def decision_boundary_length(self) -> float:
        """The decision boundary's total length in a 2-D domain: the sum of its segments'
        lengths (float64; domain coordinates). 0 for a 1-D domain, whose boundary is
        points; n-D boundaries have no length (their measure is (n-1)-dimensional)."""
        if self.dim > 2:
            raise ValueError(f"the decision boundary of a {self.dim}-D domain has no length; partition a 2-D slice")
        total = 0.0
        for _, _, verts in self.decision_boundary:
            pts = np.asarray(verts, dtype=float)
            if self.dim == 2 and len(pts) == 2:
                total += float(np.hypot(*(pts[1] - pts[0])))
        return total

    @property
    def zero_regions(self) -> list[int]:
        """Regions on which a single output is identically zero."""
        n_out = len(self.regions[0].intercept) if self.num_regions else 0
        if n_out != 1:
            return []
        return [r.index for r in self.regions if r.intercept[0] == 0 and all(g == 0 for g in r.gradient[0])]

    # ------------------------------------------------------------------ pictures
    def plot(self, ax: Axes | None = None, *, color_by: str = "pattern") -> Axes:
        """Draw the regions (1-D: the outputs along the domain with the region boundaries;
        2-D: the polygons, coloured by pattern, piece or output). Unbounded regions (the
        whole space) are cut to a window around the bounded ones. Returns the axes."""
        from ..extras import require

        require("matplotlib")
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(6, 6) if self.dim == 2 else (7, 3.5))
        if self.dim == 1:
            _plot_1d(self, ax)
        elif self.dim == 2:
            _plot_2d(self, ax, color_by)
        else:
            raise ValueError(
                f"plot draws 1-D and 2-D partitions; this one is {self.dim}-D: plot a 2-D slice with "
                f"exactnet.regions(net, Polygon(..., plane=Plane.through(a, b, c)))"
            )
        return ax

    # ------------------------------------------------------------------ export
    def summary(self) -> dict:
        """The counts and the edges: ``{"regions", "pieces", "patterns", "edges", "mode", "dim"}``."""
        return {
            "mode": "exact" if self.exact else "float",
            "dim": self.dim,
            "regions": self.num_regions,
            "pieces": self.num_pieces,
            "patterns": self.num_patterns,
            "edges": [[a, b] for a, b, _ in self.edges],
        }

    def _repr_html_(self) -> str:
        """The notebook display: the counts, and the picture for a 1-D or 2-D domain of up
        to 5,000 regions."""
        from .._html import figure_tag, table_html

        rows = [
            ("mode", "exact (rationals)" if self.exact else "float64, certified"),
            ("dimension", self.dim),
            ("regions", self.num_regions),
            ("linear pieces", self.num_pieces),
            ("activation patterns", self.num_patterns),
            ("region graph edges", len(self.edges)),
        ]
        out = "<b>exactnet Regions</b>" + table_html(rows, ("", "value"))
        if self.dim <= 2 and self.num_regions <= 5000:
            try:
                import matplotlib

                matplotlib.use("Agg", force=False)
                out += figure_tag(self.plot().figure, f"{self.num_regions} regions")
            except ImportError:  # no matplotlib: the table alone
                pass
        return out

    def to_json(self) -> str:
        """Everything as JSON (exact numbers as strings "p/q", infinities as "inf"):
        the domain, the counts, every region (pattern as a 0/1 string, maps, vertices,
        facets, interior point, measure), the edges with their neurons and ``same_map``,
        the pieces. :meth:`from_json` reads it back."""
        fmt = _formatter(self.exact)

        def vec(v):
            return [fmt(x) for x in v]

        regions = []
        for r in self.regions:
            regions.append(
                {
                    "pattern": "".join("1" if b else "0" for b in r.pattern),
                    "intercept": vec(r.intercept),
                    "gradient": [vec(g) for g in r.gradient],
                    "vertices": None if r.vertices is None else [vec(p) for p in r.vertices],
                    "facets": [vec(a) + [fmt(b)] for a, b in r.facets],
                    "interior_point": vec(r.interior_point),
                    "measure": fmt(r.measure),
                }
            )
        data = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "mode": "exact" if self.exact else "float",
            "dim": self.dim,
            "domain": self.domain,
            "neurons": [list(nr) for nr in self.neurons],
            "num_regions": self.num_regions,
            "num_pieces": self.num_pieces,
            "num_patterns": self.num_patterns,
            "regions": regions,
            "edges": [
                [a, b, [list(nr) for nr in labels], bool(s)] for (a, b, labels), s in zip(self.edges, self.same_map)
            ],
            "pieces": self.pieces,
        }
        return json.dumps(data)

    def write_json(self, path: str | os.PathLike[str]) -> None:
        """Write :meth:`to_json` to a file."""
        with open(path, "w") as fh:
            fh.write(self.to_json())

    def write_graphml(self, path: str | os.PathLike[str]) -> None:
        """Write the region graph as GraphML (for Gephi, Cytoscape, yEd): node attributes
        pattern ("0110..."), interior point and bounded; edge attributes neurons
        ("layer:unit;...") and same_map. Numbers are written as floats."""
        import networkx as nx

        G = nx.Graph()
        for r in self.regions:
            G.add_node(
                r.index,
                pattern="".join("1" if b else "0" for b in r.pattern),
                interior_point=" ".join(repr(float(x)) for x in r.interior_point),
                bounded=bool(r.bounded),
            )
        for (a, b, labels), same in zip(self.edges, self.same_map):
            G.add_edge(a, b, neurons=";".join(f"{l}:{k}" for l, k in labels), same_map=bool(same))
        nx.write_graphml(G, path)

    @classmethod
    def from_json(cls, text: str | bytes) -> Regions:
        """A result read back from :meth:`to_json` (without its network: ``network`` is None;
        every stored attribute, the graph, the pieces and the decision boundary work)."""
        data = json.loads(text)
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ValueError("text is not an exactnet.regions JSON document (no 'format': 'exactnet.regions')")
        if data.get("version") != FORMAT_VERSION:
            raise ValueError(
                f"unsupported exactnet.regions JSON version {data.get('version')!r}; expected {FORMAT_VERSION}"
            )
        return cls(_StoredSource(data), network=None)

    def __repr__(self) -> str:
        mode = "exact" if self.exact else "float"
        return f"Regions({self.dim}-D {self.domain.get('kind')}, {mode}, regions={self.num_regions})"


# ---------------------------------------------------------------------- helpers
def _formatter(exact: bool) -> Callable[[Any], Any]:
    def fmt(x):
        if isinstance(x, (float, np.floating)) and not np.isfinite(x):
            return "inf" if x > 0 else ("-inf" if x < 0 else "nan")
        return format_fraction(Fraction(x)) if exact else float(x)

    return fmt


def _parse_number(x, exact: bool) -> Number:
    if isinstance(x, str):
        if x in ("inf", "-inf", "nan"):
            return float(x)
        return Fraction(x)
    return Fraction(x) if exact else float(x)


class _StoredSource:
    """A result read from JSON."""

    def __init__(self, data: dict):
        self.data = data
        self.dim = int(data["dim"])
        self.exact = data["mode"] == "exact"
        self.domain = data["domain"]
        self.neurons = [tuple(nr) for nr in data["neurons"]]
        self.num_regions = int(data["num_regions"])

    def regions(self) -> tuple[Region, ...]:
        ex = self.exact

        def num(x):
            return _parse_number(x, ex)

        out = []
        for i, r in enumerate(self.data["regions"]):
            out.append(
                Region(
                    i,
                    np.array([c == "1" for c in r["pattern"]], dtype=bool),
                    tuple(num(x) for x in r["intercept"]),
                    tuple(tuple(num(x) for x in g) for g in r["gradient"]),
                    None if r["vertices"] is None else tuple(tuple(num(x) for x in p) for p in r["vertices"]),
                    tuple(num(x) for x in r["interior_point"]),
                    facets=tuple((tuple(num(x) for x in f[:-1]), num(f[-1])) for f in r["facets"]),
                    measure=num(r["measure"]),
                )
            )
        return tuple(out)

    def edges(self):
        return [(int(a), int(b), tuple(tuple(nr) for nr in labels)) for a, b, labels, _ in self.data["edges"]]

    def same_map(self):
        return [bool(s) for *_, s in self.data["edges"]]

    def num_patterns(self) -> int:
        return int(self.data["num_patterns"])

    def _exact_regions(self) -> tuple[Region, ...]:
        if not self.exact:
            raise ValueError(
                "this float-mode result was read from JSON: its vertices are rounded, so the n-D decision "
                "boundary cannot be decided exactly; store an exact result (exact=True) or recompute"
            )
        if self.domain.get("kind") == "space":
            raise ValueError("the n-D decision boundary needs bounded regions: compute them on a Box or Polytope")
        return self._parsed_regions

    @cached_property
    def _parsed_regions(self) -> tuple[Region, ...]:
        return self.regions()

    def exact_polytope(self, i: int):
        from .space._engine import Polytope0

        r = self._exact_regions()[i]
        pts = r.vertices
        k, m = len(pts), self.dim
        N = np.empty((k, m), dtype=object)
        d = np.empty(k, dtype=object)
        for v, p in enumerate(pts):
            den = 1
            for q in p:
                den = math.lcm(den, Fraction(q).denominator)
            N[v] = [int(Fraction(q) * den) for q in p]
            d[v] = den
        rows, inc = [], np.zeros((k, len(r.facets)), dtype=bool)
        for s, (a, b) in enumerate(r.facets):
            vals = [Fraction(x) for x in a] + [-Fraction(b)]
            L = 1
            for q in vals:
                L = math.lcm(L, q.denominator)
            rows.append(np.array([int(q * L) for q in vals], dtype=object))
            for v, p in enumerate(pts):
                inc[v, s] = sum(x * y for x, y in zip(a, p)) == b
        return Polytope0(N, d, inc, rows)

    def exact_output(self, i: int) -> tuple[tuple, tuple]:
        r = self._exact_regions()[i]
        return r.intercept, r.gradient


def _view(res: Regions) -> list[tuple[float, float]]:
    """Per axis, a window showing every bounded region and every interior point, widened by
    a quarter on each side (for drawing unbounded regions)."""
    pts = [p for r in res.regions for p in (r.vertices or ())] + [r.interior_point for r in res.regions]
    arr = np.array([[float(x) for x in p] for p in pts])
    lo, hi = arr.min(axis=0), arr.max(axis=0)
    pad = np.maximum((hi - lo) * 0.25, 1.0)
    return [(float(a - p), float(b + p)) for a, b, p in zip(lo, hi, pad)]


def _drawn_vertices(res: Regions) -> list[list[tuple[float, ...]]]:
    """Every region's vertices as floats; an unbounded region is cut to the view window
    (its facets clip the window's box)."""
    if all(r.bounded for r in res.regions):
        return [[tuple(float(x) for x in p) for p in r.vertices] for r in res.regions]
    win = _view(res)
    out = []
    for r in res.regions:
        if r.bounded:
            out.append([tuple(float(x) for x in p) for p in r.vertices])
            continue
        if res.dim == 1:
            lo, hi = win[0]
            for (a,), b in r.facets:  # a t <= b
                if a > 0:
                    hi = min(hi, float(b) / float(a))
                elif a < 0:
                    lo = max(lo, float(b) / float(a))
            out.append([(lo,), (hi,)])
            continue
        from .plane.region import clip_polygon

        (u0, u1), (v0, v1) = win
        poly: list = [(u0, v0), (u1, v0), (u1, v1), (u0, v1)]
        for (a1, a2), b in r.facets:  # a . x <= b  <=>  -a . x + b >= 0
            poly = clip_polygon(poly, (-float(a1), -float(a2), float(b)))
        out.append([(float(u), float(v)) for u, v in poly])
    return out


def _plot_1d(res: Regions, ax) -> None:
    for r, verts in zip(res.regions, _drawn_vertices(res)):
        (t0,), (t1,) = sorted(verts)
        for k in range(len(r.intercept)):
            ys = [float(r.intercept[k]) + float(r.gradient[k][0]) * t for t in (t0, t1)]
            ax.plot([t0, t1], ys, color=f"C{k}", lw=1.5)
        ax.axvline(t0, color="0.85", lw=0.6, zorder=0)
    ax.set_xlabel("t" if res.domain.get("kind") == "segment" else "x")
    ax.set_ylabel("output")
    ax.set_title(f"{res.num_regions} regions, {res.num_pieces} pieces")


def _plot_2d(res: Regions, ax, color_by: str) -> None:
    from matplotlib.collections import PolyCollection

    if color_by not in ("pattern", "piece", "output"):
        raise ValueError(f"color_by must be 'pattern', 'piece' or 'output'; got {color_by!r}")
    polys = _drawn_vertices(res)
    rng = np.random.default_rng(0)
    if color_by == "pattern":
        colors = rng.random((len(polys), 3)) * 0.7 + 0.3
    elif color_by == "piece":
        piece_colors = rng.random((max(res.num_pieces, 1), 3)) * 0.7 + 0.3
        of = {i: k for k, comp in enumerate(res.pieces) for i in comp}
        colors = np.array([piece_colors[of[r.index]] for r in res.regions])
    else:
        import matplotlib

        vals = np.array([float(r.output(r.interior_point)[0]) for r in res.regions])
        lo, hi = (vals.min(), vals.max()) if len(vals) else (0.0, 1.0)
        colors = matplotlib.colormaps["viridis"]((vals - lo) / (hi - lo if hi > lo else 1.0))
    ax.add_collection(PolyCollection(polys, facecolors=colors, edgecolors="k", linewidths=0.3))
    pts = np.array([p for poly in polys for p in poly]) if polys else np.zeros((1, 2))
    ax.set_xlim(pts[:, 0].min(), pts[:, 0].max())
    ax.set_ylim(pts[:, 1].min(), pts[:, 1].max())
    ax.set_aspect("equal")
    ax.set_title(f"{res.num_regions} regions, {res.num_pieces} pieces")
