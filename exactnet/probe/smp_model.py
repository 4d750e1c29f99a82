"""How SMP propagates through a network: a statistical model of each layer's SMP from the
statistics of the layer before it, compared with measurements (docs/smp.md; **our
derivation**, after Liu, Wong & Dai, "Modeling the Nonsmoothness of Modern Neural
Networks", arXiv 2103.14731, whose full text could not be consulted).

Take paths x(t) through the inputs and, for every element j of a layer's tensor (a unit;
for a convolution, one channel at one position), its values g_j(t) along each path. The
statistics of a layer are, per element: the mean SMP over the paths (:mod:`.smp`, the
sampled SMP), and the moments of g over the paths and t in [0, 1]: the mean mu, the
variance lambda_0 and the mean square slope lambda_2 = E[g'(t)^2]. The model predicts the
mean SMP of every element of a layer's output from its input's statistics:

* **Linear layers** (``Linear``, ``Conv1d``/``Conv2d`` with zero padding, average
  pooling, batch norm in evaluation, flatten): an output sums its inputs' slopes, so at
  a kink of input i its slope jumps by W_ji times that input's jump. When the inputs'
  kinks sit at distinct t, SMP_j = sum_i |W_ji| SMP_i exactly (the triangle inequality
  makes it an upper bound otherwise); for a convolution that sum is the convolution of the
  input's SMP map with |W|. With i.i.d. N(0, s^2) weights its expectation is
  s sqrt(2/pi) sum_i SMP_i.
* **ReLU** (and leaky ReLU, negative slope alpha): an input kink is kept, scaled by 1
  where g > 0 and by |alpha| where g < 0; a new kink appears at each zero crossing t* of
  g, of size |1 - alpha| |g'(t*)|. Modelling g(t) at a random t of a random path as
  N(mu, lambda_0) independent of g'(t): keep = (Phi(mu / sigma) + |alpha| Phi(-mu /
  sigma)) SMP_in, and by the Kac-Rice formula (the sum over crossings of |g'| is the
  integral of g'^2 delta(g) dt) new = |1 - alpha| lambda_2 exp(-mu^2 / (2 lambda_0)) /
  sqrt(2 pi lambda_0). The crossing count itself is Rice's
  (1/pi) sqrt(lambda_2 / lambda_0) exp(-mu^2 / (2 lambda_0)) for a stationary Gaussian g.
* **Max pooling** over a window of k inputs (no padding): the window's maximum keeps the
  kinks of the input that is the maximum (each input a fraction 1/k of the time for
  exchangeable inputs: keep = the window's mean SMP_in), and gains a kink where the
  arg-max switches from i to j, of size |g_i' - g_j'|. Each pair's difference
  delta = g_i - g_j gives the Kac-Rice term E[delta'^2] exp(-mu_d^2 / (2 var_d)) /
  sqrt(2 pi var_d), counted when the tied pair is on top: for exchangeable Gaussian
  inputs that probability is P_top(k) = E[Phi(x)^(k - 2)], x ~ N(0, 1/2) (1 for k = 2, 1/2
  for k = 3, 1/4 + arcsin(1/3) / (2 pi) for k = 4). switch = P_top(k) sum over pairs.

:func:`smp_propagation` runs a small ``nn.Sequential`` layer by layer along paths,
measures every layer's statistics and reports, per layer, the predicted and measured mean
SMP (:class:`SMPPropagation`: table, JSON, plot). Each layer is predicted from the
*measured* statistics of its input (one step), so errors do not compound.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import torch
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "LayerStatistics",
    "PropagationRow",
    "SMPPropagation",
    "predict_linear",
    "predict_max_pool",
    "predict_relu",
    "smp_propagation",
    "top_pair_probability",
]


def top_pair_probability(k: int) -> float:
    """P_top(k) = E[Phi(x)^(k - 2)] for x ~ N(0, 1/2): the probability that two tied
    inputs of a window of k exchangeable Gaussian inputs are above the k - 2 others
    (module docstring). Gauss-Hermite quadrature with 80 nodes."""
    if k < 2:
        raise ValueError(f"k={k}; a max-pooling window with a switch has at least 2 inputs")
    if k == 2:
        return 1.0
    from scipy.special import ndtr

    y, w = np.polynomial.hermite.hermgauss(80)
    return float(np.sum(w * ndtr(y) ** (k - 2)) / math.sqrt(math.pi))


@dataclass(frozen=True)
class LayerStatistics:
    """A layer's statistics along the paths, per element (arrays of the layer's element
    shape, e.g. (channels, length)): ``smp`` the mean sampled SMP over the paths, ``mean``
    (mu), ``variance`` (lambda_0) and ``slope_square`` (lambda_2 = E[g'^2], per unit of t)
    over the paths and t in [0, 1]."""

    smp: np.ndarray
    mean: np.ndarray
    variance: np.ndarray
    slope_square: np.ndarray


def predict_linear(module: torch.nn.Module, smp_in: np.ndarray) -> np.ndarray:
    """The predicted mean SMP of every output element of a linear ``module`` from its
    input elements' mean SMP (an array of the input's element shape): sum_i |W_ji| SMP_i
    (module docstring), i.e. the module's linear part with |W| and no bias applied to the
    SMP map."""
    import torch
    from torch import nn
    from torch.nn import functional as F

    x = torch.as_tensor(np.asarray(smp_in, dtype=np.float64))[None]
    with torch.no_grad():
        if isinstance(module, nn.Linear):
            out = x @ module.weight.detach().double().abs().T
        elif isinstance(module, (nn.Conv1d, nn.Conv2d)):
            if module.padding_mode != "zeros" or isinstance(module.padding, str) and module.padding != "valid":
                raise ValueError(
                    f"{module}: the propagation model supports zero or no padding given as numbers; "
                    "set padding= to integers and padding_mode='zeros'"
                )
            conv = F.conv1d if isinstance(module, nn.Conv1d) else F.conv2d
            out = conv(
                x, module.weight.detach().double().abs(), None, module.stride, module.padding, module.dilation,
                module.groups,
            )  # fmt: skip
        elif isinstance(module, (nn.AvgPool1d, nn.AvgPool2d, nn.Flatten, nn.Identity, nn.Dropout)):
            out = module(x)  # positive weights: the module itself is its |W|
        elif isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
            if module.training or module.running_var is None:
                raise ValueError(f"{module}: batch norm is linear only in evaluation mode; call model.eval()")
            gain = (module.running_var.double() + module.eps).rsqrt()
            if module.weight is not None:
                gain = gain * module.weight.detach().double()
            out = x * gain.abs().view((1, -1) + (1,) * (x.dim() - 2))
        else:
            raise ValueError(f"{type(module).__name__} is not a linear layer of the propagation model")
    return out[0].numpy()


def _normal_cdf(x: np.ndarray) -> np.ndarray:
    from scipy.special import ndtr

    return np.asarray(ndtr(x))


def _rice(slope_square: np.ndarray, mean: np.ndarray, variance: np.ndarray) -> np.ndarray:
    """E[g'^2 delta(g)] for g ~ N(mean, variance) independent of g': the expected sum of
    |g'| over the zero crossings of g per unit of t (0 where the variance is 0)."""
    var = np.asarray(variance, dtype=float)
    safe = np.where(var > 0, var, 1.0)
    out = slope_square * np.exp(-(np.asarray(mean) ** 2) / (2 * safe)) / np.sqrt(2 * np.pi * safe)
    return np.where(var > 0, out, 0.0)


def predict_relu(stats: LayerStatistics, negative_slope: float = 0.0) -> dict[str, np.ndarray]:
    """The predicted mean SMP of relu(g) (leaky with ``negative_slope``) per element from
    g's statistics (module docstring): ``keep`` (input kinks kept), ``new`` (zero
    crossings, Kac-Rice) and their sum ``smp``."""
    a = abs(float(negative_slope))
    sigma = np.sqrt(np.maximum(stats.variance, 0.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(sigma > 0, stats.mean / np.where(sigma > 0, sigma, 1.0), np.sign(stats.mean) * np.inf)
    positive = np.where(np.isnan(z), 0.0, _normal_cdf(np.nan_to_num(z, nan=-np.inf)))
    keep = (positive + a * (1 - positive)) * stats.smp
    new = abs(1 - float(negative_slope)) * _rice(stats.slope_square, stats.mean, stats.variance)
    return {"keep": keep, "new": new, "smp": keep + new}


def _windows(module: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The max-pooling windows of x (n, C, *spatial) as (n, C, *out, k)."""
    from torch import nn

    def pair(v: Any) -> tuple[int, int]:
        return (v, v) if isinstance(v, int) else (int(v[0]), int(v[1]))

    if isinstance(module, nn.MaxPool1d):
        k, s, p, d = (
            int(np.atleast_1d(v)[0]) for v in (module.kernel_size, module.stride, module.padding, module.dilation)
        )
        if p or d != 1 or module.ceil_mode:
            raise ValueError(
                f"{module}: the propagation model supports max pooling without padding, dilation or ceil_mode"
            )
        return x.unfold(2, k, s)
    kh, kw = pair(module.kernel_size)
    sh, sw = pair(module.stride)
    if any(pair(module.padding)) or pair(module.dilation) != (1, 1) or module.ceil_mode:
        raise ValueError(f"{module}: the propagation model supports max pooling without padding, dilation or ceil_mode")
    w = x.unfold(2, kh, sh).unfold(3, kw, sw)
    return w.reshape(w.shape[:4] + (kh * kw,))


def _moments(g: torch.Tensor, margin: int, h: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per element of g (paths, samples, *element): mean, variance and mean square slope
    over the paths and the samples in [0, 1]."""
    inside = g[:, margin : g.shape[1] - margin]
    flat = inside.reshape((-1,) + tuple(inside.shape[2:]))
    mean = flat.mean(dim=0)
    variance = flat.var(dim=0, unbiased=False)
    slope = (inside[:, 1:] - inside[:, :-1]) / h
    slope_square = slope.square().reshape((-1,) + tuple(slope.shape[2:])).mean(dim=0)
    return mean.cpu().numpy(), variance.cpu().numpy(), slope_square.cpu().numpy()


def _moments_where(
    g: torch.Tensor, active: torch.Tensor, margin: int, h: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`_moments` over the samples where ``active`` (slopes: where both ends of the
    step are), and the share of active samples."""
    inside = g[:, margin : g.shape[1] - margin]
    on = active[:, margin : active.shape[1] - margin].to(g.dtype)
    count = on.sum(dim=(0, 1))
    safe = count.clamp_min(1)
    mean = (inside * on).sum(dim=(0, 1)) / safe
    variance = ((inside - mean).square() * on).sum(dim=(0, 1)) / safe
    both = on[:, 1:] * on[:, :-1]
    slope = (inside[:, 1:] - inside[:, :-1]) / h
    slope_square = (slope.square() * both).sum(dim=(0, 1)) / both.sum(dim=(0, 1)).clamp_min(1)
    share = count / (on.shape[0] * on.shape[1])
    return mean.cpu().numpy(), variance.cpu().numpy(), slope_square.cpu().numpy(), share.cpu().numpy()


def predict_max_pool(
    module: torch.nn.Module, x: torch.Tensor, smp_in: np.ndarray, margin: int, h: float
) -> dict[str, np.ndarray]:
    """The predicted mean SMP of a max-pooling ``module``'s outputs (module docstring) from
    its input x (paths, samples, C, *spatial) and the input's mean SMP map: ``keep`` (the
    window's mean input SMP), ``switch`` (the arg-max switches: P_top(k) times the sum of
    the pairs' Kac-Rice terms) and ``smp``."""
    import torch
    from torch.nn import functional as F

    paths, samples = x.shape[:2]
    windows = _windows(module, x.reshape((paths * samples,) + tuple(x.shape[2:])))
    k = windows.shape[-1]
    switch = np.zeros(tuple(windows.shape[1:-1]))
    rectified = bool((x >= 0).all())
    shape = (paths, samples) + tuple(windows.shape[1:-1])
    for i in range(k):
        for j in range(i + 1, k):
            delta = (windows[..., i] - windows[..., j]).reshape(shape)
            if rectified:  # ties at 0 of two inputs both 0 are no kinks: the term over where one is positive
                active = ((windows[..., i] > 0) & (windows[..., j] > 0)).reshape(shape)
                mean, variance, slope_square, share = _moments_where(delta, active, margin, h)
                switch += share * _rice(slope_square, mean, variance)
            else:
                mean, variance, slope_square = _moments(delta, margin, h)
                switch += _rice(slope_square, mean, variance)
    switch *= top_pair_probability(k)
    smp = torch.as_tensor(np.asarray(smp_in, dtype=np.float64))[None]
    pool = F.avg_pool1d if smp.dim() == 3 else F.avg_pool2d
    kernel: Any = module.kernel_size
    stride: Any = module.stride
    keep = pool(smp, kernel, stride)[0].numpy()
    return {"keep": keep, "switch": switch, "smp": keep + switch}


@dataclass(frozen=True)
class PropagationRow:
    """One layer of :func:`smp_propagation`: ``kind`` (``linear``, ``relu``, ``max_pool``),
    the mean over elements of the input's and output's measured SMP and of the predicted
    SMP, their spread over elements (``measured_std``, ``predicted_std``), the Pearson
    correlation of predicted and measured over elements (``nan`` when either is constant),
    and the prediction's ``parts`` (their means: ``keep``/``new`` for a ReLU,
    ``keep``/``switch`` for max pooling)."""

    name: str
    kind: str
    units: int
    measured_in: float
    measured: float
    predicted: float
    measured_std: float
    predicted_std: float
    correlation: float
    parts: dict[str, float] = field(default_factory=dict)

    @property
    def ratio(self) -> float:
        """predicted / measured (``nan`` when both are 0, ``inf`` when only measured is)."""
        if self.measured == 0:
            return float("nan") if self.predicted == 0 else float("inf")
        return self.predicted / self.measured


@dataclass(frozen=True)
class SMPPropagation:
    """Predicted against measured SMP per layer (:func:`smp_propagation`)."""

    model: str
    paths: int
    steps: int
    h: float
    rows: tuple[PropagationRow, ...]

    def table(self) -> str:
        """One row per layer: the input's measured SMP, the predicted and measured SMP of
        the output (means over elements), their ratio and correlation over elements, and
        the prediction's parts."""
        head = (
            f"{'layer':<16} {'kind':<9} {'units':>6} {'SMP in':>10} {'predicted':>10} {'measured':>10} "
            f"{'ratio':>7} {'corr':>6}  parts"
        )
        lines = [f"{self.model}: {self.paths} paths x {self.steps} steps (h = {self.h:.3g})", head]
        for r in self.rows:
            parts = ", ".join(f"{k} {v:.4g}" for k, v in r.parts.items())
            lines.append(
                f"{r.name:<16} {r.kind:<9} {r.units:>6} {r.measured_in:>10.4g} {r.predicted:>10.4g} "
                f"{r.measured:>10.4g} {r.ratio:>7.3f} {r.correlation:>6.3f}  {parts}"
            )
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.table()

    def _repr_html_(self) -> str:
        """The notebook display: predicted against measured per layer, and the plot."""
        from .._html import figure_tag, table_html

        rows = [
            (r.name, r.kind, r.units, r.measured_in, r.predicted, r.measured, r.ratio, r.correlation) for r in self.rows
        ]
        header = ("layer", "kind", "units", "SMP in", "predicted", "measured", "ratio", "corr")
        out = f"<b>SMP propagation, {self.model}</b>" + table_html(rows, header)
        try:
            out += figure_tag(self.plot(), "measured and predicted SMP per layer")
        except ImportError:  # no matplotlib: the table alone
            pass
        return out

    def to_json(self) -> dict[str, Any]:
        """The result as JSON-ready data (``layers``: one dict per row, with ``ratio``)."""
        layers = []
        for r in self.rows:
            d = asdict(r)
            d["ratio"] = r.ratio
            layers.append({k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in d.items()})
        return {"model": self.model, "paths": self.paths, "steps": self.steps, "h": self.h, "layers": layers}

    def plot(self, ax: Axes | None = None, title: str | None = None) -> Figure:
        """Measured (dots) and predicted (crosses) mean SMP per layer (symmetric log
        scale), the layers (index: module type) on the x axis."""
        from ..extras import require

        require("matplotlib", "SMPPropagation.plot")
        import matplotlib.pyplot as plt

        fig: Any
        if ax is None:
            fig, ax = plt.subplots(figsize=(max(5.0, 0.55 * len(self.rows) + 2), 3.6))
        else:
            fig = ax.figure
        x = np.arange(len(self.rows))
        measured = np.array([r.measured for r in self.rows])
        predicted = np.array([r.predicted for r in self.rows])
        ax.plot(x, measured, "o-", color="C0", label="measured")
        ax.plot(x, predicted, "x--", color="C3", label="predicted from the layer before")
        ax.set_yscale("symlog", linthresh=max(1e-3, 0.01 * float(np.nanmax(np.r_[measured, predicted, 1e-3]))))
        ax.set_xticks(x, [r.name for r in self.rows], rotation=60, ha="right", fontsize=8)
        ax.set_ylabel("mean SMP per element (per unit t)")
        ax.set_title(title or self.model, fontsize=10)
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
        fig.tight_layout()
        return fig


LINEAR_TYPES = (
    "Linear",
    "Conv1d",
    "Conv2d",
    "AvgPool1d",
    "AvgPool2d",
    "BatchNorm1d",
    "BatchNorm2d",
    "Flatten",
    "Identity",
    "Dropout",
)


def _kind(module: torch.nn.Module) -> str:
    from torch import nn

    if isinstance(module, (nn.ReLU, nn.LeakyReLU)):
        return "relu"
    if isinstance(module, (nn.MaxPool1d, nn.MaxPool2d)):
        return "max_pool"
    if type(module).__name__ in LINEAR_TYPES:
        return "linear"
    raise ValueError(
        f"{type(module).__name__} is not in the propagation model: it covers ReLU, LeakyReLU, MaxPool1d/2d and the "
        f"linear layers {', '.join(LINEAR_TYPES)}; give an nn.Sequential of those"
    )


def smp_propagation(
    model: torch.nn.Sequential,
    paths: Any,
    *,
    margin: int = 2,
    threshold: float = 10.0,
    max_width: int = 4,
    name: str | None = None,
    progress: bool = True,
) -> SMPPropagation:
    """Run ``model`` (an ``nn.Sequential`` of the layers of the module docstring) layer
    by layer along ``paths`` (a tensor (paths, steps, *input), or lazy paths, with
    ``margin`` samples beyond each end, :func:`~exactnet.probe.smp.paths_between`); at
    every layer measure its input's statistics (:class:`LayerStatistics`) and its
    output's sampled SMP per element, predict the output's SMP from the input's
    statistics, and return both per layer. Everything is held in memory at once, one
    layer at a time (paths x steps x elements values): this is for small networks."""
    import torch
    from torch import nn

    from .smp import sampled_smp

    if not isinstance(model, nn.Sequential):
        raise ValueError(f"model must be an nn.Sequential of the model's layers, got {type(model).__name__}")
    kinds = [_kind(m) for m in model]  # unsupported layers fail before any work
    if hasattr(paths, "dense"):
        paths = paths.dense()
    if not isinstance(paths, torch.Tensor) or paths.dim() < 3:
        raise ValueError("paths must be a tensor (paths, steps, *input_shape), e.g. paths_between(a, b, steps)")
    n_paths, samples = int(paths.shape[0]), int(paths.shape[1])
    if samples - 2 * margin < 3:
        raise ValueError(f"paths have {samples} samples with margin {margin}; at least 3 inside are needed")
    h = 1.0 / (samples - 1 - 2 * margin)
    dtype = next((p.dtype for p in model.parameters()), paths.dtype)
    eps = float(torch.finfo(dtype).eps)

    def smp_map(g: torch.Tensor) -> np.ndarray:
        rows = g.reshape(n_paths, samples, -1).transpose(1, 2)
        scale = float(rows.abs().max()) if rows.numel() else 0.0
        smp = sampled_smp(
            rows, h, threshold=threshold, max_width=max_width, eps=eps, scale=scale, t0=-margin * h, window=(0.0, 1.0)
        )
        return smp.mean(dim=0).reshape(g.shape[2:]).cpu().numpy()

    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(model), desc="SMP propagation", unit="layer")
    x = paths.to(dtype)
    smp_in = smp_map(x)
    rows = []
    model.eval()
    try:
        for index, (module, kind) in enumerate(zip(model, kinds)):
            with torch.no_grad():
                flat = x.reshape((n_paths * samples,) + tuple(x.shape[2:]))
                y = module(flat)
                y = y.reshape((n_paths, samples) + tuple(y.shape[1:]))
            smp_out = smp_map(y)
            parts: dict[str, np.ndarray] = {}
            if kind == "linear":
                predicted = predict_linear(module, smp_in)
            elif kind == "relu":
                mean, variance, slope_square = _moments(x, margin, h)
                slope = float(getattr(module, "negative_slope", 0.0))
                parts = predict_relu(LayerStatistics(smp_in, mean, variance, slope_square), slope)
                predicted = parts.pop("smp")
            else:
                parts = predict_max_pool(module, x, smp_in, margin, h)
                predicted = parts.pop("smp")
            if predicted.shape != smp_out.shape:
                raise AssertionError(f"{module}: predicted shape {predicted.shape} != measured {smp_out.shape}")
            a, b = predicted.ravel(), smp_out.ravel()
            corr = float(np.corrcoef(a, b)[0, 1]) if a.size > 1 and a.std() > 0 and b.std() > 0 else float("nan")
            rows.append(
                PropagationRow(
                    name=f"{index}: {type(module).__name__}",
                    kind=kind,
                    units=int(smp_out.size),
                    measured_in=float(smp_in.mean()),
                    measured=float(smp_out.mean()),
                    predicted=float(predicted.mean()),
                    measured_std=float(smp_out.std()),
                    predicted_std=float(predicted.std()),
                    correlation=corr,
                    parts={k: float(v.mean()) for k, v in parts.items()},
                )
            )
            x, smp_in = y, smp_out
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    return SMPPropagation(name or type(model).__name__, n_paths, samples - 2 * margin, h, tuple(rows))
