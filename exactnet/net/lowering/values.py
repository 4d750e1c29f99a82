"""Values: every live tensor of the traced graph as an exact affine function of the current
hidden vector (:class:`_Val`), helpers over nested arguments, and constant operands.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

from ..rational import fraction_array, real_tensor_to_numpy
from .tracing import UnsupportedLayerError, _Batch, _Opaque

_ONE, _ZERO = Fraction(1), Fraction(0)


def _ones(n: int) -> np.ndarray:
    return np.full(n, _ONE, dtype=object)


def _zeros(shape) -> np.ndarray:
    return np.full(shape, _ZERO, dtype=object)


def _ints(parts) -> np.ndarray:
    parts = [np.asarray(p, dtype=np.int64) for p in parts]
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)


def _q(a) -> np.ndarray:
    """``a`` as an object array of exact ``Fraction`` (floats inside object arrays included)."""
    return fraction_array(np.asarray(a), "weights")


class _Val:
    """A tensor of per-sample ``shape`` as an exact affine function of the current hidden vector h.

    Element ``i`` is ``offset[i] + sum(coef[k] * h[col[k]] for k with row[k] == i)``; rows index
    the tensor's elements in row-major order, ``coef`` and ``offset`` hold ``Fraction``. Immutable.
    """

    __slots__ = ("coef", "col", "offset", "row", "shape")

    def __init__(self, shape, row, col, coef, offset):
        self.shape = tuple(int(s) for s in shape)
        self.row, self.col = np.asarray(row, dtype=np.int64), np.asarray(col, dtype=np.int64)
        self.coef, self.offset = coef, offset

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    @classmethod
    def plain(cls, shape, cols) -> _Val:
        """Element ``i`` is ``h[cols[i]]``."""
        n = len(cols)
        return cls(shape, np.arange(n), cols, _ones(n), _zeros(n))

    @classmethod
    def concat(cls, vals) -> _Val:
        """The elements of ``vals`` one after the other, as a flat tensor."""
        starts = np.cumsum([0] + [v.size for v in vals])
        return cls(
            (starts[-1],),
            _ints([v.row + s for v, s in zip(vals, starts)]),
            _ints([v.col for v in vals]),
            np.concatenate([v.coef for v in vals] + [_zeros(0)]),
            np.concatenate([v.offset for v in vals] + [_zeros(0)]),
        )

    def reshape(self, shape) -> _Val:
        return _Val(shape, self.row, self.col, self.coef, self.offset)

    def with_cols(self, cols) -> _Val:
        return _Val(self.shape, self.row, cols, self.coef, self.offset)

    def affine(self, scale=_ONE, shift=_ZERO) -> _Val:
        """``scale * v + shift`` elementwise; scale and shift are numbers or per-element arrays."""
        s = np.broadcast_to(np.asarray(scale, dtype=object), (self.size,))
        coef = self.coef * s[self.row]
        keep = np.array([q != 0 for q in coef], dtype=bool)
        return _Val(self.shape, self.row[keep], self.col[keep], coef[keep], self.offset * s + shift)

    def plus(self, other: _Val, sign=1) -> _Val:
        """``v + sign * other`` for tensors of the same size."""
        return _Val(
            self.shape,
            _ints([self.row, other.row]),
            _ints([self.col, other.col]),
            np.concatenate([self.coef, other.coef * sign]),
            self.offset + other.offset * sign,
        )

    def take(self, index, shape=None) -> _Val:
        """The tensor whose element ``i`` is element ``index[i]`` of this one."""
        index = np.asarray(index, dtype=np.int64).reshape(-1)
        order = np.argsort(self.row, kind="stable")
        counts = np.bincount(self.row, minlength=self.size)
        starts = np.cumsum(counts) - counts
        lens = counts[index]
        first = np.cumsum(lens) - lens
        pos = order[np.repeat(starts[index] - first, lens) + np.arange(lens.sum())]
        shape = (len(index),) if shape is None else shape
        return _Val(shape, np.repeat(np.arange(len(index)), lens), self.col[pos], self.coef[pos], self.offset[index])

    def scatter(self, where, n: int) -> _Val:
        """A flat tensor of ``n`` elements: element ``where[i]`` is element ``i`` of this one, the rest 0."""
        offset = _zeros(n)
        offset[where] = self.offset
        return _Val((n,), np.asarray(where)[self.row], self.col, self.coef, offset)

    def canonical(self) -> _Val:
        """The same tensor with entries sorted by (row, col), duplicates summed and zeros dropped."""
        order = np.lexsort((self.col, self.row))
        row, col, coef = self.row[order], self.col[order], self.coef[order]
        if len(row) > 1:
            first = np.flatnonzero(np.r_[True, (row[1:] != row[:-1]) | (col[1:] != col[:-1])])
            if len(first) < len(row):
                row, col, coef = row[first], col[first], np.add.reduceat(coef, first)
        keep = np.array([q != 0 for q in coef], dtype=bool)
        return _Val(self.shape, row[keep], col[keep], coef[keep], self.offset)

    def elements(self):
        """``(cols, coefs, offset)`` of each element, from a canonical tensor."""
        bounds = np.searchsorted(self.row, np.arange(self.size + 1))
        cols, coefs = self.col.tolist(), list(self.coef)
        for i in range(self.size):
            a, b = bounds[i], bounds[i + 1]
            yield tuple(cols[a:b]), tuple(coefs[a:b]), self.offset[i]

    def is_identity(self, width: int) -> bool:
        """Is this exactly ``h`` (canonical tensors)?"""
        n = self.size
        return (
            n == width == len(self.row)
            and np.array_equal(self.row, np.arange(n))
            and np.array_equal(self.col, np.arange(n))
            and all(q == 1 for q in self.coef)
            and all(q == 0 for q in self.offset)
        )


def _map(obj, f):
    """``obj`` with every leaf inside (tuples, lists, dicts, namedtuples) replaced by ``f(leaf)``."""
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):
        return type(obj)(*(_map(o, f) for o in obj))
    if isinstance(obj, (tuple, list)):
        return type(obj)(_map(o, f) for o in obj)
    if isinstance(obj, dict):
        return {k: _map(v, f) for k, v in obj.items()}
    return f(obj)


def _map_vals(obj, f):
    """``obj`` with every :class:`_Val` inside replaced by ``f(val)``."""
    return _map(obj, lambda x: f(x) if isinstance(x, _Val) else x)


def _leaves(obj) -> list:
    if isinstance(obj, (tuple, list)):
        return [x for o in obj for x in _leaves(o)]
    if isinstance(obj, dict):
        return [x for o in obj.values() for x in _leaves(o)]
    return [obj]


def _vals_in(obj) -> list[_Val]:
    return [x for x in _leaves(obj) if isinstance(x, _Val)]


def _const(label: str, c) -> np.ndarray:
    """A constant operand (number or tensor) as a finite float64 or int array."""
    c = real_tensor_to_numpy(c, f"{label}: constant")
    if isinstance(c, (_Batch, _Opaque)) or c is None:
        raise UnsupportedLayerError(f"{label} uses {c!r} as a number")
    a = np.asarray(c)
    if a.dtype.kind == "b":
        a = a.astype(np.int64)
    if a.dtype.kind not in "fiu" or (a.dtype.kind == "f" and not np.isfinite(a).all()):
        raise ValueError(f"{label}: constant {c!r} is not a finite real number or tensor")
    return a
