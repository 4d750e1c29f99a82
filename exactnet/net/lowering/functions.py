"""Lowering rules of the functions and tensor methods of a traced graph (``_op_<kind>`` for
each kind of :func:`~exactnet.net.lowering.tracing._tables`): arithmetic with constants,
activations, maxima and minima, sums and means, pooling functions, linear maps by constant
matrices, shapes and rearrangements."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

from ..rational import to_fraction
from .modules import _check_module, _ModuleRules
from .tracing import _BATCH, _MaxResult, _Opaque
from .values import _ZERO, _const, _Val, _vals_in


class _FunctionRules(_ModuleRules):
    """Lowering rules of functions and tensor methods: ``_op_<kind>`` for each kind of the tracing tables."""

    def _op_add(self, c):
        return self._lincomb(c.label, [(c.args[0], 1), (c.p["other"], c.p.get("alpha", 1))])

    def _op_sub(self, c):
        return self._lincomb(c.label, [(c.args[0], 1), (c.p["other"], -to_fraction(c.p.get("alpha", 1)))])

    def _op_neg(self, c):
        return self._lincomb(c.label, [(c.args[0], -1)])

    def _op_mul(self, c):
        a, b = c.args[0], c.p["other"]
        if isinstance(a, _Val) and isinstance(b, _Val):
            raise self._unsupported(c.node, "it multiplies two tensors computed from the input (not piecewise linear)")
        if isinstance(b, _Val):
            a, b = b, a
        _, (x, k) = self._broadcast(c.label, [a, b])
        return x.affine(k)

    def _op_div(self, c):
        other = c.p["other"]
        if isinstance(other, _Val) or c.p.get("rounding_mode") is not None:
            raise self._unsupported(c.node, "only division by a constant (without rounding_mode) is supported")
        _, (x, k) = self._broadcast(c.label, [c.args[0], other])
        if any(q == 0 for q in k):
            raise ValueError(f"{c.label} divides by zero")
        return x.affine(np.array([1 / q for q in k], dtype=object))

    def _op_identity(self, c):
        return c.args[0]

    def _op_dropout(self, c):
        if c.p.get("training", True) and c.p.get("p", 0.5) > 0:
            raise ValueError(
                f"{c.label} is dropout in training mode (F.dropout's default); pass training=self.training "
                f"and call model.eval()"
            )
        return c.args[0]

    def _op_relu(self, c):
        return self._act(c.label, c.args[0], _ZERO)

    def _op_leaky_relu(self, c):
        return self._act(c.label, c.args[0], Fraction(float(c.p.get("negative_slope", 0.01))))

    def _op_relu6(self, c):
        return self._clamp(c.label, c.args[0], 0, 6)

    def _op_clamp(self, c):
        if c.extra == "hardtanh":
            return self._clamp(c.label, c.args[0], c.p.get("min_val", -1.0), c.p.get("max_val", 1.0))
        return self._clamp(c.label, c.args[0], c.p.get("min"), c.p.get("max"))

    def _op_max(self, c, sign=1):
        import torch

        dim = c.p.get("dim")
        if isinstance(dim, (_Val, torch.Tensor)):  # torch.max(x, other)
            return self._maximum(c.label, c.args[0], dim, sign)
        if dim is None:
            raise self._unsupported(c.node, "without dim it reduces over the batch axis too")
        values = self._reduce_max(c.label, c.args[0], dim, c.p.get("keepdim", False), sign)
        return _MaxResult(values, _Opaque(f"the indices of {c.label}"))

    def _op_min(self, c):
        return self._op_max(c, -1)

    def _op_amax(self, c, sign=1):
        dim = c.p.get("dim", ())
        if dim is None or (not isinstance(dim, (int, np.integer)) and len(dim) == 0):
            raise self._unsupported(c.node, "without dim it reduces over the batch axis too")
        return self._reduce_max(c.label, c.args[0], dim, c.p.get("keepdim", False), sign)

    def _op_amin(self, c):
        return self._op_amax(c, -1)

    def _op_sum(self, c, mean=False):
        """``x.sum(dim)`` / ``x.mean(dim)`` over per-sample axes: each output element is the
        sum (or the average, exact 1/k) of its group of k elements."""
        dim = c.p.get("dim")
        if dim is None or (not isinstance(dim, (int, np.integer)) and len(dim) == 0):
            raise self._unsupported(c.node, "without dim it reduces over the batch axis too; pass dim=...")
        if c.p.get("dtype") is not None:
            raise self._unsupported(c.node, "dtype= is not supported (the lowering is exact already)")
        x = c.args[0]
        dims = (dim,) if isinstance(dim, (int, np.integer)) else tuple(dim)
        axes = sorted({self._axis(c.label, d, x) for d in dims})
        rest = [a for a in range(len(x.shape)) if a not in axes]
        k = math.prod(x.shape[a] for a in axes)
        idx = np.arange(x.size).reshape(x.shape).transpose(rest + axes).reshape(-1, k)
        total = x.take(idx[:, 0])
        for j in range(1, k):
            total = total.plus(x.take(idx[:, j]))
        if mean:
            total = total.affine(Fraction(1, k))
        if c.p.get("keepdim", False):
            shape = tuple(1 if a in axes else s for a, s in enumerate(x.shape))
        else:
            shape = tuple(x.shape[a] for a in rest)
        return total.canonical().reshape(shape)

    def _op_mean(self, c):
        return self._op_sum(c, mean=True)

    def _op_maximum(self, c):
        return self._maximum(c.label, c.args[0], c.p["other"], 1)

    def _op_minimum(self, c):
        return self._maximum(c.label, c.args[0], c.p["other"], -1)

    def _op_pool(self, c):
        from torch import nn

        m = getattr(nn, c.extra)(**c.p)
        _check_module(c.label, m, c.extra)
        return self._pool(c.label, m, c.extra, c.args[0], int(c.extra[-2]))

    def _op_linear(self, c):
        w, b = c.p["weight"], c.p.get("bias")
        if isinstance(w, _Val) or isinstance(b, _Val):
            raise self._unsupported(c.node, "the weight and bias must be constants")
        w = _const(c.label, w)
        return self._linear(c.label, c.args[0], w, np.zeros(w.shape[0]) if b is None else _const(c.label, b))

    def _op_matmul(self, c):
        w = c.p["other"]
        if isinstance(w, _Val):
            raise self._unsupported(c.node, "only a tensor computed from the input times a constant (x @ W)")
        w = _const(c.label, w)
        if w.ndim == 1:
            y = self._linear(c.label, c.args[0], w[None, :], np.zeros(1))
            return y.reshape(y.shape[:-1])
        if w.ndim != 2:
            raise self._unsupported(c.node, f"the constant has shape {w.shape}; only a vector or matrix is supported")
        return self._linear(c.label, c.args[0], w.T, np.zeros(w.shape[1]))

    def _op_getattr(self, c):
        x, attr = c.args[0], c.args[1]
        if not isinstance(x, _Val):  # e.g. torch.max(...).values
            return getattr(x, attr)
        if attr == "shape":
            return (_BATCH,) + x.shape
        if attr == "ndim":
            return len(x.shape) + 1
        raise self._unsupported(c.node, f"it reads .{attr} of a tensor; only .shape and .ndim are supported")

    def _op_size(self, c):
        full = (_BATCH,) + c.args[0].shape
        dim = c.p.get("dim")
        return full if dim is None else full[dim]

    def _op_ndim(self, c):
        return len(c.args[0].shape) + 1

    def _op_getitem(self, c):
        if _vals_in(c.args[1]):
            raise self._unsupported(c.node, "it indexes by a tensor computed from the input")
        if isinstance(c.args[0], _Val):
            return self._rearrange(c.label, c.run, c.args, c.kwargs)
        return c.args[0][c.args[1]]  # an element of a tuple (torch.max, split, chunk, ...)

    def _op_rearrange(self, c):
        return self._rearrange(c.label, c.run, c.args, c.kwargs)
