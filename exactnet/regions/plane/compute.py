"""Computing a partition: the engine for each mode (certified float, compiled exact or Python
exact), with the checks of the arguments.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...net.network import Network
from .._common import check_max_regions
from ._exact import (
    exact_plane,
)
from .domain import Plane, _domain_integers, parse_domain
from .result import Partition
from .sources import _ExactSource, _float_source

if TYPE_CHECKING:
    from .domain import DomainLike


#: from this many neurons on, exact partitions use the compiled big-integer engine; smaller
#: ones use the Python engine, which needs no compilation (the compiled engine's first use
#: compiles for about a minute). Measured warm, best of 3, Python / compiled: 2-16-16-1
#: 0.065 / 0.068 s, 2-32-32-1 0.23 / 0.17 s, 2-16x4-1 0.22 / 0.15 s, 2-48-48-1 0.84 /
#: 0.52 s, 2-24x4-1 0.35 / 0.16 s, 2-16x8-1 0.57 / 0.18 s: below 96 neurons the compiled
#: engine saves under a tenth of a second.
#: Both engines honour ``max_regions`` (raising RegionLimitError): a cap never changes
#: which of them runs.
COMPILED_EXACT_MIN_NEURONS = 96


def partition(
    net: Network,
    domain: DomainLike = None,
    *,
    plane: Plane | None = None,
    exact: bool = False,
    max_regions: int | None = None,
) -> Partition:
    """The linear regions of ``net`` on a convex polygon as a :class:`Partition` (the 2-D
    engine's own result: class cells, GeoJSON, its plots), a front-end of
    :func:`exactnet.regions`: ``regions(net, Polygon(domain, plane), exact=exact,
    max_regions=max_regions).engine_result``, with the same checks and cap (see
    :func:`compute_partition` for the arguments)."""
    from ..api import Polygon, regions

    part: Partition = regions(net, Polygon(domain, plane), exact=exact, max_regions=max_regions).engine_result
    return part


def compute_partition(
    net: Network,
    domain: DomainLike = None,
    *,
    plane: Plane | None = None,
    exact: bool = False,
    max_regions: int | None = None,
) -> Partition:
    """The 2-D engine: the linear regions of ``net`` on a convex polygon, with the region
    graph.

    ``domain``: None ([-1, 1]^2), a box (u0, u1, v0, v1), a list of (u, v) vertices or a
    shapely Polygon, in the coordinates of ``plane`` (default: the input plane of a
    2-input network; for other networks pass ``Plane(origin, d1, d2)`` or
    ``Plane.through(a, b, c)``). ``exact=True``: integer arithmetic, Fractions out.
    Default: the certified float kernel, the same regions, graph and counts, floats out;
    a degenerate arrangement (a neuron exactly through a vertex, along an edge, or
    several through one point) is decided exactly. ``max_regions`` (a positive integer,
    or None for no cap) caps the work: a partition with more regions raises
    :class:`~exactnet.regions.RegionLimitError` (a ``RuntimeError``) with the count
    reached; the cap never changes the engine.
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
        if net.num_neurons >= COMPILED_EXACT_MIN_NEURONS:
            from ._exact_kernel import run_plane_exact

            raw = run_plane_exact(net, *plane.integers(), hv, lines, max_regions=max_regions)
        if raw is None:
            raw = exact_plane(net, *plane.integers(), hv, lines, max_regions=max_regions)
        return _ExactSource(net, raw, exact=exact)

    if not exact:
        src = _float_source(net, plane, verts, max_regions)
        if src is not None:
            return Partition(net, plane, verts, src, rebuild=exact_source)
    return Partition(net, plane, verts, exact_source())
