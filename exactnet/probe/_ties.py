"""N1's range over tie-breaks: the least and the greatest N1 over every minimum spanning tree.

Equal distances make the MST non-unique; N1 (:mod:`exactnet.probe.separability`) takes the
one tree of its tie rule. Every other MST is reached by three kinds of choice (our
formulation, from the cycle property: a non-tree edge lies in some MST exactly when it is
as long as the longest tree edge on the path between its ends, Tarjan, "Data Structures
and Network Algorithms", 1983, Ch. 6):

1. *exchanges*: a non-tree edge of the distinct points as long as the longest edge of
   its tree path may replace any tree edge of that path of the same length. Exchanges
   are grouped into blocks (linked through shared tree edges, all of one length); the
   trees a block allows are the subsets of its edges of the block's tree-edge count that
   span the block (Kruskal with ties: the components of the shorter edges do not depend
   on the choice);
2. *copies*: an edge from a group of identical points may end at any copy;
3. the zero-length edges within a group, which join points of one location and matter
   only for groups with mixed labels (all on the boundary anyway).

For one tree of the distinct points, choice 2 gives N1's least and greatest value in
closed form: a group of identical points with one label has at least one boundary point
when an edge from it must join another label, and at most min(copies, edges that can join
another label). :func:`n1_range` runs over the exchanges' trees (their product, when at
most ``limit``) and returns the exact range; with more it returns bounds (the exchanges'
edges all counted for the upper one, none for the lower one) and says so.

Finding the exchanges takes one pass over all pairs of distinct points (O(n^2 p) time,
O(n) memory per thread): the float distance of each pair against the longest edge of
its tree path, with the exact comparison where the float bound cannot settle it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from itertools import combinations, product

import numpy as np
from numba import njit, prange

from ._mst import DistinctTree

__all__ = ["TieRange", "n1_range"]


@njit(cache=True, nogil=True, parallel=True)
def _exchange_candidates(X, gower, indptr, adj, adj_edge, lengths, rows, rel, tiny, out_v, out_e, out_cnt):
    """For each row u: the points v > u, not tree neighbours of u, whose float distance
    may be as short as the longest tree edge on the path u-v (``out_e``: that edge)."""
    m = X.shape[0]
    p = X.shape[1]
    cap = out_v.shape[1]
    for r in prange(len(rows)):
        u = rows[r]
        best = np.full(m, -1.0)
        arg = np.full(m, -1, dtype=np.int64)
        stack = np.empty(m, dtype=np.int64)
        seen = np.zeros(m, dtype=np.bool_)
        top = 0
        stack[top] = u
        top += 1
        seen[u] = True
        best[u] = 0.0
        while top > 0:
            top -= 1
            a = stack[top]
            for q in range(indptr[a], indptr[a + 1]):
                b = adj[q]
                if seen[b]:
                    continue
                seen[b] = True
                e = adj_edge[q]
                if lengths[e] > best[a]:
                    best[b] = lengths[e]
                    arg[b] = e
                else:
                    best[b] = best[a]
                    arg[b] = arg[a]
                stack[top] = b
                top += 1
        c = 0
        for v in range(u + 1, m):
            e = arg[v]
            ends_u = False
            for q in range(indptr[u], indptr[u + 1]):
                if adj[q] == v:
                    ends_u = True
                    break
            if ends_u:
                continue
            limit = best[v] * (1.0 + rel) + tiny
            s = 0.0
            over = False
            for f in range(p):
                if gower:
                    s += abs(X[u, f] - X[v, f])
                else:
                    d = X[u, f] - X[v, f]
                    s += d * d
                if s * (1.0 - rel) - tiny > limit:
                    over = True
                    break
            if not over:
                if c < cap:
                    out_v[r, c] = v
                    out_e[r, c] = e
                c += 1
        out_cnt[r] = c


@dataclass(frozen=True)
class TieRange:
    """N1's least and greatest boundary count over every MST (``exact``), or bounds on
    them (``exact`` False: more tie alternatives than the limit)."""

    low: int
    high: int
    exact: bool
    exchanges: int  # non-tree edges of the distinct points that can replace a tree edge
    trees: int  # trees of the distinct points enumerated (1 when there is no exchange)


def _exchanges(tree: DistinctTree) -> list[tuple[int, int, list[int]]]:
    """(u, v, tree edges it can replace) for every exchange (module docstring, 1)."""
    met = tree.metric
    m = len(met.points)
    E = tree.edges
    if m <= 2:
        return []
    deg = np.bincount(E.ravel(), minlength=m)
    indptr = np.concatenate(([0], np.cumsum(deg)))
    order = np.argsort(np.concatenate([E[:, 0], E[:, 1]]), kind="stable")
    adj = np.concatenate([E[:, 1], E[:, 0]])[order]
    adj_edge = np.concatenate([np.arange(len(E)), np.arange(len(E))])[order]
    # parent pointers (rooted at 0) to walk a path
    parent = np.full(m, -1, dtype=np.int64)
    parent_edge = np.full(m, -1, dtype=np.int64)
    depth = np.zeros(m, dtype=np.int64)
    seen = np.zeros(m, dtype=bool)
    seen[0] = True
    todo = [0]
    while todo:
        a = todo.pop()
        for q in range(indptr[a], indptr[a + 1]):
            b = int(adj[q])
            if not seen[b]:
                seen[b] = True
                parent[b], parent_edge[b], depth[b] = a, adj_edge[q], depth[a] + 1
                todo.append(b)

    def path(u: int, v: int) -> list[int]:
        out = []
        while u != v:
            if depth[u] >= depth[v]:
                out.append(int(parent_edge[u]))
                u = int(parent[u])
            else:
                out.append(int(parent_edge[v]))
                v = int(parent[v])
        return out

    def exact_length(e: int) -> Fraction:
        return met.exact(int(E[e, 0]), int(E[e, 1]))

    found = []
    cap = 32
    block = max(16, min(1024, 2**22 // m))
    rows_all = np.arange(m, dtype=np.int64)
    for lo in range(0, m, block):
        rows = rows_all[lo : lo + block]
        while len(rows):
            out_v = np.empty((len(rows), cap), dtype=np.int64)
            out_e = np.empty((len(rows), cap), dtype=np.int64)
            cnt = np.empty(len(rows), dtype=np.int64)
            _exchange_candidates(
                met.points, met.gower, indptr, adj, adj_edge, tree.lengths, rows, met.rel, met.tiny,
                out_v, out_e, cnt,
            )  # fmt: skip
            fits = cnt <= cap
            for r in np.flatnonzero(fits).tolist():
                u = int(rows[r])
                for c in range(int(cnt[r])):
                    v = int(out_v[r, c])
                    on_path = path(u, v)
                    top = max(float(tree.lengths[e]) for e in on_path)
                    near = [e for e in on_path if met.close(float(tree.lengths[e]), top)]
                    longest = max(exact_length(e) for e in near)
                    if met.exact(u, v) == longest:
                        found.append((u, v, [e for e in near if exact_length(e) == longest]))
            if not fits.all():
                cap = int(cnt[~fits].max())
            rows = rows[~fits]
    return found


def n1_range(tree: DistinctTree, y: np.ndarray, limit: int = 2**16) -> TieRange:
    """N1's boundary count over every MST of the points (module docstring); ``y``: the
    labels of the original rows."""
    m = len(tree.rep)
    group = tree.group
    sizes = np.bincount(group, minlength=m)
    labels: list[set] = [set() for _ in range(m)]
    for label, g in zip(y.tolist(), group.tolist()):
        labels[g].add(label)
    mixed = np.array([len(s) > 1 for s in labels])
    base = int(sizes[mixed].sum())

    def can_cross(a: int, b: int) -> bool:
        return len(labels[a] | labels[b]) > 1

    def must_cross(a: int, b: int) -> bool:
        return not (labels[a] & labels[b])

    def counts(edges: list[tuple[int, int]]) -> tuple[int, int]:
        low_hit: set[int] = set()
        high_deg: dict[int, int] = {}
        for a, b in edges:
            if must_cross(a, b):
                low_hit.update((a, b))
            if can_cross(a, b):
                high_deg[a] = high_deg.get(a, 0) + 1
                high_deg[b] = high_deg.get(b, 0) + 1
        low = base + sum(1 for v in low_hit if not mixed[v])
        high = base + sum(min(int(sizes[v]), d) for v, d in high_deg.items() if not mixed[v])
        return low, high

    found = _exchanges(tree)
    E = [(int(a), int(b)) for a, b in tree.edges.tolist()]
    if not found:
        low, high = counts(E)
        return TieRange(low, high, True, 0, 1)
    # blocks: tree edges linked through the exchanges that can replace them
    linked = _UnionFind()
    for _, _, replaced in found:
        for e in replaced[1:]:
            linked.union(e, replaced[0])
    blocks: dict[int, tuple[list[int], list[tuple[int, int]]]] = {}
    for e in {e for _, _, rep in found for e in rep}:
        blocks.setdefault(linked.find(e), ([], []))[0].append(e)
    for u, v, replaced in found:
        blocks[linked.find(replaced[0])][1].append((u, v))
    in_block = {e for tree_edges, _ in blocks.values() for e in tree_edges}
    fixed = [E[e] for e in range(len(E)) if e not in in_block]
    # the spanning choices of each block, on the components of the other tree edges
    choices: list[list[list[tuple[int, int]]]] = []
    total = 1
    for tree_edges, extra in blocks.values():
        r = len(tree_edges)
        pool = [E[e] for e in tree_edges] + extra
        if total * math.comb(len(pool), r) > limit * 64:
            total = limit + 1
            break
        rest = _UnionFind()  # the components of the other tree edges
        own = set(tree_edges)
        for e in range(len(E)):
            if e not in own:
                rest.union(*E[e])
        valid = [list(sub) for sub in combinations(pool, r) if _acyclic([(rest.find(a), rest.find(b)) for a, b in sub])]
        choices.append(valid)
        total *= len(valid)
        if total > limit:
            break
    if total > limit:  # bounds: every exchange edge may or may not be in the tree
        low, _ = counts(fixed)
        _, high = counts(fixed + [E[e] for e in in_block] + [(u, v) for u, v, _ in found])
        return TieRange(low, high, False, len(found), 0)
    lows, highs = [], []
    for pick in product(*choices):
        low, high = counts(fixed + [edge for sub in pick for edge in sub])
        lows.append(low)
        highs.append(high)
    return TieRange(min(lows), max(highs), True, len(found), total)


class _UnionFind:
    """Disjoint sets of hashable items (created on first sight), with path halving."""

    def __init__(self) -> None:
        self.parent: dict[int, int] = {}

    def find(self, a: int) -> int:
        parent = self.parent
        parent.setdefault(a, a)
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    def union(self, a: int, b: int) -> bool:
        """Join the sets of a and b; False when they were one set already."""
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return False
        self.parent[ra] = rb
        return True


def _acyclic(edges: list[tuple[int, int]]) -> bool:
    sets = _UnionFind()
    return all(sets.union(a, b) for a, b in edges)
