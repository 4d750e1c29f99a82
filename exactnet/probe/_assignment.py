"""Dense linear assignment (minimum-cost perfect matching), compiled with numba.

The shortest-augmenting-path method of Jonker and Volgenant, "A shortest augmenting path
algorithm for dense and sparse linear assignment problems", Computing 38 (1987) 325-340,
with its initialisation phases (column reduction, reduction transfer when many rows are
left free, augmenting row reduction), which settle most rows cheaply, then one Dijkstra
search per remaining free row on the reduced costs ``c_ij - v_j``. Exact: it returns an
optimal permutation (ties broken arbitrarily), and :func:`dual_gap` certifies it from the
column prices.

:func:`optimal_matching` solves the W2 assignment of two point clouds with the costs
computed in float32 and certifies (and where needed repairs) the result against the
float64 costs through a rigorous bound on the float32 rounding error.
"""

from __future__ import annotations

import contextlib
import threading

import numpy as np
import scipy.optimize
from numba import njit

__all__ = ["solve_assignment", "dual_gap", "certified_assignment", "matched_squared_distances", "optimal_matching"]


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
    _augment(c, free, numfree, x, y, v)
    return x, v


@njit(cache=True, nogil=True)
def _augment(c, free, numfree, x, y, v):  # pragma: no cover - compiled
    """Jonker and Volgenant's augmentation: for each of the ``numfree`` rows in ``free``, a
    Dijkstra search on the reduced costs ``c_ij - v_j`` to a free column, then the price
    update of the scanned columns and the augmentation along the path. Needs dual
    feasibility on entry: every assigned row at a minimum of its reduced costs."""
    n = c.shape[0]
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
    return _matched_rows(
        np.ascontiguousarray(P, dtype=np.float64),
        np.ascontiguousarray(Q, dtype=np.float64),
        np.ascontiguousarray(cols, dtype=np.int64),
    )


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


# --------------------------------------------------------------------------- mixed precision
# The W2 assignment of two point clouds, its n x n cost product computed in float32 (twice
# the speed of float64 on the CPU, half the memory traffic) and the optimum then certified,
# and repaired where needed, against the float64 costs through a rigorous bound on the
# float32 rounding error. See optimal_matching.

_U32 = 2.0**-24  # unit roundoff of float32
_MIXED_MIN_N = 64  # below this the float64 path is as fast


@njit(cache=True, nogil=True)
def _exact_cost(P, Q, h, i, j):  # pragma: no cover - compiled
    t = 0.0
    for k in range(P.shape[1]):
        t += P[i, k] * Q[j, k]
    return h[i] - t


@njit(cache=True, nogil=True)
def _exact_entry(P, Q, h, i, j, head, nxt, kcol, kval, nk):  # pragma: no cover - compiled
    """The float64 cost c_ij, from row i's list of computed entries or computed and
    prepended to it. Returns (value, entries used), entries -1 when the lists are full."""
    e = head[i]
    while e >= 0:
        if kcol[e] == j:
            return kval[e], nk
        e = nxt[e]
    if nk >= kcol.shape[0]:
        return 0.0, -1
    val = _exact_cost(P, Q, h, i, j)
    kcol[nk] = j
    kval[nk] = val
    nxt[nk] = head[i]
    head[i] = nk
    return val, nk + 1


@njit(cache=True, nogil=True)
def _screen(c, P, Q, h, pn, qn, gamma, tau, x, y, v, tol, head, nxt, kcol, kval, nk, freed, dense):  # pragma: no cover
    """One pass over the rows checking dual feasibility on c': the exact (float64) costs
    on the entries already computed (linked lists ``head``/``nxt``/``kcol``/``kval``,
    ``nk`` used) and the lower bounds ``L_ij = c_ij - gamma (|p_i| |q_j| + h_i) - tau``
    elsewhere. Each row's assigned entry is made exact; when some L_ij - v_j undercuts
    the row's reduced cost u_i = c_{i,x_i} - v_{x_i} by more than ``tol``, those entries
    are made exact and the row looked at again, and a row still undercut is freed
    (``x[i] = -1``). With ``dense`` (then ``gamma = tau = 0``) ``c`` is the float64
    matrix of c' and the exact values are written into it too; without, every assigned
    entry also checks the bound itself, ``|c_ij - c'_ij| <= gamma (|p_i| |q_j| + h_i) +
    tau`` (a BLAS computing float32 products in lower precision would break it). Returns
    (freed rows, entries used), entries -1 when the lists are full and -2 when the
    bound failed."""
    n = c.shape[0]
    buf = np.empty(n)
    mark = np.full(n, -1, np.int64)
    nfree = 0
    for i in range(n):
        a = gamma * h[i] + tau
        g = gamma * pn[i]
        j0 = x[i]
        exact0, nk = _exact_entry(P, Q, h, i, j0, head, nxt, kcol, kval, nk)
        if nk < 0:
            return nfree, -1
        if dense:
            c[i, j0] = exact0
        elif abs(c[i, j0] - exact0) > g * qn[j0] + a:
            return nfree, -2  # the float32 product broke its error bound: do not trust it
        ui = exact0 - v[j0]
        # fast path: every lower bound (L <= c') clears the row's reduced cost (a count,
        # not a running minimum, so that the loop vectorises)
        bound = ui - tol
        undercut = 0
        for j in range(n):
            undercut += c[i, j] - (g * qn[j] + a) - v[j] < bound
        undercut -= c[i, j0] - (g * qn[j0] + a) - v[j0] < bound  # the assigned entry is exact
        if undercut == 0:
            continue
        # some entry may undercut: compute the candidates exactly and look again
        for j in range(n):
            buf[j] = c[i, j] - (g * qn[j] + a)
        e = head[i]
        while e >= 0:
            buf[kcol[e]] = kval[e]
            mark[kcol[e]] = i
            e = nxt[e]
        lowest = np.inf
        for j in range(n):
            r = buf[j] - v[j]
            if r < ui - tol and mark[j] != i:
                val, nk = _exact_entry(P, Q, h, i, j, head, nxt, kcol, kval, nk)
                if nk < 0:
                    return nfree, -1
                if dense:
                    c[i, j] = val
                r = val - v[j]
            lowest = min(lowest, r)
        if lowest < ui - tol:
            x[i] = -1
            y[j0] = -1
            freed[nfree] = i
            nfree += 1
    return nfree, nk


@njit(cache=True, nogil=True)
def _lower_bound_matrix(c32, pn, qn, h, gamma, tau, head, nxt, kcol, kval, out):  # pragma: no cover
    """out = c' as a float64 matrix: the float32 costs less their error bound, exact where computed."""
    n = c32.shape[0]
    for i in range(n):
        a = gamma * h[i] + tau
        g = gamma * pn[i]
        for j in range(n):
            out[i, j] = c32[i, j] - (g * qn[j] + a)
        e = head[i]
        while e >= 0:
            out[i, kcol[e]] = kval[e]
            e = nxt[e]


_BUFFERS = threading.local()
_BUFFER_MAX = 4096  # matrices up to 4096 x 4096 reuse one buffer per thread and dtype


def _scratch(n: int, dtype) -> np.ndarray:
    """An n x n scratch matrix, reused between calls (its pages are already mapped, which
    saves as much time as the product itself at n = 2048)."""
    if n > _BUFFER_MAX:
        return np.empty((n, n), dtype)
    name = np.dtype(dtype).name
    buf = getattr(_BUFFERS, name, None)
    if buf is None or buf.shape[0] < n:
        buf = np.empty((n, n), dtype)
        setattr(_BUFFERS, name, buf)
    return buf.reshape(-1)[: n * n].reshape(n, n)  # a contiguous view


def _augmented_product(P, Q, h, dtype, blas_threads) -> np.ndarray:
    """c_ij = h_i - <p_i, q_j> as one product [P, h] [-Q, 1]^T in ``dtype``, into a reused buffer."""
    n, d = P.shape
    Pa = np.empty((n, d + 1), dtype)
    Qa = np.empty((n, d + 1), dtype)
    Pa[:, :d] = P
    Pa[:, d] = h
    np.negative(Q, out=Qa[:, :d])
    Qa[:, d] = 1
    out = _scratch(n, dtype)
    with blas_threads():
        np.matmul(Pa, Qa.T, out=out)
    return out


def _no_limit():
    return contextlib.nullcontext()


def certified_assignment(cost: np.ndarray) -> np.ndarray:
    """An optimal assignment of a square float64 cost matrix (C-contiguous, finite): the
    compiled solver, certified by its dual prices (:func:`dual_gap` within 1e-9 of the
    largest cost), else scipy's ``linear_sum_assignment`` when rounding spoiled the
    certificate."""
    cols, prices = _lapjv(cost)
    gap, scale = _dual_gap(cost, cols, prices)
    if gap > 1e-9 * (scale + 1.0):
        rows, cols = scipy.optimize.linear_sum_assignment(cost)
        cols = cols[np.argsort(rows)]
    return cols


def _float64_matching(P, Q, h, blas_threads):
    return certified_assignment(_augmented_product(P, Q, h, np.float64, blas_threads))


def optimal_matching(P, Q, *, mixed: bool = True, blas_threads=_no_limit, return_info: bool = False):
    """An optimal matching of the rows of ``P`` and ``Q`` (n x d float64 each) for the
    squared Euclidean cost: ``cols`` minimising ``sum_i |p_i - q_cols[i]|^2``, the exact
    empirical W2 assignment.

    Both clouds are shifted by the mean of ``Q`` and scaled by a power of two (which leave
    the optimal matching unchanged) and the assignment solved on the costs
    ``c_ij = h_i - <p_i, q_j>``, ``h_i = |p_i|^2 / 2`` (half the squared distance less the
    column constant ``|q_j|^2 / 2``; the row term steers the column reduction).

    With ``mixed`` (n >= 64) the n x n product is computed in float32 and solved by
    Jonker-Volgenant; the result is then certified against the float64 costs. The float32
    dot products of length m = d + 1 carry at most

        |c32_ij - c_ij| <= gamma_{m+2} sum_k |a_ik| |b_jk| <= gamma_{m+2} (|p_i| |q_j| + h_i),
        gamma_k = k u / (1 - k u),  u = 2^-24

    (any summation order, with or without FMA; the two extra units cover the rounding of
    the inputs to float32; Higham, "Accuracy and Stability of Numerical Algorithms",
    2nd ed., 2002, Lemma 3.1 and eq. (3.5)). So ``L_ij = c32_ij - gamma (|p_i| |q_j| + h_i)``
    (less a term for float32 underflow) is a lower bound of every cost; the pass below
    checks the bound itself on every assigned entry and takes the float64 path if it ever
    fails. A pass over the rows computes the float64 cost of each
    row's assigned entry and of every entry whose lower bound undercuts that row's reduced
    cost, and checks dual feasibility of the column prices on ``c'`` (float64 where
    computed, ``L`` elsewhere). Rows that fail are re-augmented by Dijkstra searches on
    ``c'``, and the pass repeated. When it ends, the matching uses float64 costs only and
    is optimal for ``c' <= c``, hence for ``c`` itself (every other matching costs at least
    its ``c'`` value). On these W2 problems the pass typically computes n to 2n float64
    entries and frees no row. Degenerate inputs (many ties) whose candidate lists grow past
    16 n entries, or a repair that does not settle, fall back to the float64 path: the
    float64 product, the same solver, its dual certificate, and scipy's
    ``linear_sum_assignment`` if rounding spoiled that.

    ``blas_threads()``: a context manager limiting BLAS threads around the product.
    ``return_info`` adds a dict: path ("mixed", "float64", "float64 (fallback)" or
    "float64 (float32 bound failed)"), float64 entries computed, rows freed, passes."""
    P = np.ascontiguousarray(P, dtype=np.float64)
    Q = np.ascontiguousarray(Q, dtype=np.float64)
    n, d = P.shape
    info = {"path": "float64", "exact_entries": 0, "freed_rows": 0, "passes": 0}
    shift = Q.mean(0)
    P = P - shift
    Q = Q - shift
    top = max(float(np.abs(P).max(initial=0.0)), float(np.abs(Q).max(initial=0.0)))
    if top == 0.0:  # every point the same: every matching is optimal
        cols = np.arange(n)
        return (cols, info) if return_info else cols
    e = int(np.frexp(top)[1])  # times 2^-e: exact, entries now < 1 (2^-e itself may overflow)
    P = np.ldexp(P, -e)
    Q = np.ldexp(Q, -e)
    h = 0.5 * np.einsum("ij,ij->i", P, P)
    m = d + 1
    if not mixed or n < _MIXED_MIN_N or (m + 2) * _U32 > 1e-3:
        cols = _float64_matching(P, Q, h, blas_threads)
        return (cols, info) if return_info else cols
    gamma = (m + 2) * _U32 / (1 - (m + 2) * _U32) * (1 + 2.0**-10)  # the margin covers float64 rounding
    tau = (m + 2) * (m + 4) * 2.0**-140  # float32 underflow (entries < 1, h < d)
    pn = np.sqrt(2 * h)
    qn = np.sqrt(np.einsum("ij,ij->i", Q, Q))
    cost_scale = float(h.max() + pn.max() * qn.max())  # >= max |c_ij|
    tol = 2.0**-40 * cost_scale

    c32 = _augmented_product(P, Q, h, np.float32, blas_threads)
    x, v = _lapjv(c32)
    y = np.empty(n, np.int64)
    y[x] = np.arange(n)
    cap = 16 * n
    head = np.full(n, -1, np.int64)
    nxt = np.empty(cap, np.int64)
    kcol = np.empty(cap, np.int64)
    kval = np.empty(cap)
    freed = np.empty(n, np.int64)
    info["path"] = "mixed"
    nfree, nk = _screen(c32, P, Q, h, pn, qn, gamma, tau, x, y, v, tol, head, nxt, kcol, kval, 0, freed, False)
    passes = 1
    total_freed = max(nfree, 0)
    if nk >= 0 and nfree > 0:
        dense = _scratch(n, np.float64)
        _lower_bound_matrix(c32, pn, qn, h, gamma, tau, head, nxt, kcol, kval, dense)
        while nk >= 0 and nfree > 0 and passes < 32:
            _augment(dense, freed, nfree, x, y, v)
            nfree, nk = _screen(dense, P, Q, h, pn, qn, 0.0, 0.0, x, y, v, tol, head, nxt, kcol, kval, nk, freed, True)
            passes += 1
            total_freed += max(nfree, 0)
    info.update(exact_entries=max(nk, 0), freed_rows=total_freed, passes=passes)
    if nk == -2:
        info["path"] = "float64 (float32 bound failed)"
        x = _float64_matching(P, Q, h, blas_threads)
    elif nk < 0 or nfree > 0:  # too many candidates (ties) or no settling
        info["path"] = "float64 (fallback)"
        x = _float64_matching(P, Q, h, blas_threads)
    return (x, info) if return_info else x
