"""Activation capture by hooks: the inputs ``X`` and outputs ``Y`` of a network's activations.

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

Reductions (``reduction=``)
    See :mod:`exactnet.probe.reductions`: channel mean, positions or tokens as samples,
    flatten, AffScoreDeep's ``"reference"``, or a random projection.

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
    ``"auto"``).  The axis used is recorded in :attr:`LayerCapture.channel_axis`
    (:func:`exactnet.probe.reductions.producer_axis` says how ``"auto"`` decides).

Sample budget (``max_samples=``), bottom-k sampling
    Every layer keeps the ``max_samples`` samples of smallest priority, a seeded hash of
    the global input index (:mod:`exactnet.probe.sampling`): a uniform sample without
    replacement, independent of the batch size, of the merge order and of sharding.
    Rows are returned sorted by (global index, position); when fewer samples than the
    budget were offered, all are kept, in input order. ``max_inputs`` stops after that
    many inputs (the last batch is cut).

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
import re
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeAlias

import numpy as np

from ..extras import require

require("torch", "activation capture")

import torch  # noqa: E402
from torch import nn  # noqa: E402

from ._device import checked_device  # noqa: E402
from .batches import batches, count_batches, inputs_of, rank_and_world  # noqa: E402
from .reductions import POSITIONAL, USES_AXIS, ProjectionCache, parse_reduction, producer_axis, reduce_rows  # noqa: E402
from .sampling import Rows, bottom_k, merge, merge_into, sample_priorities, sort_by_index  # noqa: E402

if TYPE_CHECKING:
    from .reductions import ReductionLike

    #: A ``modules=`` argument (with ``None``: every activation module): a regular expression
    #: searched in the qualified names, module types, or a list of names (the sequences must
    #: be lists or tuples at run time; ``Sequence`` because ``list`` is invariant).
    ModuleSelection: TypeAlias = str | type[nn.Module] | Sequence[type[nn.Module]] | Sequence[str]

__all__ = [
    "ACTIVATION_TYPES",
    "LayerCapture",
    "activation_modules",
    "capture",
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
        assert rows is not None  # capture records at least one side
        return int(rows.shape[1])

    def __repr__(self) -> str:
        return (
            f"LayerCapture({self.name!r}, {self.type}, n={self.n}, d={self.d}, seen={self.seen}, "
            f"reduction={self.reduction!r}, channel_axis={self.channel_axis}, shape={self.shape})"
        )


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
            types = tuple(modules)
            sel = [pair for pair in named if isinstance(pair[1], types)]
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


@dataclass
class _Site:
    module: str
    call: int
    type: str
    first: tuple[int, int]  # (batch index, call order within the forward pass)
    shape: tuple[int, ...]
    axis: int | None
    seen: int = 0
    kept: Rows | None = None
    # with no sample budget every batch's rows are kept: gathered here and concatenated
    # once at the end (merging batch by batch would copy the growing rows every time)
    parts: list[Rows] = field(default_factory=list)

    def flush(self) -> None:
        if self.parts:
            self.kept = merge(([self.kept] if self.kept is not None else []) + self.parts, None)
            self.parts = []


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
        self.projector = ProjectionCache(projection, seed) if projection is not None else None
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
        if self.reduction not in USES_AXIS or len(shape) < 2:
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
            return producer_axis(shape, self.producer)
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
        if self.reduction in POSITIONAL and len(shape) >= 3 and axis is not None:
            spatial = [s for j, s in enumerate(shape[1:], 1) if j != axis % len(shape)]
            npos = int(np.prod(spatial))
            return np.repeat(index, npos), np.tile(np.arange(npos, dtype=np.int64), n), spatial
        if self.reduction in POSITIONAL:
            return index, np.zeros(n, np.int64), []
        return index, None, None

    def _select(self, site: _Site, index, position) -> tuple[np.ndarray, np.ndarray]:
        prio = sample_priorities(self.seed, index, position)
        k = self.max_samples
        cand = np.arange(len(prio))
        if k is not None and site.kept is not None and len(site.kept.prio) >= k:
            cand = np.flatnonzero(prio <= site.kept.prio.max())
        if k is not None and len(cand) > k:
            sub = bottom_k(prio[cand], index[cand], None if position is None else position[cand], k)
            cand = cand[sub]
        return cand, prio

    # -- hooks

    def _reduce(self, x: torch.Tensor, sel, pos, spatial, axis, site_key) -> torch.Tensor:
        return reduce_rows(
            x,
            self.reduction,
            sample=sel,
            position=pos,
            spatial=spatial,
            axis=axis,
            projector=self.projector,
            site_key=site_key,
        )

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
            part = Rows(inp, None, index[sel], pos_sel, prio[sel])
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
                if self.reduction in POSITIONAL and tuple(y.shape) != shape:
                    raise ValueError(
                        f"capture: reduction={self.reduction!r} needs the output of {name!r} to have its "
                        f"input's shape {shape} (got {tuple(y.shape)}) to pair input and output positions"
                    )
                part.out = self._reduce(y, sel, part.position, spatial, axis, (name, site.call))
            site.seen += offered
            if self.max_samples is None:
                site.parts.append(part)
            else:
                site.kept = merge_into(site.kept, part, self.max_samples)

        return hook

    def producer_hook(self, module, args, output):
        self.producer = module


# ----------------------------------------------------------------------------- driver


def capture(
    model: nn.Module,
    data: torch.Tensor | Iterable[Any],
    *,
    modules: ModuleSelection | None = None,
    reduction: ReductionLike = "channel_mean",
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
        ``"reference"``, ``("project", k)`` or ``Projection(k)`` (see :mod:`exactnet.probe.reductions`).
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
    red_name, projection = parse_reduction(reduction)
    base_red = "project" if projection is not None else red_name
    axis_spec = _parse_channel_axis(channel_axis)
    for arg, value, optional in (
        ("max_samples", max_samples, True),
        ("max_inputs", max_inputs, True),
        ("batch_size", batch_size, False),
    ):
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
    rank, world = rank_and_world(distributed)

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
        if base_red in USES_AXIS:
            for mod in model.modules():
                if id(mod) in selected_ids or next(mod.children(), None) is not None:
                    continue
                if next(mod.parameters(recurse=False), None) is not None:
                    handles.append(mod.register_forward_hook(cap.producer_hook))
        total = count_batches(data, batch_size)
        offset = 0
        from tqdm.auto import tqdm

        bar = tqdm(total=total, desc="capture", unit="batch", disable=not progress or rank != 0)
        with torch.no_grad(), bar:
            for b, batch in enumerate(batches(data, batch_size)):
                x = inputs_of(batch, b)
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
    for site in sites.values():
        site.flush()
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
        assert site.kept is not None  # a call site exists once its first rows are kept
        kept = sort_by_index(site.kept)
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
        key: (
            s.type,
            s.first,
            s.shape,
            s.axis,
            s.seen,
            s.kept.inp,
            s.kept.out,
            s.kept.index,
            s.kept.position,
            s.kept.prio,
        )
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
            parts.setdefault(key, []).append(Rows(inp, outp, index, position, prio))
    for key, site in merged.items():
        site.kept = merge(parts[key], max_samples)
    return merged
