"""Dense linear assignment (minimum-cost perfect matching), compiled with numba.

The shortest-augmenting-path method of Jonker and Volgenant, "A shortest augmenting path
algorithm for dense and sparse linear assignment problems", Computing 38 (1987) 325-340,
with its initialisation phases (column reduction, reduction transfer when many rows are
left free, augmenting row reduction), which settle most rows cheaply, then one Dijkstra
search per remaining free row on the reduced costs ``c_ij - v_j``. Exact: it returns an
optimal permutation (ties broken arbitrarily), and :func:`dual_gap` certifies it from the
column prices.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["solve_assignment", "dual_gap", "matched_squared_distances"]


@njit(cache=True, nogil=True)
def _lapjv(c):  # pragma: no cover - compiled
    n = c.shape[0]
    x = np.full(n, -1, np.int64)  # column of each row
    y = np.full(n, -1, np.int64)  # row of each column
    v = np.empty(n)
    matches = np.zeros(n, np.int64)
    # 1. column reduction: v_j = min_i c_ij (first minimal row, scanned row by row for
    # contiguous reads); assign each column to its minimal row if that row is free
    argmin = np.zeros(n, np.int64)
    for j in range(n):
        v[j] = c[0, j]
    for i in range(1, n):
        for j in range(n):
            if c[i, j] < v[j]:
                v[j] = c[i, j]
                argmin[j] = i
    for j in range(n - 1, -1, -1):
        imin = argmin[j]
        matches[imin] += 1
        if matches[imin] == 1:
            x[imin] = j
            y[j] = imin
    # 2. the free rows, and Jonker and Volgenant's reduction transfer (the price of each
    # column held by a row assigned once is lowered by that row's second-best reduced
    # cost) only when many rows are free: it is a full pass over the matrix, and on the
    # costs of affinity scores from network layers (0 to 3 free rows of 2048 after the
    # column reduction) it was measured to cost more than it saves; with 1,000+ free rows
    # (independent samples) it pays.
    free = np.empty(n, np.int64)
    numfree = 0
    for i in range(n):
        if matches[i] == 0:
            free[numfree] = i
            numfree += 1
    if numfree * 16 > n:
        for i in range(n):
            if matches[i] == 1:
                j1 = x[i]
                mn = np.inf
                for j in range(n):
                    if j != j1:
                        h = c[i, j] - v[j]
                        if h < mn:
                            mn = h
                if mn < np.inf:
                    v[j1] -= mn
    # 3. augmenting row reduction, twice; a budget guards against float cycling
    budget = 16 * n + 64
    for _ in range(2):
        k = 0
        prvnumfree = numfree
        numfree = 0
        while k < prvnumfree:
            i = free[k]
            k += 1
            umin = c[i, 0] - v[0]
            j1 = 0
            usubmin = np.inf
            j2 = -1
            for j in range(1, n):
                h = c[i, j] - v[j]
                if h < usubmin:
                    if h >= umin:
                        usubmin = h
                        j2 = j
                    else:
                        usubmin = umin
                        umin = h
                        j2 = j1
                        j1 = j
            i0 = y[j1]
            strict = umin < usubmin
            if strict:
                v[j1] -= usubmin - umin
            elif i0 >= 0 and j2 >= 0:
                j1 = j2
                i0 = y[j2]
            x[i] = j1
            y[j1] = i
            if i0 >= 0:
                x[i0] = -1
                if strict and budget > 0:
                    budget -= 1
                    k -= 1
                    free[k] = i0
                else:
                    free[numfree] = i0
                    numfree += 1
    # 4. augmentation: a Dijkstra search from every free row on reduced costs
    d = np.empty(n)
    pred = np.empty(n, np.int64)
    collist = np.empty(n, np.int64)
    for f in range(numfree):
        freerow = free[f]
        for j in range(n):
            d[j] = c[freerow, j] - v[j]
            pred[j] = freerow
            collist[j] = j
        low = 0  # columns [0, low) are ready, [low, up) at the current minimum
        up = 0
        last = 0
        mn = 0.0
        endofpath = -1
        while endofpath < 0:
            if up == low:
                last = low - 1
                mn = d[collist[up]]
                up += 1
                for k in range(up, n):
                    j = collist[k]
                    h = d[j]
                    if h <= mn:
                        if h < mn:
                            up = low
                            mn = h
                        collist[k] = collist[up]
                        collist[up] = j
                        up += 1
                for k in range(low, up):
                    if y[collist[k]] < 0:
                        endofpath = collist[k]
                        break
            if endofpath >= 0:
                break
            j1 = collist[low]
            low += 1
            i = y[j1]
            u1 = c[i, j1] - v[j1] - mn
            for k in range(up, n):
                j = collist[k]
                v2 = c[i, j] - v[j] - u1
                if v2 < d[j]:
                    pred[j] = i
                    if v2 == mn:
                        if y[j] < 0:
                            endofpath = j
                            break
                        collist[k] = collist[up]
                        collist[up] = j
                        up += 1
                    d[j] = v2
        # prices of the ready columns
        for k in range(last + 1):
            j1 = collist[k]
            v[j1] += d[j1] - mn
        # augment along the path back to the free row
        j = endofpath
        while True:
            i = pred[j]
            y[j] = i
            k = x[i]
            x[i] = j
            j = k
            if i == freerow:
                break
    return x, v


@njit(cache=True, nogil=True)
def _dual_gap(c, x, v):  # pragma: no cover - compiled
    """(largest violation of u_i + v_j <= c_ij with u_i = c_{i,x_i} - v_{x_i}, max |c_ij|)"""
    n = c.shape[0]
    worst = 0.0
    scale = 0.0
    for i in range(n):
        ui = c[i, x[i]] - v[x[i]]
        for j in range(n):
            cij = c[i, j]
            g = ui - (cij - v[j])
            if g > worst:
                worst = g
            if abs(cij) > scale:
                scale = abs(cij)
    return worst, scale


@njit(cache=True, nogil=True)
def _matched_rows(P, Q, cols):  # pragma: no cover - compiled
    n, d = P.shape
    out = np.empty(n)
    for i in range(n):
        j = cols[i]
        t = 0.0
        for k in range(d):
            e = P[i, k] - Q[j, k]
            t += e * e
        out[i] = t
    return out


def matched_squared_distances(P, Q, cols) -> np.ndarray:
    """|p_i - q_{cols[i]}|^2 for every row i (float64 arrays; no n x d temporaries)."""
    return _matched_rows(np.ascontiguousarray(P, dtype=np.float64), np.ascontiguousarray(Q, dtype=np.float64),
                         np.ascontiguousarray(cols, dtype=np.int64))


def solve_assignment(cost) -> tuple[np.ndarray, np.ndarray]:
    """An optimal assignment of the square cost matrix and its column prices: ``col[i]`` is
    the column of row i, minimising ``sum_i cost[i, col[i]]`` (Jonker and Volgenant 1987);
    ``prices`` are the dual column variables ``v`` (see :func:`dual_gap`)."""
    c = np.ascontiguousarray(cost, dtype=np.float64)
    if c.ndim != 2 or c.shape[0] != c.shape[1]:
        raise ValueError(f"cost has shape {c.shape}; a square matrix is needed")
    if c.shape[0] == 0:
        return np.empty(0, np.int64), np.empty(0)
    if not np.isfinite(c).all():
        raise ValueError("cost holds NaN or infinite entries")
    return _lapjv(c)


def dual_gap(cost, col, prices) -> tuple[float, float]:
    """Optimality certificate: with row prices ``u_i = c_{i,col(i)} - v_{col(i)}``, the
    largest violation of dual feasibility ``u_i + v_j <= c_ij``, and ``max |c_ij|`` to
    judge it by. Zero (up to rounding) proves the assignment optimal, since then
    sum_i c_{i,col(i)} = sum u + sum v, the value of a feasible dual (linear-programming
    duality)."""
    c = np.ascontiguousarray(cost, dtype=np.float64)
    col = np.asarray(col, dtype=np.int64)
    if not np.array_equal(np.sort(col), np.arange(c.shape[0])):
        raise ValueError("col is not a permutation of the columns")
    gap, scale = _dual_gap(c, col, np.asarray(prices, dtype=np.float64))
    return float(gap), float(scale)
