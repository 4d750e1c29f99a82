"""Linear regions of a network on a box, a convex polytope or the whole input space, in
any input dimension (the n-D engine behind :func:`exactnet.regions`).

Definitions as in docs/definitions.md, "Linear regions": a region is a maximal set with
nonempty interior on which the activation pattern is constant (a convex polytope); the
region graph joins regions sharing a facet, labelled with the neurons that flip across it.

Modules: :mod:`.domain` (boxes, polytopes, the whole space by homogenisation),
``_engine`` (cutting cells layer by layer, exact or certified float64, with the region
graph), ``_maps`` (exact and float local maps with error bounds), ``_faces`` (facets,
faces and volumes from vertex incidence), :mod:`.source` (cells as
:class:`~exactnet.regions.result.Region` values).
"""

from .domain import Box, Polytope

__all__ = ["Box", "Polytope"]
