"""Pictures of a training run (:class:`~exactnet.training.TrainingRun`): one snapshot's
partition with its decision boundary, a grid of snapshots, the curves of the counts,
the boundary and the accuracies over training, and an animation (GIF)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from .tracking import Snapshot, TrainingRun

__all__ = ["animate", "plot_curves", "plot_grid", "plot_snapshot"]


def _pyplot(path: str | Path | None = None) -> Any:
    from ..extras import require

    require("matplotlib", "the pictures of a training run")
    import matplotlib

    if path is not None:
        matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def plot_snapshot(
    snapshot: Snapshot,
    ax: Axes | None = None,
    *,
    data: tuple[np.ndarray, np.ndarray] | None = None,
    title: str | None = None,
) -> Axes:
    """One snapshot: its linear regions (thin grey edges) filled with the class the
    network predicts there (light colours), the decision boundary (black) and the
    points of ``data`` (coloured by label). For a model with more than two inputs: the
    first slice, in its (u, v) coordinates, with its three inputs at (0, 0), (1, 0) and
    (0, 1) (black dots, with their labels) and their triangle."""
    plt = _pyplot()
    from matplotlib.collections import LineCollection, PolyCollection

    if ax is None:
        _, ax = plt.subplots(figsize=(4, 4))
    reg = snapshot.regions()
    planar = snapshot.view.planar
    palette = plt.get_cmap("tab10")
    polys, colours = [], []
    for r in reg.regions:
        v = np.asarray(r.vertices, dtype=float)
        p = np.asarray(r.interior_point, dtype=float)
        out = np.asarray(r.intercept, dtype=float) + np.asarray(r.gradient, dtype=float) @ p
        cls = int(np.argmax(out)) if len(out) > 1 else int(out[0] > 0)
        polys.append(v)
        colours.append(palette(cls % 10))
    ax.add_collection(PolyCollection(polys, facecolors=colours, alpha=0.22, edgecolors="0.55", linewidths=0.3))
    segs = [np.asarray(v, dtype=float) for _, _, v in reg.decision_boundary if len(v) == 2]
    if segs:
        ax.add_collection(LineCollection(segs, colors="black", linewidths=1.6))
    if data is not None and planar:
        X, y = data
        ax.scatter(X[:, 0], X[:, 1], c=[palette(int(c) % 10) for c in y], s=5, linewidths=0)
    if not planar:
        ax.plot([0, 1, 0, 0], [0, 0, 1, 0], color="black", linewidth=0.6, linestyle=":")
        ax.scatter([0, 1, 0], [0, 0, 1], color="black", s=14, zorder=3)
        labels = snapshot.view.slice_labels
        if labels is not None:
            for corner, lab in zip(((0, 0), (1, 0), (0, 1)), labels[0]):
                ax.annotate(f"class {lab}", corner, xytext=(4, 4), textcoords="offset points", fontsize=7)
    u0, u1, v0, v1 = snapshot.domain
    ax.set_xlim(u0, u1)
    ax.set_ylim(v0, v1)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    label = f"epoch {snapshot.epoch:g}" if snapshot.epoch is not None else f"step {snapshot.step}"
    if not planar:
        label += f", slice 1 of {len(snapshot.view.slice_points)}"  # type: ignore[arg-type]
    b_pieces, b_length = (
        (snapshot.boundary_pieces, snapshot.boundary_length)
        if planar
        else (len(reg.decision_boundary), reg.decision_boundary_length)
    )
    where = f"{snapshot.near} near" if planar else "in the slice"
    ax.set_title(
        title or f"{label}: {reg.num_regions} regions ({where})\nboundary {b_pieces} pieces, length {b_length:.2f}",
        fontsize=8,
    )
    return ax


def _chosen(run: TrainingRun, count: int | None) -> list[Snapshot]:
    snaps = list(run.snapshots)
    if not snaps:
        raise ValueError("the run has no snapshots; call the tracker during training first")
    if count is None or count >= len(snaps):
        return snaps
    idx = sorted({int(round(v)) for v in np.linspace(0, len(snaps) - 1, count)})
    return [snaps[i] for i in idx]


def plot_grid(run: TrainingRun, *, count: int | None = 8, ncols: int = 4, path: str | Path | None = None) -> Figure:
    """A grid of ``count`` snapshots spread over the run (all for None), each drawn by
    :func:`plot_snapshot` with the training points; saved to ``path`` when given."""
    plt = _pyplot(path)
    snaps = _chosen(run, count)
    ncols = max(1, min(ncols, len(snaps)))
    nrows = -(-len(snaps) // ncols)
    u0, u1, v0, v1 = snaps[0].domain
    cell = 3.2 * min(1.5, max(0.4, (v1 - v0) / (u1 - u0))) + 0.6  # the height of one picture and its title
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.2 * ncols, cell * nrows + 0.4), squeeze=False)
    for ax in axes.ravel()[len(snaps) :]:
        ax.axis("off")
    for ax, s in zip(axes.ravel(), snaps):
        plot_snapshot(s, ax, data=run.train)
    fig.suptitle(f"{run.name}: linear regions and decision boundary through training", fontsize=10)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=110)
    return fig


def plot_curves(
    runs: TrainingRun | Sequence[TrainingRun], *, labels: Sequence[str] | None = None, path: str | Path | None = None
) -> Figure:
    """Over training (epochs, or steps): the region counts (total solid, near the data
    dashed, elsewhere dotted; with chords, the mean per chord dash-dotted), the decision
    boundary's pieces (with chords, the mean class changes per chord dash-dotted) and
    length, and the train (solid) and test (dashed) accuracy; several runs in one
    figure."""
    from .tracking import TrainingRun

    plt = _pyplot(path)
    runs = [runs] if isinstance(runs, TrainingRun) else list(runs)
    if labels is not None and len(labels) != len(runs):
        raise ValueError(f"labels has {len(labels)} entries for {len(runs)} runs")
    fig, axes = plt.subplots(1, 4, figsize=(16, 3.6))
    for k, run in enumerate(runs):
        c = run.curves()
        if not c:
            continue
        x = c["epoch"] if not np.all(np.isnan(c["epoch"])) else c["step"]
        colour = f"C{k % 10}"
        name = labels[k] if labels is not None else run.name
        axes[0].plot(x, c["num_regions"], "-", color=colour, label=name)
        axes[0].plot(x, c["near"], "--", color=colour)
        axes[0].plot(x, c["elsewhere"], ":", color=colour)
        axes[1].plot(x, c["boundary_pieces"], "-", color=colour, label=name)
        axes[2].plot(x, c["boundary_length"], "-", color=colour, label=name)
        if "chord_regions_mean" in c:
            axes[0].plot(x, c["chord_regions_mean"], "-.", color=colour)
            axes[1].plot(x, c["chord_crossings_mean"], "-.", color=colour)
        axes[3].plot(x, c["train_accuracy"], "-", color=colour, label=name)
        axes[3].plot(x, c["test_accuracy"], "--", color=colour)
    titles = (
        "regions (solid), near the data (--), elsewhere (:)",
        "decision boundary: pieces",
        "decision boundary: length",
        "accuracy: train (solid), test (--)",
    )
    if any(run.snapshots and run.snapshots[0].chord_regions for run in runs):
        titles = (
            "slice regions (solid), near (--), elsewhere (:), per chord (-.)",
            "boundary pieces in the slices; class changes per chord (-.)",
            "decision boundary in the slices: length",
            titles[3],
        )
    for ax, t in zip(axes, titles):
        ax.set_title(t, fontsize=9)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=110)
    return fig


def animate(run: TrainingRun, path: str | Path, *, fps: float = 2.0) -> Path:
    """An animation (GIF, matplotlib's Pillow writer) of every snapshot of the run, one
    frame each, drawn by :func:`plot_snapshot`; ``fps`` frames per second (rounded to a
    whole number, at least 1)."""
    plt = _pyplot(path)
    from matplotlib.animation import FuncAnimation, PillowWriter

    snaps = _chosen(run, None)
    path = Path(path)
    if path.suffix.lower() != ".gif":
        raise ValueError(f"path={str(path)!r}; the animation is written as a GIF: give a path ending in .gif")
    fig, ax = plt.subplots(figsize=(4.6, 4.6))

    def frame(i: int) -> list:
        ax.clear()
        plot_snapshot(snaps[i], ax, data=run.train)
        return []

    anim = FuncAnimation(fig, frame, frames=len(snaps), blit=False)
    anim.save(str(path), writer=PillowWriter(fps=max(1, round(fps))), dpi=90)
    plt.close(fig)
    return path
