"""Estimators for large models: activation capture and per-layer scores.

* :mod:`~exactnet.probe.affinity`: the affinity score (numpy or torch; torch optional).
* :mod:`~exactnet.probe.recording`: :func:`capture`, the inputs and outputs of every
  activation call site, recorded by hooks; :mod:`~exactnet.probe.reductions` turns
  activation tensors into rows, :mod:`~exactnet.probe.sampling` keeps a bounded sample,
  :mod:`~exactnet.probe.batches` streams the data.
* :mod:`~exactnet.probe.runner`: :func:`layerwise`, one pass of the data through a model
  and any per-layer score on what capture records, with one result type
  (:class:`LayerwiseResult`: table, JSON, plot).
* :mod:`~exactnet.probe.nonlinearity`: the non-linearity signature (the affinity score per
  layer through the runner).
* :mod:`~exactnet.probe.separability`: class separability of a representation, N1 (the
  fraction of points on the class boundary of a minimum spanning tree), exactly, and F1;
  :mod:`~exactnet.probe.companions`: N2, N3, GDV and the linear-probe accuracy.
* :mod:`~exactnet.probe.smp`: SMP, the non-smoothness along input paths, exact for
  piecewise-linear networks and sampled for any torch model (our formulation);
  :mod:`~exactnet.probe.smp_model`: its propagation model, layer by layer, against
  measurements (our derivation).

Capture and the signature need torch (the ``torch`` extra). Names are imported from their
submodules on first use, so ``exactnet.probe.affinity_score`` on numpy arrays never loads
torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..extras import lazy_exports

_EXPORTS = {
    "AffinityResult": ".affinity",
    "affinity_score": ".affinity",
    "gaussian_ot_map": ".affinity",
    "ledoit_wolf_covariance": ".affinity",
    "wasserstein2_squared": ".affinity",
    "ACTIVATION_TYPES": ".recording",
    "LayerCapture": ".recording",
    "activation_modules": ".recording",
    "capture": ".recording",
    "Projection": ".reductions",
    "sample_priorities": ".sampling",
    "AffinityScore": ".nonlinearity",
    "plot_signatures": ".nonlinearity",
    "signature": ".nonlinearity",
    "LayerData": ".runner",
    "N1Result": ".separability",
    "f1": ".separability",
    "n1": ".separability",
    "MEASURES": ".separability",
    "SeparabilityScore": ".separability",
    "layerwise_separability": ".separability",
    "gdv": ".companions",
    "linear_probe": ".companions",
    "n2": ".companions",
    "n3": ".companions",
    "LayerSMP": ".smp",
    "LazyPaths": ".smp",
    "PathSMP": ".smp",
    "SMPScore": ".smp",
    "exact_smp": ".smp",
    "layerwise_smp": ".smp",
    "paths_around": ".smp",
    "paths_between": ".smp",
    "sampled_smp": ".smp",
    "SMPPropagation": ".smp_model",
    "smp_propagation": ".smp_model",
    "LayerRow": ".runner",
    "LayerScoreFunction": ".runner",
    "LayerwiseResult": ".runner",
    "layerwise": ".runner",
    "layerwise_table": ".runner",
    "plot_layerwise": ".runner",
}

__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:
    from .affinity import AffinityResult, affinity_score, gaussian_ot_map, ledoit_wolf_covariance, wasserstein2_squared
    from .companions import gdv, linear_probe, n2, n3
    from .nonlinearity import AffinityScore, plot_signatures, signature
    from .recording import ACTIVATION_TYPES, LayerCapture, activation_modules, capture
    from .reductions import Projection
    from .runner import (
        LayerData,
        LayerRow,
        LayerScoreFunction,
        LayerwiseResult,
        layerwise,
        layerwise_table,
        plot_layerwise,
    )
    from .sampling import sample_priorities
    from .separability import MEASURES, N1Result, SeparabilityScore, f1, layerwise_separability, n1
    from .smp import (
        LayerSMP,
        LazyPaths,
        PathSMP,
        SMPScore,
        exact_smp,
        layerwise_smp,
        paths_around,
        paths_between,
        sampled_smp,
    )
    from .smp_model import SMPPropagation, smp_propagation
