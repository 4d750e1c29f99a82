"""exactnet: what ReLU networks compute, exactly.

* Lowering: :class:`Network` (from arrays or rationals), :func:`from_torch`,
  :func:`load_network`.
* Exact linear regions in any dimension: ``exactnet.regions(net, domain)`` on a
  :class:`Segment`, :class:`Polygon`, :class:`Box`, :class:`Polytope` or the whole space,
  one :class:`Regions` result; along many segments at once: :func:`segment_regions_batch`.
* Theory: region-count bounds and neuron thresholds in :mod:`exactnet.theory`.
* Estimators for large models: :func:`affinity_score` and activation capture in
  :mod:`exactnet.probe`.
* Linear regions through training: :func:`track` (exact snapshots from a training loop),
  :func:`load_run`, and data, a trainer and runs in :mod:`exactnet.training`.
* One report for a whole network (HTML, self-contained): :func:`report`.
* Hypothesis strategies for property tests: :mod:`exactnet.strategies`.

``import exactnet`` is light (numpy only): each name below is imported from its
submodule on first use, and torch, matplotlib, sympy, scikit-learn and hypothesis only by
the functions that need them (see :mod:`exactnet.extras`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .extras import lazy_exports

__version__ = "0.1.0"

_EXPORTS = {
    "affinity_score": ".probe.affinity",
    "n1": ".probe.separability",
    "Layer": ".net.network",
    "Network": ".net.network",
    "UnsupportedLayerError": ".net.lowering",
    "from_torch": ".net.lowering",
    "load_network": ".net.io",
    "save_npz": ".net.io",
    "Piece1D": ".regions.line",
    "Region1D": ".regions.line",
    "SegmentBatch": ".regions.line",
    "SegmentRegions": ".regions.line",
    "segment_regions": ".regions.line",
    "segment_regions_batch": ".regions.line",
    "Regions": ".regions.result",
    "Region": ".regions.result",
    "RegionLimitError": ".regions._common",
    "Segment": ".regions.api",
    "Polygon": ".regions.api",
    "Box": ".regions.space.domain",
    "Polytope": ".regions.space.domain",
    "report": ".reporting.build",
    "track": ".training.tracking",
    "load_run": ".training.tracking",
}

__all__ = list(_EXPORTS) + ["regions"]
_getattr, __dir__ = lazy_exports(__name__, _EXPORTS)


def __getattr__(name: str) -> Any:
    if name == "regions":  # the package exactnet.regions, which is callable: exactnet.regions(net, domain)
        import importlib

        return importlib.import_module(".regions", __name__)
    return _getattr(name)


if TYPE_CHECKING:  # what the names are, for type checkers and editors
    from .net.io import load_network, save_npz
    from .net.lowering import UnsupportedLayerError, from_torch
    from .net.network import Layer, Network
    from .probe.affinity import affinity_score
    from .probe.separability import n1
    from .regions._common import RegionLimitError
    from .regions.api import Polygon, Segment
    from .regions.line import (
        Piece1D,
        Region1D,
        SegmentBatch,
        SegmentRegions,
        segment_regions,
        segment_regions_batch,
    )
    from .regions.result import Region, Regions
    from .regions.space.domain import Box, Polytope
    from .reporting.build import report
    from .training.tracking import load_run, track
