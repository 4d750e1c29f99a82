"""n-D region benchmark: exactnet against affinitree, relucent and an LP baseline, in one run.

Benchmark nets (docs/definitions.md, seed 0) on the box [-1, 1]^n. For each: the regions
of ``exactnet.regions(net, Box(-1, 1))`` with the region graph's edges (``len(res.edges)``)
in the certified float mode and in the exact mode (rationals). Both run the compiled
kernel, whose decisions are exact; the exact mode's coordinates are solved in rationals
when read, so reading every region's exact vertices is timed apart (``exact coords``, up
to ``--coords-max`` regions), and so is the Python engine in exact mode, every vertex
built in integers as it cuts (``python exact``, up to ``--engine-max`` regions), which is
also checked to give the same regions and edges. Then the same count from each anchor:

* affinitree (``pip install affinitree``): the network as an ``Architecture``, distilled by
  ``builder.from_layers`` with the box as precondition (``AffTree.from_poly`` of
  ``Polytope.hyperrectangle``), then ``infeasible_elimination()``; the count is
  ``num_terminals()`` (one leaf per non-empty activation pattern it keeps). No region
  graph.
* relucent (``pip install relucent``, with gurobipy and its size-limited licence): a
  float64 ``torch.nn.Sequential`` with the same weights, ``Complex(model)`` (untimed:
  conversion and its forward-pass check), then ``Complex.bfs(start, cube_radius=1,
  cube_mode="intersect")`` (timed; its defaults: certification on, one worker per core);
  the count is ``len(complex)``. Gives the dual graph.
* an LP baseline of the search over activation patterns (written here): breadth-first
  from the pattern of a random point of the box; every pattern one sign flip away from a
  region found is a candidate, tested once with one Chebyshev-centre LP inside the box
  (``scipy.optimize.linprog(method="highs")``); a candidate with radius > 1e-9 is a region
  and is searched in turn. Adjacent regions differ in one sign when the arrangement is
  generic, so this finds every region of a generic net (not of a degenerate one: see (b)).

Every anchor runs in a subprocess of its own (its own session, killed on timeout) and
only the enumeration call is timed inside it. Each timing is the best of ``--repeat``
runs, fewer when one run takes more than ``--long`` seconds, with the spread (slowest
minus fastest). An anchor that ran past ``--timeout`` on a net is reported as "> T s" and
skipped on the nets with at least as many regions, and so is one whose own rate predicts
more than twice the timeout. Ratios: the fastest anchor's time over exactnet's (above 1:
exactnet is faster) and exactnet exact over exactnet float. Counts that differ are flagged.

Then two degenerate checks: (a) a central arrangement, 8 random planes through the origin
in R^3 (net 3-8-1, zero biases), 2 (C(7,0) + C(7,1) + C(7,2)) = 58 regions on the whole
space and on the box; (b) a net with a duplicated neuron (3-8-8-1 with its first hidden
neuron twice, the outgoing weight split), which has the regions of the net without the
duplicate.

    pip install affinitree relucent
    python benchmarks/bench_space.py [--repeat 3] [--timeout 300] [--nets 3-16-16-1 ...] [--quick]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import deque
from math import comb

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from _timing import Seconds

NETS = ["3-16-16-1", "3-32-32-1", "4-16-16-1", "5-16-16-16-1"]  # by number of regions
ANCHORS = {"affinitree": "affinitree", "relucent": "relucent", "lp": "scipy"}  # name -> module
LABEL = {"affinitree": "affinitree", "relucent": "relucent", "lp": "LP baseline"}
MARK = "@@bench_space "


# ---------------------------------------------------------------- anchors (in a subprocess)
def _arrays(path):
    data = np.load(path)
    k = sum(1 for name in data.files if name.startswith("W"))
    return [np.asarray(data[f"W{i}"], float) for i in range(k)], [np.asarray(data[f"b{i}"], float) for i in range(k)]


def _start_point(Ws, bs, box, seed=0):
    """A random point of the box (or of R^n) on no neuron's hyperplane."""
    rng = np.random.default_rng(seed)
    n = Ws[0].shape[1]
    for _ in range(100):
        x = rng.uniform(-0.9, 0.9, n) if box else rng.normal(size=n)
        h, ok = x, True
        for W, b in zip(Ws[:-1], bs[:-1]):
            z = W @ h + b
            ok &= bool(np.all(np.abs(z) > 1e-9))
            h = np.maximum(z, 0)
        if ok:
            return x
    raise RuntimeError("no generic start point found")


def run_affinitree(Ws, bs, box):
    from affinitree import AffFunc, AffTree, Architecture, Polytope, builder

    n = Ws[0].shape[1]
    t0 = time.perf_counter()
    arch = Architecture(n)
    for i, (W, b) in enumerate(zip(Ws, bs)):
        arch.linear(AffFunc.from_mats(np.ascontiguousarray(W), np.ascontiguousarray(b)))
        if i < len(Ws) - 1:
            arch.relu()
    pre = AffTree.from_poly(Polytope.hyperrectangle(n, [(-1.0, 1.0)] * n), AffFunc.identity(n), None) if box else None
    tree = builder.from_layers(arch, pre, None)
    tree.infeasible_elimination()
    count = tree.num_terminals()
    return count, time.perf_counter() - t0, ""


def run_relucent(Ws, bs, box):
    import relucent
    import torch
    from torch import nn

    mods = []
    for i, (W, b) in enumerate(zip(Ws, bs)):
        lin = nn.Linear(W.shape[1], W.shape[0]).double()
        with torch.no_grad():
            lin.weight.copy_(torch.tensor(W))
            lin.bias.copy_(torch.tensor(b))
        mods.append(lin)
        if i < len(Ws) - 1:
            mods.append(nn.ReLU())
    cplx = relucent.Complex(nn.Sequential(*mods))
    start = _start_point(Ws, bs, box)
    kw = {"cube_radius": 1.0, "cube_mode": "intersect"} if box else {}
    t0 = time.perf_counter()
    res = cplx.bfs(start=start, verbose=0, **kw)
    seconds = time.perf_counter() - t0
    note = "" if (res.complete and res.verified is not False) else f"complete={res.complete} verified={res.verified}"
    return len(cplx), seconds, note


def lp_regions(Ws, bs, box, time_limit=float("inf"), tol=1e-9):
    """Regions by a breadth-first search over activation patterns, one Chebyshev-centre LP
    (scipy/HiGHS) per candidate pattern; candidates are the single sign flips of the
    regions found. Returns (regions, LPs solved)."""
    from scipy.optimize import linprog

    n = Ws[0].shape[1]
    hidden = list(zip(Ws[:-1], bs[:-1]))
    N = sum(W.shape[0] for W, _ in hidden)
    box_A = np.vstack([np.eye(n), -np.eye(n)]) if box else np.zeros((0, n))
    box_b = np.ones(2 * n) if box else np.zeros(0)

    def radius(pat):
        rows, rhs, M, c, off = [box_A], [box_b], np.eye(n), np.zeros(n), 0
        for W, b in hidden:  # the pre-activations Z x + z of the layer under this pattern
            Z, z = W @ M, W @ c + b
            s = pat[off : off + W.shape[0]]
            sg = np.where(s, -1.0, 1.0)  # active: -(Z x + z) <= 0, inactive: Z x + z <= 0
            rows.append(sg[:, None] * Z)
            rhs.append(-sg * z)
            M, c, off = Z * s[:, None], z * s, off + W.shape[0]
        A, rhs = np.vstack(rows), np.concatenate(rhs)
        A_ub = np.hstack([A, np.linalg.norm(A, axis=1)[:, None]])  # a.x + |a| r <= rhs
        cost = np.r_[np.zeros(n), -1.0]
        res = linprog(cost, A_ub=A_ub, b_ub=rhs, bounds=[(None, None)] * n + [(0, None)], method="highs")
        if res.status == 3:  # unbounded radius: an unbounded cell of the whole space
            return np.inf
        return res.x[-1] if res.status == 0 else 0.0

    h, pat = _start_point(Ws, bs, box), []
    for W, b in hidden:
        z = W @ h + b
        pat.append(z > 0)
        h = np.maximum(z, 0)
    start = np.concatenate(pat)
    t0 = time.perf_counter()
    if not radius(start) > tol:
        raise RuntimeError("the start pattern's LP is infeasible")
    seen, queue, count, lps = {start.tobytes()}, deque([start]), 0, 1
    while queue:
        p = queue.popleft()
        count += 1
        for k in range(N):
            q = p.copy()
            q[k] = not q[k]
            key = q.tobytes()
            if key in seen:
                continue
            seen.add(key)
            lps += 1
            if radius(q) > tol:
                queue.append(q)
        if time.perf_counter() - t0 > time_limit:
            raise TimeoutError(f"past {time_limit} s after {count} regions")
    return count, lps


def run_lp(Ws, bs, box, time_limit=float("inf")):
    t0 = time.perf_counter()
    count, lps = lp_regions(Ws, bs, box, time_limit)
    return count, time.perf_counter() - t0, f"{lps} LPs"


def worker(tool, path, domain, time_limit):
    """Child process: one run of one anchor; prints its result after MARK."""
    try:
        Ws, bs = _arrays(path)
        box = domain == "box"
        if tool == "lp":
            count, seconds, note = run_lp(Ws, bs, box, time_limit)
        else:
            count, seconds, note = {"affinitree": run_affinitree, "relucent": run_relucent}[tool](Ws, bs, box)
        out = {"ok": True, "count": int(count), "seconds": seconds, "note": note}
    except BaseException as err:  # reported by the parent, never fatal there
        out = {"ok": False, "error": type(err).__name__, "message": str(err)[:300]}
    sys.stdout.flush()
    print("\n" + MARK + json.dumps(out), flush=True)


class Anchor:
    """One run of an anchor in its own process session, killed (the whole group) past the
    timeout."""

    def __init__(self, tool, timeout):
        self.tool, self.timeout = tool, timeout

    def run(self, path, domain="box", timeout=None):
        timeout = self.timeout if timeout is None else timeout
        cmd = [sys.executable, os.path.abspath(__file__), "--worker", self.tool, path, domain, str(timeout)]
        proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
        )
        try:
            out, _ = proc.communicate(timeout=timeout + 30)  # + start-up (imports) of the child
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # the child and any pool it started
            proc.communicate()
            return {"ok": False, "error": "Timeout", "message": f"> {timeout:.0f} s"}
        for line in reversed(out.splitlines()):
            if line.startswith(MARK):
                res = json.loads(line[len(MARK) :])
                if res.get("error") == "TimeoutError" or (res.get("ok") and res["seconds"] > timeout):
                    return {"ok": False, "error": "Timeout", "message": f"> {timeout:.0f} s"}
                return res
        return {"ok": False, "error": f"exit {proc.returncode}", "message": out.strip()[-300:]}


def save_net(net, path):
    arrays = {}
    for i, layer in enumerate(net.layers):
        arrays[f"W{i}"] = np.asarray(layer.weight, dtype=float)
        arrays[f"b{i}"] = np.asarray(layer.bias, dtype=float)
    np.savez(path, **arrays)


# ---------------------------------------------------------------- timing
def best_of(run_once, repeat, long):
    """Runs ``run_once() -> (seconds, result)`` up to ``repeat`` times, stopping after a run
    longer than ``long`` seconds; (Seconds, last result)."""
    times, out = [], None
    for _ in range(repeat):
        t, out = run_once()
        times.append(t)
        if t > long:
            break
    return Seconds(times), out


def exactnet_once(net, exact):
    import exactnet
    from exactnet import Box

    t0 = time.perf_counter()
    res = exactnet.regions(net, Box(-1, 1), exact=exact)
    edges = len(res.edges)
    return time.perf_counter() - t0, (res, edges)


def python_exact_engine(net):
    """The Python engine in exact mode (integer vertices as it cuts): (seconds, (regions,
    edges))."""
    from exactnet import Box
    from exactnet.regions.space._engine import enumerate_cells
    from exactnet.regions.space.domain import parse_space_domain, start_polytope

    n = net.input_dim
    start = start_polytope(parse_space_domain(Box(-1, 1), n), n)
    t0 = time.perf_counter()
    cells, eng = enumerate_cells(net, start, exact=True, max_regions=None)
    seconds = time.perf_counter() - t0
    return seconds, (len(cells), sum(len(v) for v in eng.adj.values()) // 2)


def fmt_s(t):
    return "-" if t is None else (f"{t:.3f}" if t < 10 else f"{t:.1f}")


def fmt_int(k):
    return "-" if k is None else f"{k:,}"


# ---------------------------------------------------------------- degenerate checks
def duplicated_net(base):
    """``base`` with its first hidden neuron twice (the outgoing weight split in halves):
    the same function and the same regions."""
    from exactnet import Network

    Ws = [np.asarray(layer.weight, float).copy() for layer in base.layers]
    bs = [np.asarray(layer.bias, float).copy() for layer in base.layers]
    Ws[0], bs[0] = np.vstack([Ws[0], Ws[0][:1]]), np.r_[bs[0], bs[0][:1]]
    col = Ws[1][:, :1] / 2
    Ws[1] = np.hstack([Ws[1], col])
    Ws[1][:, :1] = col
    return Network.from_arrays(Ws, bs, name="duplicated neuron")


def degenerate_checks(anchors, tmp, timeout):
    import exactnet
    from exactnet import Box, Network
    from exactnet.builtin import benchmark_net

    print("\nDegenerate checks")
    rng = np.random.default_rng(0)
    k, n = 8, 3
    central = Network.from_arrays([rng.normal(size=(k, n)), rng.normal(size=(1, k))], [np.zeros(k), np.zeros(1)])
    truth = 2 * sum(comb(k - 1, j) for j in range(n))
    path = os.path.join(tmp, "central.npz")
    save_net(central, path)
    rows = []
    for domain, dom in (("space", None), ("box", Box(-1, 1))):
        res = exactnet.regions(central, dom)
        got = {"exactnet": res.num_regions, "exactnet exact": exactnet.regions(central, dom, exact=True).num_regions}
        got["exactnet patterns"] = res.num_patterns
        for name, anchor in anchors.items():
            res = anchor.run(path, domain, timeout)
            got[LABEL[name]] = res["count"] if res["ok"] else f"{res['error']}: {res['message']}"
        rows.append((f"(a) central arrangement, 8 planes in R^3, {domain} (true: {truth})", got))

    base = benchmark_net("3-8-8-1", 0)
    dup = duplicated_net(base)
    for label, net in (("3-8-8-1", base), ("3-8-8-1 + duplicated neuron", dup)):
        path = os.path.join(tmp, "dup.npz")
        save_net(net, path)
        res = exactnet.regions(net, Box(-1, 1))
        got = {"exactnet": res.num_regions, "exactnet exact": exactnet.regions(net, Box(-1, 1), exact=True).num_regions}
        got["exactnet patterns"] = res.num_patterns
        for name, anchor in anchors.items():
            res = anchor.run(path, "box", timeout)
            got[LABEL[name]] = res["count"] if res["ok"] else f"{res['error']}: {res['message']}"
        rows.append((f"(b) {label}, box", got))
    for title, got in rows:
        print(f"  {title}")
        for tool, value in got.items():
            print(f"    {tool:>16}: {value}")
    return rows


# ---------------------------------------------------------------- main
def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--timeout", type=float, default=300.0, help="seconds per anchor run")
    ap.add_argument("--long", type=float, default=20.0, help="stop repeating a timing after a run this long")
    ap.add_argument("--nets", nargs="*", default=NETS)
    ap.add_argument("--anchors", nargs="*", default=list(ANCHORS), choices=list(ANCHORS))
    ap.add_argument("--exact-max", type=int, default=100_000, help="exact mode on nets up to this many regions")
    ap.add_argument("--patterns-max", type=int, default=10_000, help="count non-empty patterns up to this many regions")
    ap.add_argument("--coords-max", type=int, default=10_000, help="read exact vertices up to this many regions")
    ap.add_argument("--engine-max", type=int, default=10_000, help="Python exact engine up to this many regions")
    ap.add_argument("--no-degenerate", action="store_true", help="skip the degenerate checks")
    ap.add_argument("--quick", action="store_true", help="the first net only, one run each")
    ap.add_argument("--worker", nargs=4, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        tool, path, domain, limit = args.worker
        return worker(tool, path, domain, float(limit))
    if args.quick:
        args.nets, args.repeat = args.nets[:1], 1

    import exactnet
    from exactnet import Box
    from exactnet.builtin import benchmark_net
    from exactnet.compiled import warmup

    anchors = {}
    for name in args.anchors:
        if importlib.util.find_spec(ANCHORS[name]) is None:
            print(f"{LABEL[name]} is not installed (pip install {ANCHORS[name]}): skipped")
        else:
            anchors[name] = Anchor(name, args.timeout)
    warmup(report=None)  # compile (or load) every kernel
    exactnet.regions(benchmark_net("3-4-4-1", 0), Box(-1, 1))  # import the n-D engine

    tmp = tempfile.mkdtemp(prefix="bench_space_")
    timed_out = {}  # anchor -> fewest regions it ran out of time on
    rate = {}  # anchor -> its best regions per second so far
    results = []
    print(
        f"{'net':>14} {'regions':>8} {'edges':>8} {'exactnet':>9} {'spread':>7} {'reg/s':>8} {'exact':>8} "
        f"{'ex/fast':>7}  anchors (count, best s, spread, runs)"
    )
    for spec in args.nets:
        net = benchmark_net(spec, 0)
        t_fast, (res, n_edges) = best_of(lambda net=net: exactnet_once(net, False), args.repeat, args.long)
        n = res.num_regions
        row = {"net": spec, "regions": n, "edges": n_edges, "pieces": res.num_pieces, "fast": t_fast}
        row["patterns"] = row["t_patterns"] = None
        if n <= args.patterns_max:  # outside the timing: extra work on the last result
            t0 = time.perf_counter()
            row["patterns"] = res.num_patterns
            row["t_patterns"] = time.perf_counter() - t0
        row["exact"] = None
        if n <= args.exact_max:
            t_ex, (ex, ex_edges) = best_of(lambda net=net: exactnet_once(net, True), args.repeat, args.long)
            row["exact"] = t_ex
            if (ex.num_regions, ex_edges) != (n, n_edges):
                print(f"  !! exact mode: {ex.num_regions} regions, {ex_edges} edges")
            if n <= args.coords_max:  # every vertex of every region, in rationals
                t0 = time.perf_counter()
                n_verts = sum(len(r.vertices) for r in ex.regions)
                row["t_coords"] = (time.perf_counter() - t0, n_verts)
            del ex
        if n <= args.engine_max:
            t_py, py = python_exact_engine(net)
            row["python_exact"] = t_py
            if py != (n, n_edges):
                print(f"  !! the Python exact engine: {py[0]} regions, {py[1]} edges")
        del res
        path = os.path.join(tmp, f"{spec}.npz")
        save_net(net, path)
        row["anchors"] = {}
        for name, anchor in anchors.items():
            if name in timed_out and timed_out[name] <= n:
                row["anchors"][name] = {"skip": f"> {args.timeout:.0f} s (ran out on {timed_out[name]:,} regions)"}
                continue
            if name in rate and n / rate[name] > 2 * args.timeout:
                row["anchors"][name] = {"skip": f"> {args.timeout:.0f} s (its rate predicts {n / rate[name]:.0f} s)"}
                continue
            outs = []

            def once(anchor=anchor, outs=outs, path=path):
                out = anchor.run(path)
                outs.append(out)
                return (out["seconds"] if out["ok"] else float("inf")), out

            t, out = best_of(once, args.repeat, args.long)
            if not out["ok"]:
                if out["error"] == "Timeout":
                    timed_out[name] = min(timed_out.get(name, n), n)
                row["anchors"][name] = {
                    "skip": f"{out['error']}: {out['message']}" if out["error"] != "Timeout" else out["message"]
                }
                continue
            counts = {o["count"] for o in outs if o["ok"]}
            rate[name] = max(rate.get(name, 0.0), out["count"] / t)
            row["anchors"][name] = {"count": out["count"], "t": t, "note": out["note"], "counts": counts}
        timed = {k: v["t"] for k, v in row["anchors"].items() if "t" in v}
        row["fastest"] = min(timed, key=timed.get) if timed else None
        results.append(row)
        cells = []
        for name, a in row["anchors"].items():
            if "t" in a:
                flag = "" if a["count"] == n else "  !! COUNT DIFFERS"
                cells.append(
                    f"{LABEL[name]} {a['count']:,} {fmt_s(a['t'])}s +-{fmt_s(a['t'].spread)} x{a['t'].runs}{flag}"
                )
            else:
                cells.append(f"{LABEL[name]} {a['skip']}")
        ex_ratio = "-" if row["exact"] is None else f"{row['exact'] / t_fast:.2f}x"
        print(
            f"{spec:>14} {n:>8,} {n_edges:>8,} {fmt_s(t_fast):>8}s {fmt_s(t_fast.spread):>6}s {n / t_fast:>8,.0f} "
            f"{fmt_s(row['exact']):>7}s {ex_ratio:>7}  " + "; ".join(cells),
            flush=True,
        )
        if row["patterns"] is not None:
            print(f"{'':>14} non-empty patterns {row['patterns']:,} ({row['t_patterns']:.2f} s, untimed above)")
        if "t_coords" in row:
            t_c, n_v = row["t_coords"]
            print(f"{'':>14} exact vertices of every region: {n_v:,} in {t_c:.2f} s (untimed above)")
        if "python_exact" in row:
            print(f"{'':>14} the Python exact engine: {row['python_exact']:.2f} s, same regions and edges")

    degenerate = [] if args.no_degenerate else degenerate_checks(anchors, tmp, min(args.timeout, 120.0))
    shutil.rmtree(tmp, ignore_errors=True)
    report(results, degenerate, anchors)


def report(results, degenerate, anchors):
    """The figures as markdown tables (benchmarks/README.md)."""
    print(
        "\n| net | regions | edges | patterns | exactnet | spread | regions/s | exact | exact/fast "
        "| exact coords | python exact |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        ex = "-" if r["exact"] is None else f"{fmt_s(r['exact'])} s"
        exr = "-" if r["exact"] is None else f"{r['exact'] / r['fast']:.2f}x"
        coords = f"{r['t_coords'][0]:.2f} s ({r['t_coords'][1]:,} vertices)" if "t_coords" in r else "-"
        py = f"{fmt_s(r['python_exact'])} s" if "python_exact" in r else "-"
        print(
            f"| {r['net']} | {r['regions']:,} | {r['edges']:,} | {fmt_int(r['patterns'])} | {fmt_s(r['fast'])} s "
            f"| {fmt_s(r['fast'].spread)} s | {r['regions'] / r['fast']:,.0f} | {ex} | {exr} | {coords} | {py} |"
        )
    names = list(anchors)
    head = " | ".join(f"{LABEL[a]} | s | regions/s" for a in names)
    if names:
        print(f"\n| net | exactnet | {head} | exactnet vs fastest |")
        print("|---|---:|" + "---:|" * (3 * len(names)) + "---:|")
    for r in results if names else []:
        cells = []
        for a in names:
            v = r["anchors"].get(a, {"skip": "-"})
            if "t" in v:
                flag = "" if v["count"] == r["regions"] else " **(differs)**"
                runs = f" (best of {v['t'].runs}, spread {fmt_s(v['t'].spread)})" if v["t"].runs > 1 else " (1 run)"
                cells.append(f"{v['count']:,}{flag} | {fmt_s(v['t'])}{runs} | {v['count'] / v['t']:,.0f}")
            else:
                cells.append(f"- | {v['skip']} | -")
        f = r["fastest"]
        ratio = "-" if f is None else f"{r['anchors'][f]['t'] / r['fast']:.2f}x ({LABEL[f]})"
        print(f"| {r['net']} | {fmt_s(r['fast'])} | " + " | ".join(cells) + f" | {ratio} |")
    if degenerate:
        tools = list(degenerate[0][1])

        def cell(v):
            return f"{v:,}" if isinstance(v, int) else "raises " + v.split(":")[0] if "Error" in v else v.split(":")[0]

        print("\n| check | " + " | ".join(tools) + " |")
        print("|---|" + "---:|" * len(tools))
        for title, got in degenerate:
            print(f"| {title} | " + " | ".join(cell(got.get(t, "-")) for t in tools) + " |")


if __name__ == "__main__":
    main()
