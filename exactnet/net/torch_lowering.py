"""Exact lowering of torch models to the canonical :class:`~exactnet.net.network.Network`.

:func:`from_torch` walks an ``nn.Sequential`` (nested Sequentials are flattened) and emits
one :class:`Layer` per affine module, acting on the per-sample input flattened in torch's
row-major order: a tensor of per-sample shape ``(C, L)`` is the vector ``x[c * L + l]``.

Affine modules and the maps they become (``W`` of shape (out, in), bias ``b``):

- ``Linear(in, out)`` on a vector: ``W = weight``, ``b = bias``. On a ``(C, L)`` tensor it
  acts on the last axis (``L == in``), i.e. the block-diagonal ``W = I_C (x) weight`` and
  ``b`` = bias repeated ``C`` times; the result has shape ``(C, out)``.
- ``Conv1d``: the dense matrix of the cross-correlation
  ``y[o, t] = b[o] + sum_{c in group(o), k} w[o, c, k] x[c, t*stride - pad_left + k*dilation]``
  with zero padding (terms outside ``0 <= index < L`` vanish); ``padding`` may be an int,
  ``'valid'`` or ``'same'``.
- ``AvgPool1d``: ``y[c, t] = (1/d_t) sum_{j in window t} x[c, j]`` with torch's windows
  ``[t*stride - pad, min(t*stride - pad + k, L + pad))`` and divisor ``d_t`` = the clipped
  window length (``count_include_pad=True``: ``k`` except for a ``ceil_mode`` window that
  runs past the right padding) or the number of real inputs it covers
  (``count_include_pad=False``). The weights are the exact rationals ``Fraction(1, d_t)``.
- ``BatchNorm1d`` (eval mode, running statistics): ``y = a (x - mean) + beta`` per channel
  with ``a = gamma / sqrt(running_var + eps)`` **computed in float64** and then taken
  exactly. So the exact network is the batch norm with that float64 scale, applied in
  rational arithmetic (mean, beta and the preceding weights exact). It is folded into the
  preceding affine layer when that layer has no activation yet
  (``W <- diag(a) W``, ``b <- a b + beta - a mean``), else emitted as a diagonal layer.

Activations (``ReLU``; ``LeakyReLU`` with its float slope taken exactly) set the slopes of
the preceding layer when it is still linear, else append an identity layer carrying the
activation. ``Identity``, ``Flatten`` (not of the batch axis) and ``Dropout`` in eval mode
change nothing in the flattened vector. Affine maps are never multiplied together (except
the batch-norm fold), so every module stays visible as its own layer.

Float32/float64 weights convert to rationals without rounding; the exact network is the
torch model evaluated in exact arithmetic (up to the batch-norm scale described above).
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

from .._rational import fraction_array
from .network import Layer, Network

__all__ = ["from_torch", "UnsupportedLayerError"]

SUPPORTED = (
    "nn.Sequential (nested ones are flattened) of Linear, ReLU, LeakyReLU, Identity, Flatten, "
    "Dropout/Dropout1d (eval mode), BatchNorm1d (eval mode, running stats), "
    "Conv1d (padding_mode='zeros') and AvgPool1d"
)


class UnsupportedLayerError(ValueError):
    """A torch module that :func:`from_torch` cannot lower exactly to a ReLU network."""


def from_torch(module, input_shape=None, *, name: str | None = None) -> Network:
    """Lower an ``nn.Sequential`` exactly to a :class:`Network` (see the module docstring).

    Parameters
    ----------
    module : torch.nn.Sequential
        In eval mode when it contains BatchNorm1d or Dropout.
    input_shape : int or tuple, optional
        Per-sample input shape, ``(n,)`` or ``(channels, length)``. Required when the first
        Linear/Conv1d/AvgPool1d module is a Conv1d or AvgPool1d; otherwise inferred as
        ``(first_linear.in_features,)``.
    name : str, optional
        Name of the returned network.

    Returns
    -------
    Network
        Its input is the per-sample input flattened row-major (``x.reshape(batch, -1)``);
        its output is the model's output flattened the same way.

    Raises
    ------
    UnsupportedLayerError
        For a module that is not supported, naming its type and position (dotted path).
    ValueError
        For BatchNorm/Dropout in training mode, NaN/inf parameters and shape mismatches.
    """
    from torch import nn

    modules = _flatten(module, nn)
    shape = _input_shape(modules, input_shape, nn)
    builder = _Builder(shape)
    for path, m in modules:
        builder.add(path, m, nn)
    return builder.network(name)


# ---------------------------------------------------------------------------- walking
def _is(m, cls) -> bool:
    """``m`` is an instance of ``cls`` whose ``forward`` is torch's own (not overridden)."""
    return isinstance(m, cls) and type(m).forward is cls.forward


def _flatten(module, nn, prefix: str = "") -> list[tuple[str, object]]:
    """``(dotted path, module)`` of every leaf of a (nested) Sequential, each checked."""
    if not isinstance(module, nn.Module):
        raise TypeError(f"from_torch expects a torch.nn.Module, got {type(module).__name__}")
    if not _is(module, nn.Sequential):
        raise UnsupportedLayerError(
            f"from_torch lowers nn.Sequential models; got {type(module).__name__}. Tracing of "
            f"general modules is planned; for now wrap the layers in nn.Sequential "
            f"(a single layer: nn.Sequential(layer)). Supported: {SUPPORTED}."
        )
    out = []
    for child_name, child in module.named_children():
        path = f"{prefix}{child_name}"
        if _is(child, nn.Sequential):
            out.extend(_flatten(child, nn, path + "."))
            continue
        _check_supported(path, child, nn)
        out.append((path, child))
    return out


def _check_supported(path: str, m, nn) -> None:
    kinds = (nn.Linear, nn.ReLU, nn.LeakyReLU, nn.Identity, nn.Flatten, nn.Dropout, nn.Dropout1d,
             nn.BatchNorm1d, nn.Conv1d, nn.AvgPool1d)
    if not any(_is(m, k) for k in kinds):
        raise UnsupportedLayerError(
            f"module {path!r} ({type(m).__name__}) is not supported by from_torch. Supported: {SUPPORTED}."
        )
    if isinstance(m, (nn.Dropout, nn.Dropout1d, nn.BatchNorm1d)) and m.training:
        raise ValueError(
            f"module {path!r} ({type(m).__name__}) is in training mode, where its output depends on the "
            f"batch or on randomness; call model.eval() before from_torch"
        )
    if isinstance(m, nn.BatchNorm1d) and m.running_mean is None:
        raise UnsupportedLayerError(
            f"module {path!r} (BatchNorm1d) has track_running_stats=False, so it normalises with batch "
            f"statistics even in eval mode; only batch norm with running statistics is supported"
        )
    if isinstance(m, nn.Conv1d) and m.padding_mode != "zeros":
        raise UnsupportedLayerError(
            f"module {path!r} (Conv1d) has padding_mode={m.padding_mode!r}; only padding_mode='zeros' is supported"
        )


def _input_shape(modules, input_shape, nn) -> tuple[int, ...]:
    if input_shape is not None:
        shape = (input_shape,) if isinstance(input_shape, (int, np.integer)) else tuple(input_shape)
        if not 1 <= len(shape) <= 2 or not all(isinstance(s, (int, np.integer)) and s >= 1 for s in shape):
            raise ValueError(
                f"input_shape must be the per-sample shape (n,) or (channels, length) of positive ints; got {input_shape!r}"
            )
        return tuple(int(s) for s in shape)
    for path, m in modules:
        if isinstance(m, nn.Linear):
            return (m.in_features,)
        if isinstance(m, (nn.Conv1d, nn.AvgPool1d)):
            raise ValueError(
                f"input_shape=(channels, length) is required: the first affine module {path!r} is "
                f"{type(m).__name__}, whose dense matrix depends on the input length"
            )
    raise ValueError("input_shape is required: the model has no Linear layer to infer the input size from")


def _param(path: str, m, pname: str) -> np.ndarray:
    """A parameter or buffer of ``m`` as float64 (exact for float16/32/64), checked finite."""
    t = getattr(m, pname)
    a = t.detach().cpu().double().numpy()
    bad = ~np.isfinite(a)
    if bad.any():
        idx = [int(i) for i in np.argwhere(bad)[0]]
        raise ValueError(
            f"module {path!r} ({type(m).__name__}): {pname}{idx} is {float(a[tuple(idx)])}; "
            f"only finite weights can be lowered"
        )
    return a


# ---------------------------------------------------------------------------- building
class _Builder:
    """Accumulates layers ``[weight, bias, slope, name]`` and the per-sample shape."""

    def __init__(self, shape: tuple[int, ...]):
        self.shape = shape
        self.layers: list[list] = []

    @property
    def width(self) -> int:
        return math.prod(self.shape)

    def network(self, name) -> Network:
        if not self.layers:  # nothing affine: the identity map
            self.layers.append([np.eye(self.width), np.zeros(self.width), Fraction(1), "identity"])
        return Network([Layer(w, b, s, name=n) for w, b, s, n in self.layers], name=name)

    def _mismatch(self, path, m, expected: str) -> ValueError:
        return ValueError(
            f"module {path!r} ({type(m).__name__}) expects {expected} but receives per-sample shape "
            f"{self.shape} (batched: (batch, {', '.join(map(str, self.shape))}))"
        )

    def add(self, path: str, m, nn) -> None:
        if isinstance(m, nn.LeakyReLU):
            self.activation(Fraction(float(m.negative_slope)), path)
        elif isinstance(m, nn.ReLU):
            self.activation(Fraction(0), path)
        elif isinstance(m, nn.Flatten):
            self.flatten(path, m)
        elif isinstance(m, nn.Linear):
            self.linear(path, m)
        elif isinstance(m, nn.BatchNorm1d):
            self.batchnorm(path, m)
        elif isinstance(m, nn.Conv1d):
            self.conv1d(path, m)
        elif isinstance(m, nn.AvgPool1d):
            self.avgpool1d(path, m)
        # Identity, Dropout (eval): nothing to do

    def activation(self, slope: Fraction, path: str) -> None:
        if self.layers and self.layers[-1][2] == 1:
            self.layers[-1][2] = slope
        else:
            n = self.width
            self.layers.append([np.eye(n), np.zeros(n), slope, path])

    def flatten(self, path, m) -> None:
        ndim = len(self.shape) + 1  # with the batch axis
        start, end = m.start_dim % ndim, m.end_dim % ndim
        if start == 0:
            raise UnsupportedLayerError(
                f"module {path!r} (Flatten) has start_dim={m.start_dim}, which flattens the batch axis; use start_dim=1"
            )
        if start > end:
            raise ValueError(f"module {path!r} (Flatten): start_dim={m.start_dim} comes after end_dim={m.end_dim}")
        batched = (1,) + self.shape
        self.shape = batched[1:start] + (math.prod(batched[start : end + 1]),) + batched[end + 1 :]

    def linear(self, path, m) -> None:
        if self.shape[-1] != m.in_features:
            raise self._mismatch(path, m, f"last axis of size in_features={m.in_features}")
        w = _param(path, m, "weight")
        b = _param(path, m, "bias") if m.bias is not None else np.zeros(m.out_features)
        if len(self.shape) == 2:  # acts on the last axis of (C, L): block diagonal
            c = self.shape[0]
            w, b = np.kron(np.eye(c), w), np.tile(b, c)
        self.layers.append([w, b, Fraction(1), path])
        self.shape = self.shape[:-1] + (m.out_features,)

    def batchnorm(self, path, m) -> None:
        c = self.shape[0]
        if c != m.num_features:
            raise self._mismatch(path, m, f"num_features={m.num_features} channels (axis 1 of the batched input)")
        var, mean = _param(path, m, "running_var"), _param(path, m, "running_mean")
        gamma = _param(path, m, "weight") if m.weight is not None else np.ones(c)
        beta = _param(path, m, "bias") if m.bias is not None else np.zeros(c)
        scale = gamma / np.sqrt(var + m.eps)  # float64, then exact
        if not np.isfinite(scale).all():
            raise ValueError(f"module {path!r} (BatchNorm1d): gamma / sqrt(running_var + eps) is not finite")
        reps = self.width // c
        a = fraction_array(np.repeat(scale, reps), f"{path}.scale")
        shift = fraction_array(np.repeat(beta, reps), f"{path}.bias") - a * fraction_array(
            np.repeat(mean, reps), f"{path}.running_mean"
        )
        if self.layers and self.layers[-1][2] == 1:  # fold into the preceding affine layer
            last = self.layers[-1]
            w = fraction_array(last[0], f"{last[3]}.weight", ndim=2)
            b = fraction_array(last[1], f"{last[3]}.bias", ndim=1)
            last[0], last[1], last[3] = w * a[:, None], b * a + shift, f"{last[3]}+{path}"
        else:
            self.layers.append([np.diag(np.repeat(scale, reps)), shift, Fraction(1), path])

    def conv1d(self, path, m) -> None:
        if len(self.shape) != 2 or self.shape[0] != m.in_channels:
            raise self._mismatch(path, m, f"per-sample shape (in_channels={m.in_channels}, length)")
        c_in, n = self.shape
        w = _param(path, m, "weight")  # (out, in/groups, k)
        c_out, c_grp, k = w.shape
        stride, dil = m.stride[0], m.dilation[0]
        if m.padding == "valid":
            left = right = 0
        elif m.padding == "same":
            left = dil * (k - 1) // 2
            right = dil * (k - 1) - left
        else:
            left = right = m.padding[0]
        n_out = (n + left + right - dil * (k - 1) - 1) // stride + 1
        if n_out < 1:
            raise self._mismatch(path, m, f"an input length of at least {dil * (k - 1) + 1 - left - right}")
        dense = np.zeros((c_out, n_out, c_in, n))
        o = np.arange(c_out)[:, None, None]
        chan = (o // (c_out // m.groups)) * c_grp + np.arange(c_grp)[None, None, :]  # input channel of (o, c)
        t = np.arange(n_out)
        for j in range(k):  # each (o, t, channel, i) is hit by at most one kernel tap j
            i = t * stride - left + j * dil
            ok = (i >= 0) & (i < n)
            dense[o, t[ok][None, :, None], chan, i[ok][None, :, None]] = w[:, None, :, j]
        b = _param(path, m, "bias") if m.bias is not None else np.zeros(c_out)
        self.layers.append([dense.reshape(c_out * n_out, c_in * n), np.repeat(b, n_out), Fraction(1), path])
        self.shape = (c_out, n_out)

    def avgpool1d(self, path, m) -> None:
        (k,), (stride,), (pad,) = (_single(v) for v in (m.kernel_size, m.stride, m.padding))
        chans, n = (1, self.shape[0]) if len(self.shape) == 1 else self.shape
        if 2 * pad > k:
            raise ValueError(f"module {path!r} (AvgPool1d): padding={pad} must be at most half of kernel_size={k}")
        n_out = (n + 2 * pad - k + (stride - 1 if m.ceil_mode else 0)) // stride + 1
        if m.ceil_mode and (n_out - 1) * stride >= n + pad:
            n_out -= 1  # the last window would start in the right padding
        if n_out < 1:
            raise self._mismatch(path, m, f"an input length of at least {k - 2 * pad}")
        dense = np.full((chans, n_out, chans, n), Fraction(0), dtype=object)
        for t in range(n_out):  # torch's windows and divisors (aten avg_pool2d)
            start = t * stride - pad
            end = min(start + k, n + pad)
            pool = end - start
            start, end = max(start, 0), min(end, n)
            d = Fraction(1, pool if m.count_include_pad else end - start)
            for c in range(chans):
                dense[c, t, c, start:end] = d
        zeros = np.zeros(chans * n_out)
        self.layers.append([dense.reshape(chans * n_out, chans * n), zeros, Fraction(1), path])
        self.shape = (n_out,) if len(self.shape) == 1 else (chans, n_out)


def _single(v) -> tuple[int]:
    return (int(v),) if isinstance(v, int) else tuple(int(x) for x in v)
