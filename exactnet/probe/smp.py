"""SMP, the non-smoothness of a network along input paths: exactly for piecewise-linear
networks, sampled for any torch model (docs/definitions.md, "SMP"; **our formulation**).

After Liu, Wong & Dai, "Modeling the Nonsmoothness of Modern Neural Networks", arXiv
2103.14731, whose full text could not be consulted: the definitions here are exactnet's.

Take a path x(t) = x_0 + t (x_1 - x_0), t in [0, 1], and one scalar unit g(t) of a
network (an output, or any hidden unit, before or after its activation).

* **Exact SMP** of a piecewise-linear g: SMP(g) = sum over its kinks tau in (0, 1) of
  |g'(tau+) - g'(tau-)|, the total jump of its slope (per unit of t; divide by the
  path's length for the slope per unit of input distance). :func:`exact_smp` gives it
  for every unit of every layer of a :class:`~exactnet.Network`, from the exact 1-D
  engine (rationals in exact mode).
* **Sampled SMP** of any g: samples g_i = g(i h), second differences
  D_i = g_{i+1} - 2 g_i + g_{i-1}; a kink at tau between samples gives a peak of total
  mass |slope jump| h over at most two neighbouring D_i, a smooth g gives |D_i| = O(h^2).
  A *peak* is a maximal run of at most ``max_width`` (default 4) samples with
  |D_i| > tau, tau = max(``threshold`` x median_i |D_i|, 64 eps S) (a multiple of the
  typical curvature level, and of the rounding level of the values: eps their precision,
  S the largest |g| of the unit's layer along the paths, since a unit's rounding comes
  from its inputs' magnitudes); wider runs are curvature, not kinks. SMP_h = (sum of |D_i|
  over the peaks) / h, counting the peaks located in the path (their centre of mass, the
  kink itself for one kink, in [0, 1]; paths carry two samples beyond each end). For
  piecewise-linear g whose kinks lie more than 2h apart (or closer with slope jumps of
  one sign) it equals the exact SMP up to rounding; for smooth g it tends to 0 as
  h -> 0. :func:`sampled_smp` computes it for many paths and units at
  once (numpy or torch, CPU or CUDA); :class:`SMPScore` and :func:`layerwise_smp` do it
  for every layer of a torch model through the layer-wise runner.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

if TYPE_CHECKING:
    import torch

    from ..net.network import Network
    from .recording import ModuleSelection
    from .reductions import ReductionLike
    from .runner import LayerData, LayerwiseResult

__all__ = [
    "LayerSMP",
    "PathSMP",
    "SMPScore",
    "exact_smp",
    "layerwise_smp",
    "paths_around",
    "paths_between",
    "sampled_smp",
]


@dataclass(frozen=True)
class LayerSMP:
    """The exact SMP of every unit of one layer along a path: ``pre`` (the affine map's
    output) and ``post`` (after the activation; the same for a linear layer), per unit of
    t, Fractions in exact mode."""

    name: str
    pre: tuple
    post: tuple

    @property
    def mean_pre(self) -> float:
        return float(np.mean([float(v) for v in self.pre]))

    @property
    def mean_post(self) -> float:
        return float(np.mean([float(v) for v in self.post]))


@dataclass(frozen=True)
class PathSMP:
    """The exact SMP of every unit of a network along the segment ``start`` -> ``end``
    (:func:`exact_smp`): ``layers`` in forward order, ``length`` the segment's Euclidean
    length, ``breakpoints`` the network's breakpoints along it. ``outputs`` is the last
    layer's ``post`` (the network's outputs, equal to ``segment_regions(...).smp``)."""

    start: tuple
    end: tuple
    length: float
    exact: bool
    breakpoints: int
    layers: tuple[LayerSMP, ...]

    @property
    def outputs(self) -> tuple:
        return self.layers[-1].post

    def table(self) -> str:
        """One row per layer: units, mean and largest SMP before and after the activation."""
        lines = [f"{'layer':<10} {'units':>6} {'mean pre':>12} {'mean post':>12} {'max post':>12}"]
        for layer in self.layers:
            top = max(float(v) for v in layer.post)
            lines.append(
                f"{layer.name:<10} {len(layer.post):>6} {layer.mean_pre:>12.6g} {layer.mean_post:>12.6g} {top:>12.6g}"
            )
        return "\n".join(lines)


def exact_smp(net: Network, start: Sequence[Any], end: Sequence[Any], *, exact: bool = True) -> PathSMP:
    """The SMP of every unit of ``net`` along the segment ``start`` -> ``end`` (module
    docstring): from the regions of the exact 1-D engine, each unit's slope in t on each
    region (its pre-activation z = W v + b and slope p = W s, propagated with the region's
    activations decided at the region's midpoint), and the sum over the breakpoints of
    |slope jump|. ``exact=True``: rationals throughout; ``False``: the float engine and
    float64 slopes."""
    from ..regions.line import segment_regions

    seg = segment_regions(net, start, end, exact=exact)
    regions = seg.regions
    conv = Fraction if exact else float
    x0 = [conv(v) for v in start]
    d = [conv(b) - a for a, b in zip(x0, (conv(v) for v in end))]
    layers = net.layers
    # each unit's slope in t on each region: the slopes s propagate through p = W s, and
    # through the activation with the region's gain (1 where z > 0 at the region's
    # midpoint, else the negative slope)
    mids = [[a + (reg.t_lo + reg.t_hi) / 2 * b for a, b in zip(x0, d)] for reg in regions]
    zs_of: list[Any]
    if exact:
        zs_of = [net.preactivations_exact(m) for m in mids]
    else:
        zs_batch = net.preactivations(np.array(mids, dtype=float))
        zs_of = [[z[r] for z in zs_batch] for r in range(len(regions))]
    slopes = []  # per region: per layer (pre slopes, post slopes)
    for zs in zs_of:
        s: Any = list(d) if exact else np.asarray(d, dtype=float)
        per_layer = []
        for layer, z in zip(layers, zs):
            if exact:
                p = [sum((w * s[k] for k, w in zip(cols, ws)), Fraction(0)) for cols, ws in layer.sparse_rows]
                post = [pp if zz > 0 else ng * pp for pp, zz, ng in zip(p, z, layer.negative_slope_exact)]
            else:
                p = layer.weight @ s
                post = np.where(z > 0, 1.0, layer.negative_slope) * p
            per_layer.append((list(p), list(post)))
            s = post
        slopes.append(per_layer)
    out = []
    for li in range(len(layers)):
        n_units = layers[li].out_features
        pre = [conv(0)] * n_units
        post = [conv(0)] * n_units
        for r in range(1, len(regions)):
            left, right = slopes[r - 1][li], slopes[r][li]
            pre = [acc + abs(b - a) for acc, a, b in zip(pre, left[0], right[0])]
            post = [acc + abs(b - a) for acc, a, b in zip(post, left[1], right[1])]
        out.append(LayerSMP(f"layer {li + 1}", tuple(pre), tuple(post)))
    return PathSMP(tuple(x0), tuple(conv(v) for v in end), seg.length, exact, len(seg.breakpoints), tuple(out))


def sampled_smp(
    values: Any,
    h: float,
    *,
    threshold: float = 10.0,
    max_width: int = 4,
    eps: float = 2.0**-52,
    scale: float | None = None,
    t0: float = 0.0,
    window: tuple[float, float] | None = None,
) -> Any:
    """The sampled SMP (module docstring) of each row of ``values`` (..., steps): samples
    g(t_0 + i h) along the last axis, at least 3. Returns the SMP_h of every row (shape
    ``values.shape[:-1]``), per unit of t, of the same kind as ``values`` (numpy array or
    torch tensor, on its device). ``eps``: the precision of the values (2^-52 for
    float64, 2^-23 for float32); ``scale``: the magnitude the values' rounding is
    relative to (default: each row's largest |g|; a layer's units share their inputs'
    rounding, so :class:`SMPScore` passes the layer's largest |g|)."""
    import torch

    as_numpy = not isinstance(values, torch.Tensor)
    g = torch.as_tensor(np.asarray(values, dtype=np.float64)) if as_numpy else values.to(torch.float64)
    if g.shape[-1] < 3:
        raise ValueError(f"values has {g.shape[-1]} samples per path; second differences need at least 3")
    if not h > 0:
        raise ValueError(f"h={h!r}; the step between samples must be positive")
    if max_width < 1:
        raise ValueError(f"max_width={max_width!r}; a peak is at least one sample wide")
    lead = g.shape[:-1]
    g = g.reshape(-1, g.shape[-1])
    if scale is None:
        scales = g.abs().amax(dim=1)
    else:
        scales = torch.full((len(g),), float(scale), dtype=torch.float64, device=g.device)
    if g.device.type == "cpu":  # one compiled pass per row
        from ._smp_kernel import smp_rows

        out = np.empty(len(g))
        lo, hi = window if window is not None else (0.0, 0.0)
        smp_rows(
            np.ascontiguousarray(g.numpy()), float(h), float(threshold), int(max_width), float(eps),
            np.ascontiguousarray(scales.numpy()), float(t0), float(lo), float(hi), window is not None, out,
        )  # fmt: skip
        smp = torch.from_numpy(out)
    else:
        smp = _smp_torch(g, h, threshold, max_width, eps, scales, t0, window)
    smp = smp.reshape(lead)
    return smp.cpu().numpy() if as_numpy else smp


def _smp_torch(
    g: torch.Tensor,
    h: float,
    threshold: float,
    max_width: int,
    eps: float,
    scales: torch.Tensor,
    t0: float,
    window: tuple[float, float] | None,
) -> torch.Tensor:
    """:func:`sampled_smp` of the rows of g in torch operations (on a CUDA device)."""
    import torch

    D = (g[:, 2:] - 2 * g[:, 1:-1] + g[:, :-2]).abs()
    tau = torch.maximum(threshold * D.median(dim=1).values, 64 * eps * scales)
    above = D > tau[:, None]
    starts = above & ~torch.nn.functional.pad(above[:, :-1], (1, 0), value=False)
    run = torch.cumsum(starts.to(torch.int64), dim=1) * above  # run number of each sample above tau, else 0
    length = torch.zeros(run.shape[0], run.shape[1] + 1, dtype=torch.int64, device=run.device)
    length.scatter_add_(1, run, above.to(torch.int64))
    keep = above & (torch.gather(length, 1, run) <= max_width)
    if window is not None:
        t = t0 + h * torch.arange(1, D.shape[1] + 1, dtype=D.dtype, device=D.device)  # D_i sits at sample i + 1
        mass = torch.zeros(length.shape, dtype=D.dtype, device=D.device).scatter_add_(1, run, D * above)
        moment = torch.zeros(length.shape, dtype=D.dtype, device=D.device).scatter_add_(1, run, D * above * t)
        where = moment / mass.clamp_min(torch.finfo(D.dtype).tiny)
        inside = (where >= window[0]) & (where <= window[1])
        keep &= torch.gather(inside, 1, run)
    return (D * keep).sum(dim=1) / h


def paths_between(a: torch.Tensor, b: torch.Tensor, steps: int, *, margin: int = 2) -> torch.Tensor:
    """Straight paths from each input of ``a`` to the same-index input of ``b``: a tensor
    (paths, steps + 2 margin, *input shape) sampled at t_i = i / (steps - 1) for
    i = -margin .. steps - 1 + margin (two samples beyond each end by default, so that a
    kink near an end keeps both of its second differences and one beyond an end can be
    told apart, :func:`sampled_smp`'s ``window``)."""
    import torch

    if a.shape != b.shape:
        raise ValueError(
            f"a and b must have the same shape (one path per pair); got {tuple(a.shape)}, {tuple(b.shape)}"
        )
    if steps < 3:
        raise ValueError(f"steps={steps}; a path needs at least 3 samples")
    t = torch.arange(-margin, steps + margin, dtype=a.dtype, device=a.device) / (steps - 1)
    shape = (1, -1) + (1,) * (a.dim() - 1)
    return a.unsqueeze(1) + t.view(shape) * (b - a).unsqueeze(1)


def paths_around(x: torch.Tensor, steps: int, *, radius: float = 1.0, seed: int = 0, margin: int = 2) -> torch.Tensor:
    """Straight paths through each input of ``x``: from x - r u to x + r u, u a seeded
    random unit direction per input (Gaussian, normalised over the whole input) and r =
    ``radius``; sampled as :func:`paths_between`."""
    import torch

    g = torch.Generator(device="cpu").manual_seed(int(seed))
    u = torch.randn(x.shape, generator=g, dtype=torch.float64).to(dtype=x.dtype, device=x.device)
    u = u / u.reshape(len(x), -1).norm(dim=1).clamp_min(1e-300).view((-1,) + (1,) * (x.dim() - 1))
    return paths_between(x - radius * u, x + radius * u, steps, margin=margin)


@dataclass(frozen=True)
class SMPScore:
    """The sampled SMP of every unit of a layer, as a score for
    :func:`~exactnet.probe.layerwise` (data: paths, :func:`paths_between`). Values:
    ``smp_mean``, ``smp_std``, ``smp_median``, ``smp_max`` over (path, unit) of the
    activation's output, ``kinked`` (the fraction of (path, unit) with a peak) and
    ``pre_mean`` (the mean SMP of the activation's input). Per unit of t: h is
    1 / (steps - 1 - 2 margin), the peaks counted those located in [0, 1]. Computed on
    the device the model ran on (CUDA when it ran there)."""

    h: float
    threshold: float = 10.0
    max_width: int = 4
    eps: float = 2.0**-23
    margin: int = 2

    name = "smp"
    primary = "smp_mean"
    needs = ("input", "output", "paths")
    legend: ClassVar[dict[str, str]] = {}

    @property
    def options(self) -> dict[str, Any]:
        return {
            "h": self.h,
            "threshold": self.threshold,
            "max_width": self.max_width,
            "eps": self.eps,
            "margin": self.margin,
        }

    def _per_unit(self, rows: torch.Tensor, paths: tuple[int, int], device: Any = None) -> torch.Tensor:
        n_paths, steps = paths
        if device is not None and getattr(device, "type", "cpu") == "cuda":
            rows = rows.to(device)  # the second differences and peaks where the model ran
        g = rows.reshape(n_paths, steps, -1).transpose(1, 2)  # (paths, units, steps)
        scale = float(rows.abs().max()) if rows.numel() else 0.0
        return sampled_smp(
            g,
            self.h,
            threshold=self.threshold,
            max_width=self.max_width,
            eps=self.eps,
            scale=scale,
            t0=-self.margin * self.h,
            window=(0.0, 1.0),
        )

    def __call__(self, layer: LayerData) -> dict[str, Any]:
        assert layer.input is not None and layer.output is not None and layer.paths is not None
        post = self._per_unit(layer.output, layer.paths, layer.device)
        pre = self._per_unit(layer.input, layer.paths, layer.device)
        return {
            "smp_mean": float(post.mean()),
            "smp_std": float(post.std()) if post.numel() > 1 else 0.0,
            "smp_median": float(post.median()),
            "smp_max": float(post.max()),
            "kinked": float((post > 0).double().mean()),
            "pre_mean": float(pre.mean()),
        }


def layerwise_smp(
    model: torch.nn.Module,
    paths: torch.Tensor,
    *,
    margin: int = 2,
    threshold: float = 10.0,
    max_width: int = 4,
    layers: ModuleSelection | None = None,
    reduction: ReductionLike = "flatten",
    batch_size: int = 256,
    device: str | torch.device | None = None,
    progress: bool = True,
    name: str | None = None,
) -> LayerwiseResult:
    """The sampled SMP of every activation of ``model`` along ``paths`` (a tensor (paths,
    steps, *input shape) as :func:`paths_between` makes, ``margin`` samples beyond each
    end): :func:`~exactnet.probe.layerwise` with :class:`SMPScore`. The values' precision
    is the model's parameter dtype."""
    import torch

    from .runner import layerwise

    steps = int(paths.shape[1])
    if steps - 2 * margin < 3:
        raise ValueError(f"paths have {steps} samples with margin {margin}; at least 3 inside are needed")
    h = 1.0 / (steps - 1 - 2 * margin)
    dtype = next((p.dtype for p in model.parameters()), torch.float32)
    eps = float(torch.finfo(dtype).eps) if dtype.is_floating_point else 2.0**-23
    score = SMPScore(h=h, threshold=threshold, max_width=max_width, eps=eps, margin=margin)
    return layerwise(
        model,
        paths,
        score,
        layers=layers,
        reduction=reduction,
        batch_size=batch_size,
        device=device,
        progress=progress,
        name=name,
    )
