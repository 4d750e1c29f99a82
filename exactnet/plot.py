"""Pictures of exact results (matplotlib)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .extras import require

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from numpy.typing import ArrayLike

    from .regions.line import SegmentRegions
    from .regions.plane import Partition

__all__ = ["figure_of", "plot_segment", "plot_partition"]


def figure_of(ax: Axes) -> Figure:
    """The figure that holds ``ax``: the root Figure also for an Axes of a SubFigure (which
    has neither ``tight_layout`` nor ``savefig``)."""
    from matplotlib.figure import SubFigure

    fig = ax.figure
    while isinstance(fig, SubFigure):
        fig = fig.figure
    return fig


def plot_segment(
    result: SegmentRegions,
    *,
    output: int | None = None,
    ax: Axes | None = None,
    path: str | os.PathLike[str] | None = None,
    title: str | None = None,
) -> Figure:
    """Draw a network's outputs along a segment with its regions, breakpoints and kinks.

    ``result`` is a :class:`~exactnet.regions.line.SegmentRegions`. The curve is drawn
    from the exact affine map of every region (no sampling); regions are shaded
    alternately, breakpoints are vertical lines, kinks of each output are dots.
    ``output=None`` draws every output. Saves to ``path`` (PNG or SVG by suffix) when
    given; returns the matplotlib Figure.
    """
    require("matplotlib", "drawing pictures")
    import matplotlib

    if ax is None:
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(9, 4.5), dpi=110)
    else:
        fig = figure_of(ax)
    n_out = len(result.smp)
    outs = range(n_out) if output is None else [output]
    if output is not None and not 0 <= output < n_out:
        raise ValueError(f"output must be in 0..{n_out - 1}, got {output}")
    regs = result.regions
    for i, r in enumerate(regs):
        if i % 2:
            ax.axvspan(float(r.t_lo), float(r.t_hi), color="0.93", lw=0)
    for t in result.breakpoints:
        ax.axvline(float(t), color="0.75", lw=0.6, zorder=1)
    colors = matplotlib.rcParams["axes.prop_cycle"].by_key()["color"]
    for k in outs:
        c = colors[k % len(colors)]
        ts = [float(regs[0].t_lo)] + [float(r.t_hi) for r in regs]
        ys = [float(regs[0].output(regs[0].t_lo)[k])] + [float(r.output(r.t_hi)[k]) for r in regs]
        label = f"output {k}" if n_out > 1 else "network output"
        ax.plot(ts, ys, color=c, lw=1.6, label=label, zorder=3)
        kinks = result.kinks[k]
        if kinks:
            kink_set = set(kinks)
            ky = [float(r.output(r.t_hi)[k]) for r in regs[:-1] if r.t_hi in kink_set]
            ax.plot([float(t) for t in kinks], ky, "o", color=c, ms=3.5, zorder=4)
    mode = "exact" if result.exact else "certified float"
    ax.set_xlabel("t  (x(t) = start + t (end - start))")
    ax.set_ylabel("output")
    ax.set_xlim(0, 1)
    ax.set_title(
        title or f"{result.num_regions} regions, {result.num_pieces} pieces, {result.num_patterns} patterns ({mode})",
        fontsize=10,
    )
    ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    if path is not None:
        fig.savefig(Path(path))
    return fig


def plot_partition(
    part: Partition,
    *,
    color_by: str = "pattern",
    output: int = 0,
    edges: bool = True,
    decision_boundary: bool = True,
    points: ArrayLike | None = None,
    labels: ArrayLike | None = None,
    ax: Axes | None = None,
    path: str | os.PathLike[str] | None = None,
    title: str | None = None,
    cmap: str | None = None,
) -> Figure:
    """Draw a :class:`~exactnet.regions.plane.Partition`.

    ``color_by``: ``"pattern"`` (a colour per region), ``"piece"`` (a colour per linear
    piece), ``"output"`` (the value of output ``output`` at the region's interior point),
    or ``"class"`` (the argmax at the interior point, for classifiers). Region edges are
    thin lines, the decision boundary thick black ones; ``points`` (n, 2) in the plane's
    (u, v) coordinates are scattered, coloured by ``labels`` if given. Saves to ``path``
    (PNG or SVG by suffix); returns the Figure.
    """
    require("matplotlib", "drawing pictures")
    import matplotlib.pyplot as plt
    from matplotlib.collections import LineCollection, PolyCollection

    if ax is None:
        fig, ax = plt.subplots(figsize=(6.5, 6), dpi=120)
    else:
        fig = figure_of(ax)
    regs = part.regions
    polys = [[(float(u), float(v)) for u, v in r.vertices] for r in regs]
    if color_by == "pattern":
        rng = np.random.default_rng(12345)
        values: Any = rng.permutation(len(regs)) if len(regs) else []
        cmap = cmap or "tab20"
    elif color_by == "piece":
        piece_of = {r: k for k, comp in enumerate(part.pieces) for r in comp}
        rng = np.random.default_rng(54321)
        perm = rng.permutation(max(len(part.pieces), 1))
        values = [perm[piece_of[r.index]] for r in regs]
        cmap = cmap or "tab20"
    elif color_by == "output":
        values = [float(r.output(*r.interior_point)[output]) for r in regs]
        cmap = cmap or "viridis"
    elif color_by == "class":
        # the exact class cells (regions cut by the decision boundary), region edges on top
        cells = part.class_cells
        cell_polys = [[(float(u), float(v)) for u, v in poly] for _, _, poly in cells]
        n_cls = max(2, part.network.output_dim)
        ax.add_collection(
            PolyCollection(
                cell_polys,
                array=np.array([c for _, c, _ in cells], dtype=float),
                cmap=cmap or "Pastel1",
                clim=(0, max(n_cls - 1, 1)),
                linewidths=0,
            )
        )
        values = None
    else:
        raise ValueError(f"color_by must be 'pattern', 'piece', 'output' or 'class', got {color_by!r}")
    if values is None:
        pc = PolyCollection(polys, facecolors="none", edgecolors="0.25" if edges else "none", linewidths=0.25)
    else:
        pc = PolyCollection(
            polys,
            array=np.asarray(values, dtype=float),
            cmap=cmap,
            edgecolors="0.25" if edges else "face",
            linewidths=0.25 if edges else 0,
        )
    ax.add_collection(pc)
    if color_by == "output":
        fig.colorbar(pc, ax=ax, fraction=0.046, pad=0.04, label=f"output {output}")
    if decision_boundary and part.decision_boundary:
        segs = [[(float(p[0]), float(p[1])), (float(q[0]), float(q[1]))] for p, q, _ in part.decision_boundary]
        ax.add_collection(LineCollection(segs, colors="black", linewidths=1.8))
    if points is not None:
        pts = np.asarray(points, dtype=float)
        ax.scatter(
            pts[:, 0],
            pts[:, 1],
            c=labels if labels is not None else "white",
            s=6,
            cmap="coolwarm",
            edgecolors="black",
            linewidths=0.3,
            zorder=3,
        )
    dom = np.array([[float(u), float(v)] for u, v in part.domain])
    ax.set_xlim(dom[:, 0].min(), dom[:, 0].max())
    ax.set_ylim(dom[:, 1].min(), dom[:, 1].max())
    ax.set_aspect("equal")
    mode = "exact" if part.exact else "certified float"
    ax.set_title(title or f"{part.num_regions} regions, {part.num_pieces} pieces ({mode})", fontsize=10)
    fig.tight_layout()
    if path is not None:
        fig.savefig(Path(path))
    return fig
