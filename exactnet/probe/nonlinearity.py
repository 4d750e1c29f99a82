"""The non-linearity signature of a network: the affinity score of every activation.

Bouniot, Redko et al., arXiv 2310.11439 (CVPR 2025): the signature of a network, for an
input distribution, is the vector of affinity scores ``rho_aff`` (:func:`affinity_score`)
of its activation modules in forward order. Here each activation call site is captured
(:func:`exactnet.probe.capture`, with an explicit reduction) and scored by the layer-wise
runner (:func:`exactnet.probe.layerwise`) with :class:`AffinityScore`; the result is a
table (name, type, d, n, score, seconds) and a picture.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..extras import require

require("torch", "the non-linearity signature")

import torch  # noqa: E402

from .affinity import NORMALIZATIONS, RIDGE_MODES, affinity_score  # noqa: E402
from .runner import LayerData, LayerwiseResult, layerwise, plot_layerwise  # noqa: E402

if TYPE_CHECKING:
    import os

    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from .recording import ModuleSelection
    from .reductions import ReductionLike

__all__ = ["AffinityScore", "signature", "plot_signatures"]

SHRINKAGE_CHOICES = (False, True, "ledoit-wolf", "auto")


@dataclass(frozen=True)
class AffinityScore:
    """The affinity score of a layer, as a score for :func:`~exactnet.probe.layerwise`:
    ``rho_aff = 1 - sqrt(W2^2(T#X, Y) / (2 tr Sigma_Y))`` of the layer's input rows X and
    output rows Y (:func:`~exactnet.probe.affinity_score`; Bouniot, Redko et al., arXiv
    2310.11439). Values: ``score``, ``shrinkage`` (Ledoit-Wolf used) and
    ``constant_output`` (scored 1 by definition).

    shrinkage : False (a layer with d >= n raises), True / "ledoit-wolf" (every layer) or
        "auto" (default: Ledoit-Wolf exactly for the layers with d >= n).
    ridge_mode : "relative" (default) or "absolute" (AffScoreDeep's 1e-6 I).
    The score is computed on the device the model ran on (CUDA when it ran there)."""

    normalization: str = "sqrt"
    shrinkage: bool | str = "auto"
    ridge_mode: str = "relative"

    name = "affinity"
    primary = "score"
    needs = ("input", "output")
    legend = {
        "shrinkage": "d >= n, scored with Ledoit-Wolf shrinkage",
        "constant_output": "the output is constant (its variance is at most 1e-6 of the input's, or within "
        "rounding); the score is 1 by definition",
    }

    def __post_init__(self) -> None:
        if self.shrinkage not in SHRINKAGE_CHOICES:
            raise ValueError(f"shrinkage={self.shrinkage!r}; use one of {SHRINKAGE_CHOICES}")
        if self.ridge_mode not in RIDGE_MODES:
            raise ValueError(f"ridge_mode={self.ridge_mode!r}; use one of {RIDGE_MODES}")
        if self.normalization not in NORMALIZATIONS:
            raise ValueError(f"normalization={self.normalization!r}; use one of {NORMALIZATIONS}")

    @property
    def options(self) -> dict[str, Any]:
        return {"normalization": self.normalization, "ridge_mode": self.ridge_mode, "shrinkage": self.shrinkage}

    def __call__(self, layer: LayerData) -> dict[str, Any]:
        assert layer.input is not None and layer.output is not None  # needs input and output
        n, d = layer.input.shape
        shrink = self.shrinkage in (True, "ledoit-wolf") or (self.shrinkage == "auto" and d >= n)
        res = affinity_score(
            layer.input,
            layer.output,
            normalization=self.normalization,
            shrinkage=shrink,
            ridge_mode=self.ridge_mode,
            device=layer.device,
            return_details=True,
        )
        return {"score": float(res.score), "shrinkage": bool(shrink), "constant_output": bool(res.constant_output)}


def signature(
    model: torch.nn.Module,
    data: torch.Tensor | Iterable[Any],
    *,
    name: str | None = None,
    modules: ModuleSelection | None = None,
    reduction: ReductionLike = "channel_mean",
    channel_axis: int | str | Mapping[str, int | str] = "auto",
    samples: int = 2048,
    batch_size: int = 256,
    normalization: str = "sqrt",
    shrinkage: bool | str = "auto",
    ridge_mode: str = "relative",
    device: str | torch.device | None = None,
    seed: int = 987,
    progress: bool = True,
) -> LayerwiseResult:
    """The non-linearity signature of ``model`` on ``data``: :func:`~exactnet.probe.layerwise`
    with :class:`AffinityScore`.

    Captures the input and output of every activation call site (``modules=``: which ones,
    as ``layers=`` of the runner), keeping at most ``samples`` rows per layer (bottom-k by
    seeded hash of the sample index), and scores each with the affinity score. Returns a
    :class:`~exactnet.probe.LayerwiseResult` whose rows have ``score``, ``shrinkage`` and
    ``constant_output``; ``device`` is where the model runs and the matrix functions are
    computed (CUDA when given; the assignment of the exact W2 runs on the CPU).
    """
    if not isinstance(samples, int) or isinstance(samples, bool) or samples < 2:
        raise ValueError(f"samples={samples!r}; at least 2 samples per layer are needed")
    score = AffinityScore(normalization=normalization, shrinkage=shrinkage, ridge_mode=ridge_mode)
    return layerwise(
        model,
        data,
        score,
        layers=modules,
        reduction=reduction,
        channel_axis=channel_axis,
        samples=samples,
        batch_size=batch_size,
        seed=seed,
        device=device,
        progress=progress,
        name=name,
    )


def plot_signatures(
    signatures: Sequence[LayerwiseResult] | Mapping[str, LayerwiseResult],
    *,
    ax: Axes | None = None,
    normalized_depth: bool | None = None,
    path: str | os.PathLike[str] | None = None,
    title: str | None = None,
) -> Figure:
    """Several signatures in one figure (:func:`~exactnet.probe.plot_layerwise` of the
    affinity scores): score against depth, one line per network, relative depth when
    there are several. Saves to ``path`` when given; returns the figure."""
    sigs = list(signatures.values()) if isinstance(signatures, Mapping) else list(signatures)
    if not sigs:
        raise ValueError("signatures is empty; pass one or more signatures")
    fig = plot_layerwise(
        sigs,
        key="score",
        ax=ax,
        normalized_depth=normalized_depth,
        path=None,
        title=title or "non-linearity signature (affinity score per activation)",
    )
    axis = fig.axes[0] if ax is None else ax
    axis.set_ylabel("affinity score")
    low = min(float(np.nanmin(s.scores)) for s in sigs)
    axis.set_ylim(min(0.0, low) - 0.02, 1.02)
    if path is not None:
        fig.savefig(path, dpi=120)
    return fig
