"""exactnet: what ReLU networks compute, exactly.

* Lowering: :class:`Network` (from arrays or rationals), :func:`from_torch`,
  :func:`load_network`.
* Exact regions along segments: :func:`segment_regions` (exact or certified float) and
  :func:`segment_regions_batch` (many segments at once).
* Theory: region-count bounds and neuron thresholds in :mod:`exactnet.theory`.
* Estimators for large models: :func:`affinity_score` and activation capture in
  :mod:`exactnet.probe`.
* Hypothesis strategies for property tests: :mod:`exactnet.strategies`.
"""

from .net import (
    Layer,
    Network,
    UnsupportedLayerError,
    from_torch,
    load_network,
    save_npz,
)
from .probe.affinity import affinity_score
from .regions import (
    Piece1D,
    Region1D,
    SegmentBatch,
    SegmentRegions,
    segment_regions,
    segment_regions_batch,
)

__version__ = "0.1.0"

__all__ = [
    "affinity_score",
    "Layer",
    "Network",
    "UnsupportedLayerError",
    "from_torch",
    "load_network",
    "save_npz",
    "Piece1D",
    "Region1D",
    "SegmentBatch",
    "SegmentRegions",
    "segment_regions",
    "segment_regions_batch",
]
