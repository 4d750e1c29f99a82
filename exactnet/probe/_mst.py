"""Exact minimum spanning trees of large point sets, without the n x n distance matrix.

The tree is the minimum spanning tree (MST) of the complete graph on the rows of X, with
edge lengths the Euclidean (compared squared) or Gower distances, and ties ordered by the
tie rule of :mod:`exactnet.probe.separability`: edges by (distance, smaller index, larger
index), a strict total order, so the tree is unique and Kruskal's, Prim's and Borůvka's
algorithms all find it.

How (our formulation of a standard scheme; Borůvka 1926, with the nearest-neighbour
candidate lists of e.g. March, Ram & Gray, "Fast Euclidean minimum spanning tree", KDD
2010, replaced by blocked matrix products):

1. Identical rows are merged first: the tree joins every copy to the copy of smallest
   index (zero-length edges, first in the order), and the rest is the tree of the
   distinct rows, each carrying its smallest index (the tie rule picks that copy).
2. Every distinct point gets a *list*: its k nearest points in the tie order, and tau_i,
   a certified bound such that every point not on the list is farther than tau_i. The
   Euclidean candidates come from float32 matrix products of the centred points
   (numpy, or torch on a CUDA device) with a rigorous bound on their error (Higham,
   Accuracy and Stability of Numerical Algorithms, 2nd ed., Sec. 3.1: a p-term dot
   product is within gamma_p |x||y| of the exact one, in any summation order); their
   distances are then recomputed in float64 difference form (relative error ``rel``), and
   every comparison that bound cannot settle is decided in rationals.
3. Borůvka rounds: each component takes its shortest outgoing edge. A point's shortest
   edge out of its component is the first list entry outside it, *certified* when its
   length is at most tau_i. A component's best edge is certified when it is at most
   tau_i for every point whose own edge is not certified; the points that block this
   have their list recomputed against the points outside their component (the smallest
   tau first). A strict total order makes every round's edges part of the one MST.

Memory is O(n (p + k)) plus one block of the Gram matrix; time is one pass of n^2 p
multiply-adds for the lists plus the recomputed rows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from . import _mst_kernels as kern

__all__ = ["DistinctTree", "Metric", "SpanningTree", "distinct_tree", "edge_less", "minimum_spanning_tree"]

_U = 2.0**-53
_U32 = 2.0**-24
_FLUSH = 2.0**-124  # a float32 below 2^-126 may be flushed to zero (GPUs)
_BLOCK_BYTES = 64 * 2**20  # one block of the float32 Gram matrix on the CPU
_DEVICE_BLOCK_BYTES = 1024 * 2**20  # one float64 block on a CUDA device


class Metric:
    """Distances between the rows of X in float64 with a bound on their error, and exactly
    (Fractions) for the comparisons the bound cannot settle.

    ``"euclidean"``: squared Euclidean distance (the same order as the distance).
    ``"gower"``: the mean over the d features of |x_f - y_f| / range_f (ECoL's and
    pymfe's convention; a constant feature adds 0 and still counts in d).
    A computed distance w of exact value D satisfies |w - D| <= rel * D + tiny (for
    Gower, the features are first mapped onto [0, 1/d], which costs an absolute error of a
    few units in the last place of 1). With
    integer features small enough that every squared Euclidean distance is an exact
    float64 (``exact_floats``), rel = tiny = 0."""

    def __init__(self, X: np.ndarray, metric: str):
        if metric not in ("euclidean", "gower"):
            raise ValueError(f"metric must be 'euclidean' or 'gower'; got {metric!r}")
        self.X = X
        self.metric = metric
        self.gower = metric == "gower"
        n, p = X.shape
        self.p = p
        if self.gower:
            low = X.min(axis=0) if n else np.zeros(p)
            spread = X.max(axis=0) - low if n else np.zeros(p)
            self.cols = np.flatnonzero(spread > 0)
            self.exact_range = [Fraction(float(X[:, f].max())) - Fraction(float(X[:, f].min())) for f in self.cols]
            # each feature mapped onto [0, 1/d]: the Gower distance is then the L1 distance
            factor = (1.0 / spread[self.cols]) / p
            self.points = np.ascontiguousarray((X[:, self.cols] - low[self.cols]) * factor)
            k = len(self.cols)
            # the sum's rounding (any order) relative to it, and an absolute error from
            # rounding each coordinate (the subtraction, the two factors, the product: at
            # most 4.1 u of a coordinate <= 1/d, twice per term, plus the difference)
            self.rel = (k + 2) * _U / (1 - (k + 2) * _U) * 1.01
            self.tiny = 10 * _U * k / p + (k + 4) * 2.0**-1022
        else:
            self.points = np.ascontiguousarray(X)
            k = p + 3
            # the differences, products and the sum (any order)
            self.rel = (k + 4) * _U / (1 - (k + 4) * _U) * (1 + 1e-12)
            self.tiny = (k + 4) * 2.0**-1022  # underflow: each term below the normal range
        spread_all = float(np.max(X.max(axis=0) - X.min(axis=0))) if n else 0.0
        self.exact_floats = not self.gower and bool(np.all(X == np.round(X))) and p * spread_all**2 <= 2.0**53 and n > 0
        if self.exact_floats:
            self.rel = self.tiny = 0.0
        self._exact_cache: dict[tuple[int, int], Fraction] = {}
        self.exact_comparisons = 0

    def distance(self, i: int, j: int) -> float:
        """The float64 distance of rows i and j, as the kernels compute it."""
        a, b = self.points[i], self.points[j]
        if self.gower:
            return float(np.abs(a - b).sum())
        diff = a - b
        return float(diff @ diff)

    def exact(self, i: int, j: int) -> Fraction:
        """The exact distance (squared for Euclidean) of rows i and j."""
        key = (i, j) if i < j else (j, i)
        got = self._exact_cache.get(key)
        if got is None:
            a, b = self.X[key[0]], self.X[key[1]]
            if self.gower:
                terms = (
                    abs(Fraction(float(a[f])) - Fraction(float(b[f]))) / r for f, r in zip(self.cols, self.exact_range)
                )
                got = sum(terms, Fraction(0)) / self.p
            else:
                got = sum(((Fraction(float(u)) - Fraction(float(v))) ** 2 for u, v in zip(a, b)), Fraction(0))
            self._exact_cache[key] = got
        return got

    def close(self, wa: float, wb: float) -> bool:
        """Whether float distances wa and wb are too close for their bounds to order."""
        return abs(wa - wb) <= self.rel * (abs(wa) + abs(wb)) + 2 * self.tiny


def edge_less(metric: Metric, wa: float, ea: tuple[int, int], wb: float, eb: tuple[int, int]) -> bool:
    """Whether edge ea (float length wa) comes before edge eb (float length wb) in the tie
    rule's order (distance, smaller index, larger index), decided exactly."""
    if metric.exact_floats or not metric.close(wa, wb):
        if wa != wb:
            return wa < wb
    else:
        metric.exact_comparisons += 1
        xa, xb = metric.exact(*ea), metric.exact(*eb)
        if xa != xb:
            return xa < xb
    return (min(ea), max(ea)) < (min(eb), max(eb))


@dataclass(frozen=True)
class SpanningTree:
    """The exact minimum spanning tree: ``edges`` (n - 1, 2) index pairs i < j sorted,
    ``weight``, the sum of their float64 lengths (Euclidean distance, not squared, or
    Gower), and ``lengths``, each edge's float64 squared Euclidean or Gower distance (within
    ``rel`` of the exact value, :class:`Metric`). ``stats``: how it was found (distinct
    points, rounds, list length k, rows whose list was recomputed, rows that needed the
    float64 pass, exact comparisons, device)."""

    edges: np.ndarray
    weight: float
    lengths: np.ndarray  # per edge, the float64 value compared: squared Euclidean or Gower distance
    stats: dict[str, Any] = field(default_factory=dict)


def _distinct(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(rep, group): the distinct rows in order of first occurrence, as the index of
    their first copy, and the distinct row of every row."""
    _, first, inverse = np.unique(X, axis=0, return_index=True, return_inverse=True)
    order = np.argsort(first)
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    return first[order], rank[inverse.reshape(-1)]


class _Lists:
    """Every point's list (module docstring, step 2): ``nbr``/``w`` padded rows of
    ``length`` entries by (distance, index), ``tau``, and ``ptr``, the first entry not
    known to lie in the point's own component."""

    def __init__(self, m: int, cap: int):
        self.nbr = np.full((m, cap), -1, dtype=np.int64)
        self.w = np.zeros((m, cap))
        self.length = np.zeros(m, dtype=np.int64)
        self.tau = np.zeros(m)
        self.ptr = np.zeros(m, dtype=np.int64)
        # the list was computed against the points outside the point's component as it
        # is now: its first entry is the point's shortest edge out of it
        self.fresh = np.zeros(m, dtype=np.bool_)

    @property
    def cap(self) -> int:
        return self.nbr.shape[1]

    def grow(self, cap: int) -> None:
        m, old = self.nbr.shape
        nbr = np.full((m, cap), -1, dtype=np.int64)
        w = np.zeros((m, cap))
        nbr[:, :old], w[:, :old] = self.nbr, self.w
        self.nbr, self.w = nbr, w

    def store(self, rows: np.ndarray, nbr: np.ndarray, w: np.ndarray, length: np.ndarray, tau: np.ndarray) -> None:
        width = min(nbr.shape[1], self.cap)
        self.nbr[rows, :width] = nbr[:, :width]
        self.w[rows, :width] = w[:, :width]
        self.length[rows] = length
        self.tau[rows] = tau
        self.ptr[rows] = 0
        self.fresh[rows] = True


class _Candidates:
    """The float32 Gram filter of the Euclidean candidates, on the CPU (numpy) or on a
    CUDA device (torch): see :func:`~exactnet.probe._mst_kernels.gram_candidates` for the
    bounds."""

    def __init__(self, points: np.ndarray, device: Any = None):
        m, p = points.shape
        centred = points - points.mean(axis=0)
        top = float(np.abs(centred).max()) if centred.size else 0.0
        self.s = 2.0 ** -math.frexp(top)[1] if top > 0 else 1.0  # a power of two: exact
        Z = (centred * self.s).astype(np.float32)
        Z64 = Z.astype(np.float64)
        self.sq = np.einsum("ij,ij->i", Z64, Z64)
        self.nrm = np.sqrt(self.sq)
        g32 = p * _U32 / (1 - p * _U32)
        g64 = (p + 2) * _U / (1 - (p + 2) * _U)
        self.c_err = 2 * (g32 / 2 + g64 + 6 * _U)
        self.e_abs = 8 * p * _FLUSH
        self.eta = 2 * (_U32 + 2 * _U) / (1 - _U32 - 2 * _U)
        self.d_abs = 2 * math.sqrt(p) * _FLUSH
        self.inv_s2 = 1.0 / (self.s * self.s)
        self.Z = Z
        self.device = device
        if device is not None:
            import torch

            self.torch = torch
            self.Zd = torch.from_numpy(Z).to(device)
            self.sqd = torch.from_numpy(self.sq).to(device)
            self.nrmd = torch.from_numpy(self.nrm).to(device)
            self.block = max(64, min(8192, _DEVICE_BLOCK_BYTES // (8 * max(m, 1))))
        else:
            self.block = max(64, min(4096, _BLOCK_BYTES // (4 * max(m, 1))))

    def find(self, rows: np.ndarray, comp: np.ndarray, k: int, cap: int) -> tuple[np.ndarray, ...]:
        """(idx, hi2, cnt) of the rows (module docstring of the kernels)."""
        if self.device is not None:
            return self._find_torch(rows, comp, k, cap)
        G = self.Z[rows] @ self.Z.T
        idx = np.empty((len(rows), cap), dtype=np.int64)
        hi2 = np.empty((len(rows), cap))
        cnt = np.empty(len(rows), dtype=np.int64)
        bounds = (self.c_err, self.e_abs, self.eta, self.d_abs, self.inv_s2)
        kern.gram_candidates(G, rows, self.sq, self.nrm, comp, k, *bounds, idx, hi2, cnt)
        return idx, hi2, cnt

    def _find_torch(self, rows: np.ndarray, comp: np.ndarray, k: int, cap: int) -> tuple[np.ndarray, ...]:
        torch = self.torch
        dev = self.device
        b, m = len(rows), len(self.sq)
        r = torch.from_numpy(rows).to(dev)
        compd = torch.from_numpy(comp).to(dev)
        from ._device import full_float32

        with full_float32():  # a float32 product must stay float32
            G = (self.Zd[r] @ self.Zd.T).double()
        s = self.sqd[r][:, None] + self.sqd[None, :] - 2.0 * G
        del G
        S = self.nrmd[r][:, None] + self.nrmd[None, :]
        err = self.c_err * S * S + self.e_abs
        hi = torch.sqrt(torch.clamp(s + err, min=0.0)) + self.eta * S + self.d_abs
        lo = torch.sqrt(torch.clamp(s - err, min=0.0)) - self.eta * S - self.d_abs
        del s, S, err
        outside = compd[None, :] != compd[r][:, None]
        hi = torch.where(outside, hi, torch.inf)
        allowed = outside.sum(dim=1)
        kk = min(k, m)
        hik = torch.topk(hi, kk, dim=1, largest=False).values[:, -1]
        hik = torch.where(allowed >= k, hik, torch.inf)
        mask = (lo <= hik[:, None] * (1 + 1e-9)) & outside
        rr, jj = torch.nonzero(mask, as_tuple=True)
        hi2 = (hi[rr, jj] ** 2 * self.inv_s2 * (1 + 1e-12)).cpu().numpy()
        rr_np, jj_np = rr.cpu().numpy(), jj.cpu().numpy()
        cnt = np.bincount(rr_np, minlength=b).astype(np.int64)
        start = np.concatenate(([0], np.cumsum(cnt)[:-1]))
        pos = np.arange(len(rr_np)) - start[rr_np]
        keep = pos < cap
        idx = np.full((b, cap), -1, dtype=np.int64)
        out_hi2 = np.zeros((b, cap))
        idx[rr_np[keep], pos[keep]] = jj_np[keep]
        out_hi2[rr_np[keep], pos[keep]] = hi2[keep]
        return idx, out_hi2, cnt


class _Boruvka:
    def __init__(self, metric: Metric, k: int, device: Any, progress: bool):
        self.met = metric
        m = len(metric.points)
        self.m = m
        self.k = max(1, min(k, m - 1))
        self.cand_cap = 4 * self.k + 16
        self.lists = _Lists(m, self.cand_cap)
        self.comp = np.arange(m, dtype=np.int64)
        self.filter = None if metric.gower else _Candidates(metric.points, device)
        self.progress = progress
        self.stats: dict[str, Any] = {"recomputed_rows": 0, "float64_rows": 0, "rounds": 0}

    # ---- lists -----------------------------------------------------------------
    def fill(self, rows: np.ndarray, bar: Any = None) -> None:
        """(Re)compute the lists of ``rows`` against the points outside their components."""
        step = self.filter.block if self.filter is not None else max(64, min(4096, 2**22 // max(self.m, 1)))
        for lo in range(0, len(rows), step):
            block = np.ascontiguousarray(rows[lo : lo + step])
            if self.filter is None:
                self._direct(block)
            else:
                self._via_gram(block)
            if bar is not None:
                bar.update(len(block))

    def _via_gram(self, block: np.ndarray) -> None:
        met, L = self.met, self.lists
        assert self.filter is not None  # Euclidean
        idx, hi2, cnt = self.filter.find(block, self.comp, self.k, self.cand_cap)
        fits = cnt <= self.cand_cap
        if not fits.all():
            self.stats["float64_rows"] += int((~fits).sum())
            self._direct(block[~fits])
        rows = block[fits]
        if not len(rows):
            return
        nbr = np.full((len(rows), self.cand_cap), -1, dtype=np.int64)
        w = np.zeros((len(rows), self.cand_cap))
        length = np.empty(len(rows), dtype=np.int64)
        tau = np.empty(len(rows))
        kern.refine_lists(
            met.points, met.gower, rows, idx[fits], cnt[fits], hi2[fits], self.k, met.rel, met.tiny,
            nbr, w, length, tau,
        )  # fmt: skip
        if self.cand_cap > L.cap:
            L.grow(self.cand_cap)
        L.store(rows, nbr, w, length, tau)

    def _direct(self, rows: np.ndarray) -> None:
        met, L = self.met, self.lists
        cap = L.cap
        while len(rows):
            nbr = np.full((len(rows), cap), -1, dtype=np.int64)
            w = np.zeros((len(rows), cap))
            length = np.empty(len(rows), dtype=np.int64)
            tau = np.empty(len(rows))
            kern.direct_lists(met.points, met.gower, rows, self.comp, self.k, met.rel, met.tiny, nbr, w, length, tau)
            fits = length <= cap
            if cap > L.cap:
                L.grow(cap)
            L.store(rows[fits], nbr[fits], w[fits], length[fits], tau[fits])
            if not fits.all():  # ties past the capacity: a longer list
                cap = int(length[~fits].max())
            rows = rows[~fits]

    # ---- rounds ------------------------------------------------------------------
    def _outgoing(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every point's shortest listed edge out of its component: (a, w, certified)."""
        met, L, comp = self.met, self.lists, self.comp
        m = self.m
        a = np.empty(m, dtype=np.int64)
        w = np.empty(m)
        close = np.empty(m, dtype=np.bool_)
        kern.first_outside(L.nbr, L.w, L.length, L.ptr, comp, met.rel, met.tiny, a, w, close)
        for i in np.flatnonzero(close).tolist():  # float64 cannot order them: exactly
            best, wb, w0 = int(a[i]), float(w[i]), float(w[i])
            for t in range(int(L.ptr[i]) + 1, int(L.length[i])):
                wt = float(L.w[i, t])
                if wt > w0 and not met.close(wt, w0):
                    break
                j = int(L.nbr[i, t])
                if comp[j] != comp[i]:
                    if edge_less(met, wt, (i, j), wb, (i, best)):
                        best, wb = j, wt
            a[i], w[i] = best, wb
        certified = (a >= 0) & (L.fresh | (w * (1 + met.rel) + met.tiny <= L.tau))
        return a, w, certified

    def _component_best(self, a: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(point, w) of each component's best listed edge (point -1: none)."""
        met, comp, m = self.met, self.comp, self.m
        pts = np.flatnonzero(a >= 0)
        best_pt = np.full(m, -1, dtype=np.int64)
        best_w = np.full(m, np.inf)
        if not len(pts):
            return best_pt, best_w
        ci = comp[pts]
        lo_end, hi_end = np.minimum(pts, a[pts]), np.maximum(pts, a[pts])
        order = np.lexsort((hi_end, lo_end, w[pts], ci))
        sorted_c = ci[order]
        first = np.r_[True, sorted_c[1:] != sorted_c[:-1]]
        best_pt[sorted_c[first]] = pts[order[first]]
        best_w[sorted_c[first]] = w[pts[order[first]]]
        if not met.exact_floats:
            wb = best_w[ci]
            near = (pts != best_pt[ci]) & (np.abs(w[pts] - wb) <= met.rel * (w[pts] + wb) + 2 * met.tiny)
            for c in np.unique(ci[near]).tolist():  # too close for float64: exactly
                members = pts[(ci == c) & (np.abs(w[pts] - best_w[c]) <= met.rel * (w[pts] + best_w[c]) + 2 * met.tiny)]
                b = int(best_pt[c])
                for q in members.tolist():
                    if q != b and edge_less(met, float(w[q]), (q, int(a[q])), float(w[b]), (b, int(a[b]))):
                        b = q
                best_pt[c], best_w[c] = b, w[b]
        return best_pt, best_w

    def run(self) -> tuple[list[tuple[int, int]], list[float]]:
        from tqdm.auto import tqdm

        met, L = self.met, self.lists
        edges: list[tuple[int, int]] = []
        lengths: list[float] = []
        if self.m <= 1:
            return edges, lengths
        with tqdm(total=self.m, desc="nearest neighbours", unit="pt", disable=not self.progress, leave=False) as bar:
            self.fill(np.arange(self.m, dtype=np.int64), bar)
        ncomp = self.m
        with tqdm(total=self.m - 1, desc="spanning tree", unit="edge", disable=not self.progress, leave=False) as bar:
            while ncomp > 1:
                self.stats["rounds"] += 1
                quota = np.full(self.m, 8, dtype=np.int64)
                while True:
                    a, w, certified = self._outgoing()
                    best_pt, best_w = self._component_best(a, w)
                    hi_best = best_w * (1 + met.rel) + met.tiny
                    need = np.flatnonzero(~certified & (L.tau < hi_best[self.comp]))
                    if not len(need):
                        break
                    cn = self.comp[need]
                    order = np.lexsort((L.tau[need], cn))
                    need, cn = need[order], cn[order]
                    start = np.r_[0, np.flatnonzero(cn[1:] != cn[:-1]) + 1]
                    rank = np.arange(len(need)) - np.repeat(start, np.diff(np.r_[start, len(need)]))
                    chosen = need[rank < quota[cn]]
                    quota[np.unique(cn)] *= 2
                    self.stats["recomputed_rows"] += len(chosen)
                    self.fill(chosen)
                comps = np.flatnonzero(best_pt >= 0)
                u = best_pt[comps]
                v = a[u]
                pairs = np.unique(np.stack([np.minimum(u, v), np.maximum(u, v)], axis=1), axis=0)
                # the same edge chosen from both sides counts once
                wsel = {}
                for c in comps.tolist():
                    p_ = int(best_pt[c])
                    q_ = int(a[p_])
                    wsel[(min(p_, q_), max(p_, q_))] = float(best_w[c])
                for i, j in pairs.tolist():
                    edges.append((i, j))
                    lengths.append(wsel[(i, j)])
                graph = coo_matrix(
                    (np.ones(len(pairs)), (self.comp[pairs[:, 0]], self.comp[pairs[:, 1]])), shape=(self.m, self.m)
                )
                _, labels = connected_components(graph, directed=False)
                self.comp = labels[self.comp].astype(np.int64)
                ncomp = len(np.unique(self.comp))
                L.fresh[:] = False
                bar.update(len(pairs))
        return edges, lengths


@dataclass(frozen=True)
class DistinctTree:
    """The MST of the distinct rows of X (``rep[i]``: the first copy of distinct row i,
    ``group[r]``: the distinct row of row r): ``edges`` (m - 1, 2) between distinct rows,
    their float ``lengths``, and the :class:`Metric` of the distinct rows."""

    rep: np.ndarray
    group: np.ndarray
    metric: Metric
    edges: np.ndarray
    lengths: np.ndarray
    stats: dict[str, Any]


def distinct_tree(
    X: np.ndarray, metric: str = "euclidean", *, k: int = 16, device: Any = None, progress: bool = False
) -> DistinctTree:
    """The MST of the distinct rows of X (see :func:`minimum_spanning_tree`)."""
    if device is not None and metric == "gower":
        raise ValueError("metric='gower' runs on the CPU; pass device=None (the device serves Euclidean distances)")
    rep, group = _distinct(X)
    points = X[rep]
    if metric == "euclidean" and len(points) > 1:
        spread = float(np.max(points.max(axis=0) - points.min(axis=0)))
        if spread > 1e150 or spread < 1e-150:
            raise ValueError(
                f"X spans {spread:.3g} along its widest feature: squared Euclidean distances would leave float64's "
                "range; rescale X (N1 does not change when X is multiplied by a constant)"
            )
    met = Metric(np.ascontiguousarray(points), metric)
    engine = _Boruvka(met, k, device, progress)
    tree, lengths = engine.run()
    stats = dict(engine.stats, distinct=len(points), k=engine.k, exact_comparisons=met.exact_comparisons)
    stats["device"] = str(device) if device is not None else "cpu"
    edges = np.array(tree, dtype=np.int64).reshape(-1, 2)
    return DistinctTree(rep, group, met, edges, np.asarray(lengths, dtype=np.float64), stats)


def minimum_spanning_tree(
    X: np.ndarray, metric: str = "euclidean", *, k: int = 16, device: Any = None, progress: bool = False
) -> SpanningTree:
    """The exact MST of the rows of X (float64, finite, shape (n, p)) under the tie rule
    (module docstring). ``k``: the list length (a speed knob; the tree does not depend on
    it). ``device``: a CUDA torch device for the Euclidean matrix products (``None``: the
    CPU); the Gower metric runs on the CPU."""
    n = len(X)
    if n <= 1:
        return SpanningTree(np.zeros((0, 2), dtype=np.int64), 0.0, np.zeros(0), {"distinct": n})
    return expand(distinct_tree(X, metric, k=k, device=device, progress=progress))


def expand(dt: DistinctTree) -> SpanningTree:
    """The MST of all rows from that of the distinct rows: each copy joined to its first."""
    rep, group = dt.rep, dt.group
    star = [(int(rep[g]), i) for i, g in enumerate(group.tolist()) if i != rep[g]]
    ends = rep[dt.edges]
    edges = np.concatenate([np.sort(ends, axis=1), np.array(star, dtype=np.int64).reshape(-1, 2)])
    values = np.concatenate([dt.lengths, np.zeros(len(star))])
    order = np.lexsort((edges[:, 1], edges[:, 0]))
    weight = float(np.sum(values)) if dt.metric.gower else float(np.sum(np.sqrt(values)))
    return SpanningTree(edges[order], weight, values[order], dt.stats)
