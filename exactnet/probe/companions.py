"""Companions of N1 for the class separability of a representation: N2 and N3 (nearest
neighbours), the generalized discrimination value GDV, and the accuracy of a linear probe.

Definitions (rows of ``X`` are points, ``y`` their labels):

* :func:`n2`: ratio of intra-class to extra-class nearest-neighbour distance, reported as
  r / (1 + r) (Lorena et al., "How Complex is your Classification Problem? A Survey on
  Measuring Classification Complexity", ACM Computing Surveys 52(5), 2019, arXiv
  1808.03591, measure N2);
* :func:`n3`: leave-one-out error rate of the 1-nearest-neighbour classifier (ibid., N3);
* :func:`gdv`: the generalized discrimination value of Schilling et al., "Quantifying the
  separability of data classes in neural networks", Neural Networks 139, 2021, arXiv
  2010.05458;
* :func:`linear_probe`: held-out accuracy of a logistic regression (Alain & Bengio,
  "Understanding intermediate layers using linear classifier probes", arXiv 1610.01644).

Nearest neighbours, and the mean distances of GDV, are computed in blocks of rows against
all points: never the n x n matrix. Euclidean distances come from the matrix-product form
|a|^2 + |b|^2 - 2 a.b (BLAS), which only *selects* candidates: every point whose
matrix-product distance is within a rigorous rounding bound of the least one is measured
again in difference form, sum_f (a_f - b_f)^2, and that value decides. So an exact
duplicate is at distance 0, and the neighbour is the one a brute-force search over the
difference-form distances finds. Gower distances are summed feature by feature in a
compiled loop (numba), in a fixed order.

Neighbour tie rule (:data:`NEIGHBOUR_TIE_RULE`): among the points at the least distance
(equal float64 values: the squared Euclidean sum in difference form, or the Gower sum),
the one of smallest index; the point itself is excluded, a duplicate of it (another index
at distance 0) is a neighbour like any other.

The metrics: ``"euclidean"`` on the raw features, or ``"gower"``: the mean over all d
features of |x_f - y_f| / range_f, range_f over the whole X; a constant feature adds 0 but
still counts in d (as :func:`~exactnet.probe.separability.n1`, ECoL's ``cluster::daisy``
and pymfe's ``gower`` package).
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike

from .separability import _check

__all__ = ["NEIGHBOUR_TIE_RULE", "Neighbours", "gdv", "linear_probe", "n2", "n3", "nearest_neighbours"]

NEIGHBOUR_TIE_RULE = "nearest neighbour: least float64 distance, then smallest index; the point itself excluded"

_U = 2.0**-53
_BLOCK_ENTRIES = 1 << 22  # entries of one block of distances (32 MiB in float64)


# ----------------------------------------------------------------------------- inputs


def _inputs(X: ArrayLike, y: ArrayLike, measure: str) -> tuple[np.ndarray, np.ndarray]:
    """``separability._check`` (NaN, one class, mismatched lengths), with the measure's
    name in its messages and a message naming X when there are fewer than 2 points."""
    try:
        shape = np.shape(X)
    except ValueError:  # ragged: _check says what is wrong
        shape = ()
    if len(shape) == 2 and shape[0] < 2:
        raise ValueError(f"X must have at least 2 rows (points) for {measure}; got {shape[0]}")
    try:
        return _check(X, y)
    except ValueError as err:
        raise ValueError(str(err).replace("N1", measure)) from None


def _check_metric(metric: str) -> None:
    if metric not in ("euclidean", "gower"):
        raise ValueError(f"metric must be 'euclidean' or 'gower'; got {metric!r}")


def _classes(y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(classes, code of each point, size of each class)."""
    classes, codes, counts = np.unique(y, return_inverse=True, return_counts=True)
    return classes, codes.reshape(-1).astype(np.int64), counts


def _min_class_size(y: np.ndarray, need: int, measure: str, why: str) -> None:
    classes, _, counts = _classes(y)
    small = np.flatnonzero(counts < need)
    if len(small):
        c = small[0]
        raise ValueError(
            f"y: {measure} needs at least {need} points in every class ({why}); "
            f"class {classes[c].item()!r} has {counts[c]}"
        )


# -------------------------------------------------------------- nearest neighbours


def _nearest(X: np.ndarray, y: np.ndarray, metric: str) -> tuple[np.ndarray, ...]:
    """For every point i: (same_idx, same_key, other_idx, other_key), the nearest point of
    its own class other than i and the nearest point of another class (index -1 and key
    inf where there is none), under :data:`NEIGHBOUR_TIE_RULE`. The key is the squared
    Euclidean distance in difference form, or the Gower sum sum_f |x_f - y_f| / range_f
    (not yet divided by d)."""
    if metric == "euclidean":
        return _nearest_euclidean(X, y)
    return _nearest_gower(X, y)


def _key_to_distance(key: np.ndarray, metric: str, d: int) -> np.ndarray:
    return np.sqrt(key) if metric == "euclidean" else key / d


def _difference_form(X: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """sum_f (X[rows, f] - X[cols, f])^2 for each pair, in chunks."""
    out = np.empty(len(rows))
    step = max(1, _BLOCK_ENTRIES // max(X.shape[1], 1))
    for s in range(0, len(rows), step):
        diff = X[rows[s : s + step]] - X[cols[s : s + step]]
        out[s : s + step] = np.einsum("ij,ij->i", diff, diff)
    return out


def _improve(best_key: np.ndarray, best_idx: np.ndarray, target: np.ndarray, idx: np.ndarray, key: np.ndarray) -> None:
    """best[t] = the lexicographic minimum of (key, idx) over best[t] and the candidates
    (target, idx, key) of t, for every target t."""
    if not len(target):
        return
    by = np.lexsort((idx, key, target))
    target, idx, key = target[by], idx[by], key[by]
    first = np.ones(len(target), dtype=bool)
    first[1:] = target[1:] != target[:-1]
    target, idx, key = target[first], idx[first], key[first]
    old_key, old_idx = best_key[target], best_idx[target]
    better = (key < old_key) | ((key == old_key) & (idx < old_idx))
    best_key[target[better]] = key[better]
    best_idx[target[better]] = idx[better]


class _EuclideanSearch:
    """Nearest neighbours by blocks of the matrix-product form, certified against the
    difference form: ``bound[t]`` is an upper bound on the difference-form key of t's best
    candidate so far, and a point is measured in difference form only when its
    matrix-product value allows a key <= ``bound[t]``. Whatever is skipped has a larger
    key than the final best (the bound only decreases, and the point that sets it is
    measured), so the result is the brute-force minimum of (key, index).

    Error bounds (Higham, Accuracy and Stability of Numerical Algorithms, 2nd ed., Sec.
    3.1): the matrix-product value v of centred points a, b (centring, the two norms, the
    dot product, three additions) is within (2d + 16) u (|a|^2 + |b|^2) of the exact
    squared distance, the difference form within (d + 2) u of it, relatively; both are
    doubled here: |key - v| <= ``self.abs_err`` + ``self.rel_err`` * v for v >= 0."""

    def __init__(self, Xs: np.ndarray, order: np.ndarray):
        n, d = Xs.shape
        self.Xs = Xs  # points sorted by class
        self.order = order  # original index of each sorted position
        self.Xc = Xs - Xs.mean(axis=0)  # translation changes no distance, and shrinks the rounding
        self.nrm = np.einsum("ij,ij->i", self.Xc, self.Xc)
        self.abs_err = 2 * (2 * d + 16) * _U * 2 * float(self.nrm.max())
        self.rel_err = 2 * (d + 4) * _U
        self.bound = {part: np.full(n, np.inf) for part in ("same", "other")}
        self.key = {part: np.full(n, np.inf) for part in ("same", "other")}
        self.idx = {part: np.full(n, np.iinfo(np.int64).max, dtype=np.int64) for part in ("same", "other")}

    def update(self, part: str, V: np.ndarray, targets: np.ndarray, sources: np.ndarray, axis: int) -> None:
        """Offer the points ``sources`` to the points ``targets`` (sorted positions) as
        neighbours of kind ``part``: ``V`` holds their matrix-product values (clamped at 0,
        inf for the point itself), a row per target (``axis=1``) or a column per target
        (``axis=0``)."""
        if not V.size:
            return
        bound = self.bound[part]
        least = V.min(axis=axis)
        np.minimum(bound[targets], least * (1 + self.rel_err) + self.abs_err, out=least)
        bound[targets] = least
        thr = np.where(np.isfinite(least), (least + self.abs_err) / (1 - self.rel_err), -np.inf)
        r, k = np.nonzero(V <= (thr[:, None] if axis == 1 else thr[None, :]))
        t, s = (targets[r], sources[k]) if axis == 1 else (targets[k], sources[r])
        keys = _difference_form(self.Xs, t, s)
        _improve(self.key[part], self.idx[part], t, self.order[s], keys)


def _nearest_euclidean(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, ...]:
    n = len(X)
    _, codes, _ = _classes(y)
    order = np.argsort(codes, kind="stable")  # classes contiguous; order[k]: original index
    bounds = np.searchsorted(codes[order], np.arange(codes.max() + 2))
    search = _EuclideanSearch(X[order], order)
    Xc, nrm = search.Xc, search.nrm
    b = int(min(1024, max(16, _BLOCK_ENTRIES // n)))
    # each unordered pair once: a block of rows [start, stop) of class [lo, hi) against the
    # points from start on; the rows take every column, the columns from stop on take the rows
    for c in range(len(bounds) - 1):
        lo, hi = int(bounds[c]), int(bounds[c + 1])
        for start in range(lo, hi, b):
            stop = min(start + b, hi)
            rows = np.arange(start, stop)
            V = Xc[start:stop] @ Xc[start:].T
            V *= -2.0
            V += nrm[start:stop, None]
            V += nrm[None, start:]
            np.maximum(V, 0.0, out=V)
            V[rows - start, rows - start] = np.inf  # the point itself
            cut, end = hi - start, stop - start
            search.update("same", V[:, :cut], rows, np.arange(start, hi), axis=1)
            search.update("other", V[:, cut:], rows, np.arange(hi, n), axis=1)
            search.update("same", V[:, end:cut], np.arange(stop, hi), rows, axis=0)
            search.update("other", V[:, cut:], np.arange(hi, n), rows, axis=0)
    out = []
    for part in ("same", "other"):
        idx = np.full(n, -1, dtype=np.int64)
        key = np.full(n, np.inf)
        found = np.isfinite(search.key[part])
        idx[order[found]] = search.idx[part][found]
        key[order[found]] = search.key[part][found]
        out += [idx, key]
    return tuple(out)


def _gower_tiles(
    Xs: np.ndarray,
    XT: np.ndarray,
    codes: np.ndarray,
    tiles: np.ndarray,
    same_key: np.ndarray,
    same_idx: np.ndarray,
    other_key: np.ndarray,
    other_idx: np.ndarray,
) -> None:  # pragma: no cover - compiled by numba (see _gower_kernel)
    """Gower sums sum_f |Xs[i, f] - Xs[j, f]| (Xs: the non-constant features mapped onto
    [0, 1], XT its transpose), summed over f in order, for the pairs i < j with i in
    the row tiles of 16 starting at ``tiles``; each pair improves the best (least sum, then
    least index) same-class or other-class neighbour of both its ends."""
    n, p = Xs.shape
    ti, tj = 16, 128
    acc = np.empty((ti, tj))
    for t in range(len(tiles)):
        i0 = tiles[t]
        i1 = min(i0 + ti, n)
        for j0 in range(i0, n, tj):
            j1 = min(j0 + tj, n)
            acc[:, :] = 0.0
            for f in range(p):
                xrow = XT[f, j0:j1]
                for ii in range(i1 - i0):
                    xi = Xs[i0 + ii, f]
                    a = acc[ii]
                    for jj in range(j1 - j0):
                        a[jj] += abs(xi - xrow[jj])
            for ii in range(i1 - i0):
                i = i0 + ii
                for jj in range(max(0, i + 1 - j0), j1 - j0):
                    j = j0 + jj
                    s = acc[ii, jj]
                    if codes[j] == codes[i]:
                        if s < same_key[i] or (s == same_key[i] and j < same_idx[i]):
                            same_key[i] = s
                            same_idx[i] = j
                        if s < same_key[j] or (s == same_key[j] and i < same_idx[j]):
                            same_key[j] = s
                            same_idx[j] = i
                    else:
                        if s < other_key[i] or (s == other_key[i] and j < other_idx[i]):
                            other_key[i] = s
                            other_idx[i] = j
                        if s < other_key[j] or (s == other_key[j] and i < other_idx[j]):
                            other_key[j] = s
                            other_idx[j] = i


@functools.cache
def _gower_kernel() -> Callable[..., None]:
    """:func:`_gower_tiles` compiled (numba is imported here, on first use, so that the
    module stays light to import)."""
    import numba

    return numba.njit(cache=True, nogil=True)(_gower_tiles)


def _gower_scaled(X: np.ndarray) -> np.ndarray:
    """The non-constant features mapped onto [0, 1], (x_f - min_f) / range_f (a constant
    feature adds 0; the shift keeps the rounding relative to the range, not to |x_f|)."""
    low = X.min(axis=0)
    rng = X.max(axis=0) - low
    cols = np.flatnonzero(rng > 0)
    return np.ascontiguousarray((X[:, cols] - low[cols]) / rng[cols])


def _threads() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def _nearest_gower(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, ...]:
    n = len(X)
    _, codes, _ = _classes(y)
    Xs = _gower_scaled(X)
    if Xs.shape[1] == 0:
        Xs = np.zeros((n, 1))  # every feature constant: every distance is 0
    XT = np.ascontiguousarray(Xs.T)
    kernel = _gower_kernel()
    tiles = np.arange(0, n, 16, dtype=np.int64)
    workers = max(1, min(_threads(), len(tiles) // 4))
    big = np.iinfo(np.int64).max
    # one set of best neighbours per worker (each pair updates both its ends), merged after
    bests = [(np.full(n, np.inf), np.full(n, big), np.full(n, np.inf), np.full(n, big)) for _ in range(workers)]
    if workers == 1:
        kernel(Xs, XT, codes, tiles, *bests[0])
    else:
        with ThreadPoolExecutor(workers) as pool:
            jobs = [
                pool.submit(kernel, Xs, XT, codes, np.ascontiguousarray(tiles[w::workers]), *bests[w])
                for w in range(workers)
            ]
            for job in jobs:
                job.result()
    out = []
    for part in (0, 2):
        key, idx = bests[0][part].copy(), bests[0][part + 1].copy()
        for more in bests[1:]:
            _improve(key, idx, np.arange(n), more[part + 1], more[part])
        idx[~np.isfinite(key)] = -1
        out += [idx, key]
    return tuple(out)


# ------------------------------------------------------------------------- N2, N3


@dataclass(frozen=True)
class Neighbours:
    """The nearest point of its own class (``same_idx``, -1 when none) and of another
    class (``other_idx``) of every point, with their keys (:func:`nearest_neighbours`):
    what N2 and N3 are computed from, so that both can share one search."""

    metric: str
    n: int
    d: int
    same_idx: np.ndarray
    same_key: np.ndarray
    other_idx: np.ndarray
    other_key: np.ndarray


def nearest_neighbours(
    X: ArrayLike, y: ArrayLike, *, metric: Literal["euclidean", "gower"] = "euclidean"
) -> Neighbours:
    """Every point's nearest neighbour in its own class and in another class (module
    docstring: blocked, certified against the difference form, :data:`NEIGHBOUR_TIE_RULE`).
    Pass the result to :func:`n2` and :func:`n3` as ``neighbours=`` to search once."""
    _check_metric(metric)
    Xa, ya = _inputs(X, y, "nearest_neighbours")
    return Neighbours(metric, Xa.shape[0], Xa.shape[1], *_nearest(Xa, ya, metric))


def _neighbours_for(Xa: np.ndarray, ya: np.ndarray, metric: str, neighbours: Neighbours | None) -> Neighbours:
    if neighbours is None:
        return Neighbours(metric, Xa.shape[0], Xa.shape[1], *_nearest(Xa, ya, metric))
    if (neighbours.metric, neighbours.n, neighbours.d) != (metric, *Xa.shape):
        raise ValueError(
            f"neighbours were searched with metric={neighbours.metric!r} on {neighbours.n} x {neighbours.d} points; "
            f"these are {Xa.shape[0]} x {Xa.shape[1]} with metric={metric!r}: search again with nearest_neighbours"
        )
    return neighbours


def n2(
    X: ArrayLike,
    y: ArrayLike,
    *,
    metric: Literal["euclidean", "gower"] = "euclidean",
    average: Literal["sums", "points"] = "sums",
    neighbours: Neighbours | None = None,
) -> float:
    """N2, the ratio of intra-class to extra-class nearest-neighbour distance (Lorena et
    al. 2019, measure N2):

        r = sum_i d(x_i, NN_same(x_i)) / sum_i d(x_i, NN_other(x_i)),   N2 = r / (1 + r),

    NN_same(x_i) the nearest point of x_i's class other than x_i, NN_other(x_i) the nearest
    point of another class (module docstring: metric, tie rule). N2 = a / (a + b) for the
    two sums a, b: 0 when every point has a copy in its own class, near 0 for compact
    classes far apart, towards 1 when classes overlap. NaN when both sums are 0 (every
    point has identical copies in its own and in another class). Scaling all distances
    (e.g. Gower's divisor d) changes nothing.

    ``average="sums"`` (default) is the paper's ratio of sums (also problexity's, which
    however takes the *second* nearest point of the other class, and binary labels
    only). ``average="points"`` is the mean over points of r_i / (1 + r_i) =
    a_i / (a_i + b_i), a_i and b_i the two nearest-neighbour distances of x_i (NaN where
    both are 0): what ECoL 0.3.0 (R/neighborhood.R, ``c.N2``) and pymfe 0.4.4
    (``MFEComplexity.ft_n2``) compute per point and average by default. pymfe rescales
    every feature to [0, 1] first and, for its default Gower metric, rounds the distances
    to float32; with ``metric="minkowski", p=2`` on min-max-scaled features it equals
    ``average="points"`` with the Euclidean metric.

    Every class needs at least 2 points (as in ECoL). ``neighbours``: the result of
    :func:`nearest_neighbours` on the same X, y and metric (searched here when None).
    """
    _check_metric(metric)
    if average not in ("sums", "points"):
        raise ValueError(f"average must be 'sums' or 'points'; got {average!r}")
    Xa, ya = _inputs(X, y, "N2")
    _min_class_size(ya, 2, "N2", "a point's nearest neighbour in its own class")
    nb = _neighbours_for(Xa, ya, metric, neighbours)
    intra = _key_to_distance(nb.same_key, metric, Xa.shape[1])
    extra = _key_to_distance(nb.other_key, metric, Xa.shape[1])
    if average == "sums":
        a, b = float(intra.sum()), float(extra.sum())
        return a / (a + b) if a + b > 0 else math.nan
    with np.errstate(invalid="ignore"):
        per_point = intra / (intra + extra)  # r_i / (1 + r_i), NaN where both are 0
    return float(per_point.mean())


def n3(
    X: ArrayLike,
    y: ArrayLike,
    *,
    metric: Literal["euclidean", "gower"] = "euclidean",
    neighbours: Neighbours | None = None,
) -> float:
    """N3, the leave-one-out error rate of the 1-nearest-neighbour classifier (Lorena et al.
    2019, measure N3):

        N3 = (1/n) #{i : y(NN(x_i)) != y_i},

    NN(x_i) the nearest point to x_i other than x_i itself, ties broken by the smallest
    index (:data:`NEIGHBOUR_TIE_RULE`; an identical copy of x_i with another index is a
    neighbour at distance 0). In [0, 1]; 0 when every point's nearest neighbour shares its label. A
    class of a single point is allowed (its point is always misclassified).

    pymfe 0.4.4 (``MFEComplexity.ft_n3``: scikit-learn's 1-NN on a precomputed distance
    matrix of min-max-scaled features, Gower by default in float32) leaves ties to
    scikit-learn's partial sort; ECoL 0.3.0 (``c.N3``) takes the second point of a
    stable sort of each distance row, so a point with an identical copy of smaller index
    is classified by itself. Without ties and duplicates all agree (with
    ``metric="minkowski", p=2`` in pymfe, on min-max-scaled features, for the Euclidean
    metric). ``neighbours``: as in :func:`n2`."""
    _check_metric(metric)
    Xa, ya = _inputs(X, y, "N3")
    nb = _neighbours_for(Xa, ya, metric, neighbours)
    same_idx, same_key, other_idx, other_key = nb.same_idx, nb.same_key, nb.other_idx, nb.other_key
    wrong = (other_key < same_key) | ((other_key == same_key) & (other_idx < same_idx) & (other_idx >= 0))
    wrong |= same_idx < 0  # a class of one point
    return float(wrong.mean())


# -------------------------------------------------------------------------- GDV


def _pair_sums(Z: np.ndarray, codes: np.ndarray, L: int) -> np.ndarray:
    """S[l, m] = sum of ||z_i - z_j|| over pairs i < j (in class-sorted order) with i in
    class l and j in class m; blocks of rows against the later points only."""
    n, d = Z.shape
    order = np.argsort(codes, kind="stable")
    Zs = Z[order]
    cs = codes[order]
    bounds = np.searchsorted(cs, np.arange(L + 1))
    nrm = np.einsum("ij,ij->i", Zs, Zs)
    nmax = float(nrm.max())
    # matrix-product values under 2^20 times their error bound (exact duplicates and near
    # ones) are measured again in difference form
    redo = (2.0**20) * 2 * (2 * d + 16) * _U
    S = np.zeros((L, L))
    b = int(min(1024, max(16, _BLOCK_ENTRIES // n)))
    for start in range(0, n, b):
        stop = min(start + b, n)
        G = Zs[start:stop] @ Zs[start:].T
        G *= -2.0
        G += nrm[start:stop, None]
        G += nrm[None, start:]
        r, k = np.nonzero(G <= redo * (nrm[start:stop, None] + nmax))
        G[r, k] = _difference_form(Zs, r + start, k + start)
        np.maximum(G, 0.0, out=G)
        np.sqrt(G, out=G)
        G[np.tril_indices(stop - start, 0, G.shape[1])] = 0.0  # pairs i < j only
        cols = bounds[1:] - start
        first = np.searchsorted(cols, 0, side="right")  # classes ending before this block
        edges = np.clip(bounds[first:-1] - start, 0, None)
        per_col = np.add.reduceat(G, edges, axis=1)  # (rows, classes first..L-1)
        rc = cs[start:stop]
        for c in np.unique(rc):
            S[c, first:] += per_col[rc == c].sum(axis=0)
    return S


def gdv(X: ArrayLike, y: ArrayLike) -> float:
    """The generalized discrimination value (Schilling et al., "Quantifying the
    separability of data classes in neural networks", Neural Networks 139, 2021, arXiv
    2010.05458; first used in Schilling et al. 2018). Each feature is z-scored over all
    points and halved, s_f = (x_f - mu_f) / (2 sigma_f) (sigma_f the population standard
    deviation; constant features are dropped); then, with Euclidean distances d,

        intra_l = 2 / (N_l (N_l - 1)) sum_{i<j in class l} d(s_i, s_j),
        inter_lm = 1 / (N_l N_m) sum_{i in l, j in m} d(s_i, s_j),
        GDV = (1 / sqrt(D)) [ (1/L) sum_l intra_l - (2 / (L (L - 1))) sum_{l<m} inter_lm ],

    L the number of classes and D the number of (non-constant) features. Negative: the
    classes are separated (two equal classes, each collapsed to one point, give -1); near
    0: they are not. Every class needs at least 2 points.

    The reference routine of the authors' group (``cmpGDV``, FAU Erlangen) sets the
    z-score of a constant feature to 0 and divides by the square root of all D features,
    so on data with constant features its value is this one times sqrt(D_used / D_all);
    identical otherwise.
    """
    Xa, ya = _inputs(X, y, "GDV")
    _min_class_size(ya, 2, "GDV", "the mean intra-class distance of a class")
    rng = Xa.max(axis=0) - Xa.min(axis=0)
    cols = np.flatnonzero(rng > 0)
    if not len(cols):
        raise ValueError("X has no non-constant feature: GDV z-scores the features")
    Z = Xa[:, cols]
    Z = (Z - Z.mean(axis=0)) / (2.0 * Z.std(axis=0))
    _, codes, counts = _classes(ya)
    L = len(counts)
    S = _pair_sums(Z, codes, L)
    total = S + S.T  # unordered pairs between l != m; S[l, l] counts each pair once
    intra = np.diag(S) / (counts * (counts - 1) / 2.0)
    iu = np.triu_indices(L, 1)
    inter = total[iu] / (counts[iu[0]] * counts[iu[1]].astype(np.float64))
    return float((intra.mean() - inter.mean()) / math.sqrt(len(cols)))


# ------------------------------------------------------------------ linear probe


def linear_probe(X: ArrayLike, y: ArrayLike, *, test_size: float = 0.3, seed: int = 0) -> float:
    """Held-out accuracy of a linear probe (Alain & Bengio, "Understanding intermediate
    layers using linear classifier probes", 2016): a stratified split
    (``sklearn.model_selection.train_test_split(X, y, test_size=test_size, stratify=y,
    random_state=seed)``), the features standardised with the training split's mean and
    standard deviation, an L2-regularised multinomial logistic regression (scikit-learn's
    ``LogisticRegression``, default C = 1, lbfgs, ``max_iter=10_000``) fitted on the
    training split, and the fraction of the test split it classifies correctly.

    Every class needs at least 2 points, and the test and training splits at least one
    point of each class. Needs scikit-learn (the ``vision`` extra).
    """
    Xa, ya = _inputs(X, y, "the linear probe")
    if not isinstance(test_size, (int, float)) or isinstance(test_size, bool) or not 0.0 < float(test_size) < 1.0:
        raise ValueError(f"test_size must be a fraction in (0, 1); got {test_size!r}")
    _min_class_size(ya, 2, "the linear probe", "a stratified split puts one in each split")
    n, L = len(ya), len(np.unique(ya))
    n_test = math.ceil(float(test_size) * n)
    if n_test < L or n - n_test < L:
        raise ValueError(
            f"test_size={test_size} splits {n} points into {n - n_test} for training and {n_test} for testing; "
            f"each split needs at least one point of each of the {L} classes"
        )
    from ..extras import require

    require("sklearn", "linear_probe")
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    split: list[Any] = train_test_split(Xa, ya, test_size=float(test_size), stratify=ya, random_state=seed)
    X_train, X_test, y_train, y_test = split
    scaler = StandardScaler().fit(X_train)
    model = LogisticRegression(max_iter=10_000).fit(scaler.transform(X_train), y_train)
    return float(model.score(scaler.transform(X_test), y_test))
