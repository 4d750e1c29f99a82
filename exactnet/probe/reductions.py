"""Reductions: an activation tensor of shape (N, ...) as rows of samples x features.

``reduction=`` of :func:`exactnet.probe.capture`:

``"channel_mean"``  mean over every axis but the batch and channel axes: (N, C).
``"positions"``     every spatial position (or token) is a sample: (N * prod(spatial), C),
                    rows ordered by (input, position), position in C order.
``"tokens"``        ``"positions"`` restricted to 3-D [N, T, D] activations.
``"flatten"``       (N, prod of the non-batch sizes), in the tensor's own layout.
``"reference"``     exactly AffScoreDeep's: 4-D mean over axes (-2, -1), 3-D mean over
                    axis -1, 2-D as is. For channels-last tensors (ConvNeXt, Swin) this
                    averages over the channels, and for ViT tokens over the features (d =
                    number of tokens): it is what the published signatures computed, not
                    a recommendation. (Tensors of 5 or more axes, which the reference
                    cannot handle, are flattened.)
``("project", k)`` or ``Projection(k)``: flatten per sample, then multiply by a fixed
                    Gaussian matrix ``G / sqrt(k)`` of shape (D, k) (see
                    :class:`Projection`); the same matrix for a layer's input and output.

The means do not commute with the activation (``relu(mean(x)) != mean(relu(x))``);
gathering does: with ``"positions"`` and ``"flatten"`` an elementwise activation's output
rows are the activation of its input rows.

The channel axis of ``"channel_mean"``, ``"positions"`` and ``"tokens"`` is found from the
layer that produced the tensor (:func:`producer_axis`) unless it is given.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeAlias

import numpy as np

from ..extras import require

require("torch", "activation reductions")

import torch  # noqa: E402
from torch import nn  # noqa: E402

__all__ = [
    "REDUCTIONS",
    "Projection",
    "ProjectionCache",
    "channel_mean",
    "flatten_samples",
    "gather_positions",
    "parse_reduction",
    "producer_axis",
    "reduce_rows",
    "reference_mean",
]

REDUCTIONS = ("channel_mean", "positions", "tokens", "flatten", "reference")
USES_AXIS = ("channel_mean", "positions", "tokens")  # reductions that need a channel axis
POSITIONAL = ("positions", "tokens")  # reductions whose samples are (input, position)

_PROJ_CHUNK = 1 << 20  # elements of G generated per chunk (defines the matrix; do not change)


@dataclass(frozen=True)
class Projection:
    """Random projection of flattened activations to ``k`` dimensions.

    The matrix of a call site is ``G / sqrt(k)``, G of shape (D, k) with independent
    standard normal entries, generated on the CPU in float64 in row chunks of
    ``max(1, 2**20 // k)`` rows, chunk ``c`` drawn from ``torch.Generator`` seeded with a
    BLAKE2 hash of ``(seed, module name, call index, c)``: deterministic across runs,
    processes and devices, identical for the input and the output of a call site, and
    never held whole in memory when D is large (chunks are regenerated per batch once
    ``cache_bytes``, 256 MiB by default, are kept for all layers together). Columns are
    computed in the promoted dtype of the activation and float32.
    """

    k: int
    cache_bytes: int = field(default=256 << 20, compare=False)

    def __post_init__(self) -> None:
        if isinstance(self.k, bool) or not isinstance(self.k, int) or self.k < 1:
            raise ValueError(f"Projection(k): k must be a positive int, got {self.k!r}")
        if isinstance(self.cache_bytes, bool) or not isinstance(self.cache_bytes, int) or self.cache_bytes < 0:
            raise ValueError(f"Projection: cache_bytes must be an int >= 0, got {self.cache_bytes!r}")

    def chunk_rows(self) -> int:
        return max(1, _PROJ_CHUNK // self.k)

    def chunk(self, dim: int, c: int, *, seed: int, module: str, call: int = 0) -> torch.Tensor:
        """Rows ``[c * chunk_rows(), ...)`` of the (unscaled) Gaussian matrix, float64 CPU."""
        rows = self.chunk_rows()
        lo, hi = c * rows, min(dim, (c + 1) * rows)
        digest = hashlib.blake2b(f"{seed}\x00{module}\x00{call}\x00{c}".encode(), digest_size=8).digest()
        gen = torch.Generator().manual_seed(int.from_bytes(digest, "little") & (2**63 - 1))
        # always draw a full chunk so that a chunk's values do not depend on D
        full = torch.randn(rows, self.k, generator=gen, dtype=torch.float64)
        return full[: hi - lo]

    def matrix(self, dim: int, *, seed: int = 0, module: str, call: int = 0) -> torch.Tensor:
        """The whole scaled matrix ``G / sqrt(k)`` (dim, k), float64 CPU (for checks)."""
        n_chunks = -(-dim // self.chunk_rows())
        g = torch.cat([self.chunk(dim, c, seed=seed, module=module, call=call) for c in range(n_chunks)])
        return g / math.sqrt(self.k)

    def __str__(self) -> str:
        return f"project({self.k})"


if TYPE_CHECKING:
    #: A ``reduction=`` argument: a name of :data:`REDUCTIONS`, ``("project", k)`` or ``Projection(k)``.
    ReductionLike: TypeAlias = str | tuple[str, int] | Projection


def parse_reduction(reduction: ReductionLike) -> tuple[str, Projection | None]:
    """``(name, projection)`` of a ``reduction=`` argument: a name of :data:`REDUCTIONS`
    (projection ``None``), or ``("project", k)`` / ``Projection(k)`` (name ``"project(k)"``)."""
    if isinstance(reduction, Projection):
        return str(reduction), reduction
    if isinstance(reduction, str):
        if reduction in REDUCTIONS:
            return reduction, None
        raise ValueError(
            f"capture: unknown reduction={reduction!r}; use one of {list(REDUCTIONS)}, ('project', k) or Projection(k)"
        )
    if isinstance(reduction, (tuple, list)) and len(reduction) == 2 and reduction[0] == "project":
        p = Projection(reduction[1])
        return str(p), p
    raise ValueError(
        f"capture: reduction={reduction!r} is not understood; use one of {list(REDUCTIONS)}, "
        "('project', k) or Projection(k)"
    )


# ----------------------------------------------------------------------------- the channel axis
def producer_axis(shape: tuple[int, ...], producer: nn.Module | None) -> int:
    """The channel axis of an activation of ``shape`` produced by ``producer`` (the last
    leaf module with parameters that ran before it): 2-D [N, D] axis 1; channels-last
    (axis -1) after an ``nn.Linear`` with ``out_features == shape[-1]`` or an
    ``nn.LayerNorm`` over the last axis (ConvNeXt, Swin); 3-D axis 1 after a channels-first
    layer (convolution, batch, instance or group norm with ``shape[1]`` channels), else -1;
    4-D and more axis 1. A heuristic: reshapes between the producer and the activation
    are not seen."""
    nd = len(shape)
    if nd <= 2:
        return 1
    if isinstance(producer, nn.Linear) and producer.out_features == shape[-1]:
        return -1
    if type(producer) is nn.LayerNorm and tuple(producer.normalized_shape) == (shape[-1],):
        return -1
    if nd == 3:
        ch = None
        if isinstance(producer, nn.modules.conv._ConvNd):
            ch = producer.out_channels
        elif isinstance(producer, (nn.modules.batchnorm._BatchNorm, nn.modules.instancenorm._InstanceNorm)):
            ch = producer.num_features
        elif isinstance(producer, nn.GroupNorm):
            ch = producer.num_channels
        return 1 if ch is not None and ch == shape[1] else -1
    return 1


# ----------------------------------------------------------------------------- the reductions
def flatten_samples(x: torch.Tensor) -> torch.Tensor:
    """(N, prod of the other sizes); works for N = 0 and for 1-D tensors (N, 1)."""
    return x.reshape(-1, 1) if x.dim() == 1 else x.flatten(1)


def channel_mean(x: torch.Tensor, axis: int) -> torch.Tensor:
    """(N, C): the mean over every axis but the batch axis and the channel ``axis``."""
    nd = x.dim()
    if nd == 1:
        return x[:, None]
    if nd == 2:
        return x
    return x.movedim(axis, 1).mean(dim=tuple(range(2, nd)))


def reference_mean(x: torch.Tensor) -> torch.Tensor:
    """AffScoreDeep's reduction: 4-D mean over (-2, -1), 3-D over -1, else flattened."""
    if x.dim() == 4:
        return torch.mean(x, dim=(-2, -1))
    if x.dim() == 3:
        return torch.mean(x, dim=-1)
    return flatten_samples(x)


def gather_positions(
    x: torch.Tensor, axis: int | None, sample: np.ndarray, position: np.ndarray, spatial: list[int]
) -> torch.Tensor:
    """The rows ``(sample[r] // prod(spatial), position[r])``: the channel vectors of the
    given inputs at the given spatial positions (C-order indices into the axes other
    than the batch and ``axis``); a tensor of at most 2 axes gives its rows ``sample``."""
    dev = x.device
    if x.dim() <= 2 or axis is None:
        return flatten_samples(x).index_select(0, torch.from_numpy(sample).to(dev))
    xm = x.movedim(axis, -1)
    n_idx = torch.from_numpy(sample // max(1, int(np.prod(spatial)))).to(dev)
    coords = np.unravel_index(position, spatial)
    return xm[(n_idx, *(torch.from_numpy(np.ascontiguousarray(c)).to(dev) for c in coords))]


class ProjectionCache:
    """Applies a :class:`Projection` to flattened rows, keeping the matrix chunks of each
    call site between batches within the projection's ``cache_bytes``."""

    def __init__(self, projection: Projection, seed: int):
        self.projection = projection
        self.seed = seed
        self.chunks: dict[tuple, list[torch.Tensor]] = {}
        self.bytes = 0

    def project(self, flat: torch.Tensor, site_key: tuple[str, int]) -> torch.Tensor:
        """``flat @ G / sqrt(k)`` for the call site ``(module name, call index)``."""
        proj = self.projection
        dt = torch.promote_types(flat.dtype, torch.float32) if flat.is_floating_point() else torch.float32
        flat = flat.to(dt)
        dim = flat.shape[1]
        if flat.shape[0] == 0:
            return flat.new_zeros(0, proj.k)
        key = (site_key, dim, dt, flat.device)
        chunks = self.chunks.get(key)
        rows = proj.chunk_rows()
        n_chunks = -(-dim // rows)
        gen = (
            chunks
            if chunks is not None
            else (
                proj.chunk(dim, c, seed=self.seed, module=site_key[0], call=site_key[1]).to(
                    device=flat.device, dtype=dt
                )
                for c in range(n_chunks)
            )
        )
        nbytes = dim * proj.k * flat.element_size()
        store = chunks is None and self.bytes + nbytes <= proj.cache_bytes
        kept = []
        acc = torch.zeros(flat.shape[0], proj.k, dtype=dt, device=flat.device)
        for c, g in enumerate(gen):
            acc += flat[:, c * rows : c * rows + g.shape[0]] @ g
            if store:
                kept.append(g)
        if store:
            self.chunks[key] = kept
            self.bytes += nbytes
        return acc / math.sqrt(proj.k)


def reduce_rows(
    x: torch.Tensor,
    reduction: str,
    *,
    sample: np.ndarray,
    position: np.ndarray | None,
    spatial: list[int] | None,
    axis: int | None,
    projector: ProjectionCache | None = None,
    site_key: tuple[str, int] = ("", 0),
) -> torch.Tensor:
    """The rows of ``reduction`` (a name of :data:`REDUCTIONS`, or ``"project"`` with a
    ``projector``) of ``x`` for the selected inputs ``sample`` (and ``position`` for the
    positional reductions), as a float64 CPU tensor (always a copy)."""
    if reduction in POSITIONAL:
        assert position is not None and spatial is not None
        rows = gather_positions(x, axis, sample, position, spatial)
        return rows.to(device="cpu", dtype=torch.float64)
    xs = x.index_select(0, torch.from_numpy(sample).to(x.device))
    if reduction == "channel_mean":
        assert axis is not None or xs.dim() <= 2
        rows = channel_mean(xs, axis if axis is not None else 1)
    elif reduction == "reference":
        rows = reference_mean(xs)
    elif reduction == "flatten":
        rows = flatten_samples(xs)
    elif reduction == "project" and projector is not None:
        rows = projector.project(flatten_samples(xs), site_key)
    else:
        raise ValueError(f"unknown reduction {reduction!r}")
    return rows.to(device="cpu", dtype=torch.float64)
