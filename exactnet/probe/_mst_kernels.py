"""Compiled kernels (numba) of the exact minimum spanning tree (:mod:`exactnet.probe._mst`).

Three steps of the blocked nearest-neighbour search and one of Borůvka's rounds:

* :func:`gram_candidates`: from a block of the float32 Gram matrix of the centred, scaled
  points, every point j (outside row i's component) whose certified lower bound on the
  distance d(i, j) is at most the k-th smallest certified upper bound: a superset of the
  k nearest;
* :func:`refine_lists`: the distances of those candidates again, in float64 difference
  form (relative error at most ``rel``), the threshold tau_i (the k-th smallest upper
  bound) and the *list* of row i: the candidates whose lower bound is at most tau_i, by
  (distance, index). Every point left out is farther than tau_i;
* :func:`direct_lists`: the same list straight from the float64 distances to every point
  (the Gower metric, and rows whose candidates overflow the float32 filter);
* :func:`first_outside`: for every point, the first entry of its list outside its
  component, and whether a later one is too close to be ordered in float64.

Distances are squared Euclidean or Gower (mean range-scaled L1), as in ``_mst.Metric``.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

__all__ = ["direct_lists", "first_outside", "gram_candidates", "refine_lists"]


# the error bounds hold for any summation order, so the sums may be reassociated
# (vectorised) and contracted (fused multiply-adds)
_FAST = {"reassoc", "contract"}


@njit(cache=True, nogil=True, inline="always", fastmath=_FAST)
def _l1(X, i, j):
    s = 0.0
    for f in range(X.shape[1]):
        s += abs(X[i, f] - X[j, f])
    return s


@njit(cache=True, nogil=True, inline="always", fastmath=_FAST)
def _squared(X, i, j):
    s = 0.0
    for f in range(X.shape[1]):
        d = X[i, f] - X[j, f]
        s += d * d
    return s


@njit(cache=True, nogil=True, inline="always")
def _distance(X, gower, i, j):
    if gower:
        return _l1(X, i, j)
    return _squared(X, i, j)


@njit(cache=True, nogil=True, inline="always")
def _argmax(buf):
    where = 0
    for q in range(1, len(buf)):
        if buf[q] > buf[where]:
            where = q
    return where


@njit(cache=True, nogil=True, inline="always")
def _kth_smallest(values, count, k):
    """The k-th smallest of values[:count] (count >= k >= 1): the largest of a buffer of
    the k smallest seen so far."""
    buf = values[:k].copy()
    where = _argmax(buf)
    for t in range(k, count):
        if values[t] < buf[where]:
            buf[where] = values[t]
            where = _argmax(buf)
    return buf[where]


@njit(cache=True, nogil=True, parallel=True)
def gram_candidates(G, rows, sq, nrm, comp, k, c_err, e_abs, eta, d_abs, inv_s2, out_idx, out_hi2, out_cnt):
    """Candidates of each row of the block (see the module docstring).

    With Z the float32 points, G[r, j] = Z[rows[r]] . Z[j] as float32 computed, sq and
    nrm the float64 squared norms and norms of Z: s = sq_i + sq_j - 2 G[r, j] is within
    c_err (N_i + N_j)^2 + e_abs of |Z_i - Z_j|^2, and the scaled distance of the exact
    points within eta (N_i + N_j) + d_abs of |Z_i - Z_j|. The candidates: lower bound at
    most (1 + 1e-9) times the k-th smallest upper bound. ``out_hi2`` gets the upper
    bounds on the squared distances in the points' own units (times ``inv_s2``)."""
    b, m = G.shape
    cap = out_idx.shape[1]
    for r in prange(b):
        i = rows[r]
        ci = comp[i]
        his = np.empty(m)
        los = np.empty(m)
        js = np.empty(m, dtype=np.int64)
        count = 0
        for j in range(m):
            if comp[j] == ci:
                continue
            S = nrm[i] + nrm[j]
            s = sq[i] + sq[j] - 2.0 * np.float64(G[r, j])
            err = c_err * S * S + e_abs
            his[count] = math.sqrt(max(s + err, 0.0)) + eta * S + d_abs
            los[count] = math.sqrt(max(s - err, 0.0)) - eta * S - d_abs
            js[count] = j
            count += 1
        # the threshold a little above the k-th upper bound, so that a point left out is
        # farther than the list's tau (which carries the 1e-12 of out_hi2)
        hik = _kth_smallest(his, count, k) * (1.0 + 1e-9) if count >= k else np.inf
        c = 0
        for t in range(count):
            if los[t] <= hik:
                if c < cap:
                    out_idx[r, c] = js[t]
                    out_hi2[r, c] = his[t] * his[t] * inv_s2 * (1.0 + 1e-12)
                c += 1
        out_cnt[r] = c


@njit(cache=True, nogil=True, inline="always")
def _write_list(w, cand, count, upper, k, rel, tiny, out_nbr, out_w, r):
    """tau = k-th smallest upper bound; the list: candidates with lower bound <= tau, by
    (distance, index) (``cand`` is in increasing index order). Returns (length, tau);
    a length past the capacity means the row must be redone with a larger one."""
    tau = _kth_smallest(upper, count, k) if count >= k else np.inf
    keep = np.empty(count, dtype=np.int64)
    kept = 0
    for t in range(count):
        if w[t] * (1.0 - rel) - tiny <= tau:
            keep[kept] = t
            kept += 1
    if kept > out_nbr.shape[1]:
        return kept, tau
    order = np.argsort(w[keep[:kept]], kind="mergesort")
    for q in range(kept):
        t = keep[order[q]]
        out_nbr[r, q] = cand[t]
        out_w[r, q] = w[t]
    return kept, tau


@njit(cache=True, nogil=True, parallel=True, fastmath=_FAST)
def refine_lists(X, gower, rows, cand, cnt, hi2, k, rel, tiny, out_nbr, out_w, out_len, out_tau):
    """Each row's list from its candidates (module docstring); ``cnt[r]`` must not exceed
    the candidates' capacity."""
    b = len(rows)
    for r in prange(b):
        i = rows[r]
        count = cnt[r]
        w = np.empty(count)
        upper = np.empty(count)
        for t in range(count):
            d = _distance(X, gower, i, cand[r, t])
            w[t] = d
            upper[t] = min(hi2[r, t], d * (1.0 + rel) + tiny)
        out_len[r], out_tau[r] = _write_list(w, cand[r, :count], count, upper, k, rel, tiny, out_nbr, out_w, r)


@njit(cache=True, nogil=True, parallel=True, fastmath=_FAST)
def direct_lists(X, gower, rows, comp, k, rel, tiny, out_nbr, out_w, out_len, out_tau):
    """Each row's list from its float64 distances to every point outside its component.
    Rows go in tiles of 16 against each point in turn, so that a point is read once per
    tile (the sweep is bound by memory otherwise)."""
    b = len(rows)
    m = X.shape[0]
    tile = 16
    for t in prange((b + tile - 1) // tile):
        r0 = t * tile
        r1 = min(b, r0 + tile)
        W = np.empty((r1 - r0, m))
        for j in range(m):
            cj = comp[j]
            for r in range(r0, r1):
                i = rows[r]
                W[r - r0, j] = -1.0 if comp[i] == cj else _distance(X, gower, i, j)
        cand = np.empty(m, dtype=np.int64)
        w = np.empty(m)
        upper = np.empty(m)
        for r in range(r0, r1):
            count = 0
            for j in range(m):
                d = W[r - r0, j]
                if d >= 0.0:
                    cand[count] = j
                    w[count] = d
                    upper[count] = d * (1.0 + rel) + tiny
                    count += 1
            out_len[r], out_tau[r] = _write_list(w, cand, count, upper, k, rel, tiny, out_nbr, out_w, r)


@njit(cache=True, nogil=True, parallel=True)
def first_outside(nbr, w, length, ptr, comp, rel, tiny, out_a, out_w, out_close):
    """For every point i: the first entry of its list outside its component (out_a = -1
    when there is none), moving ``ptr`` past the entries inside it (components only
    grow, so they stay inside); ``out_close``: a later entry outside the component has a
    float distance too close to this one's to order them (never with ``rel == 0``)."""
    m = len(length)
    for i in prange(m):
        ci = comp[i]
        t = ptr[i]
        n_i = length[i]
        while t < n_i and comp[nbr[i, t]] == ci:
            t += 1
        ptr[i] = t
        out_close[i] = False
        if t == n_i:
            out_a[i] = -1
            out_w[i] = np.inf
            continue
        wa = w[i, t]
        out_a[i] = nbr[i, t]
        out_w[i] = wa
        if rel == 0.0 and tiny == 0.0:
            continue
        for q in range(t + 1, n_i):
            wq = w[i, q]
            if wq - wa > rel * (wq + wa) + tiny:
                break
            if comp[nbr[i, q]] != ci:
                out_close[i] = True
                break
