"""Estimators for large models: activation capture and per-layer scores."""

from .affinity import AffinityResult, affinity_score, gaussian_ot_map, ledoit_wolf_covariance, wasserstein2_squared
from .capture import ACTIVATION_TYPES, LayerCapture, Projection, activation_modules, capture, sample_priorities
from .signature import LayerScore, Signature, plot_signatures, signature

__all__ = [
    "AffinityResult",
    "affinity_score",
    "gaussian_ot_map",
    "ledoit_wolf_covariance",
    "wasserstein2_squared",
    "ACTIVATION_TYPES",
    "LayerCapture",
    "Projection",
    "activation_modules",
    "capture",
    "sample_priorities",
    "LayerScore",
    "Signature",
    "plot_signatures",
    "signature",
]
