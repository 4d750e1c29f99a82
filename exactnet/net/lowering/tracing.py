"""Tracing a torch model with torch.fx: which modules, functions and methods are supported
(:data:`SUPPORTED`), the tables that map each to its lowering rule, and node names for messages.
"""

from __future__ import annotations

import functools
import operator
from collections import namedtuple

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


class UnsupportedLayerError(ValueError):
    """A torch module or graph node that :func:`from_torch` cannot lower exactly to a ReLU network."""


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
