"""Exact linear regions: along segments (:mod:`.line`) and on convex polygons of a plane
(:mod:`.plane`), tiled partitions (:mod:`.tiling`) and sampled estimates (:mod:`.sampling`).

The 1-D names are exported here; the 2-D ones from :mod:`exactnet.regions.plane`.
"""

from .line import (
    Piece1D,
    Region1D,
    SegmentBatch,
    SegmentRegions,
    segment_regions,
    segment_regions_batch,
)

__all__ = [
    "Piece1D",
    "Region1D",
    "SegmentBatch",
    "SegmentRegions",
    "segment_regions",
    "segment_regions_batch",
]
