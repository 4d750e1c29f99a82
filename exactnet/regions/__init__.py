"""Exact linear regions in any dimension.

``exactnet.regions(net, domain, exact=False, max_regions=None, ...)`` (this package is
callable: it is :func:`exactnet.regions.api.regions`) gives one result,
:class:`~.result.Regions`, for a :class:`Segment`, a :class:`Polygon` of a plane, a
:class:`Box` or :class:`Polytope` in any dimension, or the whole input space (None).

Engines: :mod:`.line` (segments), :mod:`.plane` (convex polygons), :mod:`.space` (boxes,
polytopes and the whole space in any dimension); :mod:`.tiling` (2-D partitions through
an executor), :mod:`.sampling` (sampled estimates); :mod:`.result` (the result),
:mod:`._boundary` (decision boundaries), :mod:`._common` (checks, :class:`RegionLimitError`).
The 1-D engine's own names (:func:`segment_regions`, ...) are exported here too.
"""

import sys
import types

from ._common import RegionLimitError
from .api import Box, Polygon, Polytope, Segment, regions
from .line import (
    Piece1D,
    Region1D,
    SegmentBatch,
    SegmentRegions,
    segment_regions,
    segment_regions_batch,
)
from .result import Region, Regions

__all__ = [
    "Box",
    "Polygon",
    "Polytope",
    "Region",
    "RegionLimitError",
    "Regions",
    "Segment",
    "regions",
    "Piece1D",
    "Region1D",
    "SegmentBatch",
    "SegmentRegions",
    "segment_regions",
    "segment_regions_batch",
]


class _CallableModule(types.ModuleType):
    """``exactnet.regions`` is both this package and the function :func:`regions`."""

    def __call__(self, *args, **kwargs) -> Regions:
        return regions(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
