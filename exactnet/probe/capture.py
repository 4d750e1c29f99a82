"""Activation capture: the inputs ``X`` and outputs ``Y`` of a network's activations.

The non-linearity signature (Bouniot, Redko et al., arXiv 2310.11439; reference code
AffScoreDeep, ``src/aff_scores_torch.py``) scores every activation module of a network on
the pair (input, output) it sees.  :func:`capture` collects those pairs for any
``torch.nn.Module`` with hooks, streaming over batches with bounded memory::

    caps = capture(model, images, reduction="channel_mean", max_samples=2048)
    for name, cap in caps.items():
        cap.input, cap.output          # (n, d) float64 CPU tensors, rows paired

Which modules
    By default every activation module: the classes defined in
    ``torch.nn.modules.activation`` (:data:`ACTIVATION_TYPES`: ReLU, GELU, SiLU, Softmax,
    Hardswish, ...), except ``MultiheadAttention`` and any module inside an attention
    block: a module whose qualified name has a component containing ``"attn"``, or that
    lies inside a ``MultiheadAttention``.  (AffScoreDeep skips names with a component
    *equal* to ``"attn"``; ``"containing"`` also skips ``self_attn``/``cross_attn`` blocks.
    The two agree on every torchvision classifier.)  ``modules`` may instead be a list of
    module types, a regular expression searched in the qualified names (``re.search``; it
    can match any module, containers included), or an explicit list of names.

Call sites
    A module called several times per forward pass (torchvision's ResNet blocks call one
    ``self.relu`` two or three times) is captured once per call site: the ``j``-th call
    within one forward pass becomes the layer ``"name#j"``.  Modules called once keep
    their plain name.  Layers are returned in the order of their first call.

Input and output
    The input is read by a forward pre-hook, before the module runs, so in-place
    activations (``ReLU(inplace=True)``) are captured before they overwrite it; the output
    by a forward hook.  Both are reduced on the model's device in the model's dtype and
    only the retained rows are copied to the CPU as float64.  The batch axis is axis 0
    (an activation whose leading size differs from the batch size raises ``ValueError``).

Reductions (``reduction=``), for an activation tensor of shape (N, ...):
    ``"channel_mean"``  mean over every axis but the batch and channel axes: (N, C).
    ``"positions"``     every spatial position (or token) is a sample: (N * prod(spatial), C),
                        rows ordered by (input, position), position in C order.
    ``"tokens"``        ``"positions"`` restricted to 3-D [N, T, D] activations.
    ``"flatten"``       (N, prod of the non-batch sizes), in the tensor's own layout.
    ``"reference"``     exactly AffScoreDeep: 4-D mean over axes (-2, -1), 3-D mean over
                        axis -1, 2-D as is.  For channels-last tensors (ConvNeXt, Swin) this
                        averages over the channels, and for ViT tokens over the features (d =
                        number of tokens): it is what the published signatures computed, not
                        a recommendation.  (Tensors of 5 or more axes, which the reference
                        cannot handle, are flattened.)
    ``("project", k)`` or ``Projection(k)``: flatten per sample, then multiply by a fixed
                        Gaussian matrix ``G / sqrt(k)`` of shape (D, k) (see
                        :class:`Projection`); the same matrix for a layer's input and output.
    The means do not commute with the activation (``relu(mean(x)) != mean(relu(x))``);
    gathering does: with ``"positions"`` and ``"flatten"`` an elementwise activation's
    output rows are the activation of its input rows.

Channel axis (``channel_axis=``), used by ``"channel_mean"``, ``"positions"``, ``"tokens"``
    ``"auto"``: 2-D [N, D] as is; 3-D [N, T, D] axis -1 (features last) unless the tensor
    was produced by a channels-first layer (Conv1d, BatchNorm1d, GroupNorm, InstanceNorm1d
    with ``shape[1]`` channels), then axis 1; 4-D and more axis 1 unless the tensor was
    produced channels-last.  The producer is found dynamically: the last leaf module with
    parameters that ran before the activation (the captured modules themselves
    excluded).  An ``nn.Linear`` with ``out_features == shape[-1]`` or an ``nn.LayerNorm``
    (exact class) over the last axis means channels-last, axis -1 (ConvNeXt's CNBlock:
    Permute, LayerNorm, Linear, GELU; Swin's MLP: Linear, GELU on [N, H, W, C]).  A
    heuristic: functional reshapes between the producer and the activation are not seen.
    An int applies to every layer; a dict ``{name or regex: int}`` per layer (exact module
    or call-site name first, then ``re.fullmatch`` in order; unmatched layers use
    ``"auto"``).  The axis used is recorded in :attr:`LayerCapture.channel_axis`.

Sample budget (``max_samples=``), bottom-k sampling
    Each sample gets a priority, a splitmix64 hash of ``(seed, global input index)`` (and
    of the position for ``"positions"``); every layer keeps the ``max_samples`` samples of
    smallest priority seen so far (ties broken by index), merging each batch into the kept
    rows.  The result is therefore independent of the batch size, of the order in which
    batches are merged and of sharding, and it is a uniform random sample without
    replacement.  The layer name is not hashed: every layer with one row per input keeps
    the same inputs.  Rows are returned sorted by (global index, position); when fewer
    samples than the budget were offered, all are kept, in input order.
    ``max_inputs`` stops after that many inputs (the last batch is cut).

Distributed (``torch.distributed`` initialised, ``distributed=None`` or ``True``)
    Pass the same full, identically ordered data iterable on every rank (not a
    ``DistributedSampler``): every rank iterates every batch (to know the global input
    offsets) but runs the model only on the batches ``b`` with ``b % world_size == rank``.
    At the end the kept rows, global indices and counts are exchanged with
    ``all_gather_object`` (CPU tensors; with NCCL set the current CUDA device first) and
    merged by the same bottom-k rule, so every rank returns the result a single process
    would compute on the same batches.
"""

from __future__ import annotations

import difflib
import hashlib
import math
import re
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from ._device import checked_device

__all__ = [
    "ACTIVATION_TYPES",
    "LayerCapture",
    "Projection",
    "activation_modules",
    "capture",
    "sample_priorities",
]

ACTIVATION_TYPES: tuple[type[nn.Module], ...] = tuple(
    obj
    for obj in vars(torch.nn.modules.activation).values()
    if isinstance(obj, type)
    and issubclass(obj, nn.Module)
    and obj.__module__ == torch.nn.modules.activation.__name__
    and obj is not nn.MultiheadAttention
)
"""Activation classes captured by default (those of ``torch.nn.modules.activation``,
``MultiheadAttention`` excluded)."""

REDUCTIONS = ("channel_mean", "positions", "tokens", "flatten", "reference")
_USES_AXIS = ("channel_mean", "positions", "tokens")
_POSITIONAL = ("positions", "tokens")

_M64 = np.uint64(0xFFFFFFFFFFFFFFFF)
_PROJ_CHUNK = 1 << 20  # elements of G generated per chunk (defines the matrix; do not change)
_PROJ_CACHE_BYTES = 256 << 20  # projection chunks kept between batches, all layers together


# ----------------------------------------------------------------------------- results


@dataclass(frozen=True, eq=False)
class LayerCapture:
    """Captured rows of one activation call site.

    ``input`` and ``output`` are (n, d) float64 CPU tensors whose rows are paired (row r of
    both comes from the same input ``index[r]`` and, for ``"positions"``, the same
    ``position[r]``, a C-order index into the spatial axes).  ``seen`` counts the samples
    (rows) offered before the budget; ``shape`` is the raw activation shape in the first
    batch; ``channel_axis`` the axis the reduction used (``None`` when it uses none).  A
    side not requested in ``sides`` is ``None``.
    """

    name: str
    module: str
    call: int
    type: str
    input: torch.Tensor | None
    output: torch.Tensor | None
    index: torch.Tensor
    position: torch.Tensor | None
    seen: int
    reduction: str
    channel_axis: int | None
    shape: tuple[int, ...]

    @property
    def n(self) -> int:
        """Number of rows kept."""
        return int(self.index.shape[0])

    @property
    def d(self) -> int:
        """Number of columns (features) of the input rows (of the output if no input)."""
        rows = self.input if self.input is not None else self.output
        return int(rows.shape[1])

    def __repr__(self) -> str:
        return (
            f"LayerCapture({self.name!r}, {self.type}, n={self.n}, d={self.d}, seen={self.seen}, "
            f"reduction={self.reduction!r}, channel_axis={self.channel_axis}, shape={self.shape})"
        )


@dataclass(frozen=True)
class Projection:
    """Random projection of flattened activations to ``k`` dimensions.

    The matrix of a call site is ``G / sqrt(k)``, G of shape (D, k) with independent
    standard normal entries, generated on the CPU in float64 in row chunks of
    ``max(1, 2**20 // k)`` rows, chunk ``c`` drawn from ``torch.Generator`` seeded with a
    BLAKE2 hash of ``(seed, module name, call index, c)``: deterministic across runs,
    processes and devices, identical for the input and the output of a call site, and
    never held whole in memory when D is large (chunks are regenerated per batch once a
    256 MiB cache is full).  Columns are computed in the promoted dtype of the activation
    and float32.
    """

    k: int

    def __post_init__(self) -> None:
        if isinstance(self.k, bool) or not isinstance(self.k, int) or self.k < 1:
            raise ValueError(f"Projection(k): k must be a positive int, got {self.k!r}")

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


# ----------------------------------------------------------------------------- selection


def activation_modules(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """The modules :func:`capture` hooks by default, as ``(qualified name, module)``."""
    inside_mha: set[str] = set()
    out = []
    for name, mod in model.named_modules():
        if isinstance(mod, nn.MultiheadAttention):
            inside_mha.add(name)
            continue
        if not name or not isinstance(mod, ACTIVATION_TYPES):
            continue
        parts = name.split(".")
        if any("attn" in p for p in parts):
            continue
        if any(".".join(parts[:j]) in inside_mha for j in range(1, len(parts))):
            continue
        out.append((name, mod))
    return out


def _select_modules(model: nn.Module, modules: Any) -> tuple[list[tuple[str, nn.Module]], bool]:
    """Returns the selected (name, module) pairs and whether they were named explicitly."""
    if modules is None:
        sel = activation_modules(model)
        if not sel:
            raise ValueError(
                "capture: the model has no activation module (classes of torch.nn.modules.activation "
                "outside attention blocks); functional activations (F.relu) cannot be hooked: pass "
                "modules= (types, a regex or names) to choose modules explicitly"
            )
        return sel, False
    named = [(n, m) for n, m in model.named_modules() if n]
    if isinstance(modules, str):
        try:
            rx = re.compile(modules)
        except re.error as e:
            raise ValueError(f"capture: modules={modules!r} is not a valid regular expression: {e}") from None
        sel = [(n, m) for n, m in named if rx.search(n)]
        if not sel:
            raise ValueError(f"capture: no module name matches the regular expression modules={modules!r}")
        return sel, False
    if isinstance(modules, type):
        modules = (modules,)
    if isinstance(modules, (list, tuple)) and modules:
        if all(isinstance(t, type) and issubclass(t, nn.Module) for t in modules):
            sel = [(n, m) for n, m in named if isinstance(m, tuple(modules))]
            if not sel:
                names = ", ".join(t.__name__ for t in modules)
                raise ValueError(f"capture: the model has no module of type {names} (modules=)")
            return sel, False
        if all(isinstance(s, str) for s in modules):
            table = dict(named)
            sel = []
            for s in modules:
                if s not in table:
                    close = difflib.get_close_matches(s, list(table), n=5)
                    hint = f"; close matches: {close}" if close else ""
                    raise ValueError(f"capture: the model has no module named {s!r} (modules=){hint}")
                sel.append((s, table[s]))
            return sel, True
    raise TypeError(
        "capture: modules= must be None (every activation), a list of nn.Module types, a regular "
        f"expression string, or a non-empty list of module names; got {modules!r}"
    )


def _parse_reduction(reduction: Any) -> tuple[str, Projection | None]:
    if isinstance(reduction, Projection):
        return str(reduction), reduction
    if isinstance(reduction, str):
        if reduction in REDUCTIONS:
            return reduction, None
        raise ValueError(
            f"capture: unknown reduction={reduction!r}; use one of {list(REDUCTIONS)}, "
            "('project', k) or Projection(k)"
        )
    if isinstance(reduction, (tuple, list)) and len(reduction) == 2 and reduction[0] == "project":
        p = Projection(reduction[1])
        return str(p), p
    raise ValueError(
        f"capture: reduction={reduction!r} is not understood; use one of {list(REDUCTIONS)}, "
        "('project', k) or Projection(k)"
    )


def _check_axis_value(v: Any, what: str) -> None:
    if v == "auto" or (isinstance(v, int) and not isinstance(v, bool)):
        return
    raise ValueError(f"capture: channel_axis{what} must be 'auto' or an int, got {v!r}")


def _parse_channel_axis(channel_axis: Any):
    if isinstance(channel_axis, Mapping):
        exact, patterns = {}, []
        for key, v in channel_axis.items():
            if not isinstance(key, str):
                raise TypeError(f"capture: channel_axis keys must be names or regexes (str), got {key!r}")
            _check_axis_value(v, f"[{key!r}]")
            exact[key] = v
            try:
                patterns.append((re.compile(key), v))
            except re.error:
                pass
        return exact, patterns
    _check_axis_value(channel_axis, "")
    return channel_axis


# ----------------------------------------------------------------------------- sampling


def _splitmix(z: np.ndarray) -> np.ndarray:
    z = z + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def sample_priorities(seed: int, index: np.ndarray, position: np.ndarray | None = None) -> np.ndarray:
    """Bottom-k priorities (uint64) of samples ``(index, position)`` for ``seed``.

    ``h(i) = splitmix64(i xor splitmix64(seed))`` (a bijection of i), and for positions
    ``splitmix64(h(i) xor splitmix64(p))``.
    """
    with np.errstate(over="ignore"):
        s = _splitmix(np.array([int(seed) & 0xFFFFFFFFFFFFFFFF], dtype=np.uint64))
        h = _splitmix(np.asarray(index, dtype=np.int64).astype(np.uint64) ^ s)
        if position is not None:
            h = _splitmix(h ^ _splitmix(np.asarray(position, dtype=np.int64).astype(np.uint64)))
    return h


def _bottom_k(prio: np.ndarray, index: np.ndarray, position: np.ndarray | None, k: int | None) -> np.ndarray:
    """Indices of the k smallest (priority, index, position), in increasing row order."""
    m = len(prio)
    if k is None or m <= k:
        return np.arange(m)
    kth = np.partition(prio, k - 1)[k - 1]
    cand = np.flatnonzero(prio <= kth)
    if len(cand) > k:  # ties with the k-th priority: break them by (index, position)
        pos = position[cand] if position is not None else np.zeros(len(cand), np.int64)
        cand = cand[np.lexsort((pos, index[cand], prio[cand]))[:k]]
    return np.sort(cand)


@dataclass
class _Part:
    """Kept rows of one call site (or a batch's contribution to it)."""

    inp: torch.Tensor | None
    out: torch.Tensor | None
    index: np.ndarray
    position: np.ndarray | None
    prio: np.ndarray

    def take(self, sel: np.ndarray) -> _Part:
        t = torch.from_numpy(sel)
        return _Part(
            None if self.inp is None else self.inp.index_select(0, t),
            None if self.out is None else self.out.index_select(0, t),
            self.index[sel],
            None if self.position is None else self.position[sel],
            self.prio[sel],
        )


def _merge(parts: list[_Part], k: int | None) -> _Part:
    parts = [p for p in parts if p is not None]
    if len(parts) == 1:
        merged = parts[0]
    else:
        cat = lambda xs: None if xs[0] is None else torch.cat(xs)
        merged = _Part(
            cat([p.inp for p in parts]),
            cat([p.out for p in parts]),
            np.concatenate([p.index for p in parts]),
            None if parts[0].position is None else np.concatenate([p.position for p in parts]),
            np.concatenate([p.prio for p in parts]),
        )
    sel = _bottom_k(merged.prio, merged.index, merged.position, k)
    if len(sel) < len(merged.prio):
        merged = merged.take(sel)
    return merged


def _merge_into(kept: _Part | None, part: _Part, k: int | None) -> _Part:
    """Bottom-k merge of a batch's rows into the kept rows of a call site.

    Once ``k`` rows are kept, the rows a batch evicts are overwritten in place (no copy of
    the kept rows per batch); the kept rows are then no longer in index order, which
    :func:`_sort_by_index` restores at the end.
    """
    if kept is None:
        return part
    m = len(part.prio)
    if m == 0:
        return kept
    if k is None or len(kept.prio) < k:
        return _merge([kept, part], k)
    pos = None
    if kept.position is not None:
        pos = np.concatenate([kept.position, part.position])
    sel = _bottom_k(np.concatenate([kept.prio, part.prio]), np.concatenate([kept.index, part.index]), pos, k)
    incoming = sel[sel >= k] - k
    if len(incoming) == 0:
        return kept
    evicted = np.setdiff1d(np.arange(k), sel[sel < k], assume_unique=True)
    ev_t, in_t = torch.from_numpy(evicted), torch.from_numpy(incoming)
    if kept.inp is not None:
        kept.inp[ev_t] = part.inp[in_t]
    if kept.out is not None:
        kept.out[ev_t] = part.out[in_t]
    kept.index[evicted] = part.index[incoming]
    if kept.position is not None:
        kept.position[evicted] = part.position[incoming]
    kept.prio[evicted] = part.prio[incoming]
    return kept


def _sort_by_index(p: _Part) -> _Part:
    pos = p.position if p.position is not None else np.zeros(len(p.index), np.int64)
    order = np.lexsort((pos, p.index))
    if np.array_equal(order, np.arange(len(order))):
        return p
    return p.take(order)


@dataclass
class _Site:
    module: str
    call: int
    type: str
    first: tuple[int, int]  # (batch index, call order within the forward pass)
    shape: tuple[int, ...]
    axis: int | None
    seen: int = 0
    kept: _Part | None = None


# ----------------------------------------------------------------------------- reductions


def _flat(t: torch.Tensor) -> torch.Tensor:
    """(N, prod of the other sizes); works for N = 0 and for 1-D tensors."""
    return t.reshape(-1, 1) if t.dim() == 1 else t.flatten(1)


def _producer_axis(shape: tuple[int, ...], producer: nn.Module | None) -> int:
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


class _Capturer:
    def __init__(self, *, reduction, projection, channel_axis, max_samples, seed, sides):
        self.reduction = reduction
        self.projection = projection
        self.channel_axis = channel_axis
        self.max_samples = max_samples
        self.seed = seed
        self.sides = sides
        self.sites: dict[tuple[str, int], _Site] = {}
        self.producer: nn.Module | None = None
        self.proj_cache: dict[tuple, list[torch.Tensor]] = {}
        self.proj_cache_bytes = 0
        # per batch
        self.batch_index = 0
        self.offset = 0
        self.n = 0
        self.calls: dict[str, int] = {}
        self.seq = 0
        self.pending: dict[str, list] = {}

    def start_batch(self, batch_index: int, offset: int, n: int) -> None:
        self.batch_index, self.offset, self.n = batch_index, offset, n
        self.calls, self.seq, self.pending, self.producer = {}, 0, {}, None

    # -- axis

    def _axis(self, name: str, call: int, shape: tuple[int, ...]) -> int | None:
        if self.reduction not in _USES_AXIS or len(shape) < 2:
            return None
        spec = self.channel_axis
        if isinstance(spec, tuple):  # (exact, patterns)
            exact, patterns = spec
            site = f"{name}#{call}"
            if site in exact:
                spec = exact[site]
            elif name in exact:
                spec = exact[name]
            else:
                spec = next((v for rx, v in patterns if rx.fullmatch(name) or rx.fullmatch(site)), "auto")
        if spec == "auto":
            return _producer_axis(shape, self.producer)
        nd = len(shape)
        if not -nd <= spec < nd or spec % nd == 0:
            raise ValueError(
                f"capture: channel_axis={spec} is out of range for layer {name!r} with activation shape "
                f"{tuple(shape)}: use an axis in 1..{nd - 1} or -{nd - 1}..-1 (axis 0 is the batch)"
            )
        return spec

    # -- sample keys and selection

    def _keys(self, shape: tuple[int, ...], axis: int | None):
        n = shape[0]
        index = self.offset + np.arange(n, dtype=np.int64)
        if self.reduction in _POSITIONAL and len(shape) >= 3:
            spatial = [s for j, s in enumerate(shape[1:], 1) if j != axis % len(shape)]
            npos = int(np.prod(spatial))
            return np.repeat(index, npos), np.tile(np.arange(npos, dtype=np.int64), n), spatial
        if self.reduction in _POSITIONAL:
            return index, np.zeros(n, np.int64), []
        return index, None, None

    def _select(self, site: _Site, index, position) -> tuple[np.ndarray, np.ndarray]:
        prio = sample_priorities(self.seed, index, position)
        k = self.max_samples
        cand = np.arange(len(prio))
        if k is not None and site.kept is not None and len(site.kept.prio) >= k:
            cand = np.flatnonzero(prio <= site.kept.prio.max())
        if k is not None and len(cand) > k:
            sub = _bottom_k(prio[cand], index[cand], None if position is None else position[cand], k)
            cand = cand[sub]
        return cand, prio

    # -- reductions on the device

    def _reduce(self, x: torch.Tensor, sel: np.ndarray, pos: np.ndarray | None, spatial, axis, site_key):
        """Rows of the reduction of x for the selected samples, float64 CPU (always a copy)."""
        dev = x.device
        red = self.reduction
        nd = x.dim()
        if red in _POSITIONAL:
            if nd <= 2:
                rows = _flat(x).index_select(0, torch.from_numpy(sel).to(dev))
            else:
                xm = x.movedim(axis, -1)
                n_idx = torch.from_numpy(sel // max(1, int(np.prod(spatial)))).to(dev)
                coords = np.unravel_index(pos, spatial)
                rows = xm[(n_idx, *(torch.from_numpy(np.ascontiguousarray(c)).to(dev) for c in coords))]
            return rows.to(device="cpu", dtype=torch.float64)
        xs = x.index_select(0, torch.from_numpy(sel).to(dev))
        if red == "channel_mean":
            if nd == 1:
                rows = xs[:, None]
            elif nd == 2:
                rows = xs
            else:
                rows = xs.movedim(axis, 1).mean(dim=tuple(range(2, nd)))
        elif red == "reference":
            if nd == 4:
                rows = torch.mean(xs, dim=(-2, -1))
            elif nd == 3:
                rows = torch.mean(xs, dim=-1)
            else:
                rows = _flat(xs)
        elif red == "flatten":
            rows = _flat(xs)
        else:
            rows = self._project(_flat(xs), site_key)
        return rows.to(device="cpu", dtype=torch.float64)

    def _project(self, flat: torch.Tensor, site_key: tuple[str, int]) -> torch.Tensor:
        proj = self.projection
        dt = torch.promote_types(flat.dtype, torch.float32) if flat.is_floating_point() else torch.float32
        flat = flat.to(dt)
        dim = flat.shape[1]
        if flat.shape[0] == 0:
            return flat.new_zeros(0, proj.k)
        key = (site_key, dim, dt, flat.device)
        chunks = self.proj_cache.get(key)
        rows = proj.chunk_rows()
        n_chunks = -(-dim // rows)
        gen = (
            chunks
            if chunks is not None
            else (
                proj.chunk(dim, c, seed=self.seed, module=site_key[0], call=site_key[1])
                .to(device=flat.device, dtype=dt)
                for c in range(n_chunks)
            )
        )
        nbytes = dim * proj.k * flat.element_size()
        store = chunks is None and self.proj_cache_bytes + nbytes <= _PROJ_CACHE_BYTES
        kept = []
        acc = torch.zeros(flat.shape[0], proj.k, dtype=dt, device=flat.device)
        for c, g in enumerate(gen):
            acc += flat[:, c * rows : c * rows + g.shape[0]] @ g
            if store:
                kept.append(g)
        if store:
            self.proj_cache[key] = kept
            self.proj_cache_bytes += nbytes
        return acc / math.sqrt(proj.k)

    # -- hooks

    def pre_hook(self, name: str, type_name: str):
        def hook(module, args):
            call = self.calls.get(name, 0)
            self.calls[name] = call + 1
            x = args[0] if args else None
            if not isinstance(x, torch.Tensor):
                raise TypeError(
                    f"capture: module {name!r} ({type_name}) received {type(x).__name__} as its first "
                    "positional input, not a tensor; choose other modules with modules="
                )
            shape = tuple(x.shape)
            if x.dim() == 0 or shape[0] != self.n:
                raise ValueError(
                    f"capture: the activation of {name!r} has shape {shape} but the batch has {self.n} "
                    "inputs; capture assumes the batch axis is axis 0 (exclude this module with modules=)"
                )
            if self.reduction == "tokens" and len(shape) != 3:
                raise ValueError(
                    f"capture: reduction='tokens' expects 3-D [N, T, D] activations but {name!r} has shape "
                    f"{shape}; use reduction='positions'"
                )
            key = (name, call)
            site = self.sites.get(key)
            if site is None:  # the axis is resolved on the first call and kept for the call site
                site = _Site(name, call, type_name, (self.batch_index, self.seq), shape, self._axis(name, call, shape))
                self.sites[key] = site
            elif len(shape) != len(site.shape):
                raise ValueError(
                    f"capture: the activation of {name!r} changed rank between batches ({site.shape} then {shape})"
                )
            axis = site.axis
            self.seq += 1
            index, position, spatial = self._keys(shape, axis)
            sel, prio = self._select(site, index, position)
            pos_sel = None if position is None else position[sel]
            inp = self._reduce(x, sel, pos_sel, spatial, axis, key) if "input" in self.sides else None
            part = _Part(inp, None, index[sel], pos_sel, prio[sel])
            self.pending.setdefault(name, []).append((site, shape, axis, sel, spatial, part, len(prio)))

        return hook

    def post_hook(self, name: str):
        def hook(module, args, output):
            site, shape, axis, sel, spatial, part, offered = self.pending[name].pop()
            if "output" in self.sides:
                y = output
                if not isinstance(y, torch.Tensor):
                    raise TypeError(
                        f"capture: module {name!r} returned {type(y).__name__}, not a tensor; choose other "
                        "modules with modules= or sides=('input',)"
                    )
                if y.dim() == 0 or y.shape[0] != shape[0]:
                    raise ValueError(
                        f"capture: the output of {name!r} has shape {tuple(y.shape)}, its input {shape}: "
                        "capture needs the batch on axis 0 of both"
                    )
                if self.reduction in _POSITIONAL and tuple(y.shape) != shape:
                    raise ValueError(
                        f"capture: reduction={self.reduction!r} needs the output of {name!r} to have its "
                        f"input's shape {shape} (got {tuple(y.shape)}) to pair input and output positions"
                    )
                part.out = self._reduce(y, sel, part.position, spatial, axis, (name, site.call))
            site.seen += offered
            site.kept = _merge_into(site.kept, part, self.max_samples)

        return hook

    def producer_hook(self, module, args, output):
        self.producer = module


# ----------------------------------------------------------------------------- driver


def _batches(data: Any, batch_size: int) -> Iterator[Any]:
    if isinstance(data, torch.Tensor):
        if data.dim() == 0:
            raise ValueError("capture: data is a 0-d tensor; pass a tensor of inputs with the batch on axis 0")
        for s in range(0, data.shape[0], batch_size):
            yield data[s : s + batch_size]
    else:
        try:
            it = iter(data)
        except TypeError:
            raise TypeError(
                f"capture: data must be a tensor, a DataLoader or an iterable of batches, got {type(data).__name__}"
            ) from None
        yield from it


def _inputs_of(batch: Any, b: int) -> torch.Tensor:
    x = batch
    if isinstance(batch, (tuple, list)):
        if not batch:
            raise TypeError(f"capture: batch {b} of data is an empty {type(batch).__name__}")
        x = batch[0]
    if not isinstance(x, torch.Tensor):
        raise TypeError(
            f"capture: data must yield tensors or (inputs, labels, ...) tuples of tensors; batch {b} gave "
            f"{type(x).__name__}; wrap your data in a DataLoader or a generator of tensors"
        )
    if x.dim() == 0:
        raise ValueError(f"capture: batch {b} of data is a 0-d tensor; the batch must be on axis 0")
    return x


def _n_batches(data: Any, batch_size: int) -> int | None:
    if isinstance(data, torch.Tensor):
        return -(-data.shape[0] // batch_size) if data.dim() else None
    try:
        return len(data)
    except TypeError:
        return None


def _dist_rank_world(distributed: bool | None) -> tuple[int, int]:
    ok = torch.distributed.is_available() and torch.distributed.is_initialized()
    if distributed is True and not ok:
        raise ValueError("capture: distributed=True but torch.distributed is not initialised (init_process_group)")
    if distributed is False or not ok:
        return 0, 1
    return torch.distributed.get_rank(), torch.distributed.get_world_size()


def capture(
    model: nn.Module,
    data: Any,
    *,
    modules: Any = None,
    reduction: Any = "channel_mean",
    channel_axis: int | str | Mapping[str, int | str] = "auto",
    max_samples: int | None = 2048,
    max_inputs: int | None = None,
    batch_size: int = 256,
    seed: int = 0,
    device: str | torch.device | None = None,
    progress: bool = True,
    sides: Sequence[str] | str = ("input", "output"),
    distributed: bool | None = None,
) -> dict[str, LayerCapture]:
    """Capture the (input, output) rows of a model's activations over a data set.

    Parameters
    ----------
    model : any ``nn.Module``; put in eval mode under ``torch.no_grad()`` during capture,
        each submodule's training flag restored afterwards.  All hooks are removed on exit.
    data : a tensor of inputs (split into batches of ``batch_size``), a ``DataLoader`` or
        any iterable of batches; a batch is a tensor or an ``(inputs, labels, ...)`` tuple
        or list (element 0 is fed to ``model``).  Floating inputs are cast to the dtype of
        the model's first floating parameter.
    modules : ``None`` (every activation module, attention blocks skipped), a list of
        module types, a regex searched in qualified names, or a list of names.
    reduction : ``"channel_mean"``, ``"positions"``, ``"tokens"``, ``"flatten"``,
        ``"reference"``, ``("project", k)`` or ``Projection(k)`` (see the module docs).
    channel_axis : ``"auto"``, an int, or ``{name or regex: int}``.
    max_samples : rows kept per layer (bottom-k sample, see the module docs); ``None``
        keeps everything (unbounded memory).
    max_inputs : stop after this many inputs (``None``: all of ``data``).
    batch_size : batch size when ``data`` is a tensor.
    seed : seeds the sample priorities and the projection matrices.
    device : ``None`` keeps the model where it is and sends batches to its device; a
        device moves the model there for the capture (and back afterwards).
    progress : show a tqdm bar over batches (rank 0 only).
    sides : ``("input", "output")`` or one of them; a side left out is ``None``.
    distributed : ``None`` shards batches over ranks when ``torch.distributed`` is
        initialised, ``False`` never, ``True`` requires it.  Every rank must pass the same
        full data; every rank returns the merged result.

    Returns
    -------
    ``{layer name: LayerCapture}`` in the order of first call; a module called several
    times per forward pass gives one layer per call site, ``"name#0"``, ``"name#1"``, ...
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"capture: model must be a torch.nn.Module, got {type(model).__name__}")
    red_name, projection = _parse_reduction(reduction)
    base_red = "project" if projection is not None else red_name
    axis_spec = _parse_channel_axis(channel_axis)
    for arg, value, optional in (("max_samples", max_samples, True), ("max_inputs", max_inputs, True),
                                 ("batch_size", batch_size, False)):
        if optional and value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            none = " or None" if optional else ""
            raise ValueError(f"capture: {arg} must be a positive int{none}, got {value!r}")
    if isinstance(sides, str):
        sides = (sides,)
    sides = tuple(sides)
    if not sides or any(s not in ("input", "output") for s in sides):
        raise ValueError(f"capture: sides must be a non-empty subset of ('input', 'output'), got {sides!r}")
    selected, explicit = _select_modules(model, modules)
    rank, world = _dist_rank_world(distributed)

    cap = _Capturer(
        reduction=base_red,
        projection=projection,
        channel_axis=axis_spec,
        max_samples=max_samples,
        seed=seed,
        sides=sides,
    )
    params = list(model.parameters()) + list(model.buffers())
    home = params[0].device if params else torch.device("cpu")
    target = checked_device(device) if device is not None else home
    fdtype = next((p.dtype for p in model.parameters() if p.is_floating_point()), None)
    modes = {m: m.training for m in model.modules()}
    handles = []
    moved = False
    try:
        if target != home:
            model.to(target)
            moved = True
        model.eval()
        selected_ids = {id(m) for _, m in selected}
        for name, mod in selected:
            handles.append(mod.register_forward_pre_hook(cap.pre_hook(name, type(mod).__name__)))
            handles.append(mod.register_forward_hook(cap.post_hook(name)))
        if base_red in _USES_AXIS:
            for mod in model.modules():
                if id(mod) in selected_ids or next(mod.children(), None) is not None:
                    continue
                if next(mod.parameters(recurse=False), None) is not None:
                    handles.append(mod.register_forward_hook(cap.producer_hook))
        total = _n_batches(data, batch_size)
        offset = 0
        from tqdm.auto import tqdm

        bar = tqdm(total=total, desc="capture", unit="batch", disable=not progress or rank != 0)
        with torch.no_grad(), bar:
            for b, batch in enumerate(_batches(data, batch_size)):
                x = _inputs_of(batch, b)
                if max_inputs is not None and offset + x.shape[0] > max_inputs:
                    x = x[: max_inputs - offset]
                n = x.shape[0]
                if b % world == rank and n > 0:
                    x = x.to(target)
                    if fdtype is not None and x.is_floating_point() and x.dtype != fdtype:
                        x = x.to(fdtype)
                    cap.start_batch(b, offset, n)
                    model(x)
                offset += n
                bar.update(1)
                if max_inputs is not None and offset >= max_inputs:
                    break
        if offset == 0:
            raise ValueError("capture: data is empty (no inputs); pass at least one non-empty batch")
    finally:
        for h in handles:
            h.remove()
        for m, t in modes.items():
            m.training = t
        if moved:
            model.to(home)

    sites = cap.sites
    if world > 1:
        sites = _gather_sites(sites, max_samples)
    if not sites:
        raise ValueError(
            "capture: none of the selected modules ran during the forward passes; check modules= "
            "(functional activations such as F.relu cannot be hooked)"
        )
    called = {s.module for s in sites.values()}
    if explicit:
        missing = [n for n, _ in selected if n not in called]
        if missing:
            warnings.warn(f"capture: modules never called during the forward passes: {missing}", stacklevel=2)
    multi = {s.module for s in sites.values() if s.call > 0}
    out: dict[str, LayerCapture] = {}
    for site in sorted(sites.values(), key=lambda s: s.first):
        name = f"{site.module}#{site.call}" if site.module in multi else site.module
        kept = _sort_by_index(site.kept)
        out[name] = LayerCapture(
            name=name,
            module=site.module,
            call=site.call,
            type=site.type,
            input=kept.inp,
            output=kept.out,
            index=torch.from_numpy(kept.index.copy()),
            position=None if kept.position is None else torch.from_numpy(kept.position.copy()),
            seen=site.seen,
            reduction=red_name,
            channel_axis=site.axis,
            shape=site.shape,
        )
    return out


def _gather_sites(sites: dict, max_samples: int | None) -> dict:
    """Merge every rank's call sites (bottom-k over the union of kept rows)."""
    payload = {
        key: (s.type, s.first, s.shape, s.axis, s.seen,
              s.kept.inp, s.kept.out, s.kept.index, s.kept.position, s.kept.prio)
        for key, s in sites.items()
    }
    gathered: list = [None] * torch.distributed.get_world_size()
    torch.distributed.all_gather_object(gathered, payload)
    merged: dict = {}
    parts: dict = {}
    for rank_payload in gathered:
        for key, (typ, first, shape, axis, seen, inp, outp, index, position, prio) in rank_payload.items():
            site = merged.get(key)
            if site is None or first < site.first:
                prev_seen = 0 if site is None else site.seen
                site = merged[key] = _Site(key[0], key[1], typ, first, shape, axis, prev_seen)
            site.seen += seen
            parts.setdefault(key, []).append(_Part(inp, outp, index, position, prio))
    for key, site in merged.items():
        site.kept = _merge(parts[key], max_samples)
    return merged
