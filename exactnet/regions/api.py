"""One entry point for linear regions in any dimension: :func:`regions`.

The domain chooses the engine, never ``max_regions``:

=====================================  ==============================================
domain                                 engine
=====================================  ==============================================
:class:`Segment` (start, end)          1-D (:mod:`exactnet.regions.line`)
:class:`Polygon` (vertices, plane)     2-D (:mod:`exactnet.regions.plane`)
:class:`Box` of a 2-input network      2-D
:class:`Box` or :class:`Polytope`      n-D (:mod:`exactnet.regions.space`)
``None`` (the whole input space)       n-D, homogenised (unbounded regions)
=====================================  ==============================================

Every engine returns the same :class:`~exactnet.regions.result.Regions` and honours
``max_regions`` by raising :class:`~exactnet.regions.RegionLimitError` with the count
reached.
"""

from __future__ import annotations

from concurrent.futures import Executor
from dataclasses import dataclass
from fractions import Fraction
from functools import partial
from typing import Any

import numpy as np

from ..net.network import Network
from ..net.rational import format_fraction
from ._common import check_max_regions, gc_paused
from .result import Region, Regions
from .space.domain import Box, Polytope

__all__ = ["Segment", "Polygon", "Box", "Polytope", "regions"]


@dataclass(frozen=True)
class Segment:
    """The segment x(t) = start + t (end - start), 0 <= t <= 1, of input space."""

    start: Any
    end: Any


@dataclass(frozen=True)
class Polygon:
    """A convex polygon of a plane: ``vertices`` as the 2-D engine takes them (a box
    (u0, u1, v0, v1), a list of (u, v) vertices or a shapely Polygon) in the coordinates of
    ``plane`` (default: the input plane of a 2-input network; see
    :class:`~exactnet.regions.plane.Plane`)."""

    vertices: Any = None
    plane: Any = None


def regions(
    net: Network,
    domain: Segment | Polygon | Box | Polytope | None = None,
    *,
    exact: bool = False,
    max_regions: int | None = None,
    executor: Executor | None = None,
    tiles: int | tuple[int, ...] = 2,
    progress: bool = False,
) -> Regions:
    """The linear regions of ``net`` on ``domain``, with the region graph (any dimension).

    ``domain``: a :class:`Segment`, a :class:`Polygon` (2-D slice), a :class:`Box` or a
    :class:`Polytope` (any input dimension), or None for the whole input space (regions may
    be unbounded). ``exact=True``: rational arithmetic throughout, Fractions out. Default:
    float64 with every sign it cannot certify decided exactly: the same regions, graph and
    counts, floats out. ``max_regions`` (a positive integer or None): more regions raise
    :class:`RegionLimitError` carrying the count reached; it never changes the engine.
    ``executor``: the domain (a polygon, or a box in any dimension) cut into tiles computed
    through any ``concurrent.futures.Executor`` (a ``ProcessPoolExecutor``, or dask's
    ``Client(...).get_executor()`` on many machines) and stitched into the same result; 2-D:
    ``tiles`` x ``tiles`` tiles; n-D: ``tiles`` cuts on each of the first axes (see
    :func:`exactnet.regions.space.tiles.space_tiled`). ``progress``: a tqdm bar (n-D).
    Definitions: docs/definitions.md, "Linear regions".
    """
    if not isinstance(net, Network):
        raise TypeError(
            f"net must be an exactnet.Network, got {type(net).__name__}; lower torch models with exactnet.from_torch"
        )
    max_regions = check_max_regions(max_regions)
    if isinstance(domain, Segment):
        return _segment(net, domain, exact, max_regions)
    if isinstance(domain, Polygon):
        return _polygon(net, domain.vertices, domain.plane, exact, max_regions, executor, tiles, None)
    if isinstance(domain, Box) and net.input_dim == 2:
        lo, hi = domain.resolved(2)
        return _polygon(net, (lo[0], hi[0], lo[1], hi[1]), None, exact, max_regions, executor, tiles, (lo, hi))
    if domain is not None and not isinstance(domain, (Box, Polytope)):
        raise TypeError(
            "domain must be exactnet.Segment(start, end), exactnet.Polygon(vertices, plane), "
            f"exactnet.Box(lo, hi), exactnet.Polytope(A, b) or None (the whole space); got {type(domain).__name__}"
        )
    if executor is not None:
        if not isinstance(domain, Box):
            raise ValueError(
                "executor: the n-D engine scales out on a Box (cut into tiles); pass a Box or run without executor"
            )
        from .space.tiles import space_tiled

        lo, hi = domain.resolved(net.input_dim)
        src = space_tiled(net, lo, hi, tiles=tiles, executor=executor, exact=exact, max_regions=max_regions)
        return Regions(src, network=net)
    return _space(net, domain, exact, max_regions, progress)


def _fmt(q) -> str:
    return format_fraction(Fraction(q))


def _space(net: Network, domain, exact: bool, max_regions: int | None, progress: bool) -> Regions:
    from .space._compiled import enumerate_space
    from .space.domain import homogenize, parse_space_domain, start_polytope
    from .space.source import SpaceSource

    n = net.input_dim
    parsed = parse_space_domain(domain, n)
    kind = parsed[0]
    desc: dict[str, Any]
    if kind == "box":
        desc = {"kind": "box", "lo": [_fmt(v) for v in parsed[1]], "hi": [_fmt(v) for v in parsed[2]]}
    elif kind == "polytope":
        desc = {"kind": "polytope", "A": [[_fmt(v) for v in r] for r in parsed[1]], "b": [_fmt(v) for v in parsed[2]]}
    else:
        desc = {"kind": "space", "dim": n}
    engine_net = homogenize(net) if kind == "space" else net
    # the whole space: keep t >= 0 on every cell, where bounded regions touch it at the origin only
    keep = frozenset({("domain", 2 * n + 1)}) if kind == "space" else frozenset()
    cells, eng, graph = enumerate_space(
        engine_net, start_polytope(parsed, n), exact=exact, max_regions=max_regions, progress=progress,
        whole_space=kind == "space", keep_slots=keep,
    )  # fmt: skip
    return Regions(SpaceSource(net, cells, eng, kind, desc, graph), network=net)


class _EngineSource:
    """What a 1-D or 2-D engine's result gives to :class:`Regions` (the protocol of the
    sources: dim, exact, domain, neurons, num_regions, regions(), edges(), same_map(),
    num_patterns())."""

    dim: int

    def __init__(self, net: Network, engine_result: Any, domain: dict):
        self.engine_result = engine_result
        self.exact = engine_result.exact
        self.domain = domain
        self.neurons = net.neurons
        self.num_regions = engine_result.num_regions

    def num_patterns(self) -> int:
        return self.engine_result.num_patterns


# ---------------------------------------------------------------------- 1-D
class _LineSource(_EngineSource):
    dim = 1

    def regions(self) -> tuple[Region, ...]:
        out = []
        two = 2 if self.exact else 2.0
        for i, r in enumerate(self.engine_result.regions):
            t0, t1 = r.t_lo, r.t_hi
            out.append(
                Region(
                    i,
                    r.pattern,
                    tuple(r.intercept),
                    tuple((s,) for s in r.slope),
                    ((t0,), (t1,)),
                    ((t0 + t1) / two,),
                    facets=(((-1 if self.exact else -1.0,), -t0), ((1 if self.exact else 1.0,), t1)),
                    measure=t1 - t0,
                )
            )
        return tuple(out)

    def edges(self):
        regs = self.engine_result.regions
        neurons = self.neurons
        return [
            (i, i + 1, tuple(neurons[k] for k in np.flatnonzero(regs[i].pattern != regs[i + 1].pattern)))
            for i in range(len(regs) - 1)
        ]

    def same_map(self) -> list[bool]:
        starts = {p.first for p in self.engine_result.pieces}
        return [i + 1 not in starts for i in range(self.num_regions - 1)]


def _segment(net: Network, seg: Segment, exact: bool, max_regions: int | None) -> Regions:
    from .line.segments import compute_segment_regions

    res = compute_segment_regions(net, seg.start, seg.end, exact=exact, max_regions=max_regions)
    desc = {"kind": "segment", "start": [_fmt(v) for v in res.start], "end": [_fmt(v) for v in res.end]}
    return Regions(_LineSource(net, res, desc), network=net)


# ---------------------------------------------------------------------- 2-D
class _PlaneSource(_EngineSource):
    dim = 2

    def _source(self):
        """The 2-D engine's source when first read (regions and edges come from it). A
        float source may later give way to the exact one, if a same-map flag cannot be
        certified: the regions are the same, numbered another way (see :meth:`same_map`)."""
        got = self.__dict__.get("_first_source")
        if got is None:
            got = self._first_source = self.engine_result._src
        return got

    def _float(self):
        from .plane.sources import _FloatSource

        src = self._source()
        return src if isinstance(src, _FloatSource) else None

    def regions(self) -> tuple[Region, ...]:
        src = self._float()
        with gc_paused():
            values = (
                src.region_values()
                if src is not None
                else (
                    (r.index, r.vertices, r.pattern, r.intercept, r.gradient, r.area, r.interior_point)
                    for r in self.engine_result.regions
                )
            )
            return tuple(
                Region(i, pattern, icpt, grad, verts, centre, facets=partial(_polygon_facets, verts), measure=area)
                for i, verts, pattern, icpt, grad, area, centre in values
            )

    def _ordered(self) -> tuple[list, list[int]]:
        """The edges (a < b, sorted) and, per edge, its index among the source's edges."""
        got = self.__dict__.get("_edges")
        if got is None:
            src = self._float()
            if src is not None:  # from the arrays, without the edges' segments
                pairs, bits, order = src.edge_arrays()
                neurons = self.neurons
                with gc_paused():
                    edges = [(a, b, (neurons[k],)) for (a, b), k in zip(pairs.tolist(), bits.tolist())]
                got = (edges, order.tolist())
            else:
                raw = [(a, b, labels) if a < b else (b, a, labels) for a, b, _, labels in self.engine_result.edges]
                idx = sorted(range(len(raw)), key=lambda k: (raw[k][0], raw[k][1]))
                got = ([raw[k] for k in idx], idx)
            self._edges = got
        return got

    def edges(self):
        return self._ordered()[0]

    def same_map(self) -> list[bool]:
        edges, idx = self._ordered()
        flags = [bool(x) for x in self.engine_result._same_map_edges()]
        if self.engine_result._src is self._source():
            return [flags[k] for k in idx]
        # the partition switched to its exact source: match its edges by the patterns
        from ._patterns import pack

        exact_regions = self.engine_result.regions
        by_pair = {
            frozenset((pack(exact_regions[a].pattern), pack(exact_regions[b].pattern))): f
            for (a, b, _, _), f in zip(self.engine_result.edges, flags)
        }
        mine = [pack(p) for p in self._patterns()]
        return [by_pair[frozenset((mine[a], mine[b]))] for a, b, _ in edges]

    def _patterns(self) -> list[np.ndarray]:
        src = self._float()
        if src is None:
            return [r.pattern for r in self.engine_result.regions]
        from ._patterns import unpack_words

        return list(unpack_words(src.pat_words[: src.num_regions], src.net.num_neurons))


def _polygon_facets(verts) -> tuple:
    """The edges of a CCW polygon as rows a . (u, v) <= b (outward normals)."""
    out = []
    for p, q in zip(verts, verts[1:] + verts[:1]):
        a = (q[1] - p[1], p[0] - q[0])
        out.append((a, a[0] * p[0] + a[1] * p[1]))
    return tuple(out)


def _polygon(net, vertices, plane, exact, max_regions, executor, tiles, box) -> Regions:
    from .plane import Plane
    from .plane.compute import compute_partition
    from .plane.domain import parse_domain

    if executor is not None:
        from .tiling import partition_tiled

        part = partition_tiled(
            net, vertices, tiles=tiles, executor=executor, plane=plane, exact=exact, max_regions=max_regions
        )
    else:
        part = compute_partition(net, vertices, plane=plane, exact=exact, max_regions=max_regions)
    if box is not None:
        desc: dict = {"kind": "box", "lo": [_fmt(v) for v in box[0]], "hi": [_fmt(v) for v in box[1]]}
    else:
        pl = part.plane if plane is None else plane
        pl = pl if isinstance(pl, Plane) else Plane.identity()
        desc = {
            "kind": "polygon",
            "vertices": [[_fmt(u), _fmt(v)] for u, v in parse_domain(vertices)],
            "plane": {k: [_fmt(x) for x in getattr(pl, k)] for k in ("origin", "d1", "d2")},
        }
    return Regions(_PlaneSource(net, part, desc), network=net)
