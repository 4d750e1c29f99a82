"""One report for a whole network: every analysis that applies, in one self-contained
HTML file (:func:`report`).

* For a piecewise-linear network small enough to lower (:func:`~exactnet.from_torch`, or
  an :class:`~exactnet.Network`): the exact partition of a 2-D input domain (or of a 2-D
  slice through three inputs, and the regions along chords between inputs, for more
  inputs; along the input segment for one input) with its picture, the counts beside the
  theoretical bounds, the region graph's statistics, the decision boundary and the
  coverage a sampled estimate would reach.
* For any torch model with data: the per-layer affinity score (non-linearity signature),
  SMP along paths between inputs, and class separability (N1, F1, N3) with labels.

Every number is shown with the definition it follows (docs/definitions.md)."""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .._html import table_html
from .page import Page

if TYPE_CHECKING:
    import torch

    from ..net.network import Network

__all__ = ["DEFINITIONS", "Report", "report"]

DEFINITIONS = {
    "regions": "Linear regions: the maximal connected sets of the domain on which every neuron keeps one sign "
    "(one activation pattern); counted exactly (docs/definitions.md, 'Linear regions').",
    "pieces": "Linear pieces: regions joined across shared facets where the network's affine map does not "
    "change; patterns: activation patterns realised by some point of the closed domain.",
    "bounds": "Upper bounds on the number of regions of any network with these widths over the whole input "
    "space: Serra, Tjandraatmadja & Ramalingam 2018, Theorem 1, and Montufar et al. 2017.",
    "graph": "Region graph: one node per region, an edge where two regions share a facet (a networkx graph).",
    "boundary": "Decision boundary: inside each region, where the two largest outputs tie (one output: its zero "
    "set); exact segments, length in input units.",
    "coverage": "Sampling coverage: the share of the exact regions that a grid of sample points falls in, as "
    "sampled region counts would see them; the missed regions are the small ones.",
    "chords": "Chords: straight segments between pairs of inputs, their regions from the exact 1-D engine.",
    "smp_exact": "Exact SMP of an output along a segment x(t) = start + t (end - start), t in [0, 1]: the sum of "
    "the magnitudes of its slope's jumps at its kinks (our formulation; docs/definitions.md, 'SMP').",
    "affinity": "Affinity score of an activation: 1 - sqrt(W2^2(T(X), Y) / (2 tr Sigma_Y)), T the Gaussian "
    "optimal-transport map from its inputs X to its outputs Y; 1 for an affine activation (Bouniot et al., "
    "arXiv 2310.11439; docs/definitions.md, 'The affinity score').",
    "smp": "SMP: the sum of the magnitudes of the slope's jumps of each unit along straight paths between "
    "inputs, per unit of t, from second differences (our formulation after Liu, Wong & Dai, arXiv 2103.14731; "
    "docs/smp.md).",
    "separability": "N1: the fraction of points joined to a point of another class on a minimum spanning tree "
    "of the layer's representation (Ho & Basu 2002), exact; F1: Fisher's discriminant ratio measure; N3: the "
    "leave-one-out error of the nearest neighbour (docs/separability.md).",
}


@dataclass
class Report:
    """A written report: ``path`` (the HTML file), ``html`` (its text) and ``summary``
    (the headline numbers by section); shown in a notebook as the summary table."""

    path: Path | None
    html: str
    summary: dict[str, dict[str, Any]] = field(default_factory=dict)
    seconds: float = 0.0

    def _repr_html_(self) -> str:
        rows = [
            (f"{section}: {key}", value) for section, values in self.summary.items() for key, value in values.items()
        ]
        where = f"<p>written to <code>{self.path}</code></p>" if self.path is not None else ""
        return f"<h3>exactnet report</h3>{where}" + table_html(rows, ("measure", "value"), css="summary")

    def text(self) -> str:
        """The summary as plain text, one line per section."""
        lines = []
        for section, values in self.summary.items():
            lines.append(f"{section}: " + ", ".join(f"{k} {_short(v)}" for k, v in values.items()))
        return "\n".join(lines)


def _short(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def _as_network(model: Any, input_shape: tuple[int, ...] | None) -> tuple[Network | None, str]:
    """The exact network of ``model``, or None with the reason it has none."""
    from ..net.network import Network

    if isinstance(model, Network):
        return model, ""
    try:
        from ..net.lowering import from_torch

        return from_torch(model, input_shape=input_shape), ""
    except Exception as exc:  # any model the lowering does not cover: the exact part is skipped, with why
        first = re.split(r"\. (?=[A-Z])|; |\n", str(exc))[0] if str(exc) else ""
        return None, f"{type(exc).__name__}: {first}; exactnet.net.lowering.SUPPORTED lists what lowers exactly"


def _exact_section(page: Page, net: Network, X: np.ndarray | None, y: np.ndarray | None, summary: dict) -> None:
    import networkx as nx

    from ..plot import plot_segment
    from ..regions.api import Polygon, regions
    from ..regions.line import segment_regions, segment_regions_batch
    from ..regions.plane.domain import Plane
    from ..regions.sampling import sample_patterns
    from ..theory.bounds import montufar2017_upper, serra_thm1_upper

    page.heading("Exact linear regions")
    n0 = net.input_dim
    page.paragraph(
        f"The network, lowered exactly: {n0} inputs, hidden widths {list(net.hidden_widths)}, {net.output_dim} "
        f"outputs, {net.num_neurons} neurons. Float64 arithmetic with every sign that its error bound cannot "
        "certify decided in rationals: the same regions as rational arithmetic."
    )
    values: dict[str, Any] = {}
    plane = None
    if n0 == 2:
        if X is not None and len(X):
            lo, hi = X.min(axis=0), X.max(axis=0)
            pad = 0.15 * np.maximum(hi - lo, 1e-9)
            box = (float(lo[0] - pad[0]), float(hi[0] + pad[0]), float(lo[1] - pad[1]), float(hi[1] + pad[1]))
        else:
            box = (-1.0, 1.0, -1.0, 1.0)
        where = f"the box [{box[0]:.3g}, {box[1]:.3g}] x [{box[2]:.3g}, {box[3]:.3g}] of the inputs"
    elif n0 > 2 and X is not None and len(X) >= 3:
        box = (-0.25, 1.25, -0.25, 1.25)
        try:
            plane = Plane.through(X[0], X[1], X[2])
        except ValueError as exc:  # the first three inputs on one line: no plane through them
            box = None
            page.paragraph(f"No 2-D slice: {exc}.", "skip")
        where = (
            "the 2-D slice through the first three rows of data, inputs 1, 2 and 3 (at (u, v) = (0, 0), (1, 0) "
            "and (0, 1)), (u, v) in [-0.25, 1.25]^2"
        )
    else:
        box = None
        where = ""
    if box is not None:
        res = regions(net, Polygon(box, plane=plane))
        part = res.engine_result
        graph = res.graph
        degrees = [d for _, d in graph.degree()]
        boundary = res.decision_boundary
        length = res.decision_boundary_length
        values = {
            "regions": res.num_regions,
            "pieces": res.num_pieces,
            "patterns": res.num_patterns,
            "graph edges": len(res.edges),
            "boundary segments": len(boundary),
            "boundary length": length,
        }
        page.heading(f"Partition of {where}", 3)
        fig = part.plot(
            color_by="class",
            points=X if (X is not None and n0 == 2 and y is not None) else None,
            labels=y if (X is not None and n0 == 2 and y is not None) else None,
            title=f"{res.num_regions} exact regions and the decision boundary",
        )
        page.figure(fig, f"The exact partition of {where}, coloured by predicted class; black: decision boundary.")
        bounds = [
            ("Serra et al. 2018, Thm 1", serra_thm1_upper(2, net.hidden_widths)),
            ("Montufar et al. 2017", montufar2017_upper(2, net.hidden_widths)),
        ]
        page.table(
            [
                ("regions", res.num_regions),
                ("linear pieces", res.num_pieces),
                ("activation patterns", res.num_patterns),
                *[(f"upper bound: {name} (2 inputs)", value) for name, value in bounds],
            ],
            ("count", "value"),
        )
        page.note(DEFINITIONS["regions"] + " " + DEFINITIONS["pieces"])
        page.note(DEFINITIONS["bounds"])
        page.table(
            [
                ("nodes", graph.number_of_nodes()),
                ("edges", graph.number_of_edges()),
                ("mean degree", float(np.mean(degrees)) if degrees else 0.0),
                ("largest degree", max(degrees, default=0)),
                ("connected", nx.is_connected(graph) if graph.number_of_nodes() else False),
            ],
            ("region graph", "value"),
        )
        page.note(DEFINITIONS["graph"])
        page.table(
            [("segments", len(boundary)), ("length", length)],
            ("decision boundary", "value"),
        )
        if not boundary:
            page.paragraph("No decision boundary here: one class is predicted on the whole domain.")
        page.note(DEFINITIONS["boundary"])
        est = sample_patterns(net, box, plane=plane, n=250_000)
        cov = est.compare(part)
        values["sampling coverage"] = float(cov["coverage"])
        page.table(
            [
                ("grid points", "500 x 500"),
                ("regions found", f"{cov['found']} of {cov['regions']}"),
                ("coverage", f"{100 * cov['coverage']:.1f}%"),
                ("missed area", f"{100 * cov['missed_area_fraction']:.4f}% of the domain"),
                ("smallest missed region (area)", float(cov["smallest_missed_area"]) if cov["missed"] else "none"),
            ],
            ("sampled estimate", "value"),
        )
        page.note(DEFINITIONS["coverage"])
    k = 0 if X is None else min(32, len(X) // 2)
    if X is not None and k:
        distinct = (X[:k] != X[k : 2 * k]).any(axis=1)
        if not distinct.all():  # a chord between two equal inputs has no length
            page.paragraph(f"{int((~distinct).sum())} of the {k} chords join equal inputs and are left out.", "skip")
        starts, ends = X[:k][distinct], X[k : 2 * k][distinct]
        k = len(starts)
    if X is not None and k:
        batch = segment_regions_batch(net, starts, ends)
        counts = np.asarray(batch.num_regions)
        page.heading(f"Regions along {k} chords between inputs", 3)
        first = segment_regions(net, starts[0], ends[0])
        fig = plot_segment(
            first,
            title=f"chord 1: {first.num_regions} regions, {first.num_pieces} pieces",
        )
        page.figure(
            fig,
            "The outputs along the first chord, from the exact affine map of every region (no sampling): "
            "grey lines are breakpoints, dots the kinks of each output.",
        )
        page.table(
            [
                ("chords", k),
                ("regions per chord: mean", float(counts.mean())),
                ("min .. max", f"{int(counts.min())} .. {int(counts.max())}"),
                ("chord 1: regions", first.num_regions),
                ("chord 1: pieces, patterns", f"{first.num_pieces}, {first.num_patterns}"),
                ("chord 1: SMP of each output", ", ".join(f"{float(v):.4g}" for v in first.smp)),
            ],
            ("chords", "value"),
        )
        page.note(DEFINITIONS["chords"] + " " + DEFINITIONS["smp_exact"])
        values["regions per chord (mean)"] = float(counts.mean())
        values["chord 1 regions"] = first.num_regions
    if not values:
        page.paragraph("No domain to partition: give inputs (data) for a network with more than two inputs.", "skip")
    summary["exact"] = values


#: what the extra columns of the per-layer tables mean (the flags' meanings come with each result)
COLUMNS = {
    "d": "d: the features per input at the layer (after the reduction)",
    "smp_mean": "smp_mean, smp_std, smp_median, smp_max: over the (path, unit) pairs of the layer's output",
    "kinked": "kinked: the share of (path, unit) pairs with a kink",
    "pre_mean": "pre_mean: the mean SMP of the activation's input",
}


def _layer_section(
    page: Page,
    title: str,
    res: Any,
    key: str,
    definition: str,
    summary: dict,
    name: str,
    extra: str = "",
    bounded: bool = False,
) -> None:
    page.heading(title)
    fig = res.plot(key)
    if bounded:  # a score in [0, 1]: the whole range, so small differences look small
        fig.axes[0].set_ylim(-0.02, 1.02)
    page.figure(fig, f"{title}: {key} per layer ({res.model}).")
    keys = list(res.layers[0].values) if res.layers else [key]
    page.table(
        [(r.name, r.type, r.d, *[r.values.get(k) for k in keys]) for r in res.layers], ("layer", "type", "d", *keys)
    )
    columns = [COLUMNS["d"]] + [COLUMNS[k] for k in keys if k in COLUMNS]
    flags = [f"{k}: {res.legend[k]}" for k in keys if k in res.legend]
    page.note(" ".join(part for part in (definition, extra) if part))
    page.note("Columns: " + "; ".join(columns + flags) + ".")
    vals = [float(r.values[key]) for r in res.layers if r.name != "input"]  # the input row is not a layer
    summary[name] = {f"{key} first layer": vals[0], f"{key} last layer": vals[-1], "layers": len(vals)}


def report(
    model: Any,
    data: Any = None,
    labels: Any = None,
    *,
    out: str | Path | None = "exactnet_report.html",
    name: str | None = None,
    input_shape: tuple[int, ...] | None = None,
    samples: int = 512,
    smp_paths: int = 16,
    smp_steps: int = 256,
    progress: bool = False,
) -> Report:
    """Write one self-contained HTML report on ``model`` (module docstring).

    ``model``: a torch module or an :class:`~exactnet.Network`; or a mapping
    ``{name: model or (model, data, labels)}`` for one report with a part per model.
    ``data``: inputs (an array or tensor (n, *input shape)); ``labels``: their classes
    (for the separability section). ``out``: the HTML file (None: not written).
    ``samples``: inputs used by the per-layer scores; ``smp_paths`` x ``smp_steps``: the
    SMP's paths between inputs. ``input_shape``: the per-input shape, for lowering
    convolutional models exactly. Sections that do not apply say why instead of failing.
    ``summary`` in the result: the headline numbers by section (``"part: section"`` with
    several models)."""
    t_start = time.perf_counter()
    several = isinstance(model, Mapping)
    parts = list(model.items()) if several else [(name or getattr(model, "name", None) or type(model).__name__, model)]
    if not parts:
        raise ValueError("model is an empty mapping; give a model, or {name: model or (model, data, labels)}")
    page = Page("exactnet report" + ("" if several else f": {parts[0][0]}"))
    summary: dict[str, dict[str, Any]] = {}
    options = (input_shape, samples, smp_paths, smp_steps, progress)
    for part_name, entry in parts:
        m, d, lab = entry if isinstance(entry, tuple) else (entry, data, labels)
        if several:
            page.depth = 0
            page.heading(str(part_name))
            page.depth = 1
        found: dict[str, dict[str, Any]] = {}
        _model_sections(page, m, str(part_name), d, lab, found, *options)
        summary.update({(f"{part_name}: {k}" if several else k): v for k, v in found.items()})
    page.depth = 0
    page.heading("About this report")
    page.paragraph(
        "Made by exactnet. Every picture is embedded; the page loads nothing from elsewhere. The definitions are "
        "in the project's docs/definitions.md; SMP is our formulation (docs/smp.md)."
    )
    text = page.render()
    path = None
    if out is not None:
        path = Path(out)
        path.write_text(text, encoding="utf-8")
    return Report(path, text, summary, time.perf_counter() - t_start)


def _model_sections(
    page: Page,
    model: Any,
    model_name: str,
    data: Any,
    labels: Any,
    summary: dict,
    input_shape: tuple[int, ...] | None,
    samples: int,
    smp_paths: int,
    smp_steps: int,
    progress: bool,
) -> None:
    """Every section that applies to one model (checked inputs first)."""
    from ..net.network import Network

    X = None if data is None else np.asarray(data.detach().cpu() if hasattr(data, "detach") else data, dtype=float)
    y = None if labels is None else _class_indices(labels)
    if X is not None and not np.all(np.isfinite(X)):
        raise ValueError("data holds NaN or infinite values; give finite inputs")
    if y is not None and (X is None or len(y) != len(X)):
        raise ValueError(f"labels has {len(y)} entries for {0 if X is None else len(X)} inputs; give one per input")
    if X is not None and not isinstance(model, Network):
        _check_inputs(model, X)
    shape = input_shape or (tuple(X.shape[1:]) if X is not None and X.ndim > 2 else None)
    net, why = _as_network(model, shape)
    if net is not None and X is not None and X[0].size != net.input_dim:
        raise ValueError(
            f"data has inputs of shape {X.shape[1:]} ({X[0].size} numbers) but the network takes {net.input_dim} "
            "inputs; give data of the shape the network takes"
        )
    modules = model.modules() if hasattr(model, "modules") else []
    pooled = sorted({type(m).__name__ for m in modules if "MaxPool" in type(m).__name__})
    if net is not None and net.num_neurons <= 2048 and not pooled:
        flat = None if X is None else X.reshape(len(X), -1)
        _exact_section(page, net, flat, y, summary)
    else:
        page.heading("Exact linear regions")
        count = net.num_neurons if net is not None else "?"
        if net is not None and pooled:
            reason = (
                f"{', '.join(pooled)}: max pooling lowers to many coincident hyperplanes, whose exact decisions can "
                "take minutes; exactnet.regions handles them, the report does not wait"
            )
        else:
            reason = why or f"{count} neurons: more than the 2,048 this report enumerates exactly"
        page.paragraph(f"Skipped: no exact analysis here ({reason}).", "skip")
    if isinstance(model, Network):
        page.heading("Per-layer signatures")
        page.paragraph("Skipped: the per-layer scores run on a torch module; give the torch model.", "skip")
    elif X is None:
        page.heading("Per-layer signatures")
        page.paragraph("Skipped: the per-layer scores need inputs (data).", "skip")
    else:
        _torch_sections(page, model, model_name, X, y, summary, samples, smp_paths, smp_steps, progress)


def _class_indices(labels: Any) -> np.ndarray:
    """One class per input from ``labels``: integers and names (strings, booleans) as they
    are (the layer-wise runner numbers names), whole-numbered floats as integers; anything
    else (one-hot rows, regression targets) is refused naming ``labels``."""
    y = np.asarray(labels.detach().cpu() if hasattr(labels, "detach") else labels)
    if y.ndim != 1:
        hint = " (one-hot rows: pass labels.argmax(1))" if y.ndim == 2 else ""
        raise ValueError(f"labels has shape {y.shape}; give one class per input, shape (n,){hint}")
    if y.dtype.kind in "iu":
        return y
    if y.dtype.kind == "f":
        if not np.all(np.isfinite(y)) or not np.all(y == np.round(y)):
            example = next((v for v in y if not (np.isfinite(v) and v == round(v))), None)
            raise ValueError(
                f"labels holds numbers that are not class indices (e.g. {example}); give one class per input "
                "(integers or names): the separability section compares classes, not regression targets"
            )
        return y.astype(np.int64)
    if y.dtype.kind in "bUSO":
        return y
    raise ValueError(f"labels has dtype {y.dtype}; give one class per input (integers or names)")


def _check_inputs(model: Any, X: np.ndarray) -> None:
    """One input through the torch model: a clear error naming ``data`` when the model
    does not take inputs of that shape, or gives more than one row of outputs per input."""
    import torch

    from ..probe._device import eval_forward

    try:
        out = eval_forward(model, X[:1])
    except (RuntimeError, ValueError, TypeError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ValueError(
            f"data has inputs of shape {X.shape[1:]}, which the model does not take ({first}); give data of "
            "shape (n, *the model's input shape)"
        ) from None
    if not isinstance(out, torch.Tensor) or out.dim() != 2 or out.shape[0] != 1:
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise ValueError(
            f"data has inputs of shape {X.shape[1:]}, and the model gives {shape} for one of them; a classifier "
            "gives (1, classes): give data of the shape the model takes"
        )


def _torch_sections(
    page: Page,
    model: torch.nn.Module,
    model_name: str,
    X: np.ndarray,
    y: np.ndarray | None,
    summary: dict,
    samples: int,
    smp_paths: int,
    smp_steps: int,
    progress: bool,
) -> None:
    import torch

    from ..probe._device import parameter_dtype_device
    from ..probe.nonlinearity import signature
    from ..probe.recording import activation_modules
    from ..probe.separability import layerwise_separability
    from ..probe.smp import layerwise_smp, paths_between

    if not activation_modules(model):
        page.heading("Per-layer signatures")
        page.paragraph(
            "Skipped: the model has no activation module (torch.nn ReLU, GELU, Sigmoid, ...) for the per-layer "
            "scores to record; activations called as functions (F.relu) cannot be hooked.",
            "skip",
        )
        return
    dtype, _ = parameter_dtype_device(model)
    inputs = torch.as_tensor(X, dtype=dtype)
    n = min(len(inputs), samples)
    sub = inputs[:n]
    reduction = "flatten" if X[0].size <= 4096 else "channel_mean"
    used = f"Computed on the first {n} of the {len(inputs)} inputs (samples={samples}), reduction {reduction!r}."
    sig = signature(model, sub, samples=n, reduction=reduction, progress=progress, name=model_name)
    _layer_section(
        page,
        "Affinity score per layer (non-linearity signature)",
        sig,
        "score",
        DEFINITIONS["affinity"],
        summary,
        "affinity",
        used,
        bounded=True,
    )
    k = min(smp_paths, len(inputs) // 2)
    if k >= 1:
        paths = paths_between(inputs[:k], inputs[k : 2 * k], smp_steps, lazy=True)
        smp = layerwise_smp(model, paths, reduction=reduction, progress=progress, name=model_name)
        _layer_section(
            page, "SMP per layer (non-smoothness along paths)", smp, "smp_mean", DEFINITIONS["smp"], summary, "smp",
            f"{k} paths from inputs 1..{k} to inputs {k + 1}..{2 * k}, {smp_steps} steps each.",
        )  # fmt: skip
    if y is not None:
        if len(np.unique(y[:n])) < 2:
            page.heading("Class separability per layer")
            page.paragraph("Skipped: the labels of the inputs used hold one class only.", "skip")
        else:
            sep = layerwise_separability(
                model,
                sub,
                labels=y[:n],
                measures=("n1", "f1", "n3"),
                reduction=reduction,
                progress=progress,
                name=model_name,
            )
            _layer_section(
                page,
                "Class separability per layer",
                sep,
                "n1",
                DEFINITIONS["separability"],
                summary,
                "separability",
                f"{used} {len(np.unique(y[:n]))} classes.",
                bounded=True,
            )
