"""Pictures of exact results (matplotlib)."""

from __future__ import annotations

from pathlib import Path

__all__ = ["plot_segment"]


def plot_segment(result, *, output: int | None = None, ax=None, path=None, title: str | None = None):
    """Draw a network's outputs along a segment with its regions, breakpoints and kinks.

    ``result`` is a :class:`~exactnet.regions.line.SegmentRegions`. The curve is drawn
    from the exact affine map of every region (no sampling); regions are shaded
    alternately, breakpoints are vertical lines, kinks of each output are dots.
    ``output=None`` draws every output. Saves to ``path`` (PNG or SVG by suffix) when
    given; returns the matplotlib Figure.
    """
    import matplotlib

    if ax is None:
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(9, 4.5), dpi=110)
    else:
        fig = ax.figure
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
        title
        or f"{result.num_regions} regions, {result.num_pieces} pieces, {result.num_patterns} patterns ({mode})",
        fontsize=10,
    )
    ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    if path is not None:
        fig.savefig(Path(path))
    return fig

