"""Bottom-k sampling of captured rows: a uniform sample without replacement that does
not depend on the batch size, on the order of merges or on sharding.

Each sample gets a priority, a splitmix64 hash of ``(seed, global input index)`` (and of
the position for the positional reductions); a layer keeps the ``k`` samples of smallest
priority seen so far (ties broken by index, then position), merging each batch into the
kept rows. The layer name is not hashed: every layer with one row per input keeps the
same inputs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..extras import require

require("torch", "activation capture")

import torch  # noqa: E402

__all__ = ["Rows", "bottom_k", "merge", "merge_into", "sample_priorities", "sort_by_index"]


def _splitmix(z: np.ndarray) -> np.ndarray:
    z = z + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def sample_priorities(seed: int, index: np.ndarray, position: np.ndarray | None = None) -> np.ndarray:
    """Bottom-k priorities (uint64) of samples ``(index, position)`` for ``seed``.

    ``h(i) = splitmix64(i xor splitmix64(seed))`` (a bijection of i), and for positions
    ``splitmix64(h(i) xor splitmix64(p))``.
    """
    with np.errstate(over="ignore"):
        s = _splitmix(np.array([int(seed) & 0xFFFFFFFFFFFFFFFF], dtype=np.uint64))
        h = _splitmix(np.asarray(index, dtype=np.int64).astype(np.uint64) ^ s)
        if position is not None:
            h = _splitmix(h ^ _splitmix(np.asarray(position, dtype=np.int64).astype(np.uint64)))
    return h


def bottom_k(prio: np.ndarray, index: np.ndarray, position: np.ndarray | None, k: int | None) -> np.ndarray:
    """Indices of the k smallest (priority, index, position), in increasing row order."""
    m = len(prio)
    if k is None or m <= k:
        return np.arange(m)
    kth = np.partition(prio, k - 1)[k - 1]
    cand = np.flatnonzero(prio <= kth)
    if len(cand) > k:  # ties with the k-th priority: break them by (index, position)
        pos = position[cand] if position is not None else np.zeros(len(cand), np.int64)
        cand = cand[np.lexsort((pos, index[cand], prio[cand]))[:k]]
    return np.sort(cand)


@dataclass
class Rows:
    """Kept rows of one call site (or a batch's contribution to it)."""

    inp: torch.Tensor | None
    out: torch.Tensor | None
    index: np.ndarray
    position: np.ndarray | None
    prio: np.ndarray

    def take(self, sel: np.ndarray) -> Rows:
        t = torch.from_numpy(sel)
        return Rows(
            None if self.inp is None else self.inp.index_select(0, t),
            None if self.out is None else self.out.index_select(0, t),
            self.index[sel],
            None if self.position is None else self.position[sel],
            self.prio[sel],
        )


def merge(parts: list[Rows], k: int | None) -> Rows:
    parts = [p for p in parts if p is not None]
    if len(parts) == 1:
        merged = parts[0]
    else:

        def cat(xs):
            return None if xs[0] is None else torch.cat(xs)

        merged = Rows(
            cat([p.inp for p in parts]),
            cat([p.out for p in parts]),
            np.concatenate([p.index for p in parts]),
            None if parts[0].position is None else np.concatenate([p.position for p in parts]),
            np.concatenate([p.prio for p in parts]),
        )
    sel = bottom_k(merged.prio, merged.index, merged.position, k)
    if len(sel) < len(merged.prio):
        merged = merged.take(sel)
    return merged


def merge_into(kept: Rows | None, part: Rows, k: int | None) -> Rows:
    """Bottom-k merge of a batch's rows into the kept rows of a call site.

    Once ``k`` rows are kept, the rows a batch evicts are overwritten in place (no copy of
    the kept rows per batch); the kept rows are then no longer in index order, which
    :func:`sort_by_index` restores at the end.
    """
    if kept is None:
        return part
    m = len(part.prio)
    if m == 0:
        return kept
    if k is None or len(kept.prio) < k:
        return merge([kept, part], k)
    pos = None
    if kept.position is not None:
        pos = np.concatenate([kept.position, part.position])
    sel = bottom_k(np.concatenate([kept.prio, part.prio]), np.concatenate([kept.index, part.index]), pos, k)
    incoming = sel[sel >= k] - k
    if len(incoming) == 0:
        return kept
    evicted = np.setdiff1d(np.arange(k), sel[sel < k], assume_unique=True)
    ev_t, in_t = torch.from_numpy(evicted), torch.from_numpy(incoming)
    # the kept rows and the batch's have the same sides (and positions, or none)
    if kept.inp is not None and part.inp is not None:
        kept.inp[ev_t] = part.inp[in_t]
    if kept.out is not None and part.out is not None:
        kept.out[ev_t] = part.out[in_t]
    kept.index[evicted] = part.index[incoming]
    if kept.position is not None and part.position is not None:
        kept.position[evicted] = part.position[incoming]
    kept.prio[evicted] = part.prio[incoming]
    return kept


def sort_by_index(p: Rows) -> Rows:
    pos = p.position if p.position is not None else np.zeros(len(p.index), np.int64)
    order = np.lexsort((pos, p.index))
    if np.array_equal(order, np.arange(len(order))):
        return p
    return p.take(order)
