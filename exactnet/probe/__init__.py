"""Estimators for large models: activation capture and per-layer scores.

* :mod:`~exactnet.probe.affinity`: the affinity score (numpy or torch; torch optional).
* :mod:`~exactnet.probe.recording`: :func:`capture`, the inputs and outputs of every
  activation call site, recorded by hooks; :mod:`~exactnet.probe.reductions` turns
  activation tensors into rows, :mod:`~exactnet.probe.sampling` keeps a bounded sample,
  :mod:`~exactnet.probe.batches` streams the data.
* :mod:`~exactnet.probe.nonlinearity`: the non-linearity signature (affinity per layer).

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
    "LayerScore": ".nonlinearity",
    "Signature": ".nonlinearity",
    "plot_signatures": ".nonlinearity",
    "signature": ".nonlinearity",
}

__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:
    from .affinity import AffinityResult, affinity_score, gaussian_ot_map, ledoit_wolf_covariance, wasserstein2_squared
    from .nonlinearity import LayerScore, Signature, plot_signatures, signature
    from .recording import ACTIVATION_TYPES, LayerCapture, activation_modules, capture
    from .reductions import Projection
    from .sampling import sample_priorities
