"""The ``exactnet`` command line.

``exactnet`` with no arguments runs the demo: the exact partition and decision boundary of
the built-in trained 2-D classifier (two moons), drawn as a PNG, with the counts beside
the bounds and the coverage of a sampled estimate. ``exactnet demo1d`` is the exact 1-D
analysis of a benchmark net along a line.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from fractions import Fraction
from typing import Any

from .extras import MissingExtraError, require
from .probe.separability import MEASURES
from .regions._common import RegionLimitError

__all__ = ["main"]

_COORDS = re.compile(r"^-?[0-9.eE+/,\s-]+$")


def _coords(text: str, name: str) -> list[Fraction]:
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if not parts:
        raise SystemExit(f"exactnet: {name} is empty; give coordinates like 0.5,-1 or 1/3,2")
    out = []
    for p in parts:
        try:
            out.append(Fraction(p))
        except (ValueError, ZeroDivisionError):
            raise SystemExit(f"exactnet: {name} coordinate {p!r} is not a number (use 0.5, -1, 1/3 or 1e-3)") from None
    return out


def _fix_negative_values(argv: list[str]) -> list[str]:
    """Let ``--from -1,0`` work: argparse would read ``-1,0`` as an option."""
    out = []
    i = 0
    while i < len(argv):
        a = argv[i]
        if a in ("--from", "--to", "--domain", "--box") and i + 1 < len(argv) and _COORDS.match(argv[i + 1]):
            out.append(f"{a}={argv[i + 1]}")
            i += 2
            continue
        out.append(a)
        i += 1
    return out


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="exactnet", description="Exact geometry of ReLU networks.")
    sub = p.add_subparsers(dest="command")

    d = sub.add_parser("demo", help="exact partition of the built-in 2-D classifier, in the terminal")
    d.add_argument("--png", default="exactnet_demo.png", help="where to draw the picture (default exactnet_demo.png)")
    d.add_argument("--json", action="store_true", help="print JSON instead of the report")

    d1 = sub.add_parser("demo1d", help="exact 1-D analysis of a benchmark network along a line")
    d1.add_argument("--net", default="2-16-16-1", help="benchmark network spec, e.g. 2-32-32-1 (default 2-16-16-1)")
    d1.add_argument("--seed", type=int, default=0)
    d1.add_argument("--png", default="exactnet_demo1d.png", help="where to draw the picture")
    d1.add_argument("--json", action="store_true", help="print JSON instead of the table")

    pa = sub.add_parser("partition", help="exact linear regions of a 2-input network on a polygon")
    pa.add_argument("weights", help=".npz (W0, b0, W1, b1, ...), .pt/.pth state_dict (with --widths) or .safetensors")
    pa.add_argument("--domain", default="-1,1,-1,1", help="box x0,x1,y0,y1 (default -1,1,-1,1)")
    pa.add_argument("--exact", action="store_true", help="exact rational arithmetic (default: certified float64)")
    pa.add_argument("--json", action="store_true", help="print JSON: regions, pieces, patterns, edges, area")
    pa.add_argument("--max-regions", type=int, help="stop with an error beyond this many regions")
    pa.add_argument("--png", help="draw the partition to this PNG/SVG file")
    pa.add_argument("--color-by", default="pattern", choices=["pattern", "piece", "output", "class"])
    pa.add_argument("--graphml", help="write the region graph to this GraphML file")
    pa.add_argument("--geojson", help="write the regions to this GeoJSON file")
    pa.add_argument("--widths", help="layer widths n0,n1,...,nL for torch/safetensors state_dicts")
    pa.add_argument("--negative-slope", type=float, default=0.0, help="leaky ReLU slope for .npz networks")

    rg = sub.add_parser("regions", help="exact linear regions of a network on a box in any input dimension")
    rg.add_argument("weights", help=".npz (W0, b0, W1, b1, ...), .pt/.pth state_dict (with --widths) or .safetensors")
    rg.add_argument(
        "--box",
        help="lo,hi (the same bounds on every axis) or lo0,hi0,lo1,hi1,... (default: the whole input space)",
    )
    rg.add_argument("--exact", action="store_true", help="exact rational arithmetic (default: certified float64)")
    rg.add_argument("--max-regions", type=int, help="stop with an error beyond this many regions")
    rg.add_argument("--json", action="store_true", help="print JSON: regions, pieces, patterns, edges")
    rg.add_argument("--out", help="write the whole result (Regions.to_json) to this file")
    rg.add_argument("--png", help="draw the regions (1-D and 2-D networks) to this PNG/SVG file")
    rg.add_argument("--progress", action="store_true", help="show a progress bar")
    rg.add_argument("--widths", help="layer widths n0,n1,...,nL for torch/safetensors state_dicts")
    rg.add_argument("--negative-slope", type=float, default=0.0, help="leaky ReLU slope for .npz networks")

    r = sub.add_parser("regions1d", help="exact regions of a network along a segment")
    r.add_argument("weights", help=".npz (W0, b0, W1, b1, ...), .pt/.pth state_dict (with --widths) or .safetensors")
    r.add_argument("--from", dest="start", required=True, help="start point X1,...,Xd (rationals like 1/3 allowed)")
    r.add_argument("--to", dest="end", required=True, help="end point Y1,...,Yd")
    r.add_argument("--exact", action="store_true", help="exact rational arithmetic (default: certified float64)")
    r.add_argument("--json", action="store_true", help="print JSON: regions, pieces, patterns, breakpoints, smp")
    r.add_argument("--max-regions", type=int, help="stop with an error beyond this many regions")
    r.add_argument("--png", help="draw the outputs along the segment to this PNG/SVG file")
    r.add_argument("--widths", help="layer widths n0,n1,...,nL for torch/safetensors state_dicts")
    r.add_argument(
        "--negative-slope", type=float, default=0.0, help="leaky ReLU slope for .npz networks (default 0: ReLU)"
    )

    pu = sub.add_parser("pulse", help="the analytic pulse / disk radius networks (our formulation of arXiv 2303.06638)")
    pu_sub = pu.add_subparsers(dest="pulse_command", required=True)
    pv = pu_sub.add_parser("verify", help="verify every analytic construction exactly, for a range of sizes")
    pv.add_argument("--sizes", default="3,5,8", help="half-lengths M (signals of 2M + 1 samples), e.g. 3,5,8")
    pv.add_argument("--a-min", default="1", help="smallest amplitude of the contrast-invariant tasks (default 1)")
    pv.add_argument("--a-max", default="4", help="largest amplitude checked (default 4)")
    pv.add_argument("--json", action="store_true", help="print JSON: verified (true/false per construction), details")

    sg = sub.add_parser(
        "signature", help="non-linearity signature (affinity score per activation) of torchvision models"
    )
    sg.add_argument(
        "--model",
        default="resnet18",
        help="torchvision classifier name(s), comma-separated to compare (random init; e.g. resnet18,vgg11)",
    )
    sg.add_argument(
        "--weights",
        help="a state_dict for the (single) model: .pt/.pth read with torch.load(weights_only=True), or .safetensors",
    )
    sg.add_argument(
        "--data",
        choices=("random", "digits"),
        default="random",
        help="random images (seeded), or scikit-learn's bundled digits resized to --image-size",
    )
    sg.add_argument("--samples", type=int, default=2048, help="inputs (and rows kept per layer); default 2048")
    sg.add_argument("--image-size", type=int, default=224, help="input images are 3 x S x S (default 224)")
    sg.add_argument("--batch-size", type=int, default=64)
    sg.add_argument(
        "--reduction",
        default="channel_mean",
        help="channel_mean (default), positions, tokens, flatten, reference, or project:K",
    )
    sg.add_argument(
        "--shrinkage",
        choices=("auto", "none", "ledoit-wolf"),
        default="auto",
        help="Ledoit-Wolf covariance shrinkage: auto = only for layers with d >= n",
    )
    sg.add_argument("--normalization", choices=("sqrt", "squared"), default="sqrt")
    sg.add_argument("--device", default=None, help="cpu or cuda (default: cpu)")
    sg.add_argument("--seed", type=int, default=987, help="seeds the weights, the data and the sampling")
    sg.add_argument("--json", action="store_true", help="print JSON: layers = [{name, type, d, n, score, ...}]")
    sg.add_argument("--png", help="write the signature plot (PNG or SVG)")
    sg.add_argument("--quiet", action="store_true", help="no progress bars")

    sp = sub.add_parser(
        "separability",
        help="class separability (N1, F1, N2, N3, linear probe, GDV) of every layer's representation",
    )
    sp.add_argument(
        "--model",
        default=None,
        help="digits-cnn or digits-mlp (exactnet's small models for 1 x 8 x 8 digits; default digits-cnn) or a "
        "torchvision classifier (random init unless --weights)",
    )
    sp.add_argument(
        "--weights", help="the model's state_dict: .pt/.pth read with torch.load(weights_only=True), or .safetensors"
    )
    sp.add_argument(
        "--data",
        default="digits",
        help="digits (scikit-learn's bundled digits, all 1,797), a folder with a subfolder of images per class, or "
        "MNIST:ROOT / FashionMNIST:ROOT / KMNIST:ROOT (files already on disk)",
    )
    sp.add_argument(
        "--measures", default=",".join(MEASURES), help=f"comma-separated, from {','.join(MEASURES)} (default: all)"
    )
    sp.add_argument("--metric", choices=["euclidean", "gower"], default="euclidean")
    sp.add_argument("--samples", type=int, default=2048, help="rows kept per layer (a seeded sample); default 2048")
    sp.add_argument("--image-size", type=int, default=224, help="image size for torchvision models (default 224)")
    sp.add_argument(
        "--reduction",
        default=None,
        help="flatten (every feature; the default for the small models), channel_mean (one per channel; the "
        "default for torchvision models, whose flattened activations would not fit in memory), positions, project:K",
    )
    sp.add_argument("--batch-size", type=int, default=64)
    sp.add_argument("--device", default=None, help="cpu or cuda (default: cpu)")
    sp.add_argument("--seed", type=int, default=0, help="seeds the weights and the sampling")
    sp.add_argument("--json", action="store_true", help="print JSON: layers = [{name, type, d, n, n1, f1, ...}]")
    sp.add_argument("--png", help="write a picture of every measure per layer (PNG or SVG)")
    sp.add_argument("--quiet", action="store_true", help="no progress bars")

    sm = sub.add_parser("smp", help="SMP (non-smoothness along input paths) of every layer, sampled or exact")
    sm.add_argument(
        "--model",
        default=None,
        help="digits-cnn, digits-mlp or a torchvision classifier (default digits-cnn; random init unless --weights)",
    )
    sm.add_argument(
        "--weights",
        help="the model's state_dict (.pt/.pth with weights_only=True, or .safetensors); with --exact, a "
        "piecewise-linear network (.npz, as exactnet make-net writes)",
    )
    sm.add_argument("--paths", type=int, default=32, help="number of paths (between random pairs of inputs)")
    sm.add_argument("--steps", type=int, default=512, help="samples per path (sampled mode); default 512")
    sm.add_argument("--threshold", type=float, default=10.0, help="peak threshold: times the median |D| (default 10)")
    sm.add_argument("--image-size", type=int, default=64, help="random images for torchvision models (default 64)")
    sm.add_argument("--exact", action="store_true", help="exact SMP of every unit with the exact 1-D engine (.npz)")
    sm.add_argument("--device", default=None, help="cpu or cuda (default: cpu)")
    sm.add_argument("--seed", type=int, default=0)
    sm.add_argument("--json", action="store_true", help="print JSON: layers = [{name, smp_mean, smp_std, ...}]")
    sm.add_argument("--png", help="write the mean SMP per layer (PNG or SVG)")
    sm.add_argument("--quiet", action="store_true", help="no progress bars")

    rp = sub.add_parser(
        "report", help="one self-contained HTML report on a network: every analysis that applies (the default command)"
    )
    rp.add_argument(
        "--model",
        default=None,
        help="digits-cnn, digits-mlp or a torchvision classifier (random init unless --weights)",
    )
    rp.add_argument(
        "--weights",
        help="with --model: its state_dict (.pt/.pth read with weights_only=True, or .safetensors); alone: a "
        "piecewise-linear network (.npz, as exactnet make-net writes). Neither: the built-in moons classifier",
    )
    rp.add_argument(
        "--data",
        default=None,
        help="moons, digits, an .npz with arrays X and y, an image folder (one subfolder per class) or "
        "MNIST:ROOT / FashionMNIST:ROOT / KMNIST:ROOT (default: moons for 2-input networks, digits for models)",
    )
    rp.add_argument("--limit", type=int, default=512, help="inputs used at most (default 512)")
    rp.add_argument("--image-size", type=int, default=64, help="image size for torchvision models (default 64)")
    rp.add_argument("--out", default="exactnet_report.html", help="the HTML file (default exactnet_report.html)")
    rp.add_argument("--json", action="store_true", help="print JSON: the summary and where the report is")
    rp.add_argument("--quiet", action="store_true", help="no progress bars")

    tr = sub.add_parser(
        "train-regions", help="train a 2-D classifier with exact snapshots of its regions and decision boundary"
    )
    tr.add_argument("--data", default="moons", help="moons, circles, quantiles, spirals, checker or random")
    tr.add_argument(
        "--level", type=float, default=None, help="intricacy: spiral turns, checker frequency, quantile classes"
    )
    tr.add_argument("--points", type=int, default=400, help="training points (as many test points); default 400")
    tr.add_argument("--widths", default="16,16,16", help="hidden widths (default 16,16,16)")
    tr.add_argument("--epochs", type=int, default=100)
    tr.add_argument("--snapshots", type=int, default=11, help="snapshots from epoch 0 to the last (default 11)")
    tr.add_argument("--lr", type=float, default=1e-3)
    tr.add_argument("--seed", type=int, default=0, help="seeds the data, the weights and the batches")
    tr.add_argument("--near", choices=["radius", "hull"], default="radius", help="what counts as near the data")
    tr.add_argument("--radius", type=float, default=None, help="near = within this distance of a training point")
    tr.add_argument("--out", default=None, help="output folder (default train-regions-DATA)")
    tr.add_argument("--json", action="store_true", help="print JSON: the curves (one list per measurement) and files")
    tr.add_argument("--quiet", action="store_true", help="no progress bar")

    nn = sub.add_parser("n1", help="N1 (and F1) of a feature matrix X and labels y stored in an .npz file")
    nn.add_argument("data", help=".npz file with arrays X (n, d) and y (n,) (read without pickles)")
    nn.add_argument("--metric", choices=["euclidean", "gower"], default="euclidean")
    nn.add_argument("--multiclass", choices=["global", "pairwise"], default="global")
    nn.add_argument("--json", action="store_true", help="print JSON: n1, boundary, n, d, metric, multiclass, f1")

    sub.add_parser("warmup", help="compile every numba kernel now (kept in numba's cache for later runs)")

    m = sub.add_parser("make-net", help="write a benchmark network d-w1-...-1 (docs/definitions.md) to an .npz file")
    m.add_argument("spec", help="e.g. 2-32-32-1 or 2-32x8-1")
    m.add_argument("--seed", type=int, default=0)
    m.add_argument("--out", required=True, help="output .npz path")
    return p


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = _parser().parse_args(_fix_negative_values(argv))
    try:
        return _run(args)
    except (MissingExtraError, RegionLimitError) as err:  # a clear message, not a traceback
        raise SystemExit(f"exactnet {args.command or 'demo'}: {err}") from None


def _run(args: argparse.Namespace) -> int:
    if args.command is None:  # the main job: the report on the embedded default
        return _report_command(_parser().parse_args(["report"]))
    if args.command == "demo":
        return _demo(args)
    if args.command == "demo1d":
        return _demo1d(args)
    if args.command == "regions1d":
        return _regions1d(args)
    if args.command == "regions":
        return _regions(args)
    if args.command == "partition":
        return _partition(args)
    if args.command == "make-net":
        return _make_net(args)
    if args.command == "pulse":
        return _pulse_verify(args)
    if args.command == "signature":
        return _signature(args)
    if args.command == "warmup":
        return _warmup()
    if args.command == "n1":
        return _n1(args)
    if args.command == "train-regions":
        return _train_regions(args)
    if args.command == "report":
        return _report_command(args)
    if args.command == "separability":
        return _separability(args)
    if args.command == "smp":
        return _smp(args)
    raise SystemExit(f"exactnet: unknown command {args.command!r}")


def _n1(args) -> int:
    import numpy as np

    from .probe.separability import f1, n1

    try:
        with np.load(args.data, allow_pickle=False) as data:
            if "X" not in data.files or "y" not in data.files:
                raise SystemExit(f"exactnet n1: {args.data} needs arrays named X and y; it has {sorted(data.files)}")
            X, y = data["X"], data["y"]
    except (OSError, ValueError) as err:
        raise SystemExit(f"exactnet n1: cannot read {args.data} as an .npz file without pickles: {err}") from None
    try:
        res = n1(X, y, metric=args.metric, multiclass=args.multiclass)
        fisher = f1(X, y)
    except (TypeError, ValueError) as err:
        raise SystemExit(f"exactnet n1: {err}") from None
    out = {
        "n1": res.value,
        "n1_exact": f"{res.exact_value.numerator}/{res.exact_value.denominator}",
        "boundary": res.boundary,
        "n": res.n,
        "d": res.d,
        "metric": res.metric,
        "multiclass": res.multiclass,
        "tie_rule": res.tie_rule,
        "f1": fisher,
    }
    if res.pairwise is not None:
        out["pairwise"] = [[None if np.isnan(v) else float(v) for v in row] for row in res.pairwise]
    if args.json:
        print(json.dumps(out))
    else:
        print(
            f"N1 = {out['n1_exact']} = {res.value:.6f} ({res.boundary} boundary points of {res.n}, d = {res.d}, "
            f"{res.metric}, {res.multiclass}); F1 = {fisher:.8f}"
        )
    return 0


def _save(fig, path, *, announce: bool = False, dpi=None) -> None:
    """Write a matplotlib figure (PNG or SVG by the suffix), free it, and say where."""
    require("matplotlib", "writing pictures")
    import matplotlib.pyplot as plt

    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    if announce:
        print(f"picture: {path}")


def _report(res, net, out) -> None:
    from .theory.bounds import serra_thm1_upper

    print(res.table(), file=out)
    bound = serra_thm1_upper(1, net.hidden_widths) if net.hidden_widths else 1
    print(
        f"\nregions {res.num_regions}   linear pieces {res.num_pieces}   non-empty patterns {res.num_patterns}",
        file=out,
    )
    print(f"bound along a line (Serra et al. 2018, Thm 1 with n0 = 1): {bound}", file=out)
    for k, v in enumerate(res.smp):
        exact = f" = {v}" if res.exact and len(str(v)) <= 40 else ""
        print(
            f"output {k}: {len(res.kinks[k])} kinks, exact SMP {float(v):.6g}{exact} "
            f"(per unit t; segment length {res.length:.6g})",
            file=out,
        )


def _demo(args) -> int:
    """The main job: the built-in classifier's exact partition, boundary and coverage."""
    import time

    from .builtin import MOONS_DOMAIN, moons_classifier
    from .regions.plane import partition
    from .regions.sampling import sample_patterns
    from .theory.bounds import montufar2017_upper, serra_thm1_upper

    net, X, y = moons_classifier()
    t0 = time.perf_counter()
    part = partition(net, MOONS_DOMAIN, exact=True)
    counts = (part.num_regions, part.num_pieces, part.num_patterns)
    t_exact = time.perf_counter() - t0
    t0 = time.perf_counter()
    fast = partition(net, MOONS_DOMAIN)
    fast_counts = (fast.num_regions, fast.num_pieces, fast.num_patterns)
    t_fast = time.perf_counter() - t0
    agree = fast_counts == counts and len(fast.edges) == len(part.edges)
    est = sample_patterns(net, MOONS_DOMAIN, n=10**6)
    cov = est.compare(part)
    bounds = {
        "serra_thm1_upper": serra_thm1_upper(2, net.hidden_widths),
        "montufar2017_upper": montufar2017_upper(2, net.hidden_widths),
    }
    boundary = part.decision_boundary
    length = sum(float(((p[0] - q[0]) ** 2 + (p[1] - q[1]) ** 2) ** 0.5) for p, q, _ in boundary)
    if args.json:
        d = part.to_dict()
        d.update(
            network=net.name,
            bounds=bounds,
            decision_boundary_segments=len(boundary),
            decision_boundary_length=length,
            sampling={k: v for k, v in cov.items() if k != "missed"},
            float_engine_agrees=agree,
        )
        print(json.dumps(d, indent=1))
    else:
        x0, x1, y0, y1 = MOONS_DOMAIN
        print(f"exactnet demo: {net.name}, trained on two moons, on [{x0}, {x1}] x [{y0}, {y1}]\n")
        print(
            f"exact partition ({t_exact * 1e3:.0f} ms): {counts[0]} regions, {counts[1]} linear pieces, "
            f"{counts[2]} non-empty patterns; region graph: {part.num_regions} nodes, {len(part.edges)} edges"
        )
        print(
            f"bounds for 2 inputs and widths {list(net.hidden_widths)}: Serra et al. 2018 Thm 1 <= "
            f"{bounds['serra_thm1_upper']:,}, Montufar 2017 <= {bounds['montufar2017_upper']:,}"
        )
        print(
            f"decision boundary: {len(boundary)} exact segments, length {length:.3f}; "
            f"training accuracy {float((net.forward(X).argmax(1) == y).mean()):.3f}"
        )
        print(
            f"sampled estimate (1000 x 1000 grid, {est.points_per_second / 1e6:.1f} M points/s): "
            f"{cov['found']} of {cov['regions']} regions (coverage {100 * cov['coverage']:.1f}%), "
            f"missed area {100 * cov['missed_area_fraction']:.4f}% of the window, smallest missed region "
            f"{cov['smallest_missed_area']:.2e}"
        )
        print(
            f"certified float engine ({t_fast * 1e3:.1f} ms): "
            f"{'same regions, graph and counts' if agree else 'DISAGREES'}"
        )
    if args.png:
        _save(
            part.plot(
                color_by="class",
                points=X,
                labels=y,
                title=f"{net.name}: {part.num_regions} exact regions and the decision boundary",
            ),
            args.png,
            announce=not args.json,
        )
    return 0 if agree else 1


def _partition(args) -> int:
    """A front-end of exactnet.regions on a polygon, with the 2-D extras (pictures by
    class, GraphML, GeoJSON) of the engine's Partition."""
    from .net.io import load_network
    from .regions import Polygon, regions

    widths = [int(w) for w in args.widths.split(",") if w.strip()] if args.widths else None
    net = load_network(args.weights, widths, negative_slope=args.negative_slope)
    box = _coords(args.domain, "--domain")
    if len(box) != 4:
        raise SystemExit("exactnet: --domain is x0,x1,y0,y1 (four numbers)")
    if net.input_dim != 2:
        raise SystemExit(f"exactnet: partition needs a 2-input network; this one takes {net.input_dim} inputs")
    res = regions(
        net, Polygon(box if args.exact else [float(v) for v in box]), exact=args.exact, max_regions=args.max_regions
    )
    part = res.engine_result
    if args.json:
        print(json.dumps(part.to_dict(), indent=1))
    else:
        print(
            f"{net!r} on {args.domain} ({'exact' if args.exact else 'certified float'}): {res.num_regions} regions, "
            f"{res.num_pieces} linear pieces, {res.num_patterns} non-empty patterns, {len(res.edges)} graph edges"
        )
    if args.png:
        _save(part.plot(color_by=args.color_by), args.png)
    if args.graphml:
        part.write_graphml(args.graphml)
    if args.geojson:
        part.write_geojson(args.geojson)
    return 0


def _demo1d(args) -> int:
    from . import segment_regions
    from .builtin import benchmark_net
    from .plot import plot_segment

    net = benchmark_net(args.net, args.seed)
    n0 = net.input_dim
    start, end = [-1] * n0, [1] * n0
    res = segment_regions(net, start, end, exact=True)
    fast = segment_regions(net, start, end)
    agree = (fast.num_regions, fast.num_pieces, fast.num_patterns) == (
        res.num_regions,
        res.num_pieces,
        res.num_patterns,
    )
    if args.json:
        d = res.to_dict()
        d["network"] = net.name
        d["float_engine_agrees"] = agree
        print(json.dumps(d, indent=1))
    else:
        print(f"exactnet demo: {net!r} along the diagonal from {tuple(start)} to {tuple(end)}, exact arithmetic\n")
        _report(res, net, sys.stdout)
        print(f"certified float engine: {'same regions, pieces and patterns' if agree else 'DISAGREES'}")
    if args.png:
        _save(
            plot_segment(res, title=f"{net.name}: {res.num_regions} regions along the diagonal (exact)"),
            args.png,
            announce=not args.json,
        )
    return 0 if agree else 1


def _regions1d(args) -> int:
    """A front-end of exactnet.regions on a segment, with the 1-D extras (breakpoints,
    kinks, SMP) of the engine's SegmentRegions."""
    from .net.io import load_network
    from .regions import Segment, regions

    widths = None
    if args.widths:
        widths = [int(w) for w in args.widths.split(",") if w.strip()]
    net = load_network(args.weights, widths, negative_slope=args.negative_slope)
    start = _coords(args.start, "--from")
    end = _coords(args.end, "--to")
    for name, pt in (("--from", start), ("--to", end)):
        if len(pt) != net.input_dim:
            raise SystemExit(f"exactnet: {name} has {len(pt)} coordinates but the network takes {net.input_dim} inputs")
    seg = Segment(start, end) if args.exact else Segment([float(v) for v in start], [float(v) for v in end])
    res = regions(net, seg, exact=args.exact, max_regions=args.max_regions).engine_result
    if args.json:
        print(json.dumps(res.to_dict(), indent=1))
    else:
        print(f"{net!r} from {args.start} to {args.end} ({'exact' if args.exact else 'certified float'})\n")
        _report(res, net, sys.stdout)
    if args.png:
        from .plot import plot_segment

        _save(plot_segment(res), args.png)
    return 0


def _regions(args) -> int:
    from .net.io import load_network
    from .regions import Box, regions

    widths = [int(w) for w in args.widths.split(",") if w.strip()] if args.widths else None
    net = load_network(args.weights, widths, negative_slope=args.negative_slope)
    n = net.input_dim
    domain = None
    if args.box is not None:
        vals = _coords(args.box, "--box")
        if len(vals) == 2:
            domain = Box(vals[0], vals[1])
        elif len(vals) == 2 * n:
            domain = Box(vals[0::2], vals[1::2])
        else:
            raise SystemExit(
                f"exactnet: --box takes lo,hi or {2 * n} numbers lo0,hi0,...; got {len(vals)} numbers "
                f"for a network with {n} inputs"
            )
    try:
        res = regions(net, domain, exact=args.exact, max_regions=args.max_regions, progress=args.progress)
    except ValueError as err:
        raise SystemExit(f"exactnet regions: {err}") from None
    if args.out:
        with open(args.out, "w") as fh:
            fh.write(res.to_json())
    if args.json:
        print(json.dumps(res.summary(), indent=1))
    else:
        where = "the whole input space" if domain is None else f"the box {args.box}"
        print(
            f"{net!r} on {where} ({'exact' if args.exact else 'certified float'}): {res.num_regions} regions, "
            f"{res.num_pieces} linear pieces, {res.num_patterns} non-empty patterns, {len(res.edges)} graph edges"
        )
    if args.png:
        if n > 2:
            raise SystemExit(f"exactnet regions: --png draws 1-D and 2-D networks; this one takes {n} inputs")
        require("matplotlib", "writing pictures")
        _save(res.plot().figure, args.png)
    return 0


def _warmup() -> int:
    import time

    from .compiled import compiled_signatures, warmup

    t0 = time.perf_counter()
    print("compiling exactnet's kernels (or loading them from numba's cache):")
    warmup(report=lambda line: print(f"  {line}", flush=True))
    ready = sum(1 for n in compiled_signatures().values() if n)
    print(f"{ready} kernels ready in {time.perf_counter() - t0:.1f} s")
    return 0


def _make_net(args) -> int:
    from .builtin import benchmark_net
    from .net.io import save_npz

    net = benchmark_net(args.spec, args.seed)
    save_npz(net, args.out)
    print(f"wrote {net!r} to {args.out}")
    return 0


def _pulse_verify(args) -> int:
    """Verify every analytic pulse / disk construction at each size; also report the Lemma 1
    instance outside its claimed radii (r = 0), where it genuinely fails."""
    from .pulse import all_constructions, lemma1_instance, verify

    sizes = []
    for part in args.sizes.split(","):
        try:
            sizes.append(int(part))
        except ValueError:
            raise SystemExit(f"exactnet: --sizes takes integers like 3,5,8, got {part!r}") from None
    a_min, a_max = (_coords(v, name)[0] for v, name in ((args.a_min, "--a-min"), (args.a_max, "--a-max")))
    verdicts = []
    verified: dict[str, bool] = {}
    for M in sizes:
        try:
            constructions = all_constructions(M, a_min=a_min, a_max=a_max)
        except ValueError as err:
            raise SystemExit(f"exactnet: M = {M}: {err}") from None
        for c in constructions:
            v = verify(c)
            verdicts.append(v)
            key = c.name if not c.name.startswith("lemma1(") else "lemma1_family"
            verified[key] = verified.get(key, True) and v.exact
    outside = [verify(lemma1_instance(M), radii=(0, M), name="lemma1_instance, r = 0..M") for M in sizes if M >= 2]
    if args.json:
        print(
            json.dumps(
                {
                    "verified": verified,
                    "constructions": [v.to_json() for v in verdicts],
                    "known_failures": [v.to_json() for v in outside],
                },
                indent=2,
            )
        )
    else:
        for v in verdicts:
            print(v)
        print("\noutside its claimed radii (reported, not hidden):")
        for v in outside:
            print(f"  {v}")
        print("\n" + "  ".join(f"{k}: {'verified' if ok else 'NOT verified'}" for k, ok in verified.items()))
    return 0 if all(verified.values()) else 1


def _signature(args) -> int:
    """Affinity score of every activation of one or more torchvision models."""
    require("torch", "the signature of a torch model")
    import torch

    from .probe.data import digits_images, random_images, torchvision_model
    from .probe.nonlinearity import plot_signatures, signature

    names = [m.strip() for m in args.model.split(",") if m.strip()]
    if not names:
        raise SystemExit("exactnet signature: --model is empty; name a torchvision classifier, e.g. resnet18")
    if args.weights and len(names) != 1:
        raise SystemExit("exactnet signature: --weights needs exactly one --model")
    if args.samples < 2:
        raise SystemExit(f"exactnet signature: --samples {args.samples}; at least 2 are needed")
    reduction = args.reduction
    if reduction.startswith("project:"):
        try:
            reduction = ("project", int(reduction.split(":", 1)[1]))
        except ValueError:
            raise SystemExit(
                f"exactnet signature: --reduction {args.reduction!r}; write project:K with an integer K"
            ) from None
    choices: dict[str, bool | str] = {"auto": "auto", "none": False, "ledoit-wolf": "ledoit-wolf"}
    shrinkage = choices[args.shrinkage]
    if args.device is not None and args.device.startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit(f"exactnet signature: --device {args.device} but torch sees no CUDA device; use --device cpu")
    try:
        if args.data == "random":
            images = random_images(args.samples, args.image_size, seed=args.seed)
        else:
            images = digits_images(args.samples, args.image_size)
    except ValueError as exc:
        raise SystemExit(f"exactnet signature: --data {args.data}: {exc} (--samples, --image-size)") from None
    sigs = []
    for name in names:
        try:
            model = torchvision_model(name, seed=args.seed, weights=args.weights)
        except (ValueError, ImportError) as exc:
            raise SystemExit(f"exactnet signature: {exc}") from None
        fixed = getattr(model, "image_size", None)  # e.g. ViT: a fixed patch grid
        if isinstance(fixed, int) and fixed != args.image_size:
            raise SystemExit(
                f"exactnet signature: {name} takes {fixed} x {fixed} images only; pass --image-size {fixed}"
            )
        sig = signature(
            model,
            images,
            name=name,
            reduction=reduction,
            samples=args.samples,
            batch_size=args.batch_size,
            normalization=args.normalization,
            shrinkage=shrinkage,
            device=args.device,
            seed=args.seed,
            progress=not args.quiet and not args.json,
        )
        sigs.append(sig)
        if not args.json:
            print(
                f"{sig}\ncapture {sig.capture_seconds:.1f} s, scores {sum(l.seconds for l in sig.layers):.1f} s "
                f"({args.data} data, {len(images)} inputs of 3 x {args.image_size} x {args.image_size})\n"
            )
    if args.json:
        docs = [dict(s.to_json(), data=args.data, image_size=args.image_size) for s in sigs]
        print(json.dumps(docs[0] if len(docs) == 1 else {"models": docs}, indent=1))
    if args.png:
        _save(plot_signatures(sigs), args.png, announce=not args.json, dpi=120)
    return 0


def _separability(args) -> int:
    """Class separability of every layer of one model on labelled data."""
    require("torch", "the separability of a torch model")
    import torch

    from .probe.data import SMALL_MODELS, digits_data, image_data, model_by_name
    from .probe.separability import layerwise_separability

    def fail(msg: str) -> SystemExit:
        return SystemExit(f"exactnet separability: {msg}")

    name = args.model or "digits-cnn"
    measures = [m.strip() for m in args.measures.split(",") if m.strip()]
    bad = [m for m in measures if m not in MEASURES]
    if bad or not measures:
        raise fail(f"--measures {args.measures!r}: choose from {','.join(MEASURES)}")
    if args.samples < 2:
        raise fail(f"--samples {args.samples}; at least 2 are needed")
    small = name in SMALL_MODELS
    reduction: Any = args.reduction or ("flatten" if small else "channel_mean")
    if reduction.startswith("project:"):
        try:
            reduction = ("project", int(reduction.split(":", 1)[1]))
        except ValueError:
            raise fail(f"--reduction {args.reduction!r}; write project:K with an integer K") from None
    if args.device is not None and args.device.startswith("cuda") and not torch.cuda.is_available():
        raise fail(f"--device {args.device} but torch sees no CUDA device; use --device cpu")
    try:
        model = model_by_name(name, seed=args.seed, weights=args.weights)
    except (ValueError, ImportError, OSError) as exc:
        raise fail(str(exc)) from None
    try:
        if args.data == "digits":
            x, y = digits_data(rgb=not small, size=None if small else args.image_size)
        else:
            # the small models take one grey channel of 8 x 8 in [0, 1], as the digits
            x, y, _ = image_data(args.data, size=8 if small else args.image_size, rgb=not small, seed=args.seed)
    except (ValueError, ImportError) as exc:
        raise fail(f"--data {args.data}: {exc}") from None
    try:
        res = layerwise_separability(
            model,
            x,
            labels=y,
            measures=measures,
            metric=args.metric,
            reduction=reduction,
            samples=args.samples,
            batch_size=args.batch_size,
            seed=args.seed,
            device=args.device,
            progress=not args.quiet and not args.json,
            name=name,
        )
    except (ValueError, RuntimeError) as exc:
        raise fail(str(exc)) from None
    if args.json:
        print(json.dumps(dict(res.to_json(), data=args.data, inputs=len(x)), indent=1, default=float))
    else:
        print(f"{res}\n({args.data}: {len(x)} inputs of shape {tuple(x.shape[1:])})")
    if args.png:
        require("matplotlib", "writing pictures")
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(1, len(measures), figsize=(3.2 * len(measures), 3.0), squeeze=False)
        for ax, m in zip(axes[0], measures):
            res.plot(m, ax=ax)
            ax.set_title(m)
        fig.tight_layout()
        _save(fig, args.png, announce=not args.json, dpi=120)
    return 0


def _smp(args) -> int:
    """SMP of every layer along paths between random pairs of inputs."""

    def fail(msg: str) -> SystemExit:
        return SystemExit(f"exactnet smp: {msg}")

    if args.paths < 1:
        raise fail(f"--paths {args.paths}; at least one path is needed")
    if args.exact:
        return _smp_exact(args, fail)
    require("torch", "the sampled SMP of a torch model")
    import torch

    from .probe.data import SMALL_MODELS, digits_data, model_by_name, random_images
    from .probe.smp import layerwise_smp, paths_between

    if args.steps < 3:
        raise fail(f"--steps {args.steps}; a path needs at least 3 samples")
    if args.device is not None and args.device.startswith("cuda") and not torch.cuda.is_available():
        raise fail(f"--device {args.device} but torch sees no CUDA device; use --device cpu")
    name = args.model or "digits-cnn"
    try:
        model = model_by_name(name, seed=args.seed, weights=args.weights)
    except (ValueError, ImportError, OSError) as exc:
        raise fail(str(exc)) from None
    if name in SMALL_MODELS:
        x, _ = digits_data()
    else:
        x = random_images(2 * args.paths, args.image_size, seed=args.seed)
    g = torch.Generator().manual_seed(args.seed)
    pick = torch.randperm(len(x), generator=g)[: 2 * args.paths]
    if len(pick) < 2 * args.paths:
        raise fail(f"--paths {args.paths}: the data has {len(x)} inputs, enough for {len(x) // 2} paths")
    a, b = x[pick[: args.paths]], x[pick[args.paths :]]
    res = layerwise_smp(
        model, paths_between(a, b, args.steps, lazy=True), threshold=args.threshold, device=args.device,
        progress=not args.quiet and not args.json, name=name,
    )  # fmt: skip
    if args.json:
        print(json.dumps(dict(res.to_json(), paths=args.paths, steps=args.steps), indent=1))
    else:
        print(f"{res}\n({args.paths} paths of {args.steps} samples between random pairs of inputs; per unit of t)")
    if args.png:
        _save(res.plot(), args.png, announce=not args.json, dpi=120)
    return 0


def _report_data(args, fail, small: bool, inputs: int | None) -> tuple[Any, Any]:
    """The inputs and labels named by --data (None, None for none)."""
    from pathlib import Path

    X: Any
    x: Any
    y: Any

    source = args.data
    if source is None:
        source = "moons" if inputs == 2 else "digits" if inputs is None or inputs == 64 or not small else None
    if source is None:
        return None, None
    if source == "moons":
        from .builtin import moons_classifier

        _, X, y = moons_classifier()
        return X, y
    require("torch", "image data")
    if source == "digits":
        from .probe.data import digits_data, digits_images

        x, y = digits_data()
        if not small:
            x = digits_images(None, args.image_size)
        if inputs == 64:
            x = x.reshape(len(x), -1)
        return x[: args.limit], y[: args.limit]
    if source.endswith(".npz") and not Path(source).is_file():
        raise fail(
            f"--data {source}: no such file; give moons, digits, an .npz file with X (and y), a folder with a "
            "subfolder of images per class, or NAME:ROOT (MNIST files under ROOT)"
        )
    if source.endswith(".npz"):
        import numpy as np

        with np.load(source, allow_pickle=False) as f:
            if "X" not in f.files:
                raise fail(f"--data {source}: the file has no array X (it has {', '.join(f.files)})")
            X = f["X"][: args.limit]
            y = f["y"][: args.limit] if "y" in f.files else None
        return X, y
    from .probe.data import image_data

    try:
        x, y, _ = image_data(source, size=8 if small else args.image_size, rgb=not small, limit=args.limit)
    except (ValueError, OSError, ImportError) as exc:
        raise fail(f"--data {source}: {exc}") from None
    return x, y


def _default_models(quiet: bool) -> dict[str, Any]:
    """The embedded default: the built-in moons classifier with its training points, and
    a small CNN trained here on scikit-learn's bundled digits (when torch and
    scikit-learn are installed) with its held-out digits."""
    from .builtin import moons_classifier

    net, X, y = moons_classifier()
    models: dict[str, Any] = {}
    try:
        import sklearn  # noqa: F401  # the digits
        import torch  # noqa: F401
    except ImportError:
        models["the built-in moons classifier (2-16-16-2)"] = (net, X, y)
        if not quiet:
            print("(torch or scikit-learn is not installed: the report covers the moons classifier only)")
        return models
    from .training.trainer import trained_digits_cnn

    models["the built-in moons classifier (2-16-16-2)"] = (net.to_torch(), X, y)
    cnn, (x_test, y_test), accuracy = trained_digits_cnn()
    models[f"a small CNN trained on the bundled digits (held-out accuracy {accuracy:.3f})"] = (cnn, x_test, y_test)
    return models


def _report_command(args) -> int:
    """One HTML report on a network (the built-in moons classifier by default)."""

    def fail(msg: str) -> SystemExit:
        return SystemExit(f"exactnet report: {msg}")

    require("matplotlib", "the report's pictures")
    from pathlib import Path

    from .reporting.build import report

    if args.limit < 1:
        raise fail(f"--limit {args.limit}; use at least one input")
    if args.weights is not None and not Path(args.weights).is_file():
        raise fail(f"--weights {args.weights}: no such file; give the path of a weights file")
    small = True
    if args.model is not None:
        require("torch", "a torch model")
        from .probe.data import SMALL_MODELS, model_by_name

        try:
            model: Any = model_by_name(args.model, weights=args.weights)
        except (ValueError, ImportError, OSError) as exc:
            raise fail(str(exc)) from None
        small = args.model in SMALL_MODELS
        name = args.model if args.weights else f"{args.model} (random initial weights: give --weights for yours)"
        inputs = None
    elif args.weights is not None:
        from .net.io import load_network

        if not args.weights.endswith(".npz"):
            raise fail(
                f"--weights {args.weights}: alone it must be an exactnet network (.npz); for a torch state_dict "
                "name its architecture with --model"
            )
        try:
            model = load_network(args.weights)
        except (ValueError, OSError) as exc:
            raise fail(str(exc)) from None
        name = args.weights
        inputs = model.input_dim
    else:
        if args.data is not None:
            raise fail("--data goes with --model or --weights; alone, the report is on the embedded default")
        model, name, inputs = _default_models(quiet=args.quiet or args.json), None, None
    X, y = (None, None) if isinstance(model, dict) else _report_data(args, fail, small, inputs)
    try:
        bars = not args.quiet and not args.json and sys.stderr.isatty()  # no bars in a piped log
        res = report(model, X, y, out=args.out, name=name, progress=bars)
    except ValueError as exc:
        raise fail(str(exc)) from None
    if args.json:
        print(json.dumps({"report": str(res.path), "seconds": res.seconds, "summary": res.summary}, indent=1))
    else:
        print(res.text())
        print(f"report ({res.seconds:.1f} s): {res.path}")
    return 0


def _train_regions(args) -> int:
    """Train a 2-D classifier with exact snapshots; write the run, the pictures and the curves."""

    def fail(msg: str) -> SystemExit:
        return SystemExit(f"exactnet train-regions: {msg}")

    require("torch", "training a classifier")
    require("matplotlib", "the pictures of a training run")
    from pathlib import Path

    from .training.datasets import DATASETS, make_dataset
    from .training.trainer import train_classifier

    if args.data not in DATASETS:
        raise fail(f"--data {args.data}; use one of {', '.join(DATASETS)}")
    try:
        widths = [int(w) for w in args.widths.split(",") if w.strip()]
    except ValueError:
        raise fail(f"--widths {args.widths!r}; give comma-separated integers, e.g. 16,16,16") from None
    try:
        train = make_dataset(args.data, args.points, level=args.level, seed=args.seed)
        test = make_dataset(args.data, args.points, level=args.level, seed=args.seed + 10_000)
        _, run = train_classifier(
            train, test=test, widths=widths, epochs=args.epochs, snapshots=args.snapshots, lr=args.lr,
            seed=args.seed, near=args.near, radius=args.radius, name=args.data,
            progress=not args.quiet and not args.json,
        )  # fmt: skip
    except ValueError as exc:
        raise fail(str(exc)) from None
    out = Path(args.out or f"train-regions-{args.data}")
    out.mkdir(parents=True, exist_ok=True)
    files = {
        "run": str(run.save(out / "run.npz")),
        "grid": str(out / "snapshots.png"),
        "curves": str(out / "curves.png"),
        "animation": str(out / "training.gif"),
        "table": str(out / "curves.json"),
    }
    run.plot_grid(path=files["grid"])
    run.plot_curves(path=files["curves"])
    run.animate(files["animation"])
    curves = {k: [None if v != v else float(v) for v in vals] for k, vals in run.curves().items()}
    table = {"data": args.data, "level": args.level, "widths": widths, "domain": list(run.domain), "curves": curves}
    Path(files["table"]).write_text(json.dumps(table, indent=1))
    if args.json:
        print(json.dumps(dict(table, files=files), indent=1))
    else:
        print(run.table())
        for what, where in files.items():
            print(f"{what:>9}: {where}")
    return 0


def _smp_exact(args, fail) -> int:
    """Exact SMP of every unit of a piecewise-linear network along random segments."""
    import numpy as np

    from .net.io import load_network
    from .probe.smp import exact_smp

    if not args.weights:
        raise fail("--exact needs --weights NET.npz (a piecewise-linear network, e.g. from exactnet make-net)")
    try:
        net = load_network(args.weights)
    except (ValueError, OSError) as exc:
        raise fail(str(exc)) from None
    rng = np.random.default_rng(args.seed)
    d = net.input_dim
    per_layer: list[list[float]] = [[] for _ in net.layers]
    per_layer_pre: list[list[float]] = [[] for _ in net.layers]
    for _ in range(args.paths):
        a, b = rng.uniform(-1, 1, d), rng.uniform(-1, 1, d)
        res = exact_smp(net, a.tolist(), b.tolist(), exact=True)
        for i, layer in enumerate(res.layers):
            per_layer[i].extend(float(v) for v in layer.post)
            per_layer_pre[i].extend(float(v) for v in layer.pre)
    layers = []
    for i, (post, pre) in enumerate(zip(per_layer, per_layer_pre)):
        vals = np.array(post)
        layers.append({
            "name": f"layer {i + 1}", "units": net.layers[i].weight.shape[0], "smp_mean": float(vals.mean()),
            "smp_std": float(vals.std()), "smp_median": float(np.median(vals)), "smp_max": float(vals.max()),
            "kinked": float((vals > 0).mean()), "pre_mean": float(np.mean(pre)),
        })  # fmt: skip
    if args.json:
        doc = {"network": str(args.weights), "exact": True, "paths": args.paths, "box": [-1, 1], "layers": layers}
        print(json.dumps(doc, indent=1))
    else:
        print(f"exact SMP of {args.weights} along {args.paths} random segments of [-1, 1]^{d} (per unit of t):")
        head = ("smp_mean", "smp_std", "smp_max", "kinked", "pre_mean")
        print(f"{'layer':<10} {'units':>6} " + " ".join(f"{h:>10}" for h in head))
        for row in layers:
            print(
                f"{row['name']:<10} {row['units']:>6} {row['smp_mean']:>10.4g} {row['smp_std']:>10.4g} "
                f"{row['smp_max']:>10.4g} {row['kinked']:>10.3f} {row['pre_mean']:>10.4g}"
            )
    if args.png:
        require("matplotlib", "writing pictures")
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(5, 3.2))
        ax.plot(range(1, len(layers) + 1), [r["smp_mean"] for r in layers], marker="o")
        ax.set_xlabel("layer")
        ax.set_ylabel("mean exact SMP per unit")
        fig.tight_layout()
        _save(fig, args.png, announce=not args.json, dpi=120)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
