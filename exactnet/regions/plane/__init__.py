"""Linear regions of a network on a convex polygon (the 2-D engine) and the region graph.

The polygon lies in the input plane of a 2-input network, or in a 2-D affine slice of a
higher-dimensional input space, x(u, v) = origin + u d1 + v d2 (:class:`Plane`), with the
polygon given in (u, v) coordinates. Definitions (docs/definitions.md, "Linear regions"):

* **region**: a maximal set with nonempty interior on which the activation pattern is
  constant (a convex polygon); a neuron identically zero on it does not split it;
* **region graph**: a ``networkx.Graph`` with a node per region and an edge between two
  regions sharing a segment of positive length, labelled with the neurons (layer, unit)
  that flip across it;
* **linear piece**: a connected component of the graph restricted to edges across which
  the affine map of the outputs does not change;
* **non-empty patterns**: the patterns realised by at least one point of the closed
  polygon, including those realised only on an edge or at a vertex.
Modules: :mod:`.domain` (planes and convex polygons), :mod:`.compute` (:func:`partition`),
:mod:`.result` (:class:`Partition`), :mod:`.sources` (the engines' answers), and the
engines: ``_exact`` (the Python definition), ``_exact_kernel`` (compiled big integers) and
``_float_kernel`` (certified float64 half-edge subdivision).
"""

from __future__ import annotations

from .compute import COMPILED_EXACT_MIN_NEURONS, partition
from .domain import Plane, parse_domain
from .result import Partition, Region2D

__all__ = ["COMPILED_EXACT_MIN_NEURONS", "Plane", "Region2D", "Partition", "partition", "parse_domain"]
