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
  |D_i| > tau, tau = max(``threshold`` x C, F): F = 64 eps S is the rounding level of the
  values (eps their precision, S the largest |g| of the unit's layer along the paths,
  since a unit's rounding comes from its inputs' magnitudes), and C the curvature level:
  the lower median of |D_i| over all samples, or over the smooth stretches when that is
  larger. A smooth stretch is a maximal run of more than 4 ``max_width`` samples with
  |D_i| > F whose signed D_i differ from both neighbours' by at most |D_i| / 4 (a
  piecewise-linear g has none). The second median keeps the kinks of a rectified smooth
  unit, 0 on most of the path, where the first is 0. Wider runs are curvature, not kinks.
  SMP_h = (sum of |D_i| over the peaks) / h, counting the peaks located in the path (their centre of mass, the
  kink itself for one kink, in [0, 1]; paths carry two samples beyond each end). For
  piecewise-linear g whose kinks lie more than 2h apart (or closer with slope jumps of
  one sign) it equals the exact SMP up to rounding; for smooth g it tends to 0 as
  h -> 0. :func:`sampled_smp` computes it for many paths and units at
  once (numpy or torch, CPU or CUDA); :class:`SMPScore` and :func:`layerwise_smp` do it
  for every layer of a torch model through the layer-wise runner, along paths from
  :func:`paths_between` or :func:`paths_around` (dense, or :class:`LazyPaths` computed
  batch by batch with ``lazy=True``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
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
    "LazyPaths",
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

    signed = g[:, 2:] - 2 * g[:, 1:-1] + g[:, :-2]
    D = signed.abs()
    floor = 64 * eps * scales
    # the curvature level: the lower median of |D| over all samples (rounding noise), or
    # over the smooth stretches (runs of more than 4 max_width smooth samples: above the
    # rounding floor, within a quarter of |D_i| of both neighbours) when larger
    step = (signed[:, 1:] - signed[:, :-1]).abs()
    calm = torch.zeros_like(D, dtype=torch.bool)
    calm[:, 1:-1] = (step[:, 1:] <= 0.25 * D[:, 1:-1]) & (step[:, :-1] <= 0.25 * D[:, 1:-1])
    lifted = calm & (D > floor[:, None])
    smooth = lifted & (_run_lengths(lifted) > 4 * max_width)
    count = smooth.sum(dim=1)
    ordered = torch.where(smooth, D, torch.full_like(D, float("inf"))).sort(dim=1).values
    middle = torch.gather(ordered, 1, ((count - 1).clamp_min(0) // 2)[:, None])[:, 0]
    level = torch.where(count > 0, torch.maximum(middle, D.median(dim=1).values), D.median(dim=1).values)
    tau = torch.maximum(threshold * level, floor)
    above = D > tau[:, None]
    run = _run_numbers(above)
    keep = above & (_run_lengths(above) <= max_width)
    if window is not None:
        t = t0 + h * torch.arange(1, D.shape[1] + 1, dtype=D.dtype, device=D.device)  # D_i sits at sample i + 1
        runs = (run.shape[0], run.shape[1] + 1)
        mass = torch.zeros(runs, dtype=D.dtype, device=D.device).scatter_add_(1, run, D * above)
        moment = torch.zeros(runs, dtype=D.dtype, device=D.device).scatter_add_(1, run, D * above * t)
        where = moment / mass.clamp_min(torch.finfo(D.dtype).tiny)
        inside = (where >= window[0]) & (where <= window[1])
        keep &= torch.gather(inside, 1, run)
    return (D * keep).sum(dim=1) / h


def _path_t(steps: int, margin: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """The positions t_i = i / (steps - 1), i = -margin .. steps - 1 + margin, of a path's
    samples (the one t vector of the dense and the lazy paths)."""
    import torch

    return torch.arange(-margin, steps + margin, dtype=dtype, device=device) / (steps - 1)


def _path_points(a: torch.Tensor, d: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """The samples a_p + t_i d_p of paths starting at ``a`` (q, *input) with directions
    ``d = b - a`` (q, *input) at positions ``t`` (k,): a tensor (q, k, *input). The one
    expression of the dense and the lazy paths, so that their values are bitwise equal."""
    shape = (1, -1) + (1,) * (a.dim() - 1)
    return a.unsqueeze(1) + t.view(shape) * d.unsqueeze(1)


def _check_ends(a: torch.Tensor, b: torch.Tensor, steps: int) -> None:
    if a.shape != b.shape:
        raise ValueError(
            f"a and b must have the same shape (one path per pair); got {tuple(a.shape)}, {tuple(b.shape)}"
        )
    if steps < 3:
        raise ValueError(f"steps={steps}; a path needs at least 3 samples")


@dataclass(frozen=True, eq=False)
class LazyPaths:
    """Straight input paths computed on demand: what :func:`paths_between` (or
    :func:`paths_around`) with ``lazy=True`` returns instead of the dense tensor, for path
    batches too large to hold (256 paths of 512 steps of 3x224x224 images are 79 GB).

    Path p is sampled at x_p(t_i) = a_p + t_i (b_p - a_p), t_i = i / (steps - 1), for
    i = -margin .. steps - 1 + margin; a_p = ``start[p]``, b_p = ``end[p]`` (tensors
    (paths, *input shape)), ``steps`` the number of samples from a_p to b_p, ``margin`` the
    samples beyond each end. It stands for the dense tensor of shape :attr:`shape`
    (paths, steps + 2 margin, *input shape): :meth:`rows` gives rows of its flattened form
    (paths x samples_per_path, *input shape), :meth:`batches` streams them, ``paths[p]``
    gives path p and :meth:`dense` the whole tensor, all computed on ``start``'s device
    with the arithmetic of the dense paths (bitwise the same values).
    :func:`~exactnet.probe.layerwise` and :func:`layerwise_smp` take it as their data."""

    start: torch.Tensor
    end: torch.Tensor
    steps: int
    margin: int = 2

    def __post_init__(self) -> None:
        _check_ends(self.start, self.end, self.steps)

    @property
    def n_paths(self) -> int:
        """The number of paths."""
        return int(self.start.shape[0])

    @property
    def samples_per_path(self) -> int:
        """The samples of each path, ``steps + 2 margin``."""
        return self.steps + 2 * self.margin

    @property
    def input_shape(self) -> tuple[int, ...]:
        """The shape of one input (one sample of a path)."""
        return tuple(int(n) for n in self.start.shape[1:])

    @property
    def shape(self) -> tuple[int, ...]:
        """The shape of the dense tensor: (paths, steps + 2 margin, *input shape)."""
        return (self.n_paths, self.samples_per_path, *self.input_shape)

    @property
    def n_rows(self) -> int:
        """The rows of the flattened tensor: paths x samples_per_path."""
        return self.n_paths * self.samples_per_path

    @property
    def dtype(self) -> torch.dtype:
        """The dtype of the samples (that of the dense tensor)."""
        return self.rows(0, 0).dtype

    @property
    def device(self) -> torch.device:
        """Where the samples are computed: ``start``'s device."""
        return self.start.device

    def __len__(self) -> int:
        return self.n_paths

    def _t(self) -> torch.Tensor:
        return _path_t(self.steps, self.margin, self.start.dtype, self.start.device)

    def _points(self, p0: int, p1: int, t: torch.Tensor) -> torch.Tensor:
        a = self.start[p0:p1]
        return _path_points(a, self.end[p0:p1] - a, t)

    def rows(self, start_row: int, stop_row: int) -> torch.Tensor:
        """Rows ``[start_row, stop_row)`` of the flattened tensor (paths x
        samples_per_path, *input shape), row p x samples_per_path + i being sample i of
        path p; clipped to the rows there are, as a slice (``stop_row`` beyond the end
        gives the rows up to the end)."""
        import torch

        if start_row < 0 or stop_row < 0:
            raise ValueError(f"rows({start_row}, {stop_row}); row indices are non-negative")
        per = self.samples_per_path
        stop_row = min(int(stop_row), self.n_rows)
        r = min(int(start_row), stop_row)
        t = self._t()
        if r == stop_row:
            return self._points(0, 0, t).reshape((0, *self.input_shape))
        pieces = []
        while r < stop_row:
            p, i = divmod(r, per)
            if i == 0 and stop_row - r >= per:  # whole paths
                q = (stop_row - r) // per
                block = self._points(p, p + q, t)
                r += q * per
            else:  # part of one path
                j = min(per, i + stop_row - r)
                block = self._points(p, p + 1, t[i:j])
                r += j - i
            pieces.append(block.reshape((-1, *self.input_shape)))
        return pieces[0] if len(pieces) == 1 else torch.cat(pieces)

    def batches(self, batch_size: int) -> Iterator[torch.Tensor]:
        """The rows of the flattened tensor in consecutive blocks of ``batch_size`` (the
        last one shorter), each computed when it is asked for."""
        if batch_size < 1:
            raise ValueError(f"batch_size={batch_size}; a batch holds at least one row")
        for r in range(0, self.n_rows, batch_size):
            yield self.rows(r, r + batch_size)

    def dense(self) -> torch.Tensor:
        """The whole tensor (paths, steps + 2 margin, *input shape), as
        :func:`paths_between` returns it without ``lazy``."""
        return self._points(0, self.n_paths, self._t())

    def __getitem__(self, p: int) -> torch.Tensor:
        """Path ``p`` (negative from the end): a tensor (samples_per_path, *input shape)."""
        n = self.n_paths
        if not -n <= p < n:
            raise IndexError(f"path {p} of {n}")
        p = p + n if p < 0 else p
        return self._points(p, p + 1, self._t())[0]

    def __iter__(self) -> Iterator[torch.Tensor]:
        for p in range(self.n_paths):
            yield self[p]

    def __repr__(self) -> str:
        return f"LazyPaths(shape={self.shape}, steps={self.steps}, margin={self.margin}, device={self.device})"


def _run_numbers(mask: torch.Tensor) -> torch.Tensor:
    """The number (from 1) of the maximal run of True each True entry of each row of
    ``mask`` belongs to; 0 for False entries."""
    import torch

    starts = mask & ~torch.nn.functional.pad(mask[:, :-1], (1, 0), value=False)
    return torch.cumsum(starts.to(torch.int64), dim=1) * mask


def _run_lengths(mask: torch.Tensor) -> torch.Tensor:
    """The length of the maximal run of True each entry of each row of ``mask`` belongs
    to (0 for False entries)."""
    import torch

    run = _run_numbers(mask)
    length = torch.zeros(run.shape[0], run.shape[1] + 1, dtype=torch.int64, device=run.device)
    length.scatter_add_(1, run, mask.to(torch.int64))
    return torch.gather(length, 1, run) * mask


def paths_between(
    a: torch.Tensor, b: torch.Tensor, steps: int, *, margin: int = 2, lazy: bool = False
) -> torch.Tensor | LazyPaths:
    """Straight paths from each input of ``a`` to the same-index input of ``b``: a tensor
    (paths, steps + 2 margin, *input shape) sampled at t_i = i / (steps - 1) for
    i = -margin .. steps - 1 + margin (two samples beyond each end by default, so that a
    kink near an end keeps both of its second differences and one beyond an end can be
    told apart, :func:`sampled_smp`'s ``window``). ``lazy=True``: a :class:`LazyPaths`
    that computes the same samples on demand (batch by batch, for
    :func:`~exactnet.probe.layerwise` and :func:`layerwise_smp`) instead of the dense
    tensor."""
    _check_ends(a, b, steps)
    if lazy:
        return LazyPaths(a, b, steps, margin)
    t = _path_t(steps, margin, a.dtype, a.device)
    return _path_points(a, b - a, t)


def paths_around(
    x: torch.Tensor, steps: int, *, radius: float = 1.0, seed: int = 0, margin: int = 2, lazy: bool = False
) -> torch.Tensor | LazyPaths:
    """Straight paths through each input of ``x``: from x - r u to x + r u, u a seeded
    random unit direction per input (Gaussian, normalised over the whole input) and r =
    ``radius``; sampled as :func:`paths_between` (``lazy=True``: a :class:`LazyPaths`;
    its ends, two tensors the size of ``x``, are computed at once)."""
    import torch

    g = torch.Generator(device="cpu").manual_seed(int(seed))
    u = torch.randn(x.shape, generator=g, dtype=torch.float64).to(dtype=x.dtype, device=x.device)
    u = u / u.reshape(len(x), -1).norm(dim=1).clamp_min(1e-300).view((-1,) + (1,) * (x.dim() - 1))
    return paths_between(x - radius * u, x + radius * u, steps, margin=margin, lazy=lazy)


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
    paths: torch.Tensor | LazyPaths,
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
    end, or a :class:`LazyPaths`, ``paths_between(..., lazy=True)``, whose samples are
    computed batch by batch): :func:`~exactnet.probe.layerwise` with :class:`SMPScore`.
    Both give the same values. The values' precision is the model's parameter dtype: on
    CUDA, float32 products and convolutions run in float32, not TF32, during the capture
    (TF32's rounding, about 1e-3 relative, would swamp the second differences)."""
    import torch

    from ._device import full_float32
    from .runner import layerwise

    steps = int(paths.shape[1])
    if steps - 2 * margin < 3:
        raise ValueError(f"paths have {steps} samples with margin {margin}; at least 3 inside are needed")
    h = 1.0 / (steps - 1 - 2 * margin)
    dtype = next((p.dtype for p in model.parameters()), torch.float32)
    eps = float(torch.finfo(dtype).eps) if dtype.is_floating_point else 2.0**-23
    score = SMPScore(h=h, threshold=threshold, max_width=max_width, eps=eps, margin=margin)
    with full_float32():
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
