"""Exact linear regions: along segments (1-D); polygons and boxes follow."""

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
