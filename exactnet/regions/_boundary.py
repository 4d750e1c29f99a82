"""The decision boundary of a :class:`~exactnet.regions.Regions` result, in any dimension.

Inside a region every output is affine, so the set where outputs i and j tie for the
maximum, {out_i = out_j >= out_k for all k}, is the region cut by the half-spaces
out_i - out_k >= 0 and by the hyperplane out_i = out_j: a point in 1-D, a segment in 2-D,
an (n-1)-polytope in n-D (one output: its zero set). Pieces lying on a facet shared by two
regions are listed once. Exact in exact mode.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .result import Regions

__all__ = ["decision_boundary"]


def _pairs(n_out: int) -> list[tuple[int, int]]:
    return [(0, 0)] if n_out == 1 else [(i, j) for i in range(n_out) for j in range(i + 1, n_out)]


def _diff(icpt, grad, i: int, j: int, single: bool):
    if single:
        return tuple(grad[0]), icpt[0]
    return tuple(a - b for a, b in zip(grad[i], grad[j])), icpt[i] - icpt[j]


def decision_boundary(res: Regions) -> list[tuple[int, tuple[int, int], tuple]]:
    if res.num_regions == 0:
        return []
    n_out = len(res.regions[0].intercept)
    if res.dim == 1:
        return _boundary_1d(res, n_out)
    if res.dim == 2:
        return _boundary_2d(res, n_out)
    return _boundary_nd(res, n_out)


def _boundary_1d(res: Regions, n_out: int):
    out, seen = [], set()
    single = n_out == 1
    for r in res.regions:
        (t0,), (t1,) = r.vertices
        for i, j in _pairs(n_out):
            (g,), c = _diff(r.intercept, r.gradient, i, j, single)
            if g == 0:
                continue
            t = -c / g
            if not (t0 <= t <= t1):
                continue
            ok = all(
                (r.intercept[i] - r.intercept[k]) + (r.gradient[i][0] - r.gradient[k][0]) * t >= 0
                for k in range(n_out)
                if not single and k not in (i, j)
            )
            key = (t, (i, j))
            if ok and key not in seen:
                seen.add(key)
                out.append((r.index, (i, j), ((t,),)))
    return out


def _boundary_2d(res: Regions, n_out: int):
    from .plane.region import clip_line

    out, seen = [], set()
    single = n_out == 1
    for r in res.regions:
        c, g = r.intercept, r.gradient
        for i, j in _pairs(n_out):
            (a, b), cc = _diff(c, g, i, j, single)
            if a == 0 and b == 0:
                continue
            halves = [
                (g[i][0] - g[k][0], g[i][1] - g[k][1], c[i] - c[k])
                for k in range(n_out)
                if not single and k not in (i, j)
            ]
            seg = clip_line((a, b, cc), r.vertices, halves)
            if seg is None:
                continue
            key = (tuple(sorted(_key(p, res.exact) for p in seg)), (i, j))
            if key not in seen:
                seen.add(key)
                out.append((r.index, (i, j), tuple(seg)))
    return out


def _key(p, exact: bool):
    return tuple(p) if exact else tuple(round(float(x), 12) for x in p)


def _int_row(coeffs, const) -> np.ndarray:
    vals = [Fraction(v) for v in coeffs] + [Fraction(const)]
    L = 1
    for q in vals:
        L = math.lcm(L, q.denominator)
    return np.array([int(q * L) for q in vals], dtype=object)


def _boundary_nd(res: Regions, n_out: int):
    from .result import ExactPolytopes
    from .space.domain import _cut_exact

    src = res._src
    if not isinstance(src, ExactPolytopes):
        raise ValueError("the n-D decision boundary needs the regions' exact vertices")
    whole = src.domain.get("kind") == "space"
    out, seen = [], set()
    single = n_out == 1
    for r in res.regions:
        P = src.exact_polytope(r.index)
        icpt, grad = src.exact_output(r.index)
        m = P.N.shape[1]

        def row_of(g, c):
            # whole space: (x, t) coordinates, where an output is g . x + c t
            return _int_row(list(g) + [c], 0) if whole else _int_row(g, c)

        for i, j in _pairs(n_out):
            Q = P
            for k in range(n_out):
                if single or k in (i, j) or Q is None:
                    continue
                gk, ck = _diff(icpt, grad, i, k, False)
                Q = _cut_exact(Q, row_of([-v for v in gk], -ck))
            if Q is None:
                continue
            gd, cd = _diff(icpt, grad, i, j, single)
            if all(v == 0 for v in gd) and not (whole and cd != 0):
                continue
            row = row_of(gd, cd)
            H = Q.N.dot(row[:m]) + Q.d * row[m]
            pos, neg = (H > 0).any(), (H < 0).any()
            if pos and neg:
                cut = _cut_exact(Q, row)
                assert cut is not None  # the hyperplane crosses Q's interior
                poly, on = cut, np.flatnonzero(cut.inc[:, -1])
            else:
                zero = np.flatnonzero(H == 0)
                if len(zero) < m or not _is_facet(Q.inc, zero, m):
                    continue
                poly, on = Q, zero
            raw = tuple(tuple(Fraction(int(a), int(d)) for a in row_) for row_, d in zip(poly.N[on], poly.d[on]))
            key = (frozenset(raw), (i, j))
            if key in seen:
                continue
            seen.add(key)
            pts = _affine_piece(poly, on, m) if whole else raw
            if pts is None or res.exact:
                out.append((r.index, (i, j), pts))
            else:
                floats: tuple = tuple(tuple(float(x) for x in p) for p in pts)
                out.append((r.index, (i, j), floats))
    return out


def _affine_piece(poly, on: np.ndarray, m: int) -> tuple | None:
    """A piece of the homogenised box (a cone over the piece, cut by the box) back in R^n:
    its vertices x / t (the rays of the cone, i.e. the edges from the origin), or None when
    it is unbounded (the cone meets t = 0 outside the origin)."""
    from .space._engine import _edges

    n = m - 1
    at_inf = [int(v) for v in on if poly.N[v][n] == 0]
    if any(any(poly.N[v][a] != 0 for a in range(n)) for v in at_inf) or not at_inf:
        return None
    origin = at_inf[0]
    others = np.array([int(v) for v in on if v != origin], dtype=np.int64)
    _, rays = _edges(poly.inc, np.array([origin]), others, m)
    return tuple(tuple(Fraction(int(poly.N[v][a]), int(poly.N[v][n])) for a in range(n)) for v in rays)


def _is_facet(inc: np.ndarray, verts: np.ndarray, m: int) -> bool:
    from .space._faces import facet_slots

    target = set(verts.tolist())
    return any(set(np.flatnonzero(inc[:, s]).tolist()) == target for s in facet_slots(inc, m))
