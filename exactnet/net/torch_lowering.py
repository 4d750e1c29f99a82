"""Exact lowering of torch models to the canonical :class:`~exactnet.net.network.Network`.

:func:`from_torch` traces the model with ``torch.fx`` and turns the graph into layers, one node
at a time in topological order. An ``nn.Sequential`` traces to a chain. Nested Sequentials and
custom modules are traced through, and supported torch layers stay single nodes. Every tensor
is the vector of its per-sample elements in torch's row-major order: a per-sample tensor of shape
``(C, H, W)`` is ``x[(c * H + i) * W + j]``. The network's input is ``x.reshape(batch, -1)`` and
its output is the model's output flattened the same way.

**Values.** Every tensor that later nodes still need (a *live* tensor) is kept as an exact affine
function ``v = M h + c`` of the current hidden vector ``h``: the output of the last emitted layer,
or the input before any layer. ``M`` is sparse and rational. Operations that are affine maps with
few terms only change ``M`` and ``c`` and emit no layer: ``+`` and ``-`` of tensors and
constants, ``*`` and ``/`` by constants, batch norm, and rearrangements (view, reshape, flatten,
cat, indexing, permute, ...). A layer is emitted by:

- an **affine module** (Linear, Conv1d/2d, AvgPool1d/2d, AdaptiveAvgPool1d/2d), one layer each:
  its dense matrix ``W`` (below) applied to ``v`` gives the units ``W M h + (W c + b)``, all linear;
- an **activation** (ReLU, LeakyReLU, clamp) and the rounds of a **max**: units with a kink. They
  are *fused* into the last layer when every unit they read is linear there. The map
  ``M z + c`` is then composed exactly into that layer's weights, so "Linear, ReLU",
  "Conv, BatchNorm, ReLU" and "Conv, first max round" are each one layer. Otherwise they form a
  new layer.

Every emitted layer also carries each live tensor: a new layer holds it as a block of linear
pass-through units (its ``M h``; ``c`` stays in the expression), and a fused layer keeps the units
it reads. Skip connections ``y = x + f(x)`` therefore become identity blocks next to ``f``'s
layers, and the sum is folded into the next layer that reads ``y``. Identical units of one layer
are shared. At the end the output is composed into the last layer when it reads only linear units
there, else a linear read-out layer is appended.

**Dense matrices** (``W`` of shape (out, in), bias ``b``):

- ``Linear(in, out)`` on a tensor of shape ``(..., in)``: ``I (x) weight`` (block diagonal), bias
  repeated.
- ``Conv1d``/``Conv2d`` (any stride, dilation, groups; padding int, tuple, ``'same'`` or ``'valid'``;
  ``padding_mode='zeros'``): the cross-correlation
  ``y[o, t] = b[o] + sum_{c in group(o), k} w[o, c, k] x[c, t*stride - pad_lo + k*dilation]``, per
  spatial axis, with terms outside the input vanishing. Each entry is a single weight, so the
  float64 matrix is exact.
- ``AvgPool1d``/``AvgPool2d``: ``y[c, t] = sum_{j in window t} x[c, j] / d_t`` with torch's windows
  and divisors, ``d_t`` a product over the axes of: the window clipped to the right padding
  (``count_include_pad=True``), or the inputs it covers (``False``), or ``divisor_override``.
  Adaptive average pooling uses windows ``[floor(t n / o), ceil((t+1) n / o))``. The weights are
  the exact rationals ``Fraction(1, d_t)``.
- ``BatchNorm1d``/``BatchNorm2d`` (eval mode, running statistics): ``y = a (x - mean) + beta`` per
  channel, with ``a = gamma / sqrt(running_var + eps)`` **computed in float64** and then taken
  exactly. The exact network is the batch norm with that float64 scale, applied in rational
  arithmetic, folded into the neighbouring layer.

**Max pooling** (``MaxPool1d/2d`` with kernel, stride, padding, dilation and ceil_mode, where
padding counts as ``-inf`` and so is left out of the window; ``AdaptiveMaxPool1d/2d``;
``torch.max/amax/min/amin`` over dimensions; ``torch.maximum/minimum``) is lowered exactly with
``max(a, b) = a + relu(b - a)``. A window's elements meet in a balanced tournament of
``ceil(log2 k)`` layers. Each round has, per pair, a linear unit ``a`` and a ReLU unit ``b - a``,
and an odd element passes through a linear unit. For activation patterns this means that the
tournament's comparison units are **neurons**: the sign of ``b - a`` records which element won.
The linear regions of the lowered network therefore refine the cells where the argmax of each
window is constant, even where two elements tie in value. The function and its linear pieces are
exactly those of the model; only the regions are finer. ``min`` is ``-max(-x)``, and
``clamp(x, lo, hi) = lo + relu(x - lo) - relu(x - hi)`` (ReLU6, Hardtanh).

Float32/float64 weights and Python float constants convert to rationals without rounding. The
exact network is the torch model evaluated in exact arithmetic, up to the batch-norm scale
described above.
"""

from __future__ import annotations

import functools
import itertools
import math
import operator
from collections import namedtuple
from fractions import Fraction

import numpy as np

from .._rational import fraction_array, real_tensor_to_numpy, to_fraction
from ..extras import require
from .network import Layer, Network

__all__ = ["SUPPORTED", "UnsupportedLayerError", "from_torch"]

SUPPORTED = (
    "modules Linear, Conv1d/Conv2d (padding_mode='zeros'), AvgPool1d/2d, MaxPool1d/2d, "
    "AdaptiveAvgPool1d/2d, AdaptiveMaxPool1d/2d (return_indices=False), BatchNorm1d/2d (eval mode, "
    "running stats), ReLU, LeakyReLU, ReLU6, Hardtanh, Identity, Flatten, Unflatten, "
    "Dropout/Dropout1d/Dropout2d (eval mode), in nn.Sequential or in a custom module's forward (traced with "
    "torch.fx); functions and tensor methods: + and - of tensors and constants, * and / by constants, neg, "
    "relu, leaky_relu, relu6, hardtanh, clamp/clip, max/amax/maximum and min/amin/minimum, sum and mean over "
    "dimensions, "
    "max_pool1d/2d, avg_pool1d/2d, adaptive pools, linear and matmul by a constant matrix, dropout "
    "(training=False), rearrangements (view, reshape, flatten, unflatten, squeeze, unsqueeze, permute, "
    "transpose, movedim, flip, roll, cat, stack, indexing, expand, repeat, narrow, select, split, chunk, "
    "unbind, contiguous, clone) and x.shape, x.size(), x.dim()"
)

_ONE, _ZERO = Fraction(1), Fraction(0)


class UnsupportedLayerError(ValueError):
    """A torch module or graph node that :func:`from_torch` cannot lower exactly to a ReLU network."""


def from_torch(module, input_shape=None, *, name: str | None = None) -> Network:
    """Lower a torch model exactly to a :class:`Network` (see the module docstring).

    Parameters
    ----------
    module : torch.nn.Module
        An ``nn.Sequential``, a single supported layer, or any module whose ``forward`` torch.fx
        can trace into supported operations. It must be in eval mode when it contains batch norm
        or dropout.
    input_shape : int or tuple, optional
        Per-sample input shape such as ``(n,)``, ``(channels, length)`` or
        ``(channels, height, width)``. Required unless the first affine module is a Linear, in
        which case it is inferred as ``(first_linear.in_features,)``.
    name : str, optional
        Name of the returned network.

    Returns
    -------
    Network
        Its input is the per-sample input flattened row-major (``x.reshape(batch, -1)``);
        its output is the model's single output tensor flattened the same way.

    Raises
    ------
    UnsupportedLayerError
        For a module or graph node that is not supported. The message names the node's name,
        op and target (a module by its dotted path) and lists what is supported.
    ValueError
        For batch norm or dropout in training mode, NaN/inf parameters and shape mismatches.
    """
    require("torch", "from_torch")
    from torch import nn

    if not isinstance(module, nn.Module):
        raise TypeError(f"from_torch expects a torch.nn.Module, got {type(module).__name__}")
    if _leaf_kind(module) is not None:  # a bare layer: name it '0' like the first of a Sequential
        module = nn.Sequential(module)
    return _Lowering(module, _trace(module), input_shape).run(name)


# ---------------------------------------------------------------------------- tracing
_MODULE_KINDS = (
    "Linear", "Conv1d", "Conv2d", "AvgPool1d", "AvgPool2d", "MaxPool1d", "MaxPool2d",
    "AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AdaptiveMaxPool1d", "AdaptiveMaxPool2d",
    "BatchNorm1d", "BatchNorm2d", "ReLU", "LeakyReLU", "Hardtanh", "Identity", "Flatten", "Unflatten",
    "Dropout", "Dropout1d", "Dropout2d",
)  # fmt: skip


def _leaf_kind(m) -> str | None:
    """The supported torch layer ``m`` is (one whose ``forward`` is torch's own), or None."""
    from torch import nn

    for kind in _MODULE_KINDS:
        cls = getattr(nn, kind)
        if isinstance(m, cls) and type(m).forward is cls.forward:
            return kind  # ReLU6 is a Hardtanh
    return None


def _trace(module):
    from torch import fx

    class Tracer(fx.Tracer):
        def is_leaf_module(self, m, qualname):
            return _leaf_kind(m) is not None or super().is_leaf_module(m, qualname)

    try:
        return Tracer().trace(module)
    except Exception as err:
        # data-dependent control flow, untraceable code
        raise UnsupportedLayerError(
            f"torch.fx cannot trace {type(module).__name__}: {type(err).__name__}: {err}. from_torch needs a "
            f"forward without data-dependent control flow. Supported: {SUPPORTED}."
        ) from None


class _Batch:
    """The batch size, as read from ``x.shape[0]`` / ``x.size(0)``: usable only in reshapes."""

    def __repr__(self) -> str:
        return "<batch size>"


_BATCH = _Batch()
_MaxResult = namedtuple("_MaxResult", "values indices")  # what torch.max(x, dim) returns


class _Opaque:
    """A value the lowering cannot use, e.g. the indices of ``torch.max``."""

    def __init__(self, what: str):
        self.what = what

    def __repr__(self) -> str:
        return f"<{self.what}>"


@functools.cache
def _tables():
    """``(functions, methods)``: target -> (kind, names of the arguments after the input, extra)."""
    import builtins

    import torch
    import torch.nn.functional as F

    rearrange = ("rearrange", "", None)
    functions = {
        operator.add: ("add", "other", None), torch.add: ("add", "other alpha", None),
        operator.sub: ("sub", "other", None), torch.sub: ("sub", "other alpha", None),
        torch.subtract: ("sub", "other alpha", None),
        operator.mul: ("mul", "other", None), torch.mul: ("mul", "other", None),
        torch.multiply: ("mul", "other", None),
        operator.truediv: ("div", "other", None), torch.div: ("div", "other rounding_mode", None),
        torch.true_divide: ("div", "other", None),
        operator.neg: ("neg", "", None), torch.neg: ("neg", "", None), operator.pos: ("identity", "", None),
        torch.relu: ("relu", "", None), torch.relu_: ("relu", "", None), F.relu: ("relu", "inplace", None),
        F.relu_: ("relu", "", None), F.leaky_relu: ("leaky_relu", "negative_slope inplace", None),
        F.leaky_relu_: ("leaky_relu", "negative_slope", None),
        F.hardtanh: ("clamp", "min_val max_val inplace", "hardtanh"), F.relu6: ("relu6", "inplace", None),
        torch.clamp: ("clamp", "min max", None), torch.clip: ("clamp", "min max", None),
        torch.max: ("max", "dim keepdim", None), torch.min: ("min", "dim keepdim", None),
        torch.amax: ("amax", "dim keepdim", None), torch.amin: ("amin", "dim keepdim", None),
        torch.maximum: ("maximum", "other", None), torch.minimum: ("minimum", "other", None),
        F.linear: ("linear", "weight bias", None), operator.matmul: ("matmul", "other", None),
        torch.matmul: ("matmul", "other", None), F.dropout: ("dropout", "p training inplace", None),
        builtins.getattr: ("getattr", "", None), operator.getitem: ("getitem", "", None),
        F.max_pool1d: ("pool", "kernel_size stride padding dilation ceil_mode return_indices", "MaxPool1d"),
        F.max_pool2d: ("pool", "kernel_size stride padding dilation ceil_mode return_indices", "MaxPool2d"),
        F.avg_pool1d: ("pool", "kernel_size stride padding ceil_mode count_include_pad", "AvgPool1d"),
        F.avg_pool2d: ("pool", "kernel_size stride padding ceil_mode count_include_pad divisor_override", "AvgPool2d"),
        F.adaptive_avg_pool1d: ("pool", "output_size", "AdaptiveAvgPool1d"),
        F.adaptive_avg_pool2d: ("pool", "output_size", "AdaptiveAvgPool2d"),
        F.adaptive_max_pool1d: ("pool", "output_size return_indices", "AdaptiveMaxPool1d"),
        F.adaptive_max_pool2d: ("pool", "output_size return_indices", "AdaptiveMaxPool2d"),
    }  # fmt: skip
    for f in (
        torch.flatten,
        torch.reshape,
        torch.squeeze,
        torch.unsqueeze,
        torch.permute,
        torch.transpose,
        torch.movedim,
        torch.flip,
        torch.roll,
        torch.cat,
        torch.concat,
        torch.concatenate,
        torch.stack,
        torch.narrow,
        torch.select,
        torch.split,
        torch.chunk,
        torch.unbind,
        torch.tile,
        torch.broadcast_to,
    ):
        functions[f] = rearrange
    methods = {
        "add": ("add", "other alpha", None), "sub": ("sub", "other alpha", None), "mul": ("mul", "other", None),
        "div": ("div", "other rounding_mode", None), "true_divide": ("div", "other", None),
        "neg": ("neg", "", None), "relu": ("relu", "", None), "clamp": ("clamp", "min max", None),
        "clip": ("clamp", "min max", None), "max": ("max", "dim keepdim", None), "min": ("min", "dim keepdim", None),
        "amax": ("amax", "dim keepdim", None), "amin": ("amin", "dim keepdim", None),
        "sum": ("sum", "dim keepdim dtype", None), "mean": ("mean", "dim keepdim dtype", None),
        "maximum": ("maximum", "other", None), "minimum": ("minimum", "other", None),
        "matmul": ("matmul", "other", None), "size": ("size", "dim", None), "dim": ("ndim", "", None),
        "contiguous": ("identity", "", None), "clone": ("identity", "", None),
    }  # fmt: skip
    for name in (
        "view", "reshape", "flatten", "unflatten", "squeeze", "unsqueeze", "permute", "transpose", "swapaxes",
        "movedim", "flip", "roll", "expand", "expand_as", "repeat", "tile", "narrow", "select", "split", "chunk",
        "unbind", "view_as", "reshape_as",
    ):  # fmt: skip
        methods[name] = rearrange
    return functions, methods


_COPIES = {"cat", "concat", "concatenate", "stack", "flip", "roll", "repeat", "tile", "clone"}  # not views


def _entry(n):
    """``(kind, argument names, extra)`` of a call_function/call_method node, or None."""
    functions, methods = _tables()
    if n.op == "call_function":
        try:
            return functions.get(n.target)
        except TypeError:  # unhashable target
            return None
    if n.op == "call_method":
        name = n.target[:-1] if n.target.endswith("_") and not n.target.endswith("__") else n.target
        return methods.get(name)
    return None


def _target_name(n) -> str:
    import torch

    t = n.target
    if n.op == "call_method":
        return f"Tensor.{t}"
    if n.op != "call_function":
        return str(t)
    name = getattr(t, "__name__", repr(t))
    if getattr(torch, name, None) is t:
        return f"torch.{name}"
    mod = getattr(t, "__module__", None) or ""
    mod = {"_operator": "operator", "torch._C._nn": "torch.nn.functional"}.get(mod, mod)
    return f"{mod}.{name}" if mod else name


# ---------------------------------------------------------------------------- values
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


# ---------------------------------------------------------------------------- matrices
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


# ---------------------------------------------------------------------------- windows
def _ntuple(v, d: int) -> tuple:
    return (v,) * d if v is None or isinstance(v, (int, np.integer)) else tuple(v)


def _sliding_windows(n, k, stride, pad, dil, ceil_mode):
    """Torch's pooling windows along one axis: positions (n_out, k), in-range mask, padded size."""
    n_out = (n + 2 * pad - dil * (k - 1) - 1 + (stride - 1 if ceil_mode else 0)) // stride + 1
    if ceil_mode and (n_out - 1) * stride >= n + pad:
        n_out -= 1  # the last window would start in the right padding
    start = np.arange(n_out) * stride - pad
    pos = start[:, None] + dil * np.arange(k)
    return pos, (pos >= 0) & (pos < n), np.minimum(start + k, n + pad) - start


def _adaptive_windows(n, n_out):
    """Adaptive pooling windows ``[floor(t n / o), ceil((t + 1) n / o))`` along one axis."""
    t = np.arange(n_out)
    start, end = t * n // n_out, -(-(t + 1) * n // n_out)
    pos = start[:, None] + np.arange(int((end - start).max()))
    return pos, pos < end[:, None], end - start


def _conv_matrix(w, groups, spatial, stride, dil, pads):
    """Dense matrix of a zero-padded cross-correlation on ``(C_in, *spatial)``; returns it and the output size.

    It is ``sum over taps j`` of ``kron(channel matrix of w[..., j], kron over axes of shift(j_a))``,
    where ``shift(j_a)[t, i] = 1`` iff ``i = t * stride - pad_lo + j_a * dilation``.
    """
    c_out, c_grp, *ks = w.shape
    shifts, out = [], []
    for n, k, s, d, (lo, hi) in zip(spatial, ks, stride, dil, pads):
        n_out = (n + lo + hi - d * (k - 1) - 1) // s + 1
        t = np.arange(n_out)
        mats = []
        for j in range(k):
            i = t * s - lo + j * d
            ok = (i >= 0) & (i < n)
            m = np.zeros((n_out, n))
            m[t[ok], i[ok]] = 1.0
            mats.append(m)
        shifts.append(mats)
        out.append(n_out)
    mask = np.kron(np.eye(groups), np.ones((c_out // groups, c_grp)))  # channel o reads its group only
    dense = 0.0
    for taps in itertools.product(*map(range, ks)):
        chan = np.tile(w[(slice(None), slice(None)) + taps], (1, groups)) * mask
        dense = dense + np.kron(chan, functools.reduce(np.kron, [shifts[a][j] for a, j in enumerate(taps)]))
    return dense, tuple(out)


# ---------------------------------------------------------------------------- lowering
_Call = namedtuple("_Call", "label node args kwargs p run extra")


class _Lowering:
    """Walks a traced graph and accumulates layers ``[weight, bias, slopes, name]``."""

    def __init__(self, root, graph, input_shape):
        self.root, self.nodes = root, list(graph.nodes)
        self.pos = {n: i for i, n in enumerate(self.nodes)}
        self.last_use = {n: max((self.pos[u] for u in n.users), default=-1) for n in self.nodes}
        self.hint = ""
        self._validate()
        self.input_shape = self._input_shape(input_shape)
        self.layers: list[list] = []
        self.width = math.prod(self.input_shape)
        self.env: dict = {}
        self.now = -1

    # ------------------------------------------------------------------ checks
    def _label(self, n) -> str:
        if n.op == "call_module":
            return f"module {n.target!r} ({type(self.root.get_submodule(n.target)).__name__})"
        return f"node {n.name!r} ({_target_name(n)})"

    def _unsupported(self, n, why: str = "") -> UnsupportedLayerError:
        where = (
            f"{self._label(n)} (node {n.name!r}, op=call_module)"
            if n.op == "call_module"
            else (f"node {n.name!r} (op={n.op}, target={_target_name(n)})")
        )
        why = f": {why}" if why else ""
        return UnsupportedLayerError(f"{where} is not supported by from_torch{why}. Supported: {SUPPORTED}.")

    def _mismatch(self, label, expected: str, shape) -> ValueError:
        return ValueError(
            f"{label} expects {expected} but receives per-sample shape {tuple(shape)} "
            f"(batched: (batch, {', '.join(map(str, shape))})){self.hint}"
        )

    def _validate(self) -> None:
        """Unsupported modules, training mode, extra inputs, several outputs and unsafe in-place ops."""
        from torch import fx

        inputs = [n for n in self.nodes if n.op == "placeholder"]
        if not inputs:
            raise UnsupportedLayerError("the model's forward takes no input")
        for n in inputs[1:]:
            if not n.args:
                raise UnsupportedLayerError(
                    f"forward takes a second input {n.target!r}; from_torch lowers models of one input tensor"
                )
        for n in self.nodes:
            if n.op == "call_module":
                m = self.root.get_submodule(n.target)
                kind = _leaf_kind(m)
                if kind is None:
                    raise self._unsupported(n)
                _check_module(self._label(n), m, kind)
            elif n.op == "output" and not isinstance(n.args[0], fx.Node):
                raise UnsupportedLayerError(
                    f"the model returns {type(n.args[0]).__name__} {n.args[0]!r}; from_torch supports a single "
                    f"output tensor (several outputs are not supported)"
                )
        self._check_inplace()

    def _inplace(self, n) -> bool:
        if n.op == "call_module":
            return bool(getattr(self.root.get_submodule(n.target), "inplace", False))
        if n.op == "call_method":
            return n.target.endswith("_") and not n.target.endswith("__")
        entry = _entry(n)
        if n.op != "call_function" or entry is None:
            return False
        import torch
        import torch.nn.functional as F

        if n.target in (torch.relu_, F.relu_, F.leaky_relu_):
            return True
        p = dict(zip(entry[1].split(), n.args[1:]))
        p.update(n.kwargs)
        return bool(p.get("inplace", False))

    def _is_view(self, n) -> bool:
        if n.op == "call_module":
            return _leaf_kind(self.root.get_submodule(n.target)) in (
                "Identity",
                "Flatten",
                "Unflatten",
                "Dropout",
                "Dropout1d",
                "Dropout2d",
            )
        entry = _entry(n)
        name = n.target if n.op == "call_method" else getattr(n.target, "__name__", "")
        return entry is not None and entry[0] in ("rearrange", "getitem", "identity", "dropout") and name not in _COPIES

    def _check_inplace(self) -> None:
        """An in-place op is lowered as its out-of-place form: allowed only when no tensor sharing the
        modified memory (a view chain) is read after it."""
        from torch import fx

        group = {n: n for n in self.nodes}

        def find(n):
            while group[n] is not n:
                n = group[n]
            return n

        for n in self.nodes:
            if (self._inplace(n) or self._is_view(n)) and n.args and isinstance(n.args[0], fx.Node):
                group[find(n)] = find(n.args[0])
        for n in self.nodes:
            if not (self._inplace(n) and n.args and isinstance(n.args[0], fx.Node)):
                continue
            root = find(n)
            for a in self.nodes:
                late = [u.name for u in a.users if self.pos[u] > self.pos[n]]
                if find(a) is root and self.pos[a] < self.pos[n] and late:
                    raise self._unsupported(
                        n,
                        f"it modifies {n.args[0].name!r} in place while {a.name!r}, which shares its memory, is still "
                        f"read later by {', '.join(late)}; use the out-of-place form",
                    )

    def _input_shape(self, input_shape) -> tuple[int, ...]:
        if input_shape is not None:
            shape = (input_shape,) if isinstance(input_shape, (int, np.integer)) else tuple(input_shape)
            ok = all(isinstance(s, (int, np.integer)) and not isinstance(s, bool) and s >= 1 for s in shape)
            if not shape or not ok:
                raise ValueError(
                    f"input_shape must be the per-sample shape, positive ints such as (n,), (channels, length) or "
                    f"(channels, height, width); got {input_shape!r}"
                )
            return tuple(int(s) for s in shape)
        for n in self.nodes:
            if n.op != "call_module":
                continue
            m = self.root.get_submodule(n.target)
            kind = _leaf_kind(m)
            if kind == "Linear":
                self.hint = (
                    f" (input_shape was inferred as ({m.in_features},) from {self._label(n)}; pass input_shape if "
                    f"the model takes another per-sample shape)"
                )
                return (m.in_features,)
            if kind is not None and kind.startswith(("Conv", "AvgPool", "MaxPool", "Adaptive", "BatchNorm2d")):
                raise ValueError(
                    f"input_shape (the per-sample shape, e.g. (channels, length) or (channels, height, width)) is "
                    f"required: the first affine module {n.target!r} is {type(m).__name__}, whose dense matrix "
                    f"depends on the input size"
                )
        raise ValueError("input_shape is required: the model has no Linear layer to infer the input size from")

    # ------------------------------------------------------------------ main loop
    def run(self, name) -> Network:
        needed = set()  # nodes the output depends on; the others are skipped
        stack = [n for n in self.nodes if n.op == "output"]
        while stack:
            n = stack.pop()
            if n not in needed:
                needed.add(n)
                stack.extend(n.all_input_nodes)
        first_input = next(n for n in self.nodes if n.op == "placeholder")
        for i, n in enumerate(self.nodes):
            self.now = i
            if n.op == "output":
                return self._output(n, name)
            if n not in needed:
                continue
            if n is first_input:
                self.env[n] = _Val.plain(self.input_shape, np.arange(self.width))
            elif n.op == "placeholder":
                self.env[n] = n.args[0]  # an argument with a default value
            elif n.op == "get_attr":
                self.env[n] = functools.reduce(getattr, n.target.split("."), self.root)
            elif n.op == "call_module":
                x = self.env[n.args[0]] if n.args else None
                if not isinstance(x, _Val) or len(n.args) + len(n.kwargs) != 1:
                    raise self._unsupported(n, "a layer must be called on one tensor computed from the input")
                m = self.root.get_submodule(n.target)
                self.env[n] = self._module(self._label(n), m, _leaf_kind(m), x)
            else:
                self.env[n] = self._call(n)
            for a in list(self.env):
                if self.last_use[a] <= i:
                    del self.env[a]
        raise AssertionError("graph without output")

    def _output(self, n, name) -> Network:
        out = self.env.get(n.args[0])
        if not isinstance(out, _Val):
            raise UnsupportedLayerError(
                f"the model's output {n.args[0].name!r} is {out!r}, not a single tensor computed from the input"
            )
        self._finish(out)
        return Network([Layer(w, b, s, name=nm) for w, b, s, nm in self.layers], name=name)

    # ------------------------------------------------------------------ emitting layers
    def _live(self) -> list[_Val]:
        vals: dict[int, _Val] = {}
        for n, value in self.env.items():
            if self.last_use[n] > self.now:
                vals.update((id(v), v) for v in _vals_in(value))
        return list(vals.values())

    def _emit(self, label: str, blocks=(), dense=None) -> list[_Val]:
        """Add units and return their values: ``dense = (W, b)`` (rows over h, linear units), then
        one unit per element of each ``(value, slope)`` block.

        Blocks are fused into the last layer when every unit they read is linear there; otherwise
        a new layer is appended. In both cases every live value stays readable from the new h.
        """
        live = self._live()
        last = self.layers[-1] if self.layers else None
        reads = np.unique(_ints([v.col for v, _ in blocks]))
        fuse = dense is None and last is not None and all(last[2][u] == 1 for u in reads)
        n_dense = 0 if dense is None else len(dense[1])
        if fuse:
            assert last is not None  # fuse requires a last layer
            keep = np.unique(_ints([v.col for v in live]))
            table = _Units(len(keep))
            for p, u in enumerate(keep.tolist()):
                table.index[(_ONE, _ZERO, (u,), (_ONE,)) if last[2][u] == 1 else ("keep", u)] = p
            where = np.full(self.width, -1, dtype=np.int64)
            where[keep] = np.arange(len(keep))
            moved = {id(v): v.with_cols(where[v.col]) for v in live}
        else:
            table = _Units(n_dense)
            moved = {id(v): table.passthrough(v) for v in live}
        outs = [table.add(v, Fraction(slope)) for v, slope in blocks]
        row, col, coef, offset, slopes = table.arrays()
        if fuse:
            assert last is not None
            W, b, s, nm = last
            R, rb = _compose(row, col, coef, offset, W, b)
            slopes = [s[u] for u in keep] + slopes
            self.layers[-1] = [_stack([W[keep], R]), _stack([b[keep], rb]), slopes, f"{nm}, {label}"]
        else:
            parts = [dense] if dense is not None else []
            parts.append((_dense(row, col, coef, (len(offset), self.width)), offset))
            W, b = _stack([p[0] for p in parts]), _stack([p[1] for p in parts])
            self.layers.append([W, b, [_ONE] * n_dense + slopes, label])
        self.width = len(self.layers[-1][2])
        for n in self.env:
            if self.last_use[n] > self.now:
                self.env[n] = _map_vals(self.env[n], lambda v: moved[id(v)])
        if dense is not None:
            outs.insert(0, _Val.plain((n_dense,), np.arange(n_dense)))
        return outs

    def _affine(self, label, x: _Val, W, b, shape) -> _Val:
        """A new layer with the linear units ``W x + b`` (per-sample output ``shape``)."""
        R, rb = _times(W, np.asarray(b), x, self.width)
        return self._emit(label, dense=(R, rb))[0].reshape(shape)

    def _finish(self, v: _Val) -> None:
        """Make the last layer's output exactly ``v``."""
        v = v.canonical()
        if self.layers and v.is_identity(self.width):
            return
        last = self.layers[-1] if self.layers else None
        if last is not None and all(last[2][u] == 1 for u in np.unique(v.col)):
            R, rb = _compose(v.row, v.col, v.coef, v.offset, last[0], last[1])
            self.layers[-1] = [R, rb, [_ONE] * v.size, last[3]]
        else:
            D = _dense(v.row, v.col, v.coef, (v.size, self.width))
            self.layers.append([D, v.offset, [_ONE] * v.size, "output"])

    # ------------------------------------------------------------------ modules
    def _module(self, label, m, kind, x: _Val):
        if kind == "Linear":
            b = _param(label, m, "bias") if m.bias is not None else np.zeros(m.out_features)
            return self._linear(label, x, _param(label, m, "weight"), b)
        if kind.startswith("Conv"):
            return self._conv(label, m, x, int(kind[-2]))
        if kind.startswith("BatchNorm"):
            return self._batchnorm(label, m, x, int(kind[-2]))
        if "Pool" in kind:
            return self._pool(label, m, kind, x, int(kind[-2]))
        if kind == "ReLU":
            return self._act(label, x, _ZERO)
        if kind == "LeakyReLU":
            return self._act(label, x, Fraction(float(m.negative_slope)))
        if kind == "Hardtanh":
            return self._clamp(label, x, m.min_val, m.max_val)
        if kind in ("Flatten", "Unflatten"):
            return self._rearrange(label, m, (x,), {})
        return x  # Identity, Dropout in eval mode

    def _linear(self, label, x: _Val, w, b) -> _Val:
        """``x @ w.T + b`` on the last axis: the block-diagonal ``I (x) w``."""
        if x.shape[-1] != w.shape[1]:
            raise self._mismatch(label, f"last axis of size in_features={w.shape[1]}", x.shape)
        lead = x.size // x.shape[-1]
        W = np.kron(np.eye(lead), w) if lead > 1 else w
        return self._affine(label, x, W, np.tile(b, lead), x.shape[:-1] + (w.shape[0],))

    def _conv(self, label, m, x: _Val, d: int) -> _Val:
        if len(x.shape) != d + 1 or x.shape[0] != m.in_channels:
            dims = "length" if d == 1 else "height, width"
            raise self._mismatch(label, f"per-sample shape (in_channels={m.in_channels}, {dims})", x.shape)
        w = _param(label, m, "weight")  # (out, in / groups, *kernel)
        ks = w.shape[2:]
        if m.padding == "valid":
            pads = [(0, 0)] * d
        elif m.padding == "same":
            pads = [(dl * (k - 1) // 2, dl * (k - 1) - dl * (k - 1) // 2) for k, dl in zip(ks, m.dilation)]
        else:
            pads = [(p, p) for p in m.padding]
        need = [dl * (k - 1) + 1 - lo - hi for k, dl, (lo, hi) in zip(ks, m.dilation, pads)]
        if any(n < r for n, r in zip(x.shape[1:], need)):
            least = f"an input length of at least {need[0]}" if d == 1 else f"an input size of at least {tuple(need)}"
            raise self._mismatch(label, least, x.shape)
        dense, out = _conv_matrix(w, m.groups, x.shape[1:], m.stride, m.dilation, pads)
        b = _param(label, m, "bias") if m.bias is not None else np.zeros(m.out_channels)
        return self._affine(label, x, dense, np.repeat(b, math.prod(out)), (m.out_channels,) + out)

    def _batchnorm(self, label, m, x: _Val, d: int) -> _Val:
        """``a (x - mean) + beta`` per channel (axis 0 of the per-sample shape): no layer of its own."""
        c = m.num_features
        if len(x.shape) not in ((1, 2) if d == 1 else (3,)) or x.shape[0] != c:
            raise self._mismatch(label, f"num_features={c} channels (axis 1 of the batched input)", x.shape)
        var, mean = _param(label, m, "running_var"), _param(label, m, "running_mean")
        gamma = _param(label, m, "weight") if m.weight is not None else np.ones(c)
        beta = _param(label, m, "bias") if m.bias is not None else np.zeros(c)
        scale = gamma / np.sqrt(var + m.eps)  # float64, then exact
        if not np.isfinite(scale).all():
            raise ValueError(f"{label}: gamma / sqrt(running_var + eps) is not finite")
        rep = x.size // c
        a = fraction_array(np.repeat(scale, rep), f"{label}.scale")
        mean_q = fraction_array(np.repeat(mean, rep), f"{label}.running_mean")
        shift = fraction_array(np.repeat(beta, rep), f"{label}.bias") - a * mean_q
        return x.affine(a, shift)

    def _pool(self, label, m, kind, x: _Val, d: int) -> _Val:
        """Average pools become one layer of exact weights; max pools a tournament (module docstring)."""
        if len(x.shape) not in (d, d + 1):
            dims = "length" if d == 1 else "height, width"
            raise self._mismatch(label, f"per-sample shape ([channels,] {dims})", x.shape)
        expected = _torch_shape(label, m, x.shape)  # torch's own checks (padding at most half the kernel, ...)
        spatial = x.shape[-d:]
        chans = x.size // math.prod(spatial)
        if kind.startswith("Adaptive"):
            sizes = _ntuple(m.output_size, d)
            wins = [_adaptive_windows(n, n if o is None else o) for n, o in zip(spatial, sizes)]
        else:
            k, s, p = (_ntuple(v, d) for v in (m.kernel_size, m.stride, m.padding))
            dil = _ntuple(getattr(m, "dilation", 1), d)
            wins = [_sliding_windows(*a, m.ceil_mode) for a in zip(spatial, k, s, p, dil)]
        shape = x.shape[:-d] + tuple(len(w[0]) for w in wins)
        assert shape == expected, (shape, expected)
        if "Avg" in kind:
            override = getattr(m, "divisor_override", None)
            mats = []
            for (pos, ok, padded), n in zip(wins, spatial):
                if override:
                    div = np.ones(len(pos), dtype=int)
                else:
                    div = padded if getattr(m, "count_include_pad", False) else ok.sum(1)
                t, j = np.nonzero(ok)
                P = _zeros((len(pos), n))
                P[t, pos[t, j]] = [Fraction(1, int(div[i])) for i in t]
                mats.append(P)
            dense = functools.reduce(np.kron, mats)
            if chans > 1:
                dense = np.kron(np.eye(chans, dtype=np.int64).astype(object), dense)
            if override:
                dense = dense * Fraction(1, int(override))
            return self._affine(label, x, dense, np.zeros(len(dense)), shape)
        idx, ok = (np.arange(chans) * math.prod(spatial))[:, None], np.ones((chans, 1), dtype=bool)
        stride = math.prod(spatial)
        for (pos, ok_a, _), n in zip(wins, spatial):  # element index and mask of every (output, window slot)
            stride //= n
            slots = idx.shape[1] * pos.shape[1]
            idx = (idx[:, None, :, None] + (np.where(ok_a, pos, 0) * stride)[None, :, None, :]).reshape(-1, slots)
            ok = (ok[:, None, :, None] & ok_a[None, :, None, :]).reshape(idx.shape)
        return self._max_windows(label, x, idx, ok, shape, 1)

    # ------------------------------------------------------------------ activations and max
    def _act(self, label, x: _Val, slope: Fraction) -> _Val:
        """``max(x, 0) + slope * min(x, 0)``: one unit per element."""
        return self._emit(label, [(x, slope)])[0]

    def _clamp(self, label, x: _Val, lo, hi) -> _Val:
        """``min(max(x, lo), hi) = lo + relu(x - lo) - relu(x - hi)`` (one bound: ``lo + relu(x - lo)``
        or ``hi - relu(hi - x)``); bounds are constants."""
        bounds = [v for v in (lo, hi) if v is not None]
        if not bounds:
            return x
        if any(isinstance(v, _Val) for v in bounds):
            raise UnsupportedLayerError(
                f"{label}: clamp bounds must be constants; use torch.maximum/minimum for tensors"
            )
        _, (x, *bq) = self._broadcast(label, [x] + bounds)
        lo_q, hi_q = (bq[0] if lo is not None else None), (bq[-1] if hi is not None else None)
        if lo_q is not None and hi_q is not None:
            if any(a > b for a, b in zip(lo_q, hi_q)):
                raise ValueError(f"{label}: the lower bound exceeds the upper bound")
            under, over = self._emit(label, [(x.affine(_ONE, -lo_q), _ZERO), (x.affine(_ONE, -hi_q), _ZERO)])
            return under.plus(over, -1).affine(_ONE, lo_q)
        if lo_q is not None:
            return self._emit(label, [(x.affine(_ONE, -lo_q), _ZERO)])[0].affine(_ONE, lo_q)
        return self._emit(label, [(x.affine(-_ONE, hi_q), _ZERO)])[0].affine(-_ONE, hi_q)

    def _max_windows(self, label, x: _Val, idx, ok, shape, sign: int) -> _Val:
        """Output ``o`` is the max (``sign=-1``: min) of the elements ``idx[o, j]`` of ``x`` with ``ok[o, j]``."""
        counts = ok.sum(1)
        if (counts == 0).any():
            raise ValueError(f"{label}: a pooling window lies entirely in the padding")
        idx = np.take_along_axis(idx, np.argsort(~ok, axis=1, kind="stable"), axis=1)  # real elements first
        x = x if sign > 0 else x.affine(-_ONE)
        best = self._tournament(label, [x.take(idx[:, j]) for j in range(counts.max())], counts)
        return (best if sign > 0 else best.affine(-_ONE)).reshape(shape)

    def _tournament(self, label, cols: list[_Val], counts) -> _Val:
        """``max_j cols[j][o]`` over ``j < counts[o]``, by rounds of ``max(a, b) = a + relu(b - a)``."""
        n = len(counts)
        while len(cols) > 1:
            blocks, plan = [], []
            for i in range(0, len(cols), 2):
                keep = np.flatnonzero(counts > i)
                blocks.append((cols[i].take(keep), _ONE))  # a: linear
                both = np.flatnonzero(counts > i + 1) if i + 1 < len(cols) else None
                if both is not None:
                    blocks.append((cols[i + 1].take(both).plus(cols[i].take(both), -1), _ZERO))  # relu(b - a)
                plan.append((keep, both))
            units = iter(self._emit(label, blocks))
            cols = []
            for keep, both in plan:
                col = next(units).scatter(keep, n)
                cols.append(col if both is None else col.plus(next(units).scatter(both, n)))
            counts = (counts + 1) // 2
        return cols[0]

    def _reduce_max(self, label, x: _Val, dims, keepdim, sign) -> _Val:
        dims = (dims,) if isinstance(dims, (int, np.integer)) else tuple(dims)
        axes = sorted({self._axis(label, dim, x) for dim in dims})
        rest = [a for a in range(len(x.shape)) if a not in axes]
        k = math.prod(x.shape[a] for a in axes)
        idx = np.arange(x.size).reshape(x.shape).transpose(rest + axes).reshape(-1, k)
        if keepdim:
            shape = tuple(1 if a in axes else s for a, s in enumerate(x.shape))
        else:
            shape = tuple(x.shape[a] for a in rest)
        return self._max_windows(label, x, idx, np.ones(idx.shape, dtype=bool), shape, sign)

    def _maximum(self, label, a, b, sign) -> _Val:
        if not isinstance(a, _Val):
            a, b = b, a
        if not isinstance(b, _Val):  # max(x, c) = clamp(x, min=c)
            return self._clamp(label, a, b, None) if sign > 0 else self._clamp(label, a, None, b)
        shape, (a, b) = self._broadcast(label, [a, b])
        n = math.prod(shape)
        pairs = np.c_[np.arange(n), n + np.arange(n)]
        return self._max_windows(label, _Val.concat([a, b]), pairs, np.ones((n, 2), dtype=bool), shape, sign)

    @staticmethod
    def _axis(label, dim, x: _Val) -> int:
        """The per-sample axis of the batched dimension ``dim``."""
        ndim = len(x.shape) + 1
        d = dim + ndim if dim < 0 else dim
        if not 1 <= d < ndim:
            raise UnsupportedLayerError(
                f"{label}: dim={dim} is the batch axis or out of range for per-sample shape {x.shape}"
            )
        return d - 1

    # ------------------------------------------------------------------ elementwise and rearrangements
    def _broadcast(self, label, operands):
        """The broadcast per-sample shape, and each operand on it: a value, or a Fraction array for a constant."""
        import torch

        shapes = []
        for B in (2, 3):  # two batch sizes: constants must not depend on the batch
            batched = [(B,) + o.shape if isinstance(o, _Val) else tuple(np.shape(_const(label, o))) for o in operands]
            try:
                out = tuple(torch.broadcast_shapes(*batched))
            except RuntimeError as err:
                raise ValueError(f"{label}: operand shapes {batched} do not broadcast: {err}") from None
            if out[:1] != (B,) or any(isinstance(o, _Val) and len(o.shape) + 1 != len(out) for o in operands):
                raise UnsupportedLayerError(f"{label}: broadcasting {batched} mixes the batch axis with a feature axis")
            shapes.append(out[1:])
        if shapes[0] != shapes[1]:
            raise UnsupportedLayerError(f"{label}: a constant operand depends on the batch size")
        shape = shapes[0]
        res = []
        for o in operands:
            if isinstance(o, _Val):
                same = o.shape == shape
                res.append(o if same else o.take(np.broadcast_to(np.arange(o.size).reshape(o.shape), shape), shape))
            else:
                res.append(fraction_array(np.broadcast_to(_const(label, o), (1,) + shape).reshape(-1), label))
        return shape, res

    def _lincomb(self, label, terms) -> _Val:
        """``sum factor * operand`` over ``(operand, factor)`` pairs, operands values or constants."""
        shape, ops = self._broadcast(label, [t for t, _ in terms])
        out, const = None, _zeros(math.prod(shape))
        for op, (_, f) in zip(ops, terms):
            f = to_fraction(f, f"{label} factor")
            if isinstance(op, _Val):
                out = op.affine(f) if out is None else out.plus(op.affine(f))
            else:
                const = const + op * f
        assert out is not None, f"{label}: a linear combination of constants only"  # callers pass a value
        return out.affine(_ONE, const)

    def _rearrange(self, label, run, args, kwargs):
        """A pure rearrangement (view, cat, indexing, ...): ``run`` is evaluated on integer tensors
        holding each element's id, for two batch sizes; the ids in the result say where each element
        comes from, provided every sample of the result draws from the same sample of the inputs."""
        import torch

        vals = list({id(v): v for v in _vals_in((args, kwargs))}.values())
        if any(isinstance(a, torch.Tensor) for a in _leaves((args, kwargs))):
            raise UnsupportedLayerError(f"{label} mixes a constant tensor into a rearrangement; not supported")
        which = {id(v): j for j, v in enumerate(vals)}
        sizes = np.array([v.size for v in vals])
        base = np.r_[0, np.cumsum(sizes)]
        found = None
        for B in (2, 3):

            def ids(a, B=B):
                if isinstance(a, _Val):
                    j = which[id(a)]
                    return torch.arange(B * base[j], B * base[j + 1]).reshape((B,) + a.shape)
                return B if a is _BATCH else a

            try:
                out = run(*_map(args, ids), **_map(kwargs, ids))
            except Exception as err:
                shapes = [v.shape for v in vals]
                raise UnsupportedLayerError(
                    f"{label} fails on per-sample shapes {shapes}: {type(err).__name__}: {err}"
                ) from None
            outs = list(out) if isinstance(out, (tuple, list)) else [out]
            decoded = []
            for t in outs:
                if not (isinstance(t, torch.Tensor) and t.dtype == torch.int64 and t.ndim >= 1 and t.shape[0] == B):
                    raise UnsupportedLayerError(
                        f"{label} does not keep the batch axis first: from_torch supports "
                        f"rearrangements of the per-sample data (the batch axis stays axis 0)"
                    )
                e = t.reshape(B, -1).numpy()
                j = np.searchsorted(B * base, e, side="right") - 1
                sample, elem = np.divmod(e - B * base[j], np.maximum(sizes[j], 1))
                if not ((sample == np.arange(B)[:, None]).all() and (j == j[:1]).all() and (elem == elem[:1]).all()):
                    raise UnsupportedLayerError(
                        f"{label} mixes the samples of a batch (it must keep the batch axis "
                        f"first and the samples apart)"
                    )
                decoded.append((tuple(t.shape[1:]), base[j[0]] + elem[0]))
            if found is not None and any(s != f[0] or not np.array_equal(g, f[1]) for (s, g), f in zip(decoded, found)):
                raise UnsupportedLayerError(f"{label} depends on the batch size")
            found = decoded
        stacked = _Val.concat(vals)
        res = [stacked.take(g, s) for s, g in found]
        return tuple(res) if isinstance(out, (tuple, list)) else res[0]

    # ------------------------------------------------------------------ function and method nodes
    def _call(self, n):
        from torch.fx.node import map_arg

        args = map_arg(n.args, self.env.__getitem__)
        kwargs = map_arg(n.kwargs, self.env.__getitem__)
        entry = _entry(n)
        data = bool(_vals_in((args, kwargs)))
        if entry is None:
            if data:
                raise self._unsupported(n)
            return self._fold(n, args, kwargs)
        kind, names, extra = entry
        if not data and kind == "getitem" and isinstance(args[0], tuple):  # x.shape[0], x.size()[1:]
            return args[0][args[1]]
        if not data:
            return self._fold(n, args, kwargs)
        p = dict(zip(names.split(), args[1:]))
        p.update(kwargs)
        if n.op == "call_method":
            method = n.target if kind != "rearrange" else n.target.rstrip("_")

            def run(*a, **k):
                return getattr(a[0], method)(*a[1:], **k)

        else:
            run = n.target
        c = _Call(self._label(n), n, args, kwargs, p, run, extra)
        data_anywhere = ("add", "sub", "mul", "maximum", "minimum", "getattr", "getitem", "rearrange")
        if kind not in data_anywhere and not isinstance(args[0], _Val):
            raise self._unsupported(n, "its first argument must be a tensor computed from the input")
        return getattr(self, "_op_" + kind)(c)

    def _fold(self, n, args, kwargs):
        """Evaluate a node that does not read the input (constants, shape arithmetic)."""
        odd = [a for a in _leaves((args, kwargs)) if isinstance(a, (_Batch, _Opaque))]
        if odd:
            raise self._unsupported(n, f"it computes with {odd[0]!r}")
        name = _target_name(n)
        if any(w in name for w in ("rand", "normal", "bernoulli", "dropout")):
            raise self._unsupported(n, "it is random")
        try:
            if n.op == "call_method":
                return getattr(args[0], n.target)(*args[1:], **kwargs)
            return n.target(*args, **kwargs)
        except Exception as err:
            raise self._unsupported(n, f"evaluating it on constants raised {type(err).__name__}: {err}") from None

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


# ---------------------------------------------------------------------------- helpers
def _check_module(label: str, m, kind: str) -> None:
    if kind.startswith(("Dropout", "BatchNorm")) and m.training:
        raise ValueError(
            f"{label} is in training mode, where its output depends on the batch or on randomness; "
            f"call model.eval() before from_torch"
        )
    if kind.startswith("BatchNorm") and m.running_mean is None:
        raise UnsupportedLayerError(
            f"{label} has track_running_stats=False, so it normalises with batch statistics even in eval mode; "
            f"only batch norm with running statistics is supported"
        )
    if kind.startswith("Conv") and m.padding_mode != "zeros":
        raise UnsupportedLayerError(
            f"{label} has padding_mode={m.padding_mode!r}; only padding_mode='zeros' is supported"
        )
    if getattr(m, "return_indices", False):
        raise UnsupportedLayerError(f"{label} has return_indices=True; only the pooled values are supported")


def _param(label: str, m, pname: str) -> np.ndarray:
    """A parameter or buffer of ``m`` as float64 (exact for float16/32/64), checked finite."""
    a = real_tensor_to_numpy(getattr(m, pname), f"{label}: {pname}")
    bad = ~np.isfinite(a)
    if bad.any():
        idx = [int(i) for i in np.argwhere(bad)[0]]
        raise ValueError(f"{label}: {pname}{idx} is {float(a[tuple(idx)])}; only finite weights can be lowered")
    return a


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


def _torch_shape(label: str, m, shape) -> tuple[int, ...]:
    """Per-sample output shape of ``m`` on an input of per-sample ``shape``, as torch computes it."""
    import torch

    try:
        with torch.no_grad():
            y = m(torch.zeros((1,) + tuple(shape), dtype=torch.float64))
    except Exception as err:
        raise ValueError(f"{label} cannot take per-sample shape {tuple(shape)}: torch raises: {err}") from None
    return tuple(y.shape[1:])
