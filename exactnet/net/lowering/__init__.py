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
Modules: :mod:`.tracing` (torch.fx, what is supported), :mod:`.values` (tensors as exact
affine values), :mod:`.fusion` (composing maps into layers), :mod:`.state` (emitting
layers), :mod:`.modules` and :mod:`.functions` (the per-layer rules), :mod:`.graph` (the
driver).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from ...extras import require
from ..network import Network
from .tracing import SUPPORTED, UnsupportedLayerError, _leaf_kind, _trace

if TYPE_CHECKING:
    import torch

__all__ = ["SUPPORTED", "UnsupportedLayerError", "from_torch"]


def from_torch(
    module: torch.nn.Module, input_shape: int | Sequence[int] | None = None, *, name: str | None = None
) -> Network:
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
    from .graph import _Lowering

    return _Lowering(module, _trace(module), input_shape).run(name)
