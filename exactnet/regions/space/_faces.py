"""Faces of a polytope from its vertex-constraint incidence alone: its facets, every face,
and its volume by a pulling triangulation.

A face of a polytope is the set of its vertices on some of its constraints; the facets of a
face G are the maximal proper subsets among the sets G ∩ V_s (V_s: the vertices on
constraint s), which needs no arithmetic. Volume: cone from one vertex of G over the
facets of G that miss it, recursively, down to simplices (a "pulling" triangulation,
De Loera, Rambau & Santos, Triangulations, 2010, Sec. 4.3), summing |det| / d!.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from fractions import Fraction

import numpy as np

__all__ = ["facet_slots", "faces_of", "volume"]


def _maximal(sets: list[frozenset]) -> list[frozenset]:
    uniq = list(dict.fromkeys(sets))
    return [s for s in uniq if not any(s < t for t in uniq)]


def facet_slots(inc: np.ndarray, dim: int) -> list[int]:
    """The constraints (columns of ``inc``) that define facets, one per facet."""
    cols = [frozenset(np.flatnonzero(inc[:, s]).tolist()) for s in range(inc.shape[1])]
    full = frozenset(range(inc.shape[0]))
    cand = [c for c in cols if len(c) >= dim and c != full]
    keep = set(_maximal(cand))
    out, seen = [], set()
    for s, c in enumerate(cols):
        if c in keep and c not in seen:
            seen.add(c)
            out.append(s)
    return out


def _sub_facets(face: frozenset, cols: list[frozenset], d: int) -> list[frozenset]:
    cand = []
    for c in cols:
        g = face & c
        if len(g) >= d and g != face:
            cand.append(g)
    return _maximal(cand)


def faces_of(inc: np.ndarray, top: Sequence[int] | None = None) -> Iterator[np.ndarray]:
    """Every nonempty face of the face ``top`` (default: the whole polytope), ``top``
    included, as arrays of vertex indices: the facets of a face G are the maximal proper
    nonempty sets among G ∩ V_s."""
    cols = [frozenset(np.flatnonzero(inc[:, s]).tolist()) for s in range(inc.shape[1])]
    start = frozenset(range(inc.shape[0]) if top is None else (int(v) for v in top))
    seen = {start}
    stack = [start]
    while stack:
        face = stack.pop()
        yield np.array(sorted(face), dtype=np.int64)
        if len(face) == 1:
            continue
        for g in _sub_facets(face, cols, 1):
            if g not in seen:
                seen.add(g)
                stack.append(g)


def _simplices(face: frozenset, d: int, cols: list[frozenset]) -> Iterator[tuple[int, ...]]:
    if len(face) == d + 1:
        yield tuple(sorted(face))
        return
    apex = min(face)
    for g in _sub_facets(face, cols, d):
        if apex in g:
            continue
        for t in _simplices(g, d - 1, cols):
            yield t + (apex,)


def _det_exact(rows: list[list[Fraction]]) -> Fraction:
    a = [list(r) for r in rows]
    n = len(a)
    det = Fraction(1)
    for i in range(n):
        p = next((r for r in range(i, n) if a[r][i] != 0), None)
        if p is None:
            return Fraction(0)
        if p != i:
            a[i], a[p] = a[p], a[i]
            det = -det
        det *= a[i][i]
        for r in range(i + 1, n):
            if a[r][i]:
                f = a[r][i] / a[i][i]
                a[r] = [x - f * y for x, y in zip(a[r], a[i])]
    return det


def volume(points: Sequence[Sequence], inc: np.ndarray, dim: int, *, exact: bool) -> Fraction | float:
    """The volume of the polytope with these vertices and incidence (exact with Fractions)."""
    cols = [frozenset(np.flatnonzero(inc[:, s]).tolist()) for s in range(inc.shape[1])]
    top = frozenset(range(len(points)))
    total: Fraction | float = Fraction(0) if exact else 0.0
    fact = math.factorial(dim)
    for simplex in _simplices(top, dim, cols):
        base = points[simplex[0]]
        rows = [[points[v][a] - base[a] for a in range(dim)] for v in simplex[1:]]
        if exact:
            total += abs(_det_exact(rows)) / fact
        else:
            total += abs(float(np.linalg.det(np.array(rows, dtype=float)))) / fact
    return total
