"""Validation shared by the region engines (1-D, 2-D, tiling), and a pause of the garbage
collector while results are built."""

from __future__ import annotations

import contextlib
import gc
import numbers
import warnings
from collections.abc import Iterable, Iterator, Sequence
from fractions import Fraction
from typing import TYPE_CHECKING, Any, TypeAlias

from numpy.typing import ArrayLike

if TYPE_CHECKING:
    import networkx

__all__ = [
    "PointLike",
    "PointsLike",
    "RegionLimitError",
    "check_max_regions",
    "build_graph",
    "gc_paused",
    "warn_beyond_float64",
]

#: a point of input space: an array (numpy, torch) or a sequence of numbers, which may be
#: Fractions (sympy Rationals and strings like "3/4" are accepted too)
PointLike: TypeAlias = ArrayLike | Sequence[Fraction | float]
#: several points, one a row
PointsLike: TypeAlias = ArrayLike | Sequence[PointLike]


def warn_beyond_float64(what: str, stacklevel: int = 3) -> None:
    """The warning of the float modes when some of their values (``what``) are beyond
    float64's range and are therefore given as +-inf."""
    warnings.warn(
        f"some {what} are beyond float64's range and are given as +-inf in float mode; "
        f"exact=True gives them as exact rationals",
        RuntimeWarning,
        stacklevel=stacklevel,
    )


def check_max_regions(max_regions) -> int | None:
    """``max_regions`` as a positive ``int``, or ``None`` (no cap); anything else (0,
    negative numbers, fractions such as 1.5, booleans, strings) raises naming the argument."""
    if max_regions is None:
        return None
    if isinstance(max_regions, bool) or not isinstance(max_regions, numbers.Integral):
        raise TypeError(
            f"max_regions must be a positive integer or None (no cap); got {max_regions!r} "
            f"of type {type(max_regions).__name__}"
        )
    if max_regions < 1:
        raise ValueError(f"max_regions must be a positive integer or None (no cap); got {max_regions}")
    return int(max_regions)


class RegionLimitError(RuntimeError):
    """An enumeration reached more regions than ``max_regions``. ``count`` is the number of
    regions reached when it stopped (a lower bound on the total), ``max_regions`` the cap.
    Every engine raises it (1-D, 2-D, n-D, tiling); none returns a partial result."""

    def __init__(self, count: int, max_regions: int):
        self.count = count
        self.max_regions = max_regions
        super().__init__(
            f"the partition has more than max_regions={max_regions} regions ({count} reached when it stopped); "
            f"raise max_regions, or pass max_regions=None for no cap"
        )

    def __reduce__(self):  # picklable across process pools
        return (type(self), (self.count, self.max_regions))


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
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


def build_graph(
    nodes: Iterable[tuple[int, dict[str, Any]]], edges: Iterable[tuple[int, int, dict[str, Any]]]
) -> networkx.Graph:
    """A ``networkx.Graph`` with these nodes and edges (and their attribute dicts), written
    straight into the graph's dict-of-dicts (networkx's documented data structure: node ->
    attributes in ``_node``, node -> neighbour -> the edge's one attribute dict in ``_adj``),
    several times quicker than ``add_nodes_from``/``add_edges_from``, which check and
    update every item. Every edge's ends must be among the nodes."""
    import networkx as nx

    G = nx.Graph()
    node, adj = G._node, G._adj
    with gc_paused():
        for i, data in nodes:
            node[i] = data
            adj[i] = {}
        for a, b, data in edges:
            adj[a][b] = data
            adj[b][a] = data
    return G
