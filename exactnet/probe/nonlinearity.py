"""The non-linearity signature of a network: the affinity score of every activation.

Bouniot, Redko et al., arXiv 2310.11439 (CVPR 2025): the signature of a network, for an
input distribution, is the vector of affinity scores ``rho_aff`` (:func:`affinity_score`)
of its activation modules in forward order. Here each activation call site is captured
(:func:`exactnet.probe.capture`, with an explicit reduction) and scored; the result is a
table (name, type, d, n, score, seconds) and a picture.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from ..extras import require

require("torch", "the non-linearity signature")

import torch  # noqa: E402

from ._device import checked_device  # noqa: E402
from .affinity import RIDGE_MODES, affinity_score  # noqa: E402
from .recording import capture  # noqa: E402

__all__ = ["LayerScore", "Signature", "signature", "plot_signatures"]

SHRINKAGE_CHOICES = (False, True, "ledoit-wolf", "auto")


@dataclass(frozen=True)
class LayerScore:
    """One activation call site: its affinity score and what it was computed from."""

    name: str
    type: str
    d: int  # features per sample after the reduction
    n: int  # samples
    score: float
    seconds: float  # time of the score (capture excluded)
    shrinkage: bool  # Ledoit-Wolf used for this layer
    constant_output: bool = False  # tr Sigma_Y <= 2 ridge d: scored 1 by definition


@dataclass(frozen=True)
class Signature:
    """The per-layer affinity scores of one network, in forward order."""

    model: str
    layers: tuple[LayerScore, ...]
    reduction: str
    normalization: str
    samples: int
    seed: int
    capture_seconds: float
    info: dict = field(default_factory=dict)
    ridge_mode: str = "relative"  # see affinity_score

    @property
    def scores(self) -> np.ndarray:
        return np.array([layer.score for layer in self.layers])

    def to_json(self) -> dict:
        return {
            "model": self.model,
            "reduction": self.reduction,
            "normalization": self.normalization,
            "ridge_mode": self.ridge_mode,
            "samples": self.samples,
            "seed": self.seed,
            "capture_seconds": self.capture_seconds,
            "layers": [asdict(layer) for layer in self.layers],
            **({"info": self.info} if self.info else {}),
        }

    def table(self) -> str:
        """A plain-text table, one row per activation call site."""
        width = max([len("name")] + [len(layer.name) for layer in self.layers])
        kinds = max([len("type")] + [len(layer.type) for layer in self.layers])
        lines = [f"{'#':>3}  {'name':<{width}}  {'type':<{kinds}}  {'d':>6}  {'n':>6}  {'score':>8}  {'time s':>7}"]
        for k, layer in enumerate(self.layers):
            mark = (" LW" if layer.shrinkage else "") + (" const" if layer.constant_output else "")
            lines.append(
                f"{k:>3}  {layer.name:<{width}}  {layer.type:<{kinds}}  {layer.d:>6}  {layer.n:>6}  "
                f"{layer.score:>8.4f}  {layer.seconds:>7.3f}{mark}"
            )
        if any(layer.shrinkage for layer in self.layers):
            lines.append("LW: d >= n, scored with Ledoit-Wolf shrinkage")
        if any(layer.constant_output for layer in self.layers):
            rule = (
                "tr cov(Y) <= 1e-6 tr cov(X), or within rounding"
                if self.ridge_mode == "relative"
                else "tr cov(Y) <= 1e-6 d"
            )
            lines.append(f"const: the output is constant ({rule}); the score is 1 by definition")
        return "\n".join(lines)

    def __str__(self) -> str:
        return f"non-linearity signature of {self.model} ({self.reduction}, n={self.samples}):\n{self.table()}"

    def plot(self, ax=None, **kwargs):
        """Draw the scores against the layer index on ``ax`` (a new figure if None)."""
        return plot_signatures([self], ax=ax, normalized_depth=False, **kwargs)


def signature(
    model: torch.nn.Module,
    data: Any,
    *,
    name: str | None = None,
    modules: Any = None,
    reduction: Any = "channel_mean",
    channel_axis: Any = "auto",
    samples: int = 2048,
    batch_size: int = 256,
    normalization: str = "sqrt",
    shrinkage: bool | str = "auto",
    ridge_mode: str = "relative",
    device: str | torch.device | None = None,
    seed: int = 987,
    progress: bool = True,
) -> Signature:
    """The non-linearity signature of ``model`` on ``data``.

    Captures the input and output of every activation call site (:func:`capture`, keeping
    at most ``samples`` rows per layer, bottom-k by seeded hash of the sample index) and
    scores each with :func:`affinity_score` (``rho_aff = 1 - sqrt(W2^2(T#X, Y) / (2 tr
    Sigma_Y))``, Bouniot, Redko et al., arXiv 2310.11439).

    shrinkage : False (a layer with d >= n raises), True / "ledoit-wolf" (every layer) or
        "auto" (default: Ledoit-Wolf exactly for the layers with d >= n, marked in the
        table and the JSON).
    ridge_mode : "relative" (default) or "absolute" (AffScoreDeep's 1e-6 I), see
        :func:`affinity_score`.
    device : where the model runs and the matrix functions are computed (CUDA when given);
        the assignment of the exact W2 runs on the CPU.
    """
    if shrinkage not in SHRINKAGE_CHOICES:
        raise ValueError(f"shrinkage={shrinkage!r}; use one of {SHRINKAGE_CHOICES}")
    if ridge_mode not in RIDGE_MODES:
        raise ValueError(f"ridge_mode={ridge_mode!r}; use one of {RIDGE_MODES}")
    if not isinstance(samples, int) or samples < 2:
        raise ValueError(f"samples={samples!r}; at least 2 samples per layer are needed")
    t0 = time.perf_counter()
    caps = capture(
        model,
        data,
        modules=modules,
        reduction=reduction,
        channel_axis=channel_axis,
        max_samples=samples,
        batch_size=batch_size,
        seed=seed,
        device=device,
        progress=progress,
    )
    capture_seconds = time.perf_counter() - t0
    score_device = (
        checked_device(device)
        if device is not None
        else next((p.device for p in model.parameters()), torch.device("cpu"))
    )
    layers = []
    items = list(caps.items())
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(items), desc="affinity scores", unit="layer")
    try:
        for layer_name, cap in items:
            assert cap.input is not None and cap.output is not None  # both sides are captured
            n, d = cap.input.shape
            shrink = shrinkage in (True, "ledoit-wolf") or (shrinkage == "auto" and d >= n)
            t = time.perf_counter()
            try:
                res = affinity_score(
                    cap.input,
                    cap.output,
                    normalization=normalization,
                    shrinkage=shrink,
                    ridge_mode=ridge_mode,
                    device=score_device,
                    return_details=True,
                )
            except ValueError as exc:
                raise ValueError(f"layer {layer_name!r} ({cap.type}, n={n}, d={d}): {exc}") from exc
            layers.append(
                LayerScore(
                    name=layer_name,
                    type=cap.type,
                    d=d,
                    n=n,
                    score=float(res.score),
                    seconds=time.perf_counter() - t,
                    shrinkage=bool(shrink),
                    constant_output=bool(res.constant_output),
                )
            )
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    red = reduction if isinstance(reduction, str) else str(reduction)
    return Signature(
        model=name or type(model).__name__,
        layers=tuple(layers),
        reduction=red,
        normalization=normalization,
        samples=samples,
        seed=seed,
        capture_seconds=capture_seconds,
        ridge_mode=ridge_mode,
    )


def plot_signatures(signatures, *, ax=None, normalized_depth: bool | None = None, path=None, title=None):
    """Several signatures in one figure: score against depth, one line per network.

    With ``normalized_depth`` (default when more than one signature is drawn) the x axis is
    the relative depth k / (L - 1), so networks with different numbers of activations can
    be compared; a single signature is drawn against the layer index with the layer names
    as ticks. Saves to ``path`` (PNG or SVG) when given; returns the figure."""
    require("matplotlib", "plot_signatures")
    import matplotlib

    if ax is None and path is not None:
        matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    sigs = list(signatures.values()) if isinstance(signatures, dict) else list(signatures)
    if not sigs:
        raise ValueError("signatures is empty; pass one or more Signature objects")
    if normalized_depth is None:
        normalized_depth = len(sigs) > 1
    if ax is None:
        width = 7 if normalized_depth else max(6, 0.22 * len(sigs[0].layers) + 2)
        fig, ax = plt.subplots(figsize=(width, 4))
    else:
        fig = ax.figure
    for sig in sigs:
        k = np.arange(len(sig.layers))
        x = k / max(len(k) - 1, 1) if normalized_depth else k
        ax.plot(x, sig.scores, marker="o", markersize=3, linewidth=1.2, label=f"{sig.model} ({len(k)})")
    if normalized_depth:
        ax.set_xlabel("relative depth of the activation")
    else:
        names = [layer.name for layer in sigs[0].layers]
        ax.set_xticks(np.arange(len(names)))
        ax.set_xticklabels(names, rotation=90, fontsize=6)
        ax.set_xlabel("activation (forward order)")
    ax.set_ylabel("affinity score")
    ax.set_ylim(min(0.0, float(np.nanmin(np.concatenate([s.scores for s in sigs]))) - 0.02), 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(title or "non-linearity signature (affinity score per activation)")
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=120)
    return fig
