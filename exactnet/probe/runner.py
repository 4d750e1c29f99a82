"""One layer-wise runner for every per-layer score.

:func:`layerwise` streams the data through a model once, recording what every selected
layer (activation call site) sees with :func:`~exactnet.probe.capture`, and computes a
score on each layer's record. A score is any callable that takes a :class:`LayerData` and
returns a number or a dict of named values; it says what it needs in ``needs``:

* ``"input"`` and ``"output"``: the rows of the layer's input and output (the affinity
  score, :class:`~exactnet.probe.nonlinearity.AffinityScore`);
* ``"labels"``: the label of every row, from ``(inputs, labels)`` batches or ``labels=``
  (class separability);
* ``"paths"``: the data is a batch of input paths, a tensor ``(paths, steps, *input)``
  or a :class:`~exactnet.probe.smp.LazyPaths` computed batch by batch;
  every row is kept, in path order, and :attr:`LayerData.paths` gives ``(paths, steps)``
  (non-smoothness along paths).

The result, :class:`LayerwiseResult`, is one type for every score: a row per layer with
the score's values, a table, JSON and a plot; :func:`plot_layerwise` draws several results
(networks, epochs, data sizes) in one figure.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

from ..extras import require

require("torch", "the layer-wise runner")

import torch  # noqa: E402

from ._device import checked_device  # noqa: E402
from .batches import batches, count_batches, inputs_of  # noqa: E402
from .recording import LayerCapture, capture  # noqa: E402

if TYPE_CHECKING:
    import os

    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from numpy.typing import ArrayLike

    from .recording import ModuleSelection
    from .reductions import ReductionLike
    from .smp import LazyPaths

__all__ = [
    "LayerData",
    "LayerRow",
    "LayerScoreFunction",
    "LayerwiseResult",
    "layerwise",
    "layerwise_table",
    "plot_layerwise",
]

NEEDS = ("input", "output", "labels", "paths")


@dataclass(frozen=True, eq=False)
class LayerData:
    """What a score sees of one layer (activation call site): its ``capture`` (the rows
    recorded, :class:`~exactnet.probe.LayerCapture`) and what the runner adds to it.

    ``input``/``output``: (n, d) float64 CPU tensors of rows (``None`` when the score did
    not ask for that side); ``index``: the global input index of every row (and
    ``position``, the spatial position, for the positional reductions); ``labels``: (n,)
    labels of the rows' inputs when the score needs them; ``paths``: ``(paths, steps)``
    when the data is a batch of paths (input ``i`` is step ``i % steps`` of path
    ``i // steps``); ``device``: where the model ran (scores may compute there)."""

    name: str
    capture: LayerCapture
    labels: torch.Tensor | None
    paths: tuple[int, int] | None
    device: torch.device

    @property
    def type(self) -> str:
        return self.capture.type

    @property
    def input(self) -> torch.Tensor | None:
        return self.capture.input

    @property
    def output(self) -> torch.Tensor | None:
        return self.capture.output

    @property
    def index(self) -> torch.Tensor:
        return self.capture.index

    @property
    def position(self) -> torch.Tensor | None:
        return self.capture.position

    @property
    def n(self) -> int:
        return self.capture.n

    @property
    def d(self) -> int:
        return self.capture.d


@runtime_checkable
class LayerScoreFunction(Protocol):
    """A per-layer score: ``score(layer) -> float | {name: value}``.

    Optional attributes: ``name`` (default: the callable's ``__name__``), ``needs`` (a
    subset of ``("input", "output", "labels", "paths")``; default ``("input", "output")``),
    ``primary`` (the value plotted and returned by :attr:`LayerwiseResult.scores`;
    default: the first), ``legend`` (``{flag name: what a true flag means}`` for the
    table) and ``options`` (a dict recorded in the result)."""

    def __call__(self, layer: LayerData) -> float | Mapping[str, Any]: ...


@dataclass(frozen=True)
class LayerRow:
    """One layer of a :class:`LayerwiseResult`: its name, activation type, rows ``n`` and
    features ``d``, the score's ``values`` and the seconds the score took. The values are
    also attributes: ``row.score``, ``row.shrinkage``, ..."""

    name: str
    type: str
    d: int
    n: int
    values: dict[str, Any]
    seconds: float

    def __getattr__(self, key: str) -> Any:
        values = self.__dict__.get("values", {})
        if key in values:
            return values[key]
        raise AttributeError(f"{type(self).__name__} has no attribute or value {key!r}; values: {sorted(values)}")


@dataclass(frozen=True)
class LayerwiseResult:
    """A score of every layer of one model, in forward order (one row per layer)."""

    model: str
    score: str  # the score's name
    primary: str  # the value plotted and returned by ``scores``
    layers: tuple[LayerRow, ...]
    reduction: str
    samples: int | None
    seed: int
    capture_seconds: float
    options: dict[str, Any] = field(default_factory=dict)  # the score's settings
    legend: dict[str, str] = field(default_factory=dict)  # flag name -> meaning, for the table
    info: dict[str, Any] = field(default_factory=dict)  # anything the caller adds (data, epoch, ...)

    @property
    def scores(self) -> np.ndarray:
        """The primary value of every layer."""
        return self.values(self.primary)

    def values(self, key: str) -> np.ndarray:
        """The value ``key`` of every layer (NaN where a layer has none)."""
        return np.array([float(row.values.get(key, np.nan)) for row in self.layers])

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict: the settings, and ``layers`` = [{name, type, d, n, <values>, seconds}]."""
        return {
            "model": self.model,
            "score": self.score,
            "reduction": self.reduction,
            "samples": self.samples,
            "seed": self.seed,
            "capture_seconds": self.capture_seconds,
            **self.options,
            "layers": [
                {"name": r.name, "type": r.type, "d": r.d, "n": r.n, **r.values, "seconds": r.seconds}
                for r in self.layers
            ],
            **({"info": self.info} if self.info else {}),
        }

    def table(self) -> str:
        """A plain-text table, one row per layer: numbers as columns, true flags at the end."""
        rows = [asdict(r) for r in self.layers]
        keys = list(dict.fromkeys(k for r in self.layers for k in r.values))
        flags = [k for k in keys if all(isinstance(r.values.get(k, False), (bool, np.bool_)) for r in self.layers)]
        numbers = [k for k in keys if k not in flags]
        width = max([len("name")] + [len(r["name"]) for r in rows])
        kinds = max([len("type")] + [len(r["type"]) for r in rows])
        cols = "".join(f"  {k:>10}" for k in numbers)
        lines = [f"{'#':>3}  {'name':<{width}}  {'type':<{kinds}}  {'d':>6}  {'n':>6}{cols}  {'time s':>7}"]
        for i, r in enumerate(self.layers):
            cells = "".join(f"  {_cell(r.values.get(k)):>10}" for k in numbers)
            marks = " ".join(k for k in flags if r.values.get(k))
            lines.append(
                f"{i:>3}  {r.name:<{width}}  {r.type:<{kinds}}  {r.d:>6}  {r.n:>6}{cells}  {r.seconds:>7.3f}"
                + (f"  {marks}" if marks else "")
            )
        for flag in flags:
            if flag in self.legend and any(r.values.get(flag) for r in self.layers):
                lines.append(f"{flag}: {self.legend[flag]}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        """The notebook display: the table of every layer's values, and the plot of the
        primary value."""
        from .._html import figure_tag, table_html

        keys = list(self.layers[0].values) if self.layers else []
        rows = [(r.name, r.type, r.d, r.n, *[r.values.get(k) for k in keys]) for r in self.layers]
        out = f"<b>{self.score} per layer of {self.model}</b>" + table_html(rows, ("layer", "type", "d", "n", *keys))
        if self.layers:
            try:
                out += figure_tag(self.plot(), f"{self.primary} per layer")
            except ImportError:  # no matplotlib: the table alone
                pass
        return out

    def __str__(self) -> str:
        return f"{self.score} of {self.model} per layer ({self.reduction}, n={self.samples}):\n{self.table()}"

    def plot(self, key: str | None = None, ax: Axes | None = None, **kwargs: Any) -> Figure:
        """Draw the value ``key`` (default: the primary one) against the layer index on
        ``ax`` (a new figure if None); returns the figure. See :func:`plot_layerwise`."""
        return plot_layerwise([self], key=key, ax=ax, normalized_depth=False, **kwargs)


def layerwise_table(
    results: Sequence[LayerwiseResult] | Mapping[str, LayerwiseResult], *, key: str | None = None
) -> str:
    """One value per layer for several results of the same network (epochs, training-set
    sizes, ...): a plain-text table with a row per layer and a column per result
    (``results`` as ``{label: result}``, or a list labelled by position). ``key``: the
    value shown (default: the primary one of the first result). Networks with other
    layers compare in :func:`plot_layerwise` (relative depth)."""
    items = list(results.items()) if isinstance(results, Mapping) else [(str(i), r) for i, r in enumerate(results)]
    if not items:
        raise ValueError("results is empty; pass one or more LayerwiseResult objects")
    names = [row.name for row in items[0][1].layers]
    for label, res in items[1:]:
        if [row.name for row in res.layers] != names:
            raise ValueError(
                f"results[{label!r}] has other layers than results[{items[0][0]!r}]; a table compares one network "
                "(compare networks with plot_layerwise, which uses the relative depth)"
            )
    shown = key or items[0][1].primary
    width = max([len("layer")] + [len(n) for n in names])
    cols = [max(10, len(label)) for label, _ in items]
    lines = [f"{shown} per layer", f"{'layer':<{width}}" + "".join(f"  {lab:>{w}}" for (lab, _), w in zip(items, cols))]
    for i, n in enumerate(names):
        cells = "".join(f"  {_cell(res.layers[i].values.get(shown)):>{w}}" for (_, res), w in zip(items, cols))
        lines.append(f"{n:<{width}}{cells}")
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if isinstance(value, (float, np.floating)):
        return f"{float(value):.4f}"
    return "-" if value is None else str(value)


def _as_values(out: Any, name: str) -> dict[str, Any]:
    if isinstance(out, Mapping):
        return dict(out)
    if isinstance(out, (int, float, np.integer, np.floating)) and not isinstance(out, bool):
        return {name: float(out)}
    raise TypeError(f"the score {name!r} returned {type(out).__name__}; a score returns a number or a dict of values")


def _needs(score: Callable) -> tuple[str, ...]:
    needs = tuple(getattr(score, "needs", ("input", "output")))
    bad = [k for k in needs if k not in NEEDS]
    if bad or not needs:
        raise ValueError(f"score.needs={needs!r}; use a non-empty subset of {NEEDS}")
    return needs


def _class_codes(labels: np.ndarray) -> np.ndarray:
    """Labels as torch takes them: numbers as they are, class names (strings, objects)
    numbered in sorted order, as :func:`exactnet.n1` numbers them."""
    if labels.dtype.kind not in "USO":
        return labels
    try:
        return np.unique(labels, return_inverse=True)[1].reshape(labels.shape)
    except TypeError as exc:
        raise ValueError(f"labels mixes kinds of values ({exc}); give one class per input, all of one kind") from None


class _Counted:
    """An iterable with a known length: the batches the runner streams into capture, so
    that the capture's progress bar shows how many are left (``n=None``: unknown)."""

    def __init__(self, items: Iterable[Any], n: int | None):
        self._items = items
        self._n = n

    def __iter__(self):
        return iter(self._items)

    def __len__(self) -> int:
        if self._n is None:
            raise TypeError("the number of batches is not known")
        return self._n


def layerwise(
    model: torch.nn.Module,
    data: torch.Tensor | LazyPaths | Iterable[Any],
    score: LayerScoreFunction | Callable[[LayerData], float | np.integer | np.floating | Mapping[str, Any]],
    *,
    layers: ModuleSelection | None = None,
    reduction: ReductionLike = "channel_mean",
    channel_axis: int | str | Mapping[str, int | str] = "auto",
    samples: int | None = 2048,
    batch_size: int = 256,
    labels: ArrayLike | torch.Tensor | None = None,
    seed: int = 0,
    device: str | torch.device | None = None,
    progress: bool = True,
    name: str | None = None,
) -> LayerwiseResult:
    """Stream ``data`` through ``model`` once and compute ``score`` on every layer.

    Parameters
    ----------
    model : any ``nn.Module``.
    data : a tensor of inputs, a DataLoader or an iterable of batches (a tensor or an
        ``(inputs, labels, ...)`` tuple); for a score that needs ``"paths"``, a tensor of
        shape ``(paths, steps, *input_shape)`` or a :class:`~exactnet.probe.smp.LazyPaths`
        (``paths_between(..., lazy=True)``: the same rows computed batch by batch, for
        paths too large to hold; only scores that need ``"paths"`` take it).
    score : a :class:`LayerScoreFunction`, e.g.
        :class:`~exactnet.probe.nonlinearity.AffinityScore`, or any callable taking a
        :class:`LayerData`.
    layers : which modules to record: ``None`` (every activation module), module types,
        a regular expression or module names (``capture``'s ``modules=``).
    reduction, channel_axis : how activation tensors become rows (:mod:`~exactnet.probe.reductions`).
    samples : rows kept per layer (a seeded bottom-k sample; ``None``: all). Path scores
        keep every row.
    batch_size : the batch size when ``data`` is a tensor.
    labels : labels of the inputs when ``data`` is a tensor (or the batches carry none).
    seed : seeds the sampling and random projections.
    device : where the model runs (default: where its parameters are).
    progress : tqdm bars for the capture and the scores.
    name : the model's name in the result (default: its class name).
    """
    if not callable(score):
        raise TypeError(f"score must be callable (a LayerScoreFunction), got {type(score).__name__}")
    needs = _needs(score)
    score_name = str(getattr(score, "name", getattr(score, "__name__", type(score).__name__)))
    paths = None
    total: int | None = None  # batches, when known (for the capture's progress bar)
    from .smp import LazyPaths

    if isinstance(data, LazyPaths) and "paths" not in needs:
        raise ValueError(
            f"data is a LazyPaths (input paths) but the score {score_name!r} does not use paths (needs={needs!r}); "
            "pass a tensor of inputs, a DataLoader or batches"
        )
    if "paths" in needs:
        if isinstance(data, LazyPaths):
            if labels is not None:
                raise ValueError(
                    "labels= goes with data given as a tensor; data is a LazyPaths (paths_between(..., lazy=True)), "
                    "pass its dense tensor to label its rows"
                )
            if len(data.shape) < 3:
                raise ValueError(
                    f"the score {score_name!r} needs paths of inputs with at least one axis; the LazyPaths has shape "
                    f"{data.shape}"
                )
            paths = (data.n_paths, data.samples_per_path)
            total = -(-data.n_rows // batch_size)
            data = data.batches(batch_size)
        else:
            if not isinstance(data, torch.Tensor) or data.dim() < 3:
                got = type(data).__name__ + ("" if not isinstance(data, torch.Tensor) else f" {tuple(data.shape)}")
                raise ValueError(
                    f"the score {score_name!r} needs paths: pass data as a tensor of shape "
                    f"(paths, steps, *input_shape) or a LazyPaths (paths_between(..., lazy=True)), got {got}"
                )
            paths = (int(data.shape[0]), int(data.shape[1]))
            data = data.reshape((paths[0] * paths[1],) + tuple(data.shape[2:]))
        samples = None
    if labels is not None:
        if not isinstance(data, torch.Tensor):
            raise ValueError("labels= goes with data given as a tensor; batches of a DataLoader carry their labels")
        labels = labels if isinstance(labels, torch.Tensor) else torch.as_tensor(_class_codes(np.asarray(labels)))
        if labels.shape[:1] != data.shape[:1]:
            raise ValueError(f"labels has {labels.shape[0]} entries but data has {data.shape[0]} inputs")
    seen_labels: list[torch.Tensor] = []

    def stream():
        for b, batch in enumerate(batches(data, batch_size)):
            x = inputs_of(batch, b)
            if "labels" in needs and labels is None:
                if not (isinstance(batch, (tuple, list)) and len(batch) >= 2):
                    raise ValueError(
                        f"the score {score_name!r} needs labels: pass batches (inputs, labels) or labels= with a tensor"
                    )
                seen_labels.append(torch.as_tensor(batch[1]).reshape(-1))
            yield x

    sides = tuple(s for s in ("input", "output") if s in needs) or ("output",)
    if total is None:
        total = count_batches(data, batch_size)
    t0 = time.perf_counter()
    caps = capture(
        model,
        _Counted(stream(), total),  # the capture's progress bar knows how many batches come
        modules=layers,
        reduction=reduction,
        channel_axis=channel_axis,
        max_samples=samples,
        seed=seed,
        device=device,
        progress=progress,
        sides=sides,
    )
    capture_seconds = time.perf_counter() - t0
    all_labels = labels if labels is not None else (torch.cat(seen_labels) if seen_labels else None)
    if "labels" in needs and all_labels is None:
        raise ValueError(f"the score {score_name!r} needs labels and the data has none")
    model_device = (
        checked_device(device)
        if device is not None
        else next((p.device for p in model.parameters()), torch.device("cpu"))
    )
    rows = []
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(caps), desc=f"{score_name} per layer", unit="layer")
    try:
        for layer_name, cap in caps.items():
            layer = LayerData(
                name=layer_name,
                capture=cap,
                labels=None if all_labels is None or "labels" not in needs else all_labels[cap.index],
                paths=paths,
                device=model_device,
            )
            t = time.perf_counter()
            try:
                values = _as_values(score(layer), score_name)
            except ValueError as exc:
                raise ValueError(f"layer {layer_name!r} ({cap.type}, n={cap.n}, d={cap.d}): {exc}") from exc
            rows.append(LayerRow(layer_name, cap.type, cap.d, cap.n, values, time.perf_counter() - t))
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    primary = getattr(score, "primary", None) or next(iter(rows[0].values), score_name)
    return LayerwiseResult(
        model=name or type(model).__name__,
        score=score_name,
        primary=primary,
        layers=tuple(rows),
        reduction=reduction if isinstance(reduction, str) else str(reduction),
        samples=samples,
        seed=seed,
        capture_seconds=capture_seconds,
        options=dict(getattr(score, "options", {})),
        legend=dict(getattr(score, "legend", {})),
    )


def plot_layerwise(
    results: Sequence[LayerwiseResult] | Mapping[str, LayerwiseResult],
    *,
    key: str | None = None,
    ax: Axes | None = None,
    normalized_depth: bool | None = None,
    path: str | os.PathLike[str] | None = None,
    title: str | None = None,
    labels: Sequence[str] | None = None,
) -> Figure:
    """Several results in one figure: a value per layer against depth, one line per result
    (networks, epochs, training-set sizes, ...).

    ``key``: the value drawn (default: each result's primary value). With
    ``normalized_depth`` (default when more than one result is drawn) the x axis is the
    relative depth k / (L - 1), so networks with different numbers of layers compare; a
    single result is drawn against the layer index with the layer names as ticks.
    ``labels``: one legend entry per result (default: the model name and its number of
    layers). Saves to ``path`` (PNG or SVG) when given; returns the figure."""
    require("matplotlib", "plot_layerwise")
    import matplotlib

    if ax is None and path is not None:
        matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    res = list(results.values()) if isinstance(results, Mapping) else list(results)
    if not res:
        raise ValueError("results is empty; pass one or more LayerwiseResult objects")
    if labels is not None and len(labels) != len(res):
        raise ValueError(f"labels has {len(labels)} entries for {len(res)} results")
    if normalized_depth is None:
        normalized_depth = len(res) > 1
    if ax is None:
        width = 7 if normalized_depth else max(6, 0.22 * len(res[0].layers) + 2)
        fig, ax = plt.subplots(figsize=(width, 4))
    else:
        from ..plot import figure_of

        fig = figure_of(ax)
    series = [r.values(key or r.primary) for r in res]
    for i, (r, y) in enumerate(zip(res, series)):
        k = np.arange(len(r.layers))
        x = k / max(len(k) - 1, 1) if normalized_depth else k
        label = labels[i] if labels is not None else f"{r.model} ({len(k)})"
        ax.plot(x, y, marker="o", markersize=3, linewidth=1.2, label=label)
    if normalized_depth:
        ax.set_xlabel("relative depth of the layer")
    else:
        names = [row.name for row in res[0].layers]
        ax.set_xticks(np.arange(len(names)))
        ax.set_xticklabels(names, rotation=90, fontsize=6)
        ax.set_xlabel("layer (forward order)")
    shown = key or res[0].primary
    ax.set_ylabel(f"{res[0].score}: {shown}" if shown != res[0].score else shown)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(title or f"{res[0].score} per layer")
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=120)
    return fig
