"""Fusion: composing affine maps exactly into layers, and the units of a layer being built
(equal units shared), in rational arithmetic with float64 where entries are +-1 or 1.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from .values import _ONE, _ZERO, _ones, _q, _Val, _zeros


def _signs(coef):
    """The coefficients as an int64 array when all are +-1 (products then stay exact), else None."""
    if all(q == 1 or q == -1 for q in coef):
        return np.array([1 if q == 1 else -1 for q in coef], dtype=np.int64)
    return None


def _times(W, b, v: _Val, width: int):
    """Rows and bias of ``W v + b`` as an affine map of h: ``(W M, W c + b)``."""
    sign = _signs(v.coef)
    if sign is not None and len(np.unique(v.col)) == len(v.col):  # every entry a single +-W[o, i]
        identity = v.size == width and (sign == 1).all()
        if identity and np.array_equal(v.col, np.arange(width)) and np.array_equal(v.row, v.col):
            R = W
        else:
            R = np.zeros((W.shape[0], width), dtype=W.dtype)
            R[:, v.col] = W[:, v.row] * sign
    else:
        used = np.unique(v.row)
        R = _zeros((W.shape[0], width))
        cols = (slice(None), v.col)
        np.add.at(R, cols, _q(W[:, used])[:, np.searchsorted(used, v.row)] * v.coef)  # type: ignore[arg-type]
    nz = np.flatnonzero([q != 0 for q in v.offset])
    if len(nz):
        b = _q(b) + _q(W[:, nz]) @ v.offset[nz]
    return R, b


def _compose(row, col, coef, offset, W, b):
    """Rows and bias of the units ``offset[r] + sum coef[k] z[col[k]]`` (``row[k] == r``) where ``z = W h + b``."""
    m = len(offset)
    sign = _signs(coef)
    if sign is not None and np.array_equal(row, np.arange(m)):  # one +-z[col] per unit
        return W[col] * sign[:, None], _q(b[col]) * sign + offset
    used = np.unique(col)
    pos = np.searchsorted(used, col)
    R = _zeros((m, W.shape[1]))
    np.add.at(R, row, _q(W[used])[pos] * coef[:, None])
    rb = offset.copy()
    np.add.at(rb, row, _q(b[used])[pos] * coef)
    return R, rb


def _dense(row, col, coef, shape):
    """The matrix with entries ``coef`` at ``(row, col)`` (distinct pairs); float64 when all are 1."""
    if all(q == 1 for q in coef):
        D = np.zeros(shape)
        D[row, col] = 1.0
    else:
        D = _zeros(shape)
        D[row, col] = coef
    return D


class _Units:
    """The units of a layer being built: ``offset + sum coef * h[col]`` with a slope; equal units are shared."""

    def __init__(self, start: int):
        self.start = start
        self.index: dict[tuple, int] = {}
        self.keys: list[tuple] = []

    def unit(self, key) -> int:
        if key not in self.index:
            self.index[key] = self.start + len(self.keys)
            self.keys.append(key)
        return self.index[key]

    def add(self, v: _Val, slope: Fraction) -> _Val:
        """One unit per element of ``v``; returns ``v`` read from the new layer."""
        ids = [self.unit((slope, off, cols, coefs)) for cols, coefs, off in v.canonical().elements()]
        return _Val.plain(v.shape, np.array(ids, dtype=np.int64))

    def passthrough(self, v: _Val) -> _Val:
        """Linear units carrying ``v`` without its constant offset; returns ``v`` read from the new layer."""
        ids = np.array(
            [self.unit((_ONE, _ZERO, cols, coefs)) if cols else -1 for cols, coefs, _ in v.canonical().elements()],
            dtype=np.int64,
        )
        has = np.flatnonzero(ids >= 0)
        return _Val(v.shape, has, ids[has], _ones(len(has)), v.offset)

    def arrays(self):
        """``row, col, coef, offset, slopes`` of the new units (rows counted from 0)."""
        lens = [len(k[2]) for k in self.keys]
        row = np.repeat(np.arange(len(self.keys)), lens)
        col = np.array([c for k in self.keys for c in k[2]], dtype=np.int64)
        coef = np.array([q for k in self.keys for q in k[3]] + [None], dtype=object)[:-1]
        offset = np.array([k[1] for k in self.keys] + [None], dtype=object)[:-1]
        return row, col, coef, offset, [k[0] for k in self.keys]


def _stack(parts) -> np.ndarray:
    """Concatenate along axis 0, leaving out empty parts (so float64 stays float64 when it can)."""
    full = [p for p in parts if len(p)]
    return np.concatenate(full or parts[:1], axis=0)
