"""Linear regions of a network along a segment (the 1-D engine).

The segment from ``start`` to ``end`` in input space is parametrised by
x(t) = start + t (end - start), t in [0, 1]. Along it the network is a continuous
piecewise-linear function of t. Definitions (Serra, Tjandraatmadja, Ramalingam, ICML 2018;
docs/definitions.md, "Linear regions"):

* **region**: a maximal open interval of t on which the full activation pattern (``z > 0``
  of every neuron) is constant; a neuron identically zero on an interval does not split it;
* **breakpoint**: a point of (0, 1) where the pattern changes (several neurons switching
  at the same t make one breakpoint);
* **linear piece**: a maximal run of adjacent regions on which every output has one
  affine map (pieces <= regions);
* **non-empty patterns**: the patterns realised by at least one point of the closed
  segment, including those realised only at a breakpoint or an end;
* **kink** of output k: a breakpoint where the slope of output k changes;
* **exact SMP** of output k (docs/definitions.md, "SMP": our formulation): the sum over its kinks of
  |slope jump|, with slopes taken per unit of t (multiply by 1 / ``length`` for slopes
  per unit of Euclidean path length).

Two modes give the same answer: ``exact=True`` computes in integers and returns
``fractions.Fraction`` values; the default float mode runs a certified float64 kernel on a
batch of segments and decides exactly (with the exact engine) every segment where a float
decision could not be certified, so its counts and patterns are the exact ones and its
numbers are the exact ones rounded (breakpoints within ``breakpoint_errors``).
Modules: :mod:`.segments` (:func:`segment_regions`, :func:`segment_regions_batch`),
:mod:`.results` (the result types), and the engines: ``_exact`` (Python integers, the
definition), ``_exact_kernel`` with ``_exact_pooled`` (compiled big integers, for batches)
and ``_float_kernel`` (certified float64).
"""

from __future__ import annotations

from .results import ExactSegmentBatch, Piece1D, Region1D, SegmentBatch, SegmentRegions
from .segments import KERNEL_MIN_SEGMENTS, segment_regions, segment_regions_batch

__all__ = [
    "ExactSegmentBatch",
    "KERNEL_MIN_SEGMENTS",
    "Piece1D",
    "Region1D",
    "SegmentBatch",
    "SegmentRegions",
    "segment_regions",
    "segment_regions_batch",
]
